/* policy.h - access policies: identity -> key permissions. */
#ifndef CMK_POLICY_H
#define CMK_POLICY_H

#include "ctx.h"

#define META_APP_POLICY "cmk/policy"

/* Check that the context's identity holds `perm`; `key` names the key (or
 * NULL) for the message.  Reads through a cache of policy_cache_ms. */
cmk_rc policy_check(cmk_ctx *ctx, unsigned perm, const char *key);
/* Write a grant record (caller holds the write lock). */
cmk_rc policy_write(cmk_ctx *ctx, const char *identity, unsigned perms);
/* Remove an identity's policy records (caller holds the write lock). */
cmk_rc policy_erase(cmk_ctx *ctx, const char *identity);
/* Only the vault's administrator; `what` names what is edited. */
cmk_rc policy_check_admin(cmk_ctx *ctx, const char *what);
void policy_cache_invalidate(cmk_ctx *ctx);

#endif
