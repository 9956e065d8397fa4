/* audit_verify.c - `cmk audit verify`: every record's MAC, the sequence
 * and the chain, across the segments of a rotated log, optionally from a
 * verified checkpoint on; the token's anchor for what was cut off the end
 * or never written (docs/audit.md). */
#include "config.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <json-c/json.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include "vault/audit_int.h"
#include "util/err.h"
#include "util/hex.h"

#define CHECKPOINT_LABEL "cmk-audit-checkpoint-v1:"
#define KEYS_MAX	 64

typedef struct vkeys {
	char epoch[KEYS_MAX][AUDIT_EPOCH_HEX + 1];
	EVP_MAC_CTX *mac[KEYS_MAX];
	size_t n, next;
} vkeys;

static void vkeys_free(vkeys *k)
{
	for (size_t i = 0; i < k->n; i++)
		EVP_MAC_CTX_free(k->mac[i]);
}

/* The chain key of an epoch, derived through the token once per run
 * (while it stays among the last KEYS_MAX used). */
static cmk_rc vkeys_get(cmk_ctx *ctx, vkeys *k, const char *epoch, EVP_MAC_CTX **out)
{
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->epoch[i], epoch) == 0) {
			*out = k->mac[i];
			return CMK_OK;
		}
	uint8_t key[32];
	CMK_TRY(audit_epoch_key(ctx, epoch, key));
	EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", ctx->conf.propquery);
	EVP_MAC_CTX *c = m ? EVP_MAC_CTX_new(m) : NULL;
	EVP_MAC_free(m);
	OSSL_PARAM p[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
			   OSSL_PARAM_construct_end() };
	int ok = c && EVP_MAC_init(c, key, 32, p) == 1;
	cmk_wipe(key, sizeof key);
	if (!ok) {
		EVP_MAC_CTX_free(c);
		return cmk_err(CMK_E_INTERNAL, "OpenSSL offers no HMAC-SHA256");
	}
	size_t slot;
	if (k->n < KEYS_MAX) {
		slot = k->n++;
	} else {
		slot = k->next++ % KEYS_MAX;
		EVP_MAC_CTX_free(k->mac[slot]);
	}
	k->mac[slot] = c;
	snprintf(k->epoch[slot], sizeof k->epoch[slot], "%s", epoch);
	*out = c;
	return CMK_OK;
}

static cmk_rc bad(uint64_t line, const char *path, const char *fmt, const char *detail)
{
	char why[300];
	snprintf(why, sizeof why, fmt, detail);
	return cmk_err(CMK_E_INTEGRITY, "audit log %s: line %llu: %s", path,
		       (unsigned long long)line, why);
}

/* ------------------------------------------------------------ segments */

typedef struct segment {
	char *path;
	uint64_t first, last; /* seqs; first UINT64_MAX: empty */
} segment;

typedef struct seglist {
	segment *s;
	size_t n, cap;
} seglist;

static void seglist_free(seglist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->s[i].path);
	free(l->s);
}

static uint64_t first_seq(FILE *f)
{
	char buf[512];
	unsigned long long s;
	if (!fgets(buf, sizeof buf, f) || sscanf(buf, "{\"seq\":%llu", &s) != 1)
		return UINT64_MAX;
	return s;
}

static cmk_rc add_file(seglist *l, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return cmk_err(CMK_E_IO, "audit log %s: %s", path, strerror(errno));
	segment sg = { NULL, first_seq(f), 0 };
	struct stat st;
	off_t keep;
	char mac[65];
	if (fstat(fileno(f), &st) == 0 && st.st_size > 0)
		audit_read_tail(fileno(f), st.st_size, &sg.last, mac, &keep);
	fclose(f);
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		segment *s = realloc(l->s, cap * sizeof *s);
		if (!s)
			return cmk_err(CMK_E_NOMEM, "out of memory");
		l->s = s;
		l->cap = cap;
	}
	if (!(sg.path = strdup(path)))
		return cmk_err(CMK_E_NOMEM, "out of memory");
	l->s[l->n++] = sg;
	return CMK_OK;
}

/* NAME, or NAME.<digits...> (a rotated segment of NAME) */
static int segment_of(const char *name, const char *base)
{
	size_t bl = strlen(base);
	if (strncmp(name, base, bl) != 0)
		return 0;
	if (!name[bl])
		return 1;
	return name[bl] == '.' && name[bl + 1] >= '0' && name[bl + 1] <= '9';
}

