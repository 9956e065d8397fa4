#!/bin/bash
# The vault's audit log does not depend on which configuration opened the
# vault, and lost records are never silent (issue 10 item 9, docs/audit.md):
# `vault init` records the log's path in the vault's settings, so a second
# configuration without audit_log writes to the same log and one chain
# stays whole; `vault set --audit-log` moves it for every configuration.
# With audit_log in a missing directory (best effort) a change exits 0 but
# warns on stderr once per process, `vault show` says records cannot be
# written and how many the token counts as lost, and `audit verify` exits
# 23 instead of calling the log intact.
. "${srcdir:-.}/tests/lib.sh"
lab_new
log=$LAB/lab.audit.log

ok "key create k" cmk key create k
is "$(cmk --json vault show | jq -r '.audit_log + " " + .audit_log_from')" "$log vault" \
	"vault init recorded the log's path in the vault"
mkdir "$T/other"
write_conf "$T/other/cmk.conf"
ok "key rotate k through a second configuration file" env CMK_CONF="$T/other/cmk.conf" "$CMK_BIN" key rotate k
no_file "$T/other/lab.audit.log" "no second log next to the second configuration"
is "$(tail -1 "$log" | jq -r .op)" rotate "the record is in the vault's log"
is "$(CMK_CONF=$T/other/cmk.conf cmk --json vault show | jq -r .audit_log)" "$log" "both configurations show one log"
ok "audit verify (first configuration)" cmk audit verify
ok "audit verify (second configuration)" env CMK_CONF="$T/other/cmk.conf" "$CMK_BIN" audit verify

# the vault's log moved for every configuration
mkdir "$T/logs"
ok "vault set --audit-log" cmk vault set --audit-log "$T/logs/vault.log"
ok "key disable k (second configuration)" env CMK_CONF="$T/other/cmk.conf" "$CMK_BIN" key disable k
ok "key enable k (first configuration)" cmk key enable k
is "$(jq -r .op "$T/logs/vault.log" | tr '\n' ' ')" "disable enable " "both wrote to the new log"
is "$(head -1 "$T/logs/vault.log" | jq -r .prev)" "$(tail -1 "$log" | jq -r .mac)" "which continues the chain"
ok "audit verify over the old and the new log" cmk audit verify "$log" "$T/logs/vault.log"

# a configuration of its own still wins (and `vault show` says where from)
write_conf "$T/bad.conf" "audit_log = $T/missing/dir/lab.audit.log"
is "$(CMK_CONF=$T/bad.conf cmk --json vault show | jq -r .audit_log_from)" configuration "audit_log of the configuration is used"
run env CMK_CONF="$T/bad.conf" "$CMK_BIN" key rotate k
is "$RC" 0 "best effort: key rotate with the log in a missing directory exits 0"
like "$(cat "$ERR")" "warning: vault lab: audit records are not being written: .*missing/dir" "and warns on stderr"
is "$(grep -c warning "$ERR")" 1 "once"
run env CMK_CONF="$T/bad.conf" "$CMK_BIN" vault show
like "$(cat "$OUT")" "audit WARNING: +records cannot be written: .*missing/dir.*cannot be created" "vault show says records cannot be written"
like "$(cat "$OUT")" "token counts 1 records that could not be written" "and how many the token counts as lost"
no_file "$T/missing" "cmk made no directory"
expect_fail_msg 23 "token counts 1 audit records that could not be written" \
	"audit verify of the vault's logs: not intact, records were lost" cmk audit verify "$log" "$T/logs/vault.log"
ok "audit verify --checkpoint --accept-lost acknowledges the loss" cmk audit verify --checkpoint "$T/cp" --accept-lost "$log" "$T/logs/vault.log"
like "$(cat "$ERR")" "warning: the token counts 1 audit records that could not be written; accepted" "and says what it accepted"
ok "key rotate k (log writable)" cmk key rotate k
ok "audit verify --checkpoint: intact after the acknowledged loss" cmk audit verify --checkpoint "$T/cp" "$T/logs/vault.log"
run env CMK_CONF="$T/bad.conf" "$CMK_BIN" key disable k
is "$RC" 0 "another best-effort change with the log missing"
expect_fail_msg 23 "token counts 1 audit records" "a new loss after the checkpoint is reported" \
	cmk audit verify --checkpoint "$T/cp" "$T/logs/vault.log"
done_testing
