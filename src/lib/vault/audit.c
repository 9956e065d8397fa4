/* audit.c - one JSON line per operation, chained by HMAC-SHA-256 with a
 * key that never leaves the token:
 *
 *   {"seq":N,"time":"...","identity":"...","op":"...","key":"...",
 *    "result":"ok|denied|error","error":"...","prev":"<mac of N-1>","mac":"<hex>"}
 *
 * mac = HMAC(audit key, the line up to "mac" with "}" in its place).
 * Writers (threads and processes) serialise on an flock of the log.  A
 * token object's label holds an anchor (the newest seq and mac seen) so
 * that cutting records off the end is detected too; it is refreshed on
 * every management operation and at most once a second otherwise. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include "vault/audit.h"
#include "vault/meta.h"
#include "vault/owner.h"
#include "util/err.h"

#define META_APP_ANCHOR "cmk/audit-anchor"
#define ZERO_MAC "0000000000000000000000000000000000000000000000000000000000000000"

struct ctx_audit {
	pthread_mutex_t lock;
	int fd;
	off_t end;               /* file size after our last append */
	uint64_t seq;            /* valid when end matches the file */
	char mac[65];
	int fail_closed;
	int64_t settings_ms;     /* when fail_closed was read */
	int64_t anchor_ms;
	uint64_t high_seq;       /* highest seq this process has seen */
	char high_mac[65];
	int anchor_read;         /* the token's anchor was consulted */
	CK_OBJECT_HANDLE anchor;
	unsigned anchor_gen;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct ctx_audit *audit_state(cmk_ctx *ctx)
{
	pthread_mutex_lock(&ctx->lock);
	if (!ctx->audit) {
		struct ctx_audit *a = calloc(1, sizeof *a);
		if (a) {
			pthread_mutex_init(&a->lock, NULL);
			a->fd = -1;
			a->end = -1;
			a->settings_ms = -1;
			a->anchor_ms = -1000000;
		}
		ctx->audit = a;
	}
	pthread_mutex_unlock(&ctx->lock);
	return ctx->audit;
}

void audit_close(cmk_ctx *ctx)
{
	struct ctx_audit *a = ctx->audit;
	if (!a)
		return;
	if (a->fd >= 0)
		close(a->fd);
	pthread_mutex_destroy(&a->lock);
	free(a);
	ctx->audit = NULL;
}

const char *cmk_audit_log_path(const cmk_ctx *ctx)
{
	return ctx->conf.audit_log;
}

/* a->lock held */
static int fail_closed(cmk_ctx *ctx, struct ctx_audit *a)
{
	int64_t now = mono_ms();
	if (a->settings_ms < 0 || now - a->settings_ms >= (int64_t)ctx->conf.policy_cache_ms) {
		meta_vault v;
		if (ctx_vault_record(ctx, &v) == CMK_OK) {
			a->fail_closed = v.audit_fail_closed;
			a->settings_ms = now;
		}
	}
	return a->fail_closed;
}

void audit_settings_changed(cmk_ctx *ctx, int on)
{
	struct ctx_audit *a = audit_state(ctx);
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	a->fail_closed = on;
	a->settings_ms = mono_ms();
	pthread_mutex_unlock(&a->lock);
}

