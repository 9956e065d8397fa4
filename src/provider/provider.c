/*
 * provider.c - entry point of cmk.so: configuration, the algorithm tables
 * and the provider's own parameters.  See cmk-provider(7).
 *
 * openssl.cnf parameters of the provider section (all optional; OpenSSL
 * itself takes "identity", "module" and "activate" there, hence the prefix):
 *   cmk_conf       = path of cmk.conf (default: $CMK_CONF, then the system one)
 *   cmk_identity   = caller identity for policies and audit (default:
 *                    $CMK_IDENTITY, cmk.conf's identity, $USER)
 *   cmk_vault      = default vault (cmk:///keys/NAME, pkcs11: searches)
 *   allow_pkcs1v15 = yes | no (default no): PKCS#1 v1.5 encryption padding
 *   purpose        = auto | key | data: EVP encrypt/decrypt as wrapKey/unwrapKey
 *                    (key) or encrypt/decrypt (data); auto picks by key-ops
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/params.h>

#include "prov.h"

static OSSL_FUNC_provider_teardown_fn cmkp_teardown;
static OSSL_FUNC_provider_gettable_params_fn cmkp_gettable_params;
static OSSL_FUNC_provider_get_params_fn cmkp_get_params;
static OSSL_FUNC_provider_query_operation_fn cmkp_query;
static OSSL_FUNC_provider_get_reason_strings_fn cmkp_get_reason_strings;

#define ALG(names, fns)                      \
	{                                    \
		names, CMKP_PROPS, fns, NULL \
	}

static const OSSL_ALGORITHM keymgmt_algs[] = {
	ALG("RSA:rsaEncryption:1.2.840.113549.1.1.1", cmkp_keymgmt_functions),
	{ NULL, NULL, NULL, NULL },
};
static const OSSL_ALGORITHM store_algs[] = {
	ALG("cmk", cmkp_store_functions),
	ALG("pkcs11", cmkp_store_functions),
	{ NULL, NULL, NULL, NULL },
};
static const OSSL_ALGORITHM asym_cipher_algs[] = {
	ALG("RSA:rsaEncryption:1.2.840.113549.1.1.1", cmkp_asym_cipher_functions),
	{ NULL, NULL, NULL, NULL },
};
static const OSSL_ALGORITHM signature_algs[] = {
	ALG("RSA:rsaEncryption:1.2.840.113549.1.1.1", cmkp_signature_functions),
	{ NULL, NULL, NULL, NULL },
};
static const OSSL_ALGORITHM encoder_algs[] = {
	{ "RSA:rsaEncryption:1.2.840.113549.1.1.1", CMKP_PROPS ",output=text",
	  cmkp_encoder_text_functions, NULL },
#define PRIV_ENC(out, st)                                           \
	{                                                           \
		"RSA:rsaEncryption:1.2.840.113549.1.1.1",           \
			CMKP_PROPS ",output=" out ",structure=" st, \
			cmkp_encoder_private_functions, NULL        \
	}
	PRIV_ENC("pem", "PrivateKeyInfo"),
	PRIV_ENC("der", "PrivateKeyInfo"),
	PRIV_ENC("pem", "EncryptedPrivateKeyInfo"),
	PRIV_ENC("der", "EncryptedPrivateKeyInfo"),
	PRIV_ENC("pem", "type-specific"),
	PRIV_ENC("der", "type-specific"),
#undef PRIV_ENC
	{ NULL, NULL, NULL, NULL },
};
/* Key reference files (docs/pem-reference.md) */
static const OSSL_ALGORITHM decoder_algs[] = {
	{ "DER", CMKP_PROPS ",input=pem", cmkp_decoder_pem_functions, NULL },
	{ "RSA:rsaEncryption:1.2.840.113549.1.1.1",
	  CMKP_PROPS ",input=der,structure=CmkKeyReference", cmkp_decoder_der_functions, NULL },
	{ NULL, NULL, NULL, NULL },
};

static const OSSL_ALGORITHM *cmkp_query(void *provctx, int operation_id, int *no_cache)
{
	*no_cache = 0;
	switch (operation_id) {
	case OSSL_OP_KEYMGMT: return keymgmt_algs;
	case OSSL_OP_STORE: return store_algs;
	case OSSL_OP_ASYM_CIPHER: return asym_cipher_algs;
	case OSSL_OP_SIGNATURE: return signature_algs;
	case OSSL_OP_ENCODER: return encoder_algs;
	case OSSL_OP_DECODER: return decoder_algs;
	}
	return NULL;
}

static const OSSL_PARAM *cmkp_gettable_params(void *provctx)
{
	static const OSSL_PARAM gettable[] = {
		OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_NAME, NULL, 0),
		OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_VERSION, NULL, 0),
		OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_BUILDINFO, NULL, 0),
		OSSL_PARAM_int(OSSL_PROV_PARAM_STATUS, NULL),
		OSSL_PARAM_END,
	};
	return gettable;
}

static int cmkp_get_params(void *provctx, OSSL_PARAM params[])
{
	OSSL_PARAM *p;

	p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME);
	if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, "cmk vault key provider"))
		return 0;
	p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION);
	if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, CMK_VERSION_STRING))
		return 0;
	p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_BUILDINFO);
	if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, "cmk " CMK_VERSION_STRING))
		return 0;
	p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS);
	if (p != NULL && !OSSL_PARAM_set_int(p, 1))
		return 0;
	return 1;
}

static const OSSL_ITEM *cmkp_get_reason_strings(void *provctx)
{
	return cmkp_reason_strings;
}

