# tests/token-kinds.sh - a test's vault on another kind of token (issue 6).
# Sourced after tests/lib.sh, by the remote-*/nss-* tests and by
# tests/token-run.sh, which runs a foundation test unchanged on another kind.
#
#   CMK_TEST_TOKEN     softhsm (default: lab_new as in lib.sh), nss or remote
#   lab_new [DIR]      lib.sh's lab, then vault "lab" moves to CMK_TEST_TOKEN:
#                      nss: a new NSS softoken database; remote: the lab's
#                      token through `cmk lab serve` (stopped at exit)
#   nss_vault DIR [NAME]   NSS database DIR/nss (password: DIR/pin) and
#                      DIR/nss.conf with vault NAME (default lab) on it,
#                      initialised (audit log DIR/NAME.audit.log); sets NSS_CONF
#   remote_serve [NAME]    cmk lab serve $LAB --vault NAME; sets REMOTE_CONF,
#                      REMOTE_ADDR; the server is stopped at exit
#   remote_kill        SIGKILL the server and its connections (a crash)
#   remote_restart     serve again on the same socket after a stop or kill

: "${NSS_MODULE:=/usr/lib/x86_64-linux-gnu/libsoftokn3.so}"
: "${P11KIT_CLIENT:=/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so}"
: "${CMK_TEST_TOKEN:=softhsm}"
export CMK_TEST_TOKEN
# NSS softoken derives the database key from the password with PBKDF2 at
# every login: 10,000 rounds, about 25 ms of a 36 ms cmk command.  The test
# databases (made by certutil and used by cmk, both seeing this) take one
# round, as NSS's own test suite does; nothing cmk does depends on it.
export NSS_MAX_MP_PBE_ITERATION_COUNT=1

_kind_served=
_kind_exit() {
	local rc=$? d
	[ "$BASHPID" = "$$" ] || exit $rc   # not in a subshell (see _tap_cleanup)
	for d in $_kind_served; do
		CMK_VALGRIND=0 cmk lab stop "$d" >/dev/null 2>&1
	done
	(exit $rc)
	_tap_cleanup
}
trap _kind_exit EXIT

nss_vault() {
	local dir=$1 name=${2:-lab} out=$T/.nss.out
	command -v certutil >/dev/null 2>&1 || bail "certutil (libnss3-tools) not installed"
	[ -f "$NSS_MODULE" ] || bail "NSS softoken $NSS_MODULE not found (libnss3)"
	mkdir -p "$dir/nss" || bail "cannot make $dir/nss"
	certutil -N -d "sql:$dir/nss" -f "$dir/pin" >"$out" 2>&1 ||
		{ diag_file certutil "$out"; bail "certutil -N -d sql:$dir/nss failed"; }
	NSS_CONF=$dir/nss.conf
	cat >"$NSS_CONF" <<EOC
# vault $name on NSS softoken (tests/token-kinds.sh)
[cmk]
default_vault = $name
identity = admin

[vaults]
$name = vault_nss

[vault_nss]
module = $NSS_MODULE
init_reserved = configdir='sql:$dir/nss' certPrefix='' keyPrefix='' secmod='' flags=
token = NSS Certificate DB
pin_source = file:$dir/pin
EOC
	CMK_VALGRIND=0 cmk --config "$NSS_CONF" vault init >"$out" 2>&1 </dev/null ||
		{ diag_file "vault init" "$out"; bail "cmk vault init on NSS softoken failed"; }
}

remote_serve() {
	local name=${1:-remote} out=$T/.serve.out
	[ -f "$P11KIT_CLIENT" ] || bail "p11-kit client $P11KIT_CLIENT not found (p11-kit-modules)"
	_kind_served="$_kind_served $LAB"
	CMK_VALGRIND=0 cmk lab serve "$LAB" --vault "$name" >"$out" 2>&1 </dev/null ||
		{ diag_file "lab serve" "$out"; bail "cmk lab serve $LAB failed"; }
	REMOTE_CONF=$LAB/remote.conf
	REMOTE_ADDR=unix:path=$LAB/p11-kit.sock
	REMOTE_NAME=$name
}

# proc_alive PID: the process exists and is not a zombie (the server is
# init's child, which may reap it late)
proc_alive() {
	local st
	st=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

remote_kill() {
	local pid i
	pid=$(cat "$LAB/p11-kit.pid" 2>/dev/null) && [ -n "$pid" ] || return 0
	kill -KILL -- "-$pid" 2>/dev/null
	for i in $(seq 100); do
		proc_alive "$pid" || break
		sleep 0.02
	done
}

remote_restart() {
	local out=$T/.serve.out
	CMK_VALGRIND=0 cmk lab serve "$LAB" --vault "$REMOTE_NAME" >"$out" 2>&1 </dev/null ||
		{ diag_file "lab serve" "$out"; bail "cmk lab serve $LAB failed"; }
}

eval "$(declare -f lab_new | sed '1s/^lab_new/_softhsm_lab_new/')"
lab_new() {
	_softhsm_lab_new "$@"
	case $CMK_TEST_TOKEN in
	softhsm) ;;
	nss)
		# the lab's SoftHSM vault is not used: its audit log and lock
		# file make way for the NSS vault's (tests read $LAB/*.audit.log)
		rm -f "$LAB/lab.audit.log" "$LAB/lab.lock"
		nss_vault "$LAB" lab
		export CMK_CONF=$NSS_CONF
		LAB_TOKEN="NSS Certificate DB"
		;;
	remote)
		remote_serve lab
		export CMK_CONF=$REMOTE_CONF
		p11tool() {
			P11_KIT_SERVER_ADDRESS=$REMOTE_ADDR pkcs11-tool --module "$P11KIT_CLIENT" \
				--token-label "$LAB_TOKEN" "$@"
		}
		;;
	*) bail "CMK_TEST_TOKEN=$CMK_TEST_TOKEN: not softhsm, nss or remote" ;;
	esac
}
