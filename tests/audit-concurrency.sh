#!/bin/bash
# The audit chain under concurrency and crashes (docs/audit.md): two
# processes of two threads each append at once, and `audit verify` passes
# over their interleaved records (each process MACs with its own chain key,
# derived on the token: verify derives every one again); a process killed
# with -9 while four threads append leaves a log that verifies, and the
# next writer continues the chain; a line left unfinished by a writer that
# died inside its write() is reported by verify, and removed by the next
# writer (only operations that never returned lose their record); failing
# closed, threads wait for a shared fdatasync and the chain stays intact.
. "${srcdir:-.}/tests/lib.sh"
lab_new
log=$LAB/lab.audit.log
AT=$CMK_TESTS_BIN/audit-threads

ok "key create k" cmk key create k
n0=$(wc -l <"$log")

# ---------------------------------------------------- two processes at once
"$AT" k 2 100 >"$T/a.out" 2>"$T/a.err" &
pa=$!
"$AT" k 2 100 >"$T/b.out" 2>"$T/b.err" &
pb=$!
rca=0; wait $pa || rca=$?
rcb=0; wait $pb || rcb=$?
is "$rca $rcb" "0 0" "two processes x 2 threads wrapped 200 times each"
diag_file "process a" "$T/a.err"
is "$(wc -l <"$log")" "$((n0 + 400))" "400 records were appended"
ok "audit verify after two processes appended at once" cmk audit verify
like "$(cat "$OUT")" "\b$((n0 + 400)) records" "it counts them all"
is "$(jq -r .seq "$log" | sort -n | uniq -d | wc -l)" 0 "no sequence number twice"
like "$(jq -r .epoch "$log" | sort -u | grep -c .)" "^[3-9]$" "records of three processes (three chain keys) in one chain"

# ------------------------------------------------- kill -9 during appends
"$AT" k 4 0 >"$T/c.out" 2>"$T/c.err" &
pc=$!
for _ in $(seq 1 300); do
	grep -q ready "$T/c.out" && break
	sleep 0.05
done
ok "4 threads are appending" grep -q ready "$T/c.out"
sleep 0.3
kill -9 $pc
wait $pc 2>/dev/null
n1=$(wc -l <"$log")
ok "audit verify after kill -9 of a process appending from 4 threads" cmk audit verify
ok "key rotate k after the crash" cmk key rotate k
ok "audit verify: the next writer continued the chain" cmk audit verify
is "$(tail -1 "$log" | jq -r .seq)" "$((n1 + 1))" "its record follows the last one written before the crash"

# ------------------------------------------ a line left unfinished by a crash
printf '{"seq":%d,"time":"2026-' "$((n1 + 2))" >>"$log"
expect_fail_msg 23 "line $((n1 + 2)): the last record is cut short" "audit verify names an unfinished last line" cmk audit verify
# the writer that died held the shared tail: the next one reads it again
rm -f "$log.state"
ok "key disable k (the next writer)" cmk key disable k
ok "audit verify: the unfinished line was removed, the chain goes on" cmk audit verify
is "$(tail -1 "$log" | jq -r '.seq, .op' | tr '\n' ' ')" "$((n1 + 2)) disable " "the new record took its place"
ok "key enable k" cmk key enable k

# ------------------------------------------------ failing closed, with threads
ok "vault set --audit-fail-closed on" cmk vault set --audit-fail-closed on
n2=$(wc -l <"$log")
run "$AT" k 4 25
is "$RC" 0 "failing closed: 4 threads wrap 25 times each"
is "$(wc -l <"$log")" "$((n2 + 100))" "every one has its record"
ok "audit verify after the fail-closed appends" cmk audit verify
done_testing
