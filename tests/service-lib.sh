# tests/service-lib.sh - helpers for the tests of real services with a vault
# key (tests/service-*.sh), sourced after tests/lib.sh and provider-lib.sh.
#
# Each test: a lab, a key "tls" (sign), its key reference file $KEYREF, a
# self-signed certificate $CERT made with it, an openssl.cnf $SVC_CNF that
# activates default + cmk with the identity svc-tls (allowed get,sign), and
# the service on 127.0.0.1 at a port chosen at run time.

# svc_wrap PROGRAM...: in a sanitizer build, the services (not built with
# the sanitizers) load an instrumented cmk.so: run them with the sanitizer
# runtime preloaded, as provider-lib.sh does for openssl, through wrappers
# in $T/bin (first in PATH); their own leaks are not cmk's to report.
# svc_wrapped PATH: the wrapper of a program named by its path.
svc_wrap() {
	local p
	[ -n "${_san:-}" ] || return 0
	for p in "$@"; do
		command -v "$p" >/dev/null 2>&1 || continue
		svc_wrapped "$(command -v "$p")" >/dev/null
	done
}
svc_wrapped() {
	if [ -z "${_san:-}" ]; then
		echo "$1"
		return
	fi
	local w
	w=$T/bin/$(basename "$1")
	mkdir -p "$T/bin"
	printf '#!/bin/sh\nASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" LD_PRELOAD="%s${LD_PRELOAD:+ $LD_PRELOAD}" exec %s "$@"\n' \
		"${_san% }" "$1" >"$w"
	chmod 755 "$T/bin" "$w"
	echo "$w"
}

# svc_need PACKAGE PROGRAM...: skip the test when a program is missing --
# a failure under CI=true, where install-deps installs PACKAGE
svc_need() {
	local pkg=$1 p
	shift
	for p in "$@"; do
		if ! command -v "$p" >/dev/null 2>&1 && { [ "${p#*/}" = "$p" ] || [ ! -e "$p" ]; }; then
			if [ "${CI:-}" = true ]; then
				echo "1..1"
				echo "not ok 1 - $p is missing (package $pkg, which install-deps installs) under CI=true"
				exit 1
			fi
			echo "1..0 # SKIP $p not installed (package $pkg; see install-deps)"
			exit 0
		fi
	done
}

# svc_skip REASON: the service cannot run here (a probe said so)
svc_skip() {
	echo "1..0 # SKIP $1"
	exit 0
}

# free_port: a TCP port of 127.0.0.1 nobody listens on now
free_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# wait_port PORT SECONDS: until something listens on PORT
wait_port() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# wait_children PID N SECONDS: until PID has N child processes (a server
# listens before it forks its workers, so wait_port says nothing of them)
wait_children() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		[ "$(pgrep -P "$1" | wc -l)" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# wait_grep FILE ERE SECONDS
wait_grep() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -qE -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# svc_setup [USER]: the lab, key, reference, certificate and openssl.cnf;
# with USER (a service that drops privileges to USER signs in its
# workers), the lab is made as a user would: `cmk lab init --group` with
# USER's group, and the test's files readable by that user
svc_setup() {
	svc_wrap nginx haproxy stunnel4 apache2
	local grp=
	if [ -n "${1:-}" ]; then
		grp=$(id -gn "$1") || bail "no group for user $1"
	fi
	LAB_INIT_ARGS=${grp:+--group $grp} lab_new
	KID=$(cmk key create tls --ops sign,verify) || bail "cannot create the key"
	cmk policy set svc-tls get,sign >/dev/null || bail "cannot grant svc-tls"
	KEYREF=$T/tls-key.pem
	cmk key pem tls --out "$KEYREF" || bail "cannot write the key reference"
	SVC_CNF=$T/openssl.cnf
	prov_conf "$SVC_CNF" "cmk_identity = svc-tls"
	CERT=$T/tls-cert.pem
	OPENSSL_CONF=$SVC_CNF openssl req -new -x509 -key "$KEYREF" -subj /CN=localhost \
		-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -days 2 -out "$CERT" 2>"$T/req.err" ||
		bail "cannot make a certificate: $(cat "$T/req.err")"
	AUDIT=$(ls "$LAB"/*.audit.log 2>/dev/null | head -1)
	export OPENSSL_CONF=$SVC_CNF
	if [ -n "$grp" ]; then
		chmod 711 "$T"
		chgrp "$grp" "$KEYREF" "$CERT" "$SVC_CNF" && chmod g+r "$KEYREF" "$CERT" "$SVC_CNF" ||
			bail "cannot give the service files to group $grp"
	fi
}

# svc_for_user USER: hand the whole lab to USER (tests/bench-services.sh,
# which runs services as several users in turn; the tests use svc_setup
# USER, i.e. `cmk lab init --group`)
svc_for_user() {
	chmod 711 "$T"
	chown -R "$1" "$LAB"
	chmod -R u+rwX "$LAB"
	chmod o+r "$KEYREF" "$CERT" "$SVC_CNF"
}

# audited_sign SINCE DESC: a sign record under svc-tls for the key after
# line SINCE of the audit log
audited_sign() {
	local got
	got=$(tail -n +"$(($1 + 1))" "$AUDIT" | grep '"op":"sign"' | grep '"identity":"svc-tls"' | tail -1)
	like "$got" "\"identity\":\"svc-tls\",\"op\":\"sign\",\"key\":\"$KID\".*\"result\":\"ok\"" "$2"
}

audit_lines() { wc -l <"$AUDIT"; }

# https_get PORT: https GET of / on PORT with curl, the certificate
# verified (the client has no vault key: it runs without the provider)
https_get() {
	OPENSSL_CONF=/dev/null curl -sS --max-time 10 --cacert "$CERT" "https://localhost:$1/" --resolve "localhost:$1:127.0.0.1"
}
