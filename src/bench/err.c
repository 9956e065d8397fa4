/* err.c - the benchmark's error text, per thread, as libcmk keeps its own:
 * bench_err() for the benchmark's errors, bench_lib() to take over the
 * text of a failed libcmk call (cmk_last_error()). */
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include "bench/bench_int.h"

static _Thread_local char last[512];

cmk_rc bench_err(cmk_rc rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last, sizeof last, fmt, ap);
	va_end(ap);
	return rc;
}

cmk_rc bench_lib(cmk_rc rc)
{
	if (rc != CMK_OK)
		snprintf(last, sizeof last, "%s", cmk_last_error());
	return rc;
}

const char *bench_last_error(void)
{
	return last;
}
