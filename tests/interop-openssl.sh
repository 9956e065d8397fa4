#!/bin/bash
# Interop with OpenSSL (docs/semantics.md §5): a key made by `openssl genpkey` and
# imported with `cmk key import`; cmk's raw wrap opens with `openssl pkeyutl`,
# and a DEK wrapped by `openssl pkeyutl -encrypt` under the public key from
# `cmk key show` opens with `cmk unwrap --raw`.  Both RSA-OAEP-256 and RSA-OAEP.
. "${srcdir:-.}/tests/lib.sh"
need openssl
lab_new
rand_file "$T/dek" 32

oaep256=(-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256)
oaep1=(-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha1 -pkeyopt rsa_mgf1_md:sha1)

# public_pem NAME[/VER] FILE: the SubjectPublicKeyInfo PEM that `cmk key show` prints
public_pem() {
	cmk key show "$1" 2>/dev/null | sed -n '/-----BEGIN PUBLIC KEY-----/,/-----END PUBLIC KEY-----/p' >"$2"
	[ -s "$2" ] || cmk --json key show "$1" 2>/dev/null |
		jq -r '.public_key_pem // empty' >"$2"
}

# --- import (bring your own key)
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/k.pem" 2>/dev/null ||
	bail "openssl genpkey failed"
cp "$T/k.pem" "$T/k.pem.orig"
ok "cmk key import imp --pem k.pem" cmk key import imp --pem "$T/k.pem"
same_file "$T/k.pem" "$T/k.pem.orig" "key import leaves the PEM file as it was"
vi=$(key_versions imp | tail -n 1)
like "$vi" '^[0-9a-f]{32}$' "the imported key has a version"
is "$(cmk --json key show imp | jq -r '.version_list[0].imported')" true "key show marks the version imported"
objs=$(p11tool_login -O --type privkey --id "$vi" 2>&1)
like "$objs" "Access:.*sensitive" "the imported private key is sensitive on the token"
if printf '%s' "$objs" | grep 'Access:' | sed 's/never extractable//' | grep -q extractable; then
	fail "the imported private key is not CKA_EXTRACTABLE" "$objs"
else
	pass "the imported private key is not CKA_EXTRACTABLE"
fi

public_pem imp "$T/imp.pub"
openssl pkey -in "$T/k.pem" -pubout -out "$T/k.pub" 2>/dev/null
same_file "$T/imp.pub" "$T/k.pub" "key show gives the imported key's public key"

ok "cmk wrap --raw (RSA-OAEP-256) with the imported key" cmk wrap imp --raw --in "$T/dek" --out "$T/ct256"
openssl pkeyutl -decrypt -inkey "$T/k.pem" "${oaep256[@]}" -in "$T/ct256" -out "$T/pt256" 2>"$ERR"
same_file "$T/pt256" "$T/dek" "openssl pkeyutl opens cmk's RSA-OAEP-256 wrap"
ok "cmk wrap --raw --alg RSA-OAEP with the imported key" cmk wrap imp --raw --alg RSA-OAEP --in "$T/dek" --out "$T/ct1"
openssl pkeyutl -decrypt -inkey "$T/k.pem" "${oaep1[@]}" -in "$T/ct1" -out "$T/pt1" 2>"$ERR"
same_file "$T/pt1" "$T/dek" "openssl pkeyutl opens cmk's RSA-OAEP (SHA-1) wrap"
openssl pkeyutl -decrypt -inkey "$T/k.pem" "${oaep1[@]}" -in "$T/ct256" -out "$T/ptx" 2>/dev/null
if [ -s "$T/ptx" ] && cmp -s "$T/ptx" "$T/dek"; then
	fail "cmk's RSA-OAEP-256 wrap does not open as SHA-1 OAEP (the digests are really used)"
else
	pass "cmk's RSA-OAEP-256 wrap does not open as SHA-1 OAEP (the digests are really used)"
fi

