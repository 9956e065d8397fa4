/* keys.c - reading a key's records, and making versions: create, rotate,
 * import.  A version exists once its record is written; the key pair is
 * made first, so a kill leaves at most an unreferenced key pair, never a
 * record without its key. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/rand.h>
#include "codec/import.h"
#include "vault/audit.h"
#include "vault/keys.h"
#include "vault/op.h"
#include "vault/owner.h"
#include "vault/policy.h"
#include "util/err.h"
#include "util/hex.h"

static void key_app(const char *name, char app[CMK_NAME_MAX + 16])
{
	snprintf(app, CMK_NAME_MAX + 16, META_APP_KEY_PREFIX "%s", name);
}

void key_state_free(key_state *st)
{
	free(st->v);
	free(st->stale);
	memset(st, 0, sizeof *st);
}

static int add_stale(key_state *st, CK_OBJECT_HANDLE h)
{
	CK_OBJECT_HANDLE *n = realloc(st->stale, (st->nstale + 1) * sizeof *n);
	if (!n)
		return 0;
	st->stale = n;
	st->stale[st->nstale++] = h;
	return 1;
}

static int by_seq(const void *a, const void *b)
{
	const meta_version *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

cmk_rc keys_load(cmk_ctx *ctx, const char *name, key_state *st)
{
	char app[CMK_NAME_MAX + 16];
	key_app(name, app);
	p11_data *d;
	size_t n;
	memset(st, 0, sizeof *st);
	CMK_TRY(p11_data_find(ctx->tok, app, &d, &n));
	cmk_rc rc = keys_load_from(ctx, name, d, n, st);
	p11_data_free(d, n);
	return rc;
}

cmk_rc keys_load_from(cmk_ctx *ctx, const char *name, const p11_data *d, size_t n, key_state *st)
{
	memset(st, 0, sizeof *st);
	snprintf(st->name, sizeof st->name, "%s", name);
	st->v = calloc(n ? n : 1, sizeof *st->v);
	if (!st->v)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	cmk_rc rc = CMK_OK;
	for (size_t i = 0; i < n && rc == CMK_OK; i++) {
		meta_kind kind;
		meta_version ver;
		meta_keystate ks;
		const uint8_t *json;
		size_t jlen;
		if ((rc = meta_open_or_skip(ctx, &d[i], &json, &jlen)) == CMK_E_NOT_FOUND) {
			rc = CMK_OK; /* not cmk's: reported, ignored */
			continue;
		}
		if (rc != CMK_OK)
			break;
		if (meta_decode(json, jlen, &kind, NULL, &ver, &ks) != CMK_OK ||
		    (kind == META_VERSION && strcmp(ver.name, name) != 0) ||
		    (kind == META_KEYSTATE && strcmp(ks.name, name) != 0)) {
			cmk_err_clear();
			meta_report_bad(ctx, &d[i], "is malformed");
			continue;
		}
		ver.h = ks.h = d[i].h;
		if (kind == META_KEYSTATE) {
			if (ks.gen > st->ks.gen) {
				if (st->ks.gen && !add_stale(st, st->ks.h))
					rc = cmk_err(CMK_E_NOMEM, "out of memory");
				st->ks = ks;
			} else if (!add_stale(st, ks.h)) {
				rc = cmk_err(CMK_E_NOMEM, "out of memory");
			}
			continue;
		}
		meta_version *have = keys_find_version(st, ver.ver);
		if (!have) {
			st->v[st->nv++] = ver;
		} else if (ver.gen > have->gen) {
			if (!add_stale(st, have->h))
				rc = cmk_err(CMK_E_NOMEM, "out of memory");
			*have = ver;
		} else if (!add_stale(st, ver.h)) {
			rc = cmk_err(CMK_E_NOMEM, "out of memory");
		}
	}
	if (rc == CMK_OK && st->ks.purging)
		rc = cmk_err(CMK_E_NOT_FOUND, "key %s is being purged in %s", name, CTX_WHAT(ctx));
	if (rc == CMK_OK && st->nv == 0)
		rc = cmk_err(CMK_E_NOT_FOUND, "key cmk://%s/keys/%s does not exist",
			     cmk_ctx_vault(ctx), name);
	if (rc != CMK_OK) {
		key_state_free(st);
		return rc;
	}
	if (!st->ks.gen) {
		snprintf(st->ks.name, sizeof st->ks.name, "%s", name);
		st->ks.enabled = 1;
	}
	qsort(st->v, st->nv, sizeof *st->v, by_seq);
	return CMK_OK;
}

