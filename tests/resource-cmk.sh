#!/bin/bash
# Customer-managed keys on a resource: the rules (RSA 2048, purge protection,
# one vault, permissions), double encryption, versionless ids following
# rotation (refresh, and any open), going back to service-managed, and that
# every change re-wraps the root key only: no object file changes.
. "${srcdir:-.}/tests/lib.sh"
need softhsm2-util sha256sum
lab_new
export CMK_RESOURCE_DIR=$T/res

# A second vault on a second token of the same SoftHSM, in one cmk.conf.
run softhsm2-util --init-token --free --label cmk-lab2 --so-pin "$(cat "$LAB/so-pin")" \
	--pin "$(cat "$LAB/pin")"
[ "$RC" = 0 ] || bail "cannot make a second token: $(cat "$ERR")"
write_conf "$T/two.conf"
sed -i 's/^lab = vault_lab$/lab = vault_lab\nlab2 = vault_lab2/' "$T/two.conf"
cat >>"$T/two.conf" <<EOF

[vault_lab2]
module = $SOFTHSM_MODULE
token = cmk-lab2
pin_source = file:$LAB/pin
EOF
sed -i 's/^default_vault = lab$/default_vault = lab\nidentity = admin/' "$T/two.conf"
export CMK_CONF=$T/two.conf
ok "vault init lab2 (no purge protection yet)" cmk --vault lab2 vault init

ok "resource create r" cmk resource create r
ok "grant r's identity res-r" cmk policy set res-r get,wrapKey,unwrapKey
ok "key create cmk1" cmk key create cmk1
ok "key create big (RSA 3072)" cmk key create big --size 3072
ok "key create noops (encrypt only)" cmk key create noops --ops encrypt,decrypt
stored=0
for i in $(seq 1 40); do
	head -c $((i * 997)) /dev/urandom >"$T/o$i"
	run cmk resource put r "object-$i" --in "$T/o$i"
	if [ "$RC" = 0 ]; then
		stored=$((stored + 1))
	else
		diag "put object-$i: exit $RC: $(head -n 1 "$ERR")"
	fi
done
is "$stored" 40 "40 objects stored"
run cmk resource list r
is "$RC" 0 "resource list r"
is "$(grep -c '^object-' "$OUT")" 40 "and it lists the 40 objects"
sums() { (cd "$T/res/r/objects" && sha256sum * | sort); }
sums >"$T/sums.0"
is "$(wc -l <"$T/sums.0")" 40 "40 object files"
check_objects() {
	sums >"$T/sums.now"
	if cmp -s "$T/sums.0" "$T/sums.now"; then pass "$1: no object file changed"
	else fail "$1: no object file changed" "$(diff "$T/sums.0" "$T/sums.now" | head -5)"; fi
	cmk resource get r object-17 --out "$T/g17" && cmp -s "$T/g17" "$T/o17" &&
		pass "$1: objects still open" || fail "$1: objects still open"
}

# the rules
expect_fail_msg 2 "purge protection" "a CMK in a vault without purge protection is refused" \
	cmk resource set-key r --key cmk://lab/keys/cmk1
ok "turn purge protection on" cmk vault set --purge-protection on
expect_fail_msg 2 "RSA 3072.*only RSA 2048" "an RSA 3072 key is refused" \
	cmk resource set-key r --key cmk://lab/keys/big
expect_fail_msg 8 "wrapKey and unwrapKey" "a key without wrapKey/unwrapKey is refused" \
	cmk resource set-key r --key cmk://lab/keys/noops
expect_fail_msg 4 "resource r: key cmk://lab/keys/nosuch does not exist" "an unknown key is refused" cmk resource set-key r --key cmk://lab/keys/nosuch
expect_fail_msg 4 "nosuch" "a bare name of an unknown key is refused" cmk resource set-key r --key nosuch
expect_fail_msg 2 "is not a key" "a malformed key argument is refused" cmk resource set-key r --key 'a/b/c'
expect_fail_msg 2 "NAME, NAME/VERSION" "a pkcs11: URI is not a resource key" cmk resource set-key r --key 'pkcs11:object=cmk1' 
expect_fail_msg 2 "resource set-key: give either --key .* or --service-managed" "--key and --service-managed together are refused" \
	cmk resource set-key r --key cmk://lab/keys/cmk1 --service-managed
ok "policy: res-r loses unwrapKey" cmk policy set res-r get,list,wrapKey
expect_fail_msg 9 "identity res-r needs get, wrapKey and unwrapKey.*policy set res-r get,list,wrapKey,unwrapKey" \
	"a resource whose identity lacks unwrapKey cannot take the key (the grant is printed)" \
	cmk resource set-key r --key cmk://lab/keys/cmk1
ok "policy: res-r may get, wrap and unwrap" cmk policy set res-r get,wrapKey,unwrapKey
check_objects "after refused changes"