# the formatted wrapped key carries the same ciphertext
ok "cmk wrap (formatted) with the imported key" cmk wrap imp --in "$T/dek" --out "$T/wimp"
ok "cmk unwrap of it" cmk unwrap --in "$T/wimp" --out "$T/dimp"
same_file "$T/dimp" "$T/dek" "imported key round trip in cmk"

# import a second PEM as a new version of the same key
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/k2.pem" 2>/dev/null
ok "cmk key import of a second PEM into imp" cmk key import imp --pem "$T/k2.pem"
is "$(key_versions imp | wc -l)" 2 "it becomes a second version"
ok "wrap with the new current version" cmk wrap imp --raw --in "$T/dek" --out "$T/ct2"
openssl pkeyutl -decrypt -inkey "$T/k2.pem" "${oaep256[@]}" -in "$T/ct2" -out "$T/pt2" 2>/dev/null
same_file "$T/pt2" "$T/dek" "the second imported key is the current version"

# --- openssl wraps, cmk unwraps (a key generated on the token)
ok "key create gen" cmk key create gen
vg=$(key_versions gen | tail -n 1)
public_pem gen "$T/gen.pub"
like "$(openssl pkey -pubin -in "$T/gen.pub" -noout -text 2>&1 | head -n 1)" "2048 bit" "key show prints a 2048-bit public key PEM"
openssl pkeyutl -encrypt -pubin -inkey "$T/gen.pub" "${oaep256[@]}" -in "$T/dek" -out "$T/o256" 2>"$ERR" ||
	diag_file "openssl" "$ERR"
ok "cmk unwrap --raw of an openssl RSA-OAEP-256 wrap" cmk unwrap "cmk://lab/keys/gen/$vg" --raw --in "$T/o256" --out "$T/u256"
same_file "$T/u256" "$T/dek" "cmk opens openssl's RSA-OAEP-256 wrap"
openssl pkeyutl -encrypt -pubin -inkey "$T/gen.pub" "${oaep1[@]}" -in "$T/dek" -out "$T/o1" 2>/dev/null
ok "cmk unwrap --raw --alg RSA-OAEP of an openssl SHA-1 OAEP wrap" cmk unwrap "cmk://lab/keys/gen/$vg" --raw --alg RSA-OAEP --in "$T/o1" --out "$T/u1"
same_file "$T/u1" "$T/dek" "cmk opens openssl's RSA-OAEP wrap"
openssl pkeyutl -encrypt -pubin -inkey "$T/gen.pub" -pkeyopt rsa_padding_mode:pkcs1 -in "$T/dek" -out "$T/opkcs1" 2>/dev/null
expect_fail_msg 14 'the data does not unwrap with key cmk://lab/keys/gen/[0-9a-f]{32}' "a PKCS#1 v1.5 ciphertext does not open as RSA-OAEP-256" cmk unwrap "cmk://lab/keys/gen/$vg" --raw --in "$T/opkcs1"

# --- bad PEM input
expect_fail_msg 19 'cannot open private key .*/missing\.pem: No such file or directory' "key import of a missing file: CMK_E_IO" cmk key import nofile --pem "$T/missing.pem"
printf -- '-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n' >"$T/bad.pem"
expect_fail_msg 24 'the key to import is not a PEM or DER private key \(encrypted PEM is not supported\)' "key import of a malformed PEM is refused" cmk key import badpem --pem "$T/bad.pem"
expect_fail_msg 24 'the key to import is not a PEM or DER private key \(encrypted PEM is not supported\)' "key import of a public key only is refused" cmk key import pubonly --pem "$T/k.pub"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/ec.pem" 2>/dev/null
expect_fail_msg 2 'the key to import is not an RSA key' "key import of an EC key is refused (RSA only)" cmk key import eckey --pem "$T/ec.pem"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$T/k1024.pem" 2>/dev/null
expect_fail_msg 2 'the key to import has 1024 bits; cmk takes 2048, 3072 or 4096' "key import of an RSA-1024 key is refused" cmk key import small --pem "$T/k1024.pem"
is "$(cmk key list 2>/dev/null | grep -cE '^(nofile|badpem|pubonly|eckey|small)\b')" 0 "refused imports left no key behind"
done_testing
