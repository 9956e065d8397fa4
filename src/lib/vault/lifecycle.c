/* lifecycle.c - enable, disable, attribute changes, soft delete, recover
 * and purge, each committed by writing exactly one record.
 *
 * The token's CKA_DECRYPT/CKA_UNWRAP/CKA_SIGN follow the metadata.  Flags
 * that go down are lowered before the commit and flags that go up are
 * raised after it, so a kill at any point leaves the token at least as
 * strict as the metadata before or after; keys_reconcile() finishes the
 * job on the next change (docs/design.md). */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "vault/audit.h"
#include "vault/keys.h"
#include "vault/owner.h"
#include "vault/policy.h"
#include "util/err.h"

static cmk_rc set_version_flags(cmk_ctx *ctx, const meta_version *v, p11_rsa_flags f)
{
	uint8_t id[P11_ID_LEN];
	names_unhex(v->ver, id, sizeof id);
	cmk_rc rc = p11_rsa_set_flags(ctx->tok, id, f, NULL);
	if (rc == CMK_E_NOT_FOUND)
		return cmk_err(CMK_E_INTEGRITY, "%s: version %s/%s has a record but no private key on the token",
		               CTX_WHAT(ctx), v->name, v->ver);
	return rc;
}

static int flags_eq(p11_rsa_flags a, p11_rsa_flags b)
{
	return a.decrypt == b.decrypt && a.sign == b.sign;
}

cmk_rc keys_reconcile(cmk_ctx *ctx, key_state *st)
{
	for (size_t i = 0; i < st->nv; i++)
		CMK_TRY(set_version_flags(ctx, &st->v[i], keys_token_flags(st, &st->v[i])));
	return CMK_OK;
}

cmk_rc keys_commit(cmk_ctx *ctx, key_state *st, const meta_keystate *ks, const meta_version *v)
{
	key_state after = *st;
	meta_version *vs = malloc(st->nv * sizeof *vs);
	if (!vs)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	memcpy(vs, st->v, st->nv * sizeof *vs);
	after.v = vs;
	if (ks)
		after.ks = *ks;
	meta_version *target = v ? keys_find_version(&after, v->ver) : NULL;
	if (target)
		*target = *v;

	cmk_rc rc = CMK_OK;
	/* 1. lower */
	for (size_t i = 0; i < st->nv && rc == CMK_OK; i++) {
		p11_rsa_flags a = keys_token_flags(st, &st->v[i]);
		p11_rsa_flags b = keys_token_flags(&after, &vs[i]);
		p11_rsa_flags low = { a.decrypt && b.decrypt, a.sign && b.sign };
		if (!flags_eq(low, a))
			rc = set_version_flags(ctx, &st->v[i], low);
	}
	/* 2. commit: one new record */
	char app[CMK_NAME_MAX + 16], label[CMK_NAME_MAX + 80];
	snprintf(app, sizeof app, META_APP_KEY_PREFIX "%s", st->name);
	CK_OBJECT_HANDLE old = CK_INVALID_HANDLE;
	if (rc == CMK_OK && ks) {
		meta_keystate n = *ks;
		snprintf(n.name, sizeof n.name, "%s", st->name);
		n.gen = st->ks.gen + 1;
		old = st->ks.gen ? st->ks.h : CK_INVALID_HANDLE;
		snprintf(label, sizeof label, "cmk %s #%llu", st->name, (unsigned long long)n.gen);
		rc = meta_write(ctx, app, label, meta_encode_keystate(&n), NULL);
	} else if (rc == CMK_OK && target) {
		meta_version n = *v;
		const meta_version *prev = keys_find_version(st, v->ver);
		n.gen = prev->gen + 1;
		n.updated = meta_now_us();
		old = prev->h;
		snprintf(label, sizeof label, "cmk %s/%s #%llu", st->name, n.ver, (unsigned long long)n.gen);
		rc = meta_write(ctx, app, label, meta_encode_version(&n), NULL);
	}
	/* 3. raise */
	for (size_t i = 0; i < st->nv && rc == CMK_OK; i++) {
		p11_rsa_flags b = keys_token_flags(&after, &vs[i]);
		if (!flags_eq(b, keys_token_flags(st, &st->v[i])))
			rc = set_version_flags(ctx, &vs[i], b);
	}
	/* 4. clean up what the new record superseded (best effort: readers
	 * ignore lower generations anyway) */
	if (rc == CMK_OK) {
		if (old != CK_INVALID_HANDLE)
			p11_destroy(ctx->tok, old);
		for (size_t i = 0; i < st->nstale; i++)
			p11_destroy(ctx->tok, st->stale[i]);
	}
	free(vs);
	return rc;
}

