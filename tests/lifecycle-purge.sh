#!/bin/bash
# Purge, purge protection, retention and the sweep (docs/semantics.md §2), across
# real days without waiting: later commands run under libfaketime
# (`faketime -f +91d`), never a test-only clock in cmk.
#  - purge needs the purge permission (not in the admin's default "all"),
#    a deleted key, and --yes without a terminal;
#  - a purged key leaves no object on the token and frees its name;
#  - with purge protection on, purge exits 17 until the retention passed;
#  - purge protection cannot be turned off once on;
#  - `vault sweep` purges exactly the deleted keys past their date, and a
#    second run purges nothing.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/lifecycle-lib.sh"
need pkcs11-tool faketime
lab_new
rand_file "$T/dek" 32

# no_trace NAME VERSION...: nothing of key NAME is left on the token
no_trace() {
	local name=$1 objs v why=
	shift
	objs=$(lc_token_objects)
	[ -n "$objs" ] || { echo "pkcs11-tool --list-objects printed nothing"; return 1; }
	grep -qE "^ *label: +$name\$" <<<"$objs" && why="an object labelled '$name' is left"
	grep -qF "application:    'cmk/key/$name'" <<<"$objs" && why="${why:+$why; }a record with application cmk/key/$name is left"
	grep -qF "'cmk $name" <<<"$objs" && why="${why:+$why; }a record labelled 'cmk $name...' is left"
	for v in "$@"; do
		grep -qiE "^ *ID: +$v\$" <<<"$objs" && why="${why:+$why; }an object with ID $v is left"
	done
	[ -z "$why" ] || { echo "$why"; return 1; }
}

# ------------------------------------------------------------ purge basics
ok "key create p1" cmk key create p1
ok "key rotate p1" cmk key rotate p1
mapfile -t P1 < <(lc_versions p1)
is "${#P1[@]}" 2 "p1 has two versions"
objs=$(lc_token_objects)
like "$objs" "ID: +${P1[0]}" "the token holds p1's first version (control for the no-object checks)"
like "$objs" "application: +'cmk/key/p1'" "the token holds p1's records (control)"

expect_fail_msg 9 "identity 'admin'.*'purge'.*cmk://lab/keys/p1" \
	"the admin's default permissions lack purge: purge exits 9" cmk key purge p1 --yes
ok "policy set admin all,purge" cmk policy set admin all,purge
expect_fail_msg 4 "cmk://lab/keys/nosuch" "purge of an unknown key exits 4" cmk key purge nosuch --yes
expect_fail_msg 4 "cmk://lab/keys/p1.*not deleted" "purge of a live key exits 4" cmk key purge p1 --yes
is "$(lc_versions p1 | wc -l)" 2 "the live key is untouched"

ok "key delete p1" cmk key delete p1
expect_fail_msg 2 "--yes" "purge without --yes and without a terminal exits 2" cmk key purge p1
ok "p1 is still deleted after the refused purge" cmk key show p1 --deleted
is "$(lc_versions p1 all --deleted | wc -l)" 2 "with both versions"
ok "key recover still works after the refused purge" cmk key recover p1
ok "key delete p1 again" cmk key delete p1

# on a terminal (script(1) gives it one) purge asks for the key's name
if command -v script >/dev/null 2>&1; then
	run sh -c 'printf "wrong\n" | script -qec "\"$0\" key purge p1" /dev/null' "$CMK_BIN"
	is "$RC" 2 "on a terminal, purge with the wrong name typed exits 2"
	like "$(cat "$OUT")" "LOST FOR EVER" "the prompt says data is lost for ever"
	like "$(cat "$OUT")" "p1.*not purged" "and says p1 was not purged"
	ok "p1 is still deleted" cmk key show p1 --deleted
else
	skip "purge on a terminal" "script(1) not installed"
fi

ok "key purge p1 --yes" cmk key purge p1 --yes
like "$(cat "$OUT")" "cmk://lab/keys/p1.*purged.*lost" "purge says the key is purged and data lost"
expect_fail_msg 4 "cmk://lab/keys/p1" "show --deleted of a purged key exits 4" cmk key show p1 --deleted
expect_fail_msg 4 "cmk://lab/keys/p1" "recover of a purged key exits 4" cmk key recover p1
expect_fail_msg 4 "cmk://lab/keys/p1" "a second purge exits 4" cmk key purge p1 --yes
ok "key list --deleted" cmk key list --deleted
if grep -qE '^p1[[:space:]]' "$OUT"; then fail "the purged key is not listed as deleted"; else pass "the purged key is not listed as deleted"; fi
why=$(no_trace p1 "${P1[@]}")
is "$why" "" "pkcs11-tool --list-objects shows no object of the purged key"
ok "the name of a purged key can be used again" cmk key create p1
isnt "$(lc_versions p1)" "${P1[1]}" "with a new version"
is "$(lc_versions p1 | wc -l)" 1 "and only that version"

