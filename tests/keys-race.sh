#!/bin/bash
# Issue 10, case 1: unwraps of a version while another process disables and
# enables it.  The unwrap path must never change the token, so no private
# key is lost or duplicated, and after every successful `key disable` the
# token itself refuses a raw decryption with every copy of the version
# (tests/p11-probe decrypt-all, below cmk).  Bounded by CMK_RACE_SECONDS.
. "${srcdir:-.}/tests/lib.sh"
PROBE=$CMK_TESTS_BIN/p11-probe
[ -x "$PROBE" ] || bail "tests/p11-probe is not built"
lab_new
SECS=${CMK_RACE_SECONDS:-15}

# the probe is a fresh process each time; SoftHSM can fail a login made
# while other processes start (tests/kill-loop.sh), so it tries again
probe() {
	local i
	for i in 1 2 3 4 5; do
		"$PROBE" "$SOFTHSM_MODULE" - "$LAB_TOKEN" "$LAB/pin" "$@" >"$T/probe.out" 2>"$T/probe.err" &&
			{ cat "$T/probe.out"; return 0; }
		sleep 0.1
	done
	cat "$T/probe.err" >&2
	return 1
}

rand_file "$T/dek" 32
ok "key create k" cmk key create k
V2=$(cmk key rotate k | sed 's#.*/##')
like "$V2" '^[0-9a-f]{32}$' "key rotate prints the new version"
ok "wrap with version 2" cmk wrap "k/$V2" --in "$T/dek" --out "$T/w2"
ok "raw RSA-OAEP (SHA-1) ciphertext of version 2, for the token" \
	cmk wrap "k/$V2" --raw --alg RSA-OAEP --in "$T/dek" --out "$T/ct2"
dekhex=$(od -An -tx1 -v "$T/dek" | tr -d ' \n')
is "$(probe decrypt-all "$V2" SHA1 "$T/ct2")" "ok $dekhex" "control: the token decrypts with version 2 while enabled"

end=$((SECONDS + SECS))
for n in 1 2; do
	(
		while [ $SECONDS -lt $end ]; do
			cmk unwrap --in "$T/w2" -o "$T/u$n" 2>>"$T/unwrap$n.err" && echo ok >>"$T/unwrap$n.count"
		done
	) &
done
disables=0 permissive=0 failed=0
while [ $SECONDS -lt $end ]; do
	if cmk key disable "k/$V2" >/dev/null 2>>"$T/flip.err"; then
		disables=$((disables + 1))
		r=$(probe decrypt-all "$V2" SHA1 "$T/ct2") || r="probe failed"
		case $r in
		refused*) ;;
		"probe failed") ;;
		*) permissive=$((permissive + 1)); diag "after disable #$disables the token still decrypts: $r" ;;
		esac
	else
		failed=$((failed + 1))
	fi
	sleep 0.05
	cmk key enable "k/$V2" >/dev/null 2>>"$T/flip.err" || failed=$((failed + 1))
	sleep 0.1
done
wait
diag "$disables disables, $(cat "$T/unwrap1.count" "$T/unwrap2.count" 2>/dev/null | wc -l) unwraps succeeded"
[ -s "$T/flip.err" ] && diag_file "enable/disable errors" "$T/flip.err"
cmp=$(sort -u "$T/unwrap1.err" "$T/unwrap2.err" 2>/dev/null | grep -v 'is disabled' | head -5)
is "$cmp" "" "unwraps fail only because the version is disabled"
is "$failed" 0 "every enable and disable succeeded"
ok "at least one disable ran" test "$disables" -gt 0
is "$permissive" 0 "after every successful disable the token refuses a raw decryption"

ok "final enable" cmk key enable "k/$V2"
ok "key show k works" cmk key show k
ok "unwrap works after the race" cmk unwrap --in "$T/w2" -o "$T/final"
same_file "$T/final" "$T/dek" "and recovers the DEK"
is "$(probe decrypt-all "$V2" SHA1 "$T/ct2")" "ok $dekhex" "the token decrypts with version 2 again"
ids=$(probe privkeys | awk '{ print $1 }')
is "$(sort <<<"$ids" | uniq -d)" "" "no two private keys have the same CKA_ID"
like "$ids" "$V2" "version 2 still has its private key on the token"
done_testing
