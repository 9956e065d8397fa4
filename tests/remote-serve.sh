#!/bin/bash
# Remote vaults: `cmk lab serve`/`cmk lab stop` put a lab's token behind
# p11-kit server on a unix socket; a vault with `server =` in cmk.conf (or
# the "remote:" form of a p11-kit module configuration) works on it, and
# every error about it names the vault and the server address.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/token-kinds.sh"
lab_new
SOCK=$LAB/p11-kit.sock
ADDR=unix:path=$SOCK

# ---------------------------------------------------------------- serve
ok "cmk lab serve DIR" cmk lab serve "$LAB"
_kind_served=$LAB   # stopped at exit whatever happens
like "$(cat "$OUT")" "address $ADDR" "serve prints the server address"
like "$(cat "$OUT")" "stop it with: cmk lab stop $LAB" "serve says how to stop it"
is "$(grep -c '^export CMK_CONF=' "$OUT")" 1 "serve prints one export line"
is "$(grep -cv '^#\|^export ' "$OUT")" 0 "every other line is a shell comment (eval-safe)"
(eval "$(cat "$OUT")" && [ "$CMK_CONF" = "$LAB/remote.conf" ]) &&
	pass "eval of the output selects DIR/remote.conf" || fail "eval of the output selects DIR/remote.conf"
pid=$(cat "$LAB/p11-kit.pid")
[ -S "$SOCK" ] && pass "the socket exists" || fail "the socket exists"
is "$(stat -c %a "$SOCK")" 711 "the socket is 0711: other users cannot connect (no write)"
is "$(stat -c %a "$LAB")" 700 "in a 0700 lab directory"
is "$(ps -o pgid= -p "$pid" | tr -d ' ')" "$pid" "the server leads its process group"
like "$(tr '\0' ' ' <"/proc/$pid/cmdline")" "--provider .*softhsm2.so .*pkcs11:token=cmk-lab" \
	"the server serves the lab's token with the SoftHSM module"
expect_fail_msg 5 "already serves lab $LAB \(pid $pid, $ADDR\)" "a second serve is refused" \
	cmk lab serve "$LAB"
expect_fail_msg 2 "--vault 'a b'" "a bad --vault name is refused" cmk lab serve "$LAB" --vault 'a b'
mkdir "$T/nolab"
expect_fail_msg 4 "not a cmk lab" "serve on a directory without a lab is refused" cmk lab serve "$T/nolab"

# ----------------------------------------------------- the remote vault
export CMK_CONF=$LAB/remote.conf
ok "vault show on the remote vault" cmk vault show
like "$(cat "$OUT")" "vault: +remote" "the default vault of remote.conf is the remote one"
like "$(cat "$OUT")" "p11-kit-client.so" "through p11-kit-client.so"
like "$(cat "$OUT")" "token model: +SoftHSM v2" "the token behind it is the lab's SoftHSM token"
ok "key create through the server" cmk key create r1
like "$(cat "$OUT")" "^cmk://remote/keys/r1/[0-9a-f]{32}$" "the key id names the remote vault"
rand_file "$T/dek" 32
ok "wrap through the server" cmk wrap r1 --in "$T/dek" --out "$T/w"
ok "unwrap through the server" cmk unwrap --in "$T/w" --out "$T/d"
same_file "$T/d" "$T/dek" "remote round trip"
ok "the lab's local vault (included in remote.conf) sees the key" cmk --vault lab key show r1
ok "rotate through the server" cmk key rotate r1
ok "disable through the server" cmk key disable r1
expect_fail_msg 6 'key cmk://remote/keys/r1/[0-9a-f]{32} is disabled' "a disabled key does not unwrap through the server" cmk unwrap --in "$T/w"
ok "enable through the server" cmk key enable r1
ok "and it unwraps again" cmk unwrap --in "$T/w" --out "$T/d2"
same_file "$T/d2" "$T/dek" "round trip after enable"
ok "audit verify covers the remote operations" cmk audit verify

# a vault named like the lab's: remote.conf then holds only the remote one
ok "cmk lab stop" cmk lab stop "$LAB"
like "$(cat "$OUT")" "stopped the p11-kit server of lab $LAB \(pid $pid" "stop says what it stopped"
[ ! -e "$SOCK" ] && [ ! -e "$LAB/p11-kit.pid" ] && pass "the socket and pid file are gone" ||
	fail "the socket and pid file are gone"
if proc_alive "$pid"; then
	fail "the server process is gone"
else
	pass "the server process is gone"
fi
expect_fail_msg 12 "vault remote \(p11-kit server $ADDR\): token cmk-lab is not there: the p11-kit server does not answer" \
	"with the server stopped, the error names the vault and the address" cmk key list
expect_fail_msg 4 "no p11-kit server serves lab $LAB" "stop without a server says so" cmk lab stop "$LAB"
ok "serve --vault lab" cmk lab serve "$LAB" --vault lab
ok "vault lab is now the remote one" cmk --vault lab vault show
like "$(cat "$OUT")" "p11-kit-client.so" "vault lab in remote.conf goes through the server"
expect_fail_msg 4 'vault remote is not in configuration .*/lab/remote\.conf \(\[vaults\] has no .remote.\)' "and remote.conf has no other vault" cmk --vault remote vault show
ok "its key list" cmk --vault lab key list
like "$(cat "$OUT")" "^r1 " "shows the key made through the other name"

