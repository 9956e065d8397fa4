#!/bin/bash
# Soft delete and recover (docs/semantics.md §2): delete disables every version on
# the token (a raw pkcs11-tool decrypt works before and fails after), a
# deleted key answers only list --deleted, show --deleted, recover and purge
# (everything else exits 10), its name stays reserved (create exits 5), and
# recover brings it back exactly as it was -- per-version enabled flags,
# key-ops and tags included -- with the token enforcing the disabled version.
# The test PIN goes to pkcs11-tool on its command line: tests only.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/lifecycle-lib.sh"
need pkcs11-tool openssl
lab_new
rand_file "$T/dek" 32

# k: three versions; v2 disabled with its own key-ops; v1 tagged.
ok "key create k --tag team=db" cmk key create k --tag team=db
ok "key rotate k" cmk key rotate k
ok "key rotate k again" cmk key rotate k
mapfile -t V < <(lc_versions k)
is "${#V[@]}" 3 "k has three versions"
v1=${V[0]} v2=${V[1]} v3=${V[2]}
for i in 1 2 3; do
	v=${V[$((i - 1))]}
	ok "wrap --raw --alg RSA-OAEP with version $i" \
		cmk wrap "k/$v" --raw --alg RSA-OAEP --in "$T/dek" --out "$T/ct$i"
	ok "wrap (wrapped-key format) with version $i" cmk wrap "k/$v" --in "$T/dek" --out "$T/w$i"
done
ok "disable version 2" cmk key disable "k/$v2"
ok "give version 2 its own key-ops" cmk key set "k/$v2" --ops wrapKey,unwrapKey
is "$(lc_versions k disabled)" "$v2" "only version 2 is disabled before the delete"
lc_show k >"$T/before.json"

ok "pkcs11-tool decrypts with version 1 before the delete" lc_p11_decrypt "$v1" "$T/ct1" "$T/p1"
same_file "$T/p1" "$T/dek" "and gets the DEK"
ok "pkcs11-tool decrypts with version 3 before the delete" lc_p11_decrypt "$v3" "$T/ct3" "$T/p3"
run lc_p11_decrypt "$v2" "$T/ct2" "$T/p2"
isnt "$RC" 0 "pkcs11-tool cannot decrypt with the disabled version 2"
like "$(lc_priv_usage "$v1")" "decrypt" "before the delete, version 1's private key may decrypt (control)"

# ------------------------------------------------------------ delete
ok "key delete k" cmk key delete k
like "$(cat "$OUT")" "cmk://lab/keys/k.*(recover|purge)" "delete names the key and says it can be recovered"

for i in 1 3; do
	run lc_p11_decrypt "${V[$((i - 1))]}" "$T/ct$i" "$T/pd$i"
	isnt "$RC" 0 "pkcs11-tool decrypt with version $i fails after the delete (token-enforced)"
	if [ -s "$T/pd$i" ] && cmp -s "$T/pd$i" "$T/dek"; then
		fail "no DEK from the token with version $i after the delete"
	else
		pass "no DEK from the token with version $i after the delete"
	fi
done
for i in 1 2 3; do
	usage=$(lc_priv_usage "${V[$((i - 1))]}")
	if [ -n "$usage" ] && ! grep -qE 'decrypt|unwrap|sign' <<<"$usage"; then
		pass "after the delete, version $i's private key has CKA_DECRYPT, CKA_UNWRAP, CKA_SIGN false"
	else
		fail "after the delete, version $i's private key has CKA_DECRYPT, CKA_UNWRAP, CKA_SIGN false" "Usage: $usage"
	fi
done

# what still works on a deleted key
ok "key list works" cmk key list
if grep -qE '^k[[:space:]]' "$OUT"; then fail "key list does not show the deleted key" "$(cat "$OUT")"; else pass "key list does not show the deleted key"; fi
ok "key list --deleted works" cmk key list --deleted
like "$(cat "$OUT")" '^k[[:space:]]' "key list --deleted shows k"
run cmk --json key list --deleted
is "$(jq -r '.[] | select(.name == "k") | .deleted' "$OUT")" true "list --deleted --json: deleted true"
don=$(jq -r '.[] | select(.name == "k") | .deleted_on' "$OUT")
pon=$(jq -r '.[] | select(.name == "k") | .scheduled_purge_on' "$OUT")
is "$(($(date -d "$pon" +%s) - $(date -d "$don" +%s)))" $((90 * 86400)) \
	"scheduled-purge-on = deleted-on + 90 days ($don -> $pon)"
