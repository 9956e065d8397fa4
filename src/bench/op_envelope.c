/* op_envelope.c - envelope seal and open at the chosen object sizes.
 *
 * The streaming calls with a buffer per thread (cmk_seal_init, update of
 * the whole object, final), so what is measured is the envelope: a fresh
 * DEK wrapped under the run's key and AES-256-GCM frames, or the header
 * parsed, the DEK unwrapped on the token and the frames opened.  The
 * open-cached case opens the same envelope with a cmk_dekcache, so after
 * the first open its DEK comes from the cache: the software part alone.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>
#include "bench/bench_int.h"

typedef struct env_state {
	uint8_t *data;	 /* the object */
	uint8_t *sealed; /* it sealed, for open */
	size_t sealed_len;
	const char *kid;
	cmk_seal_params sp;
	cmk_unseal_params up;
	cmk_dekcache *cache;
} env_state;

typedef struct env_thread {
	uint8_t *buf;
	size_t cap;
} env_thread;

static cmk_rc open_one(bench_case *c, void *vt);
static cmk_rc env_thread_init(bench_case *c, unsigned idx, void **out);
static void env_thread_fini(bench_case *c, void *vt);

static cmk_rc grow(env_thread *t, size_t need)
{
	if (need <= t->cap)
		return CMK_OK;
	uint8_t *b = realloc(t->buf, need);
	if (!b)
		return bench_err(CMK_E_NOMEM, "out of memory for %zu bytes", need);
	t->buf = b;
	t->cap = need;
	return CMK_OK;
}

/* Seal st->data into t's buffer; *len gets the envelope's length. */
static cmk_rc seal(bench_case *c, env_state *st, env_thread *t, size_t *len)
{
	cmk_sealer *s;
	LIB_TRY(cmk_seal_init(c->env->ctx, &st->sp, &s));
	cmk_rc rc = grow(t, cmk_seal_out_max(s, c->size) + cmk_seal_out_max(s, 0));
	size_t a = t->cap, b;
	if (rc == CMK_OK)
		rc = bench_lib(cmk_seal_update(s, st->data, c->size, t->buf, &a));
	if (rc == CMK_OK) {
		b = t->cap - a;
		rc = bench_lib(cmk_seal_final(s, t->buf + a, &b));
	}
	cmk_seal_free(s);
	if (rc == CMK_OK)
		*len = a + b;
	return rc;
}

static cmk_rc env_setup(bench_case *c)
{
	bench_env *e = c->env;
	env_state *st = calloc(1, sizeof *st);
	if (!st)
		return bench_err(CMK_E_NOMEM, "out of memory");
	c->state = st;
	st->kid = cmk_key_kid(e->key);
	st->sp.keyids = &st->kid;
	st->sp.nkeys = 1;
	st->sp.alg = e->alg;
	if (!(st->data = malloc(c->size ? c->size : 1)))
		return bench_err(CMK_E_NOMEM, "out of memory for %zu bytes", c->size);
	if (RAND_bytes(st->data, (int)c->size) != 1)
		return bench_err(CMK_E_INTERNAL, "no random bytes");
	env_thread t = { NULL, 0 };
	cmk_rc rc = seal(c, st, &t, &st->sealed_len);
	st->sealed = t.buf;
	if (rc != CMK_OK || c->k != &bench_kind_open_cache)
		return rc;
	cmk_dekcache_params cp = { 0 };
	LIB_TRY(cmk_dekcache_new(e->ctx, &cp, &st->cache));
	st->up.cache = st->cache;
	void *ot = NULL;
	BENCH_TRY(env_thread_init(c, 0, &ot));
	rc = open_one(c, ot); /* puts the DEK in the cache */
	env_thread_fini(c, ot);
	return rc;
}

static void env_teardown(bench_case *c)
{
	env_state *st = c->state;
	if (!st)
		return;
	if (st->cache)
		cmk_dekcache_free(st->cache);
	free(st->data);
	free(st->sealed);
	free(st);
}

static cmk_rc env_thread_init(bench_case *c, unsigned idx, void **out)
{
	env_thread *t = calloc(1, sizeof *t);
	if (!t)
		return bench_err(CMK_E_NOMEM, "out of memory");
	*out = t;
	return CMK_OK;
}

static void env_thread_fini(bench_case *c, void *vt)
{
	env_thread *t = vt;
	free(t->buf);
	free(t);
}

static cmk_rc seal_one(bench_case *c, void *t)
{
	size_t len;
	return seal(c, c->state, t, &len);
}

static cmk_rc open_one(bench_case *c, void *vt)
{
	env_state *st = c->state;
	env_thread *t = vt;
	cmk_unsealer *u;
	LIB_TRY(cmk_unseal_init(c->env->ctx, &st->up, &u));
	cmk_rc rc = grow(t, cmk_unseal_out_max(u, st->sealed_len));
	size_t len = t->cap;
	if (rc == CMK_OK)
		rc = bench_lib(cmk_unseal_update(u, st->sealed, st->sealed_len, t->buf, &len));
	if (rc == CMK_OK)
		rc = bench_lib(cmk_unseal_final(u));
	cmk_unseal_free(u);
	if (rc == CMK_OK && len != c->size)
		rc = bench_err(CMK_E_INTERNAL, "open gave %zu bytes, not %zu", len, c->size);
	return rc;
}

const bench_kind bench_kind_seal = {
	.name = "seal",
	.group = "envelope",
	.cls = BENCH_CMK,
	.what = "cmk_seal_init/update/final: new DEK wrapped under the key, AES-256-GCM frames",
	.cpu_limit = "ossl-aes-gcm-buffer",
	.cpu_limit_sized = 1,
	.sized = 1,
	.setup = env_setup,
	.teardown = env_teardown,
	.thread_init = env_thread_init,
	.thread_fini = env_thread_fini,
	.one = seal_one,
};

const bench_kind bench_kind_open = {
	.name = "open",
	.group = "envelope",
	.cls = BENCH_CMK,
	.what = "cmk_unseal_init/update/final: header, DEK unwrapped on the token, frames",
	.hsm_limit = "p11-decrypt",
	.cpu_limit = "ossl-aes-gcm-buffer",
	.cpu_limit_sized = 1,
	.sized = 1,
	.setup = env_setup,
	.teardown = env_teardown,
	.thread_init = env_thread_init,
	.thread_fini = env_thread_fini,
	.one = open_one,
};

const bench_kind bench_kind_open_cache = {
	.name = "open-cached",
	.group = "envelope",
	.cls = BENCH_CMK,
	.what = "cmk_unseal_init/update/final with the DEK from a cmk_dekcache",
	.cpu_limit = "ossl-aes-gcm-buffer",
	.cpu_limit_sized = 1,
	.sized = 1,
	.setup = env_setup,
	.teardown = env_teardown,
	.thread_init = env_thread_init,
	.thread_fini = env_thread_fini,
	.one = open_one,
};
