#!/bin/bash
# haproxy terminates TLS with a vault key: its crt file is the certificate
# followed by the key reference block (haproxy's combined .pem); curl gets
# a response; the signature is audited; a disabled key fails the next
# handshake and is named in haproxy's log.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/provider-lib.sh"
. "${srcdir:-.}/tests/service-lib.sh"
svc_need haproxy haproxy curl

plan 7
svc_setup
PORT=$(free_port) || bail "no free port"
mkdir -p "$T/haproxy"
cat "$CERT" "$KEYREF" >"$T/haproxy/site.pem"
cat >"$T/haproxy/haproxy.cfg" <<EOC
global
	log stderr format raw local0 info
	setenv OPENSSL_CONF $OPENSSL_CONF
defaults
	mode http
	log global
	option httplog
	timeout connect 5s
	timeout client 5s
	timeout server 5s
frontend fe
	bind 127.0.0.1:$PORT ssl crt $T/haproxy/site.pem
	log-format "%ci [%tr] %ft %ST ssl_err=%[ssl_fc_err_str]"
	http-request return status 200 content-type text/plain string "hello from haproxy"
EOC
HAP=
stop() { [ -n "$HAP" ] && kill "$HAP" 2>/dev/null && wait "$HAP" 2>/dev/null; HAP=; }
trap 'rc=$?; stop; (exit $rc); _tap_cleanup' EXIT
ok "haproxy -c accepts the combined certificate and key reference" haproxy -c -f "$T/haproxy/haproxy.cfg"
[ "$RC" = 0 ] || diag_file stderr "$ERR"
haproxy -db -f "$T/haproxy/haproxy.cfg" >"$T/haproxy/out" 2>"$T/haproxy/log" &
HAP=$!
wait_port "$PORT" 10 || { diag_file "haproxy log" "$T/haproxy/log"; bail "haproxy did not start"; }
N=$(audit_lines)
run https_get "$PORT"
is "$(cat "$OUT")" "hello from haproxy" "curl gets haproxy's response over TLS, certificate verified"
[ "$RC" = 0 ] || diag_file stderr "$ERR"
audited_sign "$N" "the handshake signature is audited under svc-tls"
run https_get "$PORT"
is "$(cat "$OUT")" "hello from haproxy" "a second connection works too"

cmk key disable tls >/dev/null
run https_get "$PORT"
isnt "$RC" 0 "after cmk key disable the next handshake fails"
# haproxy 2.6 logs a failed handshake without OpenSSL's error text
wait_grep "$T/haproxy/log" "fe/1: SSL handshake failure" 5
like "$(cat "$T/haproxy/log")" "fe/1: SSL handshake failure" "haproxy's log reports the failed handshake"
# the provider's line on stderr, haproxy's log here (src/provider/errors.c)
wait_grep "$T/haproxy/log" "refused: key $KID is disabled" 5
like "$(cat "$T/haproxy/log")" "cmk provider \(cmk.so\): refused: key $KID is disabled" \
	"and names the disabled key"
stop
done_testing
