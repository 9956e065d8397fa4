/*
 * envelope_crypto.c - key derivation, key commitment, the header tag and
 * the sealing and opening of one frame.  All through OpenSSL EVP with the
 * caller's property query.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "envelope/envelope.h"
#include "util/err.h"

cmk_rc env_ossl_err(cmk_rc rc, const char *what)
{
	char buf[256] = "";
	unsigned long e = ERR_peek_last_error();
	if (e)
		ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	return cmk_err(rc, "%s failed%s%s", what, *buf ? ": " : "", buf);
}

static cmk_rc fetch(const char *propq, env_algs *a)
{
	memset(a, 0, sizeof *a);
	a->gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", propq);
	a->wrap = EVP_CIPHER_fetch(NULL, "AES-256-WRAP", propq);
	a->sha256 = EVP_MD_fetch(NULL, "SHA256", propq);
	a->hkdf = EVP_KDF_fetch(NULL, "HKDF", propq);
	if (a->gcm && a->wrap && a->sha256 && a->hkdf)
		return CMK_OK;
	const char *miss = !a->gcm	? "AES-256-GCM"
			   : !a->wrap	? "AES-256-WRAP"
			   : !a->sha256 ? "SHA256"
					: "HKDF";
	env_algs_free(a);
	ERR_clear_error();
	return cmk_err(CMK_E_CONFIG,
		       "OpenSSL offers no %s for property query "
		       "'%s'",
		       miss, propq ? propq : "");
}

static int up_ref(const env_algs *a)
{
	return EVP_CIPHER_up_ref(a->gcm) && EVP_CIPHER_up_ref(a->wrap) &&
	       EVP_MD_up_ref(a->sha256) && EVP_KDF_up_ref(a->hkdf);
}

/* Fetched algorithms are kept per property query (a few per process):
 * fetching costs more than sealing a small object. */
#define ALG_CACHE 8
static pthread_mutex_t alg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char *propq;
	env_algs a;
} alg_cache[ALG_CACHE];

cmk_rc env_algs_fetch(const char *propq, env_algs *a)
{
	const char *q = propq ? propq : "";
	pthread_mutex_lock(&alg_lock);
	for (int i = 0; i < ALG_CACHE && alg_cache[i].propq; i++)
		if (strcmp(alg_cache[i].propq, q) == 0 && up_ref(&alg_cache[i].a)) {
			*a = alg_cache[i].a;
			pthread_mutex_unlock(&alg_lock);
			return CMK_OK;
		}
	pthread_mutex_unlock(&alg_lock);
	CMK_TRY(fetch(propq, a));
	pthread_mutex_lock(&alg_lock);
	for (int i = 0; i < ALG_CACHE; i++)
		if (!alg_cache[i].propq) {
			if ((alg_cache[i].propq = strdup(q)) && up_ref(a))
				alg_cache[i].a = *a;
			else {
				free(alg_cache[i].propq);
				alg_cache[i].propq = NULL;
			}
			break;
		}
	pthread_mutex_unlock(&alg_lock);
	return CMK_OK;
}

void env_algs_free(env_algs *a)
{
	EVP_CIPHER_free(a->gcm);
	EVP_CIPHER_free(a->wrap);
	EVP_MD_free(a->sha256);
	EVP_KDF_free(a->hkdf);
	memset(a, 0, sizeof *a);
}

cmk_rc env_random(uint8_t *buf, size_t len, int secret)
{
	int ok = secret ? RAND_priv_bytes_ex(NULL, buf, len, 0) : RAND_bytes_ex(NULL, buf, len, 0);
	return ok == 1 ? CMK_OK : env_ossl_err(CMK_E_INTERNAL, "random bytes");
}

static cmk_rc hkdf(const env_algs *a, const uint8_t *ikm, const uint8_t *salt, const char *label,
		   uint8_t *out, size_t outlen)
{
	/* info = label || version || suite */
	uint8_t info[32];
	size_t il = strlen(label);
	memcpy(info, label, il);
	info[il++] = ENV_VERSION;
	info[il++] = ENV_SUITE_AES256GCM_HKDF_SHA256;

	EVP_KDF_CTX *k = EVP_KDF_CTX_new(a->hkdf);
	if (!k)
		return env_ossl_err(CMK_E_NOMEM, "HKDF context");
	OSSL_PARAM p[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						 (char *)EVP_MD_get0_name(a->sha256), 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ENV_DEK_LEN),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, ENV_MSGID_LEN),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, il),
		OSSL_PARAM_construct_end(),
	};
	int ok = EVP_KDF_derive(k, out, outlen, p);
	EVP_KDF_CTX_free(k);
	return ok == 1 ? CMK_OK : env_ossl_err(CMK_E_INTERNAL, "HKDF-SHA256");
}

cmk_rc env_derive(const env_algs *a, const uint8_t dek[ENV_DEK_LEN],
		  const uint8_t msgid[ENV_MSGID_LEN], env_keys *k)
{
	CMK_TRY(hkdf(a, dek, msgid, "cmk enc", k->frame_key, sizeof k->frame_key));
	return hkdf(a, dek, msgid, "cmk commit", k->commit, sizeof k->commit);
}

