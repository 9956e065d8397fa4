/* meta.c - the JSON codec of vault metadata records (json-c). */
#include "config.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include "ctx.h"
#include "vault/meta.h"
#include "util/err.h"
#include "util/hex.h"

int64_t meta_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static char *finish(json_object *o)
{
	char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

static void add_i64(json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

char *meta_encode_vault(const meta_vault *v)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "t", json_object_new_string("vault"));
	add_i64(o, "gen", (int64_t)v->gen);
	add_i64(o, "retention_days", v->retention_days);
	json_object_object_add(o, "purge_protection", json_object_new_boolean(v->purge_protection));
	json_object_object_add(o, "audit_fail_closed",
			       json_object_new_boolean(v->audit_fail_closed));
	if (v->audit_log[0])
		json_object_object_add(o, "audit_log", json_object_new_string(v->audit_log));
	json_object_object_add(o, "admin", json_object_new_string(v->admin));
	add_i64(o, "created", v->created);
	return finish(o);
}

char *meta_encode_version(const meta_version *v)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "t", json_object_new_string("version"));
	json_object_object_add(o, "key", json_object_new_string(v->name));
	json_object_object_add(o, "ver", json_object_new_string(v->ver));
	add_i64(o, "gen", (int64_t)v->gen);
	add_i64(o, "seq", (int64_t)v->seq);
	add_i64(o, "created", v->created);
	add_i64(o, "updated", v->updated);
	add_i64(o, "bits", v->bits);
	add_i64(o, "ops", v->ops);
	json_object_object_add(o, "enabled", json_object_new_boolean(v->enabled));
	json_object_object_add(o, "imported", json_object_new_boolean(v->imported));
	add_i64(o, "nbf", v->not_before);
	add_i64(o, "exp", v->expires);
	json_object *tags = json_object_new_object();
	for (size_t i = 0; i < v->ntags; i++)
		json_object_object_add(tags, v->tags[i].key,
				       json_object_new_string(v->tags[i].value));
	json_object_object_add(o, "tags", tags);
	return finish(o);
}

char *meta_encode_keystate(const meta_keystate *ks)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "t", json_object_new_string("key"));
	json_object_object_add(o, "key", json_object_new_string(ks->name));
	add_i64(o, "gen", (int64_t)ks->gen);
	json_object_object_add(o, "enabled", json_object_new_boolean(ks->enabled));
	add_i64(o, "deleted_on", ks->deleted_on);
	add_i64(o, "purge_on", ks->purge_on);
	json_object_object_add(o, "purging", json_object_new_boolean(ks->purging));
	return finish(o);
}

/* Field readers: a missing or mistyped field makes the record invalid. */
static int get_i64(json_object *o, const char *k, int64_t *out)
{
	json_object *v;
	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_int))
		return 0;
	*out = json_object_get_int64(v);
	return 1;
}

static int get_bool(json_object *o, const char *k, int *out)
{
	json_object *v;
	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_boolean))
		return 0;
	*out = json_object_get_boolean(v);
	return 1;
}

static int get_str(json_object *o, const char *k, char *out, size_t cap)
{
	json_object *v;
	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return 0;
	const char *s = json_object_get_string(v);
	if (strlen(s) >= cap)
		return 0;
	strcpy(out, s);
	return 1;
}

static int decode_vault(json_object *o, meta_vault *v)
{
	int64_t gen, ret, created;
	memset(v, 0, sizeof *v);
	if (!get_i64(o, "gen", &gen) || !get_i64(o, "retention_days", &ret) ||
	    !get_bool(o, "purge_protection", &v->purge_protection) ||
	    !get_bool(o, "audit_fail_closed", &v->audit_fail_closed) ||
	    !get_str(o, "admin", v->admin, sizeof v->admin) || !get_i64(o, "created", &created))
		return 0;
	json_object *al; /* optional: older vaults have none */
	if (json_object_object_get_ex(o, "audit_log", &al) &&
	    !get_str(o, "audit_log", v->audit_log, sizeof v->audit_log))
		return 0;
	v->gen = (uint64_t)gen;
	v->retention_days = (unsigned)ret;
	v->created = created;
	return ret >= 7 && ret <= 90;
}

