/*
 * asym_cipher.c - RSA encryption and decryption with vault keys.
 *
 * Decryption runs on the token through cmk_key_decrypt(); encryption
 * through cmk_key_encrypt() (software, from the public key, but checked and
 * audited by libcmk like any key operation).  OAEP with SHA-1, SHA-256,
 * SHA-384 or SHA-512, any MGF1 digest of those and a label; PKCS#1 v1.5
 * only when the provider is configured with allow_pkcs1v15 = yes.
 * The operation's parameters live in a shadow context of the public key
 * in the default provider, which parses and checks them.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/rsa.h>

#include "prov.h"

typedef struct cipher_ctx {
	cmkp_prov *prov;
	cmkp_key *key;
	EVP_PKEY_CTX *shadow;
	int decrypt;
} cipher_ctx;

static OSSL_FUNC_asym_cipher_newctx_fn ciph_newctx;
static OSSL_FUNC_asym_cipher_freectx_fn ciph_freectx;
static OSSL_FUNC_asym_cipher_dupctx_fn ciph_dupctx;
static OSSL_FUNC_asym_cipher_encrypt_init_fn ciph_encrypt_init;
static OSSL_FUNC_asym_cipher_encrypt_fn ciph_encrypt;
static OSSL_FUNC_asym_cipher_decrypt_init_fn ciph_decrypt_init;
static OSSL_FUNC_asym_cipher_decrypt_fn ciph_decrypt;
static OSSL_FUNC_asym_cipher_get_ctx_params_fn ciph_get_ctx_params;
static OSSL_FUNC_asym_cipher_gettable_ctx_params_fn ciph_gettable_ctx_params;
static OSSL_FUNC_asym_cipher_set_ctx_params_fn ciph_set_ctx_params;
static OSSL_FUNC_asym_cipher_settable_ctx_params_fn ciph_settable_ctx_params;

static void *ciph_newctx(void *provctx)
{
	cipher_ctx *c = OPENSSL_zalloc(sizeof *c);

	if (c != NULL)
		c->prov = provctx;
	return c;
}

static void ciph_freectx(void *vctx)
{
	cipher_ctx *c = vctx;

	if (c == NULL)
		return;
	EVP_PKEY_CTX_free(c->shadow);
	OPENSSL_free(c);
}

static void *ciph_dupctx(void *vctx)
{
	cipher_ctx *c = vctx, *d = ciph_newctx(c->prov);

	if (d == NULL)
		return NULL;
	*d = *c;
	if (c->shadow != NULL && (d->shadow = EVP_PKEY_CTX_dup(c->shadow)) == NULL) {
		OPENSSL_free(d);
		return NULL;
	}
	return d;
}

static int ciph_init(cipher_ctx *c, void *keydata, const OSSL_PARAM params[], int decrypt)
{
	cmkp_key *k = keydata != NULL ? keydata : c->key;

	EVP_PKEY_CTX_free(c->shadow);
	c->shadow = NULL;
	if (k == NULL) {
		CMKP_ERR(c->prov, CMK_E_USAGE, "no key set for the RSA operation");
		return 0;
	}
	c->key = k;
	c->decrypt = decrypt;
	if (decrypt && k->tok == NULL) {
		CMKP_ERR(c->prov, CMKP_R_NO_PRIVATE_KEY, "cannot decrypt with %s",
			 cmkp_key_name(k));
		return 0;
	}
	if ((c->shadow = cmkp_key_shadow(k)) == NULL)
		return 0;
	if ((decrypt ? EVP_PKEY_decrypt_init_ex(c->shadow, NULL)
		     : EVP_PKEY_encrypt_init_ex(c->shadow, NULL)) <= 0)
		return 0;
	return ciph_set_ctx_params(c, params);
}

static int ciph_encrypt_init(void *vctx, void *keydata, const OSSL_PARAM params[])
{
	return ciph_init(vctx, keydata, params, 0);
}

static int ciph_decrypt_init(void *vctx, void *keydata, const OSSL_PARAM params[])
{
	return ciph_init(vctx, keydata, params, 1);
}

/* The libcmk algorithm and OAEP parameters of the context's settings. */
static int ciph_alg(cipher_ctx *c, cmk_alg *alg, cmk_oaep *oaep, char *md, char *mgf1,
		    size_t namelen)
{
	static const struct {
		const char *md;
		cmk_alg alg;
	} algs[] = {
		{ "SHA1", CMK_ALG_RSA_OAEP },
		{ "SHA256", CMK_ALG_RSA_OAEP_256 },
		{ "SHA384", CMK_ALG_RSA_OAEP_384 },
		{ "SHA512", CMK_ALG_RSA_OAEP_512 },
	};
	const char *kid = cmkp_key_name(c->key);
	void *label = NULL;
	OSSL_PARAM p[2];
	int pad = 0;

	if (!cmkp_shadow_get_int(c->shadow, OSSL_ASYM_CIPHER_PARAM_PAD_MODE, &pad))
		return 0;
	memset(oaep, 0, sizeof *oaep);
	if (pad == RSA_PKCS1_PADDING) {
		if (!c->prov->allow_pkcs1v15) {
			CMKP_ERR(
				c->prov, CMKP_R_PKCS1_DISABLED,
				"%s: PKCS#1 v1.5 encryption padding is disabled in the cmk provider"
				" (use OAEP, or set allow_pkcs1v15 = yes)",
				kid);
			return 0;
		}
		*alg = CMK_ALG_RSA1_5;
		return 1;
	}
	if (pad != RSA_PKCS1_OAEP_PADDING) {
		CMKP_ERR(c->prov, CMKP_R_PADDING,
			 "%s: RSA padding mode %d is not supported (only OAEP%s)", kid, pad,
			 c->prov->allow_pkcs1v15 ? " and PKCS#1 v1.5" : "");
		return 0;
	}
	if (!cmkp_shadow_get_utf8(c->shadow, OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, md, namelen) ||
	    !cmkp_shadow_get_utf8(c->shadow, OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, mgf1, namelen))
		return 0;
	if ((oaep->md = cmkp_md_name(c->prov, md, NULL)) == NULL ||
	    (oaep->mgf1_md = cmkp_md_name(c->prov, mgf1, NULL)) == NULL) {
		CMKP_ERR(c->prov, CMKP_R_DIGEST,
			 "%s: OAEP with %s and MGF1-%s is not supported (SHA-1, SHA-256, SHA-384,"
			 " SHA-512)",
			 kid, md, mgf1);
		return 0;
	}
	p[0] = OSSL_PARAM_construct_octet_ptr(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, &label, 0);
	p[1] = OSSL_PARAM_construct_end();
	if (EVP_PKEY_CTX_get_params(c->shadow, p) > 0 && OSSL_PARAM_modified(&p[0])) {
		oaep->label = label;
		oaep->label_len = label != NULL ? p[0].return_size : 0;
	}
	for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++)
		if (strcmp(algs[i].md, oaep->md) == 0)
			*alg = algs[i].alg;
	return 1;
}

