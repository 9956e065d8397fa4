# tests/fault-lib.sh - the lab behind the fault module (tests/faultmod.c),
# for tests/faults-lifecycle.sh and tests/interrupted-changes.sh.  Source
# after tests/lib.sh and lab_new.

# fault_lab: $FAULT_CONF, the same vault, audit log and lock file through
# the fault module; $T/dek; a copy of the lab as it is now, which restore
# brings back
fault_lab() {
	: "${CMK_FAULTMOD:?run the tests with make check}"
	[ -f "$CMK_FAULTMOD" ] || bail "$CMK_FAULTMOD not built"
	FAULT_CONF=$T/fault.conf
	write_conf "$FAULT_CONF" module="$CMK_FAULTMOD" "audit_log = $LAB/lab.audit.log" \
		"lock_file = $LAB/lab.lock"
	rand_file "$T/dek" 32
	cp -a "$LAB" "$T/base"
}

# fault_due N: whether the Nth fault point of a command (from 0) is tried:
# every one, or with CMK_FAULT_EVERY=K every Kth, the first included (the
# sanitizer run of tests/run-all, where each run costs three times as much,
# takes every third point; the other phases take them all)
fault_due() { [ $(($1 % ${CMK_FAULT_EVERY:-1})) = 0 ]; }
# fault_points: "each" or "every Kth" (for the tests' descriptions)
fault_points() {
	case ${CMK_FAULT_EVERY:-1} in
	1) echo each ;;
	2) echo "every second" ;;
	3) echo "every third" ;;
	*) echo "every ${CMK_FAULT_EVERY}th" ;;
	esac
}

restore() { rm -rf "$LAB" && cp -a "$T/base" "$LAB" && SHOWN=0; }

# fault_keys_state KEY...: each key as the metadata says (enabled, deleted,
# the versions' flags), ids of new versions left out; "KEY: exit N" when
# it cannot be read.  With FAULT_SHOW_DIR set, each key's `key show --json`
# (live or deleted) is kept there as KEY.json (removed when unreadable).
fault_keys_state() {
	local k rc files=() lines=() out=() i=0
	for k in "$@"; do
		rc=0
		cmk --json key show $k >"$T/s.$k.json" 2>/dev/null || rc=$?
		[ $rc = 10 ] && { rc=0; cmk --json key show $k --deleted >"$T/s.$k.json" 2>/dev/null || rc=$?; }
		if [ -n "${FAULT_SHOW_DIR:-}" ]; then
			rm -f "$FAULT_SHOW_DIR/$k.json"
			[ $rc = 0 ] && cp "$T/s.$k.json" "$FAULT_SHOW_DIR/$k.json"
		fi
		if [ $rc = 0 ]; then
			files+=("$T/s.$k.json")
			out+=("")
		else
			out+=("$k: exit $rc")
		fi
	done
	# one jq for every key, a line each in order (a jq costs about 20 ms
	# of CPU, twice a cmk command: this runs after every fault)
	[ ${#files[@]} = 0 ] ||
		mapfile -t lines < <(jq -c '{name, enabled, deleted, v: [.version_list[] | .enabled]}' "${files[@]}")
	for k in "${out[@]}"; do
		if [ -z "$k" ]; then
			printf '%s\n' "${lines[i]:-unreadable JSON}"
			i=$((i + 1))
		else
			printf '%s\n' "$k"
		fi
	done
}
