#!/bin/bash
# cmk key adopt: an RSA key pair made on the token by pkcs11-tool becomes a
# vault key (or a new version), with the vault's lifecycle; extractable
# pairs are refused with the reason.  storeutl 'pkcs11:' lists the vault's
# keys.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/provider-lib.sh"
need pkcs11-tool

plan 20
lab_new
prov_conf "$T/openssl.cnf"
export OPENSSL_CONF=$T/openssl.cnf
keygen() { # ID LABEL [pkcs11-tool options]
	local id=$1 label=$2
	shift 2
	p11tool_login --keypairgen --key-type rsa:2048 --id "$id" --label "$label" "$@" \
		>"$T/keygen.out" 2>&1 || bail "pkcs11-tool cannot make a key pair: $(cat "$T/keygen.out")"
}
objects_with_id() { p11tool_login --list-objects 2>/dev/null | grep -c "ID: *$1\$"; }

keygen 0a0b web
run cmk key adopt web --id 0a0b
like "$(cat "$OUT")" '^cmk://lab/keys/web/[0-9a-f]{32}$' "adopt --id: a new key, its versioned id printed"
[ "$RC" = 0 ] || diag_file stderr "$ERR"
V1=$(cat "$OUT")
like "$(cmk key list)" '^web +[0-9a-f]{32} +enabled +1' "the key is in the vault"
is "$(cmk --json key show web | jq -r '.version_list[0].imported')" true "its version is marked as brought in"
is "$(objects_with_id 0a0b)" 0 "pkcs11-tool's objects are gone: only the vault's copies remain"
cmk key pem web --out "$T/web.pem" || bail "cannot write a reference"
echo data >"$T/data"
run openssl dgst -sha256 -sign "$T/web.pem" -out "$T/sig" "$T/data"
is "$RC" 0 "the adopted key signs through the provider"
AUDIT=$(ls "$LAB"/*.audit.log | head -1)
like "$(grep '"op":"adopt"' "$AUDIT" | tail -1)" "\"op\":\"adopt\",\"key\":\"$V1\".*\"result\":\"ok\"" \
	"the adoption is audited"
ok "vault check finds the adopted version whole (archive and working copy)" cmk vault check
ok "key disable web" cmk key disable web
expect_fail_msg 1 "key cmk://lab/keys/web is disabled" "disabled, the adopted key is refused" \
	openssl dgst -sha256 -sign "$T/web.pem" -out "$T/sig2" "$T/data"
ok "key enable web" cmk key enable web

# a second pair as a new version of the same key, by label
keygen 0c0d web-next
run cmk key adopt web --label web-next
like "$(cat "$OUT")" '^cmk://lab/keys/web/[0-9a-f]{32}$' "adopt --label: a new version of an existing key"
V2=$(cat "$OUT")
is "$(current_version web)" "${V2##*/}" "the adopted version is current"
like "$(openssl pkey -in "$T/web.pem" -text -noout)" "cmk vault key $V2 " "the versionless reference follows it"

# refusals
keygen 0e0f loose --extractable
expect_fail_msg 2 "key pair with label 'loose' on token 'cmk-lab' is extractable.*only sensitive, non-extractable keys are adopted" \
	"an extractable key pair is refused with the reason" cmk key adopt loose --label loose
is "$(objects_with_id 0e0f)" 2 "and left as it was"
expect_fail_msg 4 "no RSA private key with id 1234 on the token" "an unknown id" \
	cmk key adopt nope --id 1234
expect_fail_msg 5 "already version ${V1##*/} of key cmk://lab/keys/web" "a vault key cannot be adopted again" \
	cmk key adopt other --id "${V1##*/}"
expect_fail_msg 2 "one of them" "--id and --label together" cmk key adopt x --id 01 --label y

# storeutl pkcs11: lists the vault's keys
cmk key create other >/dev/null
run openssl storeutl -text 'pkcs11:'
like "$(grep -c '^cmk vault key' "$OUT")" '^2$' "storeutl 'pkcs11:' lists the vault's two keys"
like "$(grep '^cmk vault key' "$OUT" | sort | tr '\n' ' ')" "cmk://lab/keys/other/.*cmk://lab/keys/web/${V2##*/}" \
	"each at its current version"
done_testing
