/*
 * keyring.c - a resource's root key and the keys that wrap it.
 *
 * Service-managed:  keyring = wrapped-key record of the root key under the
 *                   vault key svc-NAME (RSA-OAEP-256).
 * Customer-managed: keyring = envelope under the CMK (context
 *                   cmk-resource=NAME, cmk-layer=customer) whose plaintext
 *                   is that same service-layer record: both keys are needed
 *                   (double encryption), and the CMK can revoke.
 *
 * Every change rewrites resource.json only; objects never change.  When a
 * resource first gets a CMK, svc-NAME is rotated and its older versions
 * disabled, so a copy of the old service-only keyring cannot bypass the CMK.
 *
 * Order of a key change (a kill at any instant leaves the old or the new
 * state readable, and a refused change changes nothing):
 *   1. checks, and a probe: seal and unseal under the CMK (nothing changed
 *      yet, so a key that cannot wrap or unwrap is refused here);
 *   2. first CMK only: rotate svc-NAME (adds a version; the old one, which
 *      the saved state depends on, stays enabled);
 *   3. wrap and seal the root key, check it opens again;
 *   4. commit: save resource.json, with "svc_retire" set when step 2 ran;
 *   5. disable the older svc-NAME versions and save again without the mark.
 * A kill between 4 and 5 leaves the mark: the next open under the lock
 * finishes step 5.  Nothing the current state depends on is disabled
 * before the state that no longer depends on it is saved.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "envelope/envelope.h"
#include "resource/resource.h"
#include "vault/audit.h"
#include "vault/owner.h"
#include "util/err.h"

#define LAYER_CONTEXT(name)                    \
	{                                      \
		{ "cmk-layer", "customer" },   \
		{                              \
			"cmk-resource", (name) \
		}                              \
	}

static void svc_name(const res_state *st, char out[CMK_NAME_MAX])
{
	snprintf(out, CMK_NAME_MAX, "svc-%s", st->name);
}

static int is_envelope(const res_state *st)
{
	return st->keyring_len >= 4 && memcmp(st->keyring, "CMKE", 4) == 0;
}

cmk_rc res_kctx(cmk_resource *r, const char *vault, cmk_ctx **kctx)
{
	if (!*vault || strcmp(vault, cmk_ctx_vault(r->ctx)) == 0) {
		*kctx = r->ctx;
		return CMK_OK;
	}
	if (r->kctx && strcmp(cmk_ctx_vault(r->kctx), vault) == 0) {
		*kctx = r->kctx;
		return CMK_OK;
	}
	cmk_close(r->kctx);
	r->kctx = NULL;
	cmk_rc rc = cmk_open(&r->kctx, r->config, vault, cmk_ctx_identity(r->ctx));
	if (rc != CMK_OK)
		return cmk_err_prefix(rc,
				      "resource %s: opening vault %s of its "
				      "customer-managed key",
				      r->st.name, vault);
	*kctx = r->kctx;
	return CMK_OK;
}

/* The root key wrapped under svc-NAME (its current version). */
static cmk_rc wrap_service(cmk_ctx *ctx, const res_state *st, const uint8_t *root, uint8_t **rec,
			   size_t *len, char kid[CMK_KID_MAX])
{
	char svc[CMK_NAME_MAX];
	size_t n = 2048;
	cmk_wrapped w;
	svc_name(st, svc);
	uint8_t *b = malloc(n);
	if (!b)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	cmk_rc rc = cmk_wrap(ctx, svc, CMK_ALG_RSA_OAEP_256, root, RES_ROOT_LEN, b, &n);
	if (rc == CMK_OK)
		rc = cmk_wrapped_parse(b, n, &w);
	if (rc != CMK_OK) {
		free(b);
		return cmk_err_prefix(rc, "resource %s: service-managed key", st->name);
	}
	snprintf(kid, CMK_KID_MAX, "%s", w.kid);
	*rec = b;
	*len = n;
	return CMK_OK;
}