static void cmkp_free(cmkp_prov *p)
{
	if (p == NULL)
		return;
	cmkp_vaults_close(p);
	OSSL_LIB_CTX_free(p->libctx);
	CRYPTO_THREAD_lock_free(p->lock);
	OPENSSL_free(p->conf);
	OPENSSL_free(p->identity);
	OPENSSL_free(p->vault);
	OPENSSL_free(p);
}

static void cmkp_teardown(void *provctx)
{
	cmkp_free(provctx);
}

static const OSSL_DISPATCH cmkp_dispatch[] = {
	{ OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))cmkp_teardown },
	{ OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, (void (*)(void))cmkp_gettable_params },
	{ OSSL_FUNC_PROVIDER_GET_PARAMS, (void (*)(void))cmkp_get_params },
	{ OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))cmkp_query },
	{ OSSL_FUNC_PROVIDER_GET_REASON_STRINGS, (void (*)(void))cmkp_get_reason_strings },
	{ 0, NULL },
};

static int parse_bool(const char *v, int *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return *out = 1, 1;
		if (strcasecmp(v, no[i]) == 0)
			return *out = 0, 1;
	}
	return 0;
}

static int dup_param(const char *v, char **out)
{
	if (v == NULL || *v == '\0')
		return 1;
	return (*out = OPENSSL_strdup(v)) != NULL;
}

/*
 * A configuration error: raised, and also written to stderr, because
 * OpenSSL drops the errors of a provider that fails to load from
 * openssl.cnf unless config_diagnostics is set, and the provider would then
 * be silently absent.
 */
static void config_error(cmkp_prov *p, const char *param, const char *value, const char *want)
{
	CMKP_ERR(p, CMKP_R_CONFIG, "cmk provider: %s = %s: want %s", param, value, want);
	fprintf(stderr,
		"cmk provider (cmk.so) not loaded: openssl.cnf: %s = %s: want %s "
		"(cmk-provider(7))\n",
		param, value, want);
}

/* An option of the provider's section that cmk does not know (confcheck.c). */
void cmkp_config_error(cmkp_prov *p, const char *file, const char *section, const char *option)
{
	CMKP_ERR(p, CMKP_R_CONFIG, "cmk provider: %s: [%s]: unknown option %s", file, section,
		 option);
	fprintf(stderr,
		"cmk provider (cmk.so) not loaded: %s: [%s]: unknown option \"%s\" "
		"(cmk-provider(7))\n",
		file, section, option);
}

/* The provider section's parameters of openssl.cnf. */
static int configure(cmkp_prov *p, OSSL_FUNC_core_get_params_fn *get_params)
{
	const char *conf = NULL, *identity = NULL, *vault = NULL, *pkcs1 = NULL, *purpose = NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_utf8_ptr("cmk_conf", &conf, 0),
		OSSL_PARAM_utf8_ptr("cmk_identity", &identity, 0),
		OSSL_PARAM_utf8_ptr("cmk_vault", &vault, 0),
		OSSL_PARAM_utf8_ptr("allow_pkcs1v15", &pkcs1, 0),
		OSSL_PARAM_utf8_ptr("purpose", &purpose, 0),
		OSSL_PARAM_END,
	};

	p->purpose = CMKP_PURPOSE_AUTO;
	if (get_params != NULL && !get_params(p->handle, params))
		return 0;
	if (!dup_param(conf, &p->conf) || !dup_param(identity, &p->identity) ||
	    !dup_param(vault, &p->vault))
		return 0;
	if (pkcs1 != NULL && !parse_bool(pkcs1, &p->allow_pkcs1v15)) {
		config_error(p, "allow_pkcs1v15", pkcs1, "yes or no");
		return 0;
	}
	if (purpose == NULL || strcmp(purpose, "auto") == 0)
		p->purpose = CMKP_PURPOSE_AUTO;
	else if (strcmp(purpose, "key") == 0)
		p->purpose = CMK_PURPOSE_KEY;
	else if (strcmp(purpose, "data") == 0)
		p->purpose = CMK_PURPOSE_DATA;
	else {
		config_error(p, "purpose", purpose, "auto, key or data");
		return 0;
	}
	return 1;
}

int OSSL_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
		       const OSSL_DISPATCH **out, void **provctx)
{
	OSSL_FUNC_core_get_params_fn *get_params = NULL;
	const OSSL_DISPATCH *core = in;
	cmkp_prov *p = OPENSSL_zalloc(sizeof *p);

	if (p == NULL)
		return 0;
	p->handle = handle;
	for (; in->function_id != 0; in++) {
		switch (in->function_id) {
		case OSSL_FUNC_CORE_GET_PARAMS: get_params = OSSL_FUNC_core_get_params(in); break;
		case OSSL_FUNC_CORE_NEW_ERROR: p->new_error = OSSL_FUNC_core_new_error(in); break;
		case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
			p->set_error_debug = OSSL_FUNC_core_set_error_debug(in);
			break;
		case OSSL_FUNC_CORE_VSET_ERROR:
			p->vset_error = OSSL_FUNC_core_vset_error(in);
			break;
		}
	}
	if ((p->lock = CRYPTO_THREAD_lock_new()) == NULL || !configure(p, get_params) ||
	    !cmkp_conf_check(p, get_params) ||
	    (p->libctx = OSSL_LIB_CTX_new_child(handle, core)) == NULL) {
		cmkp_free(p);
		return 0;
	}
	*out = cmkp_dispatch;
	*provctx = p;
	return 1;
}
