/*
 * dekcache.c - unwrapped data keys and root keys, bounded in time and uses.
 *
 * Entries are found by the SHA-256 of what was unwrapped (the wrapped
 * record), so a hit needs the very same wrapped bytes.  Secrets live in one
 * cmk_secure_alloc block (locked, not dumped) and are wiped when an entry
 * expires (a sweeper thread wakes at the earliest expiry while entries
 * exist), runs out of uses, on flush, on free, and when the context reports
 * a change it made (cmk_ctx_changes: a key disabled, deleted, a policy
 * changed).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "envelope/envelope.h"
#include "util/err.h"
#include "util/clock.h"

#define SECRET_MAX 64

struct entry {
	int used;
	uint8_t id[32];
	size_t len;
	char kid[CMK_KID_MAX];
	uint64_t expires;   /* monotonic ms */
	unsigned uses_left; /* 0 with max_uses 0: unlimited */
};

struct cmk_dekcache {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	cmk_ctx *ctx;
	cmk_dekcache_params p;
	struct entry *e;
	uint8_t *secrets; /* max_entries * SECRET_MAX, secure */
	size_t nused;
	uint64_t changes;
	pid_t pid;
	int sweeper, stop;
	int have_thread; /* thread is joinable */
	pthread_t thread;
	cmk_dekcache_stats st;
};

static uint64_t now_ms(void)
{
	return (uint64_t)mono_ms();
}

static void drop(cmk_dekcache *c, size_t i)
{
	cmk_wipe(c->secrets + i * SECRET_MAX, SECRET_MAX);
	memset(&c->e[i], 0, sizeof c->e[i]);
	c->nused--;
}

static void drop_all(cmk_dekcache *c)
{
	for (size_t i = 0; i < c->p.max_entries; i++)
		if (c->e[i].used) {
			drop(c, i);
			c->st.flushed++;
		}
}

/* Expired entries out; everything out if the context changed something.
 * Returns the earliest remaining expiry (0: none). */
static uint64_t sweep(cmk_dekcache *c)
{
	uint64_t t = now_ms(), next = 0;
	uint64_t ch = c->ctx ? cmk_ctx_changes(c->ctx) : 0;
	if (ch != c->changes) {
		c->changes = ch;
		drop_all(c);
	}
	for (size_t i = 0; i < c->p.max_entries; i++) {
		if (!c->e[i].used)
			continue;
		if (c->e[i].expires <= t) {
			drop(c, i);
			c->st.expired++;
		} else if (!next || c->e[i].expires < next) {
			next = c->e[i].expires;
		}
	}
	return next;
}

/* After fork() only the calling thread exists: fresh locks, no sweeper. */
static void lock(cmk_dekcache *c)
{
	if (c->pid != getpid()) {
		pthread_mutex_init(&c->mu, NULL);
		pthread_cond_init(&c->cv, NULL);
		c->sweeper = 0;
		c->have_thread = 0;
		c->pid = getpid();
	}
	pthread_mutex_lock(&c->mu);
}

