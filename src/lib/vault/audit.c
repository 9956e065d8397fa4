/* audit.c - one JSON line per operation, chained by HMAC-SHA-256:
 *
 *   {"seq":N,"time":"...","identity":"...","op":"...","key":"...",
 *    "result":"ok|denied|error","error":"...","epoch":"<32 hex>",
 *    "prev":"<mac of N-1>","mac":"<hex>"}
 *
 * mac = HMAC(chain key, the line up to "mac" with "}" in its place).  The
 * chain key of an epoch is HMAC(audit key, "cmk-audit-epoch-v1:" || epoch),
 * computed on the token with the vault's audit key (sensitive, never
 * extractable) once per context; records are then MAC'd in OpenSSL, and
 * `audit verify` derives each epoch's key again through the token.  Records
 * of older versions have no "epoch" and are MAC'd with the audit key on the
 * token.
 *
 * Every thread and process appends under one process-shared mutex that
 * also holds the end of the chain (audit_shared.c): the record is formatted
 * before, and under the mutex only chained, MAC'd and written with one
 * write(), so each operation's record is in the file before the operation
 * returns.  A vault that fails closed returns only after an fdatasync that
 * covers the record, shared by the threads waiting for one (group sync).
 * docs/audit.md says what this protects against whom. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <json-c/json.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include "vault/audit.h"
#include "vault/audit_int.h"
#include "vault/meta.h"
#include "vault/owner.h"
#include "util/err.h"
#include "util/clock.h"
#include "util/hex.h"

#define RETIRED_MAX 32
#define LINE_MAX_   8192 /* a record's fields: at most 512+256+1024+4096+100 */

struct ctx_audit {
	pthread_mutex_t lock; /* setup and the counters; never held across a
	                            token call */
	char path[1024];
	int path_known;
	audit_shared *sh;
	/* under sh->mu: */
	int fd;
	uint64_t dev, ino;
	int retired[RETIRED_MAX]; /* fds of earlier segments (a group sync may use them) */
	size_t nretired;
	int64_t checked_ms;
	_Atomic int reopen;
	EVP_MAC_CTX *mac; /* keyed with the chain key */
	char epoch[AUDIT_EPOCH_HEX + 1];
	_Atomic uint64_t written; /* the last seq this context wrote */
	/* settings */
	int fail_closed;
	int64_t settings_ms;
	/* group sync */
	pthread_mutex_t sync_lock;
	_Atomic uint64_t synced;
	/* lost records (best effort) */
	uint64_t lost, lost_told;
	int64_t lost_ms;
	int64_t retry_ms;  /* the log could not be opened: when to retry */
	char problem[400]; /* why records cannot be written; "" if they can */
};

static _Atomic int warned_process; /* stderr: once per process */

/* fork() (the context's part, ctx.h; src/lib/p11/fork.c): prepare takes sync_lock and
 * lock (in this order), so no child inherits them held by a thread it does
 * not have (the group sync holds sync_lock across an fdatasync); the child
 * makes them anew.  The shared mutex in LOG.state needs nothing: its holder
 * is a live thread of the parent, and a dead one is EOWNERDEAD. */
static void audit_fork_prepare(cmk_ctx *ctx)
{
	struct ctx_audit *a = ctx->audit;
	if (a) {
		pthread_mutex_lock(&a->sync_lock);
		pthread_mutex_lock(&a->lock);
	}
}

static void audit_fork_parent(cmk_ctx *ctx)
{
	struct ctx_audit *a = ctx->audit;
	if (a) {
		pthread_mutex_unlock(&a->lock);
		pthread_mutex_unlock(&a->sync_lock);
	}
}

static void audit_fork_child(cmk_ctx *ctx)
{
	struct ctx_audit *a = ctx->audit;
	if (a) {
		pthread_mutex_init(&a->lock, NULL);
		pthread_mutex_init(&a->sync_lock, NULL);
	}
}

static int64_t real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void audit_close(cmk_ctx *ctx);

