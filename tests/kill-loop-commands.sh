#!/bin/bash
# Kill loop over every command (issue 10): each cmk command -- the
# read-only ones (key list/show, vault show/list, policy show, audit
# show/verify, wrap, unwrap, encrypt, decrypt, resource get/list/show) and
# every one that changes something (key create/import/rotate/enable/
# disable/set/delete/recover/purge, policy set/remove, resource create/put/
# rm/set-key/refresh, vault set/sweep) -- is interrupted with SIGKILL,
# SIGTERM or SIGINT (at random) at a random instant of its run (within the
# time it takes uninterrupted).  After each:
#   - the state is "before" or "after": the vault's keys, versions, flags,
#     tags, policies and resources (timestamps aside) equal the state before
#     the command or the state the same command gives when it runs to its
#     end (on a copy of the lab made just before); a read-only command
#     leaves exactly the state before;
#   - 0 lost keys: every version listed (live or deleted) has its private
#     key on the token;
#   - 0 lost tokens: the token is present (tests/kill-lib.sh: a
#     token.object emptied by SoftHSM is restored and counted, or fails with
#     CMK_TOKEN_LOSS=fail) and every usable version of every key wraps and
#     unwraps;
#   - no partial output: an output file is absent or complete;
#   - audit verify passes.
# Runs for $CMK_KILL_SECONDS (default 60) and until every command was tried
# (at most 150 iterations); CMK_KILL_COUNT=1000 runs until 1000 commands
# were killed instead (the long form, outside the suite).
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/lifecycle-lib.sh"
. "${srcdir:-.}/tests/kill-lib.sh"
need pkcs11-tool timeout openssl
[ "$CMK_VALGRIND" = 1 ] && { echo "1..0 # SKIP not a valgrind test"; exit 0; }
lab_new
export CMK_RESOURCE_DIR=$T/res
mkdir -p "$CMK_RESOURCE_DIR"
rand_file "$T/dek" 32
rand_file "$T/data" 3000
chk() { timeout 60 "$CMK_BIN" "$@"; }

ok "policy set admin all,purge" cmk policy set admin all,purge
# a customer-managed key for a resource must live in a purge-protected vault
ok "vault set --purge-protection on" cmk vault set --purge-protection on
ok "key create A" cmk key create A
ok "key rotate A" cmk key rotate A
ok "key create B" cmk key create B
ok "wrap with A" cmk wrap A --in "$T/dek" --out "$T/w"
ok "encrypt with A" cmk encrypt --key A --in "$T/data" --out "$T/env"
ok "resource create r1" cmk resource create r1
ok "resource put r1 o0" cmk resource put r1 o0 --in "$T/data"
ok "policy set p0 get" cmk policy set p0 get
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/imp.pem" 2>/dev/null ||
	bail "openssl cannot make an RSA key"
kill_guard_init

# snapshot [KEY]: the vault's state as sorted lines (tests/torture.c,
# --snapshot), in $T/snap.state; its problems ("lost VERSION": no private
# key on the token; "unusable KID: why" for the usable versions of KEY) in
# $T/snap.problems.  Status 1 with the reason on stdout when it cannot read.
snapshot() {
	local rc=0
	timeout 120 "$CMK_TESTS_BIN/torture" --snapshot ${1:+--check-key "$1"} >"$T/snap.out" 2>"$T/snap.err" || rc=$?
	sed -i "s#$CMK_RESOURCE_DIR#RESDIR#g" "$T/snap.out"
	grep -vE '^(lost|unusable) ' "$T/snap.out" >"$T/snap.state"
	grep -E '^(lost|unusable) ' "$T/snap.out" >"$T/snap.problems"
	if [ $rc != 0 ]; then
		echo "the snapshot failed (exit $rc): $(grep '^error' "$T/snap.out" | head -3) $(head -c 300 "$T/snap.err")"
		return 1
	fi
	cat "$T/snap.state"
}

