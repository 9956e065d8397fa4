#!/bin/bash
# RSA decryption on the token through the provider (openssl pkeyutl):
# OAEP with SHA-256, SHA-1, SHA-384, SHA-512, a different MGF1 digest and a
# label; cmk wrap --raw output opens; PKCS#1 v1.5 only when configured;
# encryption through the provider; every operation audited under the
# provider's identity.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/provider-lib.sh"

plan 24
lab_new
KID=$(cmk key create kek) && pub_pem kek "$T/kek.pub" || bail "cannot create a key"
rand_file "$T/dek" 32
KEY=cmk://lab/keys/kek

# encrypt in plain OpenSSL (no provider) with the public key, decrypt on the token
for md in sha256 sha1 sha384 sha512; do
	ok "software RSA-OAEP-$md encryption" openssl pkeyutl -encrypt -pubin -inkey "$T/kek.pub" \
		-in "$T/dek" -out "$T/ct.$md" $(oaep $md)
	ok "pkeyutl -decrypt OAEP-$md with $KEY" openssl pkeyutl $PROV -decrypt -inkey $KEY \
		-in "$T/ct.$md" -out "$T/pt.$md" $(oaep $md)
	same_file "$T/pt.$md" "$T/dek" "OAEP-$md gives the DEK back"
done

LBL="-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha1 -pkeyopt rsa_oaep_label:c0ffee"
openssl pkeyutl -encrypt -pubin -inkey "$T/kek.pub" -in "$T/dek" -out "$T/ct.lbl" $LBL
ok "OAEP-SHA256 with MGF1-SHA1 and a label" \
	openssl pkeyutl $PROV -decrypt -inkey $KEY -in "$T/ct.lbl" -out "$T/pt.lbl" $LBL
same_file "$T/pt.lbl" "$T/dek" "gives the DEK back"
expect_fail_msg 1 'does not unwrap with key cmk://lab/keys/kek/' "a wrong label fails to decrypt" \
	openssl pkeyutl $PROV -decrypt -inkey $KEY -in "$T/ct.lbl" -out "$T/x" \
	$(oaep sha256) -pkeyopt rsa_mgf1_md:sha1 -pkeyopt rsa_oaep_label:c0ffef
nothing_written "$T/x" "and writes nothing"

# a key wrapped by cmk opens with openssl through the provider
cmk wrap "$KEY" --raw --in "$T/dek" --out "$T/wrapped" 2>/dev/null
ok "cmk wrap --raw output opens with pkeyutl -decrypt (OAEP-256)" \
	openssl pkeyutl $PROV -decrypt -inkey "$KID" -in "$T/wrapped" -out "$T/pt.w" $(oaep sha256)
same_file "$T/pt.w" "$T/dek" "same DEK"

# encryption through the provider opens on the token
ok "pkeyutl -encrypt through the provider" \
	openssl pkeyutl $PROV -encrypt -inkey $KEY -in "$T/dek" -out "$T/ct.p" $(oaep sha512)
run openssl pkeyutl $PROV -decrypt -inkey $KEY -in "$T/ct.p" -out "$T/pt.p" $(oaep sha512)
same_file "$T/pt.p" "$T/dek" "and decrypts back"

# PKCS#1 v1.5: refused unless allow_pkcs1v15 = yes
openssl pkeyutl -encrypt -pubin -inkey "$T/kek.pub" -in "$T/dek" -out "$T/ct.v15"
expect_fail_msg 1 'PKCS#1 v1.5 encryption padding is disabled' \
	"PKCS#1 v1.5 decryption is refused by default" \
	openssl pkeyutl $PROV -decrypt -inkey $KEY -in "$T/ct.v15" -out "$T/x"
prov_conf "$T/v15.cnf" "allow_pkcs1v15 = yes" "cmk_identity = svc-v15"
cmk policy set svc-v15 get,unwrapKey >/dev/null
ok "allowed with allow_pkcs1v15 = yes (openssl.cnf)" env OPENSSL_CONF="$T/v15.cnf" \
	openssl pkeyutl -decrypt -inkey $KEY -in "$T/ct.v15" -out "$T/pt.v15"
same_file "$T/pt.v15" "$T/dek" "PKCS#1 v1.5 gives the DEK back"

# audit: the last record is the provider's unwrap under its identity
AUDIT=$(ls "$LAB"/*.audit.log 2>/dev/null | head -1)
like "$(tail -1 "$AUDIT" 2>/dev/null)" '"identity":"svc-v15","op":"unwrapKey","key":"cmk://lab/keys/kek/[0-9a-f]{32}","result":"ok"' \
	"the decryption is audited under the provider's identity"
done_testing
