/*
 * bench-provider.c - throughput of EVP_PKEY_decrypt (RSA-OAEP-256) through
 * the cmk provider, at 1 and 2 threads.  Not a test; OpenSSL API only.
 *
 * usage: bench-provider URI [SECONDS]
 *   OPENSSL_MODULES=src/provider/.libs CMK_CONF=... SOFTHSM2_CONF=... \
 *       src/provider/bench-provider cmk://lab/keys/NAME 3
 * The key needs the wrapKey and unwrapKey (or encrypt and decrypt) key-ops.
 * Each thread reuses one EVP_PKEY_CTX, as a server unwrapping keys would.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/store.h>

static EVP_PKEY *key;
static unsigned char ct[512];
static size_t ct_len;
static atomic_int stop;
static atomic_long failures;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static EVP_PKEY_CTX *oaep256(int decrypt)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);

	if (c == NULL || (decrypt ? EVP_PKEY_decrypt_init(c) : EVP_PKEY_encrypt_init(c)) <= 0
	    || EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) <= 0
	    || EVP_PKEY_CTX_set_rsa_oaep_md_name(c, "SHA256", NULL) <= 0
	    || EVP_PKEY_CTX_set_rsa_mgf1_md_name(c, "SHA256", NULL) <= 0) {
		EVP_PKEY_CTX_free(c);
		return NULL;
	}
	return c;
}

static void *worker(void *arg)
{
	EVP_PKEY_CTX *c = oaep256(1);
	unsigned char out[512];
	long n = 0;

	while (c != NULL && !atomic_load(&stop)) {
		size_t len = sizeof out;

		if (EVP_PKEY_decrypt(c, out, &len, ct, ct_len) <= 0)
			atomic_fetch_add(&failures, 1);
		else
			n++;
	}
	EVP_PKEY_CTX_free(c);
	ERR_clear_error();
	return (void *)n;
}

static void run(int threads, double seconds)
{
	pthread_t t[2];
	long total = 0;
	double t0 = now(), dt;

	atomic_store(&stop, 0);
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	while (now() - t0 < seconds) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < threads; i++) {
		void *n = NULL;

		pthread_join(t[i], &n);
		total += (long)n;
	}
	dt = now() - t0;
	printf("threads=%d  %ld decryptions in %.2f s  %.0f ops/s\n", threads, total, dt,
	       (double)total / dt);
}

int main(int argc, char **argv)
{
	double seconds = argc > 2 ? atof(argv[2]) : 3.0;
	unsigned char dek[32];
	OSSL_PROVIDER *deflt, *cmk;
	OSSL_STORE_CTX *s;
	EVP_PKEY_CTX *c;

	if (argc < 2 || seconds <= 0) {
		fprintf(stderr, "usage: %s URI [SECONDS]\n", argv[0]);
		return 2;
	}
	deflt = OSSL_PROVIDER_load(NULL, "default");
	cmk = OSSL_PROVIDER_load(NULL, "cmk");
	if (deflt == NULL || cmk == NULL)
		goto fail;
	s = OSSL_STORE_open(argv[1], NULL, NULL, NULL, NULL);
	while (s != NULL && key == NULL && !OSSL_STORE_eof(s)) {
		OSSL_STORE_INFO *info = OSSL_STORE_load(s);

		if (info != NULL && OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
			key = OSSL_STORE_INFO_get1_PKEY(info);
		OSSL_STORE_INFO_free(info);
	}
	OSSL_STORE_close(s);
	if (key == NULL)
		goto fail;
	RAND_bytes(dek, sizeof dek);
	ct_len = sizeof ct;
	if ((c = oaep256(0)) == NULL || EVP_PKEY_encrypt(c, ct, &ct_len, dek, sizeof dek) <= 0)
		goto fail;
	EVP_PKEY_CTX_free(c);

	printf("EVP_PKEY_decrypt RSA-OAEP-256, %d-bit key %s, %.1f s each\n",
	       EVP_PKEY_get_bits(key), argv[1], seconds);
	run(1, seconds);
	run(2, seconds);
	if (atomic_load(&failures) != 0) {
		fprintf(stderr, "%ld decryptions failed\n", atomic_load(&failures));
		return 1;
	}
	EVP_PKEY_free(key);
	OSSL_PROVIDER_unload(cmk);
	OSSL_PROVIDER_unload(deflt);
	return 0;
fail:
	fprintf(stderr, "bench-provider: cannot set up the key %s\n", argv[1]);
	ERR_print_errors_fp(stderr);
	return 1;
}
