#!/bin/bash
# cmk bench interrupted: Ctrl-C (SIGINT) or SIGTERM in the middle of a run
# removes what the run made (its keys, their policy, the resource) before
# the command dies of the signal; what a run killed with SIGKILL left is
# removed by the next run.  Counted with cmk key list (also --deleted),
# cmk policy show and pkcs11-tool -O.
. "${srcdir:-.}/tests/lib.sh"
need pkcs11-tool
lab_new
softhsm_guard_init
ok "key create k" cmk key create k

# bench_things: names of keys (live and deleted), policies and identities
# of runs (a resource's system-assigned identity is res-NAME).
bench_things() {
	{
		cmk key list || echo "key list failed"
		cmk key list --deleted || echo "key list --deleted failed"
		cmk policy show || echo "policy show failed"
		cmk identity list || echo "identity list failed"
	} 2>&1 | grep -E 'bench-|failed' | awk '{ print $1 }' | sort -u | tr '\n' ' '
}
# Start a long run in the background and wait until it has made its keys.
# The program itself (not the cmk function of tests/lib.sh, so $! is its
# process), with job control on: a background job of a shell without it
# starts with SIGINT ignored, and cmk bench leaves an ignored signal ignored.
start_run() {
	set -m
	"$CMK_BIN" bench --ops unwrap,put,key-create --threads 1 --warmup 0 --duration 30 \
		>"$T/run.out" 2>"$T/run.err" &
	PID=$!
	set +m
	for _ in $(seq 300); do
		cmk key list 2>/dev/null | grep -q '^svc-bench-' && return 0
		kill -0 $PID 2>/dev/null || break
		sleep 0.1
	done
	bail "the run did not make its keys: $(cat "$T/run.err")"
}
before=$(count_objects)

for sig in INT TERM; do
	start_run
	isnt "$(bench_things)" "" "SIG$sig: the run has made its keys"
	kill -$sig $PID
	rc=0
	wait $PID || rc=$?
	code=$(( 128 + $(kill -l $sig) ))
	is "$rc" "$code" "SIG$sig: cmk bench dies of the signal after cleaning up"
	like "$(cat "$T/run.err")" "interrupted by .*what the run made is removed" \
		"SIG$sig: and says so"
	is "$(wc -c <"$T/run.out")" 0 "SIG$sig: and prints no partial report"
	is "$(bench_things)" "" "SIG$sig: no key or policy of the run is left"
	is "$(count_objects)" "$before" "SIG$sig: as many objects on the token as before"
	is "$(ls -d "${TMPDIR:-/tmp}"/cmk-bench-*-$PID-* 2>/dev/null)" "" "SIG$sig: the resource directory is removed"
done

# SIGKILL leaves the run's things behind; the next run removes them.
start_run
kill -KILL $PID
wait $PID 2>/dev/null
softhsm_guard_check
left=$(bench_things)
like "$left" "bench-[0-9a-f]{8}-$PID-" "SIGKILL leaves the run's keys and policy"
ok "the next run" cmk bench --ops wrap --threads 1 --warmup 0 --duration 0.1
cp "$ERR" "$T/next.err"
left=$(bench_things)
is "$left" "" "removes what the killed run left"
[ -z "$left" ] || { diag_file "the next run's stderr" "$T/next.err"; diag "$(ls -laR "${TMPDIR:-/tmp}"/cmk-bench-* 2>&1 | head -30)"; }
is "$(count_objects)" "$before" "as many objects on the token as before"
is "$(ls -d "${TMPDIR:-/tmp}"/cmk-bench-*-$PID-* 2>/dev/null)" "" "and its resource directory and liveness mark"

