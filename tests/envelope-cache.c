/*
 * envelope-cache.c - the data-key cache against a real vault: hits, the
 * time and use bounds, the revocation delay it causes (and nothing beyond
 * it), flush, threads, fork, and a resource's root key behind it.
 *
 * Run by tests/envelope-cache.sh with CMK_CONF set to a lab that has key
 * "ck" and resource "rc" protected by ck.  TAP on stdout.
 */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmk.h"

static int n_test, n_fail;

static void ok(int cond, const char *fmt, ...)
{
	va_list ap;
	n_test++;
	n_fail += !cond;
	printf("%s %d - ", cond ? "ok" : "not ok", n_test);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (!cond)
		printf("\n# last error: %s", cmk_last_error());
	putchar('\n');
	fflush(stdout);
}

static void msleep(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static cmk_ctx *ctx, *admin; /* admin: "another process" changing keys */
static uint8_t *env;
static size_t envlen;

static cmk_rc open_env(cmk_dekcache *c)
{
	cmk_unseal_params p = { .cache = c };
	uint8_t *out;
	size_t outlen;
	cmk_rc rc = cmk_unseal(ctx, &p, env, envlen, &out, &outlen);
	if (rc == CMK_OK) {
		int good = outlen == 5 && memcmp(out, "hello", 5) == 0;
		free(out);
		if (!good)
			return CMK_E_INTERNAL;
	}
	return rc;
}

static void *thread_main(void *arg)
{
	cmk_dekcache *c = arg;
	for (int i = 0; i < 50; i++)
		if (open_env(c) != CMK_OK)
			return (void *)1;
	return NULL;
}

int main(void)
{
	const char *keys[] = { "ck" };
	cmk_seal_params sp = { .keyids = keys, .nkeys = 1 };
	cmk_dekcache *c;
	cmk_dekcache_stats st;
	cmk_rc rc;

	if (cmk_open(&ctx, NULL, NULL, NULL) != CMK_OK ||
	    cmk_open(&admin, NULL, NULL, NULL) != CMK_OK) {
		printf("Bail out! cmk_open: %s\n", cmk_last_error());
		return 1;
	}
	rc = cmk_seal(ctx, &sp, (const uint8_t *)"hello", 5, &env, &envlen);
	ok(rc == CMK_OK, "seal under ck");

	cmk_dekcache_params cp = { .ttl_ms = 600 };
	ok(cmk_dekcache_new(ctx, &cp, &c) == CMK_OK, "cache with a 600 ms bound");
	int all = 1;
	for (int i = 0; i < 3; i++)
		all &= open_env(c) == CMK_OK;
	cmk_dekcache_stats_get(c, &st);
	ok(all && st.misses == 1 && st.hits == 2 && st.entries == 1,
	   "three opens: one unwrap on the token, two hits (misses %llu, "
	   "hits %llu)",
	   (unsigned long long)st.misses, (unsigned long long)st.hits);

	/* Disabled elsewhere: the cache hides it for at most the bound. */
	ok(cmk_key_set_enabled(admin, "ck", NULL, 0) == CMK_OK, "disable ck (another context)");
	ok(open_env(NULL) == CMK_E_DISABLED,
	   "without the cache the open fails "
	   "at once: %s",
	   cmk_last_error());
	rc = open_env(c);
	ok(rc == CMK_OK, "within the bound the cached data key still opens "
			 "(the documented delay)");
	msleep(700);
	cmk_dekcache_stats_get(c, &st);
	ok(st.entries == 0 && st.expired >= 1,
	   "after the bound the entry is "
	   "gone (expired %llu)",
	   (unsigned long long)st.expired);
	rc = open_env(c);
	ok(rc == CMK_E_DISABLED && strstr(cmk_last_error(), "cmk://lab/keys/ck"),
	   "after the bound the open fails, naming the key: %s", cmk_last_error());
	ok(cmk_key_set_enabled(admin, "ck", NULL, 1) == CMK_OK, "enable ck");
	ok(open_env(c) == CMK_OK, "and it opens again");

	/* A change made through the cache's own context wipes it at once. */
	ok(open_env(c) == CMK_OK, "cached again");
	rc = cmk_key_set_enabled(ctx, "ck", NULL, 0);
	cmk_dekcache_stats_get(c, &st);
	ok(rc == CMK_OK && st.entries == 0 && open_env(c) == CMK_E_DISABLED,
	   "disabling through the same context wipes the cache at once");
	cmk_key_set_enabled(ctx, "ck", NULL, 1);
	cmk_dekcache_flush(c);
	cmk_dekcache_stats_get(c, &st);
	ok(st.entries == 0, "flush empties the cache");
	cmk_dekcache_free(c);

	/* Use bound. */
	cp = (cmk_dekcache_params){ .ttl_ms = 60000, .max_uses = 2 };
	cmk_dekcache_new(ctx, &cp, &c);
	for (int i = 0; i < 3; i++)
		open_env(c);
	cmk_dekcache_stats_get(c, &st);
	ok(st.misses == 2 && st.hits == 1,
	   "max_uses 2: unwrap, hit, unwrap "
	   "(misses %llu, hits %llu)",
	   (unsigned long long)st.misses, (unsigned long long)st.hits);

	/* Threads share one cache. */
	pthread_t t[4];
	void *res;
	all = 1;
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, thread_main, c);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], &res);
		all &= res == NULL;
	}
	ok(all, "4 threads x 50 opens through one cache");

	/* fork: the child can use the cache. */
	open_env(c);
	pid_t pid = fork();
	if (pid == 0)
		_exit(open_env(c) == CMK_OK ? 0 : 1);
	int status = 0;
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "a forked child opens through the inherited cache");
	cmk_dekcache_free(c);

	/* A resource's root key behind a cache. */
	cp = (cmk_dekcache_params){ .ttl_ms = 600 };
	cmk_dekcache_new(ctx, &cp, &c);
	cmk_resource_params rp = { .cache = c };
	cmk_resource *r;
	uint8_t *data;
	size_t len;
	rc = cmk_resource_open(ctx, &rp, "rc", &r);
	ok(rc == CMK_OK, "open resource rc with a 600 ms root-key cache");
	ok(cmk_resource_put(r, "x", (const uint8_t *)"data", 4) == CMK_OK, "put x");
	ok(cmk_key_set_enabled(admin, "ck", NULL, 0) == CMK_OK,
	   "disable the resource's CMK (another context)");
	rc = cmk_resource_get(r, "x", &data, &len);
	ok(rc == CMK_OK && len == 4, "within the bound x still reads");
	if (rc == CMK_OK)
		free(data);
	msleep(700);
	rc = cmk_resource_get(r, "x", &data, &len);
	ok(rc == CMK_E_DISABLED && strstr(cmk_last_error(), "resource rc") &&
		   strstr(cmk_last_error(), "cmk://lab/keys/ck"),
	   "after the bound get fails: %s", cmk_last_error());
	rc = cmk_resource_put(r, "y", (const uint8_t *)"data", 4);
	ok(rc == CMK_E_DISABLED, "and put fails: %s", cmk_last_error());
	cmk_key_set_enabled(admin, "ck", NULL, 1);
	rc = cmk_resource_get(r, "x", &data, &len);
	ok(rc == CMK_OK && len == 4 && !memcmp(data, "data", 4), "enabled again: x reads back");
	if (rc == CMK_OK)
		free(data);
	cmk_resource_close(r);
	cmk_dekcache_free(c);

	free(env);
	cmk_close(ctx);
	cmk_close(admin);
	printf("1..%d\n", n_test);
	return n_fail ? 1 : 0;
}
