/*
 * key.c - the provider's key object: a libcmk key handle for the private
 * half (on the token) and the public key in the default provider.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/x509.h>

#include "prov.h"

cmkp_key *cmkp_key_new(cmkp_prov *p)
{
	cmkp_key *k = OPENSSL_zalloc(sizeof *k);

	if (k == NULL)
		return NULL;
	k->magic = CMKP_KEY_MAGIC;
	k->prov = p;
	return k;
}

void cmkp_key_free(cmkp_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pub);
	cmk_key_close(k->tok);
	k->magic = 0;
	OPENSSL_free(k);
}

static int set_pub(cmkp_key *k, EVP_PKEY *pub)
{
	if (pub == NULL)
		return 0;
	if (!EVP_PKEY_is_a(pub, "RSA")) {
		EVP_PKEY_free(pub);
		return 0;
	}
	EVP_PKEY_free(k->pub);
	k->pub = pub;
	k->size = (size_t)EVP_PKEY_get_size(pub);
	k->bits = (unsigned)EVP_PKEY_get_bits(pub);
	return 1;
}

int cmkp_key_set_token(cmkp_key *k, cmk_key *tok)
{
	uint8_t *der = NULL;
	size_t len = 0;
	const unsigned char *pp;
	cmk_rc rc;
	int ok;

	rc = cmk_key_public_der(tok, &der, &len);
	if (rc != CMK_OK) {
		CMKP_ERR_RC(k->prov, rc);
		return 0;
	}
	pp = der;
	ok = set_pub(k, d2i_PUBKEY_ex(NULL, &pp, (long)len, k->prov->libctx, CMKP_PROPQ));
	cmk_free(der);
	if (!ok) {
		CMKP_ERR(k->prov, CMKP_R_OPENSSL,
			 "the public key of %s cannot be read (is the default provider loaded?)",
			 cmk_key_kid(tok));
		return 0;
	}
	k->tok = tok;
	return 1;
}

int cmkp_key_set_public(cmkp_key *k, const OSSL_PARAM params[])
{
	EVP_PKEY_CTX *c;
	EVP_PKEY *pub = NULL;
	OSSL_PARAM pubparams[3];
	const OSSL_PARAM *n, *e;

	n = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_N);
	e = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_E);
	if (n == NULL || e == NULL)
		return 0;
	pubparams[0] = *n;
	pubparams[1] = *e;
	pubparams[2] = OSSL_PARAM_construct_end();
	c = EVP_PKEY_CTX_new_from_name(k->prov->libctx, "RSA", CMKP_PROPQ);
	if (c == NULL || EVP_PKEY_fromdata_init(c) <= 0 ||
	    EVP_PKEY_fromdata(c, &pub, EVP_PKEY_PUBLIC_KEY, pubparams) <= 0)
		pub = NULL;
	EVP_PKEY_CTX_free(c);
	return set_pub(k, pub);
}

const char *cmkp_key_name(const cmkp_key *k)
{
	return k->tok != NULL ? cmk_key_kid(k->tok) : "an RSA public key (not a vault key)";
}

EVP_PKEY_CTX *cmkp_key_shadow(const cmkp_key *k)
{
	EVP_PKEY_CTX *c = NULL;

	if (k->pub != NULL)
		c = EVP_PKEY_CTX_new_from_pkey(k->prov->libctx, k->pub, CMKP_PROPQ);
	if (c == NULL)
		CMKP_ERR(k->prov, CMKP_R_OPENSSL,
			 "no software RSA for %s (is the default provider loaded?)",
			 cmkp_key_name(k));
	return c;
}

cmk_purpose cmkp_key_purpose(const cmkp_key *k, int wrap)
{
	unsigned ops;

	if (k->prov->purpose != CMKP_PURPOSE_AUTO)
		return (cmk_purpose)k->prov->purpose;
	ops = cmk_key_ops(k->tok);
	if (ops & (wrap ? CMK_OP_WRAP : CMK_OP_UNWRAP))
		return CMK_PURPOSE_KEY;
	if (ops & (wrap ? CMK_OP_ENCRYPT : CMK_OP_DECRYPT))
		return CMK_PURPOSE_DATA;
	return CMK_PURPOSE_KEY; /* refused by libcmk, which names the key-op */
}
