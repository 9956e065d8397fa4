#!/bin/bash
# The C API (tests/api-threads.c) on a fresh lab: helpers, buffers, errors,
# the wrapped-key codec, threads sharing a context, fork.  The program
# prints the TAP; this script only makes the lab.
. "${srcdir:-.}/tests/lib.sh"
prog=$CMK_TESTS_BIN/api-threads
[ -x "$prog" ] || bail "$prog not built"
lab_new
if [ "$CMK_VALGRIND" = 1 ]; then
	rc=0
	CMK_API_ITERS=3 $CMK_LIBTOOL --mode=execute "$VALGRIND" -q --error-exitcode=99 \
		--leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
		${CMK_VALGRIND_SUPP:+--suppressions=$CMK_VALGRIND_SUPP} --log-file="$T/vg.log" \
		"$prog" || rc=$?
	[ -s "$T/vg.log" ] && sed 's/^/# /' "$T/vg.log" | head -80
	exit $rc
fi
"$prog"
