#!/bin/bash
# PostgreSQL 15 with ssl = on and ssl_key_file = a key reference file:
# psql connects with sslmode=verify-ca and runs a query; the backend (a
# child of the postmaster, running as the postgres user) signs on the
# token, audited under svc-tls; a disabled key fails the next handshake,
# with cmk's reason in the server log.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/provider-lib.sh"
. "${srcdir:-.}/tests/service-lib.sh"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
svc_need postgresql psql "${PGBIN:-/nonexistent}/postgres" "${PGBIN:-/nonexistent}/initdb"

# PostgreSQL refuses to run as root: it runs as the postgres user, and the
# lab is made with `cmk lab init --group` for that user's group (svc_setup USER).
if [ "$(id -u)" = 0 ]; then
	PGUSER=postgres
	id "$PGUSER" >/dev/null 2>&1 || svc_skip "no postgres user to run the server as"
	as_pg() { runuser -u "$PGUSER" -- env PATH="$PATH" "$@"; }
else
	PGUSER=$(id -un)
	as_pg() { "$@"; }
fi

# In a sanitizer build the services run with the sanitizer runtime preloaded
# (svc_wrap); PostgreSQL's programs then hang before doing anything (like
# curl in setlocale): probe it, and skip only when the probe hangs.
if [ -n "${_san:-}" ]; then
	prc=0
	timeout 10 "$(svc_wrapped "$PGBIN/postgres")" --version >/dev/null 2>&1 || prc=$?
	[ $prc = 124 ] && svc_skip "sanitizer build: PostgreSQL hangs with the sanitizer runtime preloaded (probe: postgres --version did not finish in 10 s)"
fi
plan 7
svc_setup "$([ "$(id -u)" = 0 ] && echo "$PGUSER")"
POSTGRES=$(svc_wrapped "$PGBIN/postgres")
PORT=$(free_port) || bail "no free port"
PGDATA=$T/pg
mkdir -p "$PGDATA" "$T/pgsock" && chown "$PGUSER" "$PGDATA" "$T/pgsock"
as_pg "$PGBIN/initdb" -D "$PGDATA" -A trust -U postgres >"$T/initdb.out" 2>&1 ||
	{ diag_file initdb "$T/initdb.out"; bail "initdb failed"; }
cp "$CERT" "$PGDATA/server.crt" && cp "$KEYREF" "$PGDATA/server.key" &&
	chown "$PGUSER" "$PGDATA/server.crt" "$PGDATA/server.key" && chmod 600 "$PGDATA/server.key"
cat >>"$PGDATA/postgresql.conf" <<EOC
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$T/pgsock'
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
logging_collector = off
log_min_messages = info
EOC
echo "hostssl all all 127.0.0.1/32 trust" >"$PGDATA/pg_hba.conf"
echo "local all all trust" >>"$PGDATA/pg_hba.conf"
PG=
# runuser does not pass signals on: signal the postmaster itself (fast
# shutdown; immediate shutdown, then SIGKILL, if it does not go)
stop() {
	local pid i sig
	[ -n "$PG" ] || return 0
	pid=$(head -1 "$PGDATA/postmaster.pid" 2>/dev/null)
	for sig in INT QUIT KILL; do
		[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break
		kill -"$sig" "$pid" 2>/dev/null
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	done
	kill -TERM "$PG" 2>/dev/null
	wait "$PG" 2>/dev/null
	PG=
}
trap 'rc=$?; stop; (exit $rc); _tap_cleanup' EXIT
as_pg "$POSTGRES" -D "$PGDATA" >"$T/pg.log" 2>&1 &
PG=$!
if ! wait_port "$PORT" 15; then
	diag_file "postgres log" "$T/pg.log"
	bail "postgres did not start"
fi
pass "postgres starts with ssl_key_file a key reference"
pg_query() {
	OPENSSL_CONF=/dev/null timeout 15 psql "host=localhost hostaddr=127.0.0.1 port=$PORT user=postgres dbname=postgres sslmode=verify-ca sslrootcert=$CERT" \
		-Atc "select 'hello from ' || current_setting('server_version_num')::int / 10000 || ' over ' || (select version from pg_stat_ssl where pid = pg_backend_pid())"
}
N=$(audit_lines)
run pg_query
like "$(cat "$OUT")" '^hello from 1[5-9] over TLSv1\.[23]$' "psql sslmode=verify-ca runs a query over TLS"
[ "$RC" = 0 ] || diag_file stderr "$ERR"
audited_sign "$N" "the backend's handshake signature is audited under svc-tls"
run pg_query
like "$(cat "$OUT")" '^hello from' "a second connection works too"

as_pg "$CMK_BIN" key disable tls >/dev/null
run pg_query
isnt "$RC" 0 "after cmk key disable the next handshake fails"
wait_grep "$T/pg.log" "key disabled" 5
like "$(cat "$T/pg.log")" "could not accept SSL connection: key disabled" \
	"the server log has cmk's reason: key disabled"
wait_grep "$T/pg.log" "refused: key $KID is disabled" 5
like "$(cat "$T/pg.log")" "cmk provider \(cmk.so\): refused: key $KID is disabled" \
	"and the provider's line names the disabled key (src/provider/errors.c)"
stop
done_testing