# double encryption under a versioned CMK
v1=$(current_version cmk1)
svc_before=$(current_version svc-r)
ok "set-key to a versioned CMK" cmk resource set-key r --key "cmk://lab/keys/cmk1/$v1"
run cmk --json resource show r
is "$(jq -r .key_source "$OUT")" customer-managed "show: customer-managed"
is "$(jq -r .customer_kid "$OUT")" "cmk://lab/keys/cmk1/$v1" "show: the CMK version"
check_objects "after set-key"
svc_after=$(current_version svc-r)
isnt "$svc_after" "$svc_before" "svc-r was rotated when the CMK came in"
is "$(cmk --json key show svc-r | jq -r "[(.version_list // .versions)[] | select(.version == \"$svc_before\")][0].enabled")" false \
	"the old service-key version is disabled (an old keyring copy cannot skip the CMK)"
expect_fail_msg 8 "managed by resource r" "svc-r cannot be disabled through cmk key (it belongs to r)" \
	cmk key disable svc-r
ok "objects still open" cmk resource get r object-1 --out "$T/g1"
ok "rotate cmk1" cmk key rotate cmk1
v2=$(current_version cmk1)
ok "refresh (versioned id: nothing to follow)" cmk resource refresh r
like "$(cat "$ERR")" "already" "refresh says nothing changed"
is "$(cmk --json resource show r | jq -r .customer_kid)" "cmk://lab/keys/cmk1/$v1" "a versioned CMK stays on its version"

# a versionless CMK follows rotation
ok "set-key to the versionless id" cmk resource set-key r --key cmk://lab/keys/cmk1
is "$(cmk --json resource show r | jq -r .customer_kid)" "cmk://lab/keys/cmk1/$v2" "wrapped under the current version"
ok "rotate cmk1 again" cmk key rotate cmk1
v3=$(current_version cmk1)
ok "refresh" cmk resource refresh r
like "$(cat "$ERR")" "re-wrapped" "refresh re-wraps"
is "$(cmk --json resource show r | jq -r .customer_kid)" "cmk://lab/keys/cmk1/$v3" "now under the new version"
check_objects "after refresh"
ok "rotate cmk1 once more" cmk key rotate cmk1
v4=$(current_version cmk1)
ok "an ordinary get after rotation" cmk resource get r object-2 --out "$T/g2"
is "$(cmk --json resource show r | jq -r .customer_kid)" "cmk://lab/keys/cmk1/$v4" \
	"any open after the cache bound re-wraps under the current version"
check_objects "after the automatic re-wrap"

# the same vault as any earlier CMK
ok "key create other in lab2" cmk --vault lab2 key create other
expect_fail_msg 2 "must stay in vault lab" "a CMK in another vault is refused" \
	cmk resource set-key r --key cmk://lab2/keys/other

# back to service-managed, and the rule still holds
ok "set-key --service-managed" cmk resource set-key r --service-managed
is "$(cmk --json resource show r | jq -r .key_source)" service-managed "show: service-managed"
check_objects "after going back"
ok "the CMK can be disabled without effect now" cmk key disable cmk1
ok "objects open without the CMK" cmk resource get r object-40 --out "$T/g40"
same_file "$T/g40" "$T/o40" "object-40 intact"
ok "enable cmk1" cmk key enable cmk1
expect_fail_msg 2 "must stay in vault lab" "an earlier CMK's vault still binds" \
	cmk resource set-key r --key cmk://lab2/keys/other
ok "set-key again" cmk resource set-key r --key cmk://lab/keys/cmk1
check_objects "after every change"

# a first CMK may be in another vault (with purge protection)
expect_fail_msg 4 'vault nosuch is not in configuration .*/two\.conf \(\[vaults\] has no .nosuch.\)' "resource create --vault with an unknown vault is refused" cmk resource create r9 --vault nosuch
ok "resource create r2 --vault lab" cmk resource create r2 --vault lab
ok "grant res-r2 in lab2" cmk --vault lab2 policy set res-r2 get,wrapKey,unwrapKey
ok "put" cmk resource put r2 a --in "$T/o1"
expect_fail_msg 2 "purge protection" "lab2 has no purge protection" \
	cmk resource set-key r2 --key cmk://lab2/keys/other
ok "lab2: purge protection on" cmk --vault lab2 vault set --purge-protection on
ok "set-key r2 to a key of lab2" cmk resource set-key r2 --key cmk://lab2/keys/other
ok "get through the other vault's CMK" cmk resource get r2 a --out "$T/r2a"
same_file "$T/r2a" "$T/o1" "cross-vault round trip"
ok "disable lab2's key" cmk --vault lab2 key disable other --force
expect_fail_msg 6 "cmk://lab2/keys/other" "r2 is unreadable, naming the lab2 key" cmk resource get r2 a
done_testing