cmk_rc keys_load_live(cmk_ctx *ctx, const char *name, key_state *st)
{
	CMK_TRY(keys_load(ctx, name, st));
	if (st->ks.deleted_on) {
		char when[32];
		time_t t = (time_t)st->ks.deleted_on;
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
		key_state_free(st);
		return cmk_err(CMK_E_DELETED,
			       "key cmk://%s/keys/%s is deleted (since %s); recover it first",
			       cmk_ctx_vault(ctx), name, when);
	}
	return CMK_OK;
}

meta_version *keys_find_version(key_state *st, const char *ver)
{
	for (size_t i = 0; i < st->nv; i++)
		if (strcmp(st->v[i].ver, ver) == 0)
			return &st->v[i];
	return NULL;
}

int keys_version_usable(const key_state *st, const meta_version *v)
{
	return v->enabled && st->ks.enabled && !st->ks.deleted_on;
}

meta_version *keys_current(key_state *st, int64_t now)
{
	for (size_t i = st->nv; i-- > 0;) {
		meta_version *v = &st->v[i];
		if (keys_version_usable(st, v) && (!v->not_before || now >= v->not_before) &&
		    (!v->expires || now < v->expires))
			return v;
	}
	return NULL;
}

p11_rsa_flags keys_token_flags(const key_state *st, const meta_version *v)
{
	int u = keys_version_usable(st, v);
	p11_rsa_flags f = {
		.decrypt = u && (v->ops & (CMK_OP_UNWRAP | CMK_OP_DECRYPT)),
		.sign = u && (v->ops & CMK_OP_SIGN),
	};
	return f;
}

void keys_fill_version_info(cmk_ctx *ctx, key_state *st, meta_version *v, cmk_version_info *out)
{
	memset(out, 0, sizeof *out);
	strcpy(out->name, v->name);
	strcpy(out->version, v->ver);
	names_kid(cmk_ctx_vault(ctx), v->name, v->ver, out->kid);
	out->bits = v->bits;
	out->ops = v->ops;
	out->enabled = v->enabled;
	out->usable = keys_version_usable(st, v);
	out->current = keys_current(st, (int64_t)time(NULL)) == v;
	out->token_enforced = 1;
	out->imported = v->imported;
	out->created = v->created;
	out->updated = v->updated;
	out->not_before = v->not_before;
	out->expires = v->expires;
	out->ntags = v->ntags;
	memcpy(out->tags, v->tags, sizeof out->tags);
}

/* ------------------------------------------------------------ new versions */

static cmk_rc check_params(const cmk_key_params *p)
{
	if (p->bits && p->bits != 2048 && p->bits != 3072 && p->bits != 4096)
		return cmk_err(CMK_E_USAGE, "key size %u is not 2048, 3072 or 4096", p->bits);
	if (p->ops & ~(unsigned)CMK_OP_ALL)
		return cmk_err(CMK_E_USAGE, "unknown key operation bits 0x%x", p->ops);
	if (p->ntags > CMK_TAGS_MAX)
		return cmk_err(CMK_E_USAGE, "at most %d tags", CMK_TAGS_MAX);
	if (p->not_before && p->expires && p->expires <= p->not_before)
		return cmk_err(CMK_E_USAGE, "expires must be later than not-before");
	for (size_t i = 0; i < p->ntags; i++)
		if (!p->tags[i].key[0])
			return cmk_err(CMK_E_USAGE, "tag %zu has an empty name", i + 1);
	return CMK_OK;
}

/* Make a key pair (generated, or imported from `parts`) and commit its
 * version record.  `st` is the key's current state, or NULL for a new key. */
