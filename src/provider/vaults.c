/*
 * vaults.c - the libcmk contexts of the provider, one per vault, opened on
 * first use.  libcmk contexts are thread-safe and survive fork(), so they
 * are kept for the provider's lifetime; a failed open is not remembered
 * (a wrong PIN fixed in the PIN file works on the next load).
 */
#include <stdlib.h>
#include <string.h>

#include "prov.h"

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
	rc = cmk_open(&ctx, p->conf, *name ? name : p->vault, p->identity);
	if (rc != CMK_OK) {
		CMKP_ERR_RC(p, rc);
		ctx = NULL;
		goto out;
	}
	if (!add(p, name, ctx)) {
		cmk_close(ctx);
		ctx = NULL;
		CMKP_ERR(p, CMK_E_NOMEM, "out of memory opening vault %s", name);
	}
out:
	CRYPTO_THREAD_unlock(p->lock);
	return ctx;
}

void cmkp_vaults_close(cmkp_prov *p)
{
	cmkp_vault *v = p->vaults, *next;

	for (; v != NULL; v = next) {
		next = v->next;
		cmk_close(v->ctx);
		OPENSSL_free(v->name);
		OPENSSL_free(v);
	}
	p->vaults = NULL;
}
