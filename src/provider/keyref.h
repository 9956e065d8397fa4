/*
 * keyref.h - the key reference file of cmk (docs/pem-reference.md): a PEM
 * block "CMK KEY REFERENCE" whose DER body names a vault key and the token
 * of its vault.  It holds no key material.
 *
 * Shared by the provider's decoder (src/provider/decoder.c) and by
 * `cmk key pem` (src/cli/keypem.c); OpenSSL's ASN.1 templates do the DER.
 */
#ifndef CMK_KEYREF_H
#define CMK_KEYREF_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "cmk.h"

#define CMK_KEYREF_PEM_LABEL "CMK KEY REFERENCE"
#define CMK_KEYREF_STRUCTURE "CmkKeyReference"
#define CMK_KEYREF_VERSION 1
/* A reference block, its text included, is never larger than this. */
#define CMK_KEYREF_MAX 4096

typedef struct cmk_keyref {
	char kid[CMK_KID_MAX];    /* cmk://VAULT/keys/NAME[/VERSION] */
	char token[33];           /* label of the vault's token */
	int64_t created;          /* the vault's creation time (unix seconds) */
} cmk_keyref;

/* DER of a reference (OPENSSL_free the result); 1 on success. */
int cmk_keyref_encode(OSSL_LIB_CTX *libctx, const cmk_keyref *r,
                      unsigned char **der, size_t *len);
/* Parse and check DER; 1 on success, else 0 with *why a static reason. */
int cmk_keyref_decode(OSSL_LIB_CTX *libctx, const unsigned char *der,
                      size_t len, cmk_keyref *r, const char **why);

#endif /* CMK_KEYREF_H */
