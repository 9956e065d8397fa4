#!/bin/bash
# Soft-delete retention (docs/semantics.md §1, §2): 7..90 days, enforced at init
# (6 and 91 exit 2, and leave the token uninitialised); the recovery level
# words of `vault show` for 90/30 days with purge protection on/off; the
# scheduled purge date is deleted-on + retention, and purge protection
# holds exactly until then (libfaketime moves the clock, not cmk).
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/lifecycle-lib.sh"
need faketime softhsm2-util
lab_new

is "$(cmk --json vault show | jq -r '.retention_days, .purge_protection, .recovery_level' | tr '\n' ' ')" \
	"90 false Recoverable+Purgeable " "a default lab: 90 days, unprotected, Recoverable+Purgeable"
ok "vault show" cmk vault show
like "$(cat "$OUT")" "recovery level: +Recoverable\+Purgeable" "vault show prints the recovery level in words"

# bare_vault NAME: a fresh, uninitialised token NAME in the lab's token
# directory, and $T/NAME/cmk.conf for it (own audit log and lock file).
bare_vault() {
	local name=$1 pin
	pin=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
	printf '%s' "$pin" >"$T/$name.pin"
	chmod 600 "$T/$name.pin"
	softhsm2-util --init-token --free --label "$name" --so-pin "so-$pin" --pin "$pin" >/dev/null 2>&1 ||
		bail "softhsm2-util could not make token $name"
	mkdir -p "$T/$name"
	write_conf "$T/$name/cmk.conf" token="$name" pin_source="file:$T/$name.pin"
	lc_conf_set identity admin "$T/$name/cmk.conf"
}
# on NAME CMD...: run cmk on vault NAME
on() {
	local name=$1
	shift
	CMK_CONF=$T/$name/cmk.conf cmk "$@"
}
vinfo() { on "$1" --json vault show | jq -r "$2"; }

bare_vault t30p
expect_fail_msg 2 "retention.*6.*7 and 90" "vault init --retention 6 exits 2" on t30p vault init --retention 6
expect_fail_msg 2 "retention.*91.*7 and 90" "vault init --retention 91 exits 2" on t30p vault init --retention 91
expect_fail_msg 2 "retention" "vault init --retention 0 exits 2" on t30p vault init --retention 0
expect_fail_msg 4 "not initialised" "the refused inits left the vault uninitialised" on t30p vault show
ok "vault init --retention 30 --purge-protection" on t30p vault init --retention 30 --purge-protection
is "$(vinfo t30p '.retention_days, .purge_protection, .recovery_level' | tr '\n' ' ')" \
	"30 true CustomizedRecoverable " "30 days, protected: CustomizedRecoverable"
expect_fail_msg 5 "already initialised" "a second vault init exits 5" on t30p vault init --retention 60
is "$(vinfo t30p .retention_days)" 30 "and changes nothing"

bare_vault t30
ok "vault init --retention 30" on t30 vault init --retention 30
is "$(vinfo t30 '.retention_days, .purge_protection, .recovery_level' | tr '\n' ' ')" \
	"30 false CustomizedRecoverable+Purgeable " "30 days, unprotected: CustomizedRecoverable+Purgeable"
ok "vault set --purge-protection on (t30)" on t30 vault set --purge-protection on
is "$(vinfo t30 .recovery_level)" CustomizedRecoverable "turning protection on makes it CustomizedRecoverable"

bare_vault t90p
ok "vault init --purge-protection (default retention)" on t90p vault init --purge-protection
is "$(vinfo t90p '.retention_days, .purge_protection, .recovery_level' | tr '\n' ' ')" \
	"90 true Recoverable " "90 days, protected: Recoverable"

bare_vault t7p
ok "vault init --retention 7 --purge-protection (the minimum)" on t7p vault init --retention 7 --purge-protection
is "$(vinfo t7p '.retention_days, .recovery_level' | tr '\n' ' ')" "7 CustomizedRecoverable " "7 days: CustomizedRecoverable"
bare_vault t90
ok "vault init --retention 90 (the maximum)" on t90 vault init --retention 90
is "$(vinfo t90 .recovery_level)" Recoverable+Purgeable "90 days given explicitly: Recoverable+Purgeable"

expect_fail_msg 2 "retention.*6" "lab init --retention 6 exits 2" cmk lab init "$T/lab6" --retention 6
no_file "$T/lab6" "and makes no lab"
expect_fail_msg 2 "retention.*91" "lab init --retention 91 exits 2" cmk lab init "$T/lab91" --retention 91
no_file "$T/lab91" "and makes no lab"

# the scheduled purge date follows the retention; protection holds until it
for v in t7p:7 t30p:30; do
	name=${v%%:*} days=${v#*:}
	ok "policy set admin all,purge ($name)" on "$name" policy set admin all,purge
	ok "key create k ($name)" on "$name" key create k
	ok "key delete k ($name)" on "$name" key delete k
	j=$(on "$name" --json key list --deleted)
	don=$(jq -r '.[0].deleted_on' <<<"$j") pon=$(jq -r '.[0].scheduled_purge_on' <<<"$j")
	is "$(($(date -d "$pon" +%s) - $(date -d "$don" +%s)))" $((days * 86400)) \
		"$name: scheduled-purge-on = deleted-on + $days days"
	expect_fail_msg 17 "cmk://lab/keys/k.*$pon" "$name: purge at +$((days - 1))d exits 17" \
		env CMK_CONF="$T/$name/cmk.conf" faketime -f "+$((days - 1))d" "$CMK_BIN" key purge k --yes
	ok "$name: sweep at +$((days - 1))d" env CMK_CONF="$T/$name/cmk.conf" faketime -f "+$((days - 1))d" "$CMK_BIN" vault sweep
	like "$(cat "$OUT")" "\b0 keys purged" "$name: which purges nothing"
	ok "$name: k is still deleted" on "$name" key show k --deleted
	if [ "$days" = 7 ]; then
		ok "$name: purge at +8d works" env CMK_CONF="$T/$name/cmk.conf" faketime -f '+8d' "$CMK_BIN" key purge k --yes
	else
		ok "$name: sweep at +31d" env CMK_CONF="$T/$name/cmk.conf" faketime -f '+31d' "$CMK_BIN" vault sweep
		like "$(cat "$OUT")" "\b1 key purged" "$name: which purges k"
	fi
	expect_fail_msg 4 "key cmk://lab/keys/k does not exist" "$name: k is gone" on "$name" key show k --deleted
	ok "$name: audit verify" on "$name" audit verify
done
done_testing
