#!/bin/bash
# curl as a TLS client with a vault client certificate (--key = the key
# reference file) against openssl s_server -Verify: mutual TLS, the page
# read; the client's CertificateVerify is audited; a disabled key fails the
# next handshake, named in curl's error.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/provider-lib.sh"
. "${srcdir:-.}/tests/service-lib.sh"
svc_need curl curl
# curl (not built with the sanitizers) hangs in setlocale() with their
# runtime preloaded, and cannot load an instrumented cmk.so without it
[ -n "${_san:-}" ] && svc_skip "sanitizer build: curl cannot load the instrumented cmk.so"

plan 6
svc_setup
PORT=$(free_port) || bail "no free port"
# the server: a plain software key and certificate
openssl req -new -x509 -newkey rsa:2048 -nodes -keyout "$T/srv-key.pem" -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost -days 2 -out "$T/srv-cert.pem" 2>/dev/null ||
	bail "cannot make the server certificate"
SRV=
stop() { [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null; SRV=; }
trap 'rc=$?; stop; (exit $rc); _tap_cleanup' EXIT
OPENSSL_CONF=/dev/null openssl s_server -accept "127.0.0.1:$PORT" -www -Verify 1 \
	-verify_return_error -CAfile "$CERT" -cert "$T/srv-cert.pem" -key "$T/srv-key.pem" \
	</dev/null >"$T/srv.out" 2>"$T/srv.err" &
SRV=$!
wait_port "$PORT" 10 || { diag_file "s_server stderr" "$T/srv.err"; bail "s_server did not start"; }
mtls_get() {
	curl -sS --max-time 10 --cacert "$T/srv-cert.pem" --cert "$CERT" --key "$KEYREF" \
		--resolve "localhost:$PORT:127.0.0.1" "https://localhost:$PORT/"
}
N=$(audit_lines)
run mtls_get
is "$RC" 0 "curl with the vault client key completes mutual TLS"
[ "$RC" = 0 ] || diag_file stderr "$ERR"
like "$(cat "$OUT")" "Client certificate" "s_server saw the client certificate and answered"
audited_sign "$N" "the client's CertificateVerify is audited under svc-tls"
run mtls_get
is "$RC" 0 "a second request works too"

cmk key disable tls >/dev/null
run mtls_get
isnt "$RC" 0 "after cmk key disable the next handshake fails"
# curl loads the key for each run: the versionless reference has no usable
# version any more, and curl (which does not print OpenSSL's errors) says so
like "$(cat "$ERR")" "unable to set private key file: '$KEYREF'" \
	"curl reports that the key cannot be loaded"
stop
done_testing
