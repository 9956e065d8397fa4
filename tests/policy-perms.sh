#!/bin/bash
# Access policies (docs/semantics.md §3).  For each of get list create update delete
# recover purge rotate wrapKey unwrapKey: an identity holding every
# permission but that one gets exit 9 on the matching command, with a
# message naming the identity, the permission and the key, the command
# changes nothing, writes no output, and the denial is audited; an
# identity holding everything succeeds at the same commands (the control).
# Only the administrator edits policies; `policy set` gives exactly the
# permissions named; revocation reaches a new process at once.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/lifecycle-lib.sh"
lab_new
rand_file "$T/dek" 32

ok "policy set admin all,purge" cmk policy set admin all,purge
ok "key create k" cmk key create k
v1=$(lc_versions k)
ok "key create d" cmk key create d
ok "key delete d" cmk key delete d
ok "wrap with k" cmk wrap k --in "$T/dek" --out "$T/w"

ok "policy set full (every permission)" cmk policy set full "$(perms_without none)"
is "$(cmk --json policy show full | jq -r '(if type == "array" then .[0] else . end).permissions | join(",")')" \
	"$(perms_without none)" "policy show full lists every permission"
for p in get list create update delete recover purge rotate wrapKey unwrapKey; do
	ok "policy set no-$p (everything but $p)" cmk policy set "no-$p" "$(perms_without "$p")"
	like "$(cat "$OUT")" "no-$p" "policy set names the identity"
done
is "$(cmk --json policy show no-rotate | jq -r '(if type == "array" then .[0] else . end).permissions | join(",")')" \
	"$(perms_without rotate)" "policy show no-rotate lists everything but rotate"

# denied P DESC KEY-RE CMD...: as identity no-P, exit 9 naming identity, permission, key
denied() {
	local p=$1 desc=$2 what=$3
	shift 3
	expect_fail_msg 9 "access denied.*identity 'no-$p'.*permission '$p'.*$what" \
		"no-$p: $desc exits 9 naming identity, permission and $what" cmk --identity "no-$p" "$@"
}
nversions() { lc_versions k | wc -l; }

denied get "key show k" "cmk://lab/keys/k" key show k
denied get "key show k/VERSION" "cmk://lab/keys/k" key show "k/$v1"
denied list "key list" "vault lab" key list
denied list "key list --deleted" "vault lab" key list --deleted
denied create "key create c1" "cmk://lab/keys/c1" key create c1
expect_fail_msg 4 'key cmk://lab/keys/c1 does not exist' "the denied create made no key" cmk key show c1
denied update "key set k --tag" "cmk://lab/keys/k" key set k --tag x=y
denied update "key disable k" "cmk://lab/keys/k" key disable k
denied update "key disable k/VERSION" "cmk://lab/keys/k" key disable "k/$v1"
is "$(lc_field k '.enabled, (vl[0].enabled), (vl[0].tags.x // "none")' | tr '\n' ' ')" "true true none " \
	"the denied updates changed nothing"
ok "disable k (admin) to try a denied enable" cmk key disable k
denied update "key enable k" "cmk://lab/keys/k" key enable k
is "$(lc_field k .enabled)" false "the denied enable left k disabled"
ok "enable k (admin)" cmk key enable k
denied delete "key delete k" "cmk://lab/keys/k" key delete k
is "$(lc_field k .deleted)" false "the denied delete left k live"
denied recover "key recover d" "cmk://lab/keys/d" key recover d
ok "d is still deleted after the denied recover" cmk key show d --deleted
denied purge "key purge d --yes" "cmk://lab/keys/d" key purge d --yes
ok "d is still there after the denied purge" cmk key show d --deleted
denied rotate "key rotate k" "cmk://lab/keys/k" key rotate k
is "$(nversions)" 1 "the denied rotate made no version"
denied wrapKey "wrap k" "cmk://lab/keys/k" wrap k --in "$T/dek" --out "$T/w-denied"
no_file "$T/w-denied" "the denied wrap wrote no output file"
denied unwrapKey "unwrap" "cmk://lab/keys/k" unwrap --in "$T/w" --out "$T/u-denied"
no_file "$T/u-denied" "the denied unwrap wrote no output file"

# the denials are specific: the same identities do the rest
ok "no-wrapKey can still unwrap" cmk --identity no-wrapKey unwrap --in "$T/w" --out "$T/u1"
same_file "$T/u1" "$T/dek" "and gets the DEK"
ok "no-unwrapKey can still wrap" cmk --identity no-unwrapKey wrap k --in "$T/dek" --out "$T/w1"
ok "no-get can still list" cmk --identity no-get key list
ok "no-list can still show k" cmk --identity no-list key show k
ok "no-purge can still delete and recover" sh -c '"$0" --identity no-purge key create np &&
	"$0" --identity no-purge key delete np && "$0" --identity no-purge key recover np' "$CMK_BIN"

