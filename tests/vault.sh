#!/bin/bash
# Vaults: cmk lab init, vault init, vault list, vault show; choosing a vault
# by --vault, CMK_VAULT and --config.
. "${srcdir:-.}/tests/lib.sh"
export CMK_VALGRIND_KEYGEN=1 # the one key generation of the quick tests under valgrind

# --- lab init (the setup every other test uses), checked here
run cmk lab init "$T/lab"
is "$RC" 0 "cmk lab init exits 0"
is "$(cat "$OUT")" "export SOFTHSM2_CONF=$T/lab/softhsm2.conf
export CMK_CONF=$T/lab/cmk.conf" "lab init prints the two export lines"
[ "$RC" = 0 ] || bail "no lab, nothing else can run"
export SOFTHSM2_CONF=$T/lab/softhsm2.conf CMK_CONF=$T/lab/cmk.conf LAB=$T/lab
is "$(stat -c %a "$LAB/pin")" 600 "lab pin file is mode 0600"
is "$(stat -c %a "$LAB/so-pin")" 600 "lab so-pin file is mode 0600"
pin=$(cat "$LAB/pin")
if [ ${#pin} -ge 8 ] && ! grep -rqF -- "$pin" "$LAB/cmk.conf" "$LAB/softhsm2.conf" "$OUT" "$ERR"; then
	pass "lab PIN is random-length >= 8 and appears in no config or output"
else
	fail "lab PIN is random-length >= 8 and appears in no config or output" "PIN length ${#pin}"
fi
like "$(cat "$LAB/softhsm2.conf")" "directories.tokendir *= *$LAB/tokens" "softhsm2.conf points at DIR/tokens"
like "$(p11tool -T 2>&1)" "token label +: cmk-lab" "token cmk-lab exists on the module"

# a second lab must not share a PIN with the first
run cmk lab init "$T/lab2"
if [ "$RC" = 0 ] && [ "$(cat "$T/lab2/pin")" != "$pin" ]; then
	pass "a second lab gets its own PIN"
else
	fail "a second lab gets its own PIN" "exit $RC"
fi
pin2=$(cat "$T/lab2/pin")
expect_fail_msg 5 '.*/lab2 already holds a cmk lab \(.*/lab2/cmk\.conf\); give --force to replace it' "lab init refuses an existing lab" cmk lab init "$T/lab2"
is "$(cat "$T/lab2/pin")" "$pin2" "the refused lab init left the existing PIN alone"

# --- vault list / show
ok "vault list" cmk vault list
is "$(awk '{print $1}' "$OUT")" lab "vault list names the lab vault once"
ok "vault show" cmk vault show
like "$(cat "$OUT")" "cmk-lab" "vault show names the token"
like "$(cat "$OUT")" "[Rr]etention[^0-9]*90" "default retention is 90 days"
like "$(cat "$OUT")" "[Pp]urge[ -][Pp]rotection[^a-z]*(off|no|false|disabled)" "purge protection is off by default"
expect_fail_msg 5 'vault lab is already initialised on token .cmk-lab.' "vault init twice is refused (CMK_E_EXISTS)" cmk vault init

# --- a second vault with explicit settings, on its own token
so=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
up=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s' "$up" >"$T/v2.pin"
softhsm2-util --init-token --free --label v2tok --so-pin "$so" --pin "$up" >/dev/null 2>&1 ||
	bail "softhsm2-util cannot make a second token"
cat >"$T/two.conf" <<CONF
[cmk]
default_vault = lab
identity = admin

[vaults]
lab = vault_lab
v2 = vault_v2

[vault_lab]
module = $SOFTHSM_MODULE
token = cmk-lab
pin_source = file:$LAB/pin

[vault_v2]
module = $SOFTHSM_MODULE
token = v2tok
pin_source = file:$T/v2.pin
CONF
expect_fail_msg 2 'vault init: --retention 6 is not between 7 and 90 days \(see .cmk vault init --help.\)' "vault init --retention 6 is refused" cmk --config "$T/two.conf" --vault v2 vault init --retention 6
expect_fail_msg 2 'vault init: --retention 91 is not between 7 and 90 days \(see .cmk vault init --help.\)' "vault init --retention 91 is refused" cmk --config "$T/two.conf" --vault v2 vault init --retention 91
ok "vault init --retention 7 --purge-protection --admin ops" \
	cmk --config "$T/two.conf" --identity ops --vault v2 vault init --retention 7 --purge-protection --admin ops
ok "vault show --vault v2" cmk --config "$T/two.conf" --vault v2 vault show
v2show=$(cat "$OUT")
like "$v2show" "v2tok" "v2 is on token v2tok"
like "$v2show" "[Rr]etention[^0-9]*7([^0-9]|$)" "v2 retention is 7 days"
like "$v2show" "[Pp]urge[ -][Pp]rotection[^a-z]*(on|yes|true|enabled)" "v2 purge protection is on"
like "$v2show" "administrator: +ops" "v2 admin is ops"

ok "vault list with two vaults" cmk --config "$T/two.conf" vault list
is "$(awk '{print $1}' "$OUT" | tr '\n' ' ')" "lab v2 " "vault list names both vaults in file order"

CMK_CONF=$T/two.conf CMK_VAULT=v2 run cmk vault show
like "$(cat "$OUT")" "v2tok" "CMK_VAULT selects the vault"
CMK_CONF=$T/two.conf CMK_VAULT=v2 run cmk --vault lab vault show
like "$(cat "$OUT")" "cmk-lab" "--vault wins over CMK_VAULT"
CMK_CONF=/nonexistent/cmk.conf run cmk --config "$T/two.conf" vault show
like "$(cat "$OUT")" "cmk-lab" "--config wins over CMK_CONF"

# keys in one vault are not visible in the other
ok "create a key in v2 (as its administrator)" cmk --config "$T/two.conf" --identity ops --vault v2 key create only-v2
expect_fail_msg 4 'key cmk://lab/keys/only-v2 does not exist' "the v2 key is unknown in lab" cmk --config "$T/two.conf" --vault lab key show only-v2

done_testing