static int ciph_encrypt(void *vctx, unsigned char *out, size_t *outlen, size_t outsize,
			const unsigned char *in, size_t inlen)
{
	cipher_ctx *c = vctx;
	char md[64], mgf1[64];
	cmk_oaep oaep;
	cmk_alg alg;
	cmk_rc rc;

	if (c->key->tok == NULL) /* a foreign public key: plain software RSA */
		return EVP_PKEY_encrypt(c->shadow, out, outlen, in, inlen);
	if (out == NULL) {
		*outlen = c->key->size;
		return 1;
	}
	if (!ciph_alg(c, &alg, &oaep, md, mgf1, sizeof md))
		return 0;
	*outlen = outsize;
	rc = cmk_key_encrypt(c->key->tok, cmkp_key_purpose(c->key, 1), alg,
			     alg == CMK_ALG_RSA1_5 ? NULL : &oaep, in, inlen, out, outlen);
	if (rc != CMK_OK) {
		CMKP_ERR_RC(c->prov, rc);
		return 0;
	}
	return 1;
}

static int ciph_decrypt(void *vctx, unsigned char *out, size_t *outlen, size_t outsize,
			const unsigned char *in, size_t inlen)
{
	cipher_ctx *c = vctx;
	size_t size = c->key->size, len;
	unsigned char *buf = out;
	char md[64], mgf1[64];
	cmk_oaep oaep;
	cmk_alg alg;
	cmk_rc rc;
	int ok = 0;

	if (out == NULL) {
		*outlen = size;
		return 1;
	}
	if (!ciph_alg(c, &alg, &oaep, md, mgf1, sizeof md))
		return 0;
	/* libcmk wants room for a modulus; a smaller buffer gets a secure copy */
	if (outsize < size && (buf = cmk_secure_alloc(size)) == NULL) {
		CMKP_ERR(c->prov, CMK_E_NOMEM, "out of memory");
		return 0;
	}
	len = size > outsize ? size : outsize;
	rc = cmk_key_decrypt(c->key->tok, cmkp_key_purpose(c->key, 0), alg,
			     alg == CMK_ALG_RSA1_5 ? NULL : &oaep, in, inlen, buf, &len);
	if (rc != CMK_OK) {
		CMKP_ERR_RC(c->prov, rc);
	} else if (len > outsize) {
		CMKP_ERR(c->prov, CMKP_R_BUFFER,
			 "%s: the plaintext is %zu bytes, the buffer holds %zu",
			 cmkp_key_name(c->key), len, outsize);
	} else {
		if (buf != out)
			memcpy(out, buf, len);
		*outlen = len;
		ok = 1;
	}
	if (buf != out)
		cmk_secure_free(buf, size);
	return ok;
}

