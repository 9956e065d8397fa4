/*
 * envelope_vault.c - the public envelope API: data keys wrapped by vault
 * keys (cmk_wrap / cmk_unwrap), with an optional data-key cache.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "envelope/envelope.h"
#include "util/err.h"

/* Wrap the DEK under one key id into a new wrapped-key record. */
static cmk_rc wrap_one(cmk_ctx *ctx, const char *keyid, cmk_alg alg, const uint8_t dek[ENV_DEK_LEN],
		       uint8_t **rec, size_t *len, char **kid)
{
	size_t cap = 2048;
	uint8_t *b = malloc(cap);
	cmk_wrapped w;
	if (!b)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	cmk_rc rc = cmk_wrap(ctx, keyid, alg, dek, ENV_DEK_LEN, b, &cap);
	if (rc == CMK_E_BUFFER && cap <= ENV_RECIP_MAX_LEN) {
		uint8_t *nb = realloc(b, cap);
		if (!nb) {
			free(b);
			return cmk_err(CMK_E_NOMEM, "out of memory");
		}
		b = nb;
		rc = cmk_wrap(ctx, keyid, alg, dek, ENV_DEK_LEN, b, &cap);
	}
	if (rc == CMK_OK && cap > ENV_RECIP_MAX_LEN)
		rc = cmk_err(CMK_E_TOO_LARGE,
			     "wrapped key under %s is %zu bytes "
			     "(an envelope holds at most %d)",
			     keyid, cap, ENV_RECIP_MAX_LEN);
	if (rc == CMK_OK)
		rc = cmk_wrapped_parse(b, cap, &w);
	if (rc == CMK_OK && !(*kid = strdup(w.kid)))
		rc = cmk_err(CMK_E_NOMEM, "out of memory");
	if (rc != CMK_OK) {
		free(b);
		return rc;
	}
	*rec = b;
	*len = cap;
	return CMK_OK;
}

cmk_rc cmk_seal_init(cmk_ctx *ctx, const cmk_seal_params *p, cmk_sealer **s)
{
	uint8_t *dek = NULL;
	env_recip r[CMK_ENVELOPE_MAX_KEYS];
	uint8_t *recs[CMK_ENVELOPE_MAX_KEYS] = { 0 };
	char **kids = NULL;
	size_t n = 0;
	cmk_rc rc;

	return_if_fail(ctx && p && s);
	*s = NULL;
	if (p->nkeys < 1 || p->nkeys > CMK_ENVELOPE_MAX_KEYS || !p->keyids)
		return cmk_err(CMK_E_USAGE, "seal: give 1-%d key ids (%zu given)",
			       CMK_ENVELOPE_MAX_KEYS, p->nkeys);
	if (!(kids = calloc(p->nkeys, sizeof *kids)) || !(dek = cmk_secure_alloc(ENV_DEK_LEN))) {
		rc = cmk_err(CMK_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = env_random(dek, ENV_DEK_LEN, 1)) != CMK_OK)
		goto out;
	cmk_alg alg = p->alg ? p->alg : CMK_ALG_RSA_OAEP_256;
	for (n = 0; n < p->nkeys; n++) {
		size_t len = 0;
		if ((rc = wrap_one(ctx, p->keyids[n], alg, dek, &recs[n], &len, &kids[n])) !=
		    CMK_OK)
			goto out;
		r[n] = (env_recip){ ENV_RECIP_VAULT, recs[n], len };
	}
	env_seal_cfg cfg = {
		.recip = r,
		.nrecip = n,
		.context = p->context,
		.ncontext = p->ncontext,
		.frame_size = p->frame_size,
		.propq = p->propq ? p->propq : cmk_ctx_propquery(ctx),
	};
	if ((rc = env_seal_init(&cfg, dek, s)) == CMK_OK) {
		env_seal_set_kids(*s, kids, n);
		kids = NULL;
	}
out:
	cmk_secure_free(dek, ENV_DEK_LEN);
	for (size_t i = 0; i < p->nkeys && i < CMK_ENVELOPE_MAX_KEYS; i++) {
		free(recs[i]);
		if (kids)
			free(kids[i]);
	}
	free(kids);
	return rc;
}

struct vault_arg {
	cmk_ctx *ctx;
	cmk_dekcache *cache;
};

