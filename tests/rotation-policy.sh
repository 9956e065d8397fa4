#!/bin/bash
# Rotation policies and the expiry notice (issue 13, section 4): key
# rotation-policy set/show, bad periods refused with nothing changed, vault
# sweep rotating due keys (time moved with libfaketime), new versions
# getting the policy's expiry, keys expiring within their notice reported
# on stderr, in --json and in the audit log, key list showing expiry and
# next rotation, a resource on a versionless key following the rotation on
# its next open, and a resource's own key refused a policy.
. "${srcdir:-.}/tests/lib.sh"
need faketime jq
lab_new
export CMK_RESOURCE_DIR=$T/res
C=$CMK_BIN
at() { local d=$1; shift; env CMK_RESOURCE_DIR="$CMK_RESOURCE_DIR" faketime -f "+${d}d" "$C" "$@"; }

ok "policy: admin may purge (vault sweep)" cmk policy set admin all,purge
ok "key create k" cmk key create k
v1=$(current_version k)
expect_fail_msg 4 "no rotation policy" "show before set: none" cmk key rotation-policy show k
for bad in "0d" "-5d" "12h" "x" "3" "1q"; do
	expect_fail_msg 2 "rotate-after" "--rotate-after $bad is refused" cmk key rotation-policy set k --rotate-after "$bad"
done
expect_fail_msg 2 "shorter than --rotate-after" "--expire-after shorter than --rotate-after is refused" \
	cmk key rotation-policy set k --rotate-after 90d --expire-after 30d
expect_fail_msg 2 "give --rotate-after" "set without a period is refused" cmk key rotation-policy set k
expect_fail_msg 4 "no rotation policy" "the refusals changed nothing" cmk key rotation-policy show k
expect_fail_msg 4 "nosuch" "a policy for an unknown key is refused" cmk key rotation-policy set nosuch --rotate-after 90d
ok "set k: rotate 90d, expire 2y, notify 30d" cmk key rotation-policy set k --rotate-after 90d --expire-after 2y --notify-before 30d
run cmk --json key rotation-policy show k
is "$(jq -r '"\(.rotate_after) \(.expire_after) \(.notify_before)"' "$OUT")" "90d 730d 30d" "show: the periods"
like "$(cmk --json key list | jq -r '.[] | select(.name == "k") | .next_rotation')" '^20' "key list shows the next rotation"

# a resource on the versionless key follows the rotation
ok "purge protection on" cmk vault set --purge-protection on
ok "resource create r" cmk resource create r
ok "grant res-r" cmk policy set res-r get,wrapKey,unwrapKey
ok "set-key r to the versionless k" cmk resource set-key r --key k
echo hello | cmk resource put r o || fail "put"

ok "sweep now: nothing due" cmk vault sweep
is "$(current_version k)" "$v1" "k not rotated"
ok "sweep at +91d" at 91 vault sweep
like "$(cat "$OUT")" "key k rotated" "k rotated by policy"
v2=$(current_version k)
isnt "$v2" "$v1" "a new current version"
exp=$(cmk --json key show "k/$v2" | jq -r "[.version_list[] | select(.version == \"$v2\")][0].expires")
like "$exp" '^20(29|30)-' "the new version expires 2 years after its creation ($exp)"
run at 92 resource get r o
is "$RC:$(cat "$OUT")" "0:hello" "the resource reads after the rotation"
is "$(cmk --json resource show r | jq -r .customer_kid)" "cmk://lab/keys/k/$v2" "and moved to the new version on that open"
like "$(cmk key list | grep '^k ')" "expires 20.* next-rotation 20" "key list shows expiry and next rotation"
ok "sweep at +92d: not due again" at 92 vault sweep
like "$(cat "$OUT")" "0 keys rotated" "nothing rotated twice"

# expiry notice: a key expiring within its notice
ok "key create e (expires in 10 days)" cmk key create e --expires +10d
ok "policy on e: notify 30d" cmk key rotation-policy set e --notify-before 30d
run cmk --json vault sweep
like "$(cat "$ERR")" "key cmk://lab/keys/e/.* expires on" "sweep warns on stderr"
is "$(jq -r '.rotation[] | select(.key == "e") | .expiring' "$OUT")" true "and in --json"
is "$(cmk --json audit show --key e | jq -r 'select(.op == "near-expiry") | .result' | tail -1)" ok \
	"and in the audit log (near-expiry)"
is "$(jq -r '.rotation[] | select(.key == "k") | .expiring' "$OUT")" false "k is not near its expiry"

# a resource's own key
expect_fail_msg 8 "managed by resource r" "svc-r cannot get a rotation policy" \
	cmk key rotation-policy set svc-r --rotate-after 90d
done_testing
