#!/bin/bash
# openssl s_server with a vault key, openssl s_client on loopback: a TLS 1.3
# handshake (RSA-PSS CertificateVerify signed on the token) and data both
# ways; then the same with TLS 1.2.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/provider-lib.sh"

plan 11
lab_new
cmk key create tls --ops sign,verify >/dev/null || bail "cannot create a key"
KEY=cmk://lab/keys/tls
run openssl req $PROV -new -x509 -key $KEY -subj /CN=localhost -days 2 -out "$T/cert.pem"
[ "$RC" = 0 ] || bail "cannot make a certificate: $(cat "$ERR")"

SRV_PID=
stop_server() {
	[ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null
	[ -n "$SRV_PID" ] && wait "$SRV_PID" 2>/dev/null
	SRV_PID=
	exec 7>&- 8>&-
}
trap 'rc=$?; stop_server; (exit $rc); _tap_cleanup' EXIT
trap '' PIPE    # a peer that died makes a write fail, not the test

# wait_for FILE ERE SECONDS: until FILE has a line matching ERE
wait_for() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -qE -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# tls VERSION-OPTION NAME: one server, one client, a line each way
tls() {
	local v=$1 name=$2 d=$T/$2 port
	mkdir -p "$d"
	mkfifo "$d/srv.in" "$d/cli.in"
	timeout "$CMK_KILL_SECONDS" openssl s_server $PROV -accept 127.0.0.1:0 -naccept 1 \
		-key $KEY -cert "$T/cert.pem" $v <"$d/srv.in" >"$d/srv.out" 2>"$d/srv.err" &
	SRV_PID=$!
	exec 7>"$d/srv.in"
	if ! wait_for "$d/srv.out" '^ACCEPT' 20; then
		fail "$name: s_server starts with the vault key" "$(cat "$d/srv.err")"
		stop_server
		return
	fi
	pass "$name: s_server starts with the vault key"
	port=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' "$d/srv.out")
	timeout "$CMK_KILL_SECONDS" openssl s_client -connect "127.0.0.1:$port" -brief \
		-CAfile "$T/cert.pem" -verify_return_error -servername localhost $v \
		<"$d/cli.in" >"$d/cli.out" 2>"$d/cli.err" &
	local cli=$!
	exec 8>"$d/cli.in"
	if wait_for "$d/cli.err" '^CONNECTION ESTABLISHED' 20; then
		pass "$name: handshake completes, server certificate verified"
	else
		fail "$name: handshake completes, server certificate verified" \
			"$(cat "$d/cli.err" "$d/srv.err")"
	fi
	like "$(grep -E '^Protocol version' "$d/cli.err")" "$3" "$name: protocol $3"
	[ "$name" = tls13 ] &&
		like "$(grep -E '^Signature type' "$d/cli.err")" 'RSA-PSS' "$name: RSA-PSS signature"
	echo "hello from the client" >&8
	echo "hello from the server" >&7
	wait_for "$d/srv.out" '^hello from the client' 10
	wait_for "$d/cli.out" '^hello from the server' 10
	like "$(cat "$d/srv.out")" 'hello from the client' "$name: the server reads the client's data"
	like "$(cat "$d/cli.out")" 'hello from the server' "$name: the client reads the server's data"
	exec 8>&-
	wait "$cli" 2>/dev/null
	stop_server
}

tls -tls1_3 tls13 'TLSv1\.3'
tls -tls1_2 tls12 'TLSv1\.2'
done_testing
