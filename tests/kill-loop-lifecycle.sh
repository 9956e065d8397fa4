#!/bin/bash
# Crash safety of the lifecycle and policy changes (docs/semantics.md §2): `cmk key
# create/rotate/enable/disable/delete/recover/purge` and `cmk policy
# set/remove`, killed with SIGKILL, SIGTERM or SIGINT (at random) after a
# random 0-300 ms, leave the vault
# as before or as after, never half-way.  After each kill: key list, key
# list --deleted and key show work; each key is live, deleted or gone --
# exactly one, the same in list and show; every listed version has its
# private key on the token; the token is never more permissive than the
# metadata (no private key of a deleted key may decrypt); a purge that was
# interrupted leaves nothing once `vault sweep` ran; every usable version of
# the key acted on wraps and unwraps; every policy reads back.
# Runs for $CMK_KILL_SECONDS (default 60), or until $CMK_KILL_COUNT commands
# were killed when that is set (tests/kill-lib.sh); a token lost to
# SoftHSM's in-place rewrite is restored and counted, or fails with
# CMK_TOKEN_LOSS=fail.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/lifecycle-lib.sh"
. "${srcdir:-.}/tests/kill-lib.sh"
need pkcs11-tool timeout
[ "$CMK_VALGRIND" = 1 ] && { echo "1..0 # SKIP not a valgrind test"; exit 0; }
lab_new
rand_file "$T/dek" 32
chk() { timeout 60 "$CMK_BIN" "$@"; }

ok "policy set admin all,purge" cmk policy set admin all,purge
ok "key create k1" cmk key create k1
ok "key create k2" cmk key create k2
ok "wrap with k1" cmk wrap k1 --in "$T/dek" --out "$T/w1"
NAMES="k1 k2 k3 k4"
IDS="p0 p1 p2"

kill_guard_init   # tests/kill-lib.sh: SoftHSM's in-place token.object rewrite

# state NAME: live | deleted | gone | "error: ..."
state() {
	local rc=0
	chk key show "$1" >/dev/null 2>"$T/s.err" || rc=$?
	case $rc in
	0) echo live ;;
	10) echo deleted ;;
	4) echo gone ;;
	*) echo "error: key show $1 exit $rc: $(head -c 200 "$T/s.err")" ;;
	esac
}

# consistent ACTED-ON: prints why not, returns 1
consistent() {
	local acted=$1 live dead name st j v privs usable objs
	live=$(chk key list 2>"$T/c.err" | awk '{ print $1 }') ||
		{ echo "key list failed: $(cat "$T/c.err")"; return 1; }
	dead=$(chk key list --deleted 2>"$T/c.err" | awk '{ print $1 }') ||
		{ echo "key list --deleted failed: $(cat "$T/c.err")"; return 1; }
	objs=$(p11tool_login -O 2>/dev/null)
	privs=$(p11tool_login -O --type privkey 2>/dev/null | sed -n 's/^ *ID: *//p')
	for name in $NAMES; do
		st=$(state "$name")
		case $st in error*) echo "$st"; return 1 ;; esac
		local in_live=0 in_dead=0
		grep -qx "$name" <<<"$live" && in_live=1
		grep -qx "$name" <<<"$dead" && in_dead=1
		case $st:$in_live:$in_dead in
		live:1:0 | deleted:0:1 | gone:0:0) ;;
		*) echo "$name: key show says $st, key list has it $in_live, list --deleted $in_dead"; return 1 ;;
		esac
		case $st in
		live) j=$(chk --json key show "$name" 2>"$T/c.err") ||
			{ echo "key show $name failed: $(cat "$T/c.err")"; return 1; } ;;
		deleted) j=$(chk --json key show "$name" --deleted 2>"$T/c.err") ||
			{ echo "key show $name --deleted failed: $(cat "$T/c.err")"; return 1; }
			[ "$(jq -r .deleted <<<"$j")" = true ] || { echo "$name: show --deleted says not deleted"; return 1; } ;;
		gone)
			if grep -qE "application: +'cmk/key/$name'" <<<"$objs"; then
				# an interrupted purge (or create): the sweep finishes it
				chk vault sweep >/dev/null 2>"$T/c.err" || { echo "vault sweep failed: $(cat "$T/c.err")"; return 1; }
				grep -qE "application: +'cmk/key/$name'" <<<"$(p11tool_login -O 2>/dev/null)" &&
					{ echo "$name is gone but its records stay on the token after vault sweep"; return 1; }
			fi
			continue ;;
		esac
		for v in $(jq -r "$LC_JQ vl[].version" <<<"$j"); do
			grep -q "^$v" <<<"$privs" || { echo "version $v of $name ($st) has no private key on the token"; return 1; }
			if [ "$st" = deleted ]; then
				local usage
				usage=$(lc_priv_usage "$v")
				grep -qE 'decrypt|unwrap' <<<"$usage" &&
					{ echo "version $v of the deleted key $name may still decrypt on the token ($usage)"; return 1; }
			fi
		done
		[ "$st" = live ] && [ "$name" = "$acted" ] || continue
		usable=$(jq -r "$LC_JQ select(.enabled != false) | vl[] | select(.enabled == true) | .version" <<<"$j")
		for v in $usable; do
			why=$(lc_roundtrip "$name/$v" "$T/dek") || { echo "$why"; return 1; }
		done
	done
	chk policy show >/dev/null 2>"$T/c.err" || { echo "policy show failed: $(cat "$T/c.err")"; return 1; }
	for name in $IDS; do
		local rc=0
		chk policy show "$name" >/dev/null 2>"$T/c.err" || rc=$?
		case $rc in 0 | 4) ;; *) echo "policy show $name exit $rc: $(cat "$T/c.err")"; return 1 ;; esac
	done
	return 0
}

