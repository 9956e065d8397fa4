/* import.c - bring your own key: an RSA private key in PEM or DER, split
 * into the components C_CreateObject takes, in locked memory. */
#include "config.h"
#include <string.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "codec/import.h"
#include "util/err.h"

static EVP_PKEY *parse_key(const char *propq, const uint8_t *buf, size_t len)
{
	ERR_set_mark();
	BIO *bio = BIO_new_mem_buf(buf, (int)len);
	EVP_PKEY *pk =
		bio ? PEM_read_bio_PrivateKey_ex(bio, NULL, NULL, (void *)"", NULL, propq) : NULL;
	BIO_free(bio);
	if (!pk) {
		const unsigned char *p = buf;
		pk = d2i_AutoPrivateKey_ex(NULL, &p, (long)len, NULL, propq);
	}
	ERR_pop_to_mark();
	return pk;
}

cmk_rc import_parse(const char *propq, const uint8_t *pem, size_t len, p11_rsa_parts *parts,
		    unsigned *bits, uint8_t **mem, size_t *memlen)
{
	static const char *const names[8] = {
		OSSL_PKEY_PARAM_RSA_N,	       OSSL_PKEY_PARAM_RSA_E,
		OSSL_PKEY_PARAM_RSA_D,	       OSSL_PKEY_PARAM_RSA_FACTOR1,
		OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
		OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
	};
	EVP_PKEY *pk = parse_key(propq, pem, len);
	if (!pk)
		return cmk_err(CMK_E_FORMAT, "the key to import is not a PEM or DER private key "
					     "(encrypted PEM is not supported)");
	if (!EVP_PKEY_is_a(pk, "RSA")) {
		EVP_PKEY_free(pk);
		return cmk_err(CMK_E_USAGE, "the key to import is not an RSA key");
	}
	int b = EVP_PKEY_get_bits(pk);
	if (b != 2048 && b != 3072 && b != 4096) {
		EVP_PKEY_free(pk);
		return cmk_err(CMK_E_USAGE,
			       "the key to import has %d bits; cmk takes 2048, 3072 or 4096", b);
	}
	size_t cap = 8 * 1024;
	uint8_t *m = cmk_secure_alloc(cap);
	if (!m) {
		EVP_PKEY_free(pk);
		return cmk_err(CMK_E_NOMEM, "out of memory");
	}
	const uint8_t *ptrs[8];
	size_t lens[8], used = 0;
	cmk_rc rc = CMK_OK;
	for (int i = 0; i < 8 && rc == CMK_OK; i++) {
		BIGNUM *bn = NULL;
		if (!EVP_PKEY_get_bn_param(pk, names[i], &bn)) {
			rc = cmk_err(CMK_E_USAGE,
				     "the RSA key to import lacks %s (CRT components are required)",
				     names[i]);
			break;
		}
		int n = BN_num_bytes(bn);
		if (used + (size_t)n > cap) {
			rc = cmk_err(CMK_E_USAGE, "the RSA key to import is too large");
		} else {
			BN_bn2bin(bn, m + used);
			ptrs[i] = m + used;
			lens[i] = (size_t)n;
			used += (size_t)n;
		}
		BN_clear_free(bn);
	}
	EVP_PKEY_free(pk);
	if (rc != CMK_OK) {
		cmk_secure_free(m, cap);
		return rc;
	}
	parts->n = ptrs[0];
	parts->n_len = lens[0];
	parts->e = ptrs[1];
	parts->e_len = lens[1];
	parts->d = ptrs[2];
	parts->d_len = lens[2];
	parts->p = ptrs[3];
	parts->p_len = lens[3];
	parts->q = ptrs[4];
	parts->q_len = lens[4];
	parts->dp = ptrs[5];
	parts->dp_len = lens[5];
	parts->dq = ptrs[6];
	parts->dq_len = lens[6];
	parts->qinv = ptrs[7];
	parts->qinv_len = lens[7];
	*bits = (unsigned)b;
	*mem = m;
	*memlen = cap;
	return CMK_OK;
}
