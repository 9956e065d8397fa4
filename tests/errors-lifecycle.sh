#!/bin/bash
# Lifecycle refusals: disabled (6), not valid yet / expired (7: wrap refused,
# unwrap still allowed), key-ops lacking the operation (8).
. "${srcdir:-.}/tests/lib.sh"
lab_new
rand_file "$T/dek" 32
ok "key create k" cmk key create k
v=$(key_versions k | tail -n 1)
kid=cmk://lab/keys/k/$v
ok "wrap (formatted) before any change" cmk wrap k --in "$T/dek" --out "$T/w"
ok "wrap --raw before any change" cmk wrap k --raw --in "$T/dek" --out "$T/r"

# --- disabled
ok "disable the version" cmk key disable "k/$v"
expect_fail_msg 6 "disabled" "wrap with a disabled version: CMK_E_DISABLED" cmk wrap "k/$v" --in "$T/dek" --out "$T/o1"
no_file "$T/o1" "no output file (disabled wrap)"
expect_fail_msg 6 "k/$v" "unwrap with a disabled version: CMK_E_DISABLED naming the versioned id" cmk unwrap --in "$T/w" --out "$T/o2"
no_file "$T/o2" "no output file (disabled unwrap)"
expect_fail_msg 6 'key cmk://lab/keys/k/[0-9a-f]{32} is disabled' "raw unwrap with a disabled version: CMK_E_DISABLED" cmk unwrap "$kid" --raw --in "$T/r"
expect_fail_msg 6 'key cmk://lab/keys/k is disabled \(no enabled version\)' "versionless wrap with no enabled version fails" cmk wrap k --in "$T/dek"
ok "enable the version" cmk key enable "k/$v"
ok "disable the key" cmk key disable k
expect_fail_msg 6 "disabled" "wrap with a disabled key: CMK_E_DISABLED" cmk wrap k --in "$T/dek"
expect_fail_msg 6 'key cmk://lab/keys/k/[0-9a-f]{32} is disabled' "unwrap with a disabled key: CMK_E_DISABLED" cmk unwrap --in "$T/w"
ok "enable the key" cmk key enable k

# --- expired: wrap refused, unwrap allowed (expiry never strands data)
ok "key set --expires -1d" cmk key set k --expires -1d
expect_fail_msg 7 "expire" "wrap with an expired key: CMK_E_NOT_VALID" cmk wrap k --in "$T/dek" --out "$T/o3"
no_file "$T/o3" "no output file (expired wrap)"
expect_fail_msg 7 'key cmk://lab/keys/k/[0-9a-f]{32} has expired' "wrap with the expired version by id: CMK_E_NOT_VALID" cmk wrap "k/$v" --in "$T/dek"
ok "unwrap with an expired key is still allowed" cmk unwrap --in "$T/w" --out "$T/d1"
same_file "$T/d1" "$T/dek" "and gives the DEK"
ok "raw unwrap with an expired key is still allowed" cmk unwrap "$kid" --raw --in "$T/r" --out "$T/d2"
same_file "$T/d2" "$T/dek" "and gives the DEK"
ok "key set --expires 2000-01-01T00:00:00Z (RFC 3339)" cmk key set k --expires 2000-01-01T00:00:00Z
expect_fail_msg 7 'key cmk://lab/keys/k has no current version: every enabled version is outside its not-before/expires dates' "wrap after an RFC 3339 expiry in the past: CMK_E_NOT_VALID" cmk wrap k --in "$T/dek"
ok "key set --expires none" cmk key set k --expires none
ok "wrap works again once the expiry is cleared" cmk wrap k --in "$T/dek" --out "$T/w2"

# --- not yet valid
ok "key set --not-before +1d" cmk key set k --not-before +1d
expect_fail_msg 7 "not.before|not valid|valid from|before" "wrap before not-before: CMK_E_NOT_VALID" cmk wrap k --in "$T/dek" --out "$T/o4"
no_file "$T/o4" "no output file (not-yet-valid wrap)"
ok "unwrap before not-before is still allowed" cmk unwrap --in "$T/w" --out "$T/d3"
same_file "$T/d3" "$T/dek" "and gives the DEK"
ok "key set --not-before -1d" cmk key set k --not-before -1d
ok "wrap works once not-before has passed" cmk wrap k --in "$T/dek" --out "$T/w3"
ok "key set --not-before none" cmk key set k --not-before none

# --- key-ops
ok "key create unwrap-only --ops unwrapKey" cmk key create unwrap-only --ops unwrapKey
expect_fail_msg 8 "wrapKey" "wrap with a key lacking wrapKey: CMK_E_OP_NOT_ALLOWED" cmk wrap unwrap-only --in "$T/dek" --out "$T/o5"
no_file "$T/o5" "no output file (op not allowed)"
ok "key create wrap-only --ops wrapKey" cmk key create wrap-only --ops wrapKey
ok "wrap with a wrapKey-only key" cmk wrap wrap-only --in "$T/dek" --out "$T/w4"
expect_fail_msg 8 "unwrapKey" "unwrap with a key lacking unwrapKey: CMK_E_OP_NOT_ALLOWED" cmk unwrap --in "$T/w4" --out "$T/o6"
no_file "$T/o6" "no output file (unwrap op not allowed)"
ok "key set wrap-only --ops wrapKey,unwrapKey" cmk key set wrap-only --ops wrapKey,unwrapKey
ok "unwrap works once unwrapKey is allowed" cmk unwrap --in "$T/w4" --out "$T/d4"
same_file "$T/d4" "$T/dek" "and gives the DEK"
ok "key set k --ops unwrapKey" cmk key set k --ops unwrapKey
expect_fail_msg 8 'key cmk://lab/keys/k/[0-9a-f]{32} does not allow wrapKey \(key-ops\)' "wrap after removing wrapKey with key set: CMK_E_OP_NOT_ALLOWED" cmk wrap k --in "$T/dek"
done_testing
