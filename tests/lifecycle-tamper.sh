#!/bin/bash
# Metadata edited behind cmk's back is refused (docs/design.md: each record
# is "<HMAC>\n<JSON>", the MAC made on the token over the application and
# the JSON).  With pkcs11-tool and the lab's test PIN we write CKO_DATA
# objects imitating cmk's records -- a newer key state with a made-up MAC,
# a real record edited, a real record moved to another key, a record for a
# key that never existed, a policy granting an intruder everything, vault
# settings turning purge protection off -- and cmk ignores each (the
# forgery never takes), with a warning naming the record, while the
# authentic records keep working (issue 10); `cmk vault check` lists the
# forgery and exits 23.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/lifecycle-lib.sh"
need pkcs11-tool
lab_new
rand_file "$T/dek" 32

ok "key create k" cmk key create k
ok "key create k2" cmk key create k2
ok "key create k3" cmk key create k3
vk=$(lc_versions k) vk3=$(lc_versions k3)
ok "disable k (a key-state record for k)" cmk key disable k
ok "wrap with k3" cmk wrap k3 --in "$T/dek" --out "$T/w3"

# forge APP LABEL FILE: a private CKO_DATA object on the lab token
forge() {
	p11tool_login --write-object "$3" --type data --application-label "$1" --label "$2" --private >/dev/null 2>&1
}
unforge() { # LABEL
	p11tool_login --delete-object --type data --label "$1" >/dev/null 2>&1
}
reforge() { # APP LABEL FILE: replace the object LABEL by FILE
	unforge "$2" && forge "$@"
}
read_record() { # LABEL OUT
	rm -f "$2"
	p11tool_login --read-object --type data --label "$1" -o "$2" >/dev/null 2>&1
}
labels() { lc_token_objects | sed -n "s/^ *label: *'\(.*\)'\$/\1/p"; }
fake_mac=$(printf '%064d' 0 | tr 0 a)

# 1. a newer key state for k (enabled again) with a made-up MAC
st=$(labels | grep -E '^cmk k #[0-9]+$' | head -1)
isnt "$st" "" "k has a key-state record ($st)"
ok "read k's key-state record" read_record "$st" "$T/st"
like "$(tail -n +2 "$T/st")" '"enabled":false' "it holds enabled false"
{
	echo "$fake_mac"
	tail -n +2 "$T/st" | sed -e 's/"enabled":false/"enabled":true/' -e 's/"gen":\([0-9]*\)/"gen":99/'
} | head -c -1 >"$T/forged-state"
ok "write a forged key state (gen 99, enabled) for k" forge cmk/key/k "cmk k #99" "$T/forged-state"
ok "key show k works" cmk key show k
like "$(cat "$ERR")" "warning: .*record 'cmk/key/k' \(label 'cmk k #99'\) fails authentication and is ignored" \
	"with a warning naming the forged record"
is "$(lc_field k .enabled)" false "k is still disabled: the forgery never took"
expect_fail_msg 6 "k is disabled" "wrap with k exits 6 (disabled), not enabled by the forgery" \
	cmk wrap k --in "$T/dek" --out "$T/w-forged"
no_file "$T/w-forged" "and writes nothing"
ok "key list works (a forged record blocks nothing)" cmk key list
run cmk vault check
is "$RC" 23 "vault check exits 23"
like "$(cat "$OUT")" "record 'cmk/key/k' \(label 'cmk k #99'\)" "and lists the forged record"
ok "remove the forgery" unforge "cmk k #99"
ok "enable k" cmk key enable k

# 2. a real record edited in place (destroy + write back changed, same MAC)
vr=$(labels | grep -E "^cmk k3/$vk3 #[0-9]+\$" | head -1)
isnt "$vr" "" "k3's version record ($vr)"
ok "read it" read_record "$vr" "$T/vr"
like "$(tail -n +2 "$T/vr")" '"ops":63' "it holds ops 63"
{ head -1 "$T/vr"; tail -n +2 "$T/vr" | sed 's/"ops":63/"ops":1/'; } | head -c -1 >"$T/vr-edited"
cmp -s "$T/vr" "$T/vr-edited" && bail "the edit changed nothing"
ok "destroy the record" unforge "$vr"
ok "write it back with ops 1 and the old MAC" forge cmk/key/k3 "$vr" "$T/vr-edited"
expect_fail_msg 4 "k3 does not exist" "key show k3 exits 4: its only version record is the edited one" cmk key show k3
like "$(cat "$ERR")" "record 'cmk/key/k3'.*fails authentication" "with a warning naming the edited record"
run cmk unwrap --in "$T/w3" --out "$T/u-forged"
isnt "$RC" 0 "unwrap with k3 fails"
no_file "$T/u-forged" "and writes no DEK"
ok "put the real record back" reforge cmk/key/k3 "$vr" "$T/vr"
ok "key show k3 works with the real record restored" cmk key show k3
ok "unwrap with k3 works again" cmk unwrap --in "$T/w3" --out "$T/u3"
same_file "$T/u3" "$T/dek" "and gives the DEK"

