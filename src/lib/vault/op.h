/* op.h - one public operation of the vault, from its checks to its audit
 * record:
 *
 *	vault_op o;
 *	cmk_rc rc = vault_op_begin(&o, ctx, "delete", CMK_PERM_DELETE, kid, 1);
 *	if (rc == CMK_OK)
 *		rc = delete_impl(ctx, name);
 *	return vault_op_end(&o, kid, rc);
 *
 * begin: when the vault fails closed, a log that can be appended to
 * (audit_check_writable); the caller's permission (policy_check); for a
 * change, the vault lock (ctx_write_begin, which also heals what a killed
 * change left).  end: for a change, the lock released with the catchable
 * signals held back (util/sigdefer.h) until the audit record is written;
 * the record of the operation, allowed or refused, with its result.  end
 * is called whatever begin returned; it returns the operation's result,
 * or CMK_E_AUDIT when the vault fails closed and its record was not
 * written. */
#ifndef CMK_VAULT_OP_H
#define CMK_VAULT_OP_H

#include "ctx.h"

typedef struct vault_op {
	cmk_ctx *ctx;
	const char *op;
	int held;               /* the vault lock is held (a change) */
} vault_op;

cmk_rc vault_op_begin(vault_op *o, cmk_ctx *ctx, const char *op, unsigned perm,
                      const char *polkey, int change);
cmk_rc vault_op_end(vault_op *o, const char *key, cmk_rc rc);

#endif
