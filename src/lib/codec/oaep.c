/* oaep.c - OAEP, PSS and DigestInfo through OpenSSL.
 *
 * SoftHSM 2.6 refuses OAEP with SHA-256 (CKR_ARGUMENTS_BAD), so for such
 * tokens the private RSA operation runs on the token with CKM_RSA_X_509 and
 * the OAEP decoding runs here, with OpenSSL's constant-time check.  The
 * padding primitives are deprecated in OpenSSL 3.0 but are the only public
 * interface to padding alone. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "config.h"
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include "codec/oaep.h"
#include "util/err.h"

cmk_rc oaep_params(cmk_alg alg, const cmk_oaep *o, const char **md, const char **mgf1,
		   const uint8_t **label, size_t *label_len)
{
	*label = NULL;
	*label_len = 0;
	if (o) {
		ERR_set_mark();
		int md_known = o->md && EVP_get_digestbyname(o->md);
		int mgf1_known = !o->mgf1_md || EVP_get_digestbyname(o->mgf1_md);
		ERR_pop_to_mark();
		if (!md_known)
			return cmk_err(CMK_E_USAGE, "OAEP digest '%s' is unknown",
				       o->md ? o->md : "(none)");
		if (!mgf1_known)
			return cmk_err(CMK_E_USAGE, "OAEP MGF1 digest '%s' is unknown", o->mgf1_md);
		*md = o->md;
		*mgf1 = o->mgf1_md ? o->mgf1_md : o->md;
		*label = o->label;
		*label_len = o->label_len;
		return CMK_OK;
	}
	switch (alg) {
	case CMK_ALG_RSA_OAEP_256: *md = *mgf1 = "SHA256"; return CMK_OK;
	case CMK_ALG_RSA_OAEP: *md = *mgf1 = "SHA1"; return CMK_OK;
	case CMK_ALG_RSA_OAEP_384: *md = *mgf1 = "SHA384"; return CMK_OK;
	case CMK_ALG_RSA_OAEP_512: *md = *mgf1 = "SHA512"; return CMK_OK;
	case CMK_ALG_RSA1_5: *md = *mgf1 = NULL; return CMK_OK;
	}
	return cmk_err(CMK_E_USAGE, "unknown key-wrapping algorithm %d", (int)alg);
}

cmk_rc oaep_decode(const char *propq, const uint8_t *em, size_t k, const char *md, const char *mgf1,
		   const uint8_t *label, size_t label_len, uint8_t *out, size_t *outlen)
{
	ERR_set_mark();
	EVP_MD *m = EVP_MD_fetch(NULL, md, propq), *g = EVP_MD_fetch(NULL, mgf1, propq);
	cmk_rc rc = CMK_OK;
	if (!m || !g) {
		rc = cmk_err(CMK_E_USAGE, "OAEP digest %s/%s is unknown", md, mgf1);
	} else {
		int n = RSA_padding_check_PKCS1_OAEP_mgf1(out, (int)*outlen, em, (int)k, (int)k,
							  label, (int)label_len, m, g);
		if (n < 0)
			rc = CMK_E_DECRYPT; /* caller names the key; no detail by design */
		else
			*outlen = (size_t)n;
	}
	EVP_MD_free(m);
	EVP_MD_free(g);
	ERR_pop_to_mark();
	return rc;
}

