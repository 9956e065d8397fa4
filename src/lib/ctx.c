/* ctx.c - opening a vault: configuration, module, token, login; the parts
 * the layers above keep in the context, freed at close and kept across fork. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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
			return cmk_err(CMK_E_USAGE,
				       "identity '%s' has spaces or control characters", identity);
	strcpy(ctx->identity, identity);
	return CMK_OK;
}

void ctx_part_add(cmk_ctx *ctx, int id, const ctx_part *part)
{
	atomic_store(&ctx->parts[id], part);
}

enum { PREPARE, PARENT, CHILD };

/* Around fork() the parts taken before ctx->lock (before = 1) or after it. */
static void parts_fork(cmk_ctx *ctx, int step, int before)
{
	for (int n = 0; n < CTX_NPARTS; n++) {
		/* released and made anew in the reverse order of taking */
		int id = step == PREPARE ? n : CTX_NPARTS - 1 - n;
		const ctx_part *p = atomic_load(&ctx->parts[id]);
		void (*fn)(cmk_ctx *) = !p || p->before_ctx_lock != before ? NULL
					: step == PREPARE		   ? p->fork_prepare
					: step == PARENT		   ? p->fork_parent
									   : p->fork_child;
		if (fn)
			fn(ctx);
	}
}

/* fork() while other threads use this context (src/lib/p11/fork.c): the
 * context's locks are taken before the module's gate closes, in their
 * usual order (writer, the parts taken before the context's lock -- the
 * audit log --, the context, the other parts -- the key cache), and
 * released after; the child makes them anew and opens its own lock file,
 * so that its flock is not the parent's. */
static void fork_prepare(void *arg)
{
	cmk_ctx *ctx = arg;
	pthread_mutex_lock(&ctx->write_lock);
	parts_fork(ctx, PREPARE, 1);
	pthread_mutex_lock(&ctx->lock);
	parts_fork(ctx, PREPARE, 0);
}

static void fork_parent(void *arg)
{
	cmk_ctx *ctx = arg;
	parts_fork(ctx, PARENT, 0);
	pthread_mutex_unlock(&ctx->lock);
	parts_fork(ctx, PARENT, 1);
	pthread_mutex_unlock(&ctx->write_lock);
}

static void fork_child(void *arg)
{
	cmk_ctx *ctx = arg;
	parts_fork(ctx, CHILD, 0);
	pthread_mutex_init(&ctx->lock, NULL);
	parts_fork(ctx, CHILD, 1);
	if (ctx->lock_fd >= 0)
		close(ctx->lock_fd);
	ctx->lock_fd = -1;
	pthread_mutex_init(&ctx->write_lock, NULL);
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
	if (rc == CMK_OK && (rc = p11_mod_load_at(ctx->conf.module, ctx->conf.init_reserved,
						  ctx->conf.server, &ctx->mod)))
		cmk_err_prefix(rc, "%s", what);
	if (rc == CMK_OK)
		rc = p11_tok_open(ctx->mod, ctx->conf.token, what, &ctx->tok);
	if (rc == CMK_OK) {
		p11_fork_hooks hooks = { fork_prepare, fork_parent, fork_child, ctx };
		p11_tok_fork_hooks(ctx->tok, &hooks);
	}
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
	if (ctx->tok)
		p11_tok_fork_hooks(ctx->tok, NULL);
	for (int id = CTX_NPARTS; id-- > 0;) {
		const ctx_part *p = atomic_load(&ctx->parts[id]);
		if (p)
			p->free(ctx);
	}
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

/* The vault's two MAC keys are found together (one search of the token,
 * which may read every object on it) and each used through an in-token
 * session copy when the token allows one. */
cmk_rc ctx_mac_key(cmk_ctx *ctx, int which, CK_OBJECT_HANDLE *h)
{
	static const char *const labels[2] = { CTX_MAC_META_LABEL, CTX_MAC_AUDIT_LABEL };
	unsigned gen = p11_tok_gen(ctx->tok);
	pthread_mutex_lock(&ctx->lock);
	struct ctx_keyref r = ctx->mac_key[which];
	pthread_mutex_unlock(&ctx->lock);
	if (r.known && r.gen == gen) {
		*h = r.h;
		return CMK_OK;
	}
	CK_OBJECT_HANDLE tok[2];
	CMK_TRY(p11_hmac_keys_find(ctx->tok, labels, 2, tok));
	if (tok[which] == CK_INVALID_HANDLE)
		return cmk_err(
			CMK_E_NOT_FOUND,
			"%s is not initialised on token '%s' (no %s key): run `cmk vault init`",
			CTX_WHAT(ctx), p11_tok_label(ctx->tok), labels[which]);
	for (int k = 0; k < 2; k++) {
		if (tok[k] == CK_INVALID_HANDLE)
			continue;
		struct ctx_keyref nr = { .gen = gen, .known = 1 };
		pthread_mutex_lock(&ctx->lock);
		int have = k != which && ctx->mac_key[k].known && ctx->mac_key[k].gen == gen;
		pthread_mutex_unlock(&ctx->lock);
		if (have)
			continue;
		if (p11_key_session_copy(ctx->tok, tok[k], &nr.h) != CMK_OK)
			nr.h = tok[k];
		pthread_mutex_lock(&ctx->lock);
		ctx->mac_key[k] = nr;
		pthread_mutex_unlock(&ctx->lock);
		if (k == which)
			*h = nr.h;
	}
	return CMK_OK;
}

cmk_rc ctx_mac(cmk_ctx *ctx, int which, const uint8_t *a, size_t alen, const uint8_t *b,
	       size_t blen, uint8_t mac[32])
{
	static const char *const labels[2] = { CTX_MAC_META_LABEL, CTX_MAC_AUDIT_LABEL };
	CK_OBJECT_HANDLE h;
	unsigned gen = p11_tok_gen(ctx->tok);
	CMK_TRY(ctx_mac_key(ctx, which, &h));
	CK_OBJECT_HANDLE was = h;
	/* a handle refused (the module initialised again since it was found,
	 * a session copy gone with its session) is replaced on the HMAC's own
	 * session by the token key (p11_hmac): kept for the next ones */
	cmk_rc rc = p11_hmac(ctx->tok, &h, labels[which], a, alen, b, blen, mac);
	if (h != was) {
		struct ctx_keyref nr = { .h = h, .gen = gen, .known = h != CK_INVALID_HANDLE };
		pthread_mutex_lock(&ctx->lock);
		ctx->mac_key[which] = nr;
		pthread_mutex_unlock(&ctx->lock);
	}
	if (rc != CMK_OK) {
		/* found again from scratch, once */
		pthread_mutex_lock(&ctx->lock);
		ctx->mac_key[which].known = 0;
		pthread_mutex_unlock(&ctx->lock);
		CMK_TRY(ctx_mac_key(ctx, which, &h));
		rc = p11_hmac(ctx->tok, &h, labels[which], a, alen, b, blen, mac);
	}
	return rc;
}
