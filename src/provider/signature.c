/*
 * signature.c - RSA signatures with vault keys: PKCS#1 v1.5 and PSS over
 * SHA-256, SHA-384 or SHA-512, signed on the token by cmk_key_sign().
 *
 * For EVP_DigestSign*() the data is hashed here (digests from the default
 * provider).  Verification is a public-key operation and runs in software,
 * in the shadow context of the public key, which also holds and checks the
 * parameters (pad mode, digest, MGF1 digest, salt length) and computes the
 * AlgorithmIdentifier for X.509 signing.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/rsa.h>

#include "prov.h"

typedef struct sig_ctx {
	cmkp_prov *prov;
	char *propq;
	cmkp_key *key;
	EVP_PKEY_CTX *shadow; /* initialised for sign or verify */
	EVP_MD_CTX *md;	      /* EVP_DigestSign/Verify only */
	int sign;
} sig_ctx;

static OSSL_FUNC_signature_newctx_fn sig_newctx;
static OSSL_FUNC_signature_freectx_fn sig_freectx;
static OSSL_FUNC_signature_dupctx_fn sig_dupctx;
static OSSL_FUNC_signature_sign_init_fn sig_sign_init;
static OSSL_FUNC_signature_sign_fn sig_sign;
static OSSL_FUNC_signature_verify_init_fn sig_verify_init;
static OSSL_FUNC_signature_verify_fn sig_verify;
static OSSL_FUNC_signature_digest_sign_init_fn sig_digest_sign_init;
static OSSL_FUNC_signature_digest_sign_update_fn sig_digest_update;
static OSSL_FUNC_signature_digest_sign_final_fn sig_digest_sign_final;
static OSSL_FUNC_signature_digest_verify_init_fn sig_digest_verify_init;
static OSSL_FUNC_signature_digest_verify_final_fn sig_digest_verify_final;
static OSSL_FUNC_signature_get_ctx_params_fn sig_get_ctx_params;
static OSSL_FUNC_signature_gettable_ctx_params_fn sig_gettable_ctx_params;
static OSSL_FUNC_signature_set_ctx_params_fn sig_set_ctx_params;
static OSSL_FUNC_signature_settable_ctx_params_fn sig_settable_ctx_params;

static void *sig_newctx(void *provctx, const char *propq)
{
	sig_ctx *c = OPENSSL_zalloc(sizeof *c);

	if (c == NULL)
		return NULL;
	c->prov = provctx;
	if (propq != NULL && (c->propq = OPENSSL_strdup(propq)) == NULL) {
		OPENSSL_free(c);
		return NULL;
	}
	return c;
}

static void sig_reset(sig_ctx *c)
{
	EVP_PKEY_CTX_free(c->shadow);
	EVP_MD_CTX_free(c->md);
	c->shadow = NULL;
	c->md = NULL;
}

static void sig_freectx(void *vctx)
{
	sig_ctx *c = vctx;

	if (c == NULL)
		return;
	sig_reset(c);
	OPENSSL_free(c->propq);
	OPENSSL_free(c);
}

static void *sig_dupctx(void *vctx)
{
	sig_ctx *c = vctx, *d = sig_newctx(c->prov, c->propq);

	if (d == NULL)
		return NULL;
	d->key = c->key;
	d->sign = c->sign;
	if ((c->shadow != NULL && (d->shadow = EVP_PKEY_CTX_dup(c->shadow)) == NULL) ||
	    (c->md != NULL &&
	     ((d->md = EVP_MD_CTX_new()) == NULL || !EVP_MD_CTX_copy_ex(d->md, c->md)))) {
		sig_freectx(d);
		return NULL;
	}
	return d;
}

