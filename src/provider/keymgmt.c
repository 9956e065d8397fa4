/*
 * keymgmt.c - key management for "RSA" keys of the cmk provider.
 *
 * Keys come from the store (load() by reference).  Only the public half is
 * ever exported, and only when nothing private is asked for: OpenSSL then
 * runs every operation on the private key here, never in a provider that
 * was handed the public half.  Public keys from other providers may be
 * imported (n, e), so that EVP_PKEY_eq() against a certificate's or a PEM
 * file's key works, and so that public-key operations on them run in
 * software as the default provider would run them.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include "prov.h"

static OSSL_FUNC_keymgmt_new_fn km_new;
static OSSL_FUNC_keymgmt_free_fn km_free;
static OSSL_FUNC_keymgmt_load_fn km_load;
static OSSL_FUNC_keymgmt_has_fn km_has;
static OSSL_FUNC_keymgmt_match_fn km_match;
static OSSL_FUNC_keymgmt_get_params_fn km_get_params;
static OSSL_FUNC_keymgmt_gettable_params_fn km_gettable_params;
static OSSL_FUNC_keymgmt_import_fn km_import;
static OSSL_FUNC_keymgmt_import_types_fn km_import_types;
static OSSL_FUNC_keymgmt_export_fn km_export;
static OSSL_FUNC_keymgmt_export_types_fn km_export_types;
static OSSL_FUNC_keymgmt_query_operation_name_fn km_query_operation_name;

static void *km_new(void *provctx)
{
	return cmkp_key_new(provctx);
}

static void km_free(void *keydata)
{
	cmkp_key_free(keydata);
}

/* The reference is the address of a cmkp_key pointer made by the store;
 * the key is taken over and the pointer cleared. */
static void *km_load(const void *reference, size_t reference_sz)
{
	cmkp_key **kp = (cmkp_key **)reference, *k;

	if (reference == NULL || reference_sz != sizeof k)
		return NULL;
	k = *kp;
	if (k == NULL || k->magic != CMKP_KEY_MAGIC)
		return NULL;
	*kp = NULL;
	return k;
}

static int km_has(const void *keydata, int selection)
{
	const cmkp_key *k = keydata;

	if (k == NULL)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) && k->pub == NULL)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) && k->tok == NULL)
		return 0;
	return 1; /* RSA has no domain parameters */
}

/* An RSA key pair is determined by its public half. */
static int km_match(const void *keydata1, const void *keydata2, int selection)
{
	const cmkp_key *a = keydata1, *b = keydata2;

	if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) == 0)
		return 1;
	if (a->pub == NULL || b->pub == NULL)
		return 0;
	return EVP_PKEY_eq(a->pub, b->pub) == 1;
}

static int km_get_params(void *keydata, OSSL_PARAM params[])
{
	cmkp_key *k = keydata;

	if (k->pub == NULL)
		return 0;
	/* bits, security-bits, max-size, default digest, n, e: the public key's */
	return EVP_PKEY_get_params(k->pub, params);
}

static const OSSL_PARAM *km_gettable_params(void *provctx)
{
	static const OSSL_PARAM gettable[] = {
		OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
		OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
		OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
		OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
		OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
		OSSL_PARAM_END,
	};
	return gettable;
}

static const OSSL_PARAM public_types[] = {
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
	OSSL_PARAM_END,
};

static int km_import(void *keydata, int selection, const OSSL_PARAM params[])
{
	cmkp_key *k = keydata;

	/* A private key cannot become a token key by import. */
	if (k == NULL || k->tok != NULL || (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) == 0 ||
	    OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_D) != NULL)
		return 0;
	return cmkp_key_set_public(k, params);
}

static const OSSL_PARAM *km_import_types(int selection)
{
	return (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) ? public_types : NULL;
}

static int km_export(void *keydata, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
	cmkp_key *k = keydata;
	BIGNUM *n = NULL, *e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	int ok = 0;

	if (k == NULL || k->pub == NULL || (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY))
		return 0;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL)
		return 0;
	if (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) {
		if (!EVP_PKEY_get_bn_param(k->pub, OSSL_PKEY_PARAM_RSA_N, &n) ||
		    !EVP_PKEY_get_bn_param(k->pub, OSSL_PKEY_PARAM_RSA_E, &e) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
			goto out;
	}
	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		goto out;
	ok = cb(params, cbarg);
out:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return ok;
}

static const OSSL_PARAM *km_export_types(int selection)
{
	return (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) ? NULL : public_types;
}

static const char *km_query_operation_name(int operation_id)
{
	switch (operation_id) {
	case OSSL_OP_SIGNATURE:
	case OSSL_OP_ASYM_CIPHER: return "RSA";
	}
	return NULL;
}

const OSSL_DISPATCH cmkp_keymgmt_functions[] = {
	{ OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))km_new },
	{ OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))km_free },
	{ OSSL_FUNC_KEYMGMT_LOAD, (void (*)(void))km_load },
	{ OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))km_has },
	{ OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))km_match },
	{ OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))km_get_params },
	{ OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))km_gettable_params },
	{ OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))km_import },
	{ OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))km_import_types },
	{ OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))km_export },
	{ OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))km_export_types },
	{ OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))km_query_operation_name },
	{ 0, NULL },
};