/* The service-layer record sealed under the CMK. */
static cmk_rc seal_customer(cmk_ctx *kctx, const char *keyid, const res_state *st,
			    const char *propq, const uint8_t *rec, size_t len, uint8_t **ring,
			    size_t *rlen, char kid[CMK_KID_MAX])
{
	const char *keys[1] = { keyid };
	const cmk_kv kv[] = LAYER_CONTEXT(st->name);
	cmk_seal_params p = { .keyids = keys,
			      .nkeys = 1,
			      .context = kv,
			      .ncontext = 2,
			      .frame_size = 1024,
			      .propq = propq };
	cmk_sealer *s;
	cmk_rc rc = cmk_seal_init(kctx, &p, &s);
	if (rc == CMK_OK) {
		snprintf(kid, CMK_KID_MAX, "%s", cmk_seal_kid(s, 0));
		rc = env_seal_buf(s, rec, len, ring, rlen);
		cmk_seal_free(s);
	}
	if (rc != CMK_OK)
		return cmk_err_prefix(rc, "resource %s: customer-managed key %s", st->name, keyid);
	return CMK_OK;
}

static cmk_rc check_live(const cmk_resource *r)
{
	if (r->st.deleted_on)
		return cmk_err(CMK_E_DELETED,
			       "resource %s is deleted; recover it "
			       "first (cmk resource recover %s)",
			       r->st.name, r->st.name);
	return CMK_OK;
}

/* Open the keyring of `st`: the root key, through both layers. */
static cmk_rc open_keyring(cmk_resource *r, const res_state *st, uint8_t root[RES_ROOT_LEN])
{
	uint8_t *rec = st->keyring, *plain = NULL;
	size_t len = st->keyring_len, n = RES_ROOT_LEN;
	char kid[CMK_KID_MAX];
	cmk_rc rc = CMK_OK;

	if (is_envelope(st)) {
		cmk_ctx *kctx;
		const cmk_kv kv[] = LAYER_CONTEXT(st->name);
		cmk_unseal_params p = { .context = kv, .ncontext = 2, .propq = r->propq };
		CMK_TRY(res_kctx(r, st->cmk_vault, &kctx));
		if ((rc = cmk_unseal(kctx, &p, st->keyring, st->keyring_len, &plain, &len)) !=
		    CMK_OK)
			return cmk_err_prefix(rc,
					      "resource %s: customer-managed key "
					      "%s",
					      st->name, st->customer_kid);
		rec = plain;
	}
	rc = cmk_unwrap(r->ctx, rec, len, root, &n, kid);
	if (rc == CMK_OK && n != RES_ROOT_LEN)
		rc = cmk_err(CMK_E_FORMAT, "root key of %zu bytes", n);
	if (rc != CMK_OK) {
		cmk_wipe(root, RES_ROOT_LEN);
		rc = cmk_err_prefix(rc, "resource %s: service-managed key", st->name);
	}
	if (plain) {
		cmk_wipe(plain, len);
		free(plain);
	}
	return rc;
}

cmk_rc res_keyring_new(cmk_ctx *ctx, res_state *st, const uint8_t *root)
{
	CMK_TRY(wrap_service(ctx, st, root, &st->keyring, &st->keyring_len, st->service_kid));
	st->rewrapped = (int64_t)time(NULL);
	return CMK_OK;
}

/* Step 2: a new version of svc-NAME (nothing is disabled here). */
static cmk_rc rotate_service(cmk_ctx *ctx, const res_state *st)
{
	char svc[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1];
	svc_name(st, svc);
	cmk_rc rc = cmk_key_rotate(ctx, svc, NULL, ver);
	if (rc != CMK_OK)
		return cmk_err_prefix(rc, "resource %s: rotating %s", st->name, svc);
	return CMK_OK;
}

/* Step 5: disable every svc-NAME version but the one the saved state uses,
 * then clear the mark.  Caller holds the lock; r->st is the saved state. */
