#!/bin/bash
# Key reference files (docs/pem-reference.md): `cmk key pem` writes a PEM
# block with no key material that an application knowing only OpenSSL reads
# as the vault key, given only OPENSSL_CONF: PEM_read_bio_PrivateKey,
# OSSL_DECODER, SSL_CTX_use_PrivateKey_file and the openssl commands.  A
# versionless reference follows rotation at load time.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/provider-lib.sh"

plan 19
lab_new
V1=$(cmk key create tls --ops sign,verify) || bail "cannot create a key"
prov_conf "$T/openssl.cnf"
export OPENSSL_CONF=$T/openssl.cnf
PEMREAD=$CMK_TESTS_BIN/provider-pemread

ok "cmk key pem NAME --out FILE" cmk key pem tls --out "$T/tls.pem"
like "$(cat "$T/tls.pem")" '-----BEGIN CMK KEY REFERENCE-----' "the file is a CMK KEY REFERENCE block"
like "$(head -1 "$T/tls.pem")" 'cmk://lab/keys/tls \(the current version' "its text names the key"
run grep -c 'PRIVATE KEY' "$T/tls.pem"
is "$(cat "$OUT")" 0 "no private key in it"
run cmk key pem tls
same_file "$OUT" "$T/tls.pem" "without --out it goes to standard output"
ok "cmk key pem NAME/VERSION" cmk key pem "tls/${V1##*/}" --out "$T/tls-v1.pem"
like "$(head -1 "$T/tls-v1.pem")" "^cmk key reference: $V1\$" "a versioned reference names the version"

run openssl pkey -in "$T/tls.pem" -text -noout
like "$(cat "$OUT")" "cmk vault key $V1 \(RSA 2048 bit" "openssl pkey reads the reference as the vault key"
run "$PEMREAD" "$T/tls.pem"
is "$RC" 0 "PEM_read_bio_PrivateKey, OSSL_DECODER and SSL_CTX_use_PrivateKey_file load it and sign"
[ "$RC" = 0 ] || diag_file "provider-pemread output" "$OUT"
like "$(cat "$OUT")" 'SSL_CTX_use_PrivateKey_file: ok 2048' "SSL_CTX_use_PrivateKey_file: a 2048-bit key"

# the reference after a certificate in the same file (haproxy's .pem); one
# OSSL_DECODER_from_bio call reads one block, as for any key file
run openssl req -new -x509 -key "$T/tls.pem" -subj /CN=localhost -days 2 -out "$T/cert.pem"
is "$RC" 0 "openssl req -x509 signs a certificate with the reference"
cat "$T/cert.pem" "$T/tls.pem" >"$T/both.pem"
run "$PEMREAD" "$T/both.pem"
like "$(grep -c -E '^(PEM_read_bio_PrivateKey|SSL_CTX_use_PrivateKey_file): ok' "$OUT")" '^2$' \
	"a certificate and the reference in one file: the key is found"
is "$(openssl pkey -in "$T/tls.pem" -pubout)" "$(openssl x509 -in "$T/cert.pem" -noout -pubkey)" \
	"the certificate's public key is the vault key's"

# rotation: versionless follows, versioned stays
V2=$(cmk key rotate tls) || bail "cannot rotate"
like "$(openssl pkey -in "$T/tls.pem" -text -noout)" "cmk vault key $V2 " \
	"after rotation the versionless reference loads the new version"
like "$(openssl pkey -in "$T/tls-v1.pem" -text -noout)" "cmk vault key $V1 " \
	"the versioned reference still loads its version"

# every use is the vault's: audited under the provider's identity
AUDIT=$(ls "$LAB"/*.audit.log 2>/dev/null | head -1)
run "$PEMREAD" "$T/tls.pem"
like "$(grep '"op":"sign"' "$AUDIT" | tail -1)" "\"identity\":\"admin\",\"op\":\"sign\",\"key\":\"$V2\".*\"result\":\"ok\"" \
	"the signature through the reference is in the audit log"

# a private key cannot be exported
expect_fail_msg 1 "private key $V2 cannot leave the token" "openssl pkey -out: refused with the reason" \
	openssl pkey -in "$T/tls.pem" -out "$T/exported.pem"
nothing_written "$T/exported.pem" "no key bytes written"
expect_fail_msg 1 "private key $V1 cannot leave the token" "the same for a cmk:// URI" \
	openssl pkey -in "$V1" -outform DER -out "$T/exported.der"
done_testing