cmk_rc env_sha256(const env_algs *a, const uint8_t *in, size_t len, uint8_t out[ENV_HASH_LEN])
{
	unsigned n = 0;
	if (EVP_Digest(in, len, out, &n, a->sha256, NULL) != 1 || n != ENV_HASH_LEN)
		return env_ossl_err(CMK_E_INTERNAL, "SHA-256");
	return CMK_OK;
}

cmk_rc env_gcm_new(const env_algs *a, const uint8_t key[32], int enc, EVP_CIPHER_CTX **c)
{
	*c = EVP_CIPHER_CTX_new();
	if (!*c)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	if (EVP_CipherInit_ex2(*c, a->gcm, key, NULL, enc, NULL) != 1) {
		EVP_CIPHER_CTX_free(*c);
		*c = NULL;
		return env_ossl_err(CMK_E_INTERNAL, "AES-256-GCM key setup");
	}
	return CMK_OK;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

cmk_rc env_header_tag(EVP_CIPHER_CTX *c, int enc, const uint8_t *hdr, size_t signed_len,
		      uint8_t tag[ENV_TAG_LEN])
{
	static const uint8_t nonce[12] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					   0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	int n;
	uint8_t got[ENV_TAG_LEN];

	if (EVP_CipherInit_ex2(c, NULL, NULL, nonce, enc, NULL) != 1 ||
	    EVP_CipherUpdate(c, NULL, &n, hdr, (int)signed_len) != 1)
		return env_ossl_err(CMK_E_INTERNAL, "header tag");
	if (enc) {
		if (EVP_CipherFinal_ex(c, got, &n) != 1 ||
		    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, ENV_TAG_LEN, tag) != 1)
			return env_ossl_err(CMK_E_INTERNAL, "header tag");
		return CMK_OK;
	}
	memcpy(got, tag, ENV_TAG_LEN);
	if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, ENV_TAG_LEN, got) != 1)
		return env_ossl_err(CMK_E_INTERNAL, "header tag");
	if (EVP_CipherFinal_ex(c, got, &n) != 1) {
		ERR_clear_error();
		return cmk_err(CMK_E_DECRYPT, "envelope header does not "
					      "authenticate (modified, or another data key)");
	}
	return CMK_OK;
}

/* nonce = 0^32 || counter (64 bits); aad = header hash || counter || type
 * || length. */
static int frame_begin(EVP_CIPHER_CTX *c, int enc, const uint8_t hh[ENV_HASH_LEN], uint64_t counter,
		       int final, size_t len)
{
	uint8_t nonce[12] = { 0 }, aad[ENV_HASH_LEN + 8 + 1 + 4];
	int n;
	put64(nonce + 4, counter);
	memcpy(aad, hh, ENV_HASH_LEN);
	put64(aad + ENV_HASH_LEN, counter);
	aad[ENV_HASH_LEN + 8] = final ? ENV_FRAME_FINAL : ENV_FRAME_REGULAR;
	put32(aad + ENV_HASH_LEN + 9, (uint32_t)len);
	return EVP_CipherInit_ex2(c, NULL, NULL, nonce, enc, NULL) == 1 &&
	       EVP_CipherUpdate(c, NULL, &n, aad, sizeof aad) == 1;
}

cmk_rc env_frame_seal(EVP_CIPHER_CTX *c, const uint8_t hh[ENV_HASH_LEN], uint64_t counter,
		      int final, const uint8_t *pt, size_t len, uint8_t *out, size_t *outlen)
{
	uint8_t *p = out;
	int n = 0, m = 0;
	if (counter >= ENV_MAX_FRAMES)
		return cmk_err(CMK_E_TOO_LARGE, "envelope: more than 2^32 frames");
	*p++ = final ? ENV_FRAME_FINAL : ENV_FRAME_REGULAR;
	if (final) {
		put32(p, (uint32_t)len);
		p += 4;
	}
	if (!frame_begin(c, 1, hh, counter, final, len) ||
	    (len && EVP_CipherUpdate(c, p, &n, pt, (int)len) != 1) ||
	    EVP_CipherFinal_ex(c, p + n, &m) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, ENV_TAG_LEN, p + len) != 1)
		return env_ossl_err(CMK_E_INTERNAL, "AES-256-GCM frame seal");
	*outlen = (size_t)(p - out) + len + ENV_TAG_LEN;
	return CMK_OK;
}

cmk_rc env_frame_open(EVP_CIPHER_CTX *c, const uint8_t hh[ENV_HASH_LEN], uint64_t counter,
		      int final, const uint8_t *ct, size_t len, const uint8_t *tag, uint8_t *out)
{
	uint8_t t[ENV_TAG_LEN], scratch[16];
	int n = 0, m = 0;
	memcpy(t, tag, ENV_TAG_LEN);
	if (!frame_begin(c, 0, hh, counter, final, len) ||
	    (len && EVP_CipherUpdate(c, out, &n, ct, (int)len) != 1) ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, ENV_TAG_LEN, t) != 1)
		return env_ossl_err(CMK_E_INTERNAL, "AES-256-GCM frame open");
	if (EVP_CipherFinal_ex(c, len ? out + n : scratch, &m) != 1) {
		ERR_clear_error();
		cmk_wipe(out, len);
		return cmk_err(CMK_E_DECRYPT,
			       "envelope frame %llu does not "
			       "authenticate (modified, reordered, duplicated or "
			       "from another message)",
			       (unsigned long long)counter + 1);
	}
	return CMK_OK;
}
