/* audit-threads.c - N threads wrapping with one key handle, for the audit
 * tests: `audit-threads KEYID THREADS COUNT` (COUNT per thread, 0: until
 * killed).  SIGHUP asks for cmk_audit_reopen() (as a service would after
 * logrotate); SIGTERM stops the threads.  Prints "ready" once every thread
 * has written a record. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "cmk.h"

static cmk_key *key;
static unsigned long count;
static atomic_int started, failed;
static volatile sig_atomic_t hup, stop;

static void on_hup(int s)
{
	(void)s;
	hup = 1;
}
static void on_term(int s)
{
	(void)s;
	stop = 1;
}

static void *run(void *arg)
{
	(void)arg;
	uint8_t dek[32] = { 1 }, out[1024];
	for (unsigned long i = 0; !stop && (!count || i < count); i++) {
		size_t len = sizeof out;
		if (cmk_key_encrypt(key, CMK_PURPOSE_KEY, CMK_ALG_RSA_OAEP_256, NULL, dek,
				    sizeof dek, out, &len) != CMK_OK) {
			fprintf(stderr, "audit-threads: %s\n", cmk_last_error());
			atomic_store(&failed, 1);
			return NULL;
		}
		if (i == 0)
			atomic_fetch_add(&started, 1);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: audit-threads KEYID THREADS COUNT\n");
		return 2;
	}
	int n = atoi(argv[2]);
	count = strtoul(argv[3], NULL, 10);
	cmk_ctx *ctx;
	if (cmk_open(&ctx, NULL, NULL, NULL) != CMK_OK ||
	    cmk_key_open(ctx, argv[1], &key) != CMK_OK) {
		fprintf(stderr, "audit-threads: %s\n", cmk_last_error());
		return 1;
	}
	signal(SIGHUP, on_hup);
	signal(SIGTERM, on_term);
	pthread_t t[64];
	if (n < 1 || n > 64)
		return 2;
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, run, NULL);
	int said = 0;
	for (;;) {
		if (!said && atomic_load(&started) == n) {
			printf("ready\n");
			fflush(stdout);
			said = 1;
		}
		if (hup) {
			hup = 0;
			cmk_audit_reopen(ctx);
		}
		if (stop || count || atomic_load(&failed))
			break; /* with a COUNT, the joins below wait */
		usleep(10000);
	}
	if (!count)
		stop = 1;
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	cmk_key_close(key);
	cmk_close(ctx);
	return atomic_load(&failed);
}
