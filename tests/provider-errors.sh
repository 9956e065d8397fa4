#!/bin/bash
# Failures through the provider: each a clear OpenSSL error naming the key
# and the cause, exit 1 from the openssl command, never a crash.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/provider-lib.sh"

plan 37
lab_new
KID=$(cmk key create kek) && LATER=$(cmk key create later --not-before +1d) &&
	cmk key create signer --ops sign,verify >/dev/null && pub_pem kek "$T/kek.pub" ||
	bail "cannot create the keys"
rand_file "$T/dek" 32
openssl pkeyutl -encrypt -pubin -inkey "$T/kek.pub" -in "$T/dek" -out "$T/ct" $(oaep sha256) &&
	openssl dgst -sha256 -binary -out "$T/dgst" "$T/dek" || bail "cannot encrypt a test DEK"

# fails URI REGEX DESC: pkeyutl -decrypt with URI exits 1, stderr matches
fails() {
	expect_fail_msg 1 "$2" "$3" openssl pkeyutl $PROV -decrypt -inkey "$1" -in "$T/ct" \
		-out "$T/pt" $(oaep sha256)
	no_crash "$3: no crash"
}

fails cmk://lab/keys/nope 'key cmk://lab/keys/nope does not exist' "unknown key"
fails cmk://elsewhere/keys/kek 'vault elsewhere is not in configuration' "unknown vault"
fails cmk://lab/kees/kek 'cmk://lab/kees/kek.*cmk://VAULT/keys/NAME' "malformed cmk URI"
fails "$KID/extra" 'cmk://lab/keys/kek/' "malformed version"
fails "pkcs11:token=cmk-lab;object=nope" 'key cmk://lab/keys/nope does not exist' "unknown pkcs11: object"
nothing_written "$T/pt" "no output after any of these"

ok "key disable kek" cmk key disable kek
fails cmk://lab/keys/kek 'key cmk://lab/keys/kek is disabled' "disabled key (versionless)"
fails "$KID" "key $KID is disabled" "disabled key (versioned)"
ok "key enable kek" cmk key enable kek
ok "key delete kek" cmk key delete kek
fails "$KID" 'key cmk://lab/keys/kek is deleted' "deleted key"
ok "key recover kek" cmk key recover kek
ok "recovered, the key decrypts again" openssl pkeyutl $PROV -decrypt -inkey "$KID" \
	-in "$T/ct" -out "$T/pt" $(oaep sha256)

fails cmk://lab/keys/signer 'key cmk://lab/keys/signer/[0-9a-f]+ does not allow unwrapKey' \
	"key-ops without unwrapKey"
fails cmk://lab/keys/later 'key cmk://lab/keys/later has no current version' \
	"versionless id of a key not valid yet"
expect_fail_msg 1 "key $LATER is not valid yet" "signing before not-before (versioned id)" \
	openssl pkeyutl $PROV -sign -inkey "$LATER" -in "$T/dgst" -out "$T/sig" \
	-pkeyopt digest:sha256

# wrong PIN: a cmk.conf whose pin_source holds another PIN
echo 000000 >"$T/badpin"
write_conf "$T/badpin.conf" "pin_source=file:$T/badpin"
expect_fail_msg 1 'PIN for token .cmk-lab. is incorrect' "wrong PIN" env CMK_CONF="$T/badpin.conf" \
	openssl pkeyutl $PROV -decrypt -inkey "$KID" -in "$T/ct" -out "$T/pt2" $(oaep sha256)
no_crash "wrong PIN: no crash"

# access policies apply to the provider's identity (openssl.cnf cmk_identity)
prov_conf "$T/mallory.cnf" "cmk_identity = mallory"
expect_fail_msg 1 "access denied: identity 'mallory' lacks permission 'get'" \
	"an identity without permissions cannot load the key" env OPENSSL_CONF="$T/mallory.cnf" \
	openssl pkeyutl -decrypt -inkey "$KID" -in "$T/ct" -out "$T/pt2" $(oaep sha256)
ok "policy set mallory get,wrapKey" cmk policy set mallory get,wrapKey
expect_fail_msg 1 "access denied: identity 'mallory' lacks permission 'unwrapKey'" \
	"an identity without unwrapKey cannot decrypt" env OPENSSL_CONF="$T/mallory.cnf" \
	openssl pkeyutl -decrypt -inkey "$KID" -in "$T/ct" -out "$T/pt2" $(oaep sha256)
AUDIT=$(ls "$LAB"/*.audit.log 2>/dev/null | head -1)
like "$(tail -1 "$AUDIT" 2>/dev/null)" '"identity":"mallory","op":"unwrapKey".*"result":"denied"' \
	"the refusal is audited under the provider's identity"

# bad provider configuration
prov_conf "$T/bad.cnf" "allow_pkcs1v15 = maybe"
run env OPENSSL_CONF="$T/bad.cnf" openssl storeutl -noout "$KID"
like "$RC:$(cat "$ERR")" '^1:.*' "a bad allow_pkcs1v15 value stops the provider from loading"
no_crash "bad configuration: no crash"
prov_conf "$T/nocmk.cnf"
sed -i "s|^cmk_conf = .*|cmk_conf = $T/missing.conf|" "$T/nocmk.cnf"
expect_fail_msg 1 "missing.conf" "a missing cmk.conf is named" env OPENSSL_CONF="$T/nocmk.cnf" \
	openssl pkeyutl -decrypt -inkey "$KID" -in "$T/ct" -out "$T/pt2" $(oaep sha256)
nothing_written "$T/pt2" "no output after any refusal"
done_testing
