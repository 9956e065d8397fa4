#!/bin/bash
# An unwrap that finds no working copy of an enabled version looks again
# (crypto/handle.c, priv_missing); what it reads then must be one state of
# the vault, never the middle of a change.  The fault module holds an
# unwrap (A) at two points while two other commands change the version:
#
#   A: finds the working copy ......... held 2 s: B disables the version
#   A: no copy: reads the metadata .... held 3 s: C enables the version and
#                                       is held after its commit, before it
#                                       makes the working copy again
#   A: looks for the copy
#
# Before the fix A read C's committed "enabled", found no copy yet and said
# "an interrupted change left the token stricter than the metadata" (a
# false alarm, seen once by tests/keys-concurrent.sh in CI).  Now A holds
# the vault lock shared while it reads again, so C waits for it: A says the
# version is disabled, as it was, and C then completes.
#
# Below, two more races of readers: records superseded between a search
# and its reads, and fork() while a thread holds the lock shared.
. "${srcdir:-.}/tests/lib.sh"
lab_new
. "${srcdir:-.}/tests/fault-lib.sh"
fault_lab

fcmk() { cmk --config "$FAULT_CONF" "$@"; }
# wait_file FILE PID: until FILE exists (a delay of PID's started); 1 if
# PID ended first or after 20 s
wait_file() {
	local i
	for i in $(seq 1000); do
		[ -e "$1" ] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.02
	done
	return 1
}

ok "key create k" cmk key create k
V=$(key_versions k | tail -n 1)
ok "wrap with it" cmk wrap "k/$V" --in "$T/dek" --out "$T/w"

# Where to hold them, from the traces of the same commands undisturbed: A's
# search for the working copy is its last C_FindObjectsInit before the
# first C_EncryptInit (the copy's test, p11/rsa.c) and the metadata is read
# again with the next one; C's commit is its first C_CreateObject, and the
# working copy is made after its next C_EncryptInit.
CMK_FAULT_TRACE=$T/trace.unwrap fcmk unwrap --in "$T/w" -o "$T/u0" >/dev/null ||
	bail "a traced unwrap failed"
ok "version disabled for a traced enable" cmk key disable "k/$V"
CMK_FAULT_TRACE=$T/trace.enable fcmk key enable "k/$V" >/dev/null || bail "a traced enable failed"
NA=$(sed '/^C_EncryptInit /q' "$T/trace.unwrap" | grep -c '^C_FindObjectsInit ')
NC=$(sed '/^C_CreateObject 1 /q' "$T/trace.enable" | grep -c '^C_EncryptInit ')
[ "$NA" -gt 0 ] && grep -q '^C_CreateObject 1 CKR_OK' "$T/trace.enable" ||
	bail "unexpected traces (A: $NA searches)"
NC=$((NC + 1))

rm -f "$T/markA" "$T/markC" "$T/faultA"
CMK_FAULT_MARK=$T/markA CMK_FAULT_LOG=$T/faultA \
	CMK_FAULT="C_FindObjectsInit:$NA:delay=2000ms,C_FindObjectsInit:$((NA + 1)):delay=3000ms" \
	fcmk unwrap --in "$T/w" -o "$T/u" >"$T/a.out" 2>"$T/a.err" &
A=$!
wait_file "$T/markA" $A || bail "A never reached its search for the working copy"
rm -f "$T/markA"
ok "B: disable the version while A is held" cmk key disable "k/$V"
wait_file "$T/markA" $A || bail "A never read the metadata again"
CMK_FAULT_MARK=$T/markC CMK_FAULT="C_EncryptInit:$NC:delay=3000ms" \
	fcmk key enable "k/$V" >"$T/c.out" 2>"$T/c.err" &
C=$!
rc=0
wait $A || rc=$?
is "$(grep -c delay "$T/faultA")" 2 "A was held at both points"
is "$rc:$(cat "$T/a.err")" "6:cmk: key cmk://lab/keys/k/$V is disabled" \
	"A says the version is disabled (never 'no copy ... interrupted change')"
no_file "$T/u" "... and writes nothing"
rc=0
wait $C || rc=$?
is "$rc:$(cat "$T/c.err")" "0:" "C's enable completes after A"
ok "an unwrap afterwards" cmk unwrap --in "$T/w" -o "$T/u2"
same_file "$T/u2" "$T/dek" "... recovers the DEK"
ok "vault check finds nothing to repair" cmk vault check

