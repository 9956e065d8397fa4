#!/bin/bash
# Several clients on one p11-kit server: two client processes, two threads
# each, wrap, unwrap and rotate one key through the server, a fixed number
# of operations each.  No errors, no lost rotation (every version a client
# made is listed afterwards), and every wrapped key opens afterwards, in a
# new process.  Deterministic: the clients start together once both are
# connected (they wait for a go file), and nothing depends on timing.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/token-kinds.sh"
DRV=$CMK_TESTS_BIN/remote-driver
[ -x "$DRV" ] || bail "$DRV not built"
COUNT=${CMK_REMOTE_STRESS_COUNT:-25}   # wrap+unwrap per thread
ROT=2   # rotations per thread: 8 in all
lab_new
remote_serve lab
export CMK_CONF=$REMOTE_CONF
ok "key create shared" cmk key create shared
first=$(key_versions shared)

server=$(cat "$LAB/p11-kit.pid")
"$DRV" stress lab shared "$COUNT" "$ROT" "$T/c1" >"$T/c1.res" 2>"$T/c1.err" &
p1=$!
"$DRV" stress lab shared "$COUNT" "$ROT" "$T/c2" >"$T/c2.res" 2>"$T/c2.err" &
p2=$!
# both connected (each waits for its go file with its context open); a
# client that failed to open exits instead
while { [ ! -e "$T/c1.ready" ] && kill -0 $p1 2>/dev/null; } ||
	{ [ ! -e "$T/c2.ready" ] && kill -0 $p2 2>/dev/null; }; do
	sleep 0.05
done
# one p11-kit-remote per client connection, children of the one server
conns=$(ps -o comm= --ppid "$server" | grep -c p11-kit-remote)
[ "$conns" -ge 2 ] && pass "both clients are served by the one server ($conns connections)" ||
	fail "both clients are served by the one server ($conns connections)"
touch "$T/c1.go" "$T/c2.go"
rc1=0 rc2=0
wait $p1 || rc1=$?
wait $p2 || rc2=$?
for c in 1 2; do
	rc=rc$c
	is "${!rc}" 0 "client $c exits 0"
	read -r word ops rot err <"$T/c$c.res"
	is "$word $err" "ok 0" "client $c: no errors (of $ops operations)"
	diag_file "client $c stderr" "$T/c$c.err"
	is "$rot" $((2 * ROT)) "client $c: all its $((2 * ROT)) rotations succeeded"
	is "${ops:-0}" $((2 * COUNT + 2 * ROT)) "client $c: made all its $((2 * COUNT)) wraps and unwraps and $((2 * ROT)) rotations"
done

# afterwards, in a new process
key_versions shared >"$T/listed"
cat "$T/c1.rot" "$T/c2.rot" >"$T/made"
missing=$(grep -vxFf "$T/listed" "$T/made" || true)
is "$missing" "" "no lost rotation: every version the clients made is listed"
is "$(wc -l <"$T/listed" | tr -d ' ')" $((1 + $(wc -l <"$T/made"))) "the key has its first version plus every rotation"
is "$(head -n 1 "$T/listed")" "$first" "the first version is still there"
is "$(sort -u "$T/made" | wc -l | tr -d ' ')" "$(wc -l <"$T/made" | tr -d ' ')" "no version id was handed out twice"
cur=$(current_version shared)
grep -qxF "$cur" "$T/made" && pass "the current version is one of the rotations" ||
	fail "the current version is one of the rotations" "current $cur"
for c in 1 2; do
	n=$(wc -l <"$T/c$c")
	ok "client $c: every wrapped key it kept ($n) opens afterwards" "$DRV" verify lab "$T/c$c"
	is "$(cat "$OUT")" "ok $n 0" "client $c: $n of $n opened"
done
ok "audit verify after the run" cmk audit verify
done_testing