/* Load a live key and, for NAME/VERSION, the version. */
static cmk_rc load_target(cmk_ctx *ctx, const char *id, const char *version, key_state *st,
                          meta_version **v)
{
	char name[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1];
	CMK_TRY(names_resolve(ctx, id, name, ver));
	if (version && *version) {
		if (!names_version_valid(version))
			return cmk_err(CMK_E_USAGE, "version '%s' is not 32 lowercase hex characters", version);
		snprintf(ver, sizeof ver, "%s", version);
	}
	CMK_TRY(keys_load_live(ctx, name, st));
	*v = NULL;
	if (ver[0] && !(*v = keys_find_version(st, ver))) {
		key_state_free(st);
		return cmk_err(CMK_E_NOT_FOUND, "key cmk://%s/keys/%s has no version %s",
		               cmk_ctx_vault(ctx), name, ver);
	}
	return CMK_OK;
}

static cmk_rc cmk_key_set_enabled_impl(cmk_ctx *ctx, const char *name, const char *version, int enabled)
{
	return_if_fail(ctx && name);
	key_state st;
	meta_version *v;
	CMK_TRY(load_target(ctx, name, version, &st, &v));
	cmk_rc rc;
	if (v) {
		meta_version n = *v;
		n.enabled = enabled != 0;
		rc = keys_commit(ctx, &st, NULL, &n);
	} else {
		meta_keystate ks = st.ks;
		ks.enabled = enabled != 0;
		rc = keys_commit(ctx, &st, &ks, NULL);
	}
	key_state_free(&st);
	return rc;
}

static cmk_rc cmk_key_update_attrs_impl(cmk_ctx *ctx, const char *name, const char *version,
                            const cmk_key_update *u)
{
	return_if_fail(ctx && name && u);
	if (u->set_ops && (!u->ops || (u->ops & ~(unsigned)CMK_OP_ALL)))
		return cmk_err(CMK_E_USAGE, "key-ops must name at least one known operation");
	if (u->set_tags && u->ntags > CMK_TAGS_MAX)
		return cmk_err(CMK_E_USAGE, "at most %d tags", CMK_TAGS_MAX);
	key_state st;
	meta_version *v;
	CMK_TRY(load_target(ctx, name, version, &st, &v));
	/* NAME alone changes its newest version */
	if (!v)
		v = &st.v[st.nv - 1];
	meta_version n = *v;
	if (u->set_ops)
		n.ops = u->ops;
	if (u->set_not_before)
		n.not_before = u->not_before;
	if (u->set_expires)
		n.expires = u->expires;
	if (u->set_tags) {
		n.ntags = u->ntags;
		for (size_t i = 0; i < u->ntags; i++)
			n.tags[i] = u->tags[i];
	}
	cmk_rc rc = CMK_OK;
	if (n.not_before && n.expires && n.expires <= n.not_before)
		rc = cmk_err(CMK_E_USAGE, "expires must be later than not-before");
	if (rc == CMK_OK)
		rc = keys_commit(ctx, &st, NULL, &n);
	key_state_free(&st);
	return rc;
}

/* ------------------------------------------------ soft delete and purge */

static cmk_rc cmk_key_delete_impl(cmk_ctx *ctx, const char *name)
{
	return_if_fail(ctx && name);
	meta_vault vr;
	CMK_TRY(ctx_vault_record(ctx, &vr));
	key_state st;
	meta_version *v;
	CMK_TRY(load_target(ctx, name, NULL, &st, &v));
	meta_keystate ks = st.ks;
	ks.deleted_on = (int64_t)time(NULL);
	ks.purge_on = ks.deleted_on + (int64_t)vr.retention_days * 86400;
	cmk_rc rc = keys_commit(ctx, &st, &ks, NULL);
	key_state_free(&st);
	return rc;
}

