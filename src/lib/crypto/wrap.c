/* wrap.c - wrap and unwrap by key id, bare or in the wrapped-key record.
 * The handles come from the context's cache of resolved keys (handle.c). */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "ctx.h"
#include "crypto/handle.h"
#include "util/err.h"

cmk_rc cmk_wrap_raw(cmk_ctx *ctx, const char *keyid, cmk_alg alg, const uint8_t *dek, size_t deklen,
		    uint8_t *out, size_t *outlen, char kid[CMK_KID_MAX])
{
	return_if_fail(ctx && keyid && dek && out && outlen);
	cmk_key *key;
	CMK_TRY(key_open_cached(ctx, keyid, &key));
	cmk_rc rc = cmk_key_encrypt(key, CMK_PURPOSE_KEY, alg, NULL, dek, deklen, out, outlen);
	if (rc == CMK_OK && kid)
		snprintf(kid, CMK_KID_MAX, "%s", cmk_key_kid(key));
	cmk_key_close(key);
	return rc;
}

cmk_rc cmk_unwrap_raw(cmk_ctx *ctx, const char *keyid, cmk_alg alg, const uint8_t *in, size_t inlen,
		      uint8_t *dek, size_t *deklen)
{
	return_if_fail(ctx && keyid && in && dek && deklen);
	cmk_key *key;
	CMK_TRY(key_open_cached(ctx, keyid, &key));
	cmk_rc rc = cmk_key_decrypt(key, CMK_PURPOSE_KEY, alg, NULL, in, inlen, dek, deklen);
	cmk_key_close(key);
	return rc;
}

cmk_rc cmk_wrap(cmk_ctx *ctx, const char *keyid, cmk_alg alg, const uint8_t *dek, size_t deklen,
		uint8_t *out, size_t *outlen)
{
	return_if_fail(ctx && keyid && dek && outlen);
	uint8_t ct[1024];
	size_t ctlen = sizeof ct;
	char kid[CMK_KID_MAX];
	CMK_TRY(cmk_wrap_raw(ctx, keyid, alg, dek, deklen, ct, &ctlen, kid));
	return cmk_wrapped_encode(alg, kid, ct, ctlen, out, outlen);
}

cmk_rc cmk_unwrap(cmk_ctx *ctx, const uint8_t *wrapped, size_t len, uint8_t *dek, size_t *deklen,
		  char kid[CMK_KID_MAX])
{
	return_if_fail(ctx && wrapped && dek && deklen);
	cmk_wrapped w;
	CMK_TRY(cmk_wrapped_parse(wrapped, len, &w));
	char vault[64], name[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1];
	CMK_TRY(cmk_kid_parse(w.kid, vault, name, ver));
	if (strcmp(vault, cmk_ctx_vault(ctx)) != 0)
		return cmk_err(CMK_E_NOT_FOUND,
			       "the wrapped key was made by %s, in vault %s; this is vault %s",
			       w.kid, vault, cmk_ctx_vault(ctx));
	CMK_TRY(cmk_unwrap_raw(ctx, w.kid, w.alg, w.ct, w.ct_len, dek, deklen));
	if (kid)
		snprintf(kid, CMK_KID_MAX, "%s", w.kid);
	return CMK_OK;
}
