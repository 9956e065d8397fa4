# tests/lib.sh - TAP helpers for cmk's shell tests (bash).
#
# Sourced by every tests/*.sh.  The Makefile (tests/local.mk) exports:
#   CMK_BIN          the cmk command (a libtool wrapper in the build tree)
#   CMK_TESTS_BIN    the build directory of tests/ (C test programs)
#   CMK_LIBTOOL      libtool, to run wrappers under valgrind
#   SOFTHSM_MODULE   the SoftHSMv2 PKCS#11 module
#   CMK_VALGRIND=1   run every cmk invocation under valgrind
#
# Every test makes its own temp dir $T (removed at exit unless CMK_KEEP=1)
# and its own SoftHSM token directory, so tests run in parallel.
#
# TAP:
#   plan N | done_testing        the plan, first or last
#   pass DESC | fail DESC        a bare result
#   ok DESC CMD...               CMD exits 0
#   is GOT WANT DESC             string equality
#   like GOT ERE DESC            extended regex match
#   same_file A B DESC           byte-identical files
#   expect_fail CODE DESC CMD... CMD exits with exactly CODE ("14|24": one of),
#                                says something on stderr, prints nothing on stdout
#   expect_fail_msg CODE ERE DESC CMD...   as above, and stderr matches ERE
#   no_file PATH DESC            PATH was not created
#   skip DESC REASON             a skipped test point
#   diag TEXT | bail TEXT
# After `run CMD...` (and ok/expect_fail): $RC, files $OUT and $ERR.

set -u

: "${CMK_BIN:?run the tests with make check}"

