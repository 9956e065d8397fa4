/* err.c - the per-thread "last error" text behind cmk_last_error(). */
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/err.h"

static _Thread_local char last_error[512];

cmk_rc cmk_err(cmk_rc rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof last_error, fmt, ap);
	va_end(ap);
	return rc;
}

cmk_rc cmk_err_prefix(cmk_rc rc, const char *fmt, ...)
{
	char prefix[256], old[sizeof last_error];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, last_error, sizeof old);
	snprintf(last_error, sizeof last_error, "%s: %s", prefix, old);
	return rc;
}

void cmk_err_clear(void)
{
	last_error[0] = '\0';
}

const char *cmk_last_error(void)
{
	return last_error[0] ? last_error : "no error";
}

const char *cmk_rc_name(cmk_rc rc)
{
	static const char *const names[] = {
		[CMK_OK] = "CMK_OK",
		[CMK_E_INTERNAL] = "CMK_E_INTERNAL",
		[CMK_E_USAGE] = "CMK_E_USAGE",
		[CMK_E_CONFIG] = "CMK_E_CONFIG",
		[CMK_E_NOT_FOUND] = "CMK_E_NOT_FOUND",
		[CMK_E_EXISTS] = "CMK_E_EXISTS",
		[CMK_E_DISABLED] = "CMK_E_DISABLED",
		[CMK_E_NOT_VALID] = "CMK_E_NOT_VALID",
		[CMK_E_OP_NOT_ALLOWED] = "CMK_E_OP_NOT_ALLOWED",
		[CMK_E_ACCESS_DENIED] = "CMK_E_ACCESS_DENIED",
		[CMK_E_DELETED] = "CMK_E_DELETED",
		[CMK_E_PIN] = "CMK_E_PIN",
		[CMK_E_TOKEN] = "CMK_E_TOKEN",
		[CMK_E_MODULE] = "CMK_E_MODULE",
		[CMK_E_DECRYPT] = "CMK_E_DECRYPT",
		[CMK_E_TOO_LARGE] = "CMK_E_TOO_LARGE",
		[CMK_E_BUFFER] = "CMK_E_BUFFER",
		[CMK_E_PURGE_PROTECTED] = "CMK_E_PURGE_PROTECTED",
		[CMK_E_AUDIT] = "CMK_E_AUDIT",
		[CMK_E_IO] = "CMK_E_IO",
		[CMK_E_P11] = "CMK_E_P11",
		[CMK_E_NOMEM] = "CMK_E_NOMEM",
		[CMK_E_CONFLICT] = "CMK_E_CONFLICT",
		[CMK_E_INTEGRITY] = "CMK_E_INTEGRITY",
		[CMK_E_FORMAT] = "CMK_E_FORMAT",
	};
	if ((unsigned)rc < sizeof names / sizeof names[0] && names[rc])
		return names[rc];
	return "CMK_E_UNKNOWN";
}

cmk_rc cmk_precond_fail(const char *func, const char *expr)
{
	cmk_err(CMK_E_INTERNAL, "%s: precondition failed: %s (a bug in the calling program)", func,
		expr);
	const char *strict = getenv("CMK_STRICT");
	if (strict && strcmp(strict, "1") == 0) {
		fprintf(stderr, "libcmk: %s\n", last_error);
		abort();
	}
	return CMK_E_INTERNAL;
}
