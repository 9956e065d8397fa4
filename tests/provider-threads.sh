#!/bin/bash
# An OpenSSL-only program (tests/provider-threads.c): OSSL_STORE load, 8
# threads decrypting with one EVP_PKEY, fork and decrypt in the child.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/provider-lib.sh"

prog=$CMK_TESTS_BIN/provider-threads
[ -x "$prog" ] || bail "$prog not built"
lab_new
cmk key create kek >/dev/null && pub_pem kek "$T/kek.pub" || bail "cannot create a key"
# the program's own TAP stream is the test's
"$prog" cmk://lab/keys/kek "$T/kek.pub"
exit $?
