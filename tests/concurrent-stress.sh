#!/bin/bash
# Two processes acting on one vault at once lose none of each other's
# changes (docs/semantics.md §2, docs/design.md "Concurrency").  For
# $CMK_STRESS_SECONDS (default 20) one loop rotates key A and disables and
# enables its versions, while the other deletes and recovers key B and
# edits access policies, and a third only reads (unwrap, list) and must
# never fail.  Then every change is there: A has 1 + rotations
# versions with exactly the enabled flags last written, B is deleted or
# live as last written, every policy is as last written, each successful
# command left its audit record, and audit verify passes.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/lifecycle-lib.sh"
[ "$CMK_VALGRIND" = 1 ] && { echo "1..0 # SKIP not a valgrind test"; exit 0; }
: "${CMK_STRESS_SECONDS:=20}"
lab_new
rand_file "$T/dek" 32

ok "key create A" cmk key create A
ok "key create B" cmk key create B
ok "wrap with B" cmk wrap B --in "$T/dek" --out "$T/wb"
ok "key create R (only read)" cmk key create R
ok "wrap with R" cmk wrap R --in "$T/dek" --out "$T/wr"
a0=$(lc_versions A)

# c CMD...: cmk, retrying a documented CMK_E_CONFLICT (22); logs other failures
c() {
	local rc _
	for _ in 1 2 3 4 5; do
		rc=0
		timeout 60 "$CMK_BIN" "$@" >"$T/$me.out" 2>"$T/$me.err" || rc=$?
		[ $rc = 22 ] || break
		echo "conflict: $*" >>"$T/conflicts"
	done
	if [ $rc != 0 ]; then
		echo "exit $rc: cmk $* : $(head -c 300 "$T/$me.err")" >>"$T/failures"
	fi
	return $rc
}

deadline=$((SECONDS + CMK_STRESS_SECONDS))

# loop 1: rotate A; its new version ends disabled every other time; the key
# itself is disabled and enabled again in between
loop_a() {
	local me=a
	local i=0 v
	: >"$T/a.expect"
	while [ $SECONDS -lt $deadline ]; do
		i=$((i + 1))
		c key rotate A || continue
		v=$(sed -n 's|^cmk://lab/keys/A/\([0-9a-f]\{32\}\)$|\1|p' "$T/$me.out")
		[ -n "$v" ] || { echo "rotate printed no version: $(cat "$T/$me.out")" >>"$T/failures"; continue; }
		echo "rotated $v" >>"$T/a.log"
		c key disable "A/$v" || continue
		if [ $((i % 2)) = 0 ]; then
			c key enable "A/$v" && echo "$v true" >>"$T/a.expect"
		else
			echo "$v false" >>"$T/a.expect"
		fi
		c key disable A && c key enable A
	done
	echo "$i" >"$T/a.iters"
}

# loop 2: delete/recover B; policy set/remove on identities p0..p4
loop_b() {
	local me=b
	local i=0 id perms state=live
	declare -A pol
	while [ $SECONDS -lt $deadline ]; do
		i=$((i + 1))
		if [ "$state" = live ]; then
			c key delete B && state=deleted
		else
			c key recover B && state=live
		fi
		id=p$((RANDOM % 5))
		if [ $((RANDOM % 4)) = 0 ]; then
			if [ -n "${pol[$id]:-}" ]; then
				c policy remove "$id" && pol[$id]=
			fi
		else
			perms=$(for p in $LC_PERMS; do [ $((RANDOM % 2)) = 0 ] && echo "$p"; done | paste -sd, -)
			[ -n "$perms" ] || perms="get"
			c policy set "$id" "$perms" && pol[$id]=$perms
		fi
	done
	echo "$state" >"$T/b.state"
	for id in p0 p1 p2 p3 p4; do echo "$id ${pol[$id]:-none}"; done >"$T/b.expect"
	echo "$i" >"$T/b.iters"
}