static int decode_version(json_object *o, meta_version *v)
{
	int64_t gen, seq, bits, ops;
	memset(v, 0, sizeof *v);
	if (!get_str(o, "key", v->name, sizeof v->name) ||
	    !get_str(o, "ver", v->ver, sizeof v->ver) || !get_i64(o, "gen", &gen) ||
	    !get_i64(o, "seq", &seq) || !get_i64(o, "created", &v->created) ||
	    !get_i64(o, "updated", &v->updated) || !get_i64(o, "bits", &bits) ||
	    !get_i64(o, "ops", &ops) || !get_bool(o, "enabled", &v->enabled) ||
	    !get_bool(o, "imported", &v->imported) || !get_i64(o, "nbf", &v->not_before) ||
	    !get_i64(o, "exp", &v->expires))
		return 0;
	v->gen = (uint64_t)gen;
	v->seq = (uint64_t)seq;
	v->bits = (unsigned)bits;
	v->ops = (unsigned)ops & CMK_OP_ALL;
	json_object *tags;
	if (json_object_object_get_ex(o, "tags", &tags) &&
	    json_object_is_type(tags, json_type_object)) {
		json_object_object_foreach(tags, k, val)
		{
			if (v->ntags == CMK_TAGS_MAX || strlen(k) >= sizeof v->tags[0].key ||
			    !json_object_is_type(val, json_type_string) ||
			    strlen(json_object_get_string(val)) >= sizeof v->tags[0].value)
				return 0;
			strcpy(v->tags[v->ntags].key, k);
			strcpy(v->tags[v->ntags].value, json_object_get_string(val));
			v->ntags++;
		}
	}
	return strlen(v->ver) == CMK_VERSION_LEN;
}

static int decode_keystate(json_object *o, meta_keystate *ks)
{
	int64_t gen;
	memset(ks, 0, sizeof *ks);
	if (!get_str(o, "key", ks->name, sizeof ks->name) || !get_i64(o, "gen", &gen) ||
	    !get_bool(o, "enabled", &ks->enabled) || !get_i64(o, "deleted_on", &ks->deleted_on) ||
	    !get_i64(o, "purge_on", &ks->purge_on) || !get_bool(o, "purging", &ks->purging))
		return 0;
	ks->gen = (uint64_t)gen;
	return 1;
}

cmk_rc meta_decode(const uint8_t *json, size_t len, meta_kind *kind, meta_vault *v,
		   meta_version *ver, meta_keystate *ks)
{
	*kind = META_NONE;
	json_tokener *tok = json_tokener_new();
	if (!tok)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	json_object *o = json_tokener_parse_ex(tok, (const char *)json, (int)len);
	int complete = json_tokener_get_error(tok) == json_tokener_success;
	json_tokener_free(tok);
	if (!o || !complete || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return cmk_err(CMK_E_INTEGRITY, "metadata record is not valid JSON");
	}
	char t[16];
	int ok = get_str(o, "t", t, sizeof t);
	if (ok && strcmp(t, "vault") == 0 && v && (ok = decode_vault(o, v)))
		*kind = META_VAULT;
	else if (ok && strcmp(t, "version") == 0 && ver && (ok = decode_version(o, ver)))
		*kind = META_VERSION;
	else if (ok && strcmp(t, "key") == 0 && ks && (ok = decode_keystate(o, ks)))
		*kind = META_KEYSTATE;
	json_object_put(o);
	if (!ok)
		return cmk_err(CMK_E_INTEGRITY, "metadata record is malformed");
	return CMK_OK;
}

static cmk_rc record_mac(cmk_ctx *ctx, const char *app, const uint8_t *json, size_t len,
			 char hex[65])
{
	size_t alen = strlen(app) + 1; /* the NUL separates app from json */
	uint8_t mac[32];
	CMK_TRY(ctx_mac(ctx, CTX_MAC_META, (const uint8_t *)app, alen, json, len, mac));
	hex_encode(mac, 32, hex);
	return CMK_OK;
}

cmk_rc meta_write(cmk_ctx *ctx, const char *app, const char *label, char *json, CK_OBJECT_HANDLE *h)
{
	if (!json)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	size_t len = strlen(json);
	char hex[65];
	cmk_rc rc = record_mac(ctx, app, (const uint8_t *)json, len, hex);
	char *value = rc == CMK_OK ? malloc(len + 66) : NULL;
	if (rc == CMK_OK && !value)
		rc = cmk_err(CMK_E_NOMEM, "out of memory");
	if (rc == CMK_OK) {
		memcpy(value, hex, 64);
		value[64] = '\n';
		memcpy(value + 65, json, len);
		rc = p11_data_create(ctx->tok, app, label, (const uint8_t *)value, len + 65, 0, h);
	}
	free(value);
	free(json);
	return rc;
}

