#!/bin/bash
# nginx (master + 2 workers) serves TLS with a vault key given as a key
# reference file (ssl_certificate_key); curl fetches a page; the signature
# is audited under svc-tls; a disabled key fails the next handshake, named
# in nginx's error log.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/provider-lib.sh"
. "${srcdir:-.}/tests/service-lib.sh"
svc_need nginx nginx curl

plan 7
svc_setup
PORT=$(free_port) || bail "no free port"
mkdir -p "$T/nginx/html" && echo "hello from nginx" >"$T/nginx/html/index.html"
user=
[ "$(id -u)" = 0 ] && user="user root;"
cat >"$T/nginx/nginx.conf" <<EOC
$user
worker_processes 2;
daemon off;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log info;
env OPENSSL_CONF;
env OPENSSL_MODULES;
env SOFTHSM2_CONF;
env CMK_CONF;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $T/nginx/tmp;
	proxy_temp_path $T/nginx/tmp;
	fastcgi_temp_path $T/nginx/tmp;
	uwsgi_temp_path $T/nginx/tmp;
	scgi_temp_path $T/nginx/tmp;
	server {
		listen 127.0.0.1:$PORT ssl;
		ssl_certificate $CERT;
		ssl_certificate_key $KEYREF;
		root $T/nginx/html;
	}
}
EOC
NGX=
stop() { [ -n "$NGX" ] && kill "$NGX" 2>/dev/null && wait "$NGX" 2>/dev/null; NGX=; }
trap 'rc=$?; stop; (exit $rc); _tap_cleanup' EXIT
ok "nginx -t accepts the key reference" nginx -t -c "$T/nginx/nginx.conf" -e "$T/nginx/error.log"
[ "$RC" = 0 ] || diag_file stderr "$ERR"
nginx -c "$T/nginx/nginx.conf" -e "$T/nginx/error.log" 2>"$T/nginx/stderr" &
NGX=$!
wait_port "$PORT" 10 || { diag_file "nginx error.log" "$T/nginx/error.log"; bail "nginx did not start"; }
# the master listens first, then forks its workers
wait_children "$NGX" 2 10
is "$(pgrep -P "$NGX" | wc -l)" 2 "the master runs 2 workers"
N=$(audit_lines)
run https_get "$PORT"
is "$(cat "$OUT")" "hello from nginx" "curl gets the page over TLS, certificate verified"
[ "$RC" = 0 ] || diag_file stderr "$ERR"
audited_sign "$N" "the handshake signature is audited under svc-tls"
run https_get "$PORT"
is "$(cat "$OUT")" "hello from nginx" "a second connection (maybe the other worker) works too"

cmk key disable tls >/dev/null
run https_get "$PORT"
isnt "$RC" 0 "after cmk key disable the next handshake fails"
wait_grep "$T/nginx/error.log" "key $KID is disabled" 5
like "$(grep -c "key $KID is disabled" "$T/nginx/error.log")" '^[1-9]' "nginx's error log names the disabled key"
stop
done_testing
