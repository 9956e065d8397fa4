/* audit-threads.c - N threads wrapping with one key handle, for the audit
 * tests: `audit-threads KEYID THREADS COUNT [FORKS]` (COUNT per thread, 0:
 * until killed or, with FORKS, until the main thread has forked FORKS
 * children while the threads append, each of which wraps once and exits;
 * a child that hangs is killed by its alarm and counts as a failure).  SIGHUP asks for cmk_audit_reopen() (as a service would after
 * logrotate); SIGTERM stops the threads.  Prints "ready" once every thread
 * has written a record. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>
#include "cmk.h"

static cmk_key *key;
static unsigned long count;
static atomic_int started, failed;
static volatile sig_atomic_t hup, stop;

static void on_hup(int s) { (void)s; hup = 1; }
static void on_term(int s) { (void)s; stop = 1; }

static void *run(void *arg)
{
	(void)arg;
	uint8_t dek[32] = { 1 }, out[1024];
	for (unsigned long i = 0; !stop && (!count || i < count); i++) {
		size_t len = sizeof out;
		if (cmk_key_encrypt(key, CMK_PURPOSE_KEY, CMK_ALG_RSA_OAEP_256, NULL, dek, sizeof dek, out,
		                    &len) != CMK_OK) {
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
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: audit-threads KEYID THREADS COUNT [FORKS]\n");
		return 2;
	}
	int forks = argc == 5 ? atoi(argv[4]) : 0, bad_children = 0;
	int n = atoi(argv[2]);
	count = strtoul(argv[3], NULL, 10);
	cmk_ctx *ctx;
	if (cmk_open(&ctx, NULL, NULL, NULL) != CMK_OK || cmk_key_open(ctx, argv[1], &key) != CMK_OK) {
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
		if (said && forks > 0) {
			for (int i = 0; i < forks; i++) {
				pid_t pid = fork();
				if (pid == 0) {
					alarm(30);
					uint8_t dek[32] = { 2 }, out[1024];
					size_t len = sizeof out;
					_exit(cmk_key_encrypt(key, CMK_PURPOSE_KEY, CMK_ALG_RSA_OAEP_256, NULL, dek,
					                      sizeof dek, out, &len) == CMK_OK ? 0 : 1);
				}
				int st = 0;
				if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
					bad_children++;
			}
			if (bad_children)
				fprintf(stderr, "audit-threads: %d of %d children failed or hung\n", bad_children, forks);
			break;
		}
		if (hup) {
			hup = 0;
			cmk_audit_reopen(ctx);
		}
		if (stop || count || atomic_load(&failed))
			break;       /* with a COUNT, the joins below wait */
		usleep(10000);
	}
	if (!count)
		stop = 1;
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	cmk_key_close(key);
	cmk_close(ctx);
	return atomic_load(&failed) || bad_children;
}
