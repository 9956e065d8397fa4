#!/bin/bash
# The torture test (issue 10; the program is tests/torture.c, whose header
# lists the operations and the invariants).  Two runs on one fresh lab:
# 2 processes x 2 threads for 2/3 of $CMK_TORTURE_SECONDS (default 60),
# then the same with a supervisor that SIGKILLs/SIGTERMs/SIGINTs random
# workers at random instants and starts them again, for the last third.
# One test point per invariant (violations summed over both runs, must be
# 0), one for each run completing, one for every kind of operation having
# run.  The verdict counts events; it never depends on timing.
#
# The long form, outside the suite (from build/):
#   make torture TORTURE_ARGS='--minutes 10 --procs 4 --threads 2 [--kills]'
# runs the program once with those arguments on a fresh lab.
# CMK_TOKEN_LOSS=fail makes a token.object emptied by a kill a violation
# (tests/kill-lib.sh).
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/kill-lib.sh"
[ "$CMK_VALGRIND" = 1 ] && { echo "1..0 # SKIP not a valgrind test"; exit 0; }
: "${CMK_TORTURE_SECONDS:=60}"
: "${CMK_PROVIDER_DIR:=$abs_top_builddir/src/provider/.libs}"
prog=$CMK_TESTS_BIN/torture
[ -x "$prog" ] || bail "$prog not built"
[ -f "$CMK_PROVIDER_DIR/cmk.so" ] || bail "$CMK_PROVIDER_DIR/cmk.so not built"
export OPENSSL_MODULES=$CMK_PROVIDER_DIR OPENSSL_CONF=/dev/null
strict=
[ "$CMK_TOKEN_LOSS" = fail ] && strict=--strict-token
lab_new

# run_torture NAME ARGS...: the program, its output in $T/NAME.out (shown
# as diagnostics), its exit code in $T/NAME.rc.  It runs in a process group
# of its own, killed at the end whatever happens: no process stays behind.
run_torture() {
	local name=$1 rc=0
	shift
	setsid "$prog" $strict "$@" >"$T/$name.out" 2>&1 &
	local pid=$!
	trap 'kill -KILL -- -'"$pid"' 2>/dev/null' EXIT
	wait "$pid" || rc=$?
	kill -KILL -- -"$pid" 2>/dev/null
	trap _tap_cleanup EXIT
	echo "$rc" >"$T/$name.rc"
	# the run's figures (the provider's own line for each refusal it
	# met, cmk-provider(7), would crowd them out)
	grep -v -e '^violation ' -e '^cmk provider (cmk.so): refused: ' "$T/$name.out" |
		sed 's/^\([^#]\)/# \1/' | head -200
}

if [ -n "${CMK_TORTURE_ARGS:-}" ]; then
	# shellcheck disable=SC2086
	run_torture long $CMK_TORTURE_ARGS
	runs=long
else
	quiet=$((CMK_TORTURE_SECONDS * 2 / 3))
	[ "$quiet" -ge 1 ] || quiet=1
	kills=$((CMK_TORTURE_SECONDS - quiet))
	[ "$kills" -ge 1 ] || kills=1
	run_torture calm --seconds "$quiet" --procs 2 --threads 2
	run_torture kills --seconds "$kills" --procs 2 --threads 2 --kills
	runs="calm kills"
fi

for r in $runs; do
	rc=$(cat "$T/$r.rc")
	# exit 0: no violation; 1: violations (the points below say which);
	# anything else: the run or its final check did not complete
	case $rc in
	0 | 1) pass "run '$r' completed with its final check (exit $rc)" ;;
	*) fail "run '$r' completed with its final check" "exit $rc" ;;
	esac
done
for inv in no-key-lost disable-refused no-integrity-alarm no-lost-update no-wrong-data \
	usable-at-end audit-verify no-token-lost; do
	n=0
	for r in $runs; do
		v=$(awk -v k="$inv" '$1 == "violation" && $2 == k { print $3 }' "$T/$r.out")
		[ -n "$v" ] || { v=1; diag "run '$r' printed no count for $inv"; }
		n=$((n + v))
	done
	if [ "$n" = 0 ]; then
		pass "invariant $inv: 0 violations"
	else
		fail "invariant $inv: 0 violations" "$n violations; see the '# VIOLATION $inv' lines above"
	fi
done
# every kind of operation ran at least once (else a check proves nothing)
missing=
for k in wrap unwrap provider-decrypt version-disable version-enable key-disable key-enable \
	rotate delete recover key-set policy resource-put resource-get resource-set-key; do
	total=0
	for r in $runs; do
		total=$((total + $(awk -v k="$k" '$2 == "ops" && $3 == k { s += $4 } END { print s + 0 }' "$T/$r.out")))
	done
	[ "$total" -gt 0 ] || missing="$missing $k"
done
is "$missing" "" "every kind of operation ran"
done_testing
