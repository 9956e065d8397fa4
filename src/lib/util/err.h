/* err.h - per-thread error text and precondition macros. */
#ifndef CMK_ERR_H
#define CMK_ERR_H

#include "cmk.h"

/* Set this thread's error text and return rc. */
cmk_rc cmk_err(cmk_rc rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefix the current error text: "vault lab: <old text>". */
cmk_rc cmk_err_prefix(cmk_rc rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cmk_err_clear(void);

/* Preconditions catch a caller's bug (a NULL where an object is due), not
 * bad input: they return CMK_E_INTERNAL naming the function and the failed
 * expression, and abort when CMK_STRICT=1 is set in the environment, as
 * p11-kit's return_val_if_fail does with P11_KIT_STRICT. */
cmk_rc cmk_precond_fail(const char *func, const char *expr);
#define return_val_if_fail(expr, rc)                       \
	do {                                               \
		if (!(expr)) {                             \
			cmk_precond_fail(__func__, #expr); \
			return (rc);                       \
		}                                          \
	} while (0)
#define return_if_fail(expr)                                      \
	do {                                                      \
		if (!(expr))                                      \
			return cmk_precond_fail(__func__, #expr); \
	} while (0)

#define CMK_TRY(call)                \
	do {                         \
		cmk_rc rc_ = (call); \
		if (rc_ != CMK_OK)   \
			return rc_;  \
	} while (0)

#endif
