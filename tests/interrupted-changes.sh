#!/bin/bash
# A change killed at each of its token writes (tests/faultmod.c signal=SIG:
# the module makes the write, then sends SIG to the process), for the key
# changes whose token writes come before or after their metadata commit:
# disable and enable (key and version), delete, recover, rotate.
#   - SIGTERM and SIGINT are held back from the moment the change has the
#     vault lock until it and its audit record are complete
#     (src/lib/util/sigdefer.h): the command then dies of the signal, the
#     vault is "after" with the change's audit record (or "before" without
#     it, for a write before the lock: a session object), `vault check`
#     finds nothing and every usable key wraps and unwraps.
#   - SIGKILL cannot be held back: the vault is "before" or "after", no
#     private key is lost, and the token may be stricter than the metadata
#     (never looser); a read (key show, unwrap) leaves that as it is, and the
#     next change of anything in the vault (here a policy set) first puts it
#     right (the lock file's in-progress mark, docs/design.md "Interrupted
#     changes"): `vault check` then finds nothing, every usable key wraps and
#     unwraps, and the audit log has a "vault-heal" record.
# After every kill, whatever the signal, the token itself (pkcs11-tool) has
# no private key that may decrypt or sign for a version the metadata does
# not allow to be used: a disable lowers the token before it commits.
# SIGKILL is sent at every write point, SIGTERM or SIGINT at every other
# one; CMK_FAULT_FULL=1 sends each signal at every point.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/fault-lib.sh"
need jq pkcs11-tool
[ "$CMK_VALGRIND" = 1 ] && { echo "1..0 # SKIP not a valgrind test"; exit 0; }

lab_new
cmk policy set admin all,purge >/dev/null || bail "policy set"
for k in a b c; do cmk key create $k >/dev/null || bail "key create $k"; done
cmk key rotate a >/dev/null || bail "rotate"
V1=$(key_versions a | head -n 1)
cmk key delete c >/dev/null && cmk key disable b >/dev/null || bail "lab setup"
fault_lab
# state: the keys as the metadata says; their `key show` is kept in
# $T/show (FAULT_SHOW_DIR) for the checks that follow while nothing changed
# the vault since (SHOWN=1)
FAULT_SHOW_DIR=$T/show
mkdir -p "$FAULT_SHOW_DIR"
state() { fault_keys_state a b c; SHOWN=1; }
SHOWN=0

# shows: each key's key show (live or deleted) as $T/l.KEY.json, from the
# last state while it holds; the keys that cannot be read on stdout
shows() {
	local k
	for k in a b c; do
		if [ $SHOWN = 1 ]; then
			[ -f "$FAULT_SHOW_DIR/$k.json" ] && cp "$FAULT_SHOW_DIR/$k.json" "$T/l.$k.json" ||
				echo $k
		else
			cmk --json key show $k >"$T/l.$k.json" 2>/dev/null ||
				cmk --json key show $k --deleted >"$T/l.$k.json" 2>/dev/null || echo $k
		fi
	done
}

# Each check reads the three keys with one jq (a jq start costs about
# 20 ms of CPU, twice a cmk command, and these run after every kill).

