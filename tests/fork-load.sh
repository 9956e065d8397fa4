#!/bin/bash
# fork() while 4 threads are inside PKCS#11 calls (issue 10, item 6): two
# threads unwrap through one cmk_ctx, two through the OpenSSL provider, the
# main thread forks 200 times and each child unwraps through both; the
# parent disables, enables and rotates the key meanwhile.  A child that
# hangs (a lock inherited in the locked state) is killed by the program and
# fails the test.  See tests/fork-load.c.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/provider-lib.sh"

prog=$CMK_TESTS_BIN/fork-load
[ -x "$prog" ] || bail "$prog not built"
lab_new
cmk key create fk >/dev/null || bail "cannot create a key"
# the program's own TAP stream is the test's
"$prog" "$CMK_CONF" fk cmk://lab/keys/fk
exit $?
