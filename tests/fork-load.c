/*
 * fork-load.c - fork() while other threads are inside PKCS#11 calls.
 *
 * Worker threads unwrap without pause, half through one cmk_ctx (libcmk)
 * and half through the OpenSSL provider cmk.so (an EVP_PKEY loaded with
 * OSSL_STORE), while the main thread forks FORKS times.  Each child unwraps
 * once through the context and once through the provider, then exits.  A
 * child that does not finish within the bound (a hang: it waits for ever on
 * a lock copied in the locked state) is killed and counted as a failure.
 * Between forks the parent changes the key (disable/enable, rotate), so
 * children also start from a parent whose view changed.  Prints TAP.
 *
 * usage: fork-load CONF KEYNAME URI
 *   FORK_LOAD_FORKS    number of forks (default 200)
 *   FORK_LOAD_BOUND    seconds a child may take before it counts as hung
 *                      (default 60: a bound for a hang, not a timing check)
 */
#include <cmk.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/store.h>

#include "tap.h"

/* GCC's ASan runtime (libsanitizer of GCC 12) does not take its
 * allocator's locks around fork(): a child forked while another thread is
 * inside malloc can wait for ever on them, in ASan's code, whatever cmk
 * does.  The fork storm therefore runs in the plain build only; under ASan
 * (a compile-time probe) its points are skipped. */
#if defined(__SANITIZE_ADDRESS__)
#define ALLOCATOR_FORK_SAFE 0
#else
#define ALLOCATOR_FORK_SAFE 1
#endif

#define CTX_THREADS  2
#define PROV_THREADS 2

static cmk_ctx *ctx;
static EVP_PKEY *pkey;
static uint8_t dek[32];
static uint8_t w1[1024], w2[1024]; /* wrapped under version 1 and 2 */
static size_t w1len, w2len;
static uint8_t ct[512]; /* OAEP-256 ciphertext for the provider */
static size_t ctlen;
static atomic_int stop;
static atomic_long done_ctx, done_prov, bad_ctx, bad_prov;
/* Workers pause while the parent changes the key: the changes race with
 * unwraps in other tests (tests/torture); here they only set the state a
 * child starts from. */
static atomic_int paused, active;

static void nap(void)
{
	struct timespec ts = { 0, 1000000 };
	nanosleep(&ts, NULL);
}

/* A worker's operation runs only while the parent is not changing the key. */
static int enter_op(void)
{
	if (atomic_load(&paused))
		return 0;
	atomic_fetch_add(&active, 1);
	if (atomic_load(&paused)) {
		atomic_fetch_sub(&active, 1);
		return 0;
	}
	return 1;
}

static void pause_workers(int on)
{
	atomic_store(&paused, on);
	while (on && atomic_load(&active))
		nap();
}

static EVP_PKEY *load(const char *uri)
{
	OSSL_STORE_CTX *s = OSSL_STORE_open(uri, NULL, NULL, NULL, NULL);
	EVP_PKEY *k = NULL;

	while (s && !k && !OSSL_STORE_eof(s)) {
		OSSL_STORE_INFO *info = OSSL_STORE_load(s);

		if (info && OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
			k = OSSL_STORE_INFO_get1_PKEY(info);
		OSSL_STORE_INFO_free(info);
	}
	OSSL_STORE_close(s);
	return k;
}

static EVP_PKEY_CTX *oaep256(int decrypt)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);

	if (!c || (decrypt ? EVP_PKEY_decrypt_init(c) : EVP_PKEY_encrypt_init(c)) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md_name(c, "SHA256", NULL) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md_name(c, "SHA256", NULL) <= 0) {
		EVP_PKEY_CTX_free(c);
		return NULL;
	}
	return c;
}

static int unwrap_ctx(const uint8_t *w, size_t wlen)
{
	uint8_t out[64];
	size_t len = sizeof out;
	char kid[CMK_KID_MAX];

	return cmk_unwrap(ctx, w, wlen, out, &len, kid) == CMK_OK && len == sizeof dek &&
	       memcmp(out, dek, len) == 0;
}

