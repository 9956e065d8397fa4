#!/bin/bash
# The audit trail is tamper-evident (docs/semantics.md §3, docs/audit.md): every
# allowed or denied operation appends one record; `cmk audit verify` passes
# on the untouched log and exits 23 naming the first bad line when one field
# of one line is edited, a middle line is removed, two lines are swapped, a
# line is duplicated, the last line is cut off after a management operation,
# or the file is emptied -- also when cmk writes more records afterwards.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/lifecycle-lib.sh"
lab_new
rand_file "$T/dek" 32
log=$LAB/lab.audit.log

ok "key create k" cmk key create k
ok "wrap" cmk wrap k --in "$T/dek" --out "$T/w"
ok "unwrap" cmk unwrap --in "$T/w" --out "$T/u"
ok "policy set svc get" cmk policy set svc get
expect_fail_msg 9 'access denied: identity .svc. lacks permission .rotate. on key cmk://lab/keys/k' "a denied rotate (svc)" cmk --identity svc key rotate k
ok "key rotate k" cmk key rotate k
ok "key disable k" cmk key disable k
ok "key enable k" cmk key enable k
n=$(wc -l <"$log")
ok "audit verify passes on the untouched log" cmk audit verify
like "$(cat "$OUT")" "\b$n records" "it counts the $n records"
ok "audit verify does not write to the log" test "$(wc -l <"$log")" = "$n"
is "$(jq -r .seq "$log" | tr '\n' ' ')" "$(seq 1 "$n" | tr '\n' ' ')" "seq counts 1..$n"
is "$(jq -r 'select(.identity == "svc") | .op + " " + .result' "$log")" "rotate denied" "the denial is recorded"
is "$(jq -r 'select(.op == "unwrapKey") | .key' "$log")" "$(jq -r 'select(.op == "wrapKey") | .key' "$log")" \
	"wrap and unwrap records carry the versioned key id"
like "$(jq -r 'select(.op == "wrapKey") | .key' "$log")" "^cmk://lab/keys/k/[0-9a-f]{32}$" "a versioned key id"
is "$(head -1 "$log" | jq -r .prev)" "$(printf '0%.0s' $(seq 64))" "the first record's prev is 64 zeros"
is "$(sed -n 2p "$log" | jq -r .prev)" "$(head -1 "$log" | jq -r .mac)" "each prev is the mac before"
cp "$log" "$T/pristine"

restore() { cp "$T/pristine" "$log"; }
# tampered DESC LINE-RE: verify exits 23 and the message matches LINE-RE
tampered() {
	expect_fail_msg 23 "$2" "audit verify exits 23: $1" cmk audit verify
	restore
	run cmk audit verify
	is "$RC" 0 "(restored log verifies again)"
}

mid=$((n / 2))
sed -i "${mid}s/\"result\":\"ok\"/\"result\":\"denied\"/" "$log"
ok "(the edit changed line $mid)" sh -c '! cmp -s "$0" "$1"' "$log" "$T/pristine"
tampered "result of line $mid edited" "line $mid\b"
sed -i "3s/\"identity\":\"admin\"/\"identity\":\"admim\"/" "$log"
tampered "identity of line 3 edited" "line 3\b"
sed -i "${mid}s/\"time\":\"\([0-9]\)/\"time\":\"9/" "$log"
tampered "time of line $mid edited" "line $mid\b"
sed -i "2s/\"mac\":\"[0-9a-f]/\"mac\":\"x/" "$log"
tampered "mac of line 2 edited" "line 2\b"
sed -i "${mid}d" "$log"
tampered "middle line $mid removed" "line $mid\b.*(removed|moved)"
awk -v a=3 'NR == a { h = $0; next } NR == a + 1 { print; print h; next } { print }' "$T/pristine" >"$log"
tampered "lines 3 and 4 swapped" "line 3\b"
awk -v a=$((n - 1)) 'NR == a { h = $0; next } NR == a + 1 { print; print h; next } { print }' "$T/pristine" >"$log"
tampered "the last two lines swapped" "line $((n - 1))\b"
awk 'NR == 3 { print } { print }' "$T/pristine" >"$log"
tampered "line 3 duplicated" "line 4\b"
sed -i '$d' "$log"
tampered "the last line (a management op: enable) cut off" "cut off|record $((n - 1))\b"
: >"$log"
tampered "the file emptied" "cut off|record 0\b"
head -n 1 "$T/pristine" >"$log"
tampered "all but the first line cut off" "cut off"

# a cut must stay visible after cmk appends more records
sed -i '$d' "$log"
ok "key disable k after the last line was cut" cmk key disable k
expect_fail_msg 23 "audit log .*lab\.audit\.log: line 9: record has seq 10 where 9 was due: records were removed" "audit verify still exits 23 after the cut log was appended to" cmk audit verify
: >"$log"
ok "key enable k after the log was emptied" cmk key enable k
expect_fail_msg 23 "audit log .*lab\.audit\.log: line 1: starts at record 11: the segments before it are missing" "audit verify still exits 23 after the emptied log was appended to" cmk audit verify

# a removed log is not a verified log
rm -f "$log"
expect_fail_msg 19 "audit log .*lab\\.audit\\.log: No such file or directory" "audit verify fails when the log is missing" cmk audit verify
no_file "$log" "and does not make one"
done_testing