static cmk_rc retire_service(cmk_resource *r)
{
	res_state *st = &r->st;
	char svc[CMK_NAME_MAX], v[64], n[CMK_NAME_MAX], keep[CMK_VERSION_LEN + 1];
	cmk_version_info *vi = NULL;
	size_t nv = 0;
	if (!st->svc_retire)
		return CMK_OK;
	svc_name(st, svc);
	cmk_rc rc = cmk_kid_parse(st->service_kid, v, n, keep);
	if (rc == CMK_OK)
		rc = cmk_key_versions(r->ctx, svc, 0, &vi, &nv);
	for (size_t i = 0; rc == CMK_OK && i < nv; i++)
		if (strcmp(vi[i].version, keep) != 0 && vi[i].enabled)
			rc = cmk_key_set_enabled(r->ctx, svc, vi[i].version, 0);
	cmk_free(vi);
	if (rc == CMK_OK) {
		st->svc_retire = 0;
		rc = res_state_save(r->dir, st);
	}
	if (rc != CMK_OK)
		return cmk_err_prefix(rc,
				      "resource %s: disabling the older versions "
				      "of %s",
				      st->name, svc);
	return CMK_OK;
}

/* Resources made before keys carried their owner: mark svc-NAME now
 * (under the lock, on a change; read paths leave the token alone). */
static cmk_rc mark_service(cmk_resource *r)
{
	char svc[CMK_NAME_MAX];
	cmk_version_info *vi = NULL;
	size_t nv = 0;
	svc_name(&r->st, svc);
	cmk_rc rc = cmk_key_versions(r->ctx, svc, 0, &vi, &nv);
	if (rc != CMK_OK || !nv)
		return rc == CMK_OK ? CMK_OK : cmk_err_prefix(rc, "resource %s", r->st.name);
	int marked = 0;
	for (size_t i = 0; i < nv; i++)
		for (size_t t = 0; t < vi[i].ntags; t++)
			marked |= strcmp(vi[i].tags[t].key, OWNER_TAG) == 0;
	cmk_version_info *last = &vi[nv - 1];
	if (!marked && last->ntags < CMK_TAGS_MAX) {
		cmk_tag tags[CMK_TAGS_MAX];
		memcpy(tags, last->tags, last->ntags * sizeof *tags);
		snprintf(tags[last->ntags].key, sizeof tags[0].key, "%s", OWNER_TAG);
		snprintf(tags[last->ntags].value, sizeof tags[0].value, "%s", r->st.name);
		cmk_key_update u = { .set_tags = 1, .tags = tags, .ntags = last->ntags + 1 };
		rc = cmk_key_update_attrs(r->ctx, svc, last->version, &u);
	}
	cmk_free(vi);
	return rc;
}

/* Step 1's probe: the CMK seals and unseals now (it is usable for wrap
 * and unwrap by this identity).  Changes nothing. */
static cmk_rc probe_customer(cmk_resource *r, cmk_ctx *kctx, const char *keyid)
{
	static const uint8_t probe[] = "cmk resource set-key probe";
	const cmk_kv kv[] = LAYER_CONTEXT(r->st.name);
	cmk_unseal_params p = { .context = kv, .ncontext = 2, .propq = r->propq };
	uint8_t *ring = NULL, *back = NULL;
	size_t ringlen = 0, backlen = 0;
	char kid[CMK_KID_MAX];
	cmk_rc rc = seal_customer(kctx, keyid, &r->st, r->propq, probe, sizeof probe, &ring,
				  &ringlen, kid);
	if (rc == CMK_OK && (rc = cmk_unseal(kctx, &p, ring, ringlen, &back, &backlen)) != CMK_OK)
		rc = cmk_err_prefix(rc,
				    "resource %s: customer-managed key %s "
				    "cannot unwrap",
				    r->st.name, kid);
	free(ring);
	free(back);
	return rc;
}

/*
 * Re-wrap `root` for the state `st` under the service key and, when
 * customer_key is not NULL, the CMK; then save.  Caller holds the lock.
 */
