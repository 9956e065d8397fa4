#!/bin/bash
# Revocation of a resource's customer-managed key: disabling the key or the
# version in use, deleting the key, removing the permissions of the
# resource's identity (res-r: the resource acts as it whoever runs the
# command), disabling that identity.
# Each makes every object unreadable and every write fail, naming the key
# and the reason; enabling, recovering or re-granting brings all back.
# (Every cmk command is a new process: nothing is cached across them, so the
# effect is immediate; in-process caches are tested in envelope-cache.)
. "${srcdir:-.}/tests/lib.sh"
lab_new
export CMK_RESOURCE_DIR=$T/res
ok "purge protection on" cmk vault set --purge-protection on
ok "policy: app" cmk policy set app get,list,create,update,rotate,wrapKey,unwrapKey
ok "key create cmk1" cmk key create cmk1
app() { cmk --identity app "$@"; }
ok "resource create r (as app)" app resource create r
expect_fail_msg 9 "identity res-r needs get, wrapKey and unwrapKey.*cmk --vault lab policy set res-r get,wrapKey,unwrapKey" \
	"set-key before res-r is granted is refused, printing the exact grant" \
	app resource set-key r --key cmk1
ok "grant the resource's identity" cmk policy set res-r get,wrapKey,unwrapKey
for i in 1 2 3; do head -c $((i * 5000)) /dev/urandom >"$T/o$i"; done
for i in 1 2 3; do app resource put r "o$i" --in "$T/o$i" || fail "put o$i"; done
ok "set-key to the CMK (as app)" app resource set-key r --key cmk://lab/keys/cmk1
v=$(current_version cmk1)

# revoked: reads, writes, listing and removal all fail, naming key and reason
revoked() {
	local code=$1 re=$2 what=$3
	expect_fail_msg "$code" "$re" "$what: get fails" app resource get r o1
	expect_fail_msg "$code" "$re" "$what: put fails" app resource put r new --in "$T/o1"
	expect_fail_msg "$code" "$re" "$what: list fails" app resource list r
	expect_fail_msg "$code" "$re" "$what: rm fails" app resource rm r o2
	no_file "$T/res/r/objects/new" "$what: nothing was written"
}
restored() {
	local what=$1 i
	for i in 1 2 3; do
		app resource get r "o$i" --out "$T/g$i" && cmp -s "$T/g$i" "$T/o$i" ||
			{ fail "$what: o$i reads back intact"; return; }
	done
	pass "$what: every object reads back intact"
	ok "$what: writes work" app resource put r "after-$what" --in "$T/o1"
	ok "$what: rm works" app resource rm r "after-$what"
}

expect_fail_msg 2 "resources unreadable: r \\(version" "disabling a key in use is refused without --force, naming the resource" \
	cmk key disable cmk1
ok "disable cmk1 --force" cmk key disable cmk1 --force
revoked 6 "resource r: .*cmk://lab/keys/cmk1.*disabled" "key disabled"
ok "enable cmk1" cmk key enable cmk1
restored "key enabled"

ok "disable the version in use" cmk key disable "cmk1/$v" --force
revoked 6 "cmk1.*disabled" "version disabled"
ok "enable the version" cmk key enable "cmk1/$v"
restored "version enabled"

expect_fail_msg 2 "unreadable: r " "deleting a key in use is refused without --force" cmk key delete cmk1
ok "delete cmk1 --force" cmk key delete cmk1 --force
revoked 10 "resource r: .*cmk://lab/keys/cmk1.*deleted" "key deleted"
ok "recover cmk1" cmk key recover cmk1
restored "key recovered"

ok "policy: res-r loses wrapKey and unwrapKey" cmk policy set res-r get
revoked 9 "resource r: .*(access denied|lacks).*(unwrapKey|wrapKey)" "permission removed"
ok "policy: re-grant" cmk policy set res-r get,wrapKey,unwrapKey
restored "permission re-granted"

ok "policy remove res-r" cmk policy remove res-r
revoked 9 "resource r: .*(access denied|lacks|no access)" "identity's policy removed"
ok "policy: res-r back" cmk policy set res-r get,wrapKey,unwrapKey
restored "identity back"

ok "identity disable res-r" cmk identity disable res-r
revoked 9 "resource r: .*identity 'res-r' is disabled" "identity disabled"
expect_fail_msg 9 "res-r' is disabled" "identity disabled: the admin cannot read r either" \
	cmk resource get r o1
ok "identity enable res-r" cmk identity enable res-r
restored "identity enabled"

ok "policy: app loses wrapKey and unwrapKey" cmk policy set app get,list,create,update,rotate
restored "the caller's own permissions do not matter (r acts as res-r)"
ok "policy: app back" cmk policy set app get,list,create,update,rotate,wrapKey,unwrapKey

# a versioned CMK id: disabling that version revokes even with a newer one
ok "rotate cmk1" cmk key rotate cmk1
ok "set-key to the versioned id" app resource set-key r --key "cmk://lab/keys/cmk1/$v"
ok "disable that version" cmk key disable "cmk1/$v" --force
revoked 6 "cmk1/$v.*disabled" "pinned version disabled"
ok "enable it" cmk key enable "cmk1/$v"
restored "pinned version enabled"
done_testing