/* the context's part (ctx.h): taken before the context's lock at fork */
static const ctx_part audit_part = {
	.free = audit_close,
	.before_ctx_lock = 1,
	.fork_prepare = audit_fork_prepare,
	.fork_parent = audit_fork_parent,
	.fork_child = audit_fork_child,
};

static struct ctx_audit *audit_state(cmk_ctx *ctx)
{
	struct ctx_audit *a = atomic_load_explicit((_Atomic(struct ctx_audit *) *)&ctx->audit,
						   memory_order_acquire);
	if (a)
		return a;
	pthread_mutex_lock(&ctx->lock);
	if (!ctx->audit) {
		a = calloc(1, sizeof *a);
		if (a) {
			pthread_mutex_init(&a->lock, NULL);
			pthread_mutex_init(&a->sync_lock, NULL);
			a->fd = -1;
			a->settings_ms = -1;
			atomic_store_explicit((_Atomic(struct ctx_audit *) *)&ctx->audit, a,
					      memory_order_release);
			ctx_part_add(ctx, CTX_PART_AUDIT, &audit_part);
		}
	}
	pthread_mutex_unlock(&ctx->lock);
	return ctx->audit;
}

static void audit_close(cmk_ctx *ctx)
{
	struct ctx_audit *a = ctx->audit;
	if (!a)
		return;
	if (a->fd >= 0)
		close(a->fd);
	for (size_t i = 0; i < a->nretired; i++)
		close(a->retired[i]);
	audit_shared_unmap(a->sh);
	EVP_MAC_CTX_free(a->mac);
	pthread_mutex_destroy(&a->lock);
	pthread_mutex_destroy(&a->sync_lock);
	free(a);
	ctx->audit = NULL;
}

/* The configuration's audit_log, else the path recorded in the vault's
 * settings (the same whichever configuration opened the vault), else the
 * default next to the configuration. */
/* The log's path, once known, stays for the context: the configuration's
 * audit_log, else the vault record's (v, or read now when NULL), else the
 * configuration's default.  Called with a->lock not held. */
static void learn_path(cmk_ctx *ctx, struct ctx_audit *a, const meta_vault *v)
{
	char p[1024];
	meta_vault rec;
	snprintf(p, sizeof p, "%s", ctx->conf.audit_log);
	if (!ctx->conf.audit_log_set) {
		if (!v && vault_record(ctx, &rec) == CMK_OK)
			v = &rec;
		if (v && v->audit_log[0])
			snprintf(p, sizeof p, "%s", v->audit_log);
	}
	pthread_mutex_lock(&a->lock);
	if (!a->path_known) {
		memcpy(a->path, p, sizeof p);
		a->path_known = 1;
	}
	pthread_mutex_unlock(&a->lock);
}

const char *audit_path(cmk_ctx *ctx)
{
	struct ctx_audit *a = audit_state(ctx);
	if (!a)
		return ctx->conf.audit_log;
	pthread_mutex_lock(&a->lock);
	int known = a->path_known;
	pthread_mutex_unlock(&a->lock);
	if (!known)
		learn_path(ctx, a, NULL);
	return a->path;
}

const char *cmk_audit_log_path(const cmk_ctx *ctx)
{
	return audit_path((cmk_ctx *)ctx);
}

void cmk_audit_reopen(cmk_ctx *ctx)
{
	struct ctx_audit *a = ctx ? audit_state(ctx) : NULL;
	if (a)
		atomic_store(&a->reopen, 1);
}

/* a->lock held */
static int fail_closed(cmk_ctx *ctx, struct ctx_audit *a)
{
	int64_t now = mono_ms();
	if (a->settings_ms < 0 || now - a->settings_ms >= (int64_t)ctx->conf.policy_cache_ms) {
		meta_vault v;
		int known = a->path_known;
		pthread_mutex_unlock(&a->lock);
		cmk_rc rc = vault_record(ctx, &v);
		if (rc == CMK_OK && !known)
			learn_path(ctx, a, &v); /* the same record: no second read */
		pthread_mutex_lock(&a->lock);
		if (rc == CMK_OK) {
			a->fail_closed = v.audit_fail_closed;
			a->settings_ms = now;
		}
	}
	return a->fail_closed;
}

