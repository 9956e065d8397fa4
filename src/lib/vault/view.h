/* view.h - a process's view of the token's objects, and the vault lock's
 * change counter (docs/design.md, "Several processes on one token").
 *
 * SoftHSM 2.6 re-reads its object directory only when the token's
 * generation file changed since it last looked; a process that creates or
 * destroys an object of its own first takes the new generation as seen, and
 * so can miss objects other processes created just before, until someone
 * else writes.  Every change under the vault lock must start from a
 * complete view, so: each lock holder that changed the token bumps a
 * counter kept in the lock file; a process taking the lock whose counter
 * moved since it last held it, and which wrote to the token since its
 * view was last known complete, re-initialises the module first. */
#ifndef CMK_VIEW_H
#define CMK_VIEW_H

#include "ctx.h"

/* Right after taking the vault lock / right before releasing it.  For a
 * change (not the audit anchor's bookkeeping), vault_lock_taken first
 * heals what a holder that died in its change left (check.h), then marks
 * the lock file "in progress" until vault_lock_releasing. */
cmk_rc vault_lock_taken(cmk_ctx *ctx, int change);
void vault_lock_releasing(cmk_ctx *ctx);
/* Re-initialise if this process wrote to the token since its view of ctx's
 * vault was last known complete (readers, on a missing working copy). */
cmk_rc vault_view_refresh(cmk_ctx *ctx);
/* Hold the vault lock shared, after waiting for a change in progress to
 * end: no process changes the vault until vault_read_end(), so what a
 * reader reads meanwhile is one state of it, never the middle of a change.
 * Only for a few reads on a rare path (a missing working copy): every
 * change waits meanwhile, and so does a fork() (the process's writer lock
 * is held too).  Holds nothing when the calling thread holds the lock
 * itself; only the writer lock when there is no lock file to hold.  The
 * reads under it must not take the writer lock (vault_view_refresh()
 * goes before). */
typedef struct {
	int fd;	   /* the lock file held shared, or -1 */
	int mutex; /* ctx->write_lock held */
} vault_read_hold;
vault_read_hold vault_read_begin(cmk_ctx *ctx);
void vault_read_end(cmk_ctx *ctx, vault_read_hold h);

#endif
