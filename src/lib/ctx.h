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
	struct ctx_keyref { CK_OBJECT_HANDLE h; unsigned gen; int known; } mac_key[2];
	struct ctx_policy_cache *policies;  /* policy.c */
	struct ctx_audit *audit;            /* audit.c */
	int lock_fd;                        /* vault lock file, -1 if not open */
	pthread_mutex_t write_lock;         /* one writer per process */
	_Atomic uint64_t changes;           /* bumped by every change made here */
	/* vault/view.c: is this process's view of the token complete? */
	_Atomic unsigned long view_writes;  /* p11_writes() when it last was */
	uint64_t view_seq;                  /* the lock file's counter then */
	int view_seq_known;
	unsigned long lock_writes;          /* p11_writes() when the lock was taken */
};

/* Token-held HMAC keys of the vault. */
enum { CTX_MAC_META = 0, CTX_MAC_AUDIT = 1 };
#define CTX_MAC_META_LABEL "cmk-metadata-mac"
#define CTX_MAC_AUDIT_LABEL "cmk-audit-mac"
cmk_rc ctx_mac_key(cmk_ctx *ctx, int which, CK_OBJECT_HANDLE *h);
/* HMAC-SHA-256 over a || b with one of the vault's keys, on the token. */
cmk_rc ctx_mac(cmk_ctx *ctx, int which, const uint8_t *a, size_t alen, const uint8_t *b,
               size_t blen, uint8_t mac[32]);

/* Serialise changes to the vault: a process mutex and an flock on the
 * vault's lock file (docs/design.md, "Concurrency"). */
cmk_rc ctx_write_begin(cmk_ctx *ctx);
void ctx_write_end(cmk_ctx *ctx);

/* The token's mechanisms, probed once per context. */
cmk_rc ctx_mechs(cmk_ctx *ctx, p11_mechs *out);
/* The vault record; CMK_E_NOT_FOUND if `vault init` was never run. */
cmk_rc ctx_vault_record(cmk_ctx *ctx, meta_vault *out);
/* "vault lab" etc., for messages */
#define CTX_WHAT(ctx) p11_tok_what((ctx)->tok)

#endif
