#!/bin/bash
# The cmk provider's store: cmk:// and pkcs11: URIs, the key's public half,
# text output, loading from openssl.cnf and from the command line.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/provider-lib.sh"

plan 20
lab_new
KID=$(cmk key create kek) && pub_pem kek "$T/kek.pub" || bail "cannot create a key"
VER=${KID##*/}
prov_conf "$T/openssl.cnf"

ok "storeutl loads cmk://lab/keys/kek (command-line providers)" \
	openssl storeutl $PROV -noout cmk://lab/keys/kek
like "$(cat "$OUT")" '0: Pkey' "it is a private key"

ok "storeutl loads the versioned id" openssl storeutl $PROV -noout -text "$KID"
like "$(cat "$OUT")" "cmk vault key $KID \(RSA 2048 bit, private half on the token\)" \
	"the text output names the versioned key"
like "$(cat "$OUT")" 'Modulus:' "the text output shows the public half"

ok "the versionless id resolves to the current version" \
	openssl pkey $PROV -in cmk://lab/keys/kek -text -noout
like "$(cat "$OUT")" "$KID" "versionless id -> $VER"

ok "cmk:///keys/kek names the key in the default vault" \
	openssl storeutl $PROV -noout -text cmk:///keys/kek
like "$(cat "$OUT")" "$KID" "the default vault is cmk.conf's"

ok "pkey -pubout (providers from openssl.cnf)" \
	env OPENSSL_CONF="$T/openssl.cnf" openssl pkey -in cmk://lab/keys/kek -pubout -out "$T/p.pem"
same_file "$T/p.pem" "$T/kek.pub" "the public key is the vault's"

ok "providers loaded in the other order too" \
	openssl pkey -provider cmk -provider default -in cmk://lab/keys/kek -pubout -out "$T/p2.pem"
same_file "$T/p2.pem" "$T/kek.pub" "same public key"

ok "a public key is handed out when only a public key is expected" \
	openssl pkey $PROV -pubin -in cmk://lab/keys/kek -out "$T/p3.pem"
same_file "$T/p3.pem" "$T/kek.pub" "same public key"

# pkcs11: URIs name the token key pair: object = key name, id = version bytes
ID=$(printf '%s' "$VER" | sed 's/../%&/g')
ok "pkcs11:token=...;object=kek" \
	openssl storeutl $PROV -noout -text "pkcs11:token=cmk-lab;object=kek;type=private"
like "$(cat "$OUT")" "$KID" "object= is the key name"
cmk key rotate kek >/dev/null || bail "cannot rotate the key"
ok "pkcs11: URI with object= and id= (p11-kit style, with model and manufacturer)" \
	openssl storeutl $PROV -noout -text \
	"pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;token=cmk-lab;object=kek;id=$ID;type=private"
like "$(cat "$OUT")" "$KID" "id= is the version (the first, no longer current)"

run openssl storeutl $PROV -noout "pkcs11:token=other-token;object=kek"
like "$RC:$(cat "$ERR")" "^1:.*names token 'other-token'; vault lab is on token 'cmk-lab'" \
	"a pkcs11: URI for another token is refused, saying why"
done_testing
