#!/bin/bash
# A change killed at each of its token writes (tests/faultmod.c signal=SIG:
# the module makes the write, then sends SIG to the process), for the key
# changes whose token writes come before or after their metadata commit:
# disable and enable (key and version), delete, recover, rotate.
#   - SIGTERM and SIGINT are held back until the change and its audit
#     record are complete (src/lib/util/sigdefer.h): the command then dies
#     of the signal, the vault is "after", `vault check` finds nothing, every
#     usable key wraps and unwraps, and the change's audit record is there.
#   - SIGKILL cannot be held back: the vault is "before" or "after", no
#     private key is lost, and the token may be stricter than the metadata
#     (never looser); a read (key show, unwrap) leaves that as it is, and the
#     next change of anything in the vault (here a policy set) first puts it
#     right (the lock file's in-progress mark, docs/design.md "Interrupted
#     changes"): `vault check` then finds nothing, every usable key wraps and
#     unwraps, and the audit log has a "vault-heal" record.
# Signals take turns over the write points; CMK_FAULT_FULL=1 sends each
# signal at every point.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/fault-lib.sh"
need jq
[ "$CMK_VALGRIND" = 1 ] && { echo "1..0 # SKIP not a valgrind test"; exit 0; }

lab_new
cmk policy set admin all,purge >/dev/null || bail "policy set"
for k in a b c; do cmk key create $k >/dev/null || bail "key create $k"; done
cmk key rotate a >/dev/null || bail "rotate"
V1=$(key_versions a | head -n 1)
cmk key delete c >/dev/null && cmk key disable b >/dev/null || bail "lab setup"
fault_lab
state() { fault_keys_state a b c; }

# every enabled version of every live, enabled key wraps and unwraps
healthy() {
	local k v
	for k in a b c; do
		cmk --json key show $k >"$T/h.json" 2>/dev/null || continue
		[ "$(jq -r .enabled "$T/h.json")" = true ] || continue
		for v in $(jq -r '.version_list[] | select(.enabled) | .version' "$T/h.json"); do
			cmk wrap "$k/$v" --in "$T/dek" --out "$T/h.w" 2>"$T/h.err" &&
				cmk unwrap --in "$T/h.w" -o "$T/h.out" 2>>"$T/h.err" && cmp -s "$T/dek" "$T/h.out" ||
				{ echo "$k/$v does not wrap and unwrap: $(head -c 300 "$T/h.err")"; return 1; }
		done
	done
}

# vault check finds nothing (its report otherwise)
clean_check() {
	cmk vault check >"$T/vc.out" 2>&1 || { head -c 400 "$T/vc.out"; return 1; }
}

audit_ops() { cmk --json audit show 2>/dev/null | jq -r .op 2>/dev/null; }

SIGS=(KILL TERM INT)
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
	for f in $WRITES; do
		n=$(grep -c "^$f [0-9]* CKR_OK\$" "$T/trace" || true)
		for ((i = 1; i <= n; i++)); do
			local sigs=${SIGS[$(((runs + i) % 3))]}
			[ "${CMK_FAULT_FULL:-0}" = 1 ] && sigs=${SIGS[*]}
			for sig in $sigs; do
				runs=$((runs + 1))
				why=
				restore
				rm -f "$T/flog"
				local nops
				nops=$(audit_ops | grep -c "^$op\$")
				rc=0
				CMK_CONF=$FAULT_CONF CMK_FAULT="$f:$i:signal=$sig" CMK_FAULT_LOG=$T/flog \
					"$CMK_BIN" "$@" >/dev/null 2>"$T/f.err" || rc=$?
				state >"$T/now"
				if ! grep -q "signal=" "$T/flog" 2>/dev/null; then
					why="the signal was not sent"
				elif [ $sig != KILL ]; then
					# held back: the change completes, then the signal kills
					local want=$((128 + $(kill -l $sig)))
					if [ $rc != $want ]; then
						why="exit $rc, want $want (death by SIG$sig after the change): $(head -c 200 "$T/f.err")"
					elif ! cmp -s "$T/now" "$T/after"; then
						why="the vault is not 'after': $(diff "$T/after" "$T/now" | tr '\n' ' ' | head -c 300)"
					elif ! st=$(clean_check); then
						why="vault check: $st"
					elif ! st=$(healthy); then
						why=$st
					elif [ "$(audit_ops | grep -c "^$op\$")" != $((nops + 1)) ]; then
						why="no '$op' audit record for the completed change"
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
	is "$bad" 0 "$name: killed after each of its token writes ($runs runs; SIGKILL left work for the next change $stricter times, which healed it $healed times)"
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