cmk_rc pkcs1_decode_ir(const char *propq, const uint8_t *em, size_t k, const uint8_t seed[32],
		       uint8_t *out, size_t *outlen)
{
	enum { PAD = 11 };
	uint8_t syn[2 + 1024];
	if (k <= PAD || k - PAD + 2 > sizeof syn || *outlen < k - PAD)
		return cmk_err(CMK_E_INTERNAL, "PKCS#1 v1.5 decoding: bad sizes");
	size_t max = k - PAD;
	/* the synthetic message and its length: HKDF-Expand of the seed */
	ERR_set_mark();
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", propq);
	EVP_KDF_CTX *kc = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	char info[] = "cmk PKCS#1 v1.5 implicit rejection";
	OSSL_PARAM params[] = {
		OSSL_PARAM_int(OSSL_KDF_PARAM_MODE, &mode),
		OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_octet_string(OSSL_KDF_PARAM_KEY, (void *)seed, 32),
		OSSL_PARAM_octet_string(OSSL_KDF_PARAM_INFO, info, sizeof info - 1),
		OSSL_PARAM_END,
	};
	int derived = kc && EVP_KDF_derive(kc, syn, max + 2, params) > 0;
	EVP_KDF_CTX_free(kc);
	EVP_KDF_free(kdf);
	if (!derived) {
		ERR_pop_to_mark();
		return cmk_err(CMK_E_INTERNAL, "PKCS#1 v1.5 decoding: HKDF unavailable");
	}
	unsigned synlen = (((unsigned)syn[0] << 8) | syn[1]) % (unsigned)(max + 1);
	memcpy(out, syn + 2, max);
	/* OpenSSL 3.0's check is constant-time, and writes the message over
	 * `out` only when the padding is good (else leaves it untouched) */
	int n = RSA_padding_check_PKCS1_type_2(out, (int)max, em, (int)k, (int)k);
	ERR_pop_to_mark();
	unsigned good = ((unsigned)n >> (sizeof n * 8 - 1)) - 1u; /* all ones when n >= 0 */
	*outlen = (size_t)((good & (unsigned)n) | (~good & synlen));
	OPENSSL_cleanse(syn, sizeof syn);
	return CMK_OK;
}

EVP_PKEY_CTX *oaep_encrypt_ctx(const char *propq, EVP_PKEY *pub, cmk_alg alg, const char *md,
			       const char *mgf1, const uint8_t *label, size_t label_len, cmk_rc *rc)
{
	ERR_set_mark();
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pub, propq);
	*rc = CMK_OK;
	if (!c || EVP_PKEY_encrypt_init(c) <= 0) {
		*rc = cmk_err(CMK_E_INTERNAL, "OpenSSL cannot set up RSA encryption");
	} else if (alg == CMK_ALG_RSA1_5 && !md) {
		if (EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) <= 0)
			*rc = cmk_err(CMK_E_INTERNAL, "OpenSSL refuses PKCS#1 v1.5 padding");
	} else {
		uint8_t *l = NULL;
		if (label_len && !(l = OPENSSL_memdup(label, label_len)))
			*rc = cmk_err(CMK_E_NOMEM, "out of memory");
		if (*rc == CMK_OK &&
		    (EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) <= 0 ||
		     EVP_PKEY_CTX_set_rsa_oaep_md_name(c, md, propq) <= 0 ||
		     EVP_PKEY_CTX_set_rsa_mgf1_md_name(c, mgf1, propq) <= 0 ||
		     (l && EVP_PKEY_CTX_set0_rsa_oaep_label(c, l, (int)label_len) <= 0))) {
			*rc = cmk_err(CMK_E_USAGE, "OAEP with %s/%s is not available", md, mgf1);
			OPENSSL_free(l);
		}
	}
	if (*rc != CMK_OK) {
		EVP_PKEY_CTX_free(c);
		c = NULL;
	}
	ERR_pop_to_mark();
	return c;
}

