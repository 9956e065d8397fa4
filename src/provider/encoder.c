/*
 * encoder.c - text output of vault keys (openssl pkey -text, storeutl -text):
 * the key id and the public half; the private half has no encoding.
 */
#include <openssl/bio.h>
#include <openssl/core_names.h>

#include "prov.h"

static OSSL_FUNC_encoder_newctx_fn enc_newctx;
static OSSL_FUNC_encoder_freectx_fn enc_freectx;
static OSSL_FUNC_encoder_does_selection_fn enc_does_selection;
static OSSL_FUNC_encoder_encode_fn enc_encode;

static void *enc_newctx(void *provctx)
{
	return provctx;
}

static void enc_freectx(void *ctx)
{
}

static int enc_does_selection(void *provctx, int selection)
{
	return (selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0;
}

static int enc_encode(void *ctx, OSSL_CORE_BIO *cout, const void *obj,
		      const OSSL_PARAM obj_abstract[], int selection, OSSL_PASSPHRASE_CALLBACK *cb,
		      void *cbarg)
{
	cmkp_prov *p = ctx;
	const cmkp_key *k = obj;
	BIO *out;
	int ok;

	if (k == NULL || k->pub == NULL)
		return 0;
	if ((out = BIO_new_from_core_bio(p->libctx, cout)) == NULL)
		return 0;
	if (k->tok != NULL)
		ok = BIO_printf(out, "cmk vault key %s (RSA %u bit, private half on the token)\n",
				cmk_key_kid(k->tok), k->bits) > 0;
	else
		ok = BIO_printf(out, "RSA public key (%u bit), not a vault key\n", k->bits) > 0;
	ok = ok && EVP_PKEY_print_public(out, k->pub, 0, NULL) > 0;
	BIO_free(out);
	return ok;
}

const OSSL_DISPATCH cmkp_encoder_text_functions[] = {
	{ OSSL_FUNC_ENCODER_NEWCTX, (void (*)(void))enc_newctx },
	{ OSSL_FUNC_ENCODER_FREECTX, (void (*)(void))enc_freectx },
	{ OSSL_FUNC_ENCODER_DOES_SELECTION, (void (*)(void))enc_does_selection },
	{ OSSL_FUNC_ENCODER_ENCODE, (void (*)(void))enc_encode },
	{ 0, NULL },
};

/*
 * PEM and DER private key encodings (PrivateKeyInfo, EncryptedPrivateKeyInfo,
 * type-specific): a vault private key has none.  These encoders only say so,
 * instead of OpenSSL's silent failure; public keys are written by the
 * default provider from the exported public half.
 */
static int priv_does_selection(void *provctx, int selection)
{
	return (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0;
}

static int priv_encode(void *ctx, OSSL_CORE_BIO *cout, const void *obj,
		       const OSSL_PARAM obj_abstract[], int selection, OSSL_PASSPHRASE_CALLBACK *cb,
		       void *cbarg)
{
	cmkp_prov *p = ctx;
	const cmkp_key *k = obj;

	if (k != NULL && k->tok != NULL)
		CMKP_ERR(p, CMKP_R_EXPORT,
			 "private key %s cannot leave the token: a vault key "
			 "has no private key encoding (write a key reference instead: cmk key "
			 "pem, cmk-provider(7))",
			 cmk_key_kid(k->tok));
	else
		CMKP_ERR(p, CMKP_R_NO_PRIVATE_KEY, "%s has no private half to encode",
			 k != NULL ? cmkp_key_name(k) : "the key");
	return 0;
}

const OSSL_DISPATCH cmkp_encoder_private_functions[] = {
	{ OSSL_FUNC_ENCODER_NEWCTX, (void (*)(void))enc_newctx },
	{ OSSL_FUNC_ENCODER_FREECTX, (void (*)(void))enc_freectx },
	{ OSSL_FUNC_ENCODER_DOES_SELECTION, (void (*)(void))priv_does_selection },
	{ OSSL_FUNC_ENCODER_ENCODE, (void (*)(void))priv_encode },
	{ 0, NULL },
};
