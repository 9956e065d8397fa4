#!/bin/bash
# key set: ops, expires, not-before (RFC 3339, dates, relative), on a key or
# one version; what key show reports afterwards.
. "${srcdir:-.}/tests/lib.sh"
lab_new
rand_file "$T/dek" 32

ok "key create k" cmk key create k
v1=$(key_versions k | tail -n 1)
vjson() { cmk --json key show k | jq -r --arg v "$v1" ".version_list[] | select(.version==\$v) | $1"; }

ok "key set --expires 2099-01-31T00:00:00Z" cmk key set k --expires 2099-01-31T00:00:00Z
is "$(vjson '.expires')" "2099-01-31T00:00:00Z" "expires is stored as given"
ok "wrap before a future expiry works" cmk wrap k --in "$T/dek" --out "$T/w"
ok "key set --expires none" cmk key set k --expires none
is "$(vjson '.expires')" "null" "--expires none clears it"

ok "key set --not-before 2001-02-03 (a date)" cmk key set "k/$v1" --not-before 2001-02-03
is "$(vjson '.not_before')" "2001-02-03T00:00:00Z" "a date means midnight UTC"
ok "key set --not-before none" cmk key set k --not-before none

ok "key set --expires +90d" cmk key set k --expires +90d
exp=$(vjson '.expires')
want=$(( $(date +%s) + 90 * 86400 ))
got=$(date -d "$exp" +%s 2>/dev/null || echo 0)
if [ "$got" -gt $((want - 120)) ] 2>/dev/null && [ "$got" -lt $((want + 120)) ]; then
	pass "+90d is 90 days from now"
else
	fail "+90d is 90 days from now" "expires '$exp'"
fi
ok "key set --expires none again" cmk key set k --expires none

expect_fail_msg 2 'key set: --expires .tomorrow. is not a time: give [0-9T:-]+Z, 2027-01-31, now or \+90d \(units s m h d w\), or none \(see .cmk key set --help.\)' "key set --expires with a bad time is refused" cmk key set k --expires tomorrow
expect_fail_msg 2 'key set: --expires .2027-13-40. is not a time: give [0-9T:-]+Z, 2027-01-31, now or \+90d \(units s m h d w\), or none \(see .cmk key set --help.\)' "key set --expires with a bad date is refused" cmk key set k --expires 2027-13-40
expect_fail_msg 2 'unknown key operation .nope. \(known: wrapKey unwrapKey encrypt decrypt sign verify\)' "key set --ops with an unknown op is refused" cmk key set k --ops wrapKey,nope
expect_fail_msg 2 'expires must be later than not-before' "key set with a not-before after expires is refused" \
	cmk key set k --not-before 2030-01-01 --expires 2029-01-01

ok "key set --ops wrapKey,unwrapKey" cmk key set k --ops wrapKey,unwrapKey
is "$(vjson '.key_ops')" "wrapKey,unwrapKey" "ops are shown as set"
ok "key set --ops on one version" cmk key set "k/$v1" --ops wrapKey,unwrapKey,encrypt
is "$(vjson '.key_ops')" "wrapKey,unwrapKey,encrypt" "version ops are shown as set"

# set on one version leaves the other alone
ok "rotate" cmk key rotate k
v2=$(key_versions k | tail -n 1)
ok "key set --expires on version 1 only" cmk key set "k/$v1" --expires 2098-01-01
is "$(cmk --json key show k | jq -r --arg v "$v2" '.version_list[] | select(.version==$v) | .expires')" "null" \
	"version 2 has no expiry"
done_testing