# A run killed inside its resource's create, after the service key was made
# and before the resource's state was saved, leaves a directory that is no
# resource and a key that only its resource may delete (the key is the
# resource's, src/lib/vault/owner.c).  Made here as such a create leaves it:
# a resource of a run that is gone, its state file only a temporary file
# (killed inside the save).  The next run takes the resource over (a create
# of that name does) and removes it.
# The run's PID is this shell's: alive, as a killed run's PID is once
# another process has it (a busy host reuses PIDs within seconds); what
# tells the run is gone is its liveness mark, TMPDIR/cmk-TAG.alive, that no
# process holds locked any more (src/bench/keys.c).
host=$(hostname | tr -d '\n' | sha256sum | cut -c1-8)
tag=bench-$host-$$-0badf00d
dir=$(mktemp -d "${TMPDIR:-/tmp}/cmk-$tag-XXXXXX")
# the vault the run was on, in its mark and its directory
# (src/bench/bench_int.h, BENCH_VAULT_FILE)
vault_id=$(printf 'lab\n%s\n_' "$(cmk --json vault show | jq -r .audit_log)")
printf '%s' "${vault_id%_}" >"${TMPDIR:-/tmp}/cmk-$tag.alive"
printf '%s' "${vault_id%_}" >"$dir/vault"
ok "a resource of a run that is gone" cmk resource create $tag --dir "$dir"
mv "$dir/$tag/resource.json" "$dir/$tag/.tmp-resource.json-Zz9Yy8" # its save cut short
expect_fail_msg 4 "resource $tag does not exist" "without its state it is no resource" \
	cmk resource get $tag x --dir "$dir"
like "$(bench_things)" "svc-$tag" "and its service key is left"
# A run on another vault of this host (another lab) is not the one to clean
# it up, and leaves the dead run's mark: without it, the next run here would
# take the dead run's (reused) PID for a live run's.
CMK_VALGRIND=0 cmk lab init "$T/lab2" >/dev/null 2>"$T/lab2.err" </dev/null ||
	bail "cmk lab init $T/lab2: $(cat "$T/lab2.err")"
SOFTHSM2_CONF=$T/lab2/softhsm2.conf CMK_CONF=$T/lab2/cmk.conf \
	ok "a run on another vault" cmk bench --ops key-create --threads 1 --warmup 0 --duration 0.1
is "$(ls "${TMPDIR:-/tmp}/cmk-$tag.alive" 2>/dev/null)" "${TMPDIR:-/tmp}/cmk-$tag.alive" \
	"leaves the mark of this vault's dead run"
ok "the next run" cmk bench --ops wrap --threads 1 --warmup 0 --duration 0.1
cp "$ERR" "$T/next.err"
left=$(bench_things)
is "$left" "" "removes the service key of the resource the killed run was making, its PID reused"
[ -z "$left" ] || diag_file "the next run's stderr" "$T/next.err"
is "$(count_objects)" "$before" "as many objects on the token as before"
is "$(ls -d "$dir" 2>/dev/null)" "" "and its resource directory"
is "$(ls "${TMPDIR:-/tmp}/cmk-$tag.alive" 2>/dev/null)" "" "and the run's liveness mark"

# A dead run's directory of another vault (another lab on the same host,
# or another vault of the configuration) is not this run's to take over:
# its resource and key are in that vault.
tag2=bench-$host-$$-0ddba11f
dir2=$(mktemp -d "${TMPDIR:-/tmp}/cmk-$tag2-XXXXXX")
mkdir -p "$dir2/$tag2/objects"
printf 'other\n/elsewhere/other.audit.log\n' >"$dir2/vault"
: >"${TMPDIR:-/tmp}/cmk-$tag2.alive"
ok "a run beside another vault's dead run" cmk bench --ops wrap --threads 1 --warmup 0 --duration 0.1
is "$(bench_things)" "" "makes nothing in this vault for it"
is "$(count_objects)" "$before" "as many objects on this token as before"
is "$(ls -d "$dir2/$tag2" 2>/dev/null)" "$dir2/$tag2" "and leaves its directory to a run on its vault"
rm -rf "$dir2" "${TMPDIR:-/tmp}/cmk-$tag2.alive"
done_testing
