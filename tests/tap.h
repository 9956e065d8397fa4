/* tap.h - TAP output for the C tests of the library API (cmk.h). */
#ifndef CMK_TESTS_TAP_H
#define CMK_TESTS_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include "cmk.h"

static int test_n;
static int test_failed;

/* One test point; a failure also prints the library's last error. */
__attribute__((format(printf, 2, 3))) static void ok(int cond, const char *fmt, ...)
{
	va_list ap;

	test_n++;
	if (!cond)
		test_failed++;
	printf("%sok %d - ", cond ? "" : "not ", test_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!cond)
		printf("# last error: %s\n", cmk_last_error() ? cmk_last_error() : "(null)");
	fflush(stdout);
}

__attribute__((unused)) static void is_rc(cmk_rc got, cmk_rc want, const char *what)
{
	ok(got == want, "%s: %s (got %s)", what, cmk_rc_name(want), cmk_rc_name(got));
}

#endif
