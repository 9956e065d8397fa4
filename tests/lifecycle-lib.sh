# tests/lifecycle-lib.sh - helpers for the issue-3 tests (lifecycle, access
# policies, audit).  Sourced after tests/lib.sh.

# Every key permission, in the order cmk prints them.
LC_PERMS="get list create update delete recover purge rotate wrapKey unwrapKey encrypt decrypt sign verify"

# perms_without PERM: every permission (purge included) but PERM, comma-separated.
perms_without() {
	local p out=
	for p in $LC_PERMS; do
		[ "$p" = "$1" ] || out=${out:+$out,}$p
	done
	printf '%s\n' "$out"
}

# lc_show NAME [--deleted]: `cmk --json key show` on stdout, "" on failure.
lc_show() {
	"$CMK_BIN" --json key show "$@" 2>/dev/null
}

# lc_versions NAME [all|enabled|disabled] [--deleted]: version ids, oldest first.
lc_versions() {
	local name=$1 which=${2:-all}
	shift
	[ $# -gt 0 ] && shift
	local sel='vl[]'
	case $which in
	enabled) sel='vl[] | select(.enabled == true)' ;;
	disabled) sel='vl[] | select(.enabled == false)' ;;
	esac
	lc_show "$name" "$@" | jq -r "$LC_JQ $sel | .version"
}

# jq prelude: `vl` is the array of versions of `key show --json`.
LC_JQ='def vl: (if (.version_list | type) == "array" then .version_list else .versions end);'

# lc_field NAME JQ [--deleted]: one field of `key show --json` (JQ may use vl).
lc_field() {
	local name=$1 q=$2
	shift 2
	lc_show "$name" "$@" | jq -r "$LC_JQ $q"
}

# lc_conf_set KEY VALUE [FILE]: put KEY = VALUE in the [cmk] section of
# cmk.conf (default $CMK_CONF), replacing an earlier value.
lc_conf_set() {
	local file=${3:-$CMK_CONF}
	sed -i "/^$1[[:space:]]*=/d" "$file"
	sed -i "s|^\[cmk\]\$|[cmk]\n$1 = $2|" "$file"
	grep -q "^$1 = $2\$" "$file" || bail "could not set $1 in $file"
}

# lc_p11_decrypt VERSION CT OUT: a raw RSA-OAEP (SHA-1) decrypt on the token
# with pkcs11-tool and the lab's test PIN (tests only), bypassing cmk.
lc_p11_decrypt() {
	rm -f "$3"
	p11tool_login --decrypt -m RSA-PKCS-OAEP --hash-algorithm SHA-1 --mgf MGF1-SHA1 \
		--id "$1" -i "$2" -o "$3"
}

# lc_token_objects: every object on the lab token (labels, ids, applications).
lc_token_objects() {
	p11tool_login --list-objects 2>/dev/null
}

# lc_roundtrip NAME/VERSION DEK: wrap (wrapped-key format) and unwrap with
# exactly that version; prints why on failure.
lc_roundtrip() {
	local kv=$1 dek=$2 ct=$T/.rt.ct pt=$T/.rt.pt e=$T/.rt.err
	rm -f "$ct" "$pt"
	"$CMK_BIN" wrap "$kv" --in "$dek" --out "$ct" 2>"$e" ||
		{ echo "wrap with $kv failed (exit $?): $(cat "$e")"; return 1; }
	if ! "$CMK_BIN" unwrap "cmk://lab/keys/$kv" --in "$ct" --out "$pt" 2>"$e"; then
		# a kill between an enable's commit and its working copy leaves the
		# token stricter (docs/design.md): reads say so and change nothing;
		# `vault check` names it and its repair restores the key
		grep -q "interrupted change left the token stricter" "$e" ||
			{ echo "unwrap with $kv failed: $(cat "$e")"; return 1; }
		lc_repair_stricter "$kv" || return 1
		"$CMK_BIN" unwrap "cmk://lab/keys/$kv" --in "$ct" --out "$pt" 2>"$e" ||
			{ echo "unwrap with $kv failed after vault check --repair: $(cat "$e")"; return 1; }
	fi
	cmp -s "$pt" "$dek" || { echo "round trip with $kv gave another key"; return 1; }
	return 0
}

# lc_repair_stricter NAME/VERSION: `vault check` lists the version as
# token-stricter (exit 23: a change killed by SIGKILL in its middle), and
# the next change of anything in the vault heals it first (docs/design.md,
# "Interrupted changes"): here the administrator's policy set again as it
# is.  `vault check` then finds nothing and the audit log says vault-heal.
lc_repair_stricter() {
	local out rc=0 perms
	out=$("$CMK_BIN" vault check 2>&1) || rc=$?
	[ $rc = 23 ] && grep -q "token-stricter cmk://lab/keys/$1" <<<"$out" ||
		{ echo "vault check (exit $rc) does not list $1 as token-stricter: $out"; return 1; }
	lc_next_change || return 1
	out=$("$CMK_BIN" vault check 2>&1) ||
		{ echo "the next change did not heal $1: $out"; return 1; }
	return 0
}

# lc_next_change: a change that leaves the vault as it was (the
# administrator's policy set again), which heals what a killed change left;
# the newest audit records must then include a vault-heal
lc_next_change() {
	local perms out
	perms=$("$CMK_BIN" --json policy show 2>/dev/null |
		jq -r '.[] | select(.identity == "admin") | .permissions | join(",")')
	[ -n "$perms" ] || { echo "no policy of admin to set again"; return 1; }
	out=$("$CMK_BIN" policy set admin "$perms" 2>&1) || { echo "policy set admin $perms: $out"; return 1; }
	"$CMK_BIN" --json audit show 2>/dev/null | tail -n 3 | jq -r .op | grep -qx vault-heal ||
		{ echo "no vault-heal audit record before the next change"; return 1; }
}

# lc_audit_verify_rc [ARGS]: exit code of `cmk audit verify`, output in $OUT/$ERR.
lc_audit_verify() {
	run cmk audit verify "$@"
}

# lc_priv_usage VERSION: the "Usage:" words of the token's private keys
# whose CKA_ID starts with VERSION -- the version's working copy and its
# archive copy (docs/design.md) -- joined ("" when there is none).
# pkcs11-tool -O ignores --id, so the listing is split into objects here.
lc_priv_usage() {
	p11tool_login -O --type privkey 2>/dev/null | awk -v id="$1" '
		function flush() { if (index(i, id) == 1) { out = out (out == "" ? "" : ", ") u; found = 1 } i = ""; u = "" }
		/^Private Key Object/ { flush() }
		/^ *ID:/ { i = $2 }
		/^ *Usage:/ { sub(/^ *Usage: */, ""); u = $0 }
		END { flush(); if (found) print out }'
}
