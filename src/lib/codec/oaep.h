/* oaep.h - RSA padding done in OpenSSL around raw token operations.
 * `propq` is the vault's OpenSSL property query (cmk.conf(5) propquery);
 * none of these touch the caller's OpenSSL error queue. */
#ifndef CMK_OAEP_H
#define CMK_OAEP_H

#include <openssl/evp.h>
#include "cmk.h"

/* Resolve an algorithm (or explicit OAEP parameters) to digest names. */
cmk_rc oaep_params(cmk_alg alg, const cmk_oaep *o, const char **md, const char **mgf1,
		   const uint8_t **label, size_t *label_len);
/* PKCS#1 v1.5 decoding of a raw RSA result of k bytes, in constant time and
 * with implicit rejection: bad padding gives no error but a synthetic
 * message derived from `seed` (a secret the caller derives from the key
 * and the ciphertext), of a length derived from it too, so that neither
 * the result nor its timing tells a valid padding from an invalid one.
 * out must hold k - 11 bytes. */
cmk_rc pkcs1_decode_ir(const char *propq, const uint8_t *em, size_t k, const uint8_t seed[32],
		       uint8_t *out, size_t *outlen);
/* Constant-time OAEP decoding of a raw RSA result of k bytes. */
cmk_rc oaep_decode(const char *propq, const uint8_t *em, size_t k, const char *md, const char *mgf1,
		   const uint8_t *label, size_t label_len, uint8_t *out, size_t *outlen);
/* Public-key encryption in software. */
cmk_rc oaep_encrypt(const char *propq, EVP_PKEY *pub, cmk_alg alg, const char *md, const char *mgf1,
		    const uint8_t *label, size_t label_len, const uint8_t *in, size_t inlen,
		    uint8_t *out, size_t *outlen);
/* The same in two steps: a context prepared for these parameters (kept
 * and reused by key handles), then one encryption with it. */
EVP_PKEY_CTX *oaep_encrypt_ctx(const char *propq, EVP_PKEY *pub, cmk_alg alg, const char *md,
			       const char *mgf1, const uint8_t *label, size_t label_len,
			       cmk_rc *rc);
cmk_rc oaep_encrypt_with(EVP_PKEY_CTX *c, EVP_PKEY *pub, cmk_alg alg, const char *md,
			 const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen);
/* PSS encoding for a token that has raw RSA but no CKM_RSA_PKCS_PSS. */
cmk_rc pss_encode(const char *propq, EVP_PKEY *pub, const char *md, const char *mgf1, int salt,
		  const uint8_t *dig, size_t dlen, uint8_t *em, size_t k);
/* DER DigestInfo for PKCS#1 v1.5 signatures. */
cmk_rc digest_info(const char *md, const uint8_t *dig, size_t dlen, uint8_t *out, size_t *outlen);

#endif