static int sig_init(sig_ctx *c, void *keydata, const OSSL_PARAM params[], int sign,
		    const char *mdname)
{
	/* no key: initialise again with the same key (EVP_DigestSignInit
	 * with a NULL key, as the md BIO does on reset) */
	cmkp_key *k = keydata != NULL ? keydata : c->key;

	sig_reset(c);
	if (k == NULL) {
		CMKP_ERR(c->prov, CMK_E_USAGE, "no key set for the signature");
		return 0;
	}
	c->key = k;
	c->sign = sign;
	if (sign && k->tok == NULL) {
		CMKP_ERR(c->prov, CMKP_R_NO_PRIVATE_KEY, "cannot sign with %s", cmkp_key_name(k));
		return 0;
	}
	if ((c->shadow = cmkp_key_shadow(k)) == NULL)
		return 0;
	if ((sign ? EVP_PKEY_sign_init_ex(c->shadow, NULL)
		  : EVP_PKEY_verify_init_ex(c->shadow, NULL)) <= 0)
		return 0;
	if (mdname != NULL) {
		OSSL_PARAM p[2];

		p[0] = OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, (char *)mdname,
							0);
		p[1] = OSSL_PARAM_construct_end();
		if (EVP_PKEY_CTX_set_params(c->shadow, p) <= 0)
			return 0;
	}
	return sig_set_ctx_params(c, params);
}

static int sig_sign_init(void *vctx, void *keydata, const OSSL_PARAM params[])
{
	return sig_init(vctx, keydata, params, 1, NULL);
}

static int sig_verify_init(void *vctx, void *keydata, const OSSL_PARAM params[])
{
	return sig_init(vctx, keydata, params, 0, NULL);
}

/* Largest PSS salt for this key and digest (RFC 8017, 9.1.1). */
static int pss_max_salt(const cmkp_key *k, size_t dlen)
{
	size_t emlen = (k->bits - 1 + 7) / 8;

	return emlen < dlen + 2 ? -1 : (int)(emlen - dlen - 2);
}

/* The libcmk signature parameters of the context's settings. */
static int sig_params(sig_ctx *c, cmk_sig *s, size_t *dlen, char *md, char *mgf1, size_t namelen)
{
	const char *kid = cmkp_key_name(c->key);
	int pad = 0, salt = 0, max;

	memset(s, 0, sizeof *s);
	if (!cmkp_shadow_get_int(c->shadow, OSSL_SIGNATURE_PARAM_PAD_MODE, &pad))
		return 0;
	if (pad != RSA_PKCS1_PADDING && pad != RSA_PKCS1_PSS_PADDING) {
		CMKP_ERR(c->prov, CMKP_R_PADDING,
			 "%s: signature padding mode %d is not supported (PKCS#1 v1.5 or PSS)", kid,
			 pad);
		return 0;
	}
	if (!cmkp_shadow_get_utf8(c->shadow, OSSL_SIGNATURE_PARAM_DIGEST, md, namelen) ||
	    *md == '\0') {
		CMKP_ERR(c->prov, CMKP_R_DIGEST,
			 "%s: no digest set for the signature (e.g. -pkeyopt digest:sha256)", kid);
		return 0;
	}
	s->md = cmkp_md_name(c->prov, md, dlen);
	if (s->md == NULL || strcmp(s->md, "SHA1") == 0) {
		CMKP_ERR(c->prov, CMKP_R_DIGEST,
			 "%s: signatures with %s are not supported (SHA-256, SHA-384, SHA-512)",
			 kid, md);
		return 0;
	}
	s->pad = CMK_SIG_PKCS1;
	if (pad == RSA_PKCS1_PADDING)
		return 1;
	s->pad = CMK_SIG_PSS;
	if (!cmkp_shadow_get_utf8(c->shadow, OSSL_SIGNATURE_PARAM_MGF1_DIGEST, mgf1, namelen) ||
	    !cmkp_shadow_get_int(c->shadow, OSSL_SIGNATURE_PARAM_PSS_SALTLEN, &salt))
		return 0;
	s->mgf1_md = cmkp_md_name(c->prov, mgf1, NULL);
	if (s->mgf1_md == NULL || strcmp(s->mgf1_md, "SHA1") == 0) {
		CMKP_ERR(c->prov, CMKP_R_DIGEST, "%s: PSS with MGF1-%s is not supported", kid,
			 mgf1);
		return 0;
	}
	max = pss_max_salt(c->key, *dlen);
	switch (salt) {
	case RSA_PSS_SALTLEN_DIGEST: s->salt_len = -1; break;
	case RSA_PSS_SALTLEN_MAX:
	case RSA_PSS_SALTLEN_AUTO: /* when signing, "auto" is the maximum */
		s->salt_len = max;
		break;
#ifdef RSA_PSS_SALTLEN_AUTO_DIGEST_MAX
	case RSA_PSS_SALTLEN_AUTO_DIGEST_MAX:
		s->salt_len = max < (int)*dlen ? max : (int)*dlen;
		break;
#endif
	default: s->salt_len = salt;
	}
	if (s->salt_len < -1 || s->salt_len > max) {
		CMKP_ERR(c->prov, CMKP_R_SALT_LENGTH,
			 "%s: PSS salt length %d does not fit a %u-bit key with %s (at most %d)",
			 kid, s->salt_len, c->key->bits, s->md, max);
		return 0;
	}
	return 1;
}