/* a->lock held */
static int open_log(cmk_ctx *ctx, struct ctx_audit *a)
{
	if (a->fd >= 0)
		return 1;
	a->fd = open(ctx->conf.audit_log, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	return a->fd >= 0;
}

cmk_rc audit_check_writable(cmk_ctx *ctx)
{
	struct ctx_audit *a = audit_state(ctx);
	if (!a)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	pthread_mutex_lock(&a->lock);
	cmk_rc rc = CMK_OK;
	if (fail_closed(ctx, a)) {
		struct stat st;
		/* reopen each time: the file may have been removed or made read-only */
		if (a->fd >= 0) {
			close(a->fd);
			a->fd = -1;
			a->end = -1;
		}
		if (!open_log(ctx, a) || fstat(a->fd, &st) != 0)
			rc = cmk_err(CMK_E_AUDIT, "%s fails closed and its audit log %s cannot be written: %s",
			             CTX_WHAT(ctx), ctx->conf.audit_log, strerror(errno));
	}
	pthread_mutex_unlock(&a->lock);
	return rc;
}

/* Read seq and mac of the last line (file locked). */
static int read_tail(int fd, off_t size, uint64_t *seq, char mac[65])
{
	if (size == 0) {
		*seq = 0;
		strcpy(mac, ZERO_MAC);
		return 1;
	}
	char buf[8192];
	off_t from = size > (off_t)sizeof buf ? size - (off_t)sizeof buf : 0;
	ssize_t n = pread(fd, buf, (size_t)(size - from), from);
	if (n <= 0 || buf[n - 1] != '\n')
		return 0;
	buf[n - 1] = '\0';
	char *line = strrchr(buf, '\n');
	line = line ? line + 1 : buf;
	json_object *o = json_tokener_parse(line), *s, *m;
	int ok = o && json_object_object_get_ex(o, "seq", &s) &&
	         json_object_object_get_ex(o, "mac", &m) &&
	         strlen(json_object_get_string(m)) == 64;
	if (ok) {
		*seq = (uint64_t)json_object_get_int64(s);
		strcpy(mac, json_object_get_string(m));
	}
	json_object_put(o);
	return ok;
}

static void hexmac(const uint8_t mac[32], char out[65])
{
	static const char hx[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hx[mac[i] >> 4];
		out[2 * i + 1] = hx[mac[i] & 15];
	}
	out[64] = '\0';
}

static int is_crypto_op(const char *op)
{
	return !strcmp(op, "wrapKey") || !strcmp(op, "unwrapKey") || !strcmp(op, "encrypt") ||
	       !strcmp(op, "decrypt") || !strcmp(op, "sign") || !strcmp(op, "verify") ||
	       !strcmp(op, "get") || !strcmp(op, "list");
}

/* The anchor: a data object whose value is "seq N mac HEX".  Objects are
 * never changed in place (SoftHSM rewrites files in place and a kill can
 * empty them): each update writes a new anchor, then destroys the ones it
 * supersedes.  Readers take the highest seq. */
static int anchor_seq(const p11_data *d, unsigned long long *seq)
{
	return sscanf((const char *)d->value, "seq %llu", seq) == 1;
}

/* The newest anchor on the token (seq 0 if none). */
static cmk_rc newest_anchor(cmk_ctx *ctx, uint64_t *seq, char mac[65])
{
	p11_data *d;
	size_t nd;
	CMK_TRY(p11_data_find(ctx->tok, META_APP_ANCHOR, &d, &nd));
	*seq = 0;
	mac[0] = '\0';
	for (size_t i = 0; i < nd; i++) {
		unsigned long long s;
		char m[65];
		if (sscanf((const char *)d[i].value, "seq %llu mac %64s", &s, m) == 2 && s > *seq) {
			*seq = s;
			memcpy(mac, m, sizeof m);
		}
	}
	p11_data_free(d, nd);
	return CMK_OK;
}

static void update_anchor(cmk_ctx *ctx, struct ctx_audit *a, uint64_t seq, const char *mac)
{
	char value[128];
	int n = snprintf(value, sizeof value, "seq %llu mac %s", (unsigned long long)seq, mac);
	CK_OBJECT_HANDLE h;
	if (p11_data_create(ctx->tok, META_APP_ANCHOR, "cmk audit anchor", (const uint8_t *)value,
	                    (size_t)n, 0, &h) != CMK_OK)
		return;
	a->anchor_ms = mono_ms();
	unsigned gen = p11_tok_gen(ctx->tok);
	if (a->anchor != CK_INVALID_HANDLE && a->anchor_gen == gen) {
		p11_destroy(ctx->tok, a->anchor);
	} else {
		/* first anchor of this process: drop every older one */
		p11_data *d;
		size_t nd;
		if (p11_data_find(ctx->tok, META_APP_ANCHOR, &d, &nd) == CMK_OK) {
			for (size_t i = 0; i < nd; i++) {
				unsigned long long s;
				if (d[i].h != h && (!anchor_seq(&d[i], &s) || s <= seq))
					p11_destroy(ctx->tok, d[i].h);
			}
			p11_data_free(d, nd);
		}
	}
	a->anchor = h;
	a->anchor_gen = gen;
}

static cmk_rc append(cmk_ctx *ctx, struct ctx_audit *a, const char *op, const char *key,
                     cmk_rc result, const char *error)
{
	if (!open_log(ctx, a))
		return cmk_err(CMK_E_AUDIT, "audit log %s cannot be opened: %s", ctx->conf.audit_log,
		               strerror(errno));
	while (flock(a->fd, LOCK_EX) != 0)
		if (errno != EINTR)
			return cmk_err(CMK_E_AUDIT, "audit log %s cannot be locked: %s", ctx->conf.audit_log,
			               strerror(errno));
	cmk_rc rc = CMK_OK;
	struct stat st;
	if (fstat(a->fd, &st) != 0) {
		rc = cmk_err(CMK_E_AUDIT, "audit log %s: %s", ctx->conf.audit_log, strerror(errno));
		goto out;
	}
	if (st.st_size != a->end) {
		if (!read_tail(a->fd, st.st_size, &a->seq, a->mac)) {
			rc = cmk_err(CMK_E_AUDIT, "audit log %s: its last record is unreadable; run `cmk audit verify`",
			             ctx->conf.audit_log);
			goto out;
		}
		/* Records cut off the end must stay visible: if the token's
		 * anchor (read once per process) or this process has seen a
		 * later record, continue the chain from there, so that
		 * `audit verify` reports the gap instead of a clean log. */
		if (!a->anchor_read) {
			uint64_t s;
			char m[65];
			if (newest_anchor(ctx, &s, m) == CMK_OK) {
				a->anchor_read = 1;
				if (s > a->high_seq) {
					a->high_seq = s;
					memcpy(a->high_mac, m, sizeof m);
				}
			}
		}
		if (a->high_seq > a->seq) {
			a->seq = a->high_seq;
			memcpy(a->mac, a->high_mac, sizeof a->mac);
		}
	}
	char when[40];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	size_t wl = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + wl, sizeof when - wl, ".%06ldZ", ts.tv_nsec / 1000);

	json_object *o = json_object_new_object();
	json_object_object_add(o, "seq", json_object_new_int64((int64_t)a->seq + 1));
	json_object_object_add(o, "time", json_object_new_string(when));
	json_object_object_add(o, "identity", json_object_new_string(owner_identity(ctx)));
	json_object_object_add(o, "op", json_object_new_string(op));
	json_object_object_add(o, "key", key ? json_object_new_string(key) : NULL);
	/* resources: the caller when a resource acts as its own identity, the
	 * resource, and an object id (never a name) */
	if (strcmp(owner_identity(ctx), ctx->identity) != 0)
		json_object_object_add(o, "caller", json_object_new_string(ctx->identity));
	if (owner_acting())
		json_object_object_add(o, "resource", json_object_new_string(owner_acting()));
	if (owner_acting_object())
		json_object_object_add(o, "object", json_object_new_string(owner_acting_object()));
	json_object_object_add(o, "result", json_object_new_string(
		result == CMK_OK ? "ok" : result == CMK_E_ACCESS_DENIED ? "denied" : "error"));
	json_object_object_add(o, "error", result == CMK_OK ? NULL : json_object_new_string(error));
	json_object_object_add(o, "prev", json_object_new_string(a->mac));
	const char *j0 = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t jl = strlen(j0);
	uint8_t mac[32];
	char hex[65];
	rc = ctx_mac(ctx, CTX_MAC_AUDIT, (const uint8_t *)j0, jl, NULL, 0, mac);
	if (rc == CMK_OK) {
		hexmac(mac, hex);
		char *line = malloc(jl + 80);
		if (!line) {
			rc = cmk_err(CMK_E_NOMEM, "out of memory");
		} else {
			memcpy(line, j0, jl - 1);            /* drop the closing brace */
			int n = snprintf(line + jl - 1, 81, ",\"mac\":\"%s\"}\n", hex);
			size_t total = jl - 1 + (size_t)n;
			ssize_t w = write(a->fd, line, total);
			free(line);
			if (w != (ssize_t)total) {
				rc = cmk_err(CMK_E_AUDIT, "audit log %s cannot be written: %s", ctx->conf.audit_log,
				             w < 0 ? strerror(errno) : "short write");
				a->end = -1;
			} else {
				a->seq++;
				memcpy(a->mac, hex, sizeof hex);
				a->high_seq = a->seq;
				memcpy(a->high_mac, hex, sizeof hex);
				a->end = st.st_size + (off_t)total;
			}
		}
	}
	json_object_put(o);
	if (rc == CMK_OK && (!is_crypto_op(op) || mono_ms() - a->anchor_ms >= 1000))
		update_anchor(ctx, a, a->seq, a->mac);
out:
	flock(a->fd, LOCK_UN);
	return rc;
}