static cmk_rc rewrap(cmk_resource *r, const uint8_t root[RES_ROOT_LEN], const char *customer_key,
		     const char *cmk_vault)
{
	res_state *st = &r->st;
	uint8_t *rec = NULL, *ring = NULL, *back = NULL;
	size_t reclen = 0, ringlen = 0, backlen = 0;
	char svc_kid[CMK_KID_MAX], cust_kid[CMK_KID_MAX] = "";
	cmk_rc rc;

	int rotate = customer_key && !st->customer_key[0];
	if (rotate && (rc = rotate_service(r->ctx, st)) != CMK_OK)
		return rc;
	if ((rc = wrap_service(r->ctx, st, root, &rec, &reclen, svc_kid)) != CMK_OK)
		return rc;
	if (customer_key) {
		cmk_ctx *kctx;
		const cmk_kv kv[] = LAYER_CONTEXT(st->name);
		cmk_unseal_params p = { .context = kv, .ncontext = 2, .propq = r->propq };
		if ((rc = res_kctx(r, cmk_vault, &kctx)) != CMK_OK ||
		    (rc = seal_customer(kctx, customer_key, st, r->propq, rec, reclen, &ring,
					&ringlen, cust_kid)) != CMK_OK)
			goto out;
		/* Prove the CMK unwraps too before depending on it. */
		if ((rc = cmk_unseal(kctx, &p, ring, ringlen, &back, &backlen)) != CMK_OK) {
			rc = cmk_err_prefix(rc,
					    "resource %s: customer-managed key %s "
					    "cannot unwrap",
					    st->name, cust_kid);
			goto out;
		}
		if (backlen != reclen || memcmp(back, rec, reclen) != 0) {
			rc = cmk_err(CMK_E_INTERNAL,
				     "resource %s: the root key did not "
				     "round-trip through %s",
				     st->name, cust_kid);
			goto out;
		}
		free(rec);
		rec = NULL;
	} else {
		ring = rec;
		ringlen = reclen;
		rec = NULL;
	}
	if (r->cache) {
		dekcache_forget_key(r->cache, st->customer_kid);
		dekcache_forget_key(r->cache, st->service_kid);
	}
	res_state nst = *st;
	nst.keyring = ring;
	nst.keyring_len = ringlen;
	snprintf(nst.service_kid, sizeof nst.service_kid, "%s", svc_kid);
	snprintf(nst.customer_key, sizeof nst.customer_key, "%s", customer_key ? customer_key : "");
	snprintf(nst.customer_kid, sizeof nst.customer_kid, "%s", cust_kid);
	if (customer_key)
		snprintf(nst.cmk_vault, sizeof nst.cmk_vault, "%s", cmk_vault);
	nst.rewrapped = (int64_t)time(NULL);
	nst.svc_retire = st->svc_retire || rotate;
	if ((rc = res_state_save(r->dir, &nst)) == CMK_OK) {
		free(st->keyring);
		*st = nst;
		ring = NULL;
		/* committed; a failure from here on is finished by a later open */
		(void)retire_service(r);
	}
out:
	free(rec);
	free(ring);
	if (back) {
		cmk_wipe(back, backlen);
		free(back);
	}
	return rc;
}

/* Whether a versionless CMK has a new current version; *cur gets it.
 * When the key has no current version (every enabled version expired or
 * not yet valid), *none is set and nothing moves: the version in use
 * keeps unwrapping the root key, so expiry never strands data. */