# ------------------------------------------------------------ purge protection
is "$(cmk --json vault show | jq -r .purge_protection)" false "purge protection is off at first"
ok "vault set --purge-protection on" cmk vault set --purge-protection on
is "$(cmk --json vault show | jq -r .purge_protection)" true "purge protection is on"
is "$(cmk --json vault show | jq -r .recovery_level)" Recoverable "recovery level Recoverable (90 days, protected)"
expect_fail_msg 2 "purge protection.*cannot be turned off" "vault set --purge-protection off exits 2" \
	cmk vault set --purge-protection off
is "$(cmk --json vault show | jq -r .purge_protection)" true "purge protection is still on"
ok "vault set --purge-protection on again is harmless" cmk vault set --purge-protection on

ok "key create p2" cmk key create p2
mapfile -t P2 < <(lc_versions p2)
ok "wrap with p2" cmk wrap p2 --in "$T/dek" --out "$T/w2"
ok "key delete p2" cmk key delete p2
pon=$(cmk --json key list --deleted | jq -r '.[] | select(.name == "p2") | .scheduled_purge_on')
expect_fail_msg 17 "cmk://lab/keys/p2.*cannot be purged before $pon.*purge protection" \
	"purge before the retention passed exits 17, naming key and date" cmk key purge p2 --yes
expect_fail_msg 17 "cmk://lab/keys/p2" "purge 89 days later still exits 17" \
	faketime -f '+89d' "$CMK_BIN" key purge p2 --yes
ok "p2 is still there, deleted" cmk key show p2 --deleted
ok "and recoverable" cmk key recover p2
ok "p2 unwraps after recover" cmk unwrap --in "$T/w2" --out "$T/u2"
same_file "$T/u2" "$T/dek" "the DEK"
ok "key delete p2 again" cmk key delete p2
expect_fail_msg 2 "--yes" "after the retention, purge still needs --yes" \
	faketime -f '+91d' "$CMK_BIN" key purge p2
ok "purge 91 days later works (faketime +91d)" faketime -f '+91d' "$CMK_BIN" key purge p2 --yes
why=$(no_trace p2 "${P2[@]}")
is "$why" "" "no object of p2 is left on the token"

# ------------------------------------------------------------ sweep
for k in s1 s2 s3; do ok "key create $k" cmk key create "$k"; done
mapfile -t S1 < <(lc_versions s1)
mapfile -t S2 < <(lc_versions s2)
ok "delete s1 now" cmk key delete s1
ok "delete s2 five days later (faketime +5d)" faketime -f '+5d' "$CMK_BIN" key delete s2
pon1=$(cmk --json key list --deleted | jq -r '.[] | select(.name == "s1") | .scheduled_purge_on')
pon2=$(cmk --json key list --deleted | jq -r '.[] | select(.name == "s2") | .scheduled_purge_on')
is "$(($(date -d "$pon2" +%s) - $(date -d "$pon1" +%s) >= 5 * 86400 - 60))" 1 \
	"s2's purge date is five days after s1's ($pon1, $pon2)"

ok "sweep now" cmk vault sweep
like "$(cat "$OUT")" "\b0 keys purged" "sweep now purges 0 keys"
is "$(cmk key list --deleted | awk '{print $1}' | sort | tr '\n' ' ')" "s1 s2 " "s1 and s2 are still deleted"

expect_fail_msg 9 "identity 'bob'.*'purge'" "a sweep by an identity without purge exits 9" \
	faketime -f '+92d' "$CMK_BIN" --identity bob vault sweep
is "$(cmk key list --deleted | awk '{print $1}' | sort | tr '\n' ' ')" "s1 s2 " "the refused sweep purged nothing"

ok "sweep 92 days later (faketime +92d)" faketime -f '+92d' "$CMK_BIN" vault sweep
like "$(cat "$OUT")" "\b1 key purged" "it purges 1 key"
is "$(cmk key list --deleted | awk '{print $1}' | tr '\n' ' ')" "s2 " "only s2 (not yet past its date) is still deleted"
why=$(no_trace s1 "${S1[@]}")
is "$why" "" "no object of s1 is left on the token"
ok "s3 (never deleted) is untouched" cmk key show s3
ok "a second sweep at +92d" faketime -f '+92d' "$CMK_BIN" vault sweep
like "$(cat "$OUT")" "\b0 keys purged" "the second sweep purges 0 keys (idempotent)"
is "$(cmk key list --deleted | awk '{print $1}' | tr '\n' ' ')" "s2 " "s2 is still deleted"

ok "sweep 96 days later (faketime +96d)" faketime -f '+96d' "$CMK_BIN" vault sweep
like "$(cat "$OUT")" "\b1 key purged" "it purges s2"
is "$(cmk key list --deleted | wc -l)" 0 "no deleted key is left"
why=$(no_trace s2 "${S2[@]}")
is "$why" "" "no object of s2 is left on the token"
ok "and again (faketime +96d)" faketime -f '+96d' "$CMK_BIN" vault sweep
like "$(cat "$OUT")" "\b0 keys purged" "which purges 0 keys"
is "$(cmk key list | awk '{print $1}' | sort | tr '\n' ' ')" "p1 s3 " "the live keys p1 and s3 remain"
why=$(lc_roundtrip "s3/$(lc_versions s3)" "$T/dek")
is "$why" "" "s3 still wraps and unwraps"

ok "audit verify passes" cmk audit verify
done_testing