# In the build tree CMK_BIN is libtool's wrapper script, which sets
# LD_LIBRARY_PATH and runs the program in .libs/.  That shell costs about
# 20 ms a run, more than most cmk commands themselves (the suite runs cmk
# tens of thousands of times).  So run the program itself, with the library
# path the wrapper would set, taken from the wrapper; anything unexpected
# keeps the wrapper.  Everything the tests start (C programs, services)
# inherits both.
_unwrap_cmk() {
	local w=$CMK_BIN prog libs
	head -n 3 "$w" 2>/dev/null | grep -q 'temporary wrapper script' || return 0
	prog=$(sed -n "s/^ *program='\([^'/]*\)'\$/\1/p" "$w" | head -n 1)
	libs=$(sed -n 's/^ *LD_LIBRARY_PATH="\([^"$]*\):\$LD_LIBRARY_PATH"$/\1/p' "$w" | head -n 1)
	grep -q '^relink_command=""' "$w" || return 0
	[ -n "$prog" ] && [ -n "$libs" ] && [ -x "${w%/*}/.libs/$prog" ] || return 0
	CMK_BIN=${w%/*}/.libs/$prog
	LD_LIBRARY_PATH=$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
	export CMK_BIN LD_LIBRARY_PATH
	_cmk_exec=() # nor libtool --mode=execute for valgrind (another shell)
}
_cmk_exec=(${CMK_LIBTOOL:-libtool} --mode=execute)
_unwrap_cmk
: "${SOFTHSM_MODULE:=/usr/lib/softhsm/libsofthsm2.so}"
: "${CMK_VALGRIND:=0}"
: "${VALGRIND:=valgrind}"
: "${CMK_KILL_SECONDS:=60}"

# The tests must not see the caller's cmk or SoftHSM setup.
unset CMK_CONF CMK_VAULT CMK_IDENTITY SOFTHSM2_CONF PKCS11SPY PKCS11SPY_OUTPUT
export LC_ALL=C
# fd 9: the TAP stream, for diagnostics from inside redirected commands;
# stdin is /dev/null unless a test redirects it (nothing may wait on a tty).
exec 9>&1 </dev/null

_tap_n=0
_tap_failed=0
_tap_planned=

plan() { _tap_planned=$1; echo "1..$1"; }

# done_testing: checks that no cmk run of the test (helpers included) had a
# sanitizer or valgrind report -- one more test point without a plan; with
# a plan, a report makes the script exit 1 (an ERROR) -- then the plan.
_tap_force_rc=0
done_testing() {
	local what="no sanitizer or valgrind report from any cmk run"
	if [ -z "$_tap_planned" ]; then
		if [ -s "$T/.sanitizer-reports" ]; then
			fail "$what" "$(head -20 "$T/.sanitizer-reports")"
		else
			pass "$what"
		fi
		echo "1..$_tap_n"
	elif [ -s "$T/.sanitizer-reports" ]; then
		diag "sanitizer or valgrind reports from:" "$(head -20 "$T/.sanitizer-reports")"
		_tap_force_rc=1
	fi
}

diag() {
	local line
	printf '%s\n' "$*" | while IFS= read -r line; do printf '# %s\n' "$line"; done
}

# diag the contents of a file (first lines), for failure context
diag_file() {
	[ -s "$2" ] || return 0
	diag "$1:"
	head -c 2000 "$2" | diag "$(cat)"
}

bail() {
	echo "Bail out! $*"
	exit 1
}

pass() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $1"; }

fail() {
	_tap_n=$((_tap_n + 1))
	_tap_failed=$((_tap_failed + 1))
	echo "not ok $_tap_n - $1"
	shift
	[ $# -gt 0 ] && diag "$@"
	return 0
}

skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $1 # SKIP $2"; }

# ------------------------------------------------------------ temp dir

T=$(mktemp -d "${TMPDIR:-/tmp}/cmk-test.XXXXXXXX") || bail "cannot make a temp dir"
export T
_tap_cleanup() {
	local rc=$?
	# a subshell or a forked copy of this script about to exec (a kill loop's
	# SIGTERM/SIGINT can land between fork and exec) must not remove $T
	[ "$BASHPID" = "$$" ] || exit $rc
	[ "$_tap_force_rc" = 0 ] || rc=$_tap_force_rc
	if [ "${CMK_KEEP:-0}" = 1 ]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
	exit $rc
}
trap _tap_cleanup EXIT
trap 'exit 130' INT TERM
OUT=$T/.out
ERR=$T/.err
RC=0

# ------------------------------------------------------------ running cmk

_vg_n=0
# cmk ARGS...: the command under test (valgrind when CMK_VALGRIND=1).
# Valgrind writes to its own log, never to cmk's stderr, so "says something on
# stderr" stays a check on cmk; valgrind errors exit 99, which no cmk_rc is.
# RSA key generation takes ~10 s under valgrind, so `key create` and `key
# rotate` run without it unless CMK_VALGRIND_KEYGEN=1 (tests/vault.sh).
cmk() {
	if [ "$CMK_VALGRIND" = 1 ] && [ "${CMK_VALGRIND_KEYGEN:-0}" != 1 ] && _is_keygen "$@"; then
		CMK_VALGRIND=0 cmk "$@"
		return
	fi
	if [ "$CMK_VALGRIND" = 1 ]; then
		_vg_n=$((_vg_n + 1))
		local log=$T/valgrind.$_vg_n.log rc=0
		local supp=
		[ -f "${CMK_VALGRIND_SUPP:-}" ] && supp=--suppressions=$CMK_VALGRIND_SUPP
		"${_cmk_exec[@]}" "$VALGRIND" -q --error-exitcode=99 \
			--leak-check=full --errors-for-leak-kinds=definite \
			--show-leak-kinds=definite --track-fds=no $supp \
			--log-file="$log" "$CMK_BIN" "$@" || rc=$?
		if [ $rc = 99 ] || [ -s "$log" ]; then
			echo "# valgrind (cmk $*):" >&9
			sed 's/^/# /' "$log" | head -60 >&9
			echo "cmk $*" >>"$T/.sanitizer-reports"
		fi
		return $rc
	fi
	local rc=0
	"$CMK_BIN" "$@" || rc=$?
	# 97/98: UBSan/ASan reports (tests/local.mk), whatever the caller expected
	case $rc in 97 | 98) echo "cmk $* (exit $rc)" >>"$T/.sanitizer-reports" ;; esac
	return $rc
}

_is_keygen() {
	while [ $# -gt 1 ]; do
		[ "$1" = key ] && case $2 in create | rotate) return 0 ;; esac
		shift
	done
	return 1
}

# run CMD...: run with stdin from /dev/null unless redirected by the caller
# (`run cmd < file` keeps the caller's stdin); sets RC, OUT, ERR.
run() {
	RC=0
	"$@" >"$OUT" 2>"$ERR" || RC=$?
	_tap_sanitizer_check
}

_tap_sanitizer_check() {
	case $RC in
	97 | 98 | 99) diag "exit $RC: sanitizer or valgrind report"; diag_file stderr "$ERR" ;;
	esac
	if grep -qE '^(==[0-9]+==ERROR|SUMMARY: (Address|Leak|UndefinedBehavior)Sanitizer)|runtime error:' "$ERR" 2>/dev/null; then
		diag "sanitizer report in stderr"
		diag_file stderr "$ERR"
	fi
}

# ------------------------------------------------------------ assertions

ok() {
	local desc=$1
	shift
	run "$@"
	if [ "$RC" = 0 ]; then
		pass "$desc"
	else
		fail "$desc" "command: $*" "exit $RC"
		diag_file stderr "$ERR"
	fi
}

is() {
	if [ "$1" = "$2" ]; then
		pass "$3"
	else
		fail "$3" "got:  '$1'" "want: '$2'"
	fi
}

isnt() {
	if [ "$1" != "$2" ]; then
		pass "$3"
	else
		fail "$3" "got '$1', wanted anything else"
	fi
}

like() {
	if printf '%s' "$1" | grep -qE -- "$2"; then
		pass "$3"
	else
		fail "$3" "got:  '$1'" "want: /$2/"
	fi
}

same_file() {
	if [ -f "$1" ] && [ -f "$2" ] && cmp -s "$1" "$2"; then
		pass "$3"
	else
		fail "$3" "$1 and $2 differ (or one is missing)"
	fi
}

no_file() {
	if [ -e "$1" ]; then
		fail "$2" "$1 exists ($(wc -c <"$1") bytes)"
	else
		pass "$2"
	fi
}

# _code_in RC "14|24"
_code_in() {
	local c
	local IFS='|'
	for c in $2; do [ "$1" = "$c" ] && return 0; done
	return 1
}

# expect_fail_msg CODE ERE DESC CMD...: the one way to test an error.  CMD must
# exit with exactly CODE (one cmk_rc, never a choice of two), say on stderr
# something matching ERE (name the object and the reason), and print nothing
# on stdout.
expect_fail_msg() {
	local code=$1 re=$2 desc=$3
	shift 3
	run "$@"
	local why=
	case $code in *'|'*) why="test bug: one exit code, not '$code'" ;; esac
	[ -n "$re" ] || why="${why:+$why; }test bug: no message pattern (name the object and the reason)"
	_code_in "$RC" "$code" || why="${why:+$why; }exit $RC, want $code"
	if [ ! -s "$ERR" ]; then
		why="${why:+$why; }no error message on stderr"
	elif [ -n "$re" ] && ! grep -qE -- "$re" "$ERR"; then
		why="${why:+$why; }stderr does not match /$re/"
	fi
	[ -s "$OUT" ] && why="${why:+$why; }printed $(wc -c <"$OUT") bytes on stdout"
	if [ -z "$why" ]; then
		pass "$desc"
	else
		fail "$desc" "command: $*" "$why"
		diag_file stderr "$ERR"
	fi
}

# expect_fail: gone (an error test without a message pattern proves little)
expect_fail() {
	fail "$2" "expect_fail without a message pattern: use expect_fail_msg CODE ERE DESC CMD..."
}

# ------------------------------------------------------------ labs and tokens

# lab_new [DIR]: `cmk lab init DIR` (default $T/lab); exports SOFTHSM2_CONF,
# CMK_CONF, LAB.  Bails out when the lab cannot be made: nothing else can run.
lab_new() {
	LAB=${1:-$T/lab}
	local out=$T/.lab.out err=$T/.lab.err rc=0
	# lab init is checked under valgrind in tests/vault.sh; elsewhere it is setup
	# shellcheck disable=SC2086 # LAB_INIT_ARGS: extra options, split
	CMK_VALGRIND=0 cmk lab init "$LAB" ${LAB_INIT_ARGS:-} >"$out" 2>"$err" </dev/null || rc=$?
	if [ $rc != 0 ]; then
		diag_file "cmk lab init stderr" "$err"
		bail "cmk lab init $LAB failed with exit $rc"
	fi
	export SOFTHSM2_CONF=$LAB/softhsm2.conf CMK_CONF=$LAB/cmk.conf LAB
	[ -f "$SOFTHSM2_CONF" ] && [ -f "$CMK_CONF" ] && [ -s "$LAB/pin" ] ||
		bail "cmk lab init did not make $LAB/{softhsm2.conf,cmk.conf,pin}"
	LAB_OUT=$out
}

# The lab's token, for pkcs11-tool (test PIN on its argv: tests only).
LAB_TOKEN=cmk-lab
p11tool() {
	pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$LAB_TOKEN" "$@"
}
p11tool_login() {
	p11tool --login --pin "$(cat "$LAB/pin")" "$@"
}

# count_objects: the objects on the lab's token (pkcs11-tool -O, its output
# kept in $T/objects), not counting SoftHSM's own debris: SoftHSM 2.6.1
# creates an object's file before it writes the template, and when a
# C_CreateObject then fails (two threads of one process writing and reading
# objects at once: SoftHSMv2 issue #573) it leaves a data object with every
# attribute at its default: no label, no application, modifiable.  cmk
# never makes such an object (its records have both and are not
# modifiable), and runs creations apart from searches on SoftHSM
# (tests/create-race.sh); each one found is said with diag.
count_objects() {
	p11tool_login -O >"$T/objects" 2>"$T/objects.err" ||
		bail "pkcs11-tool -O failed: $(cat "$T/objects.err")"
	awk -v diag="$T/objects.debris" '
		function flush() {
			if (kind == "") return
			if (kind == "data" && label == "\047\047" && app == "\047\047" && flags ~ /modifiable/)
				debris++
			else
				n++
			kind = ""
		}
		tolower($0) ~ /^(private key|public key|secret key|data|certificate) object/ {
			flush(); kind = tolower($1); label = app = flags = ""; next
		}
		/^  label:/ { label = $2 }
		/^  application:/ { app = $2 }
		/^  flags:/ { flags = $0 }
		END { flush(); print n + 0; print debris + 0 > diag }' "$T/objects"
	# (to the TAP stream: callers take stdout as the count)
	[ "$(cat "$T/objects.debris")" = 0 ] ||
		diag "SoftHSM left $(cat "$T/objects.debris") attribute-less data object(s) of a failed C_CreateObject (not counted)" >&9
}

# relay_tap FILE PROG: the TAP points of a C test program (FILE, its plan
# line left out) as this test's points, renumbered; anything else bails.
relay_tap() {
	local line
	while IFS= read -r line; do
		case $line in
		"ok "*) pass "${line#ok [0-9]* - }" ;;
		"not ok "*) fail "${line#not ok [0-9]* - }" ;;
		"#"*) echo "$line" ;;
		*) bail "$2: $line" ;;
		esac
	done <"$1"
}

# write_conf FILE [KEY=VALUE...]: a cmk.conf for vault "lab" on the lab's
# token and with the lab's identity (its vault administrator), with the
# [vault_lab] values (and identity) overridden by the arguments.
write_conf() {
	local file=$1
	shift
	local module=$SOFTHSM_MODULE token=$LAB_TOKEN pin_source=file:$LAB/pin kv extra=
	local identity
	identity=$(sed -n 's/^identity *= *//p' "$LAB/cmk.conf" | head -n 1)
	for kv in "$@"; do
		case $kv in
		identity=*) identity=${kv#identity=} ;;
		module=*) module=${kv#module=} ;;
		token=*) token=${kv#token=} ;;
		pin_source=*) pin_source=${kv#pin_source=} ;;
		*) extra="$extra$kv"$'\n' ;;
		esac
	done
	cat >"$file" <<EOF
[cmk]
default_vault = lab
${identity:+identity = $identity}

[vaults]
lab = vault_lab

[vault_lab]
module = $module
token = $token
pin_source = $pin_source
$extra
EOF
}

