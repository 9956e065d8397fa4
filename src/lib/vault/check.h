/* check.h - finishing or undoing what an interrupted change left
 * (docs/design.md, "Interrupted changes"). */
#ifndef CMK_CHECK_H
#define CMK_CHECK_H

#include "ctx.h"

/* Under the vault lock, when the lock file says its last holder died in
 * the middle of a change: put every version's copies back in line with the
 * metadata, finish committed purges and drop superseded records, as
 * `cmk vault check --repair` does, but leave records cmk did not write
 * for the administrator to see.  *fixed counts what was put right; an
 * audit record "vault-heal" says so when it is not 0. */
cmk_rc vault_heal(cmk_ctx *ctx, size_t *fixed);

#endif