static int unwrap_prov(void)
{
	EVP_PKEY_CTX *c = oaep256(1);
	uint8_t out[512];
	size_t len = sizeof out;
	int good = c && EVP_PKEY_decrypt(c, out, &len, ct, ctlen) > 0 && len == sizeof dek &&
		   memcmp(out, dek, len) == 0;

	EVP_PKEY_CTX_free(c);
	ERR_clear_error();
	return good;
}

static void *ctx_worker(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		if (!enter_op()) {
			nap();
			continue;
		}
		int good = unwrap_ctx(w1, w1len);
		atomic_fetch_sub(&active, 1);
		if (good)
			atomic_fetch_add(&done_ctx, 1);
		else
			atomic_fetch_add(&bad_ctx, 1);
	}
	return NULL;
}

static void *prov_worker(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		if (!enter_op()) {
			nap();
			continue;
		}
		int good = unwrap_prov();
		atomic_fetch_sub(&active, 1);
		if (good)
			atomic_fetch_add(&done_prov, 1);
		else
			atomic_fetch_add(&bad_prov, 1);
	}
	return NULL;
}

/* The child: one unwrap through the context (blob of the current version),
 * one through the provider.  Exit status: bit 0 context, bit 1 provider. */
static void child(int after_rotate)
{
	int bad = 0;

	if (!unwrap_ctx(after_rotate ? w2 : w1, after_rotate ? w2len : w1len))
		bad |= 1;
	if (!unwrap_prov())
		bad |= 2;
	if (bad & 1)
		fprintf(stderr, "child %ld: cmk_unwrap: %s\n", (long)getpid(), cmk_last_error());
	_exit(bad);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wait for the child; kill it when it exceeds the bound.  Returns its
 * status, or -1 when it hung. */
static int reap(pid_t pid, double bound)
{
	double t0 = now_s();
	int st = 0;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return st;
		if (r < 0 && errno != EINTR)
			return -2;
		if (now_s() - t0 > bound) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		struct timespec ts = { 0, 2000000 };
		nanosleep(&ts, NULL);
	}
}

