#!/bin/bash
# Interop with pkcs11-tool (OpenSC) on the lab token: a DEK wrapped by cmk with
# RSA-OAEP (SHA-1, the mechanism SoftHSM has) opens with `pkcs11-tool
# --decrypt`, and one encrypted with the token's own public key object opens
# in cmk.  The test PIN is given to pkcs11-tool on its argv: tests only.
. "${srcdir:-.}/tests/lib.sh"
need pkcs11-tool openssl
lab_new
rand_file "$T/dek" 32
ok "key create k" cmk key create k
v=$(key_versions k | tail -n 1)

ok "cmk wrap --raw --alg RSA-OAEP" cmk wrap k --raw --alg RSA-OAEP --in "$T/dek" --out "$T/ct"
p11tool_login --decrypt -m RSA-PKCS-OAEP --hash-algorithm SHA-1 --mgf MGF1-SHA1 \
	--id "$v" -i "$T/ct" -o "$T/pt" >"$OUT" 2>"$ERR" || diag_file "pkcs11-tool" "$ERR"
same_file "$T/pt" "$T/dek" "pkcs11-tool --decrypt RSA-PKCS-OAEP SHA-1 opens cmk's RSA-OAEP wrap"

ok "cmk wrap (formatted) --alg RSA-OAEP" cmk wrap k --alg RSA-OAEP --in "$T/dek" --out "$T/w"
tail -c 256 "$T/w" >"$T/w.ct" # format v1 ends with the ciphertext (docs/wrapped-key-format.md)
p11tool_login --decrypt -m RSA-PKCS-OAEP --hash-algorithm SHA-1 --mgf MGF1-SHA1 \
	--id "$v" -i "$T/w.ct" -o "$T/wpt" >/dev/null 2>&1
same_file "$T/wpt" "$T/dek" "the wrapped-key format ends with the bare RSA ciphertext pkcs11-tool opens"

# the other direction: pkcs11-tool --encrypt.  OpenSC before 0.26 looks only
# for secret keys to encrypt with (OpenSC issue 3144), so the probe is the
# installed OpenSC version; from 0.26 on, any failure here is a failure.
opensc_ver=$(opensc-tool --info 2>/dev/null | sed -n '1s/^OpenSC \([0-9][0-9.]*\).*/\1/p')
[ -n "$opensc_ver" ] || opensc_ver=$(dpkg-query -W -f '${Version}' opensc 2>/dev/null | sed 's/[^0-9.].*//')
if [ -z "$opensc_ver" ]; then
	fail "the OpenSC version is known (opensc-tool --info or dpkg)"
elif [ "$(printf '%s\n0.26\n' "$opensc_ver" | sort -V | head -n 1)" != 0.26 ]; then
	skip "cmk unwrap of a pkcs11-tool --encrypt" "OpenSC $opensc_ver's pkcs11-tool --encrypt takes secret keys only (RSA from 0.26)"
else
	p11tool_login --encrypt -m RSA-PKCS-OAEP --hash-algorithm SHA-1 --mgf MGF1-SHA1 \
		--id "$v" -i "$T/dek" -o "$T/pct" >"$OUT" 2>"$ERR"
	is "$?" 0 "pkcs11-tool --encrypt RSA-PKCS-OAEP with the version's public key"
	ok "cmk unwrap --raw --alg RSA-OAEP of a pkcs11-tool --encrypt" cmk unwrap "cmk://lab/keys/k/$v" --raw --alg RSA-OAEP --in "$T/pct" --out "$T/ppt"
	same_file "$T/ppt" "$T/dek" "cmk opens pkcs11-tool's RSA-OAEP encryption"
fi

# the token's public key object, read by pkcs11-tool, wraps for cmk
p11tool --read-object --type pubkey --id "$v" -o "$T/pub.der" >/dev/null 2>&1
if openssl pkey -pubin -inform DER -in "$T/pub.der" -out "$T/pub.pem" 2>/dev/null; then
	pass "pkcs11-tool reads the version's public key object from the token"
	openssl pkeyutl -encrypt -pubin -inkey "$T/pub.pem" -pkeyopt rsa_padding_mode:oaep \
		-pkeyopt rsa_oaep_md:sha1 -pkeyopt rsa_mgf1_md:sha1 -in "$T/dek" -out "$T/tct" 2>/dev/null
	ok "cmk unwrap --raw --alg RSA-OAEP of a wrap under the token's public object" \
		cmk unwrap "cmk://lab/keys/k/$v" --raw --alg RSA-OAEP --in "$T/tct" --out "$T/tpt"
	same_file "$T/tpt" "$T/dek" "cmk opens it"
else
	fail "pkcs11-tool reads the version's public key object from the token"
fi

# SoftHSM has no OAEP-SHA256 (docs/softhsm.md): cmk's default still works there
ok "cmk wrap --raw (RSA-OAEP-256) on SoftHSM" cmk wrap k --raw --in "$T/dek" --out "$T/ct256"
ok "cmk unwrap --raw RSA-OAEP-256 on SoftHSM" cmk unwrap "cmk://lab/keys/k/$v" --raw --in "$T/ct256" --out "$T/pt256"
same_file "$T/pt256" "$T/dek" "RSA-OAEP-256 round trip on a token without native OAEP-SHA256"
# pkcs11-tool decrypts with the token's own OAEP, so this direction needs a
# token with native OAEP-SHA256: the probe is cmk's mechanism probe
run cmk --json vault show
native256=$(jq -r '.oaep256_native' "$OUT")
case $native256 in
true)
	p11tool_login --decrypt -m RSA-PKCS-OAEP --hash-algorithm SHA256 --mgf MGF1-SHA256 \
		--id "$v" -i "$T/ct256" -o "$T/p256" >"$OUT" 2>"$ERR" || diag_file "pkcs11-tool" "$ERR"
	same_file "$T/p256" "$T/dek" "pkcs11-tool opens cmk's RSA-OAEP-256 wrap (this token has native OAEP-SHA256)"
	;;
false) skip "pkcs11-tool opens cmk's RSA-OAEP-256 wrap" "the token has no native OAEP-SHA256 (vault show: oaep256_native false)" ;;
*) fail "vault show --json says whether the token has native OAEP-SHA256" "got '$native256'" ;;
esac
done_testing