# ----------------------------------------------------- configuration
write_conf "$T/c1.conf" "module=$P11KIT_CLIENT" "server = $ADDR"
ok "module = p11-kit-client.so with server = ADDRESS" cmk --config "$T/c1.conf" --identity admin key list
write_conf "$T/c2.conf" "server = $ADDR"
sed -i '/^module = /d' "$T/c2.conf"
ok "server = ADDRESS alone implies p11-kit-client.so" cmk --config "$T/c2.conf" --identity admin key list
write_conf "$T/c3.conf" "server = $ADDR"
expect_fail_msg 3 "server is only for module p11-kit-client.so" \
	"server = with another module is a configuration error" cmk --config "$T/c3.conf" --identity admin key list
write_conf "$T/c4.conf" "module=$P11KIT_CLIENT" "server = tcp:host=x"
expect_fail_msg 3 "server 'tcp:host=x' is not a p11-kit server address" \
	"a malformed server address is a configuration error" cmk --config "$T/c4.conf" --identity admin key list
write_conf "$T/c5.conf" "module=$P11KIT_CLIENT" "server = unix:path=$T/nowhere.sock"
expect_fail_msg 12 "vault lab \(p11-kit server unix:path=$T/nowhere.sock\)" \
	"a server that is not there: the error names the vault and the address" \
	cmk --config "$T/c5.conf" --identity admin key list
# P11_KIT_SERVER_ADDRESS of the caller does not override the configuration
ok "the configured address wins over \$P11_KIT_SERVER_ADDRESS" \
	env P11_KIT_SERVER_ADDRESS="unix:path=$T/nowhere.sock" "$CMK_BIN" --config "$T/c1.conf" --identity admin key list

# ------------------------- the "remote:" form of a p11-kit module config
# p11-kit reads user module configurations only when not root, so this
# runs as nobody, on a lab of nobody's own.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1 &&
	setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$CMK_BIN"; then
	U=$T/nobody
	chmod 711 "$T" && mkdir "$U" && chown nobody: "$U"
	# a configuration nobody can read, naming root's lab socket
	write_conf "$U/other.conf" "module=$P11KIT_CLIENT" "server = $ADDR" "pin_source=file:$U/none"
	chmod 644 "$U/other.conf"
	cat >"$U/run.sh" <<EOF
set -u
export HOME=$U SOFTHSM2_CONF=$U/lab/softhsm2.conf
C=$CMK_BIN
\$C lab init $U/lab >/dev/null && \$C lab serve $U/lab >/dev/null || exit 90
mkdir -p $U/.config/pkcs11/modules
echo "remote: unix:path=$U/lab/p11-kit.sock" >$U/.config/pkcs11/modules/cmk-hsm.module
cat >$U/named.conf <<EOC
[cmk]
default_vault = hsm
identity = admin
[vaults]
hsm = vault_hsm
[vault_hsm]
module = cmk-hsm
token = cmk-lab
pin_source = file:$U/lab/pin
lock_file = $U/lab/lab.lock
audit_log = $U/lab/lab.audit.log
EOC
\$C --config $U/named.conf key create named >$U/create.out 2>&1; echo "create \$?"
\$C --config $U/lab/cmk.conf key list >$U/list.out 2>&1; echo "local-list \$?"
\$C lab stop $U/lab >/dev/null 2>&1
\$C --config $U/named.conf key list >$U/down.out 2>&1; echo "down \$?"
# root's lab socket is not nobody's
\$C --config $U/other.conf key list >$U/other.out 2>&1; echo "other \$?"
EOF
	res=$(setpriv --reuid=nobody --regid=nogroup --clear-groups bash "$U/run.sh" 2>&1)
	like "$res" "create 0" "module = NAME of a p11-kit config with remote: works"
	like "$res" "local-list 0" "the key made through it is on the served token"
	grep -q '^named ' "$U/list.out" && pass "listed by the lab's local vault" ||
		fail "listed by the lab's local vault" "$(cat "$U/list.out")"
	like "$res" "down 12" "the remote: module with its server stopped fails with CMK_E_TOKEN"
	like "$(cat "$U/down.out")" "vault hsm \(p11-kit server unix:path=$U/lab/p11-kit.sock\)" \
		"and the error names the address from the module configuration"
	like "$res" "other 12" "another user cannot connect to root's lab socket"
	like "$(cat "$U/other.out")" "vault lab \(p11-kit server $ADDR\): token cmk-lab is not there" \
		"and is told which vault and address failed"
	CMK_VALGRIND=0 setpriv --reuid=nobody --regid=nogroup --clear-groups "$CMK_BIN" lab stop "$U/lab" >/dev/null 2>&1
else
	skip "the remote: form of a p11-kit module config" "needs root, setpriv and user nobody"
fi
done_testing
