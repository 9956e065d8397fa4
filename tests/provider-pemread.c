/*
 * provider-pemread - an application that knows only OpenSSL reads a key
 * file the three ways servers do, with OPENSSL_CONF naming an openssl.cnf
 * that activates cmk: PEM_read_bio_PrivateKey, OSSL_DECODER and
 * SSL_CTX_use_PrivateKey_file.  For each it prints "WAY: ok BITS" and
 * signs a digest with the key, or "WAY: failed" and the error queue.
 *
 *   provider-pemread KEYFILE
 * Exit status: 0 when all three loaded and signed, 1 otherwise.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

static int sign_with(EVP_PKEY *k)
{
	unsigned char sig[1024];
	size_t len = sizeof sig;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md != NULL && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) == 1 &&
		 EVP_DigestSign(md, sig, &len, (const unsigned char *)"abc", 3) == 1;

	EVP_MD_CTX_free(md);
	return ok;
}

static int report(const char *way, EVP_PKEY *k)
{
	if (k != NULL && sign_with(k)) {
		printf("%s: ok %d\n", way, EVP_PKEY_get_bits(k));
		return 1;
	}
	printf("%s: failed\n", way);
	ERR_print_errors_fp(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	EVP_PKEY *k = NULL;
	OSSL_DECODER_CTX *d;
	SSL_CTX *s;
	BIO *b;
	int ok = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: provider-pemread KEYFILE\n");
		return 2;
	}
	b = BIO_new_file(argv[1], "r");
	k = b != NULL ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	ok &= report("PEM_read_bio_PrivateKey", k);
	EVP_PKEY_free(k);
	BIO_free(b);

	k = NULL;
	b = BIO_new_file(argv[1], "r");
	d = OSSL_DECODER_CTX_new_for_pkey(&k, "PEM", NULL, NULL, OSSL_KEYMGMT_SELECT_KEYPAIR, NULL,
					  NULL);
	if (b == NULL || d == NULL || !OSSL_DECODER_from_bio(d, b)) {
		EVP_PKEY_free(k);
		k = NULL;
	}
	ok &= report("OSSL_DECODER", k);
	EVP_PKEY_free(k);
	OSSL_DECODER_CTX_free(d);
	BIO_free(b);

	s = SSL_CTX_new(TLS_server_method());
	if (s != NULL && SSL_CTX_use_PrivateKey_file(s, argv[1], SSL_FILETYPE_PEM) == 1) {
		ok &= report("SSL_CTX_use_PrivateKey_file", SSL_CTX_get0_privatekey(s));
	} else {
		ok &= report("SSL_CTX_use_PrivateKey_file", NULL);
	}
	SSL_CTX_free(s);
	return ok ? 0 : 1;
}