/* Try each wrapped DEK whose key is in the context's vault, in order. */
static cmk_rc vault_unwrap(void *arg, const env_header *h, uint8_t dek[ENV_DEK_LEN],
			   char kid[CMK_KID_MAX])
{
	struct vault_arg *a = arg;
	const char *vault = cmk_ctx_vault(a->ctx);
	char first[512] = "", others[256] = "";
	cmk_rc first_rc = CMK_OK;
	size_t n;

	for (size_t i = 0; i < h->nrecip; i++) {
		const env_recip *r = &h->recip[i];
		cmk_wrapped w;
		char v[64], name[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1];
		if (r->type != ENV_RECIP_VAULT)
			continue;
		if (cmk_wrapped_parse(r->data, r->len, &w) != CMK_OK)
			return cmk_err_prefix(CMK_E_FORMAT,
					      "envelope header: wrapped "
					      "data key %zu",
					      i + 1);
		if (cmk_kid_parse(w.kid, v, name, ver) != CMK_OK || strcmp(v, vault) != 0) {
			size_t l = strlen(others);
			snprintf(others + l, sizeof others - l, "%s%s", l ? ", " : "", w.kid);
			continue;
		}
		if (a->cache && dekcache_get(a->cache, r->data, r->len, dek, ENV_DEK_LEN, kid))
			return CMK_OK;
		n = ENV_DEK_LEN;
		cmk_rc rc = cmk_unwrap(a->ctx, r->data, r->len, dek, &n, kid);
		if (rc == CMK_OK && n != ENV_DEK_LEN) {
			cmk_wipe(dek, ENV_DEK_LEN);
			rc = cmk_err(CMK_E_FORMAT,
				     "envelope: the data key unwrapped "
				     "with %s has %zu bytes, not %d",
				     w.kid, n, ENV_DEK_LEN);
		}
		if (rc == CMK_OK) {
			if (a->cache)
				dekcache_put(a->cache, r->data, r->len, dek, ENV_DEK_LEN, kid);
			return CMK_OK;
		}
		if (first_rc == CMK_OK) {
			first_rc = rc;
			snprintf(first, sizeof first, "%s", cmk_last_error());
		}
	}
	if (first_rc != CMK_OK)
		return cmk_err(first_rc, "%s", first);
	return cmk_err(CMK_E_NOT_FOUND,
		       "envelope: no data key is wrapped by a "
		       "key of vault %s (keys: %s)",
		       vault, *others ? others : "none");
}

cmk_rc cmk_unseal_init(cmk_ctx *ctx, const cmk_unseal_params *p, cmk_unsealer **u)
{
	return_if_fail(ctx && u);
	*u = NULL;
	/* The callback's argument lives as long as the unsealer. */
	struct vault_arg *a = calloc(1, sizeof *a);
	if (!a)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	a->ctx = ctx;
	a->cache = p ? p->cache : NULL;
	env_unseal_cfg cfg = {
		.context = p ? p->context : NULL,
		.ncontext = p ? p->ncontext : 0,
		.propq = p && p->propq ? p->propq : cmk_ctx_propquery(ctx),
		.unwrap = vault_unwrap,
		.arg = a,
		.arg_free = free,
	};
	cmk_rc rc = env_unseal_init(&cfg, u);
	if (rc != CMK_OK) {
		free(a);
		return rc;
	}
	return CMK_OK;
}

cmk_rc cmk_seal(cmk_ctx *ctx, const cmk_seal_params *p, const uint8_t *in, size_t inlen,
		uint8_t **out, size_t *outlen)
{
	cmk_sealer *s;
	return_if_fail(out && outlen && (in || !inlen));
	*out = NULL;
	CMK_TRY(cmk_seal_init(ctx, p, &s));
	cmk_rc rc = env_seal_buf(s, in, inlen, out, outlen);
	cmk_seal_free(s);
	return rc;
}

cmk_rc cmk_unseal(cmk_ctx *ctx, const cmk_unseal_params *p, const uint8_t *in, size_t inlen,
		  uint8_t **out, size_t *outlen)
{
	cmk_unsealer *u;
	return_if_fail(out && outlen && (in || !inlen));
	*out = NULL;
	CMK_TRY(cmk_unseal_init(ctx, p, &u));
	cmk_rc rc = env_unseal_buf(u, in, inlen, out, outlen);
	cmk_unseal_free(u);
	return rc;
}

cmk_rc cmk_envelope_header_len(const uint8_t *buf, size_t len, size_t *hlen)
{
	uint32_t n;
	return_if_fail(buf && hlen);
	CMK_TRY(env_prefix_parse(buf, len, &n));
	*hlen = n;
	return CMK_OK;
}

cmk_rc cmk_envelope_kids(const uint8_t *hdr, size_t len, char ***kids, size_t *n)
{
	env_header h;
	return_if_fail(hdr && kids && n);
	CMK_TRY(env_header_parse(hdr, len, &h));
	char **v = calloc(h.nrecip + 1, sizeof *v);
	size_t k = 0;
	if (!v)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	for (size_t i = 0; i < h.nrecip; i++) {
		cmk_wrapped w;
		if (h.recip[i].type != ENV_RECIP_VAULT)
			continue;
		cmk_rc rc = cmk_wrapped_parse(h.recip[i].data, h.recip[i].len, &w);
		if (rc == CMK_OK && !(v[k++] = strdup(w.kid)))
			rc = cmk_err(CMK_E_NOMEM, "out of memory");
		if (rc != CMK_OK) {
			cmk_strv_free(v, k);
			return rc;
		}
	}
	*kids = v;
	*n = k;
	return CMK_OK;
}
