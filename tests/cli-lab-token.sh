#!/bin/bash
# A lab's SoftHSM token survives an interrupted C_Login (issue 10 item 7).
# SoftHSM 2.6 rewrites token.object in place on every login; `cmk lab init`
# keeps a read-only copy (DIR/token.object.saved) and every command on a lab
# restores the file from it when it is missing, empty or cut short, saying
# so.  A kill loop on `cmk key list` (0-30 ms; SIGKILL, SIGTERM, SIGINT) must
# never lose the token; a token that is not a lab's gets a diagnosis naming
# the damaged file (exit 12) and is left alone.
#   CMK_LAB_KILLS=N   kills per signal (default 50; e.g. 300 for a long run)
. "${srcdir:-.}/tests/lib.sh"
need pkcs11-tool softhsm2-util
env --default-signal=INT true 2>/dev/null || { echo "1..0 # SKIP env has no --default-signal (coreutils < 8.31)"; exit 0; }
[ "$CMK_VALGRIND" = 1 ] && { echo "1..0 # SKIP not a valgrind test"; exit 0; }
: "${CMK_LAB_KILLS:=50}"

lab_new
tokobj=$(echo "$LAB"/tokens/*/token.object)
saved=$LAB/token.object.saved
[ -s "$tokobj" ] || bail "no token.object in $LAB/tokens"
ok "create a key" cmk key create k
rand_file "$T/dek" 32
ok "wrap a DEK" cmk wrap k --in "$T/dek" --out "$T/w"

# --- what lab init keeps
if [ -f "$saved" ] && [ ! -w "$saved" -o "$(id -u)" = 0 ]; then pass "lab init keeps DIR/token.object.saved"; else
	fail "lab init keeps DIR/token.object.saved" "$(ls -l "$LAB")"; fi
is "$(stat -c %a "$saved")" 400 "the copy is read-only (0400)"
like "$(cat "$LAB/cmk.conf")" $'\\[lab\\]' "the lab's cmk.conf is marked as a lab"
body() { tail -c +9 "$1" | od -An -tx1 | tr -d ' \n'; } # all but the generation
is "$(body "$tokobj")" "$(body "$saved")" "the copy is the token file (but for the generation)"

# --- a damaged token file is restored by the next command, which says so
restored_by() { # DESC WHY: the next key list restores the file
	ok_msg 0 "token file $tokobj was $2.*restored it from $saved" "$1: key list restores it and says so" cmk key list
	is "$(awk '{print $1}' "$OUT")" k "$1: key list then lists the key"
	is "$(body "$tokobj")" "$(body "$saved")" "$1: the token file is the copy again"
}
# ok_msg CODE ERE DESC CMD...: exit CODE (0 too) and stderr matches ERE
ok_msg() {
	local code=$1 re=$2 desc=$3
	shift 3
	run "$@"
	if [ "$RC" = "$code" ] && grep -qE -- "$re" "$ERR"; then pass "$desc"; else
		fail "$desc" "exit $RC (want $code), stderr: $(cat "$ERR")"; fi
}
: >"$tokobj"
restored_by "emptied token.object" empty
rm -f "$tokobj"
restored_by "removed token.object" missing
head -c 100 "$saved" >"$tokobj"
restored_by "token.object cut to 100 bytes" "cut short or garbled"
head -c 5 "$saved" >"$tokobj"
restored_by "token.object cut to 5 bytes" "cut short or garbled"
ok "unwrap after the repairs" cmk unwrap --in "$T/w" --out "$T/dek2"
same_file "$T/dek2" "$T/dek" "the key is intact after the repairs"
run cmk key list
is "$(grep -c restored "$ERR")" 0 "a whole token file is left alone, silently"

# cmk lab repair
: >"$tokobj"
ok "cmk lab repair" cmk lab repair "$LAB"
like "$(cat "$OUT")" "was restored" "lab repair says it restored the file"
ok "cmk lab repair (whole)" cmk lab repair "$LAB"
like "$(cat "$OUT")" "is whole" "lab repair says a whole file is whole"

# several processes find the file empty at once: one restores it under the
# lab lock, all work
: >"$tokobj"
pids=
for i in 1 2 3 4; do "$CMK_BIN" key list >"$T/par.$i.out" 2>"$T/par.$i.err" & pids="$pids $!"; done
bad=0
for p in $pids; do wait "$p" || bad=$((bad + 1)); done
is "$bad" 0 "4 concurrent commands on an emptied token file all work"
is "$(cat "$T"/par.*.err | grep -c restored)" 1 "exactly one of them restored it"

# --- the copy follows a PIN change
old=$(cat "$LAB/pin")
new=$(openssl rand -hex 16)
ok "change the user PIN (pkcs11-tool)" p11tool --login --pin "$old" --change-pin --new-pin "$new"
printf '%s\n' "$new" >"$LAB/pin"
before=$(body "$saved")
ok "key list with the new PIN" cmk key list
isnt "$(body "$saved")" "$before" "the copy was renewed after the PIN change"
is "$(stat -c %a "$saved")" 400 "the renewed copy is read-only"
: >"$tokobj"
restored_by "emptied after a PIN change" empty
ok "the restored token takes the new PIN" cmk unwrap --in "$T/w" --out "$T/dek3"
same_file "$T/dek3" "$T/dek" "unwrap works with the restored token and the new PIN"

# --- kill loop: cmk key list killed at 0-30 ms; the token is never lost
restores=0 lost=0 killed=0
# a signal that lands between fork and exec would run this script's traps
# (exit, then the EXIT trap removes $T) in the child: none during the loop
trap - INT TERM
for sig in KILL TERM INT; do
	for i in $(seq "$CMK_LAB_KILLS"); do
		# a background job of a script ignores SIGINT: give cmk the
		# default disposition, as a terminal's Ctrl-C would find it
		env --default-signal=INT,TERM "$CMK_BIN" key list >/dev/null 2>&1 &
		pid=$!
		sleep "0.0$(printf %02d $((RANDOM % 31)))"
		kill -s "$sig" "$pid" 2>/dev/null && killed=$((killed + 1))
		wait "$pid" 2>/dev/null
		if ! "$CMK_BIN" key list >"$T/kl.out" 2>"$T/kl.err" || ! grep -q '^k ' "$T/kl.out"; then
			lost=$((lost + 1))
			diag "after SIG$sig #$i: $(cat "$T/kl.err")"
			[ $lost -ge 5 ] && break 2
		fi
		grep -q restored "$T/kl.err" && restores=$((restores + 1))
	done
done
trap 'exit 130' INT TERM
diag "kill loop: $((3 * CMK_LAB_KILLS)) runs, $killed signals delivered, token file restored $restores times"
is "$lost" 0 "the lab's token is never lost: every command after a kill works"
ok "unwrap after the kill loop" cmk unwrap --in "$T/w" --out "$T/dek4"
same_file "$T/dek4" "$T/dek" "the key still unwraps after the kill loop"

# --- a token that is not a lab's: diagnosed, never touched
mkdir -p "$T/other/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$T/other/tokens" >"$T/other/softhsm2.conf"
SOFTHSM2_CONF=$T/other/softhsm2.conf softhsm2-util --init-token --free --label other \
	--so-pin 12345678 --pin 87654321 >/dev/null 2>&1 || bail "softhsm2-util --init-token failed"
printf '87654321\n' >"$T/other/pin"
cat >"$T/other/cmk.conf" <<EOC
[cmk]
default_vault = o
identity = admin
[vaults]
o = vault_o
[vault_o]
module = $SOFTHSM_MODULE
token = other
pin_source = file:$T/other/pin
EOC
otok=$(echo "$T"/other/tokens/*/token.object)
: >"$otok"
SOFTHSM2_CONF=$T/other/softhsm2.conf expect_fail_msg 12 \
	"token other is not present.*$otok is empty \\(a process killed during C_Login\\)" \
	"a non-lab token with an empty token.object: exit 12 naming the file" \
	cmk --config "$T/other/cmk.conf" vault show
like "$(cat "$ERR")" "restore it from a copy" "the diagnosis says how to repair"
is "$(stat -c %s "$otok")" 0 "the non-lab token file was not touched"
head -c 30 "$T/lab/token.object.saved" >"$otok"
SOFTHSM2_CONF=$T/other/softhsm2.conf expect_fail_msg 12 "$otok is cut short or garbled" \
	"a cut-short non-lab token file is diagnosed" cmk --config "$T/other/cmk.conf" vault show
is "$(stat -c %s "$otok")" 30 "the cut-short non-lab token file was not touched"
# the lab's diagnosis, when its copy cannot help (it is gone): names the copy
rm -f "$saved"
: >"$tokobj"
expect_fail_msg 12 "token file $tokobj is empty, and its copy $saved is missing" \
	"a lab without its copy: exit 12 naming the file and the missing copy" cmk key list

done_testing
