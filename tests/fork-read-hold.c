/* fork-read-hold.c - fork() while a thread reads holding the vault lock.
 *
 * A thread unwraps WRAPPED (a file cmk wrap wrote) through one cmk_ctx;
 * tests/keys-reader-race.sh holds it with the fault module inside the one
 * read path that holds the vault's lock file shared (a look again for a
 * missing working copy).  When the file GO appears, the main thread
 * forks; the child prints nothing and sleeps (a child that never execs,
 * as a prefork server's).  A child that inherited the lock file's
 * descriptor while it was held would keep the vault locked after the
 * parent died, and every change on the host would wait for it: so fork()
 * must wait until the thread's hold is over.
 *
 * usage: fork-read-hold CONF WRAPPED GO
 * Prints "forked CHILD-PID" once fork() returned, "unwrap: ok" or
 * "unwrap: ERROR" when the thread is done.  Without GO appearing, it
 * exits after the unwrap (a traced run). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cmk.h"

static cmk_ctx *ctx;
static uint8_t wrapped[4096];
static size_t wrapped_len;
static atomic_int done;

static void *unwrapper(void *arg)
{
	(void)arg;
	uint8_t dek[512];
	size_t len = sizeof dek;
	char kid[CMK_KID_MAX];
	cmk_rc rc = cmk_unwrap(ctx, wrapped, wrapped_len, dek, &len, kid);
	if (rc == CMK_OK)
		printf("unwrap: ok\n");
	else
		printf("unwrap: %s\n", cmk_last_error());
	fflush(stdout);
	atomic_store(&done, 1);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: fork-read-hold CONF WRAPPED GO\n");
		return 2;
	}
	FILE *f = fopen(argv[2], "rb");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	wrapped_len = fread(wrapped, 1, sizeof wrapped, f);
	fclose(f);
	if (cmk_open(&ctx, argv[1], NULL, NULL) != CMK_OK) {
		fprintf(stderr, "fork-read-hold: open: %s\n", cmk_last_error());
		return 1;
	}
	pthread_t t;
	if (pthread_create(&t, NULL, unwrapper, NULL) != 0) {
		fprintf(stderr, "fork-read-hold: cannot start a thread\n");
		return 1;
	}
	while (!atomic_load(&done) && access(argv[3], F_OK) != 0) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (!atomic_load(&done)) {
		pid_t pid = fork();
		if (pid == 0) {
			sleep(60);
			_exit(0);
		}
		printf("forked %ld\n", (long)pid);
		fflush(stdout);
	}
	pthread_join(t, NULL);
	cmk_close(ctx);
	return 0;
}
