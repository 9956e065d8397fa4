#!/bin/bash
# tests/bench-services.sh - full TLS handshakes per second of real services
# with a vault key (a key reference file, signed on a SoftHSM token through
# cmk, audited) next to the same service with a plain PEM key file.  Not a
# test (nothing is asserted) and not part of make check:
#
#   tests/bench-services.sh [BUILD_DIR] [SECONDS]     (default: build, 5)
#
# Each server runs on 127.0.0.1; `openssl s_time -new` (TLS 1.3, RSA-PSS
# CertificateVerify) makes new handshakes for SECONDS; PostgreSQL is
# measured with psql connections (sslmode=require), curl as a client with a
# client certificate against s_server -Verify.  Services not installed are
# left out.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$here/build}" && pwd) || exit 2
SECS=${2:-5}
export srcdir=$here abs_top_srcdir=$here abs_top_builddir=$build
export CMK_BIN=$build/src/cli/cmk CMK_TESTS_BIN=$build/tests
export CMK_PROVIDER_DIR=$build/src/provider/.libs
. "$here/tests/lib.sh" >/dev/null
. "$here/tests/provider-lib.sh"
. "$here/tests/service-lib.sh"
exec 9>/dev/null
svc_setup >/dev/null
# the plain key: software RSA 2048 in a PEM file, its own certificate
PLAINKEY=$T/plain-key.pem PLAINCERT=$T/plain-cert.pem
OPENSSL_CONF=/dev/null openssl req -new -x509 -newkey rsa:2048 -nodes -keyout "$PLAINKEY" \
	-subj /CN=localhost -days 2 -out "$PLAINCERT" 2>/dev/null
[ "$(id -u)" = 0 ] && svc_for_user postgres 2>/dev/null && chmod o+r "$PLAINKEY" "$PLAINCERT"
PIDS=
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; _tap_cleanup; }
trap cleanup EXIT

# rate PORT: handshakes per second with openssl s_time
rate() {
	OPENSSL_CONF=/dev/null openssl s_time -connect "127.0.0.1:$1" -new -time "$SECS" 2>/dev/null |
		sed -n 's/^\([0-9]*\) connections in \([0-9.]*\) real seconds.*/\1 \2/p' |
		awk '{ if ($2 > 0) printf "%.1f", $1 / $2; else print "?" }'
}
row() { printf '%-12s %10s %10s\n' "$1" "$2" "$3"; }
printf 'handshakes per second, %s s each, %s\n' "$SECS" "$(nproc) CPUs"
row service vault-key plain-key