cmk_rc meta_open(cmk_ctx *ctx, const p11_data *d, const uint8_t **json, size_t *len)
{
	if (d->len < 66 || d->value[64] != '\n')
		return cmk_err(CMK_E_INTEGRITY,
			       "%s: metadata record '%s' has no MAC: it was not written by cmk",
			       CTX_WHAT(ctx), d->app);
	char hex[65];
	CMK_TRY(record_mac(ctx, d->app, d->value + 65, d->len - 65, hex));
	if (CRYPTO_memcmp(hex, d->value, 64) != 0)
		return cmk_err(CMK_E_INTEGRITY,
			       "%s: metadata record '%s' fails authentication: it was changed "
			       "behind cmk's back",
			       CTX_WHAT(ctx), d->app);
	*json = d->value + 65;
	*len = d->len - 65;
	return CMK_OK;
}

void meta_label(cmk_ctx *ctx, CK_OBJECT_HANDLE h, char *out, size_t cap)
{
	uint8_t *l;
	size_t n;
	out[0] = '\0';
	if (p11_get_bytes(ctx->tok, h, CKA_LABEL, &l, &n) != CMK_OK)
		return;
	size_t j = 0;
	for (size_t i = 0; i < n && j + 1 < cap; i++) /* printable only */
		out[j++] = l[i] >= 0x20 && l[i] < 0x7f && l[i] != '\'' ? (char)l[i] : '?';
	out[j] = '\0';
	free(l);
}

void meta_describe(cmk_ctx *ctx, const p11_data *d, char *out, size_t cap)
{
	char label[96];
	meta_label(ctx, d->h, label, sizeof label);
	char app[96];
	size_t j = 0;
	for (const char *p = d->app; *p && j + 1 < sizeof app; p++)
		app[j++] = *p >= 0x20 && *p < 0x7f && *p != '\'' ? *p : '?';
	app[j] = '\0';
	snprintf(out, cap, "record '%s' (label '%s')", app, label);
}

/* One warning per object and process: the same record is met by every
 * read, and a long-running service must not flood its log. */
static pthread_mutex_t warned_lock = PTHREAD_MUTEX_INITIALIZER;
static int quiet;

void meta_set_quiet(int on)
{
	pthread_mutex_lock(&warned_lock);
	quiet = on;
	pthread_mutex_unlock(&warned_lock);
}

static CK_OBJECT_HANDLE warned[64];
static size_t nwarned;

void meta_report_bad(cmk_ctx *ctx, const p11_data *d, const char *why)
{
	pthread_mutex_lock(&warned_lock);
	int seen = 0;
	for (size_t i = 0; i < nwarned && i < 64 && !seen; i++)
		seen = warned[i] == d->h;
	if (!seen && !quiet)
		warned[nwarned++ % 64] = d->h;
	seen |= quiet;
	pthread_mutex_unlock(&warned_lock);
	if (seen || getenv("CMK_NO_RECORD_WARNINGS"))
		return;
	char what[256];
	meta_describe(ctx, d, what, sizeof what);
	fprintf(stderr,
		"cmk: warning: %s: %s %s and is ignored; `cmk vault check --repair` removes it\n",
		CTX_WHAT(ctx), what, why);
}

cmk_rc meta_open_or_skip(cmk_ctx *ctx, const p11_data *d, const uint8_t **json, size_t *len)
{
	cmk_rc rc = meta_open(ctx, d, json, len);
	if (rc == CMK_E_INTEGRITY && d->len >= 66 && d->value[64] == '\n') {
		/* before calling the record forged, make sure the MAC key is the
		 * token's (a handle cached across a re-initialisation is not) */
		pthread_mutex_lock(&ctx->lock);
		ctx->mac_key[CTX_MAC_META].known = 0;
		pthread_mutex_unlock(&ctx->lock);
		rc = meta_open(ctx, d, json, len);
	}
	if (rc == CMK_E_INTEGRITY) {
		meta_report_bad(ctx, d,
				d->len < 66 || d->value[64] != '\n'
					? "has no MAC (not written by cmk)"
					: "fails authentication");
		return CMK_E_NOT_FOUND;
	}
	return rc;
}
