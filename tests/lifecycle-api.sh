#!/bin/bash
# Issue 3 through the C API (tests/api-lifecycle.c): delete, recover, purge,
# purge protection, policies and access denied, the revocation delay bound
# (policy_cache_ms = 1500, revoked by another process), audit verify.  The
# program prints the TAP; this script makes the lab.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/lifecycle-lib.sh"
prog=${CMK_API_LIFECYCLE:-$CMK_TESTS_BIN/api-lifecycle}
[ -x "$prog" ] || bail "$prog not built"
lab_new
lc_conf_set policy_cache_ms 1500
export CMK_BIN
if [ "$CMK_VALGRIND" = 1 ]; then
	rc=0
	CMK_TIME_MARGIN_MS=3000 $CMK_LIBTOOL --mode=execute "$VALGRIND" -q --error-exitcode=99 \
		--leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
		${CMK_VALGRIND_SUPP:+--suppressions=$CMK_VALGRIND_SUPP} --log-file="$T/vg.log" \
		"$prog" || rc=$?
	[ -s "$T/vg.log" ] && sed 's/^/# /' "$T/vg.log" | head -80
	exit $rc
fi
"$prog"
