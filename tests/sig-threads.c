/* sig-threads.c - a process of several threads that logs in to a vault:
 * IDLE threads that take every signal (they block none) are started first,
 * then the main thread opens the vault (C_Login: SoftHSM rewrites
 * token.object) and lists its keys.  tests/faults-p11.sh holds the process
 * inside C_Login with the fault module and sends it SIGTERM or SIGINT: the
 * kernel gives the signal to an idle thread, and the process must still
 * not die before the write is over.
 *
 * usage: sig-threads CONF IDLE
 * Prints "opened" when the vault is open and "listed N" after the list;
 * exit 0, or 1 with the error on stderr. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "cmk.h"

static void *idle(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: sig-threads CONF IDLE\n");
		return 2;
	}
	int n = atoi(argv[2]);
	for (int i = 0; i < n; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, idle, NULL) != 0) {
			fprintf(stderr, "sig-threads: cannot start a thread\n");
			return 1;
		}
		pthread_detach(t);
	}
	cmk_ctx *ctx;
	cmk_rc rc = cmk_open(&ctx, argv[1], NULL, NULL);
	if (rc != CMK_OK) {
		fprintf(stderr, "sig-threads: open: %s\n", cmk_last_error());
		return 1;
	}
	printf("opened\n");
	fflush(stdout);
	cmk_key_info *keys;
	size_t nkeys;
	rc = cmk_key_list(ctx, 0, &keys, &nkeys);
	if (rc != CMK_OK) {
		fprintf(stderr, "sig-threads: key list: %s\n", cmk_last_error());
		cmk_close(ctx);
		return 1;
	}
	printf("listed %zu\n", nkeys);
	cmk_free(keys);
	cmk_close(ctx);
	return 0;
}
