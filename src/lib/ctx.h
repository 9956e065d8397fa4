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
	struct ctx_keycache *keycache;      /* handle.c: resolved key handles */
	int lock_fd;                        /* vault lock file, -1 if not open */
	pthread_mutex_t write_lock;         /* one writer per process */
	_Atomic int write_held;             /* by write_owner: */
	pthread_t write_owner;
	_Atomic uint64_t changes;           /* bumped by every change made here */
	struct cmk_ctx *fork_next;          /* ctx.c: the contexts of the process */
	/* vault/view.c: is this process's view of the token complete? */
	_Atomic unsigned long view_writes;  /* p11_writes() when it last was */
	uint64_t view_seq;                  /* the lock file's counter then */
	int view_seq_known;
	unsigned long lock_writes;          /* p11_writes() when the lock was taken */
	int heal_failed;                    /* vault_heal failed under this hold */
	int lock_marked;                    /* the lock file says "in progress" */
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
/* The same lock for bookkeeping objects (the audit anchor): blocking or
 * not (*got says whether it was taken); released without counting a
 * change of the vault. */
cmk_rc ctx_write_try(cmk_ctx *ctx, int blocking, int *got);
/* Whether the calling thread holds it. */
int ctx_write_held(cmk_ctx *ctx);
void ctx_write_release(cmk_ctx *ctx);

/* A key handle for an id, from the context's cache of resolved handles
 * (handle.c); close it with cmk_key_close. */
cmk_rc key_open_cached(cmk_ctx *ctx, const char *keyid, cmk_key **out);
void keycache_free(cmk_ctx *ctx);
void keycache_fork_lock(cmk_ctx *ctx, int lock);   /* 1 lock, 0 unlock */
void keycache_fork_child(cmk_ctx *ctx);             /* the lock made anew */

/* The token's mechanisms, probed once per context. */
cmk_rc ctx_mechs(cmk_ctx *ctx, p11_mechs *out);
/* The vault record; CMK_E_NOT_FOUND if `vault init` was never run. */
cmk_rc ctx_vault_record(cmk_ctx *ctx, meta_vault *out);
/* "vault lab" etc., for messages */
#define CTX_WHAT(ctx) p11_tok_what((ctx)->tok)

#endif
