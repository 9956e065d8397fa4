#!/bin/bash
# tests/token-run.sh KIND TEST... - run foundation tests with their vault
# "lab" on another kind of token (tests/token-kinds.sh): nss (NSS softoken)
# or remote (the lab's SoftHSM token through p11-kit server).
#
# Each test runs unchanged, except that tests/token-kinds.sh is sourced
# right after tests/lib.sh, so lab_new makes the vault on KIND.  The TAP of
# all of them is merged into one stream: points renumbered and prefixed
# with the test's name; a test's bail-out, short run or non-zero exit is a
# failed point of its own.
kind=$1
shift
n=0
for name in "$@"; do
	src=${srcdir:-.}/tests/$name
	if [ ! -f "$src" ] || ! grep -q '^\. "${srcdir:-.}/tests/lib.sh"$' "$src"; then
		n=$((n + 1))
		echo "not ok $n - $name: not a test that sources tests/lib.sh"
		continue
	fi
	tmp=$(mktemp "${TMPDIR:-/tmp}/cmk-kind.XXXXXXXX") || exit 1
	sed '0,/^\. "${srcdir:-.}\/tests\/lib\.sh"$/s//&\n. "${srcdir:-.}\/tests\/token-kinds.sh"/' \
		"$src" >"$tmp"
	out=$(CMK_TEST_TOKEN=$kind bash "$tmp" 2>&1; echo "exit $?")
	printf '%s\n' "$out" | awk -v n="$n" -v name="${name%.sh}" -v kind="$kind" -v count="$tmp.n" '
		/^(not )?ok( |$)/ {
			not = /^not /
			sub(/^(not )?ok *[0-9]* *-? */, "")
			n++; ran++
			printf "%sok %d - %s/%s: %s\n", not ? "not " : "", n, kind, name, $0
			next
		}
		/^1\.\.0 *#/ { sub(/^1\.\.0 *# *(SKIP)? */, ""); n++; skipped = 1
			printf "ok %d - %s/%s # SKIP %s\n", n, kind, name, $0; next }
		/^1\.\.[0-9]+/ { plan = substr($1, 4) + 0; next }
		/^Bail out!/ { n++; bailed = 1; printf "not ok %d - %s/%s: %s\n", n, kind, name, $0; next }
		/^exit [0-9]+$/ { status = $2 + 0; next }
		/^#/ { print; next }
		{ print "# " $0 }
		END {
			if (!skipped && !bailed && plan != ran) {
				n++; printf "not ok %d - %s/%s: planned %d points, ran %d\n", n, kind, name, plan, ran
			}
			if (!skipped && !bailed && status != 0) {
				n++; printf "not ok %d - %s/%s: exit status %d\n", n, kind, name, status
			}
			print n > count
		}'
	n=$(cat "$tmp.n" 2>/dev/null || echo $((n + 1)))
	rm -f "$tmp" "$tmp.n"
done
echo "1..$n"