static cmk_rc load_deleted(cmk_ctx *ctx, const char *id, key_state *st)
{
	char name[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1];
	CMK_TRY(names_resolve(ctx, id, name, ver));
	CMK_TRY(keys_load(ctx, name, st));
	if (!st->ks.deleted_on) {
		key_state_free(st);
		return cmk_err(CMK_E_NOT_FOUND, "key cmk://%s/keys/%s is not deleted", cmk_ctx_vault(ctx), name);
	}
	return CMK_OK;
}

static cmk_rc cmk_key_recover_impl(cmk_ctx *ctx, const char *name)
{
	return_if_fail(ctx && name);
	key_state st;
	CMK_TRY(load_deleted(ctx, name, &st));
	meta_keystate ks = st.ks;
	ks.deleted_on = ks.purge_on = 0;
	cmk_rc rc = keys_commit(ctx, &st, &ks, NULL);
	key_state_free(&st);
	return rc;
}

/* Destroy every object of a key whose purge is committed: key pairs
 * first, records last, so an interrupted purge is found and finished. */
cmk_rc keys_purge_objects(cmk_ctx *ctx, const char *name)
{
	char app[CMK_NAME_MAX + 16];
	snprintf(app, sizeof app, META_APP_KEY_PREFIX "%s", name);
	p11_data *d;
	size_t n;
	CMK_TRY(p11_data_find(ctx->tok, app, &d, &n));
	cmk_rc rc = CMK_OK;
	for (size_t i = 0; i < n && rc == CMK_OK; i++) {
		meta_kind kind;
		meta_version v;
		const uint8_t *json;
		size_t jlen;
		/* a record failing authentication still names a key pair of
		 * this key only if it decodes; purge what decodes */
		if (meta_open(ctx, &d[i], &json, &jlen) != CMK_OK ||
		    meta_decode(json, jlen, &kind, NULL, &v, NULL) != CMK_OK || kind != META_VERSION)
			continue;
		uint8_t id[P11_ID_LEN];
		CK_OBJECT_HANDLE priv, pub;
		names_unhex(v.ver, id, sizeof id);
		rc = p11_rsa_find(ctx->tok, id, &priv, &pub);
		if (rc == CMK_OK && priv != CK_INVALID_HANDLE)
			rc = p11_destroy(ctx->tok, priv);
		if (rc == CMK_OK && pub != CK_INVALID_HANDLE)
			rc = p11_destroy(ctx->tok, pub);
	}
	for (size_t i = 0; i < n && rc == CMK_OK; i++)
		rc = p11_destroy(ctx->tok, d[i].h);
	p11_data_free(d, n);
	return rc;
}

static cmk_rc cmk_key_purge_impl(cmk_ctx *ctx, const char *name)
{
	return_if_fail(ctx && name);
	meta_vault vr;
	CMK_TRY(ctx_vault_record(ctx, &vr));
	key_state st;
	CMK_TRY(load_deleted(ctx, name, &st));
	int64_t now = (int64_t)time(NULL);
	cmk_rc rc = CMK_OK;
	if (vr.purge_protection && now < st.ks.purge_on) {
		char when[32];
		time_t t = (time_t)st.ks.purge_on;
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
		rc = cmk_err(CMK_E_PURGE_PROTECTED,
		             "key cmk://%s/keys/%s cannot be purged before %s: the vault has purge protection on",
		             cmk_ctx_vault(ctx), st.name, when);
	}
	if (rc == CMK_OK) {
		meta_keystate ks = st.ks;
		ks.purging = 1;
		rc = keys_commit(ctx, &st, &ks, NULL);
	}
	char kname[CMK_NAME_MAX];
	snprintf(kname, sizeof kname, "%s", st.name);
	key_state_free(&st);
	if (rc == CMK_OK)
		rc = keys_purge_objects(ctx, kname);
	return rc;
}

/* ---------------------------------------------------------- public calls */

static const char *audit_name(cmk_ctx *ctx, const char *name, const char *version,
                              char out[CMK_KID_MAX])
{
	char n[CMK_NAME_MAX], v[CMK_VERSION_LEN + 1];
	if (names_resolve(ctx, name, n, v) != CMK_OK)
		snprintf(out, CMK_KID_MAX, "%s", name);
	else
		names_kid(cmk_ctx_vault(ctx), n, version && *version ? version : v, out);
	return out;
}

