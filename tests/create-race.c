/*
 * create-race.c - token objects created by one thread while other threads
 * of the process search the token.
 *
 * SoftHSM 2.6.1 (Debian 12) makes an object's file before it writes the
 * object into it; a C_FindObjectsInit of another thread of the process
 * meanwhile refreshes every object of the token, finds the new file empty
 * and marks the object invalid, and the C_CreateObject (or
 * C_GenerateKeyPair) then fails with CKR_GENERAL_ERROR or
 * CKR_TEMPLATE_INCONSISTENT and leaves the empty object on the token
 * (SoftHSMv2 issue #573, fixed after 2.6.1).  A service that manages its
 * vault while it serves (a policy changed, a key rotated) meets it.  Here
 * WRITERS threads change access policies (each change creates a record
 * object and, as a management operation, the audit anchor) while SEARCHERS
 * threads list the keys of the vault, each through a context of its own.
 * Every change and every list must succeed.  Prints TAP.
 *
 * usage: create-race CONF SECONDS
 */
#define _POSIX_C_SOURCE 200809L
#include <cmk.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tap.h"

#define WRITERS	  2
#define SEARCHERS 3

static const char *conf;
static atomic_int stop;
static atomic_long changes, change_fails, lists, list_fails;
static pthread_mutex_t first_mu = PTHREAD_MUTEX_INITIALIZER;
static char first_change[600], first_list[600];

static void note_first(char *buf, size_t cap, const char *what)
{
	pthread_mutex_lock(&first_mu);
	if (!buf[0])
		snprintf(buf, cap, "%s: %s", what, cmk_last_error() ? cmk_last_error() : "?");
	pthread_mutex_unlock(&first_mu);
}

static void *searcher(void *arg)
{
	cmk_ctx *c = arg;
	while (!atomic_load(&stop)) {
		cmk_key_info *keys = NULL;
		size_t n = 0;
		cmk_rc rc = cmk_key_list(c, 0, &keys, &n);
		atomic_fetch_add(&lists, 1);
		if (rc != CMK_OK || n < 1) {
			atomic_fetch_add(&list_fails, 1);
			note_first(first_list, sizeof first_list,
				   rc != CMK_OK ? cmk_rc_name(rc) : "no key listed");
		}
		cmk_free(keys);
	}
	return NULL;
}

static void *writer(void *arg)
{
	cmk_ctx *c = arg;
	char who[32];
	snprintf(who, sizeof who, "race-%p", arg);
	for (int i = 0; !atomic_load(&stop); i++) {
		cmk_rc rc =
			cmk_policy_set(c, who, i % 2 ? CMK_PERM_GET : CMK_PERM_GET | CMK_PERM_LIST);
		atomic_fetch_add(&changes, 1);
		if (rc != CMK_OK) {
			atomic_fetch_add(&change_fails, 1);
			note_first(first_change, sizeof first_change, cmk_rc_name(rc));
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: create-race CONF SECONDS\n");
		return 2;
	}
	conf = argv[1];
	double secs = atof(argv[2]);
	struct timespec ts = { (time_t)secs, (long)((secs - (time_t)secs) * 1e9) };
	cmk_ctx *w[WRITERS], *s[SEARCHERS];
	pthread_t tw[WRITERS], ts_[SEARCHERS];

	printf("1..2\n");
	for (int i = 0; i < WRITERS + SEARCHERS; i++)
		if (cmk_open(i < WRITERS ? &w[i] : &s[i - WRITERS], conf, NULL, NULL) != CMK_OK) {
			printf("Bail out! cannot open the vault: %s\n", cmk_last_error());
			return 1;
		}
	for (int i = 0; i < SEARCHERS; i++)
		pthread_create(&ts_[i], NULL, searcher, s[i]);
	for (int i = 0; i < WRITERS; i++)
		pthread_create(&tw[i], NULL, writer, w[i]);
	nanosleep(&ts, NULL);
	atomic_store(&stop, 1);
	for (int i = 0; i < WRITERS; i++)
		pthread_join(tw[i], NULL);
	for (int i = 0; i < SEARCHERS; i++)
		pthread_join(ts_[i], NULL);

	ok(atomic_load(&change_fails) == 0 && atomic_load(&changes) > 0,
	   "%ld policy changes by %d thread(s), %ld failed%s%s", atomic_load(&changes), WRITERS,
	   atomic_load(&change_fails), first_change[0] ? ", the first: " : "", first_change);
	ok(atomic_load(&list_fails) == 0 && atomic_load(&lists) > 0,
	   "%ld key lists by %d threads meanwhile, %ld failed%s%s", atomic_load(&lists), SEARCHERS,
	   atomic_load(&list_fails), first_list[0] ? ", the first: " : "", first_list);
	for (int i = 0; i < WRITERS; i++)
		cmk_close(w[i]);
	for (int i = 0; i < SEARCHERS; i++)
		cmk_close(s[i]);
	return test_failed ? 1 : 0;
}
