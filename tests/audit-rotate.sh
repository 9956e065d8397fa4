#!/bin/bash
# Audit logs that run for years (docs/audit.md, cmk.conf(5)): with
# audit_rotate_size (or audit_rotate_interval) the log is cut into segments LOG.<last seq>, each
# continuing the chain of the one before; `audit verify` checks them all
# (by default, or given as files or a directory), names a missing segment,
# and with --checkpoint continues from the last verified record without
# reading the segments before it.  A log moved away (as logrotate does) is
# reopened by a running program (SIGHUP -> cmk_audit_reopen) and the chain
# goes on in the new file.
. "${srcdir:-.}/tests/lib.sh"
lab_new
log=$LAB/lab.audit.log
AT=$CMK_TESTS_BIN/audit-threads
sed -i "s|^\[vault_lab\]\$|[vault_lab]\naudit_rotate_size = 8K|" "$CMK_CONF"

ok "key create k" cmk key create k
run "$AT" k 2 60
is "$RC" 0 "2 threads wrap 60 times each"
segs=$(ls "$log".0* 2>/dev/null | wc -l)
like "$segs" "^([3-9]|[1-9][0-9])$" "the log was rotated into several segments ($segs)"
total=$(cat "$log".0* "$log" | wc -l)
ok "no segment is larger than 8 KiB" sh -c '! find "$1".0* -size +8k | grep -q .' _ "$log"
ok "audit verify checks the log and its segments" cmk audit verify
like "$(cat "$OUT")" "\b$total records, chain intact \($total verified in $((segs + 1)) segments" "all $total records in $((segs + 1)) files"
ok "audit show reads the segments too" cmk audit show --json
is "$(jq -r .seq "$OUT" | tr '\n' ' ')" "$(seq 1 "$total" | tr '\n' ' ')" "all $total records, in order"
ok "audit verify with the segments listed" cmk audit verify "$log".0* "$log"
ok "audit verify of the directory" cmk audit verify "$LAB"
first=$(ls "$log".0* | head -1)
is "$(head -1 "$(ls "$log".0* | sed -n 2p)" | jq -r .prev)" "$(tail -1 "$first" | jq -r .mac)" \
	"a segment starts from the last MAC of the one before"

# a gap: one segment missing
mid=$(ls "$log".0* | sed -n 2p)
mv "$mid" "$T/"
expect_fail_msg 23 "segment is missing" "audit verify names a missing segment" cmk audit verify
expect_fail_msg 23 "segments before it are missing" "without the first segment, verify says so" \
	cmk audit verify "$(ls "$log".0* | sed -n 2p)" "$log"
mv "$T/$(basename "$mid")" "$LAB/"
ok "(with the segment back, verify passes)" cmk audit verify

# checkpoints
ok "audit verify --checkpoint (first run: from record 1, writes it)" cmk audit verify --checkpoint "$T/cp"
ok "the checkpoint holds the last record" test "$(jq -r .seq "$T/cp")" = "$total"
run "$AT" k 1 20
is "$RC" 0 "20 more wraps"
# the old segments are not needed any more once a checkpoint covers them
mkdir "$T/archive"
for f in "$log".0*; do
	[ "$(tail -1 "$f" | jq -r .seq)" -le "$total" ] && mv "$f" "$T/archive/"
done
ok "audit verify --checkpoint continues from it, without the archived segments" cmk audit verify --checkpoint "$T/cp"
like "$(cat "$OUT")" "\b$((total + 20)) records.*\(20 verified.*from the checkpoint" "it verified only the 20 new records"
echo '{"seq":1,"mac":"0000000000000000000000000000000000000000000000000000000000000000","lost":0,"tag":"00"}' >"$T/forged"
expect_fail_msg 23 "checkpoint .*forged.*altered" "a forged checkpoint is refused" cmk audit verify --checkpoint "$T/forged"
mv "$T/archive/"* "$LAB/"

# logrotate: the log moved away under a running program
sed -i '/^audit_rotate_size/d' "$CMK_CONF"
"$AT" k 1 0 >"$T/p.out" 2>"$T/p.err" &
p=$!
for _ in $(seq 1 300); do grep -q ready "$T/p.out" && break; sleep 0.05; done
mv "$log" "$log.000000999999"
kill -HUP $p
for _ in $(seq 1 300); do [ -s "$log" ] && break; sleep 0.05; done
kill -TERM $p
rc=0; wait $p || rc=$?
is "$rc" 0 "the program wrapped on through the move and stopped cleanly"
diag_file "audit-threads" "$T/p.err"
ok "a new log was started at the path" test -s "$log"
ok "audit verify over the moved log and the new one" cmk audit verify

# time-based rotation: a segment older than audit_rotate_interval is closed
sed -i "s|^\[vault_lab\]\$|[vault_lab]\naudit_rotate_interval = 1s|" "$CMK_CONF"
ok "key disable k" cmk key disable k
sleep 2
ok "key enable k, 2 s later" cmk key enable k
is "$(wc -l <"$log") $(jq -r .op "$log")" "1 enable" "audit_rotate_interval = 1s: the enable record starts a new segment"
s=$(jq -r .seq "$log")
prev_seg=$(grep -l "^{\"seq\":$((s - 1))," "$log".0*)
is "$(tail -1 "$prev_seg" | jq -r '.seq, .op' | tr '\n' ' ')" "$((s - 1)) disable " "the disable record ends the segment before"
ok "audit verify over every segment" cmk audit verify
done_testing