static void *sweeper(void *arg)
{
	cmk_dekcache *c = arg;
	pthread_mutex_lock(&c->mu);
	while (!c->stop) {
		uint64_t next = sweep(c);
		if (!next)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t wait = next - now_ms() + 1;
		ts.tv_sec += (time_t)(wait / 1000);
		ts.tv_nsec += (long)(wait % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&c->cv, &c->mu, &ts);
	}
	c->sweeper = 0;
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

static void start_sweeper(cmk_dekcache *c)
{
	if (c->sweeper || c->stop)
		return;
	if (c->have_thread) {
		pthread_join(c->thread, NULL); /* a sweeper that has ended */
		c->have_thread = 0;
	}
	/* If no thread can be made, expiry is lazy: on each use. */
	if (pthread_create(&c->thread, NULL, sweeper, c) == 0)
		c->sweeper = c->have_thread = 1;
}

cmk_rc cmk_dekcache_new(cmk_ctx *ctx, const cmk_dekcache_params *p, cmk_dekcache **out)
{
	return_if_fail(out);
	*out = NULL;
	cmk_dekcache *c = calloc(1, sizeof *c);
	if (!c)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	if (p)
		c->p = *p;
	if (!c->p.ttl_ms)
		c->p.ttl_ms = 60000;
	if (!c->p.max_entries)
		c->p.max_entries = 1024;
	if (c->p.max_entries > 1u << 20) {
		free(c);
		return cmk_err(CMK_E_USAGE,
			       "data-key cache: %u entries is too "
			       "many (at most %u)",
			       p->max_entries, 1u << 20);
	}
	c->e = calloc(c->p.max_entries, sizeof *c->e);
	c->secrets = cmk_secure_alloc((size_t)c->p.max_entries * SECRET_MAX);
	if (!c->e || !c->secrets) {
		free(c->e);
		cmk_secure_free(c->secrets, (size_t)c->p.max_entries * SECRET_MAX);
		free(c);
		return cmk_err(CMK_E_NOMEM, "out of memory for the data-key cache");
	}
	c->ctx = ctx;
	c->changes = ctx ? cmk_ctx_changes(ctx) : 0;
	c->pid = getpid();
	pthread_mutex_init(&c->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cv, &ca);
	pthread_condattr_destroy(&ca);
	*out = c;
	return CMK_OK;
}

static void hash_id(const uint8_t *id, size_t len, uint8_t out[32])
{
	unsigned n;
	EVP_Digest(id, len, out, &n, EVP_sha256(), NULL);
}

int dekcache_get(cmk_dekcache *c, const uint8_t *id, size_t idlen, uint8_t *secret, size_t len,
		 char kid[CMK_KID_MAX])
{
	uint8_t h[32];
	int hit = 0;
	if (!c)
		return 0;
	hash_id(id, idlen, h);
	lock(c);
	sweep(c);
	for (size_t i = 0; i < c->p.max_entries; i++) {
		struct entry *e = &c->e[i];
		if (!e->used || e->len != len || CRYPTO_memcmp(e->id, h, 32))
			continue;
		memcpy(secret, c->secrets + i * SECRET_MAX, len);
		if (kid)
			memcpy(kid, e->kid, CMK_KID_MAX);
		if (c->p.max_uses && --e->uses_left == 0)
			drop(c, i);
		hit = 1;
		break;
	}
	if (hit)
		c->st.hits++;
	else
		c->st.misses++;
	pthread_mutex_unlock(&c->mu);
	return hit;
}

void dekcache_put(cmk_dekcache *c, const uint8_t *id, size_t idlen, const uint8_t *secret,
		  size_t len, const char *kid)
{
	uint8_t h[32];
	if (!c || len > SECRET_MAX || c->p.max_uses == 1)
		return;
	hash_id(id, idlen, h);
	lock(c);
	sweep(c);
	size_t slot = c->p.max_entries, oldest = 0;
	for (size_t i = 0; i < c->p.max_entries; i++) {
		if (c->e[i].used && !CRYPTO_memcmp(c->e[i].id, h, 32)) {
			slot = i; /* refresh the same key */
			break;
		}
		if (!c->e[i].used && slot == c->p.max_entries)
			slot = i;
		if (c->e[i].used && c->e[i].expires < c->e[oldest].expires)
			oldest = i;
	}
	if (slot == c->p.max_entries) { /* full: evict the oldest */
		slot = oldest;
		drop(c, slot);
	}
	struct entry *e = &c->e[slot];
	if (!e->used)
		c->nused++;
	e->used = 1;
	memcpy(e->id, h, 32);
	e->len = len;
	snprintf(e->kid, sizeof e->kid, "%s", kid ? kid : "");
	e->expires = now_ms() + c->p.ttl_ms;
	/* The unwrap that filled the entry was the first use. */
	e->uses_left = c->p.max_uses ? c->p.max_uses - 1 : 0;
	memcpy(c->secrets + slot * SECRET_MAX, secret, len);
	start_sweeper(c);
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

void dekcache_forget_key(cmk_dekcache *c, const char *kid)
{
	if (!c || !kid)
		return;
	size_t n = strlen(kid);
	lock(c);
	for (size_t i = 0; i < c->p.max_entries; i++) {
		const char *k = c->e[i].kid;
		/* The versioned id itself, or any version of a versionless id. */
		if (c->e[i].used && strncmp(k, kid, n) == 0 && (k[n] == 0 || k[n] == '/')) {
			drop(c, i);
			c->st.flushed++;
		}
	}
	pthread_mutex_unlock(&c->mu);
}

void cmk_dekcache_flush(cmk_dekcache *c)
{
	if (!c)
		return;
	lock(c);
	drop_all(c);
	pthread_mutex_unlock(&c->mu);
}

void cmk_dekcache_stats_get(cmk_dekcache *c, cmk_dekcache_stats *st)
{
	if (!c) {
		memset(st, 0, sizeof *st);
		return;
	}
	lock(c);
	sweep(c);
	*st = c->st;
	st->entries = c->nused;
	pthread_mutex_unlock(&c->mu);
}

void cmk_dekcache_free(cmk_dekcache *c)
{
	if (!c)
		return;
	lock(c);
	c->stop = 1;
	pthread_cond_broadcast(&c->cv);
	int had = c->have_thread;
	c->have_thread = 0;
	pthread_mutex_unlock(&c->mu);
	if (had)
		pthread_join(c->thread, NULL);
	drop_all(c);
	cmk_secure_free(c->secrets, (size_t)c->p.max_entries * SECRET_MAX);
	free(c->e);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}