static int sig_sign(void *vctx, unsigned char *sig, size_t *siglen, size_t sigsize,
		    const unsigned char *tbs, size_t tbslen)
{
	sig_ctx *c = vctx;
	char md[64], mgf1[64];
	size_t dlen = 0;
	cmk_sig s;
	cmk_rc rc;

	if (sig == NULL) {
		*siglen = c->key->size;
		return 1;
	}
	if (!sig_params(c, &s, &dlen, md, mgf1, sizeof md))
		return 0;
	if (tbslen != dlen) {
		CMKP_ERR(c->prov, CMKP_R_INPUT_LENGTH, "%s: a %s digest is %zu bytes, got %zu",
			 cmkp_key_name(c->key), s.md, dlen, tbslen);
		return 0;
	}
	*siglen = sigsize;
	rc = cmk_key_sign(c->key->tok, &s, tbs, tbslen, sig, siglen);
	if (rc != CMK_OK) {
		CMKP_ERR_RC(c->prov, rc);
		return 0;
	}
	return 1;
}

static int sig_verify(void *vctx, const unsigned char *sig, size_t siglen, const unsigned char *tbs,
		      size_t tbslen)
{
	sig_ctx *c = vctx;

	return EVP_PKEY_verify(c->shadow, sig, siglen, tbs, tbslen);
}

static int digest_init(sig_ctx *c, const char *mdname, void *keydata, const OSSL_PARAM params[],
		       int sign)
{
	EVP_MD *md;

	if (mdname == NULL || *mdname == '\0')
		mdname = "SHA256";
	if (!sig_init(c, keydata, params, sign, mdname))
		return 0;
	md = EVP_MD_fetch(c->prov->libctx, mdname, c->propq);
	if (md == NULL) {
		CMKP_ERR(c->prov, CMKP_R_DIGEST, "%s: digest %s is not available",
			 cmkp_key_name(c->key), mdname);
		return 0;
	}
	c->md = EVP_MD_CTX_new();
	if (c->md == NULL || !EVP_DigestInit_ex2(c->md, md, NULL)) {
		EVP_MD_free(md);
		return 0;
	}
	EVP_MD_free(md);
	return 1;
}

static int sig_digest_sign_init(void *vctx, const char *mdname, void *keydata,
				const OSSL_PARAM params[])
{
	return digest_init(vctx, mdname, keydata, params, 1);
}

static int sig_digest_verify_init(void *vctx, const char *mdname, void *keydata,
				  const OSSL_PARAM params[])
{
	return digest_init(vctx, mdname, keydata, params, 0);
}

