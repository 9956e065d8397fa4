#!/bin/bash
# tests/token-run.sh KIND TEST - run the foundation test tests/TEST with its
# vault "lab" on another kind of token (tests/token-kinds.sh): nss (NSS
# softoken) or remote (the lab's SoftHSM token through p11-kit server).
# The test runs unchanged except that tests/token-kinds.sh is sourced right
# after tests/lib.sh, so its lab_new makes the vault on KIND.
kind=$1
src=${srcdir:-.}/tests/$2
if [ ! -f "$src" ] || ! grep -q '^\. "${srcdir:-.}/tests/lib.sh"$' "$src"; then
	echo "Bail out! $src is not a test that sources tests/lib.sh"
	exit 1
fi
tmp=$(mktemp "${TMPDIR:-/tmp}/cmk-kind.XXXXXXXX") || exit 1
sed '0,/^\. "${srcdir:-.}\/tests\/lib\.sh"$/s//&\n. "${srcdir:-.}\/tests\/token-kinds.sh"/' \
	"$src" >"$tmp"
CMK_TEST_TOKEN=$kind bash "$tmp"
rc=$?
rm -f "$tmp"
exit $rc