static int ciph_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
	cipher_ctx *c = vctx;

	return c->shadow != NULL && EVP_PKEY_CTX_get_params(c->shadow, params) > 0;
}

static int ciph_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
	cipher_ctx *c = vctx;

	if (params == NULL || params[0].key == NULL)
		return 1;
	return c->shadow != NULL && EVP_PKEY_CTX_set_params(c->shadow, params) > 0;
}

/* The settable and gettable parameters are the default provider's. */
static const OSSL_PARAM *default_params(cmkp_prov *p, int settable)
{
	EVP_ASYM_CIPHER *rsa = EVP_ASYM_CIPHER_fetch(p->libctx, "RSA", CMKP_PROPQ);
	const OSSL_PARAM *list = NULL;

	if (rsa != NULL) /* the list lives as long as the provider stays loaded */
		list = settable ? EVP_ASYM_CIPHER_settable_ctx_params(rsa)
				: EVP_ASYM_CIPHER_gettable_ctx_params(rsa);
	EVP_ASYM_CIPHER_free(rsa);
	return list;
}

static const OSSL_PARAM *ciph_gettable_ctx_params(void *vctx, void *provctx)
{
	cipher_ctx *c = vctx;

	if (c != NULL && c->shadow != NULL)
		return EVP_PKEY_CTX_gettable_params(c->shadow);
	return default_params(provctx, 0);
}

static const OSSL_PARAM *ciph_settable_ctx_params(void *vctx, void *provctx)
{
	cipher_ctx *c = vctx;

	if (c != NULL && c->shadow != NULL)
		return EVP_PKEY_CTX_settable_params(c->shadow);
	return default_params(provctx, 1);
}

const OSSL_DISPATCH cmkp_asym_cipher_functions[] = {
	{ OSSL_FUNC_ASYM_CIPHER_NEWCTX, (void (*)(void))ciph_newctx },
	{ OSSL_FUNC_ASYM_CIPHER_FREECTX, (void (*)(void))ciph_freectx },
	{ OSSL_FUNC_ASYM_CIPHER_DUPCTX, (void (*)(void))ciph_dupctx },
	{ OSSL_FUNC_ASYM_CIPHER_ENCRYPT_INIT, (void (*)(void))ciph_encrypt_init },
	{ OSSL_FUNC_ASYM_CIPHER_ENCRYPT, (void (*)(void))ciph_encrypt },
	{ OSSL_FUNC_ASYM_CIPHER_DECRYPT_INIT, (void (*)(void))ciph_decrypt_init },
	{ OSSL_FUNC_ASYM_CIPHER_DECRYPT, (void (*)(void))ciph_decrypt },
	{ OSSL_FUNC_ASYM_CIPHER_GET_CTX_PARAMS, (void (*)(void))ciph_get_ctx_params },
	{ OSSL_FUNC_ASYM_CIPHER_GETTABLE_CTX_PARAMS, (void (*)(void))ciph_gettable_ctx_params },
	{ OSSL_FUNC_ASYM_CIPHER_SET_CTX_PARAMS, (void (*)(void))ciph_set_ctx_params },
	{ OSSL_FUNC_ASYM_CIPHER_SETTABLE_CTX_PARAMS, (void (*)(void))ciph_settable_ctx_params },
	{ 0, NULL },
};