# control: an identity holding every permission does each command
ok "full: key show k" cmk --identity full key show k
ok "full: key list" cmk --identity full key list
ok "full: key list --deleted" cmk --identity full key list --deleted
ok "full: key create c1" cmk --identity full key create c1
ok "full: key set k --tag" cmk --identity full key set k --tag x=y
ok "full: key disable k" cmk --identity full key disable k
ok "full: key enable k" cmk --identity full key enable k
ok "full: key rotate k" cmk --identity full key rotate k
is "$(nversions)" 2 "k has two versions after full's rotate"
ok "full: wrap k" cmk --identity full wrap k --in "$T/dek" --out "$T/w2"
ok "full: unwrap" cmk --identity full unwrap --in "$T/w2" --out "$T/u2"
same_file "$T/u2" "$T/dek" "full's round trip gives the DEK"
ok "full: key recover d" cmk --identity full key recover d
ok "full: key delete d" cmk --identity full key delete d
ok "full: key purge d --yes" cmk --identity full key purge d --yes
expect_fail_msg 4 'key cmk://lab/keys/d does not exist' "d is purged" cmk key show d --deleted

# every denial is in the audit log, with its identity and result "denied"
log=$LAB/lab.audit.log
for p in get list create update delete recover purge rotate wrapKey unwrapKey; do
	n=$(jq -r --arg id "no-$p" 'select(.identity == $id and .result == "denied") | .op' "$log" | wc -l)
	if [ "$n" -ge 1 ]; then pass "audit has the denial of no-$p ($n records)"; else fail "audit has the denial of no-$p"; fi
done
is "$(jq -r 'select(.identity == "no-rotate" and .result == "denied") | .op + " " + .key' "$log")" \
	"rotate cmk://lab/keys/k" "the denied rotate is audited as op rotate on cmk://lab/keys/k"
is "$(jq -r 'select(.identity == "no-wrapKey" and .result == "denied") | .op' "$log")" wrapKey \
	"the denied wrap is audited as op wrapKey"

# only the administrator edits policies
expect_fail_msg 9 "access denied.*administrator.*'admin'.*'full'" \
	"a non-admin policy set exits 9, even with every key permission" cmk --identity full policy set full2 get
expect_fail_msg 4 'vault lab has no access policy for identity .full2.' "and makes no policy" cmk policy show full2
expect_fail_msg 9 "access denied.*'full'" "a non-admin policy remove exits 9" cmk --identity full policy remove no-get
ok "and removes nothing" cmk policy show no-get
expect_fail_msg 9 "access denied.*'full'" "a non-admin cannot raise its own permissions" \
	cmk --identity full policy set full all,purge
expect_fail_msg 9 "access denied" "a non-admin vault set exits 9" cmk --identity full vault set --purge-protection on
is "$(cmk --json vault show | jq -r .purge_protection)" false "and changes nothing"

# policy set gives exactly what it names
ok "policy set svc get,list,wrapKey" cmk policy set svc get,list,wrapKey
ok "svc can show k" cmk --identity svc key show k
ok "policy set svc list (get taken away)" cmk policy set svc list
expect_fail_msg 9 "'svc'.*'get'" "svc lost get at once (new process)" cmk --identity svc key show k
ok "svc can still list" cmk --identity svc key list
ok "policy remove svc" cmk policy remove svc
expect_fail_msg 9 "'svc'.*'list'" "after remove, svc cannot even list" cmk --identity svc key list
expect_fail_msg 4 'vault lab has no access policy for identity .svc.' "policy show svc exits 4 after remove" cmk policy show svc
expect_fail_msg 4 'vault lab has no access policy for identity .svc.' "a second policy remove svc exits 4" cmk policy remove svc
expect_fail_msg 2 "unknown permission 'bogus'" "policy set with an unknown permission exits 2" cmk policy set svc get,bogus
expect_fail_msg 4 'vault lab has no access policy for identity .svc.' "and makes no policy" cmk policy show svc
ok "policy set svc all" cmk policy set svc all
run cmk --json policy show svc
perms=$(jq -r '(if type == "array" then .[0] else . end).permissions | join(",")' "$OUT")
is "$perms" "$(perms_without purge)" "all is every permission but purge"
expect_fail_msg 9 "'svc'.*'purge'" "so svc with all cannot purge" cmk --identity svc key purge c1 --yes
expect_fail_msg 9 "'nobody'.*'list'" "an identity with no policy at all is denied" cmk --identity nobody key list

# the administrator can always change policies, even its own after removing it
ok "policy remove admin" cmk policy remove admin
expect_fail_msg 9 "'admin'.*'list'" "the admin without a policy cannot list" cmk key list
ok "but can still set policies: policy set admin all,purge" cmk policy set admin all,purge
ok "and list again" cmk key list

ok "audit verify passes" cmk audit verify
done_testing
