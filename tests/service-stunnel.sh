#!/bin/bash
# stunnel4 accepts TLS with a vault key (key = the key reference file) and
# runs a program per connection; openssl s_client verifies the certificate
# and reads its output; the signature is audited; a disabled key fails the
# next handshake, its reason in stunnel's log and the key named on its
# stderr.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/provider-lib.sh"
. "${srcdir:-.}/tests/service-lib.sh"
svc_need stunnel4 stunnel4

plan 7
svc_setup
PORT=$(free_port) || bail "no free port"
mkdir -p "$T/stunnel"
cat >"$T/stunnel/stunnel.conf" <<EOC
foreground = yes
pid =
debug = 6
output = $T/stunnel/log
[hello]
accept = 127.0.0.1:$PORT
cert = $CERT
key = $KEYREF
exec = /bin/echo
execArgs = echo hello from stunnel
EOC
STN=
stop() { [ -n "$STN" ] && kill "$STN" 2>/dev/null && wait "$STN" 2>/dev/null; STN=; }
trap 'rc=$?; stop; (exit $rc); _tap_cleanup' EXIT
stunnel4 "$T/stunnel/stunnel.conf" >"$T/stunnel/out" 2>&1 &
STN=$!
if ! wait_port "$PORT" 10; then
	diag_file "stunnel log" "$T/stunnel/log"
	bail "stunnel did not start"
fi
pass "stunnel starts with the key reference"
tls_get() {
	timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -quiet -verify_return_error \
		-CAfile "$CERT" -verify_hostname localhost </dev/null
}
N=$(audit_lines)
run tls_get
like "$(cat "$OUT")" "hello from stunnel" "s_client reads the service's output over TLS, certificate verified"
[ "$RC" = 0 ] || diag_file stderr "$ERR"
audited_sign "$N" "the handshake signature is audited under svc-tls"
run tls_get
like "$(cat "$OUT")" "hello from stunnel" "a second connection works too"

cmk key disable tls >/dev/null
run tls_get
unlike_out=$(grep -c "hello from stunnel" "$OUT")
is "$unlike_out" 0 "after cmk key disable the next handshake fails"
# stunnel logs the reason of each error (not its text, which names the key)
wait_grep "$T/stunnel/log" "cmk::key disabled" 5
like "$(cat "$T/stunnel/log")" "SSL_accept: .*error:40800006:cmk::key disabled" \
	"stunnel's log has cmk's reason: key disabled"
# and the provider's line on stunnel's stderr (the journal under systemd)
# names the key (src/provider/errors.c)
wait_grep "$T/stunnel/out" "refused: key $KID is disabled" 5
like "$(cat "$T/stunnel/out")" "cmk provider \(cmk.so\): refused: key $KID is disabled" \
	"stunnel's stderr names the disabled key"
stop
done_testing
