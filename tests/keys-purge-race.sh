#!/bin/bash
# Issue 10, case 11: a purge in progress is decided again under the vault
# lock.  One process creates, uses, deletes and purges key p in a loop;
# another runs `vault sweep` meanwhile, which sees p "being purged" and
# finishes purges.  A sweep must never destroy the key p made again after
# the purge it saw: right after `key create p` succeeds, p works.
# Bounded by CMK_RACE_SECONDS.
. "${srcdir:-.}/tests/lib.sh"
lab_new
SECS=${CMK_RACE_SECONDS:-15}
rand_file "$T/dek" 32

ok "policy set admin all,purge" cmk policy set admin all,purge
ok "control: key create p" cmk key create p
ok "control: key delete p" cmk key delete p
ok "control: key purge p" cmk key purge p --yes

end=$((SECONDS + SECS))
(
	while [ $SECONDS -lt $end ]; do
		cmk vault sweep >/dev/null 2>>"$T/sweep.err" || true
	done
) &
created=0 lost=0
while [ $SECONDS -lt $end ]; do
	if cmk key create p >/dev/null 2>>"$T/create.err"; then
		created=$((created + 1))
		if ! cmk wrap p --in "$T/dek" --out "$T/w" 2>"$T/wrap.err" ||
			! cmk unwrap --in "$T/w" -o "$T/u" 2>>"$T/wrap.err"; then
			lost=$((lost + 1))
			diag "key p made #$created does not work: $(tail -1 "$T/wrap.err")"
		fi
	fi
	cmk key delete p >/dev/null 2>&1
	cmk key purge p --yes >/dev/null 2>&1
done
wait
diag "$created keys created and purged"
ok "at least one key was created" test "$created" -gt 0
is "$lost" 0 "no key made after a purge was destroyed by a concurrent sweep"
bad=$(sort -u "$T/sweep.err" 2>/dev/null | head -3)
is "$bad" "" "vault sweep never failed"
done_testing