/* The segments of log `base` in dir (every log file there if base is NULL). */
static cmk_rc add_dir(seglist *l, const char *dir, const char *base)
{
	DIR *d = opendir(dir);
	if (!d)
		return cmk_err(CMK_E_IO, "audit log directory %s: %s", dir, strerror(errno));
	struct dirent *e;
	cmk_rc rc = CMK_OK;
	size_t before = l->n;
	while (rc == CMK_OK && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		size_t nl = strlen(e->d_name);
		if (nl > 6 && strcmp(e->d_name + nl - 6, ".state") == 0)
			continue;
		if (base ? !segment_of(e->d_name, base)
			 : !(strstr(e->d_name, ".log") || strstr(e->d_name, "audit")))
			continue;
		char p[2048];
		snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
		struct stat st;
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
			rc = add_file(l, p);
	}
	closedir(d);
	if (rc == CMK_OK && l->n == before)
		rc = cmk_err(CMK_E_IO, "audit log directory %s: no audit log in it", dir);
	return rc;
}

static int by_seq(const void *x, const void *y)
{
	const segment *a = x, *b = y;
	if (a->first != b->first)
		return a->first < b->first ? -1 : 1;
	return strcmp(a->path, b->path);
}

/* ---------------------------------------------------------- checkpoints */

static cmk_rc checkpoint_tag(cmk_ctx *ctx, uint64_t seq, const char *mac, uint64_t lost,
			     char tag[65])
{
	char msg[160];
	int n = snprintf(msg, sizeof msg, "%llu %s %llu", (unsigned long long)seq, mac,
			 (unsigned long long)lost);
	uint8_t t[32];
	CMK_TRY(ctx_mac(ctx, CTX_MAC_AUDIT, (const uint8_t *)CHECKPOINT_LABEL,
			strlen(CHECKPOINT_LABEL), (const uint8_t *)msg, (size_t)n, t));
	hex_encode(t, 32, tag);
	return CMK_OK;
}

static cmk_rc checkpoint_read(cmk_ctx *ctx, const char *path, uint64_t *seq, char mac[65],
			      uint64_t *lost)
{
	json_object *o = json_object_from_file(path), *js, *jm, *jl, *jt;
	cmk_rc rc = CMK_OK;
	if (!o)
		return cmk_err(CMK_E_IO, "audit checkpoint %s cannot be read (%s)", path,
			       errno ? strerror(errno) : "not JSON");
	if (!json_object_object_get_ex(o, "seq", &js) ||
	    !json_object_object_get_ex(o, "mac", &jm) ||
	    !json_object_object_get_ex(o, "lost", &jl) ||
	    !json_object_object_get_ex(o, "tag", &jt) || strlen(json_object_get_string(jm)) != 64)
		rc = cmk_err(CMK_E_FORMAT,
			     "audit checkpoint %s is not a checkpoint (seq, mac, lost, tag)", path);
	char want[65];
	if (rc == CMK_OK) {
		*seq = (uint64_t)json_object_get_int64(js);
		snprintf(mac, 65, "%s", json_object_get_string(jm));
		*lost = (uint64_t)json_object_get_int64(jl);
		rc = checkpoint_tag(ctx, *seq, mac, *lost, want);
	}
	if (rc == CMK_OK && CRYPTO_memcmp(want, json_object_get_string(jt), 64) != 0)
		rc = cmk_err(CMK_E_INTEGRITY,
			     "audit checkpoint %s was not made with this vault's audit key, or was "
			     "altered",
			     path);
	json_object_put(o);
	return rc;
}

static cmk_rc checkpoint_write(cmk_ctx *ctx, const char *path, uint64_t seq, const char *mac,
			       uint64_t lost)
{
	char tag[65], tmp[2048];
	CMK_TRY(checkpoint_tag(ctx, seq, mac, lost, tag));
	snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "wx");
	if (!f)
		return cmk_err(CMK_E_IO, "audit checkpoint %s: %s", tmp, strerror(errno));
	fprintf(f, "{\"seq\":%llu,\"mac\":\"%s\",\"lost\":%llu,\"tag\":\"%s\"}\n",
		(unsigned long long)seq, mac, (unsigned long long)lost, tag);
	int ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		cmk_rc rc = cmk_err(CMK_E_IO, "audit checkpoint %s: %s", path, strerror(errno));
		unlink(tmp);
		return rc;
	}
	return CMK_OK;
}

/* ---------------------------------------------------------------- verify */

typedef struct vstate {
	uint64_t seq; /* the last record verified (or the checkpoint's) */
	char prev[65];
	uint64_t records;
	uint64_t skip_to; /* records up to here are before the checkpoint */
	int cp_seen;	  /* the checkpoint's record was met */
	audit_anchor an;
	vkeys keys;
} vstate;