static cmk_rc current_moved(cmk_resource *r, int *moved, int *none, char cur[CMK_KID_MAX])
{
	char v[64], name[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1];
	cmk_ctx *kctx;
	cmk_key *k;
	*moved = 0;
	*none = 0;
	if (!r->st.customer_key[0] || cmk_kid_parse(r->st.customer_key, v, name, ver) != CMK_OK ||
	    ver[0])
		return CMK_OK;
	CMK_TRY(res_kctx(r, r->st.cmk_vault, &kctx));
	cmk_rc rc = cmk_key_open(kctx, r->st.customer_key, &k);
	if (rc == CMK_E_NOT_VALID) {
		*none = 1;
		return CMK_OK;
	}
	if (rc != CMK_OK)
		return cmk_err_prefix(rc, "resource %s: customer-managed key", r->st.name);
	snprintf(cur, CMK_KID_MAX, "%s", cmk_key_kid(k));
	cmk_key_close(k);
	*moved = strcmp(cur, r->st.customer_kid) != 0;
	return CMK_OK;
}

/* Under the lock: follow a versionless CMK to its current version. */
static cmk_rc follow_rotation(cmk_resource *r, uint8_t root[RES_ROOT_LEN], int *changed, int *none)
{
	char cur[CMK_KID_MAX];
	int moved;
	*changed = 0;
	CMK_TRY(res_lock(r));
	cmk_rc rc = current_moved(r, &moved, none, cur);
	if (rc == CMK_OK)
		rc = open_keyring(r, &r->st, root);
	/* finish an interrupted key change (step 5) */
	if (rc == CMK_OK && r->st.svc_retire)
		(void)retire_service(r);
	if (rc == CMK_OK && moved) {
		char key[CMK_KID_MAX], vault[64];
		snprintf(key, sizeof key, "%s", r->st.customer_key);
		snprintf(vault, sizeof vault, "%s", r->st.cmk_vault);
		rc = rewrap(r, root, key, vault);
		*changed = rc == CMK_OK;
	}
	res_unlock(r);
	if (rc != CMK_OK)
		cmk_wipe(root, RES_ROOT_LEN);
	return rc;
}

cmk_rc res_audit(cmk_resource *r, const char *op, cmk_rc rc)
{
	rc = audit_op(r->ctx, op, NULL, rc);
	owner_act_end();
	return rc;
}

cmk_rc res_root_key(cmk_resource *r, uint8_t root[RES_ROOT_LEN])
{
	char kid[CMK_KID_MAX];
	int changed, none;
	/* Pick up changes made by other processes. */
	res_state st;
	CMK_TRY(res_state_load(r->dir, &st));
	res_state_clear(&r->st);
	r->st = st;
	CMK_TRY(check_live(r));
	if (r->cache &&
	    dekcache_get(r->cache, r->st.keyring, r->st.keyring_len, root, RES_ROOT_LEN, kid))
		return CMK_OK;
	CMK_TRY(follow_rotation(r, root, &changed, &none));
	if (r->cache)
		dekcache_put(r->cache, r->st.keyring, r->st.keyring_len, root, RES_ROOT_LEN,
			     r->st.customer_kid[0] ? r->st.customer_kid : r->st.service_kid);
	return CMK_OK;
}

cmk_rc cmk_resource_refresh(cmk_resource *r, int *changed)
{
	uint8_t *root = cmk_secure_alloc(RES_ROOT_LEN);
	int ch = 0, none = 0;
	return_if_fail(r);
	if (!root)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	RES_ACT(r);
	cmk_rc rc = res_lock(r);
	if (rc == CMK_OK) {
		if ((rc = check_live(r)) == CMK_OK)
			rc = mark_service(r);
		res_unlock(r);
	}
	if (rc == CMK_OK)
		rc = follow_rotation(r, root, &ch, &none);
	cmk_secure_free(root, RES_ROOT_LEN);
	if (changed)
		*changed = ch;
	return res_audit(r, "resource-refresh", rc);
}

