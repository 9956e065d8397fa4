#!/bin/bash
# The data-key cache in one process (tests/envelope-cache.c): bounds in time
# and uses, the revocation delay it allows and no more, threads, fork, and a
# resource's root key.
. "${srcdir:-.}/tests/lib.sh"
lab_new
export CMK_RESOURCE_DIR=$T/res
ok "purge protection on" cmk vault set --purge-protection on
ok "key create ck" cmk key create ck
ok "resource create rc" cmk resource create rc
ok "grant res-rc" cmk policy set res-rc get,wrapKey,unwrapKey
ok "set-key rc to ck" cmk resource set-key rc --key cmk://lab/keys/ck
rc=0
"$CMK_TESTS_BIN/envelope-cache" >"$T/cache.tap" 2>&1 || rc=$?
while IFS= read -r line; do
	case $line in
	"ok "*" # SKIP "*) d=${line#ok * - }; skip "${d% # SKIP*}" "${d#* # SKIP }" ;;
	"ok "*) pass "${line#ok * - }" ;;
	"not ok "*) fail "${line#not ok * - }" ;;
	"1.."*) ;;
	*) echo "$line" ;;
	esac
done <"$T/cache.tap"
grep -q '^1\.\.' "$T/cache.tap" && pass "envelope-cache ran to the end (exit $rc)" ||
	fail "envelope-cache ran to the end (exit $rc)"
done_testing
