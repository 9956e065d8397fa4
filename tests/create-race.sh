#!/bin/bash
# Token objects created while other threads of the process search the
# token (tests/create-race.c): two threads change access policies (each
# change creates a record and the audit anchor) while three list the keys,
# each through a context of its own.  SoftHSM 2.6 fails such a creation
# now and then and leaves an empty data object (SoftHSMv2 issue #573);
# cmk runs creations apart from searches on it (src/lib/p11/module.c).
# Afterwards: every change and list succeeded, no empty object was left,
# and the vault checks clean.
. "${srcdir:-.}/tests/lib.sh"
need pkcs11-tool
prog=$CMK_TESTS_BIN/create-race
[ -x "$prog" ] || bail "$prog not built"
lab_new
cmk key create k1 >/dev/null || bail "key create k1"

"$prog" "$CMK_CONF" "${CMK_CREATE_RACE_SECONDS:-8}" >"$T/tap.raw" 2>"$T/prog.err"
rc=$?
end=$([ "$rc" -le 1 ] && echo "its end" || echo "exit $rc")
is "$end:$(grep -cE '^(not )?ok ' "$T/tap.raw")" "its end:$(sed -n 's/^1\.\.//p' "$T/tap.raw")" \
	"create-race runs to its end with every point"
[ "$rc" -le 1 ] || diag_file "its stderr" "$T/prog.err"
sed -n '2,$p' "$T/tap.raw" >"$T/tap"
relay_tap "$T/tap" create-race
count_objects >/dev/null 9>/dev/null
is "$(cat "$T/objects.debris")" 0 "no empty data object left by a failed creation"
ok "vault check finds nothing afterwards" cmk vault check
done_testing