cmk_rc audit_op(cmk_ctx *ctx, const char *op, const char *key, cmk_rc rc)
{
	char saved[512];
	snprintf(saved, sizeof saved, "%s", rc == CMK_OK ? "" : cmk_last_error());
	struct ctx_audit *a = audit_state(ctx);
	cmk_rc arc = a ? CMK_OK : CMK_E_NOMEM;
	int closed = 0;
	if (a) {
		pthread_mutex_lock(&a->lock);
		arc = append(ctx, a, op, key, rc, saved);
		closed = arc != CMK_OK && fail_closed(ctx, a);
		pthread_mutex_unlock(&a->lock);
	}
	if (rc != CMK_OK)
		return cmk_err(rc, "%s", saved);
	if (closed)
		return cmk_err(CMK_E_AUDIT, "%s fails closed and the audit record of %s could not be written: %s",
		               CTX_WHAT(ctx), op, cmk_last_error());
	return CMK_OK;
}

/* ---------------------------------------------------------------- verify */

static cmk_rc bad(uint64_t line, const char *path, const char *fmt, const char *detail)
{
	char why[256];
	snprintf(why, sizeof why, fmt, detail);
	return cmk_err(CMK_E_INTEGRITY, "audit log %s: line %llu: %s", path, (unsigned long long)line, why);
}