now=$(date +%s)
d=$(($(date -d "$don" +%s) - now))
if [ "${d#-}" -le 120 ]; then pass "deleted-on is now ($don)"; else fail "deleted-on is now" "$don"; fi
ok "key show k --deleted works" cmk key show k --deleted
like "$(cat "$OUT")" "scheduled-purge-on: *$pon" "show --deleted prints the scheduled purge date"
is "$(lc_field k 'vl | length' --deleted)" 3 "show --deleted lists the three versions"
is "$(lc_field k '[vl[] | .usable] | any' --deleted)" false "no version of a deleted key is usable"
is "$(lc_field k '.public_key_pem' --deleted)" null "show --deleted gives no public key"

del_re="cmk://lab/keys/k.*deleted"
expect_fail_msg 10 "$del_re" "key show k (without --deleted) exits 10" cmk key show k
expect_fail_msg 10 "$del_re" "wrap with the deleted key exits 10" cmk wrap k --in "$T/dek"
expect_fail_msg 10 "$del_re" "wrap with a version of the deleted key exits 10" cmk wrap "k/$v1" --in "$T/dek"
expect_fail_msg 10 "$del_re" "unwrap (wrapped-key format) exits 10" cmk unwrap --in "$T/w1"
expect_fail_msg 10 "$del_re" "unwrap --raw exits 10" cmk unwrap "cmk://lab/keys/k/$v3" --raw --alg RSA-OAEP --in "$T/ct3"
expect_fail_msg 10 "$del_re" "rotate exits 10" cmk key rotate k
expect_fail_msg 10 "$del_re" "enable exits 10" cmk key enable k
expect_fail_msg 10 "$del_re" "enable of a version exits 10" cmk key enable "k/$v2"
expect_fail_msg 10 "$del_re" "disable exits 10" cmk key disable k
expect_fail_msg 10 "$del_re" "set --ops exits 10" cmk key set k --ops wrapKey
expect_fail_msg 10 "$del_re" "set --tag on a version exits 10" cmk key set "k/$v1" --tag x=y
expect_fail_msg 10 "$del_re" "a second delete exits 10" cmk key delete k
is "$(lc_versions k all --deleted | wc -l)" 3 "the refused commands added no version"

# the name stays reserved
expect_fail_msg 5 "cmk://lab/keys/k.*deleted" "key create k (the deleted key's name) exits 5, naming the deleted key" cmk key create k
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/imp.pem" 2>/dev/null ||
	bail "openssl genpkey failed"
# import adds a version to an existing key: on a deleted one that is 10, as rotate
expect_fail_msg 10 "cmk://lab/keys/k.*deleted" "key import under the deleted key's name exits 10" \
	cmk key import k --pem "$T/imp.pem"
is "$(lc_versions k all --deleted | tr '\n' ' ')" "$v1 $v2 $v3 " "the refused create left the deleted key's versions alone"

# ------------------------------------------------------------ recover
expect_fail_msg 4 "cmk://lab/keys/nosuch.*does not exist" "recover of an unknown key exits 4" cmk key recover nosuch
ok "key recover k" cmk key recover k
like "$(cat "$OUT")" "cmk://lab/keys/k.*recovered" "recover says so"
lc_show k >"$T/after.json"
if cmp -s "$T/before.json" "$T/after.json"; then
	pass "key show after recover is exactly as before the delete"
else
	fail "key show after recover is exactly as before the delete" "$(diff "$T/before.json" "$T/after.json" | head -30)"
