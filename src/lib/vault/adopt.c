/* adopt.c - cmk_key_adopt(): an RSA key pair made on the vault's token by
 * another tool becomes a new key, or a new version of a key, with the
 * vault's lifecycle from then on.
 *
 * Only a pair whose private key is sensitive and non-extractable is taken.
 * The pair is copied under the version's id and the key's name with the
 * token flags of the version (C_CopyObject: the key never leaves the
 * token), the version record is written -- the commit point, as for
 * create and import -- and then the tool's objects are destroyed, so that
 * nothing but the vault can use the key any more (a disabled key must be
 * refused by the token).  A kill before the commit leaves an unreferenced
 * copy and the tool's pair as it was; after it, the adopted version and
 * possibly the tool's pair, which a second `adopt` would take again. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>
#include "vault/audit.h"
#include "vault/op.h"
#include "vault/keys.h"
#include "vault/policy.h"
#include "util/err.h"
#include "util/hex.h"

static cmk_rc adopt_impl(cmk_ctx *ctx, const char *name, const uint8_t *id, size_t idlen,
			 const char *label, const cmk_key_params *p,
			 char version[CMK_VERSION_LEN + 1])
{
	cmk_key_params defaults = { 0 };
	if (!p)
		p = &defaults;
	if (!names_key_valid(name))
		return cmk_err(CMK_E_USAGE,
			       "key name '%s' must be 1-127 characters of A-Z a-z 0-9 -", name);
	if (p->ops & ~(unsigned)CMK_OP_ALL || p->ntags > CMK_TAGS_MAX ||
	    (p->not_before && p->expires && p->expires <= p->not_before))
		return cmk_err(CMK_E_USAGE, "bad key parameters for key %s", name);
	char what[200], hex[2 * 64 + 1];
	if (id) {
		hex_encode(id, idlen > 64 ? 64 : idlen, hex);
		snprintf(what, sizeof what, "id %s", hex);
	} else {
		snprintf(what, sizeof what, "label '%s'", label);
	}
	p11_foreign f;
	CMK_TRY(p11_rsa_find_foreign(ctx->tok, id, idlen, label, what, &f));
	if (!f.sensitive || f.extractable)
		return cmk_err(
			CMK_E_USAGE,
			"the key pair with %s on token '%s' is %s: it may have been "
			"copied off the token, so the vault cannot vouch for it; only sensitive, "
			"non-extractable keys are adopted",
			what, p11_tok_label(ctx->tok),
			!f.sensitive && f.extractable ? "not sensitive and extractable"
			: !f.sensitive		      ? "not sensitive"
						      : "extractable");
	uint8_t *n = NULL, *e = NULL;
	size_t nlen = 0, elen = 0;
	cmk_rc rc = p11_rsa_public(ctx->tok, f.pub, &n, &nlen, &e, &elen);
	size_t lead = 0;
	while (rc == CMK_OK && lead < nlen && n[lead] == 0)
		lead++;
	unsigned bits = rc == CMK_OK ? (unsigned)(nlen - lead) * 8 : 0;
	free(n);
	free(e);
	CMK_TRY(rc);
	if (bits != 2048 && bits != 3072 && bits != 4096)
		return cmk_err(CMK_E_USAGE,
			       "the key pair with %s is RSA %u bit: cmk keys are 2048, 3072 "
			       "or 4096 bit",
			       what, bits);
	/* not a vault key already: a 16-byte id that a version of a key has */
	if (idlen == P11_ID_LEN || !id) {
		char vname[CMK_NAME_MAX], vhex[CMK_VERSION_LEN + 1];
		uint8_t *pid = NULL, *plabel = NULL;
		size_t pidlen = 0, plabellen = 0;
		if (p11_get_bytes(ctx->tok, f.priv, CKA_ID, &pid, &pidlen) == CMK_OK &&
		    p11_get_bytes(ctx->tok, f.priv, CKA_LABEL, &plabel, &plabellen) == CMK_OK &&
		    pidlen == P11_ID_LEN && plabellen < sizeof vname) {
			memcpy(vname, plabel, plabellen);
			vname[plabellen] = '\0';
			hex_encode(pid, pidlen, vhex);
			key_state ost;
			if (names_key_valid(vname) && keys_load(ctx, vname, &ost) == CMK_OK) {
				int mine = keys_find_version(&ost, vhex) != NULL;
				key_state_free(&ost);
				if (mine) {
					free(pid);
					free(plabel);
					return cmk_err(
						CMK_E_EXISTS,
						"the key pair with %s is already version %s of "
						"key cmk://%s/keys/%s",
						what, vhex, cmk_ctx_vault(ctx), vname);
				}
			}
		}
		free(pid);
		free(plabel);
	}

	key_state st;
	rc = keys_load(ctx, name, &st);
	int exists = rc == CMK_OK;
	if (rc != CMK_OK && rc != CMK_E_NOT_FOUND)
		return rc;
	if (exists && st.ks.deleted_on) {
		key_state_free(&st);
		return cmk_err(
			CMK_E_DELETED,
			"key cmk://%s/keys/%s is deleted; recover it before adopting a version",
			cmk_ctx_vault(ctx), name);
	}
	meta_version v;
	memset(&v, 0, sizeof v);
	v.bits = bits;
	v.ops = p->ops ? p->ops : CMK_OP_ALL;
	v.not_before = p->not_before;
	v.expires = p->expires;
	v.ntags = p->ntags;
	for (size_t i = 0; i < p->ntags; i++)
		v.tags[i] = p->tags[i];
	uint8_t vid[P11_ID_LEN];
	if (RAND_bytes(vid, sizeof vid) != 1) {
		if (exists)
			key_state_free(&st);
		return cmk_err(CMK_E_INTERNAL, "no randomness for a version id");
	}
	hex_encode(vid, sizeof vid, v.ver);
	snprintf(v.name, sizeof v.name, "%s", name);
	v.gen = 1;
	v.created = v.updated = meta_now_us();
	v.enabled = 1;
	v.imported = 1;
	for (size_t i = 0; exists && i < st.nv; i++)
		if (st.v[i].seq > v.seq)
			v.seq = st.v[i].seq;
	v.seq++;
	key_state fresh = { .ks = { .enabled = 1 } };
	p11_rsa_flags fl = keys_token_flags(exists ? &st : &fresh, &v);
	CK_OBJECT_HANDLE priv, pub, work = CK_INVALID_HANDLE;
	/* as new_version (keys.c): archive copy and public key, the working
	 * copy, then the record; objects no record names are never a version */
	rc = p11_rsa_adopt_copy(ctx->tok, &f, vid, name, &priv, &pub);
	if (rc == CMK_OK && (fl.decrypt || fl.sign)) {
		rc = p11_rsa_copy(ctx->tok, priv, vid, 0, fl, &work);
		if (rc != CMK_OK) {
			p11_destroy_undo(ctx->tok, priv);
			p11_destroy_undo(ctx->tok, pub);
		}
	}
	if (rc == CMK_OK) {
		char app[CMK_NAME_MAX + 16], rlabel[CMK_NAME_MAX + 64];
		snprintf(app, sizeof app, META_APP_KEY_PREFIX "%s", name);
		snprintf(rlabel, sizeof rlabel, "cmk %s/%s #1", name, v.ver);
		rc = meta_write(ctx, app, rlabel, meta_encode_version(&v), NULL);
		if (rc != CMK_OK) {
			if (work != CK_INVALID_HANDLE)
				p11_destroy_undo(ctx->tok, work);
			p11_destroy_undo(ctx->tok, priv);
			p11_destroy_undo(ctx->tok, pub);
		}
	}
	if (exists)
		key_state_free(&st);
	if (rc != CMK_OK)
		return cmk_err_prefix(rc, "key %s", name);
	/* committed: the tool's pair goes, the vault's copy is the key now */
	rc = p11_destroy(ctx->tok, f.priv);
	if (rc == CMK_OK)
		rc = p11_destroy(ctx->tok, f.pub);
	memcpy(version, v.ver, CMK_VERSION_LEN + 1);
	if (rc != CMK_OK)
		return cmk_err_prefix(rc,
				      "key cmk://%s/keys/%s/%s was adopted, but the original pair "
				      "with %s could not be destroyed (destroy it by hand)",
				      cmk_ctx_vault(ctx), name, v.ver, what);
	return CMK_OK;
}

cmk_rc cmk_key_adopt(cmk_ctx *ctx, const char *name, const uint8_t *id, size_t idlen,
		     const char *label, const cmk_key_params *p, char version[CMK_VERSION_LEN + 1])
{
	return_if_fail(ctx && name && version && (id ? idlen > 0 : label != NULL));
	char kid[CMK_KID_MAX];
	version[0] = '\0';
	vault_op o = {
		.ctx = ctx, .op = "adopt", .perm = CMK_PERM_CREATE, .key = name, .change = 1
	};
	cmk_rc rc = vault_op_begin(&o);
	if (rc == CMK_OK)
		rc = adopt_impl(ctx, name, id, idlen, label, p, version);
	names_kid(cmk_ctx_vault(ctx), name, version, kid);
	o.key = kid;
	return vault_op_end(&o, rc);
}
