#!/bin/bash
# Issue 10, case 10: a record that fails its MAC (a public CKO_DATA object
# written without the PIN, a fake policy record) is ignored and reported,
# never fatal for the authentic ones; `cmk vault check` lists it and
# `cmk vault check --repair` removes it.  Also (case 11) the token MAC keys
# carry no usage but sign/verify.
. "${srcdir:-.}/tests/lib.sh"
need pkcs11-tool
PROBE=$CMK_TESTS_BIN/p11-probe
[ -x "$PROBE" ] || bail "tests/p11-probe is not built"
lab_new
probe() { "$PROBE" "$SOFTHSM_MODULE" - "$LAB_TOKEN" "$LAB/pin" "$@"; }

for mk in cmk-metadata-mac cmk-audit-mac; do
	is "$(probe secret $mk)" "encrypt=0 decrypt=0 wrap=0 unwrap=0 sign=1 verify=1 derive=0" \
		"the MAC key $mk may only sign and verify"
done

rand_file "$T/dek" 32
ok "key create k" cmk key create k
ok "wrap with k" cmk wrap k --in "$T/dek" --out "$T/w"
ok "vault check on a clean vault" cmk vault check
like "$(cat "$OUT")" "no problem" "and says so"

# a public data object written without the PIN, in the key's application
printf '%s' '0000000000000000000000000000000000000000000000000000000000000000
{"t":"version","key":"k","ver":"00000000000000000000000000000000","gen":9,"seq":9,"created":0,"updated":0,"bits":2048,"ops":63,"enabled":true,"imported":false,"nbf":0,"exp":0,"tags":{}}' >"$T/forged"
ok "pkcs11-tool writes a public data object as cmk/key/k (no PIN)" \
	p11tool --write-object "$T/forged" --type data --application-label cmk/key/k --label forged
# and a fake policy record granting everything to "mallory", with the PIN
printf '%s' '1111111111111111111111111111111111111111111111111111111111111111
{"t":"policy","identity":"mallory","perms":16383,"gen":1,"updated":0}' >"$T/fakepol"
ok "pkcs11-tool writes a fake policy record" \
	p11tool_login --write-object "$T/fakepol" --type data --application-label cmk/policy --label fake --private

ok "key list still works" cmk key list
like "$(cat "$OUT")" "^k " "and lists k"
like "$(cat "$ERR")" "warning: .*cmk/key/k.*fails authentication" "with a warning naming the record"
ok "key show k still works" cmk key show k
ok "unwrap with k still works" cmk unwrap --in "$T/w" -o "$T/u"
same_file "$T/u" "$T/dek" "and recovers the DEK"
ok "rotate k works" cmk key rotate k
ok "disable k works" cmk key disable k
ok "enable k works" cmk key enable k
ok "policy list works" cmk policy show
if grep -q mallory "$OUT"; then fail "the fake policy grants nothing (not listed)"; else pass "the fake policy grants nothing (not listed)"; fi
expect_fail_msg 9 "mallory" "the identity of the fake policy is denied" \
	env CMK_IDENTITY=mallory "$CMK_BIN" key list

run cmk vault check
is "$RC" 23 "vault check exits 23 (CMK_E_INTEGRITY) when it finds a problem"
like "$(cat "$OUT")" "record 'cmk/key/k'.*forged.*fails authentication" "it lists the forged key record by application and label"
like "$(cat "$OUT")" "record 'cmk/policy'.*fake.*fails authentication" "and the fake policy record"
like "$(cat "$ERR")" "vault lab: 2 problems.*--repair" "stderr sums up and names the repair"
ok "vault check --repair" cmk vault check --repair
like "$(cat "$OUT")" "removed" "says what it removed"
ok "vault check is clean after the repair" cmk vault check
if p11tool_login -O --type data 2>/dev/null | grep -qE "label: +(forged|fake)"; then
	fail "the forged records are gone from the token"
else
	pass "the forged records are gone from the token"
fi
ok "unwrap still works after the repair" cmk unwrap --in "$T/w" -o "$T/u2"
same_file "$T/u2" "$T/dek" "and recovers the DEK"
done_testing