static int is_fail_closed(cmk_ctx *ctx, struct ctx_audit *a)
{
	pthread_mutex_lock(&a->lock);
	int on = fail_closed(ctx, a);
	pthread_mutex_unlock(&a->lock);
	return on;
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

cmk_rc audit_epoch_key(cmk_ctx *ctx, const char *epoch, uint8_t key[32])
{
	return ctx_mac(ctx, CTX_MAC_AUDIT, (const uint8_t *)AUDIT_EPOCH_LABEL,
		       strlen(AUDIT_EPOCH_LABEL), (const uint8_t *)epoch, strlen(epoch), key);
}

static EVP_MAC_CTX *hmac_new(const char *propq, const uint8_t key[32])
{
	EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", propq);
	EVP_MAC_CTX *c = m ? EVP_MAC_CTX_new(m) : NULL;
	EVP_MAC_free(m);
	OSSL_PARAM p[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
			   OSSL_PARAM_construct_end() };
	if (c && EVP_MAC_init(c, key, 32, p) != 1) {
		EVP_MAC_CTX_free(c);
		c = NULL;
	}
	return c;
}

/* A new epoch: a random nonce, and its chain key from the token. */
static cmk_rc new_epoch(cmk_ctx *ctx, struct ctx_audit *a)
{
	uint8_t nonce[AUDIT_EPOCH_HEX / 2], key[32];
	char epoch[AUDIT_EPOCH_HEX + 1];
	if (RAND_bytes(nonce, sizeof nonce) != 1)
		return cmk_err(CMK_E_INTERNAL, "no random bytes for the audit epoch");
	hex_encode(nonce, sizeof nonce, epoch);
	CMK_TRY(audit_epoch_key(ctx, epoch, key));
	EVP_MAC_CTX *c = hmac_new(ctx->conf.propquery, key);
	cmk_wipe(key, sizeof key);
	if (!c)
		return cmk_err(CMK_E_INTERNAL, "OpenSSL offers no HMAC-SHA256");
	pthread_mutex_lock(&a->lock);
	if (!a->mac) {
		a->mac = c;
		memcpy(a->epoch, epoch, sizeof epoch);
		c = NULL;
	}
	pthread_mutex_unlock(&a->lock);
	EVP_MAC_CTX_free(c);
	return CMK_OK;
}

static int open_log(const char *path)
{
	return open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
}

/* Map the shared tail and open the log, once; retried at most once a
 * second while it fails (unless `now`). */
static cmk_rc setup(cmk_ctx *ctx, struct ctx_audit *a, int now)
{
	if (__atomic_load_n(&a->sh, __ATOMIC_ACQUIRE) && a->mac)
		return CMK_OK;
	const char *path = audit_path(ctx);
	if (!a->mac)
		CMK_TRY(new_epoch(ctx, a));
	pthread_mutex_lock(&a->lock);
	cmk_rc rc = CMK_OK;
	if (!a->sh) {
		int64_t t = mono_ms();
		if (!now && a->retry_ms && t < a->retry_ms) {
			rc = cmk_err(CMK_E_AUDIT, "%s", a->problem);
		} else {
			int fd = open_log(path);
			struct stat st;
			audit_shared *sh = NULL;
			if (fd < 0 || fstat(fd, &st) != 0)
				rc = cmk_err(CMK_E_AUDIT, "audit log %s cannot be opened: %s", path,
					     strerror(errno));
			else if (!S_ISREG(st.st_mode))
				rc = cmk_err(CMK_E_AUDIT, "audit log %s is not a regular file",
					     path);
			else
				rc = audit_shared_map(path, &sh);
			if (rc == CMK_OK) {
				a->fd = fd;
				a->dev = (uint64_t)st.st_dev;
				a->ino = (uint64_t)st.st_ino;
				a->checked_ms = t;
				a->problem[0] = '\0';
				a->retry_ms = 0;
				__atomic_store_n(&a->sh, sh, __ATOMIC_RELEASE);
			} else {
				if (fd >= 0)
					close(fd);
				snprintf(a->problem, sizeof a->problem, "%s", cmk_last_error());
				a->retry_ms = t + 1000;
			}
		}
	}
	pthread_mutex_unlock(&a->lock);
	return rc;
}

cmk_rc audit_check_writable(cmk_ctx *ctx)
{
	struct ctx_audit *a = audit_state(ctx);
	if (!a)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	if (!is_fail_closed(ctx, a))
		return CMK_OK;
	/* the file may have been removed, replaced or made unwritable */
	const char *path = audit_path(ctx);
	cmk_rc rc = setup(ctx, a, 1);
	if (rc == CMK_OK) {
		int fd = open_log(path);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) != 0)
			rc = cmk_err(CMK_E_AUDIT, "%s", strerror(errno));
		else if (!S_ISREG(st.st_mode))
			rc = cmk_err(CMK_E_AUDIT, "not a regular file");
		if (fd >= 0)
			close(fd);
		if (rc == CMK_OK &&
		    (a->ino != (uint64_t)st.st_ino || a->dev != (uint64_t)st.st_dev))
			atomic_store(&a->reopen, 1);
	}
	if (rc != CMK_OK)
		return cmk_err(CMK_E_AUDIT,
			       "%s fails closed and its audit log %s cannot be written: %s",
			       CTX_WHAT(ctx), path, cmk_last_error());
	return CMK_OK;
}

