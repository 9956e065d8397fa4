#!/bin/bash
# Issue 10, case 2: four processes enabling, disabling and rotating one key
# at once (and one unwrapping) never meet a false integrity alarm ("has a
# record but no private key"), and afterwards every version is on the token
# once and works.  Two more processes unwrap meanwhile.  Bounded by CMK_RACE_SECONDS.
. "${srcdir:-.}/tests/lib.sh"
PROBE=$CMK_TESTS_BIN/p11-probe
[ -x "$PROBE" ] || bail "tests/p11-probe is not built"
lab_new
SECS=${CMK_RACE_SECONDS:-20}

rand_file "$T/dek" 32
ok "key create k" cmk key create k
V1=$(key_versions k | tail -n 1)
ok "wrap with version 1" cmk wrap "k/$V1" --in "$T/dek" --out "$T/w1"

end=$((SECONDS + SECS))
worker() { # N
	local n=$1 rotations=0 op rc
	while [ $SECONDS -lt $end ]; do
		op=$((RANDOM % 6))
		case $op in
		0) cmd=(key disable "k/$V1") ;;
		1) cmd=(key enable "k/$V1") ;;
		2) cmd=(key disable k) ;;
		3) cmd=(key enable k) ;;
		4) if [ $rotations -lt 3 ]; then rotations=$((rotations + 1)); cmd=(key rotate k); else cmd=(key enable k); fi ;;
		5) if [ $((RANDOM % 2)) = 0 ]; then cmd=(key set k --tag "w=$n" --ops wrapKey,unwrapKey,encrypt,decrypt)
		   else cmd=(key set k --ops wrapKey,unwrapKey,encrypt,decrypt,sign,verify); fi ;;
		esac
		rc=0
		cmk "${cmd[@]}" >/dev/null 2>"$T/w$n.last" || rc=$?
		if [ $rc != 0 ]; then
			echo "exit $rc: cmk ${cmd[*]}: $(cat "$T/w$n.last")" >>"$T/w$n.err"
		fi
	done
}
for n in 1 2 3 4; do worker $n & done
for n in 1 2; do
	(
		while [ $SECONDS -lt $end ]; do
			cmk unwrap --in "$T/w1" -o "$T/u$n" 2>>"$T/unwrap.err" || true
		done
	) &
done
wait
errs=$(cat "$T"/w[1-4].err 2>/dev/null)
[ -n "$errs" ] && diag "$(head -20 <<<"$errs")"
is "$(grep -c . <<<"$errs" | sed 's/^0$//')" "" "no enable, disable, rotate or set failed"
is "$(grep -c 'no private key' <<<"$errs")" 0 "no false integrity alarm (a record but no private key)"
bad=$(sort -u "$T/unwrap.err" 2>/dev/null | grep -v 'is disabled' | head -5)
is "$bad" "" "unwraps fail only because the key or version is disabled"

ok "enable the key" cmk key enable k
ok "enable version 1" cmk key enable "k/$V1"
ok "unwrap with version 1 afterwards" cmk unwrap --in "$T/w1" -o "$T/u1"
same_file "$T/u1" "$T/dek" "and recovers the DEK"
vs=$(key_versions k)
ids=$("$PROBE" "$SOFTHSM_MODULE" - "$LAB_TOKEN" "$LAB/pin" privkeys | awk '{ print $1 }')
is "$(sort <<<"$ids" | uniq -d)" "" "no two private keys have the same CKA_ID"
missing=
for v in $vs; do
	grep -q "^$v" <<<"$ids" || missing="$missing $v"
	why=$(cmk wrap "k/$v" --in "$T/dek" --out "$T/wv" 2>&1 && cmk unwrap --in "$T/wv" -o "$T/uv" 2>&1 && cmp "$T/uv" "$T/dek" 2>&1) ||
		{ [ "$(cmk --json key show k | jq -r ".version_list[] | select(.version == \"$v\") | .enabled")" = false ] || diag "version $v: $why"; }
done
is "$missing" "" "every version still has its private key on the token"
done_testing