# 3. a real record (valid MAC) moved to another key
vr1=$(labels | grep -E "^cmk k/$vk #[0-9]+\$" | head -1)
ok "read k's version record" read_record "$vr1" "$T/vr1"
ok "write a copy of it as a record of k2" forge cmk/key/k2 "cmk k2/$vk #1" "$T/vr1"
ok "key show k2 works: the moved record (a MAC made for cmk/key/k) is ignored" cmk --json key show k2
if grep -q "$vk" "$OUT"; then fail "k2 does not get k's version"; else pass "k2 does not get k's version"; fi
like "$(cat "$ERR")" "record 'cmk/key/k2'.*fails authentication" "with a warning naming it"
ok "remove the copy" unforge "cmk k2/$vk #1"
ok "key show k2 works again" cmk key show k2
ok "key show k is unaffected" cmk key show k

# 4. a record of a key that never existed
{ echo "$fake_mac"; sed -e 's/"key":"k"/"key":"ghost"/' <(tail -n +2 "$T/vr1"); } | head -c -1 >"$T/ghost"
ok "write a record for key ghost" forge cmk/key/ghost "cmk ghost/$vk #1" "$T/ghost"
expect_fail_msg 4 "cmk/key/ghost" "key show ghost exits 4 (no such key), naming the record it ignored" cmk key show ghost
if cmk key list | grep -q ghost; then fail "key list does not list ghost"; else pass "key list does not list ghost"; fi
ok "remove it" unforge "cmk ghost/$vk #1"
expect_fail 4 "key show ghost is 4 again" cmk key show ghost

# 5. a policy giving an intruder every permission
ok "read the admin's policy record" read_record "$(labels | grep -E '^cmk policy admin #[0-9]+$' | head -1)" "$T/pol"
{ echo "$fake_mac"; tail -n +2 "$T/pol" | sed -e 's/"identity":"admin"/"identity":"mallory"/' -e 's/"perms":[0-9]*/"perms":16383/'; } |
	head -c -1 >"$T/pol-forged"
ok "write a forged policy for mallory" forge cmk/policy "cmk policy mallory #1" "$T/pol-forged"
expect_fail_msg 9 "'mallory'" "mallory's key show exits 9 (denied): the forged policy is ignored" cmk --identity mallory key show k
like "$(cat "$ERR")" "record 'cmk/policy'.*fails authentication" "with a warning naming the forged policy"
expect_fail 9 "mallory's unwrap exits 9" cmk --identity mallory unwrap --in "$T/w3" --out "$T/u-mallory"
no_file "$T/u-mallory" "mallory gets no DEK"
expect_fail 9 "mallory cannot delete either" cmk --identity mallory key delete k
ok "remove the forged policy" unforge "cmk policy mallory #1"
expect_fail_msg 9 "'mallory'" "mallory is just denied again" cmk --identity mallory key show k
# with the real record's MAC copied: still refused
{ head -1 "$T/pol"; tail -n +2 "$T/pol-forged"; } | head -c -1 >"$T/pol-forged2"
ok "write the forged policy with the admin record's MAC" forge cmk/policy "cmk policy mallory #1" "$T/pol-forged2"
expect_fail 9 "mallory's key show still exits 9" cmk --identity mallory key show k
ok "remove it" unforge "cmk policy mallory #1"

# 6. vault settings turning purge protection off again
ok "policy set admin all,purge" cmk policy set admin all,purge
ok "vault set --purge-protection on" cmk vault set --purge-protection on
ok "key delete k2" cmk key delete k2
vl=$(labels | grep -E '^cmk vault #[0-9]+$' | head -1)
ok "read the vault record" read_record "$vl" "$T/vault"
like "$(tail -n +2 "$T/vault")" '"purge_protection":true' "it holds purge protection on"
{ echo "$fake_mac"; tail -n +2 "$T/vault" | sed -e 's/"purge_protection":true/"purge_protection":false/' -e 's/"gen":[0-9]*/"gen":99/'; } |
	head -c -1 >"$T/vault-forged"
ok "write forged vault settings (gen 99, protection off)" forge cmk/vault "cmk vault #99" "$T/vault-forged"
ok "vault show works" cmk --json vault show
is "$(jq -r .purge_protection "$OUT")" true "and purge protection is still on: the forged settings are ignored"
like "$(cat "$ERR")" "record 'cmk/vault'.*fails authentication" "with a warning naming them"
expect_fail_msg 17 "purge protection" "purge of the deleted k2 exits 17 (protected), not 0" cmk key purge k2 --yes
ok "remove the forged settings" unforge "cmk vault #99"
is "$(cmk --json vault show | jq -r .purge_protection)" true "purge protection is on"
ok "k2 is still there, deleted" cmk key show k2 --deleted
expect_fail 17 "and purge of k2 exits 17 (protected)" cmk key purge k2 --yes
is "$(lc_field k3 .deleted)" false "k3 is live"
done_testing