cmk_rc cmk_key_set_enabled(cmk_ctx *ctx, const char *name, const char *version, int enabled)
{
	return_if_fail(ctx && name);
	char kid[CMK_KID_MAX];
	audit_name(ctx, name, version, kid);
	OWNER_GUARD(ctx, name, enabled ? "enable" : "disable", kid);
	VAULT_OP(ctx, CMK_PERM_UPDATE, enabled ? "enable" : "disable", kid, 1,
	         cmk_key_set_enabled_impl(ctx, name, version, enabled), kid);
}

cmk_rc cmk_key_update_attrs(cmk_ctx *ctx, const char *name, const char *version,
                            const cmk_key_update *u)
{
	return_if_fail(ctx && name && u);
	char kid[CMK_KID_MAX];
	audit_name(ctx, name, version, kid);
	OWNER_GUARD(ctx, name, "update", kid);
	if (u->set_tags && owner_check_tags(u->tags, u->ntags) != CMK_OK)
		return audit_op(ctx, "update", kid, CMK_E_USAGE);
	VAULT_OP(ctx, CMK_PERM_UPDATE, "update", kid, 1,
	         cmk_key_update_attrs_impl(ctx, name, version, u), kid);
}

cmk_rc cmk_key_delete(cmk_ctx *ctx, const char *name)
{
	return_if_fail(ctx && name);
	char kid[CMK_KID_MAX];
	audit_name(ctx, name, NULL, kid);
	OWNER_GUARD(ctx, name, "delete", kid);
	VAULT_OP(ctx, CMK_PERM_DELETE, "delete", kid, 1, cmk_key_delete_impl(ctx, name), kid);
}

cmk_rc cmk_key_recover(cmk_ctx *ctx, const char *name)
{
	return_if_fail(ctx && name);
	char kid[CMK_KID_MAX];
	audit_name(ctx, name, NULL, kid);
	OWNER_GUARD(ctx, name, "recover", kid);
	VAULT_OP(ctx, CMK_PERM_RECOVER, "recover", kid, 1, cmk_key_recover_impl(ctx, name), kid);
}

cmk_rc cmk_key_purge(cmk_ctx *ctx, const char *name)
{
	return_if_fail(ctx && name);
	char kid[CMK_KID_MAX];
	audit_name(ctx, name, NULL, kid);
	OWNER_GUARD(ctx, name, "purge", kid);
	VAULT_OP(ctx, CMK_PERM_PURGE, "purge", kid, 1, cmk_key_purge_impl(ctx, name), kid);
}

/* Purges whose records were committed but whose objects remain (a kill
 * during purge): finish them.  Called by the sweep. */
cmk_rc keys_finish_purges(cmk_ctx *ctx, size_t *count)
{
	p11_data *d;
	size_t n;
	CMK_TRY(p11_data_find(ctx->tok, NULL, &d, &n));
	size_t plen = strlen(META_APP_KEY_PREFIX);
	cmk_rc rc = CMK_OK;
	for (size_t i = 0; i < n && rc == CMK_OK; i++) {
		if (strncmp(d[i].app, META_APP_KEY_PREFIX, plen) != 0)
			continue;
		key_state st;
		const char *name = d[i].app + plen;
		cmk_rc lrc = keys_load(ctx, name, &st);
		if (lrc == CMK_OK) {
			key_state_free(&st);
			continue;
		}
		if (lrc != CMK_E_NOT_FOUND)
			continue;
		/* records but no live view: a purge in progress, or orphans */
		rc = ctx_write_begin(ctx);
		if (rc == CMK_OK) {
			rc = keys_purge_objects(ctx, name);
			ctx_write_end(ctx);
		}
		if (rc == CMK_OK)
			(*count)++;
		/* later entries of the same key are gone now */
		for (size_t j = i + 1; j < n; j++)
			if (strcmp(d[j].app, d[i].app) == 0)
				d[j].app[0] = '\0';
	}
	p11_data_free(d, n);
	return rc;
}