# ------------------------------------------------------------ data helpers

# rand_file FILE BYTES
rand_file() { head -c "$2" /dev/urandom >"$1"; }

# key_json NAME: `cmk key show NAME --json` into $OUT; returns its exit code.
key_json() {
	run cmk --json key show "$1"
	return "$RC"
}

# key_versions NAME [all|enabled]: version ids of a key, oldest first.
key_versions() {
	local which=${2:-all}
	cmk --json key show "$1" 2>/dev/null | if [ "$which" = enabled ]; then
		jq -r '.version_list[] | select(.enabled == true) | .version'
	else
		jq -r '.version_list[].version'
	fi
}

# current_version NAME
current_version() {
	cmk --json key show "$1" 2>/dev/null | jq -r '.current // empty'
}

# flip_byte FILE OFFSET: xor one byte of FILE (negative OFFSET counts from the end)
flip_byte() {
	local f=$1 off=$2 size b
	size=$(wc -c <"$f")
	[ "$off" -lt 0 ] && off=$((size + off))
	b=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
	printf "$(printf '\\%03o' $((b ^ 1)))" |
		dd of="$f" bs=1 seek="$off" count=1 conv=notrunc status=none
}

# need PROG...: a tool the test cannot run without.  install-deps installs
# every one of them, so under CI=true a missing tool is a failure (an ERROR,
# never a silent pass); elsewhere the whole test is skipped, saying which.
need() {
	local p
	for p in "$@"; do
		command -v "$p" >/dev/null 2>&1 && continue
		if [ "${CI:-}" = true ]; then
			bail "$p not installed (install-deps installs it; CI must have it)"
		fi
		echo "1..0 # SKIP $p not installed"
		exit 0
	done
}

