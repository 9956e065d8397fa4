#!/bin/bash
# Keys: create, list, show, rotate, enable, disable; names; current version.
. "${srcdir:-.}/tests/lib.sh"
lab_new
hex32='^[0-9a-f]{32}$'

ok "key create db-kek" cmk key create db-kek
like "$(cat "$OUT")" "cmk://lab/keys/db-kek/[0-9a-f]{32}" "key create prints the versioned id"
expect_fail_msg 5 "db-kek" "key create of a taken name is refused" cmk key create db-kek

for bad in "bad_name" "bad.name" "with space" "" "$(printf 'a%.0s' $(seq 128))"; do
	expect_fail_msg 2 "key (name|id) '.*' (must be 1-127 characters of A-Z a-z 0-9 -|has no valid key name)" "key create refuses the name '${bad:0:20}' (${#bad} chars)" cmk key create "$bad"
done
ok "a 127-character name is accepted" cmk key create "$(printf 'a%.0s' $(seq 127))"
expect_fail_msg 2 'key size 1024 is not 2048, 3072 or 4096' "key create --size 1024 is refused" cmk key create small --size 1024
expect_fail_msg 2 'unknown key operation .frobnicate. \(known: wrapKey unwrapKey encrypt decrypt sign verify\)' "key create --ops with an unknown op is refused" cmk key create badops --ops wrapKey,frobnicate
no_key_yet=$(cmk key list 2>/dev/null | grep -cE '^(small|badops)\b')
is "$no_key_yet" 0 "refused creates left no key behind"

ok "key list" cmk key list
like "$(cat "$OUT")" "db-kek" "key list shows db-kek"

key_json db-kek
is "$RC" 0 "key show db-kek --json"
J=$(cat "$OUT")
is "$(jq '.version_list | length' <<<"$J")" 1 "a new key has one version"
v1=$(jq -r '.version_list[0].version' <<<"$J")
like "$v1" "$hex32" "version id is 32 lowercase hex"
is "$(jq -r '.version_list[0].enabled' <<<"$J")" true "version 1 is enabled"
is "$(jq -r '.version_list[0].size' <<<"$J")" 2048 "default size is RSA 2048"
ok "key show NAME/VERSION" cmk key show "db-kek/$v1"
ok "key show by full id" cmk key show "cmk://lab/keys/db-kek/$v1"

# --- size, ops and tags at creation
ok "key create --size 3072 --ops wrapKey,unwrapKey --tag env=test" \
	cmk key create big --size 3072 --ops wrapKey,unwrapKey --tag env=test
J=$(cmk --json key show big)
is "$(jq -r '.version_list[0].size' <<<"$J")" 3072 "--size 3072 makes a 3072-bit key"
is "$(jq -r '.version_list[0].key_ops' <<<"$J")" "wrapKey,unwrapKey" "--ops is kept"
is "$(jq -r '.version_list[0].tags.env' <<<"$J")" test "--tag is kept"

# --- rotate: new current version, old version still unwraps
rand_file "$T/dek" 32
ok "wrap under version 1" cmk wrap db-kek --in "$T/dek" --out "$T/w1"
ok "key rotate db-kek" cmk key rotate db-kek
mapfile -t vs < <(key_versions db-kek)
is "${#vs[@]}" 2 "rotate adds a version"
v2=${vs[1]:-}
isnt "$v2" "$v1" "the new version has a new id"
is "$(current_version db-kek)" "$v2" "the new version is current"
run cmk wrap db-kek --raw --in "$T/dek" --out "$T/r2"
like "$(cat "$ERR")" "kid: cmk://lab/keys/db-kek/$v2" "versionless wrap uses the new version"
ok "data wrapped before the rotation still unwraps" cmk unwrap --in "$T/w1" --out "$T/d1"
same_file "$T/d1" "$T/dek" "and gives the DEK back"

# --- disable / enable a version: current falls back to the newest enabled
ok "key disable db-kek/v2" cmk key disable "db-kek/$v2"
is "$(cmk --json key show db-kek | jq -r --arg v "$v2" '.version_list[] | select(.version==$v) | .enabled')" false "version 2 shows disabled"
is "$(current_version db-kek)" "$v1" "current falls back to version 1"
run cmk wrap db-kek --raw --in "$T/dek" --out "$T/r1"
like "$(cat "$ERR")" "kid: cmk://lab/keys/db-kek/$v1" "versionless wrap now uses version 1"
expect_fail_msg 6 "$v2.*disabled|disabled.*$v2" "wrap with the disabled version fails" cmk wrap "db-kek/$v2" --in "$T/dek"
ok "key enable db-kek/v2" cmk key enable "db-kek/$v2"
is "$(current_version db-kek)" "$v2" "version 2 is current again"
ok "unwrap the version-2 raw blob" cmk unwrap "cmk://lab/keys/db-kek/$v2" --raw --in "$T/r2" --out "$T/d2"
same_file "$T/d2" "$T/dek" "version 2 round trip after re-enable"

# --- disable / enable the whole key
ok "key disable db-kek" cmk key disable db-kek
is "$(cmk --json key show db-kek | jq -r '.enabled')" false "the key shows disabled"
expect_fail_msg 6 "db-kek" "wrap with a disabled key fails" cmk wrap db-kek --in "$T/dek"
expect_fail_msg 6 "db-kek" "unwrap with a disabled key fails" cmk unwrap --in "$T/w1"
ok "key enable db-kek" cmk key enable db-kek
ok "unwrap works again after enable" cmk unwrap --in "$T/w1" --out "$T/d3"
same_file "$T/d3" "$T/dek" "and gives the DEK back"
is "$(cmk --json key show db-kek | jq -r '.version_list | map(.enabled) | join(",")')" "true,true" \
	"enabling the key kept both versions' own flags"

# --- versions are listed oldest first and ids are unique
ok "rotate again" cmk key rotate db-kek
mapfile -t vs < <(key_versions db-kek)
is "${#vs[@]}" 3 "three versions"
is "${vs[0]} ${vs[1]}" "$v1 $v2" "versions are listed oldest first"
is "$(printf '%s\n' "${vs[@]}" | sort -u | wc -l)" 3 "version ids are unique"

done_testing