int main(int argc, char **argv)
{
	const char *e;
	int forks = (e = getenv("FORK_LOAD_FORKS")) ? atoi(e) : 200;
	double bound = (e = getenv("FORK_LOAD_BOUND")) ? atof(e) : 60;
	pthread_t th[CTX_THREADS + PROV_THREADS];
	char ver1[CMK_VERSION_LEN + 1] = "", ver2[CMK_VERSION_LEN + 1] = "";
	int hung = 0, failed = 0, rotated = 0;
	OSSL_PROVIDER *deflt, *prov;

	if (argc != 4) {
		fprintf(stderr, "usage: %s CONF KEYNAME URI\n", argv[0]);
		return 2;
	}
	const char *keyname = argv[2];
	printf("1..8\n");
	is_rc(cmk_open(&ctx, argv[1], NULL, NULL), CMK_OK, "cmk_open");
	if (!ctx)
		return 1;
	deflt = OSSL_PROVIDER_load(NULL, "default");
	prov = OSSL_PROVIDER_load(NULL, "cmk");
	pkey = prov ? load(argv[3]) : NULL;
	ok(deflt && prov && pkey, "the cmk provider loads the key %s", argv[3]);
	if (!pkey) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	RAND_bytes(dek, sizeof dek);
	{
		EVP_PKEY_CTX *c = oaep256(0);

		ctlen = sizeof ct;
		if (!c || EVP_PKEY_encrypt(c, ct, &ctlen, dek, sizeof dek) <= 0)
			ctlen = 0;
		EVP_PKEY_CTX_free(c);
	}
	w1len = sizeof w1;
	cmk_rc rc = cmk_wrap(ctx, keyname, CMK_ALG_RSA_OAEP_256, dek, sizeof dek, w1, &w1len);
	ok(rc == CMK_OK && ctlen > 0 && unwrap_ctx(w1, w1len) && unwrap_prov(),
	   "wrap, and unwrap through the context and the provider");
	{
		cmk_version_info *v = NULL;
		size_t n = 0;

		if (cmk_key_versions(ctx, keyname, 0, &v, &n) == CMK_OK && n)
			snprintf(ver1, sizeof ver1, "%s", v[0].version);
		cmk_free(v);
	}
	if (!ALLOCATOR_FORK_SAFE) {
		for (int i = 4; i <= 8; i++)
			printf("ok %d # SKIP the ASan runtime's allocator is not fork-safe under "
			       "threads"
			       " (the plain build runs the fork storm)\n",
			       i);
		EVP_PKEY_free(pkey);
		cmk_close(ctx);
		OSSL_PROVIDER_unload(prov);
		OSSL_PROVIDER_unload(deflt);
		return test_failed != 0;
	}

	for (int i = 0; i < CTX_THREADS; i++)
		pthread_create(&th[i], NULL, ctx_worker, NULL);
	for (int i = 0; i < PROV_THREADS; i++)
		pthread_create(&th[CTX_THREADS + i], NULL, prov_worker, NULL);

	int changes_ok = 1;
	for (int i = 0; i < forks && hung < 3; i++) {
		/* the parent changes the key: a third of the way, disable and
		 * enable the version; two thirds, rotate (children then unwrap
		 * a blob of the new version) */
		if (i == forks / 3) {
			pause_workers(1);
			changes_ok &= cmk_key_set_enabled(ctx, keyname, ver1, 0) == CMK_OK;
			changes_ok &= cmk_key_set_enabled(ctx, keyname, ver1, 1) == CMK_OK;
			pause_workers(0);
		}
		if (i == 2 * forks / 3) {
			/* SoftHSM 2.6 sometimes answers a write with
			 * CKR_GENERAL_ERROR right after another process (a
			 * child's login) rewrote its token files: not what
			 * this test is about, so that one is retried */
			pause_workers(1);
			cmk_rc r = CMK_E_P11;
			for (int k = 0; k < 3 && r == CMK_E_P11; k++)
				if ((r = cmk_key_rotate(ctx, keyname, NULL, ver2)) == CMK_E_P11)
					printf("# rotate: %s (retried)\n", cmk_last_error());
			changes_ok &= r == CMK_OK;
			w2len = sizeof w2;
			changes_ok &= cmk_wrap(ctx, keyname, CMK_ALG_RSA_OAEP_256, dek, sizeof dek,
					       w2, &w2len) == CMK_OK;
			pause_workers(0);
			rotated = 1;
		}
		fflush(stdout);
		fflush(stderr);
		pid_t pid = fork();
		if (pid == 0)
			child(rotated);
		if (pid < 0) {
			failed++;
			continue;
		}
		int st = reap(pid, bound);
		if (st == -1) {
			hung++;
			printf("# fork %d: child %ld hung (killed after %.0f s)\n", i, (long)pid,
			       bound);
		} else if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			failed++;
			printf("# fork %d: child %ld failed (status 0x%x)\n", i, (long)pid, st);
		}
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < CTX_THREADS + PROV_THREADS; i++)
		pthread_join(th[i], NULL);

	printf("# %d forks; workers: %ld context and %ld provider unwraps\n", forks,
	       atomic_load(&done_ctx), atomic_load(&done_prov));
	ok(hung == 0, "no child hung (%d hung%s)", hung, hung >= 3 ? ", stopped after 3" : "");
	ok(failed == 0, "every child unwrapped through the context and the provider (%d failed)",
	   failed);
	ok(changes_ok && rotated, "the parent disabled, enabled and rotated the key meanwhile");
	ok(atomic_load(&done_ctx) > 0 && atomic_load(&done_prov) > 0 &&
		   atomic_load(&bad_ctx) == 0 && atomic_load(&bad_prov) == 0,
	   "the worker threads unwrapped during the forks (%ld and %ld failed)",
	   atomic_load(&bad_ctx), atomic_load(&bad_prov));
	ok(unwrap_ctx(w1, w1len) && unwrap_ctx(w2, w2len) && unwrap_prov(),
	   "the parent still unwraps through both afterwards");
	EVP_PKEY_free(pkey);
	cmk_close(ctx);
	OSSL_PROVIDER_unload(prov);
	OSSL_PROVIDER_unload(deflt);
	return test_failed != 0;
}
