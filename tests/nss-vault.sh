#!/bin/bash
# A second PKCS#11 implementation: NSS softoken (libsoftokn3.so) with its
# database made by certutil and its init string in cmk.conf.  What softokn
# does differently is handled from what the token reports (docs/tokens.md):
# it refuses token data objects, so records ride on inert secret keys; it
# does OAEP-SHA256 itself; it refuses a disabled key's decryption with
# another return code.  Checked from below cmk with tests/p11-probe.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/token-kinds.sh"
need certutil
PROBE=$CMK_TESTS_BIN/p11-probe
[ -x "$PROBE" ] || bail "$PROBE not built"
lab_new           # only for the PIN file and the temp layout
N=$T/n
mkdir "$N" && cp "$LAB/pin" "$N/pin" || bail "cannot make $N"
nss_vault "$N" lab
export CMK_CONF=$NSS_CONF
INIT="configdir='sql:$N/nss' certPrefix='' keyPrefix='' secmod='' flags="
probe() { "$PROBE" "$NSS_MODULE" "$INIT" "NSS Certificate DB" "$N/pin" "$@"; }

ok "vault show on NSS softoken" cmk vault show
like "$(cat "$OUT")" "token: +NSS Certificate DB" "the vault is on the NSS Certificate DB token"
like "$(cat "$OUT")" "token model: +NSS 3" "reported by softokn as model 'NSS 3'"
like "$(cat "$OUT")" "OAEP-SHA256 native: +yes" "softokn does OAEP-SHA256 itself (SoftHSM 2.6 does not)"
like "$(cat "$OUT")" "OAEP-256 unwrap: +native" "so RSA-OAEP-256 unwrap runs natively on the token"
ok "the database is what certutil made (a key4.db)" test -s "$N/nss/key4.db"
run probe info
like "$(cat "$OUT")" "^model NSS 3 +max_sessions 0 max_rw_sessions 0$" \
	"softokn reports no session limit (CK_EFFECTIVELY_INFINITE)"

# records: no data object, only inert secret-key carriers
ok "key create k" cmk key create k
v=$(key_versions k | tail -n 1)
run probe records
grep -q '^data ' "$OUT" && fail "no record is a CKO_DATA object (softokn refuses them)" "$(cat "$OUT")" ||
	pass "no record is a CKO_DATA object (softokn refuses them)"
like "$(cat "$OUT")" "^key cmk/vault usage=0 sensitive=1 extractable=0$" \
	"the vault record is an inert secret key (no usage, sensitive, not extractable)"
like "$(cat "$OUT")" "key cmk/key/k usage=0 sensitive=1 extractable=0" "so is the key's version record"
is "$(grep -cv 'usage=0 sensitive=1 extractable=0$' "$OUT")" 0 "every carrier is inert"

# the private key, and disable enforced by softokn itself
run probe privkey "$v"
# the version's copies (docs/design.md): softokn clears CKA_NEVER_EXTRACTABLE
# on a C_CopyObject copy, so it is not asserted here
like "$(cat "$OUT")" "^sensitive=1 extractable=0 never_extractable=[01] decrypt=1 unwrap=1 sign=1$" \
	"the private key is sensitive, not extractable, and may decrypt while enabled"
rand_file "$T/dek" 32
ok "wrap --raw (RSA-OAEP-256)" cmk wrap k --raw --in "$T/dek" --out "$T/ct"
run probe decrypt "$v" SHA256 "$T/ct"
is "$(cat "$OUT")" "ok $(od -An -tx1 -v "$T/dek" | tr -d ' \n')" "softokn decrypts it natively (OAEP-SHA256)"
ok "cmk unwrap --raw" cmk unwrap "cmk://lab/keys/k/$v" --raw --in "$T/ct" --out "$T/d"
same_file "$T/d" "$T/dek" "round trip on softokn"
ok "cmk key disable k" cmk key disable k
run probe privkey "$v"
like "$(cat "$OUT")" "decrypt=0 unwrap=0 sign=0" "disable clears CKA_DECRYPT, CKA_UNWRAP and CKA_SIGN on softokn"
run probe decrypt-all "$v" SHA256 "$T/ct"
is "$(cat "$OUT")" "refused 1" \
	"softokn itself refuses: the one copy left (the archive) may not decrypt"
expect_fail_msg 6 "key cmk://lab/keys/k.* is disabled" "cmk maps it by meaning: CMK_E_DISABLED" \
	cmk unwrap "cmk://lab/keys/k/$v" --raw --in "$T/ct"
ok "cmk key enable k" cmk key enable k
run probe decrypt "$v" SHA256 "$T/ct"
like "$(cat "$OUT")" "^ok " "after enable softokn decrypts again"

# interop: OpenSSL encrypts with the public key, cmk unwraps on softokn
need openssl
cmk --json key show k | jq -j .public_key_pem >"$T/k.pub"
for md in sha256 sha1; do
	alg=RSA-OAEP-256
	[ $md = sha1 ] && alg=RSA-OAEP
	openssl pkeyutl -encrypt -pubin -inkey "$T/k.pub" -in "$T/dek" -out "$T/o.$md" \
		-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:$md -pkeyopt rsa_mgf1_md:$md 2>/dev/null
	ok "unwrap of an OpenSSL $alg ciphertext on softokn" cmk unwrap "cmk://lab/keys/k/$v" --raw \
		--alg "$alg" --in "$T/o.$md" --out "$T/od.$md"
	same_file "$T/od.$md" "$T/dek" "$alg from OpenSSL opens"
done

# lifecycle on softokn records: rotate, delete, recover, purge
ok "rotate" cmk key rotate k
is "$(key_versions k | wc -l | tr -d ' ')" 2 "two versions"
ok "delete" cmk key delete k
ok "list --deleted" cmk key list --deleted
like "$(cat "$OUT")" "^k " "the deleted key is listed"
ok "recover" cmk key recover k
ok "unwrap after recover" cmk unwrap "cmk://lab/keys/k/$v" --raw --in "$T/ct" --out "$T/d2"
same_file "$T/d2" "$T/dek" "old data opens after delete and recover"
ok "key create gone" cmk key create gone
ok "delete it" cmk key delete gone
ok "the admin may purge (policy)" cmk policy set admin all,purge
ok "purge it" cmk key purge gone --yes
run probe records
grep -q 'cmk/key/gone' "$OUT" && fail "purge destroys the key's carriers" || pass "purge destroys the key's carriers"

# several processes on one softokn database (sqlite)
for i in 1 2 3 4; do
	(cmk wrap k --in "$T/dek" --out "$T/p$i" 2>"$T/pe$i" && cmk unwrap --in "$T/p$i" --out "$T/pd$i" 2>>"$T/pe$i") &
done
wait
bad=
for i in 1 2 3 4; do cmp -s "$T/pd$i" "$T/dek" || bad="$bad $i"; done
is "$bad" "" "four processes at once wrap and unwrap on one softokn database"
ok "audit verify on softokn" cmk audit verify
done_testing
