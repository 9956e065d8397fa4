/* lock.h - the vault lock: changes to a vault are serialised by a process
 * mutex and an flock on the vault's lock file (docs/design.md,
 * "Concurrency"); the file's line says whether a change is in progress
 * (view.h, docs/design.md "Interrupted changes"). */
#ifndef CMK_VAULT_LOCK_H
#define CMK_VAULT_LOCK_H

#include "ctx.h"

/* Take it for a change (healing first what a killed change left), and
 * release it after the change, counting it. */
cmk_rc vault_write_begin(cmk_ctx *ctx);
void vault_write_end(cmk_ctx *ctx);
/* The same lock for bookkeeping objects (the audit anchor): blocking or
 * not (*got says whether it was taken); released without counting a
 * change of the vault. */
cmk_rc vault_write_try(cmk_ctx *ctx, int blocking, int *got);
/* Whether the calling thread holds it. */
int vault_write_held(cmk_ctx *ctx);
void vault_write_release(cmk_ctx *ctx);

#endif