# loop 3: a reader; with the lock, readers take none and never fail
loop_r() {
	local me=r n=0
	while [ $SECONDS -lt $deadline ]; do
		n=$((n + 1))
		c unwrap --in "$T/wr" --out "$T/ur" && ! cmp -s "$T/ur" "$T/dek" &&
			echo "unwrap with R gave another DEK" >>"$T/failures"
		c key list >/dev/null
		sleep 0.2
	done
	echo "$n" >"$T/r.iters"
}

: >"$T/failures"
: >"$T/conflicts"
loop_a &
pa=$!
loop_b &
pb=$!
loop_r &
pr=$!
wait $pa
wait $pb
wait $pr
diag "loop A: $(cat "$T/a.iters") iterations, $(wc -l <"$T/a.expect") rotations; loop B: $(cat "$T/b.iters") iterations; reader: $(cat "$T/r.iters") iterations; $(wc -l <"$T/conflicts") conflicts retried"
if [ -s "$T/failures" ]; then
	fail "no command failed in either loop" "$(head -20 "$T/failures")"
else
	pass "no command failed in either loop"
fi

# A: every rotation is there, with the flags last written
nrot=$(wc -l <"$T/a.expect")
ok "at least 5 rotations were made ($nrot)" test "$nrot" -ge 5
is "$(lc_versions A | wc -l)" $((1 + nrot)) "A has 1 + rotations versions"
is "$(lc_versions A | head -1)" "$a0" "the first version is A's original one"
want=$( (echo "$a0 true"; cat "$T/a.expect") | sort)
got=$(lc_show A | jq -r "$LC_JQ vl[] | .version + \" \" + (.enabled | tostring)" | sort)
if [ "$want" = "$got" ]; then
	pass "every version of A has the enabled flag last written"
else
	fail "every version of A has the enabled flag last written" "$(diff <(echo "$want") <(echo "$got") | head -20)"
fi
is "$(lc_field A .enabled)" true "A itself is enabled (last written)"
last_on=$(awk '$2 == "true" { v = $1 } END { print v }' <(echo "$a0 true"; cat "$T/a.expect"))
is "$(lc_field A .current)" "$last_on" "A's current version is the newest enabled one"
why=$(lc_roundtrip "A/$last_on" "$T/dek")
is "$why" "" "A's current version wraps and unwraps"

# B: deleted or live, as last written
state=$(cat "$T/b.state")
log=$LAB/lab.audit.log
ndel=$(jq -c 'select(.op == "delete" and .result == "ok")' "$log" | wc -l)
nrec=$(jq -c 'select(.op == "recover" and .result == "ok")' "$log" | wc -l)
if [ "$state" = deleted ]; then want=$((nrec + 1)); else want=$nrec; fi
if [ "$state" = deleted ]; then
	ok "B is deleted, as last written" cmk key show B --deleted
	is "$(lc_field B .deleted --deleted)" true "B is marked deleted"
	ok "recover B" cmk key recover B
else
	is "$(lc_field B .deleted)" false "B is live, as last written"
fi
ok "B unwraps what it wrapped before the loops" cmk unwrap --in "$T/wb" --out "$T/ub"
same_file "$T/ub" "$T/dek" "and gives the DEK"

# policies: as last written
while read -r id perms; do
	run cmk --json policy show "$id"
	if [ "$perms" = none ]; then
		is "$RC" 4 "policy of $id: none (removed or never set)"
	else
		got=$(jq -r '(if type == "array" then .[0] else . end).permissions | join(",")' "$OUT")
		is "$got" "$perms" "policy of $id as last written"
	fi
done <"$T/b.expect"

# the audit trail kept every successful change
ok "audit verify passes" cmk audit verify
is "$(jq -r 'select(.op == "rotate" and .result == "ok") | .key' "$log" | wc -l)" "$nrot" \
	"one audit record per rotation"
is "$(jq -r 'select(.op == "rotate" and .result == "ok") | .key' "$log" | sed 's|.*/||' | sort)" \
	"$(awk '{ print $1 }' "$T/a.expect" | sort)" "the rotate records name exactly the new versions"
is "$ndel" "$want" "delete and recover records match B's final state ($ndel deletes, $nrec recovers)"
is "$(jq -r .seq "$log" | awk 'NR != $1 { print "gap at line " NR; exit }')" "" "audit seq has no gap or duplicate"
done_testing
