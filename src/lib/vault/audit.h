/* audit.h - the vault's tamper-evident audit log (docs/audit.md). */
#ifndef CMK_AUDIT_H
#define CMK_AUDIT_H

#include "ctx.h"
#include "vault/lock.h"
#include "util/sigdefer.h"

/* Append one record for operation `op` on `key` (NULL: the vault) with
 * result rc, and return rc -- or CMK_E_AUDIT if the vault fails closed and
 * the record could not be written.  The thread's error text is kept. */
cmk_rc audit_op(cmk_ctx *ctx, const char *op, const char *key, cmk_rc rc);
/* Before an operation: when the vault fails closed, refuse if the log
 * cannot be opened for appending. */
cmk_rc audit_check_writable(cmk_ctx *ctx);
void audit_settings_changed(cmk_ctx *ctx, int fail_closed);
/* Records this context could not write (best effort), and why. */
uint64_t audit_lost_here(cmk_ctx *ctx, char *why, size_t len);
/* The log's path (see audit_int.h). */
const char *audit_path(cmk_ctx *ctx);

/* Release the vault lock and write the operation's audit record, no
 * catchable signal in between (util/sigdefer.h); returns audit_op's. */
static inline cmk_rc audit_write_end(cmk_ctx *ctx, const char *op, const char *key, cmk_rc rc)
{
	sig_defer_begin();
	vault_write_end(ctx);
	rc = audit_op(ctx, op, key, rc);
	sig_defer_end();
	return rc;
}

#endif
