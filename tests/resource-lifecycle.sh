#!/bin/bash
# Resources have a lifecycle (issue 13, sections 2 and 3): resource list
# (--json, --deleted), soft delete with the vault's retention (data kept,
# unreadable), recover (exactly as before), purge (purge protection until
# the retention has passed, confirmation), vault sweep; create --key in one
# step and --key-management fixed; set-key with NAME, NAME/VERSION and full
# ids; key show lists the resources a key wraps; key disable/delete of a key
# in use refuse without --force; audit show --resource.  Time moves with
# libfaketime, as in tests/lifecycle-retention.sh.
. "${srcdir:-.}/tests/lib.sh"
need faketime jq
lab_new
export CMK_RESOURCE_DIR=$T/res
C=$CMK_BIN
ok "policy: admin may purge" cmk policy set admin all,purge

# --------------------------------------------------------- list, create --key
ok "key create c1" cmk key create c1
expect_fail_msg 9 "identity res-rk needs get, wrapKey and unwrapKey.*policy set res-rk" \
	"create --key before the resource's identity is granted is refused (the grant is printed)" \
	cmk resource create rk --key c1
no_file "$T/res/rk" "and nothing was made"
ok "identity create res-rk (to grant it before the resource exists)" cmk identity create res-rk
ok "grant res-rk" cmk policy set res-rk get,wrapKey,unwrapKey
expect_fail_msg 2 "purge protection" "create --key in a vault without purge protection is refused" \
	cmk resource create rk --key c1
no_file "$T/res/rk" "and nothing was made"
is "$(cmk --json key list | jq '[.[] | select(.name == "svc-rk")] | length')" 0 "no svc-rk key either"
ok "purge protection on" cmk vault set --purge-protection on
ok "create rk --key c1 --key-management fixed" cmk resource create rk --key c1 --key-management fixed
ok "create rs (service-managed, switchable)" cmk resource create rs
ok "grant res-rs" cmk policy set res-rs get,wrapKey,unwrapKey
echo one | cmk resource put rk o1 || fail "put rk o1"
echo two | cmk resource put rs o2 || fail "put rs o2"
run cmk --json resource list
is "$(jq -r '[.[].name] | join(" ")' "$OUT")" "rk rs" "resource list: both, by name"
is "$(jq -r '.[] | select(.name == "rk") | "\(.key_management) \(.key_management_fixed) \(.identity) \(.state) \(.objects)"' "$OUT")" \
	"customer-managed true res-rk live 1" "rk: customer-managed, fixed, its identity, live, 1 object"
like "$(jq -r '.[] | select(.name == "rk") | .key_in_use' "$OUT")" '^cmk://lab/keys/c1/[0-9a-f]{32}$' "rk: key in use is a c1 version"
is "$(jq -r '.[] | select(.name == "rs") | "\(.key_management) \(.key_management_fixed)"' "$OUT")" \
	"service-managed false" "rs: service-managed, switchable"
run cmk resource list
like "$(cat "$OUT")" "rk +lab +customer-managed" "resource list (text)"
expect_fail_msg 8 "fixed key management.*cannot go back" "a fixed resource cannot go back to service-managed" \
	cmk resource set-key rk --service-managed
ok "key create c2" cmk key create c2
ok "a fixed resource may change to another CMK (NAME form)" cmk resource set-key rk --key c2
c2v=$(current_version c2)
ok "NAME/VERSION form" cmk resource set-key rs --key "c2/$c2v"
is "$(cmk --json resource show rs | jq -r .customer_kid)" "cmk://lab/keys/c2/$c2v" "NAME/VERSION pinned that version"
ok "full id form" cmk resource set-key rs --key cmk://lab/keys/c1
ok "switchable: back to service-managed" cmk resource set-key rs --service-managed
ok "key create fx" cmk key create fx
ok "create rf, service-managed and fixed" cmk resource create rf --key-management fixed
ok "grant res-rf" cmk policy set res-rf get,wrapKey,unwrapKey
expect_fail_msg 8 "fixed key management.*cannot switch" "a fixed service-managed resource cannot take a CMK" \
	cmk resource set-key rf --key fx
expect_fail_msg 2 "fixed or switchable" "--key-management must be fixed or switchable" \
	cmk resource create rx --key-management sometimes

# ------------------------------------------------------------ who uses a key
run cmk key show c2
like "$(cat "$OUT")" "used by: +rk \\(version $c2v\\)" "key show c2 lists rk and its version"
is "$(cmk --json key show c2 | jq -r '.used_by[0].resource')" rk "key show --json: used_by"
expect_fail_msg 2 "unreadable: rk \\(version $c2v\\).*--force" "key disable of a key in use is refused, naming rk" \
	cmk key disable c2
expect_fail_msg 2 "unreadable: rk" "key disable of the version in use too" cmk key disable "c2/$c2v"
expect_fail_msg 2 "unreadable: rk" "key delete of a key in use is refused" cmk key delete c2
ok "a key nobody uses disables without --force" cmk key disable fx
ok "enable fx" cmk key enable fx