static cmk_rc new_version(cmk_ctx *ctx, key_state *st, const char *name, meta_version *v,
			  const p11_rsa_parts *parts, char out[CMK_VERSION_LEN + 1])
{
	uint8_t id[P11_ID_LEN];
	if (RAND_bytes(id, sizeof id) != 1)
		return cmk_err(CMK_E_INTERNAL, "no randomness for a version id");
	hex_encode(id, sizeof id, v->ver);
	snprintf(v->name, sizeof v->name, "%s", name);
	v->gen = 1;
	v->created = v->updated = meta_now_us();
	v->enabled = 1;
	v->imported = parts != NULL;
	uint64_t seq = 0;
	for (size_t i = 0; st && i < st->nv; i++)
		if (st->v[i].seq > seq)
			seq = st->v[i].seq;
	v->seq = seq + 1;

	key_state fresh = { .ks = { .enabled = 1 } };
	p11_rsa_flags f = keys_token_flags(st ? st : &fresh, v);
	/* The archive copy (with the public key), then the working copy, then
	 * the record: a kill before the record leaves objects no record names
	 * (never taken for a version; a purge of the name removes them). */
	CK_OBJECT_HANDLE priv, pub, work = CK_INVALID_HANDLE;
	cmk_rc rc = parts ? p11_rsa_import(ctx->tok, parts, id, name, &priv, &pub)
			  : p11_rsa_generate_archived(ctx->tok, v->bits, id, name, &priv, &pub);
	if (rc != CMK_OK)
		return cmk_err_prefix(rc, "key %s", name);
	if (f.decrypt || f.sign)
		rc = p11_rsa_copy(ctx->tok, priv, id, 0, f, &work);
	char app[CMK_NAME_MAX + 16], label[CMK_NAME_MAX + 64];
	key_app(name, app);
	snprintf(label, sizeof label, "cmk %s/%s #1", name, v->ver);
	if (rc == CMK_OK)
		rc = meta_write(ctx, app, label, meta_encode_version(v), NULL);
	if (rc != CMK_OK) {
		if (work != CK_INVALID_HANDLE)
			p11_destroy_undo(ctx->tok, work);
		p11_destroy_undo(ctx->tok, priv);
		p11_destroy_undo(ctx->tok, pub);
		return rc;
	}
	memcpy(out, v->ver, CMK_VERSION_LEN + 1);
	return CMK_OK;
}

static void version_from_params(meta_version *v, const cmk_key_params *p)
{
	memset(v, 0, sizeof *v);
	v->bits = p->bits ? p->bits : 2048;
	v->ops = p->ops ? p->ops : CMK_OP_ALL;
	v->not_before = p->not_before;
	v->expires = p->expires;
	v->ntags = p->ntags;
	for (size_t i = 0; i < p->ntags; i++)
		v->tags[i] = p->tags[i];
}

/* Fails unless the name is free: live and deleted keys both hold it. */
static cmk_rc check_name_free(cmk_ctx *ctx, const char *name)
{
	key_state st;
	cmk_rc rc = keys_load(ctx, name, &st);
	if (rc == CMK_E_NOT_FOUND) { /* leftovers of an interrupted purge go first */
		cmk_err_clear();
		return keys_purge_objects(ctx, name);
	}
	if (rc != CMK_OK)
		return rc;
	int deleted = st.ks.deleted_on != 0;
	key_state_free(&st);
	if (deleted)
		return cmk_err(CMK_E_EXISTS,
			       "key cmk://%s/keys/%s is soft-deleted and keeps its name until "
			       "purged; recover or purge it",
			       cmk_ctx_vault(ctx), name);
	return cmk_err(CMK_E_EXISTS, "key cmk://%s/keys/%s already exists", cmk_ctx_vault(ctx),
		       name);
}

static cmk_rc cmk_key_create_impl(cmk_ctx *ctx, const char *name, const cmk_key_params *p,
				  char version[CMK_VERSION_LEN + 1])
{
	return_if_fail(ctx && name && version);
	cmk_key_params defaults = { 0 };
	if (!p)
		p = &defaults;
	if (!names_key_valid(name))
		return cmk_err(CMK_E_USAGE,
			       "key name '%s' must be 1-127 characters of A-Z a-z 0-9 -", name);
	CMK_TRY(check_params(p));
	CMK_TRY(check_name_free(ctx, name));
	meta_version v;
	version_from_params(&v, p);
	return new_version(ctx, NULL, name, &v, NULL, version);
}

static cmk_rc cmk_key_rotate_impl(cmk_ctx *ctx, const char *name, const cmk_key_params *p,
				  char version[CMK_VERSION_LEN + 1])
{
	return_if_fail(ctx && name && version);
	char kname[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1];
	CMK_TRY(names_resolve(ctx, name, kname, ver));
	if (p)
		CMK_TRY(check_params(p));
	key_state st;
	CMK_TRY(keys_load_live(ctx, kname, &st));
	const meta_version *last = &st.v[st.nv - 1];
	meta_version v;
	memset(&v, 0, sizeof v);
	v.bits = p && p->bits ? p->bits : last->bits;
	v.ops = p && p->ops ? p->ops : last->ops;
	if (p && p->ntags) {
		v.ntags = p->ntags;
		for (size_t i = 0; i < p->ntags; i++)
			v.tags[i] = p->tags[i];
	} else {
		v.ntags = last->ntags;
		memcpy(v.tags, last->tags, sizeof v.tags);
	}
	if (p) {
		v.not_before = p->not_before;
		v.expires = p->expires;
	}
	cmk_rc rc = new_version(ctx, &st, kname, &v, NULL, version);
	key_state_free(&st);
	return rc;
}

