/* ctx.h - the context behind cmk_ctx: one vault, one identity. */
#ifndef CMK_CTX_H
#define CMK_CTX_H

#include <pthread.h>
#include <stdatomic.h>
#include "conffile.h"
#include "p11/p11.h"

struct cmk_ctx {
	cmk_vault_conf conf;
	char identity[CMK_IDENTITY_MAX];
	p11_mod *mod;
	p11_tok *tok;
	pthread_mutex_t lock; /* guards the cached fields below */
	int mechs_known;
	p11_mechs mechs;
	_Atomic int oaep_native[5]; /* by p11_hash: -1 unknown, 0 refused, 1 works */
	struct ctx_keyref {
		CK_OBJECT_HANDLE h;
		unsigned gen;
		int known;
	} mac_key[2];
	/* the parts of the layers above (ctx_part_add) */
	struct ctx_policy_cache *policies;	 /* vault/policy.c */
	struct ctx_audit *audit;		 /* vault/audit.c */
	struct ctx_keycache *keycache;		 /* crypto/handle.c: resolved key handles */
	const struct ctx_part *_Atomic parts[3]; /* CTX_NPARTS */
	int lock_fd;				 /* vault lock file, -1 if not open */
	pthread_mutex_t write_lock;		 /* one writer per process */
	_Atomic int write_held;			 /* by write_owner: */
	pthread_t write_owner;
	_Atomic uint64_t changes;  /* bumped by every change made here */
	struct cmk_ctx *fork_next; /* ctx.c: the contexts of the process */
	/* vault/view.c: is this process's view of the token complete? */
	_Atomic unsigned long view_writes; /* p11_writes() when it last was */
	uint64_t view_seq;		   /* the lock file's counter then */
	int view_seq_known;
	unsigned long lock_writes; /* p11_writes() when the lock was taken */
	int heal_failed;	   /* vault_heal failed under this hold */
	int lock_marked;	   /* the lock file says "in progress" */
};

/* Token-held HMAC keys of the vault. */
enum { CTX_MAC_META = 0, CTX_MAC_AUDIT = 1 };
#define CTX_MAC_META_LABEL  "cmk-metadata-mac"
#define CTX_MAC_AUDIT_LABEL "cmk-audit-mac"
cmk_rc ctx_mac_key(cmk_ctx *ctx, int which, CK_OBJECT_HANDLE *h);
/* HMAC-SHA-256 over a || b with one of the vault's keys, on the token. */
cmk_rc ctx_mac(cmk_ctx *ctx, int which, const uint8_t *a, size_t alen, const uint8_t *b,
	       size_t blen, uint8_t mac[32]);

/* The state the layers above keep in the context (the vault's audit log
 * and policy cache, the key-handle cache of crypto/): each layer makes its
 * part on first use and, holding ctx->lock, adds what the context must do
 * with it: free it when the context is closed, and around fork() take its
 * locks (before ctx->lock, or after it), release them in the parent and
 * make them anew in the child.  So the context calls nothing above it. */
enum { CTX_PART_AUDIT, CTX_PART_POLICY, CTX_PART_KEYCACHE, CTX_NPARTS };
typedef struct ctx_part {
	void (*free)(cmk_ctx *ctx);
	int before_ctx_lock;
	void (*fork_prepare)(cmk_ctx *ctx); /* each may be NULL */
	void (*fork_parent)(cmk_ctx *ctx);
	void (*fork_child)(cmk_ctx *ctx);
} ctx_part;
void ctx_part_add(cmk_ctx *ctx, int id, const ctx_part *part);

/* The token's mechanisms, probed once per context. */
cmk_rc ctx_mechs(cmk_ctx *ctx, p11_mechs *out);
/* "vault lab" etc., for messages */
#define CTX_WHAT(ctx) p11_tok_what((ctx)->tok)

#endif
