#!/bin/bash
# Issue 10: a version's private key as an archive copy plus a working copy
# (docs/design.md).  A vault made by an older cmk (one copy per version) is
# migrated by the next change; an interrupted enable (no working copy) is
# reported by reads, listed by `vault check` and restored by the next change
# of the key; `vault check --repair` makes a missing archive.  Built with
# pkcs11-tool and the lab's test PIN, below cmk.
. "${srcdir:-.}/tests/lib.sh"
need pkcs11-tool
PROBE=$CMK_TESTS_BIN/p11-probe
[ -x "$PROBE" ] || bail "tests/p11-probe is not built"
lab_new
probe() { "$PROBE" "$SOFTHSM_MODULE" - "$LAB_TOKEN" "$LAB/pin" "$@"; }
ids() { probe privkeys | awk '{ print $1 }' | sort; }
rand_file "$T/dek" 32
dekhex=$(od -An -tx1 -v "$T/dek" | tr -d ' \n')

ok "key create k" cmk key create k
v=$(key_versions k | tail -n 1)
is "$(ids)" "$(printf '%s\n%s41' "$v" "$v")" "a new version has a working copy (its id) and an archive copy (id + 41)"
like "$(probe privkeys | grep "^${v}41 ")" "decrypt=0 unwrap=0 sign=0" "the archive may do nothing"
like "$(probe privkeys | grep "^$v ")" "decrypt=1 unwrap=1 sign=1" "the working copy may what the key-ops allow"
ok "wrap with k" cmk wrap k --in "$T/dek" --out "$T/w"
ok "raw RSA-OAEP ciphertext" cmk wrap k --raw --alg RSA-OAEP --in "$T/dek" --out "$T/ct"
ok "vault check: clean" cmk vault check

# key-ops: sign goes away from the working copy, nothing else changes
ok "key set k --ops wrapKey,unwrapKey" cmk key set k --ops wrapKey,unwrapKey
like "$(probe privkeys | grep "^$v ")" "decrypt=1 unwrap=1 sign=0" "the working copy may no longer sign"
is "$(ids)" "$(printf '%s\n%s41' "$v" "$v")" "still one working copy and one archive"

# an interrupted enable: the working copy is missing
ok "destroy the working copy behind cmk's back" p11tool_login --delete-object --type privkey --id "$v"
expect_fail_msg 6 "k/$v.*interrupted change left the token stricter.*vault check --repair" \
	"unwrap says an interrupted change left the token stricter (exit 6)" cmk unwrap --in "$T/w" -o "$T/u"
no_file "$T/u" "and writes no DEK"
is "$(ids)" "${v}41" "the read changed nothing on the token"
run cmk vault check
is "$RC" 23 "vault check exits 23"
like "$(cat "$OUT")" "token-stricter cmk://lab/keys/k/$v" "and lists the version as token-stricter"
ok "the next change of the key (a tag) restores it" cmk key set k --tag a=b
ok "unwrap works again" cmk unwrap --in "$T/w" -o "$T/u"
same_file "$T/u" "$T/dek" "and recovers the DEK"

# a vault made by an older cmk: one copy per version, CKA_ID = version id
ok "destroy the archive copy (as an old vault has none)" p11tool_login --delete-object --type privkey --id "${v}41"
is "$(ids)" "$v" "one copy left"
run cmk vault check
is "$RC" 23 "vault check exits 23"
like "$(cat "$OUT")" "no-archive-copy cmk://lab/keys/k/$v" "and lists the missing archive"
ok "key disable k (the first change migrates)" cmk key disable k
is "$(ids)" "${v}41" "the archive was made before the working copy went"
is "$(probe decrypt-all "$v" SHA1 "$T/ct")" "refused 1" "the token refuses to decrypt"
ok "key enable k" cmk key enable k
is "$(probe decrypt-all "$v" SHA1 "$T/ct")" "ok $dekhex" "the token decrypts again"
ok "vault check: clean" cmk vault check

# repair makes a missing archive too
ok "destroy the archive again" p11tool_login --delete-object --type privkey --id "${v}41"
ok "vault check --repair" cmk vault check --repair
like "$(cat "$OUT")" "no-archive-copy .*repaired" "repairs the missing archive"
is "$(ids)" "$(printf '%s\n%s41' "$v" "$v")" "a working copy and an archive again"
ok "unwrap after the repair" cmk unwrap --in "$T/w" -o "$T/u2"
same_file "$T/u2" "$T/dek" "and recovers the DEK"
expect_fail_msg 9 "administrator" "only the administrator repairs" env CMK_IDENTITY=someone "$CMK_BIN" vault check --repair

# purge removes every copy
ok "policy set admin all,purge" cmk policy set admin all,purge
ok "key delete k" cmk key delete k
ok "key purge k" cmk key purge k --yes
is "$(ids)" "" "no private key is left"
done_testing