cmk_rc oaep_encrypt_with(EVP_PKEY_CTX *c, EVP_PKEY *pub, cmk_alg alg, const char *md,
			 const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen)
{
	size_t k = (size_t)EVP_PKEY_get_size(pub);
	if (*outlen < k) {
		*outlen = k;
		return cmk_err(CMK_E_BUFFER, "output buffer too small: %zu bytes needed", k);
	}
	size_t hl = 0;
	if (md && !strcmp(md, "SHA256"))
		hl = 32; /* the usual ones without a name lookup */
	else if (md && !strcmp(md, "SHA1"))
		hl = 20;
	else if (md) {
		ERR_set_mark();
		const EVP_MD *m = EVP_get_digestbyname(md);
		hl = m ? (size_t)EVP_MD_get_size(m) : 64;
		ERR_pop_to_mark();
	}
	size_t max = md ? k - 2 * hl - 2 : k - 11;
	if (inlen > max)
		return cmk_err(CMK_E_TOO_LARGE,
			       "input of %zu bytes is larger than %s with a %zu-bit key allows "
			       "(%zu bytes)",
			       inlen, cmk_alg_name(alg), k * 8, max);
	ERR_set_mark();
	int ok = EVP_PKEY_encrypt(c, out, outlen, in, inlen) > 0;
	ERR_pop_to_mark();
	return ok ? CMK_OK : cmk_err(CMK_E_INTERNAL, "OpenSSL RSA encryption failed");
}

cmk_rc oaep_encrypt(const char *propq, EVP_PKEY *pub, cmk_alg alg, const char *md, const char *mgf1,
		    const uint8_t *label, size_t label_len, const uint8_t *in, size_t inlen,
		    uint8_t *out, size_t *outlen)
{
	cmk_rc rc;
	EVP_PKEY_CTX *c = oaep_encrypt_ctx(propq, pub, alg, md, mgf1, label, label_len, &rc);
	if (!c)
		return rc;
	rc = oaep_encrypt_with(c, pub, alg, md, in, inlen, out, outlen);
	EVP_PKEY_CTX_free(c);
	return rc;
}

cmk_rc pss_encode(const char *propq, EVP_PKEY *pub, const char *md, const char *mgf1, int salt,
		  const uint8_t *dig, size_t dlen, uint8_t *em, size_t k)
{
	ERR_set_mark();
	const RSA *rsa = EVP_PKEY_get0_RSA(pub);
	EVP_MD *m = EVP_MD_fetch(NULL, md, propq), *g = EVP_MD_fetch(NULL, mgf1, propq);
	cmk_rc rc = CMK_OK;
	if (!rsa || !m || !g || (size_t)EVP_MD_get_size(m) != dlen)
		rc = cmk_err(CMK_E_USAGE, "PSS with %s over a %zu-byte digest is not possible", md,
			     dlen);
	else if (RSA_size(rsa) != (int)k ||
		 RSA_padding_add_PKCS1_PSS_mgf1((RSA *)rsa, em, dig, m, g, salt) != 1)
		rc = cmk_err(CMK_E_USAGE, "PSS encoding failed (salt length %d)", salt);
	EVP_MD_free(m);
	EVP_MD_free(g);
	ERR_pop_to_mark();
	return rc;
}

cmk_rc digest_info(const char *md, const uint8_t *dig, size_t dlen, uint8_t *out, size_t *outlen)
{
	const EVP_MD *m = EVP_get_digestbyname(md);
	if (!m || (size_t)EVP_MD_get_size(m) != dlen)
		return cmk_err(CMK_E_USAGE, "digest %s does not match a %zu-byte digest", md, dlen);
	X509_SIG *sig = X509_SIG_new();
	X509_ALGOR *alg;
	ASN1_OCTET_STRING *os;
	cmk_rc rc = CMK_OK;
	if (!sig)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	X509_SIG_getm(sig, &alg, &os);
	if (!X509_ALGOR_set0(alg, OBJ_nid2obj(EVP_MD_get_type(m)), V_ASN1_NULL, NULL) ||
	    !ASN1_OCTET_STRING_set(os, dig, (int)dlen)) {
		rc = cmk_err(CMK_E_INTERNAL, "cannot build DigestInfo");
	} else {
		int n = i2d_X509_SIG(sig, NULL);
		if (n <= 0 || (size_t)n > *outlen) {
			rc = cmk_err(CMK_E_INTERNAL, "DigestInfo too long");
		} else {
			uint8_t *p = out;
			*outlen = (size_t)i2d_X509_SIG(sig, &p);
		}
	}
	X509_SIG_free(sig);
	return rc;
}
