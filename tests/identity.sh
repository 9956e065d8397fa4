#!/bin/bash
# Identities are objects of the vault (issue 13, section 1): identity
# create/list/show/enable/disable/delete (administrator only, audited); a
# vault without identity objects keeps its policies working, and the first
# identity create turns each identity its policies name into an object;
# from then on policy set needs an existing identity; a disabled or deleted
# identity is refused everything (exit 9, audited as denied); a resource
# acts as its identity res-NAME whoever runs the command, so disabling it
# or revoking its policy cuts the resource off for every caller, and
# enabling or re-granting brings it back; bad names; deleting an identity a
# resource uses is refused; the trust boundary is in --help.
. "${srcdir:-.}/tests/lib.sh"
need jq
lab_new
export CMK_RESOURCE_DIR=$T/res
ok "key create k" cmk key create k
rand_file "$T/dek" 32

# a vault from before identity objects: policies name identities freely
ok "policy set legacy (no identity objects yet)" cmk policy set legacy get,wrapKey,unwrapKey
ok "legacy wraps" cmk --identity legacy wrap k --in "$T/dek" --out "$T/w"
run cmk identity list
like "$(cat "$OUT")" "legacy .*named by a policy only" "identity list shows policy-only identities as such"

# the first identity create turns identities on
ok "identity create app" cmk identity create app
run cmk --json identity list
is "$(jq -r '[.[] | select(.state != "policy-only") | .name] | sort | join(" ")' "$OUT")" "admin app legacy" \
	"the first identity create made objects of every identity the policies name (and the admin)"
ok "legacy keeps working" cmk --identity legacy unwrap --in "$T/w" --out "$T/d"
expect_fail_msg 4 "no identity 'ghost'.*cmk identity create ghost" "policy set on an unknown identity names identity create" \
	cmk policy set ghost get
ok "policy set app" cmk policy set app get,wrapKey,unwrapKey
ok "app wraps" cmk --identity app wrap k --in "$T/dek" --out "$T/w2"
expect_fail_msg 5 "already has identity 'app'" "identity create of an existing one is refused" cmk identity create app
expect_fail_msg 9 "only the administrator" "a non-admin cannot create identities" cmk --identity app identity create x1
expect_fail_msg 9 "only the administrator" "nor disable them" cmk --identity app identity disable legacy

# bad names
for bad in "a b" "x_y" "" "$(printf 'n%.0s' $(seq 1 128))" "é"; do
	expect_fail_msg 2 "identity name" "identity name '${bad:0:20}' is refused" cmk identity create "$bad"
done

# disable / enable / delete
ok "identity disable app" cmk identity disable app
expect_fail_msg 9 "identity 'app' is disabled" "a disabled identity cannot wrap" \
	cmk --identity app wrap k --in "$T/dek" --out "$T/w3"
expect_fail_msg 9 "identity 'app' is disabled" "nor unwrap" cmk --identity app unwrap --in "$T/w2" --out "$T/d"
expect_fail_msg 9 "disabled" "nor list keys" cmk --identity app key list
run cmk --json audit show --identity app
like "$(jq -r 'select(.result == "denied") | .op' "$OUT" | sort -u | tr '\n' ' ')" "get" "its refusals are audited as denied"
is "$(cmk --json identity show app | jq -r .state)" disabled "identity show: disabled"
ok "identity enable app" cmk identity enable app
ok "app unwraps again" cmk --identity app unwrap --in "$T/w2" --out "$T/d"
same_file "$T/d" "$T/dek" "the DEK"
expect_fail_msg 2 "administrator" "the administrator cannot be disabled" cmk identity disable admin
ok "identity delete app" cmk identity delete app
expect_fail_msg 9 "identity 'app' is deleted" "a deleted identity is refused" \
	cmk --identity app unwrap --in "$T/w2" --out "$T/d"
expect_fail_msg 4 "no access policy for identity 'app'" "its policy went with it" cmk policy show app
expect_fail_msg 4 "no identity 'app'" "policy set on a deleted identity is refused" cmk policy set app get
ok "identity create app again" cmk identity create app
is "$(cmk --json identity show app | jq -r .state)" enabled "re-created, enabled"
run cmk --json audit show
is "$(jq -r 'select(.op | startswith("identity-")) | .op' "$OUT" | sort -u | tr '\n' ' ')" \
	"identity-create identity-delete identity-disable identity-enable " "identity changes are audited"

# a resource acts as its identity
ok "purge protection on" cmk vault set --purge-protection on
ok "policy set app (may create resources)" cmk policy set app get,list,create,update,rotate
ok "resource create r (as app)" cmk --identity app resource create r
is "$(cmk --json identity show res-r | jq -r '"\(.state) \(.resource)"')" "enabled r" \
	"resource create made the system-assigned identity res-r"
ok "grant res-r" cmk policy set res-r get,wrapKey,unwrapKey
ok "set-key r to k" cmk --identity app resource set-key r --key k
echo data | cmk --identity app resource put r o || fail "put"
ok "policy remove app: the caller's own rights do not matter" cmk policy set app list
run cmk --identity app resource get r o
is "$RC:$(cat "$OUT")" "0:data" "app still reads r (r acts as res-r)"
ok "identity disable res-r" cmk identity disable res-r
for who in app admin legacy; do
	expect_fail_msg 9 "res-r' is disabled" "res-r disabled: $who cannot read r" cmk --identity "$who" resource get r o
done
expect_fail_msg 9 "res-r' is disabled" "nor write it" cmk resource put r o2 --in "$T/dek"
ok "identity enable res-r" cmk identity enable res-r
run cmk resource get r o
is "$RC:$(cat "$OUT")" "0:data" "enabled again: r reads"
ok "revoke res-r's unwrapKey" cmk policy set res-r get,wrapKey
expect_fail_msg 9 "res-r.*unwrapKey" "revoked: unreadable for every caller" cmk resource get r o
ok "re-grant" cmk policy set res-r get,wrapKey,unwrapKey
ok "re-granted: readable" cmk resource get r o --out "$T/o"
expect_fail_msg 2 "used by resource r" "deleting an identity a resource uses is refused, naming it" \
	cmk identity delete res-r
ok "resource create r2 --identity app" cmk resource create r2 --identity app
is "$(cmk --json resource show r2 | jq -r .identity)" app "r2 acts as app"
expect_fail_msg 4 "no identity 'nobody'" "resource create --identity of an unknown identity is refused" \
	cmk resource create r3 --identity nobody
no_file "$T/res/r3" "and nothing was made"

run cmk identity --help
like "$(cat "$OUT")" "token's PIN can act as any identity" "identity --help states the trust boundary"
like "$(cat "$OUT")" "separate tokens" "and what separates services that must be protected from each other"
done_testing