/* Seq and mac of the last complete line; *keep is where it ends. */
int audit_read_tail(int fd, off_t size, uint64_t *seq, char mac[65], off_t *keep)
{
	*keep = size;
	if (size == 0) {
		*seq = 0;
		strcpy(mac, AUDIT_ZERO_MAC);
		return 1;
	}
	char buf[16384];
	off_t from = size > (off_t)sizeof buf - 1 ? size - (off_t)sizeof buf + 1 : 0;
	ssize_t n = pread(fd, buf, (size_t)(size - from), from);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (buf[n - 1] != '\n') { /* a writer died inside its write() */
		char *nl = strrchr(buf, '\n');
		if (!nl && from > 0)
			return 0;
		*keep = nl ? from + (nl + 1 - buf) : 0;
		n = nl ? nl + 1 - buf : 0;
		if (n == 0) {
			*seq = 0;
			strcpy(mac, AUDIT_ZERO_MAC);
			return from == 0;
		}
	}
	buf[n - 1] = '\0';
	char *line = strrchr(buf, '\n');
	line = line ? line + 1 : buf;
	json_object *o = json_tokener_parse(line), *s, *m;
	int ok = o && json_object_object_get_ex(o, "seq", &s) &&
		 json_object_object_get_ex(o, "mac", &m) && strlen(json_object_get_string(m)) == 64;
	if (ok) {
		*seq = (uint64_t)json_object_get_int64(s);
		strcpy(mac, json_object_get_string(m));
	}
	json_object_put(o);
	return ok;
}

/* ------------------------------------------------------------ appending */

/* Under sh->mu: our fd is the file the tail describes, the tail is known. */
static void retire(struct ctx_audit *a, int fd)
{
	if (fd < 0)
		return;
	if (a->nretired == RETIRED_MAX) {
		close(a->retired[0]);
		memmove(a->retired, a->retired + 1, (RETIRED_MAX - 1) * sizeof a->retired[0]);
		a->nretired--;
	}
	a->retired[a->nretired++] = fd;
}