/* The checks a CMK must pass (docs/semantics.md §4). */
static cmk_rc check_cmk(cmk_resource *r, cmk_ctx *kctx, const char *keyid, const char *vault)
{
	cmk_vault_info vi;
	cmk_policy pol;
	cmk_key *k;
	const char *name = r->st.name;

	if (r->st.cmk_vault[0] && strcmp(r->st.cmk_vault, vault) != 0)
		return cmk_err(CMK_E_USAGE,
			       "resource %s: key %s is in vault %s, "
			       "but the resource's customer-managed keys must stay "
			       "in vault %s",
			       name, keyid, vault, r->st.cmk_vault);
	/* The resource's identity's permissions first (reading policies needs
	 * none): the refusal prints the exact grant to give.  The wrap and
	 * unwrap that follow check them on every path anyway. */
	const char *who = r->st.identity[0] ? r->st.identity : cmk_ctx_identity(kctx);
	const unsigned need = CMK_PERM_GET | CMK_PERM_WRAP | CMK_PERM_UNWRAP;
	cmk_rc rc = cmk_policy_get(kctx, who, &pol);
	if (rc == CMK_E_NOT_FOUND) {
		pol.perms = 0;
		rc = CMK_OK;
	}
	if (rc == CMK_OK && (pol.perms & need) != need) {
		char have[256], want[256];
		cmk_perms_format(pol.perms, have, sizeof have);
		cmk_perms_format(pol.perms | need, want, sizeof want);
		return cmk_err(CMK_E_ACCESS_DENIED,
			       "resource %s: identity %s needs "
			       "get, wrapKey and unwrapKey on key %s (it has: %s); "
			       "grant them with: cmk --vault %s policy set %s %s",
			       name, who, keyid, *have ? have : "none", vault, who, want);
	}
	rc = cmk_key_open(kctx, keyid, &k);
	if (rc != CMK_OK)
		return cmk_err_prefix(rc, "resource %s", name);
	unsigned bits = cmk_key_bits(k), ops = cmk_key_ops(k);
	char kid[CMK_KID_MAX];
	snprintf(kid, sizeof kid, "%s", cmk_key_kid(k));
	cmk_key_close(k);
	if (bits != 2048)
		return cmk_err(CMK_E_USAGE,
			       "resource %s: key %s is RSA %u; a "
			       "resource accepts only RSA 2048 keys",
			       name, kid, bits);
	if ((ops & (CMK_OP_WRAP | CMK_OP_UNWRAP)) != (CMK_OP_WRAP | CMK_OP_UNWRAP))
		return cmk_err(CMK_E_OP_NOT_ALLOWED,
			       "resource %s: key %s does not "
			       "allow wrapKey and unwrapKey",
			       name, kid);
	if ((rc = cmk_vault_info_get(kctx, &vi)) != CMK_OK)
		return cmk_err_prefix(rc, "resource %s", name);
	if (!vi.purge_protection)
		return cmk_err(CMK_E_USAGE,
			       "resource %s: vault %s does not have "
			       "purge protection on; a customer-managed key must "
			       "live in a vault with purge protection (cmk vault set "
			       "--purge-protection on)",
			       name, vault);
	return CMK_OK;
}

cmk_rc res_full_keyid(const cmk_resource *r, const char *keyid, char out[CMK_KID_MAX])
{
	char vault[64], name[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1];
	if (strncmp(keyid, "cmk://", 6) == 0) {
		if (cmk_kid_parse(keyid, vault, name, ver) != CMK_OK)
			return cmk_err(CMK_E_USAGE,
				       "resource %s: '%s' is not a key id "
				       "cmk://VAULT/keys/NAME[/VERSION]",
				       r->st.name, keyid);
		snprintf(out, CMK_KID_MAX, "%s", keyid);
		return CMK_OK;
	}
	/* NAME or NAME/VERSION: in the vault of the resource's CMKs, else
	 * the resource's own vault */
	const char *v = r->st.cmk_vault[0] ? r->st.cmk_vault : r->st.vault;
	int n = snprintf(out, CMK_KID_MAX, "cmk://%s/keys/%s", v, keyid);
	if (n < 0 || n >= CMK_KID_MAX || strchr(keyid, ':') ||
	    cmk_kid_parse(out, vault, name, ver) != CMK_OK)
		return cmk_err(CMK_E_USAGE,
			       "resource %s: '%s' is not a key: give "
			       "NAME, NAME/VERSION or cmk://VAULT/keys/NAME[/VERSION]",
			       r->st.name, keyid);
	return CMK_OK;
}

