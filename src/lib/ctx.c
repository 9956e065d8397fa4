/* ctx.c - opening a vault: configuration, module, token, login. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/file.h>
#include "ctx.h"
#include "vault/view.h"
#include "vault/policy.h"
#include "vault/audit.h"
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
	pthread_mutex_init(&ctx->write_lock, NULL);
	ctx->lock_fd = -1;
	for (int i = 0; i < 5; i++)
		atomic_init(&ctx->oaep_native[i], -1);
	cmk_rc rc = cmk_config_load_vault(cmk_config_path(config), vault, &ctx->conf);
	if (rc == CMK_OK)
		rc = set_identity(ctx, identity);
	char what[96];
	snprintf(what, sizeof what, "vault %s", ctx->conf.name);
	if (rc == CMK_OK && (rc = p11_mod_load_at(ctx->conf.module, ctx->conf.init_reserved, ctx->conf.server, &ctx->mod)))
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
	audit_close(ctx);
	policy_cache_free(ctx);
	if (ctx->lock_fd >= 0)
		close(ctx->lock_fd);
	p11_tok_close(ctx->tok);
	p11_mod_unref(ctx->mod);
	pthread_mutex_destroy(&ctx->write_lock);
	pthread_mutex_destroy(&ctx->lock);
	cmk_wipe(ctx, sizeof *ctx);
	free(ctx);
}

const char *cmk_ctx_vault(const cmk_ctx *ctx)
{
	return ctx->conf.name;
}

uint64_t cmk_ctx_changes(const cmk_ctx *ctx)
{
	return atomic_load(&((cmk_ctx *)ctx)->changes);
}

const char *cmk_ctx_propquery(const cmk_ctx *ctx)
{
	return ctx->conf.propquery;
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

cmk_rc ctx_mac_key(cmk_ctx *ctx, int which, CK_OBJECT_HANDLE *h)
{
	unsigned gen = p11_tok_gen(ctx->tok);
	pthread_mutex_lock(&ctx->lock);
	struct ctx_keyref r = ctx->mac_key[which];
	pthread_mutex_unlock(&ctx->lock);
	if (r.known && r.gen == gen) {
		*h = r.h;
		return CMK_OK;
	}
	const char *label = which == CTX_MAC_META ? CTX_MAC_META_LABEL : CTX_MAC_AUDIT_LABEL;
	CK_OBJECT_HANDLE tok;
	CMK_TRY(p11_hmac_key_find(ctx->tok, label, &tok));
	if (tok == CK_INVALID_HANDLE)
		return cmk_err(CMK_E_NOT_FOUND, "%s is not initialised on token '%s' (no %s key): run `cmk vault init`",
		               CTX_WHAT(ctx), p11_tok_label(ctx->tok), label);
	/* use an in-token session copy when the token allows one */
	if (p11_key_session_copy(ctx->tok, tok, &r.h) != CMK_OK)
		r.h = tok;
	r.gen = gen;
	r.known = 1;
	pthread_mutex_lock(&ctx->lock);
	ctx->mac_key[which] = r;
	pthread_mutex_unlock(&ctx->lock);
	*h = r.h;
	return CMK_OK;
}

cmk_rc ctx_mac(cmk_ctx *ctx, int which, const uint8_t *a, size_t alen, const uint8_t *b,
               size_t blen, uint8_t mac[32])
{
	CK_OBJECT_HANDLE h;
	CMK_TRY(ctx_mac_key(ctx, which, &h));
	cmk_rc rc = p11_hmac(ctx->tok, h, a, alen, b, blen, mac);
	if (rc != CMK_OK) {
		/* the session copy went with its session: find and copy again */
		pthread_mutex_lock(&ctx->lock);
		ctx->mac_key[which].known = 0;
		pthread_mutex_unlock(&ctx->lock);
		CMK_TRY(ctx_mac_key(ctx, which, &h));
		rc = p11_hmac(ctx->tok, h, a, alen, b, blen, mac);
	}
	return rc;
}

/* The lock file sits next to the configuration unless lock_file says
 * otherwise; every process changing the vault on this host takes it. */
cmk_rc ctx_write_begin(cmk_ctx *ctx)
{
	pthread_mutex_lock(&ctx->write_lock);
	if (ctx->lock_fd < 0) {
		ctx->lock_fd = open(ctx->conf.lock_file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (ctx->lock_fd < 0) {
			pthread_mutex_unlock(&ctx->write_lock);
			return cmk_err(CMK_E_IO, "%s: lock file %s: %s", CTX_WHAT(ctx), ctx->conf.lock_file,
			               strerror(errno));
		}
	}
	while (flock(ctx->lock_fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			pthread_mutex_unlock(&ctx->write_lock);
			return cmk_err(CMK_E_IO, "%s: cannot lock %s: %s", CTX_WHAT(ctx), ctx->conf.lock_file,
			               strerror(errno));
		}
	}
	/* start every change from a complete view of the token */
	cmk_rc rc = vault_lock_taken(ctx);
	if (rc != CMK_OK) {
		flock(ctx->lock_fd, LOCK_UN);
		pthread_mutex_unlock(&ctx->write_lock);
	}
	return rc;
}

void ctx_write_end(cmk_ctx *ctx)
{
	atomic_fetch_add(&ctx->changes, 1);
	vault_lock_releasing(ctx);
	flock(ctx->lock_fd, LOCK_UN);
	pthread_mutex_unlock(&ctx->write_lock);
}
