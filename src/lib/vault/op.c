/* op.c - one public operation of the vault (op.h). */
#include "config.h"
#include "vault/audit.h"
#include "vault/op.h"
#include "vault/policy.h"
#include "util/sigdefer.h"

cmk_rc vault_op_begin(vault_op *o, cmk_ctx *ctx, const char *op, unsigned perm,
                      const char *polkey, int change)
{
	o->ctx = ctx;
	o->op = op;
	o->held = 0;
	cmk_rc rc = audit_check_writable(ctx);
	if (rc == CMK_OK)
		rc = policy_check(ctx, perm, polkey);
	if (rc == CMK_OK && change)
		o->held = (rc = ctx_write_begin(ctx)) == CMK_OK;
	return rc;
}

cmk_rc vault_op_end(vault_op *o, const char *key, cmk_rc rc)
{
	if (o->held) {
		sig_defer_begin();      /* until its audit record is written */
		ctx_write_end(o->ctx);
	}
	rc = audit_op(o->ctx, o->op, key, rc);
	if (o->held) {
		o->held = 0;
		sig_defer_end();
	}
	return rc;
}