static cmk_rc cmk_key_import_impl(cmk_ctx *ctx, const char *name, const uint8_t *pem, size_t len,
				  const cmk_key_params *p, char version[CMK_VERSION_LEN + 1])
{
	return_if_fail(ctx && name && pem && version);
	cmk_key_params defaults = { 0 };
	if (!p)
		p = &defaults;
	if (!names_key_valid(name))
		return cmk_err(CMK_E_USAGE,
			       "key name '%s' must be 1-127 characters of A-Z a-z 0-9 -", name);
	CMK_TRY(check_params(p));
	p11_rsa_parts parts;
	unsigned bits;
	uint8_t *mem;
	size_t memlen;
	CMK_TRY(import_parse(ctx->conf.propquery, pem, len, &parts, &bits, &mem, &memlen));
	key_state st;
	cmk_rc rc = keys_load(ctx, name, &st);
	int exists = rc == CMK_OK;
	if (exists && st.ks.deleted_on)
		rc = cmk_err(
			CMK_E_DELETED,
			"key cmk://%s/keys/%s is deleted; recover it before importing a version",
			cmk_ctx_vault(ctx), name);
	else if (rc == CMK_OK || rc == CMK_E_NOT_FOUND) {
		meta_version v;
		version_from_params(&v, p);
		v.bits = bits;
		rc = new_version(ctx, exists ? &st : NULL, name, &v, &parts, version);
	}
	if (exists)
		key_state_free(&st);
	cmk_secure_free(mem, memlen);
	return rc;
}

/* ---------------------------------------------------------- public calls */

static void audit_kid(cmk_ctx *ctx, const char *name, const char *ver, char out[CMK_KID_MAX])
{
	char n[CMK_NAME_MAX], v[CMK_VERSION_LEN + 1];
	if (names_resolve(ctx, name, n, v) != CMK_OK) {
		snprintf(out, CMK_KID_MAX, "%s", name);
		return;
	}
	names_kid(cmk_ctx_vault(ctx), n, ver && *ver ? ver : v, out);
}

/* the end of create, rotate, import: the audit record names the new version */
static cmk_rc end_new_version(vault_op *o, const char *name, const char *version, cmk_rc rc)
{
	char kid[CMK_KID_MAX];
	audit_kid(o->ctx, name, version, kid);
	o->key = kid;
	return vault_op_end(o, rc);
}

static cmk_rc tags_check(const cmk_key_params *p)
{
	return p ? owner_check_tags(p->tags, p->ntags) : CMK_OK;
}

cmk_rc cmk_key_create(cmk_ctx *ctx, const char *name, const cmk_key_params *p,
		      char version[CMK_VERSION_LEN + 1])
{
	return_if_fail(ctx && name && version);
	version[0] = '\0';
	vault_op o = {
		.ctx = ctx, .op = "create", .perm = CMK_PERM_CREATE, .key = name, .change = 1
	};
	cmk_rc rc = tags_check(p);
	if (rc == CMK_OK && (rc = vault_op_begin(&o)) == CMK_OK)
		rc = cmk_key_create_impl(ctx, name, p, version);
	return end_new_version(&o, name, version, rc);
}

cmk_rc cmk_key_rotate(cmk_ctx *ctx, const char *name, const cmk_key_params *p,
		      char version[CMK_VERSION_LEN + 1])
{
	return_if_fail(ctx && name && version);
	version[0] = '\0';
	vault_op o = { .ctx = ctx,
		       .op = "rotate",
		       .perm = CMK_PERM_ROTATE,
		       .key = name,
		       .owned = name,
		       .change = 1 };
	cmk_rc rc = tags_check(p);
	if (rc == CMK_OK && (rc = vault_op_begin(&o)) == CMK_OK)
		rc = cmk_key_rotate_impl(ctx, name, p, version);
	return end_new_version(&o, name, version, rc);
}

cmk_rc cmk_key_import(cmk_ctx *ctx, const char *name, const uint8_t *pem, size_t len,
		      const cmk_key_params *p, char version[CMK_VERSION_LEN + 1])
{
	return_if_fail(ctx && name && pem && version);
	version[0] = '\0';
	vault_op o = { .ctx = ctx,
		       .op = "import",
		       .perm = CMK_PERM_CREATE,
		       .key = name,
		       .owned = name,
		       .change = 1 };
	cmk_rc rc = tags_check(p);
	if (rc == CMK_OK && (rc = vault_op_begin(&o)) == CMK_OK)
		rc = cmk_key_import_impl(ctx, name, pem, len, p, version);
	return end_new_version(&o, name, version, rc);
}