fi
is "$(lc_versions k disabled)" "$v2" "version 2 is still disabled after recover"
is "$(lc_versions k enabled | tr '\n' ' ')" "$v1 $v3 " "versions 1 and 3 are enabled after recover"
is "$(lc_field k '.current')" "$v3" "the current version is version 3 again"
is "$(lc_field k "vl[] | select(.version == \"$v2\") | .key_ops")" "wrapKey,unwrapKey" "version 2 keeps its own key-ops"
is "$(lc_field k "vl[0].tags.team")" db "version 1 keeps its tag"
ok "key list --deleted works after recover" cmk key list --deleted
if grep -qE '^k[[:space:]]' "$OUT"; then fail "the recovered key is no longer listed as deleted"; else pass "the recovered key is no longer listed as deleted"; fi
expect_fail_msg 4 "cmk://lab/keys/k.*not deleted" "recover of a key that is not deleted exits 4" cmk key recover k

# the token enforces the flags again, per version
for i in 1 3; do
	v=${V[$((i - 1))]}
	ok "pkcs11-tool decrypts with version $i after recover" lc_p11_decrypt "$v" "$T/ct$i" "$T/pr$i"
	same_file "$T/pr$i" "$T/dek" "and gets the DEK (version $i)"
	why=$(lc_roundtrip "k/$v" "$T/dek")
	is "$why" "" "cmk wrap + unwrap round trip with version $i after recover"
	ok "version $i unwraps what it wrapped before the delete" cmk unwrap --in "$T/w$i" --out "$T/u$i"
	same_file "$T/u$i" "$T/dek" "the DEK wrapped before the delete (version $i)"
done
like "$(lc_priv_usage "$v1")" "decrypt" "after recover, version 1's private key may decrypt again"
usage=$(lc_priv_usage "$v2")
if [ -n "$usage" ] && ! grep -qE 'decrypt|unwrap' <<<"$usage"; then
	pass "after recover, version 2's private key still has CKA_DECRYPT, CKA_UNWRAP false"
else
	fail "after recover, version 2's private key still has CKA_DECRYPT, CKA_UNWRAP false" "Usage: $usage"
fi
run lc_p11_decrypt "$v2" "$T/ct2" "$T/pr2"
isnt "$RC" 0 "pkcs11-tool still cannot decrypt with version 2 (disabled before the delete)"
if [ -s "$T/pr2" ] && cmp -s "$T/pr2" "$T/dek"; then fail "no DEK from version 2 on the token"; else pass "no DEK from version 2 on the token"; fi
expect_fail_msg 6 "$v2.*disabled" "cmk unwrap with version 2 exits 6" cmk unwrap --in "$T/w2"
expect_fail_msg 6 "$v2.*disabled" "cmk wrap with version 2 exits 6" cmk wrap "k/$v2" --in "$T/dek"
ok "enable version 2" cmk key enable "k/$v2"
ok "version 2 unwraps again once enabled" cmk unwrap --in "$T/w2" --out "$T/u2"
same_file "$T/u2" "$T/dek" "the DEK wrapped by version 2"

# a key-level disable survives delete + recover too
ok "key create kd" cmk key create kd
vd=$(lc_versions kd)
ok "wrap with kd" cmk wrap kd --in "$T/dek" --out "$T/wd"
ok "disable kd (key level)" cmk key disable kd
ok "delete kd" cmk key delete kd
ok "recover kd" cmk key recover kd
is "$(lc_field kd '.enabled')" false "kd is still disabled (key level) after recover"
is "$(lc_field kd 'vl[0].enabled')" true "and its version's own flag is still enabled"
expect_fail_msg 6 "cmk://lab/keys/kd.*disabled" "unwrap with the disabled kd exits 6" cmk unwrap --in "$T/wd"
expect_fail_msg 6 "key cmk://lab/keys/kd is disabled" "wrap with the disabled kd fails" cmk wrap kd --raw --alg RSA-OAEP --in "$T/dek" --out "$T/ctd"
ok "enable kd" cmk key enable kd
why=$(lc_roundtrip "kd/$vd" "$T/dek")
is "$why" "" "kd round-trips once enabled"

ok "audit verify passes after all of it" cmk audit verify
done_testing
