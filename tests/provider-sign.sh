#!/bin/bash
# Signatures on the token through the provider: pkeyutl -sign over a digest
# (PKCS#1 v1.5, PSS with each salt length form), dgst -sign with SHA-256/384/
# 512, and self-signed X.509 certificates (req -x509) that verify.  Every
# signature is checked by plain OpenSSL with the vault's public key.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/provider-lib.sh"

plan 35
lab_new
cmk key create signer --ops sign,verify >/dev/null && pub_pem signer "$T/pub.pem" ||
	bail "cannot create a key"
KEY=cmk://lab/keys/signer
rand_file "$T/msg" 1000
openssl dgst -sha256 -binary -out "$T/msg.sha256" "$T/msg"

# verify SIG with OPTS... in plain OpenSSL (no provider)
sw_verify() {
	local sig=$1
	shift
	openssl pkeyutl -verify -pubin -inkey "$T/pub.pem" -in "$T/msg.sha256" -sigfile "$sig" "$@"
}

PKCS1="-pkeyopt digest:sha256"
ok "pkeyutl -sign, PKCS#1 v1.5 over a SHA-256 digest" \
	openssl pkeyutl $PROV -sign -inkey $KEY -in "$T/msg.sha256" -out "$T/s.pkcs1" $PKCS1
ok "verifies in software" sw_verify "$T/s.pkcs1" $PKCS1
ok "pkeyutl -verify through the provider" \
	openssl pkeyutl $PROV -verify -inkey $KEY -in "$T/msg.sha256" -sigfile "$T/s.pkcs1" $PKCS1

PSS="-pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss"
# salt length as set -> as OpenSSL verifies it (256-byte modulus: max = 256-32-2)
for salt in digest:32 max:222 auto:auto 20:20 0:0; do
	ok "PSS, salt length ${salt%%:*}" openssl pkeyutl $PROV -sign -inkey $KEY \
		-in "$T/msg.sha256" -out "$T/s.pss" $PSS -pkeyopt "rsa_pss_saltlen:${salt%%:*}"
	ok "verifies in software with salt length ${salt##*:}" \
		sw_verify "$T/s.pss" $PSS -pkeyopt "rsa_pss_saltlen:${salt##*:}"
done
ok "PSS over SHA-256 with MGF1-SHA512" openssl pkeyutl $PROV -sign -inkey $KEY \
	-in "$T/msg.sha256" -out "$T/s.mgf" $PSS -pkeyopt rsa_mgf1_md:sha512
ok "verifies in software" sw_verify "$T/s.mgf" $PSS -pkeyopt rsa_mgf1_md:sha512
expect_fail_msg 1 'PSS salt length 223 does not fit a 2048-bit key' \
	"a PSS salt longer than the key allows is refused" \
	openssl pkeyutl $PROV -sign -inkey $KEY -in "$T/msg.sha256" -out "$T/s.big" $PSS \
	-pkeyopt rsa_pss_saltlen:223
head -c 20 "$T/msg" >"$T/msg.20"
expect_fail_msg 1 'a SHA256 digest is 32 bytes, got 20' "a digest of the wrong length is refused" \
	openssl pkeyutl $PROV -sign -inkey $KEY -in "$T/msg.20" -out "$T/x" $PKCS1

for md in sha256 sha384 sha512; do
	ok "dgst -$md -sign (PKCS#1 v1.5)" openssl dgst $PROV -$md -sign $KEY -out "$T/d.$md" "$T/msg"
	ok "verifies in software" openssl dgst -$md -verify "$T/pub.pem" -signature "$T/d.$md" "$T/msg"
	ok "dgst -$md -sign (PSS)" openssl dgst $PROV -$md -sign $KEY -sigopt rsa_padding_mode:pss \
		-sigopt rsa_pss_saltlen:digest -out "$T/p.$md" "$T/msg"
	ok "verifies in software" openssl dgst -$md -verify "$T/pub.pem" \
		-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -signature "$T/p.$md" "$T/msg"
done
expect_fail_msg 1 'signatures with .*SHA1|sha1.* not supported' "SHA-1 signatures are refused" \
	openssl dgst $PROV -sha1 -sign $KEY -out "$T/x" "$T/msg"

ok "req -new -x509 -key $KEY" openssl req $PROV -new -x509 -key $KEY -subj /CN=cmk-test \
	-days 2 -out "$T/cert.pem"
ok "the certificate verifies (self-signed, no provider)" \
	openssl verify -CAfile "$T/cert.pem" "$T/cert.pem"
run openssl x509 -in "$T/cert.pem" -noout -pubkey
same_file "$OUT" "$T/pub.pem" "it carries the vault key's public half"
ok "req -x509 with RSA-PSS and SHA-384" openssl req $PROV -new -x509 -key $KEY \
	-subj /CN=cmk-pss -days 2 -sha384 -sigopt rsa_padding_mode:pss -out "$T/pss.pem"
ok "the PSS certificate verifies" openssl verify -CAfile "$T/pss.pem" "$T/pss.pem"
done_testing
