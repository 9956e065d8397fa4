#!/bin/bash
# Apache httpd (mod_ssl, event MPM) with SSLCertificateKeyFile a key
# reference file: the key is loaded by the root parent, the handshakes are
# signed in the children, which run as www-data (the lab made with
# `cmk lab init --group` for that user's group); curl gets a page, the
# signature is audited under svc-tls; a disabled key fails the next
# handshake, the key named in the error log.
# libengine-pkcs11-openssl, when installed, takes pkcs11: key names in
# mod_ssl: the key reference file is not one, so there is no clash.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/provider-lib.sh"
. "${srcdir:-.}/tests/service-lib.sh"
svc_need apache2 apache2 curl
MODS=/usr/lib/apache2/modules
[ -f "$MODS/mod_ssl.so" ] || svc_skip "no $MODS/mod_ssl.so"

RUNUSER=
if [ "$(id -u)" = 0 ]; then
	RUNUSER=www-data
	id "$RUNUSER" >/dev/null 2>&1 || svc_skip "no www-data user for the Apache children"
fi

plan 7
svc_setup "$RUNUSER"
PORT=$(free_port) || bail "no free port"
A=$T/apache
mkdir -p "$A/html" && echo "hello from apache" >"$A/html/index.html"
chmod -R o+rX "$A"
cat >"$A/httpd.conf" <<EOC
ServerRoot $A
LoadModule mpm_event_module $MODS/mod_mpm_event.so
LoadModule authz_core_module $MODS/mod_authz_core.so
LoadModule dir_module $MODS/mod_dir.so
LoadModule ssl_module $MODS/mod_ssl.so
${RUNUSER:+User $RUNUSER}
${RUNUSER:+Group $RUNUSER}
ServerName localhost
Listen 127.0.0.1:$PORT
PidFile $A/httpd.pid
Mutex file:$A default
ErrorLog $A/error.log
LogLevel info
StartServers 2
DocumentRoot $A/html
DirectoryIndex index.html
SSLSessionCache none
<Directory $A/html>
	Require all granted
</Directory>
<VirtualHost 127.0.0.1:$PORT>
	SSLEngine on
	SSLCertificateFile $CERT
	SSLCertificateKeyFile $KEYREF
</VirtualHost>
EOC
HTTPD=
stop() {
	[ -n "$HTTPD" ] || return 0
	kill -TERM "$HTTPD" 2>/dev/null
	wait "$HTTPD" 2>/dev/null
	HTTPD=
}
trap 'rc=$?; stop; (exit $rc); _tap_cleanup' EXIT
ok "apache2 -t accepts the key reference" apache2 -f "$A/httpd.conf" -t
[ "$RC" = 0 ] || diag_file stderr "$ERR"
apache2 -f "$A/httpd.conf" -DFOREGROUND >"$A/stdout" 2>&1 &
HTTPD=$!
if ! wait_port "$PORT" 10; then
	diag_file "apache error log" "$A/error.log"
	diag_file "apache output" "$A/stdout"
	bail "apache did not start"
fi
N=$(audit_lines)
run https_get "$PORT"
is "$(cat "$OUT")" "hello from apache" "curl gets the page over TLS, certificate verified"
[ "$RC" = 0 ] || { diag_file stderr "$ERR"; diag_file "error log" "$A/error.log"; }
audited_sign "$N" "the handshake signature is audited under svc-tls"
if [ -n "$RUNUSER" ]; then
	like "$(ps -o user= --ppid "$HTTPD" | sort -u | tr '\n' ' ')" "$RUNUSER" \
		"the children that sign run as $RUNUSER"
else
	skip "the children that sign run as another user" "not root: Apache does not switch users"
fi
run https_get "$PORT"
is "$(cat "$OUT")" "hello from apache" "a second connection works too"

runas() { if [ -n "$RUNUSER" ]; then runuser -u "$RUNUSER" -- "$@"; else "$@"; fi; }
runas "$CMK_BIN" key disable tls >/dev/null
run https_get "$PORT"
isnt "$RC" 0 "after cmk key disable the next handshake fails"
wait_grep "$A/error.log" "is disabled" 5
like "$(cat "$A/error.log")" "key $KID is disabled" "Apache's error log names the disabled key"
stop
done_testing
