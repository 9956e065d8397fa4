/* op_resource.c - resource put and get, with and without the data-key cache.
 *
 * One resource for the run ("bench-XXXXXXXX" in a temporary directory,
 * removed at the end with its service key) and one cmk_dekcache for its
 * root key, shared by the threads.  Each thread opens its own handle on
 * the resource (a cmk_resource keeps its lock and state per handle) and
 * writes and reads its own object, so objects do not pile up.
 */
#include "config.h"
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/rand.h>
#include "bench/bench_int.h"

typedef struct res_env {
	char dir[4096];
	char name[CMK_RESOURCE_NAME_MAX];
	cmk_dekcache *cache;
	uint8_t *data;
	size_t size;
	int tried; /* cmk_resource_create was called */
} res_env;

typedef struct res_thread {
	cmk_resource *r;
	char object[64];
} res_thread;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	return remove(path);
}

/* A resource's service-managed key belongs to it: delete and purge the
 * resource through the resource API (for a killed run's too, keys.c).
 * A run killed inside cmk_resource_create, before the state was saved,
 * left a directory that is no resource and may have made the resource's
 * identity and service key (a key only its resource may delete): a create
 * of that name takes them over (src/lib/resource/objects.c), and the
 * resource is then removed with them. */
cmk_rc bench_resource_purge_dir(cmk_ctx *ctx, const char *dir, const char *name)
{
	cmk_resource *res;
	cmk_resource_params p = { .dir = dir };
	cmk_rc rc = cmk_resource_open(ctx, &p, name, &res);
	if (rc == CMK_E_NOT_FOUND && (rc = cmk_resource_create(ctx, &p, name)) == CMK_OK)
		rc = cmk_resource_open(ctx, &p, name, &res);
	if (rc == CMK_OK) {
		(void)cmk_resource_delete(res); /* deleted already: purged next */
		rc = cmk_resource_purge(res);
		cmk_resource_close(res);
	}
	return rc;
}

void bench_resource_env_free(bench_env *e)
{
	res_env *r = e->res;
	if (!r)
		return;
	if (r->cache)
		cmk_dekcache_free(r->cache);
	if (r->tried && bench_resource_purge_dir(e->ctx, r->dir, r->name) != CMK_OK)
		bench_left_over(e, r->dir); /* kept: the next run removes it */
	else if (r->dir[0])
		nftw(r->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(r->data);
	free(r);
	e->res = NULL;
}

static cmk_rc make(bench_env *e, res_env *r)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(r->dir, sizeof r->dir, "%s/cmk-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", e->tag);
	if (!mkdtemp(r->dir)) {
		r->dir[0] = '\0';
		return bench_err(CMK_E_IO, "cannot make a temporary directory for the resource");
	}
	char vf[4200];
	snprintf(vf, sizeof vf, "%s/%s", r->dir, BENCH_VAULT_FILE);
	FILE *f = fopen(vf, "w");
	int ok = f && fputs(e->vault_id, f) >= 0;
	if (f && fclose(f) != 0)
		ok = 0;
	if (!ok)
		return bench_err(CMK_E_IO, "cannot write %s", vf);
	snprintf(r->name, sizeof r->name, "%s", e->tag);
	r->size = e->o->object_size;
	if (!(r->data = malloc(r->size ? r->size : 1)))
		return bench_err(CMK_E_NOMEM, "out of memory");
	if (RAND_bytes(r->data, (int)r->size) != 1)
		return bench_err(CMK_E_INTERNAL, "no random bytes");
	cmk_resource_params p = { .dir = r->dir };
	r->tried = 1;
	LIB_TRY(cmk_resource_create(e->mk, &p, r->name));
	cmk_dekcache_params cp = { 0 };
	return bench_lib(cmk_dekcache_new(e->mk, &cp, &r->cache));
}

static cmk_rc res_setup(bench_case *c)
{
	bench_env *e = c->env;
	if (!e->mk) {
		bench_skip(c,
			   "skipped: %s, so the resource's service key could not be "
			   "removed after the run",
			   e->cannot_make_keys);
		return CMK_OK;
	}
	pthread_mutex_lock(&e->lock);
	cmk_rc rc = CMK_OK;
	if (!e->res) {
		res_env *r = calloc(1, sizeof *r);
		if (!r) {
			rc = bench_err(CMK_E_NOMEM, "out of memory");
		} else {
			e->res = r;
			rc = make(e, r);
		}
	}
	pthread_mutex_unlock(&e->lock);
	c->state = e->res;
	return rc;
}

static int cached(bench_case *c)
{
	return c->k == &bench_kind_res_put_cache || c->k == &bench_kind_res_get_cache;
}

static void res_thread_fini(bench_case *c, void *vt)
{
	res_thread *t = vt;
	if (t->r)
		cmk_resource_close(t->r);
	free(t);
}

static cmk_rc res_thread_init(bench_case *c, unsigned idx, void **out)
{
	res_env *r = c->state;
	res_thread *t = calloc(1, sizeof *t);
	if (!t)
		return bench_err(CMK_E_NOMEM, "out of memory");
	cmk_resource_params p = { .dir = r->dir, .cache = cached(c) ? r->cache : NULL };
	snprintf(t->object, sizeof t->object, "bench-%ld-%u", (long)getpid(), idx);
	cmk_rc rc = bench_lib(cmk_resource_open(c->env->mk, &p, r->name, &t->r));
	if (rc == CMK_OK) /* the object a get reads */
		rc = bench_lib(cmk_resource_put(t->r, t->object, r->data, r->size));
	if (rc != CMK_OK) {
		res_thread_fini(c, t);
		return rc;
	}
	*out = t;
	return CMK_OK;
}

static cmk_rc put_one(bench_case *c, void *vt)
{
	res_env *r = c->state;
	res_thread *t = vt;
	return bench_lib(cmk_resource_put(t->r, t->object, r->data, r->size));
}

static cmk_rc get_one(bench_case *c, void *vt)
{
	res_env *r = c->state;
	res_thread *t = vt;
	uint8_t *data = NULL;
	size_t len = 0;
	LIB_TRY(cmk_resource_get(t->r, t->object, &data, &len));
	cmk_rc rc = len == r->size ? CMK_OK
				   : bench_err(CMK_E_INTERNAL, "get gave %zu bytes, not %zu", len,
					       r->size);
	cmk_wipe(data, len);
	cmk_free(data);
	return rc;
}

/* Uncached, each operation unwraps the root key on the token: its limit. */
#define RES_KIND(var, nm, fn, lim, w)           \
	const bench_kind var = {                \
		.name = nm,                     \
		.group = "resource",            \
		.cls = BENCH_CMK,               \
		.what = w,                      \
		.hsm_limit = lim,               \
		.sized = 2,                     \
		.setup = res_setup,             \
		.thread_init = res_thread_init, \
		.thread_fini = res_thread_fini, \
		.one = fn,                      \
	}

RES_KIND(bench_kind_res_put, "put", put_one, "p11-decrypt",
	 "cmk_resource_put of one object (new DEK, root key unwrapped on the token)");
RES_KIND(bench_kind_res_get, "get", get_one, "p11-decrypt",
	 "cmk_resource_get of one object (root key unwrapped on the token)");
RES_KIND(bench_kind_res_put_cache, "put-cached", put_one, NULL,
	 "cmk_resource_put with the root key from a shared cmk_dekcache");
RES_KIND(bench_kind_res_get_cache, "get-cached", get_one, NULL,
	 "cmk_resource_get with the root key from a shared cmk_dekcache");