# norm_new BEFORE OTHER: OTHER with every 32-hex id that BEFORE lacks
# replaced by NEW (version ids of a rotate differ from run to run)
norm_new() {
	KNOWN=$(grep -oE '[0-9a-f]{32}' <<<"$1" | sort -u) perl -pe '
		BEGIN { %k = map { $_ => 1 } split /\n/, $ENV{KNOWN} }
		s/\b([0-9a-f]{32})\b/$k{$1} ? $1 : "NEW"/ge' <<<"$2" | sort
}

# shadow_after CMD...: run CMD to its end on a copy of the lab; its snapshot
shadow_after() {
	local sh=$T/shadow
	rm -rf "$sh"
	mkdir -p "$sh"
	cp -a "$LAB"/. "$sh"/
	cp -a "$CMK_RESOURCE_DIR" "$sh/res"
	sed -i "s#$LAB#$sh#g" "$sh/cmk.conf" "$sh/softhsm2.conf"
	(
		export CMK_CONF=$sh/cmk.conf SOFTHSM2_CONF=$sh/softhsm2.conf CMK_RESOURCE_DIR=$sh/res
		t0=$(date +%s%N)
		cd "$T" && timeout 60 "$CMK_BIN" "$@" >/dev/null 2>"$T/shadow.err"
		echo "$?" >"$T/shadow.rc"
		echo $((($(date +%s%N) - t0) / 1000000)) >"$T/shadow.ms"
		snapshot
	)
}

# checks: lost keys and unusable versions (from the last snapshot), audit verify
checks() {
	[ -s "$T/snap.problems" ] && { head -5 "$T/snap.problems"; return 1; }
	chk audit verify >/dev/null 2>"$T/c.err" || { echo "audit verify: $(cat "$T/c.err")"; return 1; }
	return 0
}

# partial_output CMD: an output file of a killed read command is absent or complete
partial_output() {
	local f
	for f in "$T"/x.*; do
		[ -e "$f" ] || continue
		case $f in
		*.w) chk unwrap --in "$f" --out "$T/pw.d" 2>/dev/null && cmp -s "$T/pw.d" "$T/dek" ||
			{ echo "wrap left $f that does not unwrap to the DEK"; return 1; } ;;
		*.d) cmp -s "$f" "$T/dek" || { echo "unwrap left a partial $f ($(wc -c <"$f") bytes)"; return 1; } ;;
		*.e) chk decrypt --in "$f" --out "$T/pe.p" 2>/dev/null && cmp -s "$T/pe.p" "$T/data" ||
			{ echo "encrypt left $f that does not decrypt to the data"; return 1; } ;;
		*.p | *.o) cmp -s "$f" "$T/data" || { echo "a partial $f ($(wc -c <"$f") bytes)"; return 1; } ;;
		esac
	done
	return 0
}