# every enabled version of every live, enabled key wraps and unwraps
healthy() {
	local bad kv files=()
	bad=$(shows)
	for k in a b c; do [[ " $bad " == *" $k "* ]] || files+=("$T/l.$k.json"); done
	[ ${#files[@]} = 0 ] && return 0
	for kv in $(jq -r 'select(.enabled and (.deleted | not)) | .name as $k |
			.version_list[] | select(.enabled) | "\($k)/\(.version)"' "${files[@]}"); do
		cmk wrap "$kv" --in "$T/dek" --out "$T/h.w" 2>"$T/h.err" &&
			cmk unwrap --in "$T/h.w" -o "$T/h.out" 2>>"$T/h.err" && cmp -s "$T/dek" "$T/h.out" ||
			{ echo "$kv does not wrap and unwrap: $(head -c 300 "$T/h.err")"; return 1; }
	done
}

# never looser, read on the token itself (pkcs11-tool, not cmk's own
# judgement): no private key of a version the metadata does not allow to
# be used (key disabled or deleted, version disabled) may decrypt or sign
no_looser() {
	local kv v objs bad
	objs=$(p11tool_login -O --type privkey 2>/dev/null | awk '
		function flush() { if (i != "") print i, u; i = ""; u = "" }
		/^Private Key Object/ { flush() }
		/^ *ID:/ { i = $2 }
		/^ *Usage:/ { sub(/^ *Usage: */, ""); gsub(/[ ,]+/, ","); u = $0 }
		END { flush() }')
	[ -n "$objs" ] || { echo "pkcs11-tool lists no private key"; return 1; }
	bad=$(shows)
	[ -z "$bad" ] || { echo "key show $bad failed"; return 1; }
	for kv in $(jq -r '.name as $k | if (.enabled and (.deleted | not))
			then (.version_list[] | select(.enabled | not) | "\($k)/\(.version)")
			else (.version_list[] | "\($k)/\(.version)") end' "$T/l.a.json" "$T/l.b.json" "$T/l.c.json"); do
		v=${kv#*/}
		if grep -E "^$v[0-9a-f]* .*(decrypt|sign)" <<<"$objs" >/dev/null; then
			echo "$kv may not be used, but the token has a copy that may: $(grep "^$v" <<<"$objs" | tr '\n' ' ')"
			return 1
		fi
	done
}

# vault check finds nothing (its report otherwise)
clean_check() {
	cmk vault check >"$T/vc.out" 2>&1 || { head -c 400 "$T/vc.out"; return 1; }
}

# the operations of the audit log, one a line (the text form's fourth
# column: seq, time, identity, operation, ...)
audit_ops() { cmk audit show 2>/dev/null | awk '{ print $4 }'; }

WRITES="C_CreateObject C_CopyObject C_DestroyObject C_GenerateKeyPair"

# check_cmd NAME AUDIT_OP ARGS...: the command killed after each token write
check_cmd() {
	local name=$1 op=$2 f n i sig rc why runs=0 bad=0 healed=0 stricter=0
	shift 2
	restore
	rm -f "$T/trace"
	state >"$T/before"
	CMK_CONF=$FAULT_CONF CMK_FAULT_TRACE=$T/trace cmk "$@" >/dev/null 2>"$T/clean.err" ||
		bail "$name: fault-free run failed: $(cat "$T/clean.err")"
	state >"$T/after"
	cmp -s "$T/before" "$T/after" && bail "$name: the command changed nothing"
	# every run starts from the lab as it is now (restore): its records
	restore
	local nops
	nops=$(audit_ops | grep -c "^$op\$")
	local pt=0
	for f in $WRITES; do
		# the calls that succeeded in the clean run (a failed one
		# wrote nothing)
		for i in $(sed -n "s/^$f \([0-9]*\) CKR_OK\$/\1/p" "$T/trace"); do
			pt=$((pt + 1))
			fault_due $((pt - 1)) || continue
			# SIGKILL at every write; SIGTERM or SIGINT (in turn) at
			# every other one, or both at each with CMK_FAULT_FULL=1
			local sigs=KILL
			if [ "${CMK_FAULT_FULL:-0}" = 1 ]; then
				sigs="KILL TERM INT"
			elif [ $((runs % 2)) = 0 ]; then
				sigs="KILL $([ $(((runs / 2) % 2)) = 0 ] && echo TERM || echo INT)"
			fi
			for sig in $sigs; do
				runs=$((runs + 1))
				why=
				restore
				rm -f "$T/flog"
				rc=0
				CMK_CONF=$FAULT_CONF CMK_FAULT="$f:$i:signal=$sig" CMK_FAULT_LOG=$T/flog \
					"$CMK_BIN" "$@" >/dev/null 2>"$T/f.err" || rc=$?
				state >"$T/now"
				st=$(no_looser) || why="the token is looser than the metadata: $st"
				if ! grep -q "signal=" "$T/flog" 2>/dev/null; then
					why="the signal was not sent"
				elif [ -n "$why" ]; then
					:
				elif [ $sig != KILL ]; then
					# held back: a write before the lock (a session
					# object) leaves "before"; once the change has the
					# lock, it completes with its audit record, then
					# the signal kills
					local want=$((128 + $(kill -l $sig))) nrec
					nrec=$(audit_ops | grep -c "^$op\$")
					if [ $rc != $want ]; then
						why="exit $rc, want $want (death by SIG$sig): $(head -c 200 "$T/f.err")"
					elif cmp -s "$T/now" "$T/after"; then
						[ "$nrec" = $((nops + 1)) ] || why="no '$op' audit record for the completed change"
					elif cmp -s "$T/now" "$T/before"; then
						[ "$nrec" = "$nops" ] || why="a '$op' audit record for a change that did not happen"
					else
						why="the vault is neither before nor after: $(diff "$T/after" "$T/now" | tr '\n' ' ' | head -c 300)"
					fi
					if [ -z "$why" ] && ! st=$(clean_check); then
						why="vault check: $st"
					elif [ -z "$why" ] && ! st=$(healthy); then
						why=$st
					fi
				else
					if [ $rc != 137 ]; then
						why="exit $rc, want 137"
					elif ! cmp -s "$T/now" "$T/after" && ! cmp -s "$T/now" "$T/before"; then
						why="the vault is neither before nor after: $(diff "$T/before" "$T/now" | tr '\n' ' ' | head -c 300)"
					elif ! clean_check >/dev/null; then
						stricter=$((stricter + 1))
						grep -q "token-looser\|missing-private-key" "$T/vc.out" &&
							why="left more than a stricter token: $(head -c 300 "$T/vc.out")"
						# a read leaves it as it is
						cmk key show a >/dev/null 2>&1
						cp "$T/vc.out" "$T/vc.first"
						clean_check >/dev/null
						cmp -s <(sort "$T/vc.first") <(sort "$T/vc.out") ||
							[ -n "$why" ] || why="a read changed the token: $(diff "$T/vc.first" "$T/vc.out" | head -c 300)"
						# the next change heals it
						cmk policy set heal get >/dev/null 2>"$T/p.err" ||
							why="policy set after the kill: $(cat "$T/p.err")"
						SHOWN=0
						if [ -z "$why" ]; then
							if ! st=$(clean_check); then
								why="the next change did not heal: $st"
							elif ! audit_ops | grep -q '^vault-heal$'; then
								why="no vault-heal audit record"
							else
								healed=$((healed + 1))
							fi
						fi
					fi
					[ -z "$why" ] && { st=$(healthy) || why=$st; }
				fi
				cmk audit verify >/dev/null 2>"$T/av.err" ||
					why="${why:+$why; }audit verify: $(head -c 200 "$T/av.err")"
				if [ -n "$why" ]; then
					bad=$((bad + 1))
					diag "$name: SIG$sig after $f #$i: $why"
				fi
			done
		done
	done
	[ $runs -gt 0 ] || bail "$name: no token write traced"
	is "$bad" 0 "$name: killed after $(fault_points) of its token writes ($runs runs; SIGKILL left work for the next change $stricter times, which healed it $healed times)"
}

check_cmd "key disable" disable key disable a
check_cmd "key disable (version)" disable key disable "a/$V1"
check_cmd "key enable" enable key enable b
check_cmd "key delete" delete key delete a
check_cmd "key recover" recover key recover c
check_cmd "key rotate" rotate key rotate a

# the mark is in the lock file while a change is in progress, and gone after
restore
cmk key set a --tag t=1 >/dev/null || bail "key set"
like "$(cat "$LAB/lab.lock")" '^[0-9]{20} c$' "after a change the lock file's mark is 'c' (clean)"
done_testing