static cmk_rc verify_file(cmk_ctx *ctx, const char *path, int first_file, vstate *v)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return cmk_err(CMK_E_IO, "audit log %s: %s", path, strerror(errno));
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	uint64_t lineno = 0;
	cmk_rc rc = CMK_OK;
	while (rc == CMK_OK && (n = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (line[n - 1] != '\n') {
			rc = bad(lineno, path, "%s", "the last record is cut short");
			break;
		}
		line[--n] = '\0';
		if (v->skip_to) {
			unsigned long long s;
			if (sscanf(line, "{\"seq\":%llu", &s) == 1 && s <= v->skip_to) {
				if (s == v->skip_to) {
					if (n < 74 || strncmp(line + n - 66, v->prev, 64) != 0) {
						rc = bad(lineno, path, "%s",
							 "record is not the one the checkpoint "
							 "names: the log was rewritten");
						break;
					}
					v->cp_seen = 1;
				}
				continue;
			}
		}
		char *m = n > 74 ? line + n - 74 : NULL; /* ,"mac":"<64>"} */
		if (!m || strncmp(m, ",\"mac\":\"", 8) != 0 || strcmp(m + 72, "\"}") != 0) {
			rc = bad(lineno, path, "%s", "record has no MAC");
			break;
		}
		char hex[65];
		memcpy(hex, m + 8, 64);
		hex[64] = '\0';
		m[0] = '}';
		m[1] = '\0';
		size_t len = (size_t)(m + 1 - line);
		json_object *o = json_tokener_parse(line), *js, *jp, *je;
		if (!o || !json_object_object_get_ex(o, "seq", &js) ||
		    !json_object_object_get_ex(o, "prev", &jp)) {
			json_object_put(o);
			rc = bad(lineno, path, "%s", "record is malformed");
			break;
		}
		uint8_t mac[32];
		char want[65];
		if (json_object_object_get_ex(o, "epoch", &je)) {
			EVP_MAC_CTX *c = NULL;
			size_t ml = 0;
			const char *ep = json_object_get_string(je);
			if (strlen(ep) != AUDIT_EPOCH_HEX) {
				json_object_put(o);
				rc = bad(lineno, path, "%s", "record is malformed (epoch)");
				break;
			}
			rc = vkeys_get(ctx, &v->keys, ep, &c);
			if (rc == CMK_OK && (EVP_MAC_init(c, NULL, 0, NULL) != 1 ||
					     EVP_MAC_update(c, (uint8_t *)line, len) != 1 ||
					     EVP_MAC_final(c, mac, &ml, sizeof mac) != 1))
				rc = cmk_err(CMK_E_INTERNAL, "HMAC failed");
		} else {
			rc = ctx_mac(ctx, CTX_MAC_AUDIT, (uint8_t *)line, len, NULL, 0, mac);
		}
		if (rc != CMK_OK) {
			json_object_put(o);
			break;
		}
		hex_encode(mac, 32, want);
		if (CRYPTO_memcmp(want, hex, 64) != 0) {
			json_object_put(o);
			rc = bad(lineno, path, "%s", "record was altered (MAC mismatch)");
			break;
		}
		uint64_t s = (uint64_t)json_object_get_int64(js);
		int linked = strcmp(json_object_get_string(jp), v->prev) == 0;
		json_object_put(o);
		char detail[160];
		if (s != v->seq + 1) {
			if (lineno == 1 && !first_file && s > v->seq + 1) {
				snprintf(detail, sizeof detail,
					 "starts at record %llu, but record %llu was due: a "
					 "segment is missing (records %llu-%llu)",
					 (unsigned long long)s, (unsigned long long)v->seq + 1,
					 (unsigned long long)v->seq + 1, (unsigned long long)s - 1);
				rc = bad(lineno, path, "%s", detail);
				break;
			}
			if (lineno == 1 && first_file && s > v->seq + 1 && !v->skip_to) {
				snprintf(detail, sizeof detail,
					 "starts at record %llu: the segments before it are "
					 "missing (give them too, or continue from a checkpoint)",
					 (unsigned long long)s);
				rc = bad(lineno, path, "%s", detail);
				break;
			}
			snprintf(detail, sizeof detail, "has seq %llu where %llu was due",
				 (unsigned long long)s, (unsigned long long)v->seq + 1);
			rc = bad(lineno, path,
				 s > v->seq + 1
					 ? "record %s: records were removed or moved before it"
					 : "record %s: records were reordered",
				 detail);
			break;
		}
		if (!linked) {
			rc = bad(lineno, path, "%s",
				 "record does not chain to the one before (removed or reordered)");
			break;
		}
		if (s == v->an.seq && v->an.mac[0] && strcmp(hex, v->an.mac) != 0) {
			rc = bad(lineno, path, "%s",
				 "record is not the one the token saw at this sequence number: the "
				 "log was rewritten");
			break;
		}
		v->seq = s;
		v->skip_to = 0;
		v->records++;
		memcpy(v->prev, hex, sizeof v->prev);
	}
	free(line);
	fclose(f);
	return rc;
}

