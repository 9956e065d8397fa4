/*
 * prov.h - shared declarations of cmk.so, the OpenSSL 3 provider for cmk
 * vault keys (cmk-provider(7)).
 *
 * The provider is built on libcmk's public API (cmk.h) only.  A key it hands
 * to OpenSSL (a cmkp_key) holds a libcmk handle for the private operations,
 * which run on the token, and a copy of the public key in the default
 * provider for everything public.  Operation parameters are kept in a
 * "shadow" EVP_PKEY_CTX of that public key, so they are parsed and checked
 * exactly as OpenSSL's own RSA implementation does; the provider reads them
 * back when it runs an operation.
 */
#ifndef CMK_PROV_H
#define CMK_PROV_H

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cmk.h"

/* Property of every algorithm of this provider, and the query with which
 * the provider fetches the software algorithms it uses itself. */
#define CMKP_PROPS "provider=cmk"
#define CMKP_PROPQ "provider!=cmk"

/* The `purpose` provider parameter: how EVP encrypt/decrypt map to key-ops. */
enum { CMKP_PURPOSE_AUTO = -1 };

typedef struct cmkp_vault {
	char *name; /* as asked for; "" for the default vault */
	cmk_ctx *ctx;
	struct cmkp_vault *next;
} cmkp_vault;

typedef struct cmkp_prov {
	const OSSL_CORE_HANDLE *handle;
	OSSL_LIB_CTX *libctx; /* child library context for software crypto */
	OSSL_FUNC_core_new_error_fn *new_error;
	OSSL_FUNC_core_set_error_debug_fn *set_error_debug;
	OSSL_FUNC_core_vset_error_fn *vset_error;
	char *conf;	/* cmk.conf path; NULL: libcmk's default */
	char *identity; /* NULL: libcmk's default */
	char *vault;	/* default vault; NULL: cmk.conf's */
	int allow_pkcs1v15;
	int purpose;	     /* CMKP_PURPOSE_AUTO or a cmk_purpose */
	CRYPTO_RWLOCK *lock; /* guards vaults */
	cmkp_vault *vaults;  /* open contexts, one per vault */
} cmkp_prov;

#define CMKP_KEY_MAGIC 0x636d6b6bU

typedef struct cmkp_key {
	unsigned magic;
	cmkp_prov *prov;
	cmk_key *tok;  /* NULL: a public key imported from elsewhere */
	EVP_PKEY *pub; /* the public key, in the default provider */
	size_t size;   /* modulus bytes */
	unsigned bits;
} cmkp_key;

/* ------------------------------------------------------------- errors.c */

/* Reason codes: 1-24 are the cmk_rc values, the rest the provider's own. */
enum {
	CMKP_R_BAD_URI = 100,
	CMKP_R_NO_PRIVATE_KEY,
	CMKP_R_PADDING,
	CMKP_R_PKCS1_DISABLED,
	CMKP_R_DIGEST,
	CMKP_R_BUFFER,
	CMKP_R_SALT_LENGTH,
	CMKP_R_INPUT_LENGTH,
	CMKP_R_CONFIG,
	CMKP_R_OPENSSL,
	CMKP_R_KEYREF,
	CMKP_R_EXPORT,
};

extern const OSSL_ITEM cmkp_reason_strings[];

void cmkp_err_at(const cmkp_prov *p, const char *file, int line, const char *func, int reason,
		 const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 6, 7)))
#endif
	;
#define CMKP_ERR(p, reason, ...) \
	cmkp_err_at((p), OPENSSL_FILE, OPENSSL_LINE, OPENSSL_FUNC, (reason), __VA_ARGS__)
/* A libcmk failure: its return code is the reason, cmk_last_error() the text. */
#define CMKP_ERR_RC(p, rc) CMKP_ERR((p), (int)(rc), "%s", cmk_last_error())

/* ----------------------------------------------------- confcheck.c */

/* 0, with the option named on stderr and in an error, when the provider's
 * section of openssl.cnf has an option cmk does not know. */
int cmkp_conf_check(cmkp_prov *p, OSSL_FUNC_core_get_params_fn *get_params);
/* provider.c */
void cmkp_config_error(cmkp_prov *p, const char *file, const char *section, const char *option);

/* ------------------------------------------------------------- vaults.c */

/* The context of vault `vault` (NULL or "": the default one), opened on
 * first use under the configured identity.  NULL with an error raised. */
cmk_ctx *cmkp_vault_ctx(cmkp_prov *p, const char *vault);
void cmkp_vaults_close(cmkp_prov *p);

/* ---------------------------------------------------------------- uri.c */

/* Resolve a cmk:// or pkcs11: URI to a vault and a key id, and open it. */
cmkp_key *cmkp_key_open_uri(cmkp_prov *p, const char *uri);

/* ---------------------------------------------------------------- pin.c */

/* While a vault is opened: the application's passphrase callback answers a
 * "prompt" PIN source (no-op when cb is NULL). */
void cmkp_pw_push(cmkp_prov *p, OSSL_PASSPHRASE_CALLBACK *cb, void *arg);
void cmkp_pw_pop(cmkp_prov *p);

/* -------------------------------------------------------------- store.c */

/* Hand a key to OpenSSL by reference (keymgmt load() takes it, *kp NULL). */
int cmkp_give_reference(cmkp_key **kp, OSSL_CALLBACK *cb, void *cbarg);

/* ---------------------------------------------------------------- key.c */

cmkp_key *cmkp_key_new(cmkp_prov *p);
void cmkp_key_free(cmkp_key *k);
/* Take over a libcmk handle (closed by cmkp_key_free). */
int cmkp_key_set_token(cmkp_key *k, cmk_key *tok);
/* Set the public key from OSSL_PARAMs (n, e) made by another provider. */
int cmkp_key_set_public(cmkp_key *k, const OSSL_PARAM params[]);
/* "cmk://VAULT/keys/NAME/VERSION", or a description of an imported key. */
const char *cmkp_key_name(const cmkp_key *k);
/* A new EVP_PKEY_CTX on the public key, in the default provider. */
EVP_PKEY_CTX *cmkp_key_shadow(const cmkp_key *k);
/* Pick the libcmk purpose of an encrypt (wrap = 1) or decrypt (wrap = 0). */
cmk_purpose cmkp_key_purpose(const cmkp_key *k, int wrap);

/* ------------------------------------------------------------- digest.c */

/* cmk's spelling ("SHA1", "SHA256", "SHA384", "SHA512") of an OpenSSL digest
 * name, NULL if it is none of these; *size gets the digest length. */
const char *cmkp_md_name(cmkp_prov *p, const char *name, size_t *size);

/* Read one parameter of a shadow context (1 on success). */
int cmkp_shadow_get_int(EVP_PKEY_CTX *c, const char *key, int *v);
int cmkp_shadow_get_utf8(EVP_PKEY_CTX *c, const char *key, char *buf, size_t len);

/* ------------------------------------------------------------ dispatch */

extern const OSSL_DISPATCH cmkp_keymgmt_functions[];
extern const OSSL_DISPATCH cmkp_store_functions[];
extern const OSSL_DISPATCH cmkp_asym_cipher_functions[];
extern const OSSL_DISPATCH cmkp_signature_functions[];
extern const OSSL_DISPATCH cmkp_encoder_text_functions[];
extern const OSSL_DISPATCH cmkp_encoder_private_functions[];
extern const OSSL_DISPATCH cmkp_decoder_pem_functions[];
extern const OSSL_DISPATCH cmkp_decoder_der_functions[];

#endif /* CMK_PROV_H */
