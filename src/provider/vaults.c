/*
 * vaults.c - the libcmk contexts of the provider, one per vault, opened on
 * first use.  libcmk contexts are thread-safe and survive fork(), so they
 * are kept for the provider's lifetime; a failed open is not remembered
 * (a wrong PIN fixed in the PIN file works on the next load).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "prov.h"

/*
 * OpenSSL tears providers down from its own atexit handler, which runs
 * after the destructors of the PKCS#11 modules loaded since: closing a
 * session then crashes SoftHSM.  A handler registered after each module
 * load runs before those destructors and marks the process as exiting;
 * the contexts are then left to the exit, still reachable from `kept`
 * (cmk.so is linked -z nodelete, so neither the handler nor `kept` goes
 * away with OpenSSL's dlclose()).
 */
static atomic_int exiting;
static cmkp_vault *kept;
static CRYPTO_ONCE kept_once = CRYPTO_ONCE_STATIC_INIT;
static CRYPTO_RWLOCK *kept_lock;

static void mark_exiting(void)
{
	atomic_store(&exiting, 1);
}

static cmkp_vault *find(cmkp_prov *p, const char *name)
{
	for (cmkp_vault *v = p->vaults; v != NULL; v = v->next)
		if (strcmp(v->name, name) == 0)
			return v;
	return NULL;
}

static int add(cmkp_prov *p, const char *name, cmk_ctx *ctx)
{
	cmkp_vault *v = OPENSSL_zalloc(sizeof *v);

	if (v == NULL || (v->name = OPENSSL_strdup(name)) == NULL) {
		OPENSSL_free(v);
		return 0;
	}
	v->ctx = ctx;
	v->next = p->vaults;
	p->vaults = v;
	return 1;
}

cmk_ctx *cmkp_vault_ctx(cmkp_prov *p, const char *vault)
{
	const char *name = vault != NULL ? vault : "";
	cmk_ctx *ctx = NULL;
	cmkp_vault *v;
	cmk_rc rc;

	if (!CRYPTO_THREAD_read_lock(p->lock))
		return NULL;
	v = find(p, name);
	ctx = v != NULL ? v->ctx : NULL;
	CRYPTO_THREAD_unlock(p->lock);
	if (ctx != NULL)
		return ctx;

	if (!CRYPTO_THREAD_write_lock(p->lock))
		return NULL;
	if ((v = find(p, name)) != NULL) {
		ctx = v->ctx;
		goto out;
	}
	/* SoftHSM's C_Initialize leaves ENGINE errors behind: drop them */
	ERR_set_mark();
	rc = cmk_open(&ctx, p->conf, *name ? name : p->vault, p->identity);
	ERR_pop_to_mark();
	if (rc != CMK_OK) {
		CMKP_ERR_RC(p, rc);
		ctx = NULL;
		goto out;
	}
	(void)atexit(mark_exiting);
	if (!add(p, name, ctx)) {
		cmk_close(ctx);
		ctx = NULL;
		CMKP_ERR(p, CMK_E_NOMEM, "out of memory opening vault %s", name);
	}
out:
	CRYPTO_THREAD_unlock(p->lock);
	return ctx;
}

static void kept_init(void)
{
	kept_lock = CRYPTO_THREAD_lock_new();
}

/* At exit: keep the contexts, reachable. */
static int keep(cmkp_vault *list)
{
	cmkp_vault *last = list;

	if (!CRYPTO_THREAD_run_once(&kept_once, kept_init) || kept_lock == NULL ||
	    !CRYPTO_THREAD_write_lock(kept_lock))
		return 0;
	while (last->next != NULL)
		last = last->next;
	last->next = kept;
	kept = list;
	CRYPTO_THREAD_unlock(kept_lock);
	return 1;
}

void cmkp_vaults_close(cmkp_prov *p)
{
	cmkp_vault *v = p->vaults, *next;

	p->vaults = NULL;
	if (v == NULL || (atomic_load(&exiting) && keep(v)))
		return;
	for (; v != NULL; v = next) {
		next = v->next;
		if (!atomic_load(&exiting))
			cmk_close(v->ctx);
		OPENSSL_free(v->name);
		OPENSSL_free(v);
	}
}