nginx_run() { # KEY CERT -> rate
	local d=$T/nginx-$RANDOM port
	port=$(free_port); mkdir -p "$d/tmp"
	cat >"$d/nginx.conf" <<EOC
$([ "$(id -u)" = 0 ] && echo "user root;")
worker_processes 2; daemon off; pid $d/pid; error_log $d/error.log;
env OPENSSL_CONF; env OPENSSL_MODULES; env SOFTHSM2_CONF; env CMK_CONF;
events { worker_connections 256; }
http { access_log off; client_body_temp_path $d/tmp; proxy_temp_path $d/tmp;
 fastcgi_temp_path $d/tmp; uwsgi_temp_path $d/tmp; scgi_temp_path $d/tmp;
 server { listen 127.0.0.1:$port ssl; ssl_certificate $2; ssl_certificate_key $1;
  ssl_session_cache off; ssl_session_tickets off; return 200 "hi"; } }
EOC
	nginx -c "$d/nginx.conf" -e "$d/error.log" 2>/dev/null & local pid=$!
	wait_port "$port" 10 && rate "$port"
	kill "$pid"; wait "$pid" 2>/dev/null
}
haproxy_run() {
	local d=$T/haproxy-$RANDOM port
	port=$(free_port); mkdir -p "$d"; cat "$2" "$1" >"$d/site.pem"
	printf 'global\n\tsetenv OPENSSL_CONF %s\ndefaults\n\tmode http\n\ttimeout connect 5s\n\ttimeout client 5s\n\ttimeout server 5s\nfrontend fe\n\tbind 127.0.0.1:%s ssl crt %s no-tls-tickets\n\thttp-request return status 200\n' \
		"$OPENSSL_CONF" "$port" "$d/site.pem" >"$d/h.cfg"
	haproxy -db -f "$d/h.cfg" >/dev/null 2>&1 & local pid=$!
	wait_port "$port" 10 && rate "$port"
	kill "$pid"; wait "$pid" 2>/dev/null
}
stunnel_run() {
	local d=$T/stunnel-$RANDOM port
	port=$(free_port); mkdir -p "$d"
	printf 'foreground = yes\npid =\noutput = %s/log\n[s]\naccept = 127.0.0.1:%s\ncert = %s\nkey = %s\nexec = /bin/true\nsessionCacheSize = 1\nsessionCacheTimeout = 1\n' \
		"$d" "$port" "$2" "$1" >"$d/s.conf"
	stunnel4 "$d/s.conf" >/dev/null 2>&1 & local pid=$!
	wait_port "$port" 10 && rate "$port"
	kill "$pid"; wait "$pid" 2>/dev/null
}
apache_run() {
	local d=$T/apache-$RANDOM port m=/usr/lib/apache2/modules
	port=$(free_port); mkdir -p "$d/html"; echo hi >"$d/html/index.html"; chmod -R o+rX "$d"
	cat >"$d/httpd.conf" <<EOC
ServerRoot $d
LoadModule mpm_event_module $m/mod_mpm_event.so
LoadModule authz_core_module $m/mod_authz_core.so
LoadModule ssl_module $m/mod_ssl.so
$([ "$(id -u)" = 0 ] && printf 'User www-data\nGroup www-data\n')
ServerName localhost
Listen 127.0.0.1:$port
PidFile $d/pid
Mutex file:$d default
ErrorLog $d/error.log
DocumentRoot $d/html
SSLSessionCache none
SSLSessionTickets off
<VirtualHost 127.0.0.1:$port>
SSLEngine on
SSLCertificateFile $2
SSLCertificateKeyFile $1
</VirtualHost>
EOC
	[ "$(id -u)" = 0 ] && chown -R www-data "$LAB"
	apache2 -f "$d/httpd.conf" -DFOREGROUND >/dev/null 2>&1 & local pid=$!
	wait_port "$port" 10 && rate "$port"
	kill "$pid"; wait "$pid" 2>/dev/null
	[ "$(id -u)" = 0 ] && chown -R postgres "$LAB"
}
# loop SECONDS CMD...: runs of CMD per second
loop() {
	local n=0 end=$((SECONDS + SECS)) start=$SECONDS
	while [ $SECONDS -lt $end ]; do "$@" >/dev/null 2>&1 && n=$((n + 1)); done
	awk -v n=$n -v t=$((SECONDS - start)) 'BEGIN { printf "%.1f", n / t }'
}
pg_run() {
	local d=$T/pg-$RANDOM port pgbin
	pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
	port=$(free_port); mkdir -p "$d" && chown postgres "$d"
	runuser -u postgres -- "$pgbin/initdb" -D "$d/data" -A trust -U postgres >/dev/null 2>&1
	cp "$2" "$d/data/server.crt"; cp "$1" "$d/data/server.key"
	chown postgres "$d/data/server.crt" "$d/data/server.key"; chmod 600 "$d/data/server.key"
	printf "listen_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = '%s'\nssl = on\n" "$port" "$d" >>"$d/data/postgresql.conf"
	echo "hostssl all all 127.0.0.1/32 trust" >"$d/data/pg_hba.conf"
	runuser -u postgres -- env PATH="$PATH" "$pgbin/postgres" -D "$d/data" >/dev/null 2>&1 &
	wait_port "$port" 15 && loop psql "host=127.0.0.1 port=$port user=postgres sslmode=require" -Atc "select 1"
	local pm i
	pm=$(head -1 "$d/data/postmaster.pid" 2>/dev/null)
	[ -n "$pm" ] && kill -INT "$pm" 2>/dev/null
	for ((i = 0; i < 50; i++)); do [ -n "$pm" ] && kill -0 "$pm" 2>/dev/null && sleep 0.1; done
	[ -n "$pm" ] && kill -KILL "$pm" 2>/dev/null
	wait 2>/dev/null
}
curl_run() { # client KEY CERT against s_server -Verify
	local port
	port=$(free_port)
	OPENSSL_CONF=/dev/null openssl s_server -accept "127.0.0.1:$port" -www -Verify 1 -CAfile "$2" \
		-cert "$PLAINCERT" -key "$PLAINKEY" -no_cache -no_ticket </dev/null >/dev/null 2>&1 & local pid=$!
	wait_port "$port" 10 && loop curl -s -k --cert "$2" --key "$1" "https://127.0.0.1:$port/"
	kill "$pid"; wait "$pid" 2>/dev/null
}

for s in nginx haproxy stunnel4 apache2 postgresql curl; do
	case $s in
	nginx) command -v nginx >/dev/null || continue; f=nginx_run ;;
	haproxy) command -v haproxy >/dev/null || continue; f=haproxy_run ;;
	stunnel4) command -v stunnel4 >/dev/null || continue; f=stunnel_run ;;
	apache2) command -v apache2 >/dev/null && [ "$(id -u)" = 0 ] || continue; f=apache_run ;;
	postgresql) command -v psql >/dev/null && [ "$(id -u)" = 0 ] || continue; f=pg_run ;;
	curl) command -v curl >/dev/null || continue; f=curl_run ;;
	esac
	v=$($f "$KEYREF" "$CERT")
	p=$($f "$PLAINKEY" "$PLAINCERT")
	row "$s" "${v:-?}" "${p:-?}"
done
