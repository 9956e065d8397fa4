/*
 * provider-threads.c - the cmk provider seen by an application that only
 * knows OpenSSL (no cmk header): load a vault key by URI with OSSL_STORE,
 * compare it with its public key from a PEM file, decrypt with it from 8
 * threads at once, then fork and decrypt in the child (and again in the
 * parent).  TAP output.
 *
 * usage: provider-threads URI PUBLIC-KEY.pem
 * The environment points OpenSSL at the provider (OPENSSL_MODULES) and at
 * the lab (CMK_CONF, SOFTHSM2_CONF).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/store.h>

#define THREADS 8
#define ROUNDS	12

static int n_test;
static int n_failed;

static void ok(int cond, const char *what)
{
	printf("%sok %d - %s\n", cond ? "" : "not ", ++n_test, what);
	if (!cond) {
		n_failed++;
		ERR_print_errors_fp(stderr);
	}
	fflush(stdout);
}

static EVP_PKEY *key;
static unsigned char dek[32], ct[512];
static size_t ct_len;

static EVP_PKEY *load(const char *uri)
{
	OSSL_STORE_CTX *s = OSSL_STORE_open(uri, NULL, NULL, NULL, NULL);
	EVP_PKEY *k = NULL;

	while (s != NULL && k == NULL && !OSSL_STORE_eof(s)) {
		OSSL_STORE_INFO *info = OSSL_STORE_load(s);

		if (info != NULL && OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
			k = OSSL_STORE_INFO_get1_PKEY(info);
		OSSL_STORE_INFO_free(info);
	}
	OSSL_STORE_close(s);
	return k;
}

static EVP_PKEY_CTX *oaep256(EVP_PKEY *k, int decrypt)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);

	if (c == NULL || (decrypt ? EVP_PKEY_decrypt_init(c) : EVP_PKEY_encrypt_init(c)) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md_name(c, "SHA256", NULL) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md_name(c, "SHA256", NULL) <= 0) {
		EVP_PKEY_CTX_free(c);
		return NULL;
	}
	return c;
}

/* One decryption through the provider; 1 if it gives back the DEK. */
static int decrypt_once(void)
{
	EVP_PKEY_CTX *c = oaep256(key, 1);
	unsigned char out[512];
	size_t len = sizeof out;
	int good;

	good = c != NULL && EVP_PKEY_decrypt(c, out, &len, ct, ct_len) > 0 && len == sizeof dek &&
	       memcmp(out, dek, len) == 0;
	EVP_PKEY_CTX_free(c);
	return good;
}

static void *worker(void *arg)
{
	long good = 0;

	for (int i = 0; i < ROUNDS; i++)
		good += decrypt_once();
	ERR_clear_error();
	return (void *)good;
}

int main(int argc, char **argv)
{
	pthread_t t[THREADS];
	long total = 0;
	EVP_PKEY_CTX *c;
	EVP_PKEY *pem = NULL, *other;
	OSSL_PROVIDER *deflt, *cmk;
	FILE *f;
	pid_t pid;
	int status = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: %s URI PUBLIC-KEY.pem\n", argv[0]);
		return 2;
	}
	printf("1..10\n");
	deflt = OSSL_PROVIDER_load(NULL, "default");
	cmk = OSSL_PROVIDER_load(NULL, "cmk");
	ok(deflt != NULL && cmk != NULL, "default and cmk providers load");
	key = load(argv[1]);
	ok(key != NULL && EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_get_bits(key) >= 2048,
	   "OSSL_STORE loads the vault key as an RSA EVP_PKEY");
	if (key == NULL)
		return 1;
	ok(EVP_PKEY_get_size(key) == EVP_PKEY_get_bits(key) / 8 &&
		   EVP_PKEY_get_security_bits(key) >= 112,
	   "size and security bits of the key");

	if ((f = fopen(argv[2], "r")) != NULL) {
		pem = PEM_read_PUBKEY(f, NULL, NULL, NULL);
		fclose(f);
	}
	ok(pem != NULL && EVP_PKEY_eq(key, pem) == 1 && EVP_PKEY_eq(pem, key) == 1,
	   "EVP_PKEY_eq: the vault key equals its PEM public key, both ways");
	other = EVP_RSA_gen(2048);
	ok(other != NULL && EVP_PKEY_eq(key, other) != 1 && EVP_PKEY_eq(other, key) != 1,
	   "EVP_PKEY_eq: it differs from another RSA key");
	EVP_PKEY_free(other);
	EVP_PKEY_free(pem);
	ERR_clear_error();

	RAND_bytes(dek, sizeof dek);
	c = oaep256(key, 0);
	ct_len = sizeof ct;
	ok(c != NULL && EVP_PKEY_encrypt(c, ct, &ct_len, dek, sizeof dek) > 0 &&
		   ct_len == (size_t)EVP_PKEY_get_size(key),
	   "RSA-OAEP-256 encryption with the key");
	EVP_PKEY_CTX_free(c);

	ok(decrypt_once(), "RSA-OAEP-256 decryption on the token gives the DEK back");

	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, worker, NULL) != 0)
			t[i] = 0;
	for (int i = 0; i < THREADS; i++) {
		void *good = NULL;

		if (t[i] != 0 && pthread_join(t[i], &good) == 0)
			total += (long)good;
	}
	printf("# %ld of %d decryptions right\n", total, THREADS * ROUNDS);
	ok(total == THREADS * ROUNDS, "8 threads decrypt at once with one EVP_PKEY");

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int good = 1;

		for (int i = 0; i < 3; i++)
			good &= decrypt_once();
		if (!good)
			ERR_print_errors_fp(stderr);
		_exit(good ? 0 : 1);
	}
	ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		   WEXITSTATUS(status) == 0,
	   "a forked child decrypts with the key loaded before fork");
	ok(decrypt_once(), "the parent still decrypts after the fork");

	EVP_PKEY_free(key);
	OSSL_PROVIDER_unload(cmk);
	OSSL_PROVIDER_unload(deflt);
	return n_failed != 0;
}