cmk_rc cmk_audit_verify_files(cmk_ctx *ctx, const char *const *paths, size_t npaths,
			      cmk_audit_check *c)
{
	return_if_fail(ctx && c && (paths || !npaths));
	c->records = c->segments = c->last_seq = c->lost = 0;
	seglist l = { 0 };
	cmk_rc rc = CMK_OK;
	if (npaths == 0) {
		/* the vault's log and its rotated segments */
		const char *log = audit_path(ctx);
		char d[1024], b[1024];
		snprintf(d, sizeof d, "%s", log);
		snprintf(b, sizeof b, "%s", log);
		struct stat st;
		if (stat(log, &st) != 0)
			return cmk_err(CMK_E_IO, "audit log %s: %s", log, strerror(errno));
		rc = add_dir(&l, dirname(d), basename(b));
	}
	for (size_t i = 0; rc == CMK_OK && i < npaths; i++) {
		struct stat st;
		if (stat(paths[i], &st) != 0)
			rc = cmk_err(CMK_E_IO, "audit log %s: %s", paths[i], strerror(errno));
		else if (S_ISDIR(st.st_mode))
			rc = add_dir(&l, paths[i], NULL);
		else
			rc = add_file(&l, paths[i]);
	}
	vstate *v = calloc(1, sizeof *v);
	if (rc == CMK_OK && !v)
		rc = cmk_err(CMK_E_NOMEM, "out of memory");
	if (rc == CMK_OK)
		rc = audit_anchor_read(ctx, &v->an);
	uint64_t cp_lost = 0;
	if (rc == CMK_OK) {
		strcpy(v->prev, AUDIT_ZERO_MAC);
		if (c->checkpoint_in) {
			rc = checkpoint_read(ctx, c->checkpoint_in, &v->seq, v->prev, &cp_lost);
			v->skip_to = v->seq;
		}
	}
	if (rc == CMK_OK) {
		qsort(l.s, l.n, sizeof *l.s, by_seq);
		int first = 1;
		for (size_t i = 0; rc == CMK_OK && i < l.n; i++) {
			if (l.s[i].first == UINT64_MAX && l.s[i].last == 0) {
				struct stat st;
				if (stat(l.s[i].path, &st) == 0 && st.st_size == 0) {
					c->segments++;
					continue; /* an empty segment: nothing yet */
				}
			}
			/* wholly before the checkpoint: not read at all */
			if (v->skip_to && l.s[i].last && l.s[i].last < v->skip_to)
				continue;
			rc = verify_file(ctx, l.s[i].path, first, v);
			first = 0;
			c->segments++;
		}
	}
	if (rc == CMK_OK && v->skip_to && !v->cp_seen)
		rc = cmk_err(
			CMK_E_INTEGRITY,
			"audit log: record %llu of the checkpoint is not in the segments given",
			(unsigned long long)v->skip_to);
	const char *what = npaths == 1 ? paths[0] : npaths == 0 ? audit_path(ctx) : "(segments)";
	if (rc == CMK_OK && v->an.seq > v->seq)
		rc = cmk_err(CMK_E_INTEGRITY,
			     "audit log %s ends at record %llu but the token saw record %llu: "
			     "records were cut off the end",
			     what, (unsigned long long)v->seq, (unsigned long long)v->an.seq);
	if (rc == CMK_OK) {
		c->records = v->records;
		c->last_seq = v->seq;
		c->lost = v->an.lost - (v->an.lost > cp_lost ? cp_lost : v->an.lost);
	}
	if (rc == CMK_OK && v->an.lost > cp_lost && !c->accept_lost)
		rc = cmk_err(
			CMK_E_INTEGRITY,
			"audit log %s: the chain of %llu records is intact, but the token counts "
			"%llu audit records that could not be written: the log is incomplete",
			what, (unsigned long long)v->records,
			(unsigned long long)(v->an.lost - cp_lost));
	if (rc == CMK_OK && c->checkpoint_out)
		rc = checkpoint_write(ctx, c->checkpoint_out, v->seq, v->prev, v->an.lost);
	if (v)
		vkeys_free(&v->keys);
	free(v);
	seglist_free(&l);
	return rc;
}

cmk_rc cmk_audit_verify(cmk_ctx *ctx, const char *path, uint64_t *records)
{
	return_if_fail(ctx);
	cmk_audit_check c = { 0 };
	const char *p[1] = { path };
	cmk_rc rc = cmk_audit_verify_files(ctx, p, path ? 1 : 0, &c);
	if (rc == CMK_OK && records)
		*records = c.last_seq;
	return rc;
}