cmk_rc res_precheck_cmk(cmk_resource *r, const char *keyid)
{
	char vault[64], name[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1];
	cmk_ctx *kctx;
	CMK_TRY(cmk_kid_parse(keyid, vault, name, ver));
	CMK_TRY(res_kctx(r, vault, &kctx));
	CMK_TRY(check_cmk(r, kctx, keyid, vault));
	return probe_customer(r, kctx, keyid);
}

cmk_rc cmk_resource_set_key(cmk_resource *r, const char *keyarg)
{
	char vault[64], name[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1];
	char keyid[CMK_KID_MAX];
	cmk_ctx *kctx;
	return_if_fail(r && keyarg);
	CMK_TRY(res_full_keyid(r, keyarg, keyid));
	CMK_TRY(cmk_kid_parse(keyid, vault, name, ver));
	uint8_t *root = cmk_secure_alloc(RES_ROOT_LEN);
	if (!root)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	RES_ACT(r);
	cmk_rc rc = res_lock(r);
	if (rc != CMK_OK)
		goto out;
	if ((rc = check_live(r)) != CMK_OK) {
		res_unlock(r);
		goto out;
	}
	if (r->st.key_fixed && !r->st.customer_key[0] && !r->creating) {
		rc = cmk_err(CMK_E_OP_NOT_ALLOWED,
			     "resource %s has fixed key "
			     "management and was made service-managed: it cannot "
			     "switch to a customer-managed key",
			     r->st.name);
		res_unlock(r);
		goto out;
	}
	if (r->st.svc_retire)
		(void)retire_service(r);
	int moved = 0, none = 0;
	char cur[CMK_KID_MAX];
	if (strcmp(keyid, r->st.customer_key) == 0 &&
	    (rc = current_moved(r, &moved, &none, cur)) == CMK_OK && none) {
		/* the same versionless key, which has no current version: the
		 * version in use stays, nothing to re-wrap */
		res_unlock(r);
		goto out;
	}
	if (rc == CMK_OK && (rc = res_kctx(r, vault, &kctx)) == CMK_OK &&
	    (rc = check_cmk(r, kctx, keyid, vault)) == CMK_OK &&
	    (rc = probe_customer(r, kctx, keyid)) == CMK_OK &&
	    (rc = open_keyring(r, &r->st, root)) == CMK_OK && (rc = mark_service(r)) == CMK_OK)
		rc = rewrap(r, root, keyid, vault);
	res_unlock(r);
out:
	cmk_secure_free(root, RES_ROOT_LEN);
	return res_audit(r, "resource-set-key", rc);
}

cmk_rc cmk_resource_set_service_managed(cmk_resource *r)
{
	return_if_fail(r);
	uint8_t *root = cmk_secure_alloc(RES_ROOT_LEN);
	if (!root)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	RES_ACT(r);
	cmk_rc rc = res_lock(r);
	if (rc == CMK_OK && (rc = check_live(r)) != CMK_OK)
		res_unlock(r);
	else if (rc == CMK_OK && r->st.key_fixed && r->st.customer_key[0]) {
		rc = cmk_err(CMK_E_OP_NOT_ALLOWED,
			     "resource %s has fixed key "
			     "management and was made customer-managed: it cannot "
			     "go back to the service-managed key alone (another "
			     "customer-managed key in vault %s may be set)",
			     r->st.name, r->st.cmk_vault);
		res_unlock(r);
	} else if (rc == CMK_OK) {
		if (r->st.svc_retire)
			(void)retire_service(r);
		if ((rc = open_keyring(r, &r->st, root)) == CMK_OK &&
		    (rc = mark_service(r)) == CMK_OK)
			rc = rewrap(r, root, NULL, NULL);
		res_unlock(r);
	}
	cmk_secure_free(root, RES_ROOT_LEN);
	return res_audit(r, "resource-set-key", rc);
}
