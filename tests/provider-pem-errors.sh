#!/bin/bash
# Bad key reference files: each a clear error naming the reference and the
# reason, in the application's error queue; no crash, no other key loaded.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/provider-lib.sh"

plan 36
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

# loads FILE DESC: the application loads the key of FILE
loads() {
	run "$PEMREAD" "$1"
	if [ "$RC" = 0 ] && [ "$(grep -c ': ok 2048' "$OUT")" = 3 ]; then
		pass "$2"
	else
		fail "$2" "exit $RC; want 0 and three loads"
		diag_file output "$OUT"
	fi
	ok "$2 (openssl pkey)" openssl pkey -in "$1" -pubout -out "$T/pub.pem"
}

# ref_pem OUT VERSION KID TOKEN [SERIAL] CREATED: a reference block as cmk
# writes it (version 1: as cmk 0.1.0 wrote it, no serial), check value and all
ref_pem() {
	local out=$1 v=$2 kid=$3 token=$4 serial= created md
	if [ $# = 6 ]; then serial=$5 created=$6; else created=$5; fi
	if [ "$v" = 1 ]; then
		md=$(printf 'CMK KEY REFERENCE 1\0%s\0%s\0%s' "$kid" "$token" "$created" |
			openssl dgst -sha256 -r | cut -d' ' -f1)
	else
		md=$(printf 'CMK KEY REFERENCE 2\0%s\0%s\0%s\0%s' "$kid" "$token" "$serial" "$created" |
			openssl dgst -sha256 -r | cut -d' ' -f1)
	fi
	{
		echo 'asn1 = SEQUENCE:ref'
		echo '[ref]'
		echo "version = INTEGER:$v"
		echo "kid = UTF8:$kid"
		echo "token = UTF8:$token"
		[ $# = 6 ] && echo "serial = IMPLICIT:0,UTF8:$serial"
		echo "created = INTEGER:$created"
		echo "check = FORMAT:HEX,OCTETSTRING:$md"
	} >"$out.cnf"
	openssl asn1parse -genconf "$out.cnf" -out "$out.der" -noout || bail "cannot make $out"
	{ echo '-----BEGIN CMK KEY REFERENCE-----'; openssl base64 -in "$out.der"
		echo '-----END CMK KEY REFERENCE-----'; } >"$out"
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

# the format: version 2, with the token's serial number
CREATED=$(date -u -d "$(cmk vault show --json | jq -r .created)" +%s) &&
	SERIAL=$(cmk vault show --json | jq -r .token_serial) || bail "cannot read the vault"
ref_pem "$T/v2.pem" 2 cmk://lab/keys/tls cmk-lab "$SERIAL" "$CREATED"
sed -n '/^-----BEGIN/,$p' "$T/tls.pem" >"$T/tls.block"
same_file "$T/v2.pem" "$T/tls.block" \
	"cmk key pem writes version 2: label, serial $SERIAL, vault creation time"
# version 1 (cmk 0.1.0: no serial) is still read, and checked on what it has
ref_pem "$T/v1.pem" 1 cmk://lab/keys/tls cmk-lab "$CREATED"
loads "$T/v1.pem" "a version 1 reference (no serial number) loads"
ref_pem "$T/v1-other.pem" 1 cmk://lab/keys/tls cmk-lab $((CREATED + 1))
loads_not "$T/v1-other.pem" "key reference cmk://lab/keys/tls names vault lab on token 'cmk-lab' \(created [^)]*\), but vault lab here is on token 'cmk-lab' \(created" \
	"a version 1 reference to another vault creation time"
ref_pem "$T/v2-noserial.pem" 2 cmk://lab/keys/tls cmk-lab "$CREATED"
loads_not "$T/v2-noserial.pem" 'CMK KEY REFERENCE block.*of version 2 and has no token serial number' \
	"a version 2 reference without a serial number"

# another configuration: the vault unknown, or another token under its name
sed 's/^lab = /other = /; s/^default_vault = lab/default_vault = other/' "$CMK_CONF" >"$T/novault.conf"
CMK_CONF=$T/novault.conf loads_not "$T/tls.pem" 'vault lab is not in configuration' "unknown vault"
LAB1=$LAB SOFTHSM1=$SOFTHSM2_CONF CONF1=$CMK_CONF
# lab2: a token with the same label and a vault created in the same second
# (two labs made by one script), the clock held there by libfaketime: -f
# with an absolute time stops the wall clock (without it the clock starts
# there and runs, and a lab init slower than a second -- under the
# sanitizers on a busy machine -- stamped the next second)
SOFTHSM2_CONF=$T/nowhere.conf TZ=UTC FAKETIME_DONT_FAKE_MONOTONIC=1 \
	faketime -f "$(date -u -d "@$CREATED" '+%Y-%m-%d %H:%M:%S')" \
	"$CMK_BIN" lab init "$T/lab2" >/dev/null 2>"$T/lab2.err" </dev/null ||
	bail "cmk lab init lab2 under faketime failed: $(cat "$T/lab2.err")"
export SOFTHSM2_CONF=$T/lab2/softhsm2.conf CMK_CONF=$T/lab2/cmk.conf LAB=$T/lab2
CMK_VALGRIND=0 cmk key create tls --ops sign,verify >/dev/null || bail "cannot create a key in lab2"
SERIAL2=$(cmk vault show --json | jq -r .token_serial)
is "$(cmk vault show --json | jq -r '"\(.token_label) \(.created)"') ${SERIAL2:+serial}" \
	"cmk-lab $(date -u -d "@$CREATED" +%Y-%m-%dT%H:%M:%SZ) serial" \
	"lab2: same token label, vault created in the same second, a serial number"
loads_not "$T/tls.pem" "key reference cmk://lab/keys/tls names vault lab on token 'cmk-lab' \(serial '$SERIAL', created [^)]*\), but vault lab here is on token 'cmk-lab' \(serial '$SERIAL2', created [^)]*\): the reference was made for another token" \
	"a reference made for another token (same label, vault and key names, same second)"
export CMK_CONF=$CONF1 SOFTHSM2_CONF=$SOFTHSM1 LAB=$LAB1

# without the provider: OpenSSL's own error, never another key
run env OPENSSL_CONF=/dev/null "$PEMREAD" "$T/tls.pem"
like "$RC:$(grep -c ': ok' "$OUT")" '^1:0$' "without the cmk provider nothing loads"
no_crash "without the cmk provider: no crash"
done_testing