static cmk_rc reopen(struct ctx_audit *a, const char *path)
{
	int fd = open_log(path);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		cmk_rc rc = cmk_err(CMK_E_AUDIT, "audit log %s cannot be opened: %s", path,
				    strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return cmk_err(CMK_E_AUDIT, "audit log %s is not a regular file", path);
	}
	retire(a, a->fd);
	a->fd = fd;
	a->dev = (uint64_t)st.st_dev;
	a->ino = (uint64_t)st.st_ino;
	audit_shared *sh = a->sh;
	if (sh->valid && (sh->ino != a->ino || sh->dev != a->dev)) {
		/* an empty file where the log was (moved away by logrotate, or
		 * removed): a new segment, continuing the chain; anything else
		 * is read again */
		if (st.st_size == 0) {
			sh->ino = a->ino;
			sh->dev = a->dev;
			sh->bytes = 0;
			sh->started = (int64_t)time(NULL);
		} else {
			sh->valid = 0;
		}
	}
	return CMK_OK;
}

static cmk_rc resync(cmk_ctx *ctx, struct ctx_audit *a, const char *path)
{
	audit_shared *sh = a->sh;
	struct stat st;
	uint64_t seq;
	char mac[65];
	off_t keep;
	if (fstat(a->fd, &st) != 0)
		return cmk_err(CMK_E_AUDIT, "audit log %s: %s", path, strerror(errno));
	if (!audit_read_tail(a->fd, st.st_size, &seq, mac, &keep))
		return cmk_err(
			CMK_E_AUDIT,
			"audit log %s: its last record is unreadable; run `cmk audit verify`",
			path);
	/* a line cut short by a writer that died in its write(): the records
	 * of operations that never returned */
	if (keep < st.st_size && ftruncate(a->fd, keep) != 0)
		return cmk_err(CMK_E_AUDIT,
			       "audit log %s: cannot remove the unfinished last line: %s", path,
			       strerror(errno));
	/* Records cut off the end must stay visible: when the shared tail or
	 * the token's anchor has seen a later record, continue from there, so
	 * that `audit verify` reports the gap instead of a clean log. */
	audit_anchor an;
	if (audit_anchor_read(ctx, &an) == CMK_OK && an.mac[0] && an.seq > seq) {
		seq = an.seq;
		memcpy(mac, an.mac, sizeof mac);
	}
	if (sh->seq > seq && sh->mac[0]) {
		seq = sh->seq;
		memcpy(mac, sh->mac, sizeof mac);
	}
	sh->seq = seq;
	memcpy(sh->mac, mac, sizeof mac);
	sh->dev = a->dev;
	sh->ino = a->ino;
	sh->bytes = (uint64_t)keep;
	if (!sh->started)
		sh->started = (int64_t)time(NULL);
	sh->valid = 1;
	return CMK_OK;
}

/* Start a new segment: the current file becomes LOG.<last seq>. */
static void rotate(cmk_ctx *ctx, struct ctx_audit *a, const char *path, int durable)
{
	audit_shared *sh = a->sh;
	char seg[1100];
	int linked = 0;
	for (int i = 0; i < 100 && !linked; i++) {
		if (i == 0)
			snprintf(seg, sizeof seg, "%s.%012llu", path, (unsigned long long)sh->seq);
		else
			snprintf(seg, sizeof seg, "%s.%012llu-%d", path,
				 (unsigned long long)sh->seq, i);
		if (link(path, seg) == 0)
			linked = 1;
		else if (errno != EEXIST)
			return; /* keep writing to this one */
	}
	if (!linked || unlink(path) != 0)
		return;
	if (durable)
		fdatasync(a->fd);
	int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		if (fd >= 0)
			close(fd);
		sh->valid = 0; /* every writer looks again */
		return;
	}
	if (durable) {
		char dir[1024];
		snprintf(dir, sizeof dir, "%s", path);
		int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	retire(a, a->fd);
	a->fd = fd;
	a->dev = (uint64_t)st.st_dev;
	a->ino = (uint64_t)st.st_ino;
	sh->dev = a->dev;
	sh->ino = a->ino;
	sh->bytes = 0;
	sh->started = (int64_t)time(NULL);
	(void)ctx;
}

/* Appending to a line buffer (formatting is on every operation's path:
 * plain copies, no printf). */
static char *put(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}
#define PUT_LIT(p, lit) put((p), (lit), sizeof(lit) - 1)

