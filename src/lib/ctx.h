/* ctx.h - the context behind cmk_ctx: one vault, one identity. */
#ifndef CMK_CTX_H
#define CMK_CTX_H

#include <pthread.h>
#include <stdatomic.h>
#include "conffile.h"
#include "p11/p11.h"
#include "vault/meta.h"

struct cmk_ctx {
	cmk_vault_conf conf;
	char identity[CMK_IDENTITY_MAX];
	p11_mod *mod;
	p11_tok *tok;
	pthread_mutex_t lock;    /* guards the cached fields below */
	int mechs_known;
	p11_mechs mechs;
	_Atomic int oaep_native[5]; /* by p11_hash: -1 unknown, 0 refused, 1 works */
};

/* The token's mechanisms, probed once per context. */
cmk_rc ctx_mechs(cmk_ctx *ctx, p11_mechs *out);
/* The vault record; CMK_E_NOT_FOUND if `vault init` was never run. */
cmk_rc ctx_vault_record(cmk_ctx *ctx, meta_vault *out);
/* "vault lab" etc., for messages */
#define CTX_WHAT(ctx) p11_tok_what((ctx)->tok)

#endif