static int sig_digest_update(void *vctx, const unsigned char *data, size_t datalen)
{
	sig_ctx *c = vctx;

	return c->md != NULL && EVP_DigestUpdate(c->md, data, datalen);
}

static int sig_digest_sign_final(void *vctx, unsigned char *sig, size_t *siglen, size_t sigsize)
{
	sig_ctx *c = vctx;
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;

	if (sig == NULL) { /* only the size: the digest goes on */
		*siglen = c->key->size;
		return 1;
	}
	if (c->md == NULL || !EVP_DigestFinal_ex(c->md, d, &dlen))
		return 0;
	return sig_sign(c, sig, siglen, sigsize, d, dlen);
}

static int sig_digest_verify_final(void *vctx, const unsigned char *sig, size_t siglen)
{
	sig_ctx *c = vctx;
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;

	if (c->md == NULL || !EVP_DigestFinal_ex(c->md, d, &dlen))
		return 0;
	return EVP_PKEY_verify(c->shadow, sig, siglen, d, dlen) > 0;
}

static int sig_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
	sig_ctx *c = vctx;

	return c->shadow != NULL && EVP_PKEY_CTX_get_params(c->shadow, params) > 0;
}

static int sig_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
	sig_ctx *c = vctx;

	if (params == NULL || params[0].key == NULL)
		return 1;
	return c->shadow != NULL && EVP_PKEY_CTX_set_params(c->shadow, params) > 0;
}

/* The settable and gettable parameters are the default provider's. */
static const OSSL_PARAM *default_params(cmkp_prov *p, int settable)
{
	EVP_SIGNATURE *rsa = EVP_SIGNATURE_fetch(p->libctx, "RSA", CMKP_PROPQ);
	const OSSL_PARAM *list = NULL;

	if (rsa != NULL) /* the list lives as long as the provider stays loaded */
		list = settable ? EVP_SIGNATURE_settable_ctx_params(rsa)
				: EVP_SIGNATURE_gettable_ctx_params(rsa);
	EVP_SIGNATURE_free(rsa);
	return list;
}

static const OSSL_PARAM *sig_gettable_ctx_params(void *vctx, void *provctx)
{
	sig_ctx *c = vctx;

	if (c != NULL && c->shadow != NULL)
		return EVP_PKEY_CTX_gettable_params(c->shadow);
	return default_params(provctx, 0);
}

static const OSSL_PARAM *sig_settable_ctx_params(void *vctx, void *provctx)
{
	sig_ctx *c = vctx;

	if (c != NULL && c->shadow != NULL)
		return EVP_PKEY_CTX_settable_params(c->shadow);
	return default_params(provctx, 1);
}

const OSSL_DISPATCH cmkp_signature_functions[] = {
	{ OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))sig_newctx },
	{ OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sig_freectx },
	{ OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))sig_dupctx },
	{ OSSL_FUNC_SIGNATURE_SIGN_INIT, (void (*)(void))sig_sign_init },
	{ OSSL_FUNC_SIGNATURE_SIGN, (void (*)(void))sig_sign },
	{ OSSL_FUNC_SIGNATURE_VERIFY_INIT, (void (*)(void))sig_verify_init },
	{ OSSL_FUNC_SIGNATURE_VERIFY, (void (*)(void))sig_verify },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))sig_digest_sign_init },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE, (void (*)(void))sig_digest_update },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL, (void (*)(void))sig_digest_sign_final },
	{ OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_INIT, (void (*)(void))sig_digest_verify_init },
	{ OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_UPDATE, (void (*)(void))sig_digest_update },
	{ OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_FINAL, (void (*)(void))sig_digest_verify_final },
	{ OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, (void (*)(void))sig_get_ctx_params },
	{ OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, (void (*)(void))sig_gettable_ctx_params },
	{ OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, (void (*)(void))sig_set_ctx_params },
	{ OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS, (void (*)(void))sig_settable_ctx_params },
	{ 0, NULL },
};
