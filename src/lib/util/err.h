/* err.h - per-thread error text and precondition macros. */
#ifndef CMK_ERR_H
#define CMK_ERR_H

#include "cmk.h"

/* Set this thread's error text and return rc. */
cmk_rc cmk_err(cmk_rc rc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prefix the current error text: "vault lab: <old text>". */
cmk_rc cmk_err_prefix(cmk_rc rc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void cmk_err_clear(void);

#define return_val_if_fail(expr, rc) \
	do { if (!(expr)) return cmk_err((rc), "%s: precondition failed: %s", __func__, #expr); } while (0)
#define return_if_fail(expr) \
	do { if (!(expr)) return cmk_err(CMK_E_USAGE, "%s: bad argument: %s", __func__, #expr); } while (0)

#define CMK_TRY(call) do { cmk_rc rc_ = (call); if (rc_ != CMK_OK) return rc_; } while (0)

#endif
