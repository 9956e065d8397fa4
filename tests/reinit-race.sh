#!/bin/bash
# The module re-initialised under threads that are between the calls of
# one operation (tests/reinit-race.c): three threads unwrap, list and open keys
# through one context while a fourth disables and enables another key
# through it, and a fifth changes a third key through a second context, so
# that the process re-initialises its module again and again.  The fault
# module delays C_DecryptInit and C_FindObjectsInit, so that a
# re-initialisation waiting for them runs right after them, before the
# operation's next call; it counts the re-initialisations (C_Finalize).
. "${srcdir:-.}/tests/lib.sh"
: "${CMK_FAULTMOD:?run the tests with make check}"
[ -f "$CMK_FAULTMOD" ] || bail "$CMK_FAULTMOD not built"
prog=$CMK_TESTS_BIN/reinit-race
[ -x "$prog" ] || bail "$prog not built"
lab_new
for k in a b c; do cmk key create $k >/dev/null || bail "key create $k"; done
FAULT_CONF=$T/fault.conf
write_conf "$FAULT_CONF" module="$CMK_FAULTMOD" "audit_log = $LAB/lab.audit.log" \
	"lock_file = $LAB/lab.lock"

CMK_CONF=$FAULT_CONF CMK_FAULT_LOG=$T/flog \
	CMK_FAULT='C_DecryptInit:*:delay=1ms,C_FindObjectsInit:*:delay=1ms,C_Finalize:*:delay=1ms' \
	"$prog" "$FAULT_CONF" a b c "${CMK_REINIT_SECONDS:-8}" >"$T/tap.raw" 2>"$T/prog.err"
rc=$?
# it runs to its end (a handle of another generation can corrupt memory:
# SoftHSM's own, then the process dies) and gives every point it plans
end=$([ "$rc" -le 1 ] && echo "its end" || echo "exit $rc")
is "$end:$(grep -cE '^(not )?ok ' "$T/tap.raw")" "its end:$(sed -n 's/^1\.\.//p' "$T/tap.raw")" \
	"reinit-race runs to its end with every point"
[ "$rc" -le 1 ] || diag_file "its stderr" "$T/prog.err"
# no record read from another object (a warning that it is malformed)
is "$(grep -c 'is malformed' "$T/prog.err")" 0 "no record was read from another object"
sed -n '2,$p' "$T/tap.raw" >"$T/tap"
# the program's points, renumbered into this test's
relay_tap "$T/tap" reinit-race
n=$(grep -c '^C_Finalize ' "$T/flog" 2>/dev/null)
like "$n" '^[1-9][0-9]*$' "the process re-initialised its module under the threads (${n:-0} times)"
ok "vault check finds nothing afterwards" cmk vault check
done_testing
