/* op.c - one public operation of the vault (op.h). */
#include "config.h"
#include "vault/lock.h"
#include "vault/audit.h"
#include "vault/op.h"
#include "vault/owner.h"
#include "vault/policy.h"
#include "util/sigdefer.h"

cmk_rc vault_op_begin(vault_op *o)
{
	cmk_rc rc = CMK_OK;
	o->held = 0;
	if (o->owned)
		rc = owner_check(o->ctx, o->owned, o->verb ? o->verb : o->op);
	if (rc == CMK_OK)
		rc = audit_check_writable(o->ctx);
	if (rc == CMK_OK)
		rc = policy_check(o->ctx, o->perm, o->key);
	if (rc == CMK_OK && o->change)
		o->held = (rc = vault_write_begin(o->ctx)) == CMK_OK;
	return rc;
}

cmk_rc vault_op_end(vault_op *o, cmk_rc rc)
{
	if (o->held) {
		sig_defer_begin(); /* until its audit record is written */
		vault_write_end(o->ctx);
	}
	rc = audit_op(o->ctx, o->op, o->key, rc);
	if (o->held) {
		o->held = 0;
		sig_defer_end();
	}
	return rc;
}
