#!/bin/bash
# Disable is enforced by the token, not only by cmk: after `cmk key disable`
# a raw PKCS#11 decrypt with the private key (pkcs11-tool) fails too.
# The test PIN is passed to pkcs11-tool on its command line: tests only.
. "${srcdir:-.}/tests/lib.sh"
need pkcs11-tool
lab_new
rand_file "$T/dek" 32

p11_decrypt() { # VERSION CT OUT
	rm -f "$3"
	p11tool_login --decrypt -m RSA-PKCS-OAEP --hash-algorithm SHA-1 --mgf MGF1-SHA1 \
		--id "$1" -i "$2" -o "$3"
}

ok "key create k" cmk key create k
v=$(key_versions k | tail -n 1)
ok "cmk wrap --raw --alg RSA-OAEP" cmk wrap k --raw --alg RSA-OAEP --in "$T/dek" --out "$T/ct"

objs=$(p11tool_login -O --type privkey --id "$v" 2>&1)
like "$objs" "ID: +$v" "the private key on the token has CKA_ID = the version id"
like "$objs" "Access:.*sensitive" "the private key is sensitive"
like "$objs" "never extractable" "the private key is never extractable"
like "$objs" "Usage:.*decrypt" "an enabled version may decrypt on the token"

ok "pkcs11-tool decrypts while the version is enabled" p11_decrypt "$v" "$T/ct" "$T/pt"
same_file "$T/pt" "$T/dek" "pkcs11-tool recovers the DEK"

ok "cmk key disable k/VERSION" cmk key disable "k/$v"
usage=$(p11tool_login -O --type privkey --id "$v" 2>&1 | grep 'Usage:')
if [ -n "$usage" ] && ! grep -qE 'decrypt|unwrap' <<<"$usage"; then
	pass "the disabled version's private key has CKA_DECRYPT and CKA_UNWRAP false"
else
	fail "the disabled version's private key has CKA_DECRYPT and CKA_UNWRAP false" "$usage"
fi
expect_fail 6 "cmk unwrap refuses the disabled version" cmk unwrap "cmk://lab/keys/k/$v" --raw --alg RSA-OAEP --in "$T/ct"
run p11_decrypt "$v" "$T/ct" "$T/pt2"
isnt "$RC" 0 "pkcs11-tool decrypt fails after a version disable (token-enforced)"
if [ -s "$T/pt2" ] && cmp -s "$T/pt2" "$T/dek"; then fail "no DEK from the token after disable"; else pass "no DEK from the token after disable"; fi
# the working copy (CKA_ID = the version id) is destroyed; the archive copy
# (docs/design.md) has every usage false
like "$(cat "$ERR")" "key not found|CKR_KEY_FUNCTION_NOT_PERMITTED|CKR_KEY_TYPE_INCONSISTENT|not permitted" \
	"pkcs11-tool finds no key that may decrypt"
PROBE=$CMK_TESTS_BIN/p11-probe
is "$("$PROBE" "$SOFTHSM_MODULE" - "$LAB_TOKEN" "$LAB/pin" decrypt-all "$v" SHA1 "$T/ct")" "refused 1" \
	"the one copy left (the archive) refuses to decrypt on the token"
is "$("$PROBE" "$SOFTHSM_MODULE" - "$LAB_TOKEN" "$LAB/pin" privkey "$v")" \
	"sensitive=1 extractable=0 never_extractable=1 decrypt=0 unwrap=0 sign=0" \
	"and is sensitive, never extractable, with every usage false"

ok "cmk key enable k/VERSION" cmk key enable "k/$v"
ok "pkcs11-tool decrypts again after enable" p11_decrypt "$v" "$T/ct" "$T/pt3"
same_file "$T/pt3" "$T/dek" "and recovers the DEK"

# key-level disable reaches every version on the token
ok "rotate" cmk key rotate k
v2=$(key_versions k | tail -n 1)
ok "cmk wrap --raw --alg RSA-OAEP with version 2" cmk wrap "k/$v2" --raw --alg RSA-OAEP --in "$T/dek" --out "$T/ct2"
ok "cmk key disable k (whole key)" cmk key disable k
run p11_decrypt "$v" "$T/ct" "$T/pt4"
isnt "$RC" 0 "pkcs11-tool decrypt with version 1 fails after a key disable"
run p11_decrypt "$v2" "$T/ct2" "$T/pt5"
isnt "$RC" 0 "pkcs11-tool decrypt with version 2 fails after a key disable"
ok "cmk key enable k" cmk key enable k
ok "pkcs11-tool decrypts version 2 again after key enable" p11_decrypt "$v2" "$T/ct2" "$T/pt6"
same_file "$T/pt6" "$T/dek" "and recovers the DEK"

# a version disabled on its own stays disabled on the token across key enable
ok "disable version 1" cmk key disable "k/$v"
ok "disable the key" cmk key disable k
ok "enable the key" cmk key enable k
run p11_decrypt "$v" "$T/ct" "$T/pt7"
isnt "$RC" 0 "version 1 (disabled itself) stays refused by the token after key enable"
done_testing