cmk_rc cmk_audit_verify(cmk_ctx *ctx, const char *path, uint64_t *records)
{
	return_if_fail(ctx);
	if (!path)
		path = ctx->conf.audit_log;
	FILE *f = fopen(path, "r");
	if (!f)
		return cmk_err(CMK_E_IO, "audit log %s: %s", path, strerror(errno));
	uint64_t aseq;
	char amac[65];
	cmk_rc rc = newest_anchor(ctx, &aseq, amac);
	if (rc != CMK_OK) {
		fclose(f);
		return rc;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	uint64_t lineno = 0, seq = 0;
	char prev[65] = ZERO_MAC;
	while (rc == CMK_OK && (n = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (line[n - 1] != '\n') {
			rc = bad(lineno, path, "%s", "the last record is cut short");
			break;
		}
		line[--n] = '\0';
		char *m = n > 74 ? line + n - 74 : NULL;   /* ,"mac":"<64>"} */
		if (!m || strncmp(m, ",\"mac\":\"", 8) != 0 || strcmp(m + 72, "\"}") != 0) {
			rc = bad(lineno, path, "%s", "record has no MAC");
			break;
		}
		char hex[65];
		memcpy(hex, m + 8, 64);
		hex[64] = '\0';
		m[0] = '}';
		m[1] = '\0';
		uint8_t mac[32];
		char want[65];
		if ((rc = ctx_mac(ctx, CTX_MAC_AUDIT, (uint8_t *)line, (size_t)(m + 1 - line), NULL, 0, mac)) != CMK_OK)
			break;
		hexmac(mac, want);
		if (CRYPTO_memcmp(want, hex, 64) != 0) {
			rc = bad(lineno, path, "%s", "record was altered (MAC mismatch)");
			break;
		}
		json_object *o = json_tokener_parse(line), *js, *jp;
		if (!o || !json_object_object_get_ex(o, "seq", &js) || !json_object_object_get_ex(o, "prev", &jp)) {
			json_object_put(o);
			rc = bad(lineno, path, "%s", "record is malformed");
			break;
		}
		uint64_t s = (uint64_t)json_object_get_int64(js);
		int linked = strcmp(json_object_get_string(jp), prev) == 0;
		json_object_put(o);
		char detail[96];
		if (s != seq + 1) {
			snprintf(detail, sizeof detail, "has seq %llu where %llu was due",
			         (unsigned long long)s, (unsigned long long)seq + 1);
			rc = bad(lineno, path, s > seq + 1 ? "record %s: records were removed or moved before it"
			                                   : "record %s: records were reordered", detail);
			break;
		}
		if (!linked) {
			rc = bad(lineno, path, "%s", "record does not chain to the one before (removed or reordered)");
			break;
		}
		if (s == aseq && amac[0] && strcmp(hex, amac) != 0) {
			rc = bad(lineno, path, "%s", "record is not the one the token saw at this sequence number: the log was rewritten");
			break;
		}
		seq = s;
		memcpy(prev, hex, sizeof prev);
	}
	free(line);
	fclose(f);
	if (rc != CMK_OK)
		return rc;
	if (rc == CMK_OK && aseq > seq)
		rc = cmk_err(CMK_E_INTEGRITY, "audit log %s ends at record %llu but the token saw record %llu: records were cut off the end",
		             path, (unsigned long long)seq, (unsigned long long)aseq);
	if (rc == CMK_OK && records)
		*records = seq;
	return rc;
}