static char *put_u64(char *p, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof tmp;
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return put(p, tmp + i, sizeof tmp - i);
}

/* JSON string of s (NULL: null), at most cap bytes.  Plain strings are
 * copied; the rest is escaped by json-c. */
static char *put_json(char *p, size_t cap, const char *s)
{
	if (!s)
		return PUT_LIT(p, "null");
	const unsigned char *q = (const unsigned char *)s;
	while (*q >= 0x20 && *q < 0x7f && *q != '"' && *q != '\\')
		q++;
	size_t n = (size_t)(q - (const unsigned char *)s);
	if (!*q && n + 2 <= cap) {
		*p++ = '"';
		p = put(p, s, n);
		*p++ = '"';
		return p;
	}
	json_object *o = json_object_new_string(s);
	const char *j = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								  JSON_C_TO_STRING_NOSLASHESCAPE);
	n = strlen(j);
	if (n > cap) { /* cut inside the string, still JSON */
		n = cap > 8 ? cap - 8 : 0;
		while (n && (j[n - 1] == '\\' || (j[n - 1] & 0xc0) == 0x80))
			n--;
		p = put(p, j, n);
		p = PUT_LIT(p, "...\"");
	} else {
		p = put(p, j, n);
	}
	json_object_put(o);
	return p;
}

/* The record's fields after seq, before epoch (b holds LINE_MAX_). */
static size_t format_body(cmk_ctx *ctx, const char *op, const char *key, cmk_rc result,
			  const char *error, char *b)
{
	static _Thread_local time_t last_sec = -1;
	static _Thread_local char stamp[24];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != last_sec) {
		struct tm tm;
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
		last_sec = ts.tv_sec;
	}
	char *p = PUT_LIT(b, "\"time\":\"");
	p = put(p, stamp, strlen(stamp));
	*p++ = '.';
	long us = ts.tv_nsec / 1000;
	for (int i = 5; i >= 0; i--, us /= 10)
		p[i] = (char)('0' + us % 10);
	p += 6;
	/* the acting identity: a resource's own when it acts (vault/owner.h) */
	const char *who = owner_identity(ctx);
	p = PUT_LIT(p, "Z\",\"identity\":");
	p = put_json(p, 512, who);
	p = PUT_LIT(p, ",\"op\":");
	p = put_json(p, 256, op);
	p = PUT_LIT(p, ",\"key\":");
	p = put_json(p, 1024, key);
	/* resources: the caller when a resource acts as its own identity, the
	 * resource, and an object id (never a name) */
	if (strcmp(who, ctx->identity) != 0) {
		p = PUT_LIT(p, ",\"caller\":");
		p = put_json(p, 512, ctx->identity);
	}
	if (owner_acting()) {
		p = PUT_LIT(p, ",\"resource\":");
		p = put_json(p, 512, owner_acting());
	}
	if (owner_acting_object()) {
		p = PUT_LIT(p, ",\"object\":");
		p = put_json(p, 256, owner_acting_object());
	}
	p = PUT_LIT(p, ",\"result\":\"");
	const char *r = result == CMK_OK		? "ok"
			: result == CMK_E_ACCESS_DENIED ? "denied"
							: "error";
	p = put(p, r, strlen(r));
	p = PUT_LIT(p, "\",\"error\":");
	p = put_json(p, 4096, result == CMK_OK ? NULL : error);
	return (size_t)(p - b);
}

static int is_crypto_op(const char *op)
{
	return !strcmp(op, "wrapKey") || !strcmp(op, "unwrapKey") || !strcmp(op, "encrypt") ||
	       !strcmp(op, "decrypt") || !strcmp(op, "sign") || !strcmp(op, "verify") ||
	       !strcmp(op, "get") || !strcmp(op, "list");
}

/* Chain, MAC and write one record; *seq gets its number and *fd the file
 * it went to. */