# the commands; READ ones must leave the state exactly as before
READ=(
	"key list" "key list --deleted" "key show A" "--json key show A" "vault show" "vault list"
	"policy show" "audit show" "audit verify" "wrap A --in $T/dek --out $T/x.w"
	"unwrap --in $T/w --out $T/x.d" "encrypt --key A --in $T/data --out $T/x.e"
	"decrypt --in $T/env --out $T/x.p" "resource get r1 o0 --out $T/x.o" "resource list r1"
	"resource show r1" "policy show p0" "key show B --deleted" "--json audit show"
)
CHANGE=(
	"key create" "key import" "key rotate" "key disable-version" "key enable-version"
	"key disable" "key enable" "key set" "key delete" "key recover" "key purge"
	"policy set" "policy remove" "resource create" "resource put" "resource rm"
	"resource set-key" "resource set-service" "resource refresh" "vault set" "vault sweep"
	"vault init"
)
declare -A seen
n_kinds=$((${#READ[@]} + ${#CHANGE[@]}))

# make_cmd I: the command line of kind I (state-dependent parts filled in)
make_cmd() {
	local i=$1 v nv st
	if [ "$i" -lt ${#READ[@]} ]; then
		kind=${READ[$i]}
		read -ra cmd <<<"$kind"
		return
	fi
	kind=${CHANGE[$((i - ${#READ[@]}))]}
	v=$(lc_versions A | shuf -n 1)
	nv=$(lc_versions A | wc -l)
	st=$(chk key show B >/dev/null 2>&1 && echo live || echo deleted)
	case $kind in
	"key create") cmd=(key create "c$iter") ;;
	"key import") cmd=(key import "i$iter" --pem "$T/imp.pem") ;;
	"key rotate") if [ "$nv" -lt 5 ]; then cmd=(key rotate A); else cmd=(key disable A); fi ;;
	"key disable-version") cmd=(key disable "A/$v") ;;
	"key enable-version") cmd=(key enable "A/$v") ;;
	"key disable") cmd=(key disable A) ;;
	"key enable") cmd=(key enable A) ;;
	"key set") cmd=(key set "A/$v" --tag "n=$iter") ;;
	"key delete") cmd=(key delete B); [ "$st" = deleted ] && cmd=(key recover B) ;;
	"key recover") cmd=(key recover B); [ "$st" = live ] && cmd=(key delete B) ;;
	"key purge")
		# a key made for it, deleted: the purge is refused (purge
		# protection; tests/kill-loop-lifecycle.sh kills real purges)
		chk key create "p$iter" >/dev/null 2>&1 && chk key delete "p$iter" >/dev/null 2>&1
		cmd=(key purge "p$iter" --yes) ;;
	"policy set") cmd=(policy set p0 "$(shuf -n 3 -e $LC_PERMS | paste -sd, -)") ;;
	"policy remove") cmd=(policy remove p0)
		chk policy show p0 >/dev/null 2>&1 || chk policy set p0 get >/dev/null 2>&1 ;;
	"resource create") cmd=(resource create "r$iter") ;;
	"resource put") cmd=(resource put r1 "o$((RANDOM % 3))" --in "$T/data") ;;
	"resource rm") cmd=(resource rm r1 "o$((1 + RANDOM % 2))")
		chk resource put r1 "${cmd[3]}" --in "$T/data" >/dev/null 2>&1 ;;
	"resource set-key") cmd=(resource set-key r1 --key cmk://lab/keys/A) ;;
	"resource set-service") cmd=(resource set-key r1 --service-managed) ;;
	"resource refresh") cmd=(resource refresh r1) ;;
	"vault set")
		if [ $((RANDOM % 2)) = 0 ]; then cmd=(vault set --audit-fail-closed on); else cmd=(vault set --audit-fail-closed off); fi ;;
	"vault sweep") cmd=(vault sweep) ;;
	"vault init") cmd=(vault init) ;;   # refused: the vault exists
	esac
}

