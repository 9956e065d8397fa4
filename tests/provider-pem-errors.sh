#!/bin/bash
# Bad key reference files: each a clear error naming the reference and the
# reason, in the application's error queue; no crash, no other key loaded.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/provider-lib.sh"

plan 26
lab_new
cmk key create tls --ops sign,verify >/dev/null && cmk key create gone >/dev/null &&
	cmk key create off >/dev/null || bail "cannot create keys"
cmk key pem tls --out "$T/tls.pem" && cmk key pem gone --out "$T/gone.pem" &&
	cmk key pem off --out "$T/off.pem" || bail "cannot write references"
# cmk.conf from the environment, so that a test can change it
prov_conf "$T/openssl.cnf"
sed -i '/^cmk_conf = /d' "$T/openssl.cnf"
export OPENSSL_CONF=$T/openssl.cnf
PEMREAD=$CMK_TESTS_BIN/provider-pemread

# loads FILE ERE DESC: the application fails to load FILE, the errors match
loads_not() {
	run "$PEMREAD" "$1"
	if [ "$RC" = 1 ] && ! grep -q ': ok' "$OUT" && grep -qE -- "$2" "$OUT"; then
		pass "$3"
	else
		fail "$3" "exit $RC; want 1 and /$2/ in the error queue"
		diag_file output "$OUT"
	fi
	expect_fail_msg 1 "$2" "$3 (openssl pkey)" openssl pkey -in "$1" -noout
	no_crash "$3: no crash"
}

# cmk key pem itself
expect_fail_msg 4 'key cmk://lab/keys/nope does not exist' "cmk key pem: unknown key" \
	cmk key pem nope --out "$T/nope.pem"
no_file "$T/nope.pem" "cmk key pem: no file for an unknown key"
expect_fail_msg 4 'has no version 0123456789abcdef0123456789abcdef' "cmk key pem: unknown version" \
	cmk key pem tls/0123456789abcdef0123456789abcdef

# damaged blocks
head -n 5 "$T/tls.pem" >"$T/trunc.pem"
loads_not "$T/trunc.pem" 'CMK KEY REFERENCE block: truncated' "truncated block"
# one base64 character of the body changed (the key id's bytes stay parseable)
awk '/^-----BEGIN/ {b=1; print; next} b==1 && !d {l=$0; c=substr(l,40,1); \
	n=(c=="A")?"B":"A"; print substr(l,1,39) n substr(l,41); d=1; next} {print}' \
	"$T/tls.pem" >"$T/altered.pem"
loads_not "$T/altered.pem" 'CMK KEY REFERENCE block.*(check value does not match|not a CmkKeyReference)' \
	"altered block"
# the same reference in BER: the outer length in long form (30 81 LL, the
# fuzzer's finding); decodes in OpenSSL, and is not the one encoding cmk takes
sed '/^-----/d' "$T/tls.pem" | openssl base64 -d >"$T/tls.der" || bail "cannot decode tls.pem"
{ printf '\060\201'; tail -c +2 "$T/tls.der"; } >"$T/ber.der"
{ echo '-----BEGIN CMK KEY REFERENCE-----'; openssl base64 -in "$T/ber.der"
	echo '-----END CMK KEY REFERENCE-----'; } >"$T/ber.pem"
loads_not "$T/ber.pem" 'CMK KEY REFERENCE block.*not in DER' "a block in BER, not DER"

# the key's state
cmk key delete gone >/dev/null
loads_not "$T/gone.pem" 'key cmk://lab/keys/gone is deleted.*|reference to cmk://lab/keys/gone' \
	"deleted key"
cmk key disable off >/dev/null
loads_not "$T/off.pem" 'key cmk://lab/keys/off is disabled' "disabled key"

# another configuration: the vault unknown, or another token under its name
sed 's/^lab = /other = /; s/^default_vault = lab/default_vault = other/' "$CMK_CONF" >"$T/novault.conf"
CMK_CONF=$T/novault.conf loads_not "$T/tls.pem" 'vault lab is not in configuration' "unknown vault"
LAB1=$LAB SOFTHSM1=$SOFTHSM2_CONF CONF1=$CMK_CONF
lab_new "$T/lab2"
CMK_VALGRIND=0 cmk key create tls --ops sign,verify >/dev/null || bail "cannot create a key in lab2"
loads_not "$T/tls.pem" "key reference cmk://lab/keys/tls names vault lab on token 'cmk-lab' \(created .*\), but vault lab here .*another token" \
	"a reference made for another token (same vault and key names)"
export CMK_CONF=$CONF1 SOFTHSM2_CONF=$SOFTHSM1 LAB=$LAB1

# without the provider: OpenSSL's own error, never another key
run env OPENSSL_CONF=/dev/null "$PEMREAD" "$T/tls.pem"
like "$RC:$(grep -c ': ok' "$OUT")" '^1:0$' "without the cmk provider nothing loads"
no_crash "without the cmk provider: no crash"
done_testing