# -------------------------------------------------- delete, recover, purge
ok "resource delete rk" cmk resource delete rk
like "$(cat "$ERR")" "scheduled purge on" "delete says when it will be purged"
expect_fail_msg 10 "resource rk is deleted.*recover" "a deleted resource cannot be read" cmk resource get rk o1
expect_fail_msg 10 "deleted" "nor written" cmk resource put rk o9 --in /dev/null
is "$(ls "$T/res/rk/objects" | wc -l)" 1 "its data stays on disk"
run cmk --json resource list
is "$(jq -r '[.[].name] | join(" ")' "$OUT")" "rf rs" "a deleted resource is not listed"
run cmk --json resource list --deleted
is "$(jq -r '.[0].name' "$OUT")" rk "list --deleted shows it"
like "$(jq -r '.[0].deleted_on' "$OUT")" '^20' "with deleted_on"
like "$(jq -r '.[0].scheduled_purge_on' "$OUT")" '^20' "and scheduled_purge_on"
is "$(cmk --json key list --deleted | jq -r '.[] | select(.name == "svc-rk") | .managed_by')" rk \
	"its service-managed key is soft-deleted with it"
expect_fail_msg 17 "purge protection" "purge before the retention has passed is refused" cmk resource purge rk --yes
expect_fail_msg 2 "confirmation" "purge without --yes and no terminal is refused" cmk resource purge rk </dev/null
ok "resource recover rk" cmk resource recover rk
run cmk resource get rk o1
is "$RC:$(cat "$OUT")" "0:one" "recovered: the data reads back exactly"
is "$(cmk --json resource show rk | jq -r '"\(.customer_kid) \(.key_management_fixed)"')" \
	"cmk://lab/keys/c2/$c2v true" "recovered: same key and key management"
expect_fail_msg 4 "not deleted" "recover of a live resource is refused" cmk resource recover rk
expect_fail_msg 2 "not deleted" "purge of a live resource is refused" cmk resource purge rk --yes

# the retention passes: sweep purges the resource and its key
ok "delete rs" cmk resource delete rs
days=$(cmk --json vault show | jq -r .retention_days)
ok "vault sweep before the date purges nothing" cmk vault sweep
like "$(cat "$OUT")" "0 resources purged" "0 resources purged"
[ -d "$T/res/rs" ] && pass "rs is still there" || fail "rs is still there"
ok "vault sweep after the retention" env CMK_RESOURCE_DIR="$T/res" faketime -f "+$((days + 1))d" "$C" vault sweep
like "$(cat "$OUT")" "1 resource purged" "1 resource purged"
no_file "$T/res/rs" "rs's directory is gone"
is "$(cmk --json key list --deleted | jq '[.[] | select(.name == "svc-rs")] | length')" 0 "svc-rs is purged"
# a purge by hand after the retention
ok "delete rf" cmk resource delete rf
ok "purge rf after the retention" env CMK_RESOURCE_DIR="$T/res" faketime -f "+$((days + 1))d" "$C" resource purge rf --yes
no_file "$T/res/rf" "rf is gone"
expect_fail_msg 4 "no identity .res-rf." "its system-assigned identity is gone with it (no record left)" cmk identity show res-rf
expect_fail_msg 4 "no access policy for identity 'res-rf'" "and its policy" cmk policy show res-rf
# recover of a resource whose key was purged: a clear error
ok "resource create rg" cmk resource create rg
ok "delete rg" cmk resource delete rg
ok "the vault sweep purges svc-rg only (no resource dir in its view)" \
	env CMK_RESOURCE_DIR="$T/elsewhere" faketime -f "+$((days + 1))d" "$C" vault sweep
expect_fail_msg 4 "svc-rg was purged.*lost" "recover of a resource whose key was purged is a clear error" \
	cmk resource recover rg
ok "resource purge rg removes what is left" cmk resource purge rg --yes
no_file "$T/res/rg" "rg is gone"

# ---------------------------------------------------------------- audit
run cmk --json audit show --resource rk
like "$(jq -r .op "$OUT" | sort -u | tr '\n' ' ')" "resource-create.*resource-delete.*resource-get.*resource-put.*resource-recover.*resource-set-key" \
	"audit show --resource rk: its create, delete, get, put, recover, set-key"
like "$(jq -r 'select(.op == "unwrapKey") | .identity' "$OUT" | sort -u)" "^res-rk$" \
	"key operations for rk are done as its identity res-rk"
like "$(jq -r 'select(.op == "unwrapKey") | .caller' "$OUT" | sort -u)" "^admin$" "and record the caller"
is "$(jq -r 'select(.op == "resource-get" and .result == "ok") | .object' "$OUT" | head -1 | grep -cE '^[0-9a-f]{32}$')" 1 \
	"resource-get records an object id"
run cmk --json audit show --identity res-rk
like "$(jq -r .op "$OUT" | sort -u | tr '\n' ' ')" "unwrapKey" "audit show --identity res-rk"
done_testing
