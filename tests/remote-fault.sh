#!/bin/bash
# Faults on the way to a remote token: the p11-kit server is killed
# (SIGKILL of the server and its connections, as when the HSM host dies)
# under a long-lived client (tests/remote-driver) in the middle of key
# generation, rotation and unwraps.  The client gets an error naming the
# vault and the server address, survives (no SIGPIPE), leaves no key or
# metadata half-made, and its next operation after the server is back works
# without a restart (the module is re-initialised on the dead connection).
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/token-kinds.sh"
DRV=$CMK_TESTS_BIN/remote-driver
[ -x "$DRV" ] || bail "$DRV not built"
lab_new
remote_serve lab
export CMK_CONF=$REMOTE_CONF
NAMED="vault lab \(p11-kit server $REMOTE_ADDR\)"

# ------------------------------------------- one CLI process, killed server
ok "key create k" cmk key create k
# the kill must land inside the generation: a run that finished first is
# tried again with a shorter head start (never a skip: a miss every time
# is a failure)
rc=0
for try in 1 2 3 4 5 6 7 8; do
	"$CMK_BIN" key create "cli-big$try" --size 4096 >"$T/cli.out" 2>"$T/cli.err" &
	cli=$!
	sleep "0.$((4 - try % 4))"
	remote_kill
	rc=0
	wait $cli || rc=$?
	[ $rc != 0 ] && break
	diag "try $try: the 4096-bit generation ended before the kill; again"
	remote_restart
done
if [ $rc = 0 ]; then
	fail "a CLI command whose server dies fails naming the vault and address" "8 generations all ended before the kill"
else
	is "$rc" 12 "a CLI command whose server dies exits CMK_E_TOKEN (12)"
	like "$(cat "$T/cli.err")" "$NAMED" "and its error names the vault and the server address"
fi
remote_restart
ok "after a restart of the server, a new CLI process works" cmk key list

# --------------------------------------------------- the long-lived client
coproc DRIVER { exec "$DRV" lab 2>"$T/driver.err"; }
dpid=$DRIVER_PID
# ask CMD: one command, its reply in REPLY (and "# " lines in NOTES)
ask_send() { echo "$*" >&"${DRIVER[1]}"; }
ask_read() {
	REPLY= NOTES=
	local line
	while read -r -t 120 line <&"${DRIVER[0]}"; do
		case $line in
		"# "*) NOTES="$NOTES${line#\# }"$'\n' ;;
		*) REPLY=$line; return 0 ;;
		esac
	done
	REPLY="(no reply: the driver died)"
}
ask() { ask_send "$@"; ask_read; }
ask_read
is "$REPLY" ok "the driver opened the remote vault"
ask wrap k
like "$REPLY" "^ok 0 cmk://lab/keys/k/[0-9a-f]{32}$" "it wraps a DEK through the server"
ask unwrap 0
is "$REPLY" ok "and unwraps it"

# the server dies in the middle of a 4096-bit key generation
got=
for try in 1 2 3 4 5 6 7 8; do
	ask_send create big$try 4096
	sleep "0.$((4 - try % 4))"
	remote_kill
	ask_read
	case $REPLY in
	err*) got=$try; break ;;
	esac
	remote_restart
done
if [ -n "$got" ]; then
	like "$REPLY" "^err 12 " "key create cut off by the server's death fails with CMK_E_TOKEN"
	like "$REPLY" "$NAMED" "and the error names the vault and the server address"
	like "$REPLY" "lost|does not answer|not there" "and says the connection is lost"
else
	fail "key create cut off by the server's death" "8 generations all ended before the kill"
fi
proc_alive "$dpid" && pass "the client survives the dead connection (no SIGPIPE)" ||
	fail "the client survives the dead connection (no SIGPIPE)" "$(cat "$T/driver.err")"
ask unwrap 0
like "$REPLY" "^err 12 .*$NAMED" "with the server down, unwrap fails naming the vault and the address"
ask versions k
like "$REPLY" "^err 12 .*$NAMED" "and so does a metadata read"
remote_restart
ask unwrap 0
is "$REPLY" ok "after the server is back, the same client unwraps again (no restart)"
ask wrap k
like "$REPLY" "^ok 1 " "and wraps"
ask versions k
like "$REPLY" "^ok [0-9a-f]{32}$" "and reads metadata"
if [ -n "$got" ]; then
	# nothing half-made: the key is either complete or absent, its name free
	ask versions "big$got"
	case $REPLY in
	"ok "*)
		ask wrap "big$got"
		like "$REPLY" "^ok " "the key whose creation was cut off is complete (it wraps)"
		ask unwrap 2
		is "$REPLY" ok "and unwraps"
		;;
	*)
		like "$REPLY" "^err 4 " "the key whose creation was cut off does not exist"
		ask create "big$got" 2048
		like "$REPLY" "^ok [0-9a-f]{32}$" "and its name is free: creating it again works"
		;;
	esac
fi

# the server dies at random moments of rotations
for i in 1 2 3 4; do
	ask_send rotate k
	sleep "0.$((RANDOM % 25))"
	remote_kill
	ask_read
	remote_restart
	echo "$REPLY" >>"$T/rotations"
done
ask versions k
like "$REPLY" "^ok( [0-9a-f]{32})+$" "after four rotations cut at random moments, metadata reads"
vers=${REPLY#ok }
ok "a new process lists the key (no record is malformed or fails its MAC)" cmk key show k
nv=0 bad=
for v in $vers; do
	nv=$((nv + 1))
	cmk wrap "k/$v" --in /dev/stdin --out "$T/w.$v" <<<"dek-$v" 2>"$T/e.$v" &&
		cmk unwrap --in "$T/w.$v" --out "$T/d.$v" 2>>"$T/e.$v" &&
		[ "$(cat "$T/d.$v")" = "dek-$v" ] || bad="$bad $v"
done
is "$bad" "" "every version listed ($nv) has its key pair: each wraps and unwraps"
made=$(grep -c '^ok ' "$T/rotations")
[ "$nv" -ge $((1 + made)) ] && pass "every rotation that reported success is listed ($made of 4)" ||
	fail "every rotation that reported success is listed ($made of 4)" "$(cat "$T/rotations")"
while read -r line; do
	case $line in
	"ok "*) ;;
	"err 12 "*) [[ $line =~ $NAMED ]] || bad="$bad [$line]" ;;
	*) bad="$bad [$line]" ;;
	esac
done <"$T/rotations"
is "$bad" "" "each cut rotation failed with CMK_E_TOKEN naming the vault and address"

# unwraps from two threads while the server dies and comes back: down for
# 2 s, longer than a call's recovery tries (so errors are seen), then up
# again for the rest of the 6 s spin
ask_send spin 6000
sleep 0.8
remote_kill
sleep 2
remote_restart
ask_read
like "$REPLY" "^ok [1-9][0-9]* [1-9][0-9]* ok$" "two threads unwrapping: errors while the server was down, then success again"
bad=$(printf '%s' "$NOTES" | grep -vE "$NAMED" || true)
is "$bad" "" "every error they saw names the vault and the address"
proc_alive "$dpid" && pass "the client is still the same process" || fail "the client is still the same process"
ask quit
wait "$dpid" 2>/dev/null
ok "audit verify after the faults" cmk audit verify
done_testing