KILL_DEADLINE=$((SECONDS + CMK_KILL_SECONDS))
KILL_TOTAL=0
i=0 killed=0 live_n=0 del_n=0 pol_n=0
declare -A seen
KINDS="create rotate enable disable delete recover purge set remove"
kinds_missing() {
	local w m=
	for w in $KINDS; do
		[ -n "${seen[$w]:-}" ] || m="$m $w"
	done
	echo "$m"
}
# run for the time given, and on (at most 80 iterations) until every kind
# of command was tried
while kill_more || { [ $i -lt 80 ] && [ -n "$(kinds_missing)" ]; }; do
	i=$((i + 1))
	ms=$((RANDOM % 301))
	set -- $NAMES
	shift $((RANDOM % 4))
	name=$1
	st=$(state "$name")
	# the kind of command cycles, so every kind is tried in any run long
	# enough for a dozen iterations; names, versions and delays are random
	if [ $((i % 5)) = 0 ]; then
		id=p$((RANDOM % 3))
		pol_n=$((pol_n + 1))
		if [ $((pol_n % 3)) = 0 ]; then
			cmd=(policy remove "$id")
		else
			cmd=(policy set "$id" "$(shuf -n 3 -e $LC_PERMS | paste -sd, -)")
		fi
	else
		case $st in
		gone) cmd=(key create "$name") ;;
		deleted) del_n=$((del_n + 1))
			if [ $((del_n % 2)) = 0 ]; then cmd=(key purge "$name" --yes); else cmd=(key recover "$name"); fi ;;
		live)
			nv=$(chk --json key show "$name" 2>/dev/null | jq "$LC_JQ vl | length")
			v=$(chk --json key show "$name" 2>/dev/null | jq -r "$LC_JQ vl[].version" | shuf -n 1)
			live_n=$((live_n + 1))
			case $((live_n % 7)) in
			6) cmd=(key set "$name" --tag "n=$i") ;;
			0) if [ "${nv:-0}" -lt 4 ]; then cmd=(key rotate "$name"); else cmd=(key delete "$name"); fi ;;
			1) cmd=(key delete "$name") ;;
			2) cmd=(key disable "$name/$v") ;;
			3) cmd=(key enable "$name/$v") ;;
			4) cmd=(key disable "$name") ;;
			5) cmd=(key enable "$name") ;;
			esac ;;
		*) cmd=(key list) ;;
		esac
	fi
	seen[${cmd[1]}]=1
	kill_run "$(kill_signal)" "$ms" "$CMK_BIN" "${cmd[@]}" >/dev/null 2>"$T/k.err"
	rc=$KILL_RC
	[ $KILL_KILLED = 1 ] && killed=$((killed + 1)) KILL_TOTAL=$((KILL_TOTAL + 1))
	desc="#$i: cmk ${cmd[*]} ($KILL_HOW) leaves the vault consistent"
	kill_guard_check "cmk ${cmd[*]} ($KILL_HOW)" || { fail "$desc" "$KILL_GUARD_WHY"; continue; }
	why=
	[ $KILL_KILLED = 1 ] && rc=0
	case $rc:${cmd[0]}:${cmd[1]} in
	0:*) ;;
	4:policy:remove) ;;   # no policy to remove: documented
	*) why="it failed on its own: $(head -c 300 "$T/k.err")" ;;
	esac
	[ -z "$why" ] && why=$(consistent "$name")
	if [ -z "$why" ]; then pass "$desc"; else fail "$desc" "$why"; fi
	# keep a usable version around so wraps keep being checked
	if [ $((i % 8)) = 0 ]; then
		for n in $NAMES; do
			[ "$(state "$n")" = live ] || continue
			chk key enable "$n" >/dev/null 2>&1
			chk key enable "$n/$(chk --json key show "$n" 2>/dev/null | jq -r "$LC_JQ vl[-1].version")" >/dev/null 2>&1
		done
	fi
done
diag "$i iterations, $killed commands killed mid-way; commands tried: ${!seen[*]}"
diag "SoftHSM lost token.object $KILL_TOKEN_LOST times (CMK_TOKEN_LOSS=$CMK_TOKEN_LOSS)"
is "$(kinds_missing)" "" "every kind of command was tried (and killed at random)"
if [ $killed -gt 0 ]; then pass "at least one command was killed mid-way ($killed)"; else fail "at least one command was killed mid-way"; fi
ok "audit verify passes at the end" cmk audit verify
done_testing
