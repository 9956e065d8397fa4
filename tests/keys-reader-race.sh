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
for n in $(seq 1 "$NR"); do
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
is "${bad#; }" "" "an unwrap held at each of its $NR reads of records while a change supersedes them unwraps"
done_testing
