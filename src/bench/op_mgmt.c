/* op_mgmt.c - management operations per second: key create and rotate.
 *
 * Keys are named after the run's tag (bench-XXXXXXXX-c... and -r...) and
 * purged after each measurement, so the token holds as many objects for
 * every measurement as before the first (lookups on a token slow down with
 * its object count); hence these run only where purging is allowed.
 * Each thread rotates a key of its own; a CMK_E_CONFLICT (another process
 * changed the vault at the same moment) is retried, as a caller would. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "bench/bench_int.h"

static _Atomic unsigned created;

typedef struct mgmt_thread {
	char name[CMK_NAME_MAX];
} mgmt_thread;

static cmk_rc mgmt_setup(bench_case *c)
{
	if (!c->env->mk)
		bench_skip(c,
			   "skipped: %s, so the keys it makes could not be removed after "
			   "the run",
			   c->env->cannot_make_keys);
	return CMK_OK;
}

/* The keys of this kind: bench-XXXXXXXX-c or -r. */
static void purge_made(bench_case *c)
{
	char prefix[64];
	snprintf(prefix, sizeof prefix, "%s-%c", c->env->tag,
		 c->k == &bench_kind_key_create ? 'c' : 'r');
	bench_purge_prefix(c->env, prefix);
}

static cmk_rc create_one(bench_case *c, void *t)
{
	bench_env *e = c->env;
	char name[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1];
	snprintf(name, sizeof name, "%s-c%ld-%u", e->tag, (long)getpid(),
		 atomic_fetch_add(&created, 1));
	return bench_key_create(e, name, cmk_key_bits(e->key), ver);
}

static cmk_rc rotate_thread_init(bench_case *c, unsigned idx, void **out)
{
	bench_env *e = c->env;
	mgmt_thread *t = calloc(1, sizeof *t);
	char ver[CMK_VERSION_LEN + 1];
	if (!t)
		return bench_err(CMK_E_NOMEM, "out of memory");
	snprintf(t->name, sizeof t->name, "%s-r%ld-%u", e->tag, (long)getpid(), idx);
	cmk_key_info info;
	cmk_rc rc = cmk_key_info_get(e->mk, t->name, 0, &info);
	if (rc == CMK_E_NOT_FOUND) /* purged after each measurement */
		rc = bench_key_create(e, t->name, cmk_key_bits(e->key), ver);
	if (rc != CMK_OK) {
		free(t);
		return rc;
	}
	*out = t;
	return CMK_OK;
}

static void rotate_thread_fini(bench_case *c, void *t)
{
	free(t);
}

static cmk_rc rotate_one(bench_case *c, void *vt)
{
	mgmt_thread *t = vt;
	char ver[CMK_VERSION_LEN + 1];
	cmk_rc rc;
	for (int i = 0; i < 10; i++)
		if ((rc = cmk_key_rotate(c->env->mk, t->name, NULL, ver)) != CMK_E_CONFLICT)
			break;
	return bench_lib(rc);
}

const bench_kind bench_kind_key_create = {
	.name = "key-create",
	.group = "mgmt",
	.cls = BENCH_CMK,
	.what = "cmk_key_create: key pair generated on the token plus its metadata",
	.hsm_limit = "p11-keygen",
	.slow = 1,
	.setup = mgmt_setup,
	.one = create_one,
	.after = purge_made,
};

const bench_kind bench_kind_key_rotate = {
	.name = "key-rotate",
	.group = "mgmt",
	.cls = BENCH_CMK,
	.what = "cmk_key_rotate of a key per thread: new version generated on the token",
	.hsm_limit = "p11-keygen",
	.slow = 1,
	.setup = mgmt_setup,
	.thread_init = rotate_thread_init,
	.thread_fini = rotate_thread_fini,
	.one = rotate_one,
	.after = purge_made,
};