KILL_DEADLINE=$((SECONDS + CMK_KILL_SECONDS))
KILL_TOTAL=0
HEALED=0
iter=0
declare -A by_sig read_ms
before=$(snapshot) || bail "the first snapshot failed: $before"
diag "the state, as compared:" "$before"
while kill_more || { [ ${#seen[@]} -lt $n_kinds ] && [ $iter -lt 150 ]; }; do
	iter=$((iter + 1))
	# every kind in turn (so any run of n_kinds iterations tries each), signals
	# and delays at random
	make_cmd $(((iter - 1) % n_kinds))
	rm -f "$T"/x.*
	ro=0
	[ $(((iter - 1) % n_kinds)) -lt ${#READ[@]} ] && ro=1
	before=$(snapshot) || { fail "#$iter: snapshot before ${cmd[*]}" "$before"; continue; }
	if [ $ro = 0 ]; then
		after=$(shadow_after "${cmd[@]}") || { fail "#$iter: the command on a copy of the lab: ${cmd[*]}" "$after"; continue; }
		after=$(norm_new "$before" "$after")
	fi
	sig=$(kill_signal)
	# a random instant within the command's run: the time it took on the
	# copy of the lab (a change), or its last uninterrupted run (a read)
	if [ $ro = 0 ]; then dur=$(cat "$T/shadow.ms"); else dur=${read_ms[$kind]:-400}; fi
	[ "$dur" -ge 20 ] 2>/dev/null || dur=20
	ms=$((RANDOM % dur))
	(cd "$T" && kill_run "$sig" "$ms" "$CMK_BIN" "${cmd[@]}" >/dev/null 2>"$T/k.err"; echo "$KILL_RC $KILL_KILLED $KILL_MS $KILL_HOW" >"$T/k.res")
	read -r rc killed took how <"$T/k.res"
	seen[$kind]=1
	[ $ro = 1 ] && [ "$killed" = 0 ] && read_ms[$kind]=$took
	if [ "$killed" = 1 ]; then
		KILL_TOTAL=$((KILL_TOTAL + 1))
		by_sig[$sig]=$((${by_sig[$sig]:-0} + 1))
	fi
	desc="#$iter: cmk ${cmd[*]} ($how)"
	kill_guard_check "cmk ${cmd[*]} ($how)" || { fail "$desc: the token survives" "$KILL_GUARD_WHY"; continue; }
	now=$(snapshot '*') || { fail "$desc: the vault reads back" "$now"; continue; }
	if [ $ro = 1 ]; then
		[ "$now" = "$before" ] || { fail "$desc: a read-only command leaves the state as it was" \
			"$(diff <(echo "$before") <(echo "$now") | head -20)"; continue; }
		why=$(partial_output) || { fail "$desc: no partial output" "$why"; continue; }
	else
		nown=$(norm_new "$before" "$now")
		if [ "$nown" != "$before" ] && [ "$nown" != "$after" ]; then
			fail "$desc: the state is before or after" \
				"the command on a copy of the lab exited $(cat "$T/shadow.rc"); diff before/now:" \
				"$(diff <(echo "$before") <(echo "$nown") | head -15)" "diff after/now:" \
				"$(diff <(echo "$after") <(echo "$nown") | head -15)"
			continue
		fi
	fi
	# SIGKILL in the middle of a change may leave the token stricter than
	# the metadata (never looser); the next change heals it first
	if [ "$killed" = 1 ] && [ "$sig" = KILL ] && [ -s "$T/snap.problems" ] &&
		! grep -qv "no copy of it that may decrypt" "$T/snap.problems"; then
		why=$(lc_next_change) || { fail "$desc: the next change heals what the kill left" "$why"; continue; }
		snapshot '*' >/dev/null || { fail "$desc: the vault reads back after the heal"; continue; }
		HEALED=$((HEALED + 1))
	fi
	why=$(checks) || { fail "$desc: no lost key, every key usable, audit verifies" "$why"; continue; }
	pass "$desc: state before or after, no key or token lost"
	# keep A usable: enable it and its newest version now and then
	if [ $((iter % 10)) = 0 ]; then
		chk key enable A >/dev/null 2>&1
		chk key enable "A/$(lc_versions A | tail -1)" >/dev/null 2>&1
	fi
done
diag "$iter commands, $KILL_TOTAL killed (SIGKILL ${by_sig[KILL]:-0}, SIGTERM ${by_sig[TERM]:-0}, SIGINT ${by_sig[INT]:-0})"
diag "token.object emptied by a kill: $KILL_TOKEN_LOST times ($CMK_TOKEN_LOSS)"
diag "a change killed by SIGKILL left the token stricter, healed by the next change: $HEALED times"
missing=
for k in "${READ[@]}" "${CHANGE[@]}"; do [ -n "${seen[$k]:-}" ] || missing="$missing [$k]"; done
is "$missing" "" "every command was tried"
if [ "$KILL_TOTAL" -gt 0 ]; then pass "commands were killed mid-way ($KILL_TOTAL)"; else fail "commands were killed mid-way"; fi
done_testing