# ---------------------------------------------- records superseded while read
# A change writes its new record, then destroys the one it supersedes.  A
# reader that searched before the new record existed and reads the old
# one after it was destroyed saw neither: the unwrap said "key ... does
# not exist" (exit 4), or found no policy.  Now a record gone between the
# search and its read makes the search run again (p11/object.c).  The
# unwrap is held (the fault module's hold) at each attribute read before
# its search for the working copy while a change supersedes records: the
# key's (key set --tag) or the caller's policy (set to what it is).
PERMS=$(cmk --json policy show admin | jq -r '.[0].permissions | join(",")')
NR=$(sed "/^C_FindObjectsInit $NA /q" "$T/trace.unwrap" | grep -c '^C_GetAttributeValue ')
[ "$NR" -gt 0 ] || bail "no attribute read before the working copy's search"
bad=
points=0
for n in $(seq 1 "$NR"); do
	fault_due $((n - 1)) || continue
	points=$((points + 1))
	for change in "key set k --tag n=$n" "policy set admin $PERMS"; do
		rm -f "$T/hold" "$T/u"
		CMK_FAULT_MARK=$T/hold CMK_FAULT="C_GetAttributeValue:$n:hold" \
			fcmk unwrap --in "$T/w" -o "$T/u" >"$T/a.out" 2>"$T/a.err" &
		A=$!
		if ! wait_file "$T/hold" $A; then
			bad="$bad; read $n: never held"
			wait $A
			continue
		fi
		# shellcheck disable=SC2086 # the change's words
		cmk $change >/dev/null 2>"$T/b.err" || bad="$bad; read $n: cmk $change: $(cat "$T/b.err")"
		rm -f "$T/hold"
		rc=0
		wait $A || rc=$?
		if [ $rc != 0 ] || ! cmp -s "$T/u" "$T/dek"; then
			bad="$bad; read $n, cmk ${change%% --*}: exit $rc: $(cat "$T/a.err")"
		fi
	done
done
is "${bad#; }" "" "an unwrap held at $(fault_points) of its $NR reads of records ($points) while a change supersedes them unwraps"

# ---------------------------------------------- fork() during the shared hold
# The look again holds the lock file shared.  A fork() meanwhile would give
# the child the descriptor with the lock on it: a child that never execs (a
# prefork server's) would keep the vault locked once its parent died, and
# every change on the host would wait for it.  So fork() waits until the
# hold is over.  The version is left as a killed enable leaves it (enabled,
# no working copy), so the look again makes two searches under the hold:
# tests/fork-read-hold's thread is held at the first, its main thread
# forks, the thread is let go to the second and held there, the parent is
# killed; a change must then go through.
FRH=$CMK_TESTS_BIN/fork-read-hold
[ -x "$FRH" ] || bail "$FRH not built"
rm -f "$T/frh.trace"
CMK_FAULT_TRACE=$T/frh.trace "$FRH" "$FAULT_CONF" "$T/w" "$T/go" >"$T/frh.out" 2>&1
is "$(cat "$T/frh.out")" "unwrap: ok" "fork-read-hold unwraps undisturbed"
NF=$(sed '/^C_EncryptInit /q' "$T/frh.trace" | grep -c '^C_FindObjectsInit ')
ok "disable the version" cmk key disable "k/$V"
rc=0
CMK_FAULT="C_EncryptInit:$NC:signal=KILL" fcmk key enable "k/$V" >/dev/null 2>&1 || rc=$?
is "$rc" 137 "an enable killed after its commit, before it makes the working copy"
expect_fail_msg 6 "is enabled but the token has no copy of it that may decrypt: an interrupted change" \
	"an unwrap then says so" cmk unwrap --in "$T/w" -o "$T/u3"
rm -f "$T/hold" "$T/go"
CMK_FAULT_MARK=$T/hold CMK_FAULT="C_FindObjectsInit:$((NF + 1)):hold,C_FindObjectsInit:$((NF + 2)):hold" \
	setsid "$FRH" "$FAULT_CONF" "$T/w" "$T/go" >"$T/frh.out" 2>&1 &
P=$!
wait_file "$T/hold" $P || bail "fork-read-hold never looked again"
touch "$T/go"
sleep 0.5 # the main thread is in fork() now, waiting
rm -f "$T/hold"
wait_file "$T/hold" $P || bail "fork-read-hold never made its second search"
kill -KILL $P
wait $P 2>/dev/null
rc=0
timeout 30 "$CMK_BIN" key enable "k/$V" >/dev/null 2>"$T/frh.err" || rc=$?
is "$rc" 0 "a change after the parent was killed inside the hold goes through (no child holds the lock)"
kill -KILL -- -$P 2>/dev/null
ok "an unwrap afterwards" cmk unwrap --in "$T/w" -o "$T/u4"
done_testing