need jq
[ -x "$CMK_BIN" ] || bail "$CMK_BIN not built"
[ -f "$SOFTHSM_MODULE" ] || bail "SoftHSM module $SOFTHSM_MODULE not found"

# SoftHSM 2.6 (file store) rewrites token.object in place on every C_Login
# (Token::loginUser -> setTokenFlags), so a SIGKILL at that instant leaves it
# empty and the token is gone: a SoftHSM fault no caller can prevent (cmk
# never changes an object in place itself).  The file holds only the token's
# label, flags and PIN blobs -- objects are files of their own -- so the kill
# loops keep a copy and put it back when a kill emptied it, and say so.
# softhsm_guard_init: after lab_new; softhsm_guard_check: after each kill.
softhsm_guard_init() {
	SOFTHSM_TOKOBJ=$(echo "$LAB"/tokens/*/token.object)
	[ -s "$SOFTHSM_TOKOBJ" ] || bail "no token.object in $LAB/tokens"
	cp "$SOFTHSM_TOKOBJ" "$T/token.object.copy"
	SOFTHSM_FAULTS=0
}
softhsm_guard_check() {
	if [ ! -s "$SOFTHSM_TOKOBJ" ]; then
		SOFTHSM_FAULTS=$((SOFTHSM_FAULTS + 1))
		diag "SoftHSM left token.object empty after the kill (its known in-place rewrite); restored"
		cp "$T/token.object.copy" "$SOFTHSM_TOKOBJ"
	fi
}
