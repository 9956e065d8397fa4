#!/bin/bash
# A record spliced in after a rollback of the token (issue 15): snapshot the
# host (token, log), write record N+1, restore the snapshot, write another
# record N+1 and N+2, then put the first N+1 back in place of the second.
# Every record has a valid MAC and the right sequence number, and the
# token's anchor agrees with the last one: only the chain (`prev`) shows it,
# and `audit verify` must name line N+2.
. "${srcdir:-.}/tests/lib.sh"
lab_new
log=$LAB/lab.audit.log
rand_file "$T/dek" 32

ok "key create k" cmk key create k
ok "wrap" cmk wrap k --in "$T/dek" --out "$T/w"
n=$(wc -l <"$log")
cp -a "$LAB" "$T/snap"
ok "unwrap (record $((n + 1)), first version)" cmk unwrap --in "$T/w" --out "$T/u1"
first=$(sed -n "$((n + 1))p" "$log")
is "$(jq -r .seq <<<"$first")" "$((n + 1))" "(it is record $((n + 1)))"

# roll the host back: the token and the log as they were
rm -rf "$LAB/tokens" "$log" "$log.state"
cp -a "$T/snap/tokens" "$LAB/tokens"
cp -a "$T/snap/lab.audit.log" "$T/snap/lab.audit.log.state" "$LAB/"
ok "unwrap (another record $((n + 1)))" cmk unwrap --in "$T/w" --out "$T/u2"
ok "policy set svc get (record $((n + 2)), anchored)" cmk policy set svc get
is "$(sed -n "$((n + 1))p" "$log" | jq -r .seq)" "$((n + 1))" "the second record $((n + 1))"
ok "audit verify passes before the splice" cmk audit verify

awk -v l=$((n + 1)) -v r="$first" 'NR == l { print r; next } { print }' "$log" >"$T/spliced"
cp "$T/spliced" "$log"
ok "(the first record $((n + 1)) is back in the log)" grep -qF "$first" "$log"
expect_fail_msg 23 "line $((n + 2))\b.*does not chain" "audit verify exits 23 naming line $((n + 2)): record does not chain" cmk audit verify
# the same log copied elsewhere (a collector's copy) and verified as a file
expect_fail_msg 23 "line $((n + 2))\b.*does not chain" "audit verify --file on a copy of the log names line $((n + 2)) too" \
	cmk audit verify --file "$T/spliced"
done_testing
