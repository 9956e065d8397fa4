/* op.h - one public operation of the vault, from its checks to its audit
 * record:
 *
 *	vault_op o = { .ctx = ctx, .op = "delete", .perm = CMK_PERM_DELETE,
 *	               .key = kid, .owned = name, .change = 1 };
 *	cmk_rc rc = vault_op_begin(&o);
 *	if (rc == CMK_OK)
 *		rc = delete_impl(ctx, name);
 *	return vault_op_end(&o, rc);
 *
 * begin: a key that belongs to a resource refused unless this thread acts
 * for it (owner_check, on .owned when set); when the vault fails closed, a
 * log that can be appended to (audit_check_writable); the caller's
 * permission on .key (policy_check); for a change, the vault lock
 * (vault_write_begin, which also heals what a killed change left).  end: for
 * a change, the lock released with the catchable signals held back
 * (util/sigdefer.h) until the audit record is written; the record of .op
 * on .key (set .key again before end when the operation named it, e.g. a
 * new version), allowed or refused, with its result.  end is called
 * whatever begin returned; it returns the operation's result, or
 * CMK_E_AUDIT when the vault fails closed and its record was not written. */
#ifndef CMK_VAULT_OP_H
#define CMK_VAULT_OP_H

#include "ctx.h"

typedef struct vault_op {
	cmk_ctx *ctx;
	const char *op;	   /* the audit record's operation */
	unsigned perm;	   /* the permission it needs */
	const char *key;   /* the key it is about (NULL: the vault) */
	const char *owned; /* a key name whose owner must be acting, or NULL */
	const char *verb;  /* for the owner's refusal (default: op) */
	int change;	   /* changes the vault: under its lock */
	int held;	   /* (the lock is held) */
} vault_op;

cmk_rc vault_op_begin(vault_op *o);
cmk_rc vault_op_end(vault_op *o, cmk_rc rc);

#endif
