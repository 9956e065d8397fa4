/* ctx.c - opening a vault: configuration, module, token, login. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ctx.h"
#include "util/err.h"

static cmk_rc set_identity(cmk_ctx *ctx, const char *identity)
{
	if (!identity || !*identity)
		identity = getenv("CMK_IDENTITY");
	if (!identity || !*identity)
		identity = ctx->conf.identity[0] ? ctx->conf.identity : NULL;
	if (!identity || !*identity)
		identity = getenv("USER");
	if (!identity || !*identity)
		identity = "anonymous";
	if (strlen(identity) >= sizeof ctx->identity)
		return cmk_err(CMK_E_USAGE, "identity '%.40s...' is too long", identity);
	for (const char *p = identity; *p; p++)
		if ((unsigned char)*p < 0x21 || *p == 0x7f)
			return cmk_err(CMK_E_USAGE, "identity '%s' has spaces or control characters", identity);
	strcpy(ctx->identity, identity);
	return CMK_OK;
}

cmk_rc cmk_open(cmk_ctx **out, const char *config, const char *vault, const char *identity)
{
	return_if_fail(out);
	*out = NULL;
	cmk_ctx *ctx = calloc(1, sizeof *ctx);
	if (!ctx)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	pthread_mutex_init(&ctx->lock, NULL);
	for (int i = 0; i < 5; i++)
		atomic_init(&ctx->oaep_native[i], -1);
	cmk_rc rc = cmk_config_load_vault(cmk_config_path(config), vault, &ctx->conf);
	if (rc == CMK_OK)
		rc = set_identity(ctx, identity);
	char what[96];
	snprintf(what, sizeof what, "vault %s", ctx->conf.name);
	if (rc == CMK_OK && (rc = p11_mod_load(ctx->conf.module, ctx->conf.init_reserved, &ctx->mod)))
		cmk_err_prefix(rc, "%s", what);
	if (rc == CMK_OK)
		rc = p11_tok_open(ctx->mod, ctx->conf.token, what, &ctx->tok);
	if (rc == CMK_OK) {
		char *pin = NULL;
		size_t cap = 0;
		rc = cmk_pin_read(ctx->conf.pin_source, what, &pin, &cap);
		if (rc == CMK_OK)
			rc = p11_tok_login(ctx->tok, pin);
		cmk_secure_free(pin, cap);
	}
	if (rc != CMK_OK) {
		cmk_close(ctx);
		return rc;
	}
	*out = ctx;
	return CMK_OK;
}

void cmk_close(cmk_ctx *ctx)
{
	if (!ctx)
		return;
	p11_tok_close(ctx->tok);
	p11_mod_unref(ctx->mod);
	pthread_mutex_destroy(&ctx->lock);
	cmk_wipe(ctx, sizeof *ctx);
	free(ctx);
}

const char *cmk_ctx_vault(const cmk_ctx *ctx)
{
	return ctx->conf.name;
}

const char *cmk_ctx_identity(const cmk_ctx *ctx)
{
	return ctx->identity;
}

cmk_rc ctx_mechs(cmk_ctx *ctx, p11_mechs *out)
{
	pthread_mutex_lock(&ctx->lock);
	int known = ctx->mechs_known;
	if (known)
		*out = ctx->mechs;
	pthread_mutex_unlock(&ctx->lock);
	if (known)
		return CMK_OK;
	p11_mechs m;
	CMK_TRY(p11_mechs_probe(ctx->tok, &m));
	pthread_mutex_lock(&ctx->lock);
	ctx->mechs = m;
	ctx->mechs_known = 1;
	pthread_mutex_unlock(&ctx->lock);
	*out = m;
	return CMK_OK;
}