static cmk_rc append(cmk_ctx *ctx, struct ctx_audit *a, const char *body, size_t blen, int crypto,
		     int durable, uint64_t *seq_out, int *fd_out)
{
	const char *path = audit_path(ctx);
	CMK_TRY(setup(ctx, a, 0));
	audit_shared *sh = a->sh;
	int dead;
	if (audit_shared_lock(sh, &dead) != 0)
		return cmk_err(CMK_E_AUDIT, "audit log %s: its state lock %s.state is unusable",
			       path, path);
	cmk_rc rc = CMK_OK;
	int64_t t = mono_ms();
	if (atomic_exchange(&a->reopen, 0) || t - a->checked_ms >= 1000 ||
	    (sh->valid && (sh->ino != a->ino || sh->dev != a->dev))) {
		/* another process rotated, logrotate moved the file, or it was
		 * removed: write where the path points now */
		struct stat st;
		a->checked_ms = t;
		if (stat(path, &st) != 0 || (uint64_t)st.st_ino != a->ino ||
		    (uint64_t)st.st_dev != a->dev)
			rc = reopen(a, path);
	}
	if (rc == CMK_OK && !sh->valid)
		rc = resync(ctx, a, path);
	char line[LINE_MAX_ + 256];
	size_t n = 0;
	if (rc == CMK_OK) {
		int64_t now = (int64_t)time(NULL);
		if (sh->bytes > 0 && ((ctx->conf.audit_rotate_size &&
				       sh->bytes + blen + 200 > ctx->conf.audit_rotate_size) ||
				      (ctx->conf.audit_rotate_secs &&
				       now - sh->started >= (int64_t)ctx->conf.audit_rotate_secs)))
			rotate(ctx, a, path, durable);
		char *p = PUT_LIT(line, "{\"seq\":");
		p = put_u64(p, sh->seq + 1);
		*p++ = ',';
		p = put(p, body, blen);
		p = PUT_LIT(p, ",\"epoch\":\"");
		p = put(p, a->epoch, AUDIT_EPOCH_HEX);
		p = PUT_LIT(p, "\",\"prev\":\"");
		p = put(p, sh->mac, 64);
		p = PUT_LIT(p, "\"}");
		n = (size_t)(p - line);
		uint8_t mac[32];
		size_t ml = 0;
		char hex[65];
		if (EVP_MAC_init(a->mac, NULL, 0, NULL) != 1 ||
		    EVP_MAC_update(a->mac, (const uint8_t *)line, n) != 1 ||
		    EVP_MAC_final(a->mac, mac, &ml, sizeof mac) != 1 || ml != 32) {
			rc = cmk_err(CMK_E_INTERNAL, "HMAC of an audit record failed");
		} else {
			hex_encode(mac, 32, hex);
			p = PUT_LIT(line + n - 1, ",\"mac\":\"");
			p = put(p, hex, 64);
			p = PUT_LIT(p, "\"}\n");
			n = (size_t)(p - line);
			ssize_t w = write(a->fd, line, n);
			if (w != (ssize_t)n) {
				rc = cmk_err(CMK_E_AUDIT, "audit log %s cannot be written: %s",
					     path, w < 0 ? strerror(errno) : "short write");
				if (w > 0)
					sh->valid = 0; /* the next writer removes the part line */
			} else {
				sh->seq++;
				memcpy(sh->mac, hex, sizeof hex);
				sh->bytes += n;
				*seq_out = sh->seq;
				*fd_out = a->fd;
				atomic_store(&a->written, sh->seq);
			}
		}
	}
	/* the anchor: by every management operation, else once a second per host */
	int anchor = 0;
	uint64_t aseq = sh->seq;
	char amac[65];
	if (rc == CMK_OK) {
		int64_t now = real_ms();
		if (!crypto || now - sh->anchor_ms >= 1000 || now < sh->anchor_ms) {
			anchor = 1;
			sh->anchor_ms = now;
			sh->anchored_seq = aseq;
			memcpy(amac, sh->mac, sizeof amac);
		}
	}
	audit_shared_unlock(sh);
	if (rc == CMK_OK && ctx->conf.audit_syslog)
		syslog(LOG_AUTHPRIV | LOG_INFO, "cmk audit %s: %.*s", ctx->conf.name, (int)n - 1,
		       line);
	if (anchor)
		audit_anchor_write(ctx, aseq, amac, 0, !crypto);
	return rc;
}

