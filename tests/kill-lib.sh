# tests/kill-lib.sh - helpers for the kill loops and the torture test
# (issue 10), sourced after tests/lib.sh.
#
# A lost token.  SoftHSM 2.6 rewrites token.object in place on every
# C_Login, so a process killed at that instant can leave it empty: the token
# is gone.  Until cmk makes labs survive that, the tests restore the file
# and count it (CMK_TOKEN_LOSS=repair, the default); with
# CMK_TOKEN_LOSS=fail (make check CMK_TOKEN_LOSS=fail) each loss is a
# failed test point instead.
: "${CMK_TOKEN_LOSS:=repair}"
: "${CMK_KILL_COUNT:=0}"

# kill_guard_init: after lab_new, keep a copy of token.object.
kill_guard_init() {
	KILL_TOKOBJ=$(echo "$LAB"/tokens/*/token.object)
	[ -s "$KILL_TOKOBJ" ] || bail "no token.object in $LAB/tokens"
	cp "$KILL_TOKOBJ" "$T/token.object.copy"
	KILL_TOKEN_LOST=0
}

# kill_guard_check DESC: after a kill (not in a subshell: it counts).  A
# lost token is restored; with CMK_TOKEN_LOSS=fail it returns 1 and says why
# in $KILL_GUARD_WHY, else it is a diagnostic.
kill_guard_check() {
	KILL_GUARD_WHY=
	[ -s "$KILL_TOKOBJ" ] && return 0
	KILL_TOKEN_LOST=$((KILL_TOKEN_LOST + 1))
	cp "$T/token.object.copy" "$KILL_TOKOBJ"
	if [ "$CMK_TOKEN_LOSS" = fail ]; then
		KILL_GUARD_WHY="the token was lost: $1 left $KILL_TOKOBJ empty (SoftHSM's in-place rewrite on C_Login)"
		return 1
	fi
	diag "$1 left token.object empty (SoftHSM's in-place rewrite); restored"
	return 0
}

# kill_signal: a random one of KILL, TERM, INT
kill_signal() {
	case $((RANDOM % 3)) in
	0) echo KILL ;;
	1) echo TERM ;;
	*) echo INT ;;
	esac
}

# kill_run SIG MS CMD...: run CMD, send SIG after MS milliseconds (then
# SIGKILL 5 s later if it is still there); sets KILL_RC, KILL_HOW
# ("killed by SIGX after N ms" or "exit N before SIGX at N ms"),
# KILL_KILLED (1 when the signal ended it) and KILL_MS (the run's time).
kill_run() {
	local sig=$1 ms=$2
	shift 2
	KILL_RC=0
	local t0
	t0=$(date +%s%N)
	timeout -k 5 -s "$sig" "$((ms / 1000)).$(printf %03d $((ms % 1000)))" "$@" || KILL_RC=$?
	KILL_MS=$((($(date +%s%N) - t0) / 1000000))
	KILL_KILLED=0
	case $KILL_RC in
	124 | 137 | 130 | 143)
		# timeout(1) says 124 when the command ended by the signal it sent
		# (or exits 128+N when it had to SIGKILL)
		KILL_KILLED=1
		KILL_HOW="killed by SIG$sig after $ms ms (exit $KILL_RC)" ;;
	*) KILL_HOW="exit $KILL_RC before SIG$sig at $ms ms" ;;
	esac
}

# kill_more: 0 while the loop should go on: for $CMK_KILL_SECONDS, or,
# with CMK_KILL_COUNT=N (N > 0), until N commands were killed.
kill_more() {
	if [ "$CMK_KILL_COUNT" -gt 0 ]; then
		[ "${KILL_TOTAL:-0}" -lt "$CMK_KILL_COUNT" ]
	else
		[ $SECONDS -lt "$KILL_DEADLINE" ]
	fi
}