/* Wait until the record is on disk: one fdatasync covers every record
 * written before it started, so concurrent waiters share one. */
static cmk_rc make_durable(cmk_ctx *ctx, struct ctx_audit *a, uint64_t seq, int fd)
{
	if (atomic_load(&a->synced) >= seq)
		return CMK_OK;
	pthread_mutex_lock(&a->sync_lock);
	cmk_rc rc = CMK_OK;
	if (atomic_load(&a->synced) < seq) {
		uint64_t upto = atomic_load(&a->written);
		if (fdatasync(fd) != 0)
			rc = cmk_err(CMK_E_AUDIT, "audit log %s cannot be synced: %s",
				     audit_path(ctx), strerror(errno));
		else
			atomic_store(&a->synced, upto > seq ? upto : seq);
	}
	pthread_mutex_unlock(&a->sync_lock);
	return rc;
}

/* Best effort and the record was not written: say so once per process on
 * stderr, and count it on the token's anchor (at once the first time, then
 * at most once a second) so that `audit verify` cannot call the log
 * complete. */
static void lost(cmk_ctx *ctx, struct ctx_audit *a, const char *why)
{
	int64_t t = mono_ms();
	pthread_mutex_lock(&a->lock);
	a->lost++;
	uint64_t tell = 0;
	if (a->lost_told == 0 || t - a->lost_ms >= 1000) {
		tell = a->lost - a->lost_told;
		a->lost_told = a->lost;
		a->lost_ms = t;
	}
	snprintf(a->problem, sizeof a->problem, "%s", why);
	pthread_mutex_unlock(&a->lock);
	if (!atomic_exchange(&warned_process, 1))
		fprintf(stderr, "cmk: warning: %s: audit records are not being written: %s\n",
			CTX_WHAT(ctx), why);
	if (tell && audit_anchor_write(ctx, 0, AUDIT_ZERO_MAC, tell, 1) != CMK_OK) {
		pthread_mutex_lock(&a->lock);
		a->lost_told -= tell;
		pthread_mutex_unlock(&a->lock);
	}
}

uint64_t audit_lost_here(cmk_ctx *ctx, char *why, size_t len)
{
	struct ctx_audit *a = audit_state(ctx);
	if (!a)
		return 0;
	pthread_mutex_lock(&a->lock);
	uint64_t n = a->lost;
	snprintf(why, len, "%s", a->problem);
	pthread_mutex_unlock(&a->lock);
	return n;
}

cmk_rc audit_op(cmk_ctx *ctx, const char *op, const char *key, cmk_rc rc)
{
	char saved[512];
	snprintf(saved, sizeof saved, "%s", rc == CMK_OK ? "" : cmk_last_error());
	struct ctx_audit *a = audit_state(ctx);
	char body[LINE_MAX_];
	size_t blen = format_body(ctx, op, key, rc, saved, body);
	cmk_rc arc = a ? CMK_OK : cmk_err(CMK_E_NOMEM, "out of memory");
	uint64_t seq = 0;
	int fd = -1;
	int closed = 0;
	if (a) {
		closed = is_fail_closed(ctx, a);
		arc = append(ctx, a, body, blen, is_crypto_op(op), closed, &seq, &fd);
		if (arc == CMK_OK && closed)
			arc = make_durable(ctx, a, seq, fd);
		if (arc != CMK_OK && !closed && rc != CMK_E_AUDIT)
			lost(ctx, a, cmk_last_error());
	}
	if (rc != CMK_OK)
		return cmk_err(rc, "%s", saved);
	if (arc != CMK_OK && closed)
		return cmk_err(
			CMK_E_AUDIT,
			"%s fails closed and the audit record of %s could not be written: %s",
			CTX_WHAT(ctx), op, cmk_last_error());
	return CMK_OK;
}
