#!/bin/bash
# cmk bench: a very short run of every operation on a fresh lab checked for a
# complete, well-formed report (JSON, CSV, table, SVG), the clean-up of what
# it made (no key, policy or token object left), --procs, who makes the
# run's keys, and bad options.  No speed is asserted.
. "${srcdir:-.}/tests/lib.sh"
need python3 pkcs11-tool
lab_new
ok "key create k" cmk key create k

# The objects on the token: count_objects (lib.sh).
# No key named bench-..., deleted or not, and no policy of a run.
no_bench_keys() {
	run cmk key list
	is "$RC" 0 "$1: cmk key list succeeds"
	is "$(grep -c bench- "$OUT")" 0 "$1: no key of the run is left"
	run cmk key list --deleted
	is "$RC" 0 "$1: cmk key list --deleted succeeds"
	is "$(grep -c bench- "$OUT")" 0 "$1: and none deleted but not purged"
	run cmk policy show
	is "$RC" 0 "$1: cmk policy show succeeds"
	is "$(grep -c bench- "$OUT")" 0 "$1: no policy of the run is left"
}
before=$(count_objects)
cp "$T/objects" "$T/objects.before"
# on a mismatch, which objects are new (pkcs11-tool's lines)
objects_diff() {
	[ "$(count_objects)" = "$before" ] ||
		diag "$(diff "$T/objects.before" "$T/objects" | grep '^[<>]' | head -30)"
}

# A fresh lab, as the README shows it: no `policy set admin all,purge`.  The
# admin lets the run make and purge its keys as an identity of its own.
ok "bench --json of every operation, on a fresh lab" \
	cmk bench --json --duration 0.2 --threads 1,2 --warmup 0 --sizes 4K --plot "$T/b.svg"
cp "$OUT" "$T/all.json"
python3 - "$T/all.json" <<'EOF' >"$T/check.out" 2>&1 && pass "every figure is present and positive" || { fail "every figure is present and positive"; diag_file check "$T/check.out"; }
import json, sys
r = json.load(open(sys.argv[1]))
for k in ("vault", "token", "module", "key", "alg", "hash", "unwrap_mechanism", "openssl"):
    assert isinstance(r[k], str) and r[k], k
assert r["vault"] == "lab" and r["token"] == "cmk-lab" and r["temporary_key"] is True
assert r["made_as"].startswith("bench-") and r["key"].startswith("cmk://lab/keys/" + r["made_as"] + "/"), r["key"]
assert r["key_bits"] == 2048 and r["alg"] == "RSA-OAEP-256" and r["hash"] == "SHA256"
assert r["threads"] == [1, 2] and r["procs"] == 1 and r["cpus"] >= 1
assert r["duration_s"] == 0.2 and r["warmup_s"] == 0
assert r["failed"] == [], r["failed"]
res = {x["op"]: x for x in r["results"]}
core = ["wrap", "unwrap", "key-create", "key-rotate", "p11-decrypt", "p11-encrypt",
        "p11-keygen", "ossl-decrypt", "ossl-encrypt", "ossl-encrypt-logged", "log-append",
        "ossl-aes-gcm-16K", "ossl-aes-gcm-buffer-4K", "seal-4K", "open-4K",
        "open-cached-4K", "put-4K", "get-4K", "put-cached-4K", "get-cached-4K"]
optional = ["unwrap-provider"]
skipped = {s["op"]: s["reason"] for s in r["skipped"]}
for op in core:
    assert op in res, "missing " + op
for op in optional:
    assert op in res or "cmk.so not found" in skipped.get(op, ""), op
assert set(res) | set(skipped) == set(core + optional), sorted(set(res) | set(skipped))
for op, x in res.items():
    assert x["class"] in ("cmk", "hsm", "cpu") and x["what"], op
    assert [p["threads"] for p in x["points"]] == [1, 2], op
    for p in x["points"]:
        for f in ("ops", "seconds", "ops_per_s", "p50_us", "p90_us", "p99_us", "max_us",
                  "cpu_us_per_op", "scaling"):
            assert isinstance(p[f], (int, float)) and p[f] > 0, (op, f, p)
        assert p["p50_us"] <= p["p90_us"] <= p["p99_us"] <= p["max_us"], (op, p)
        assert p["procs"] == 1
        assert abs(p["ops_per_s"] - p["ops"] / p["seconds"]) <= 1e-6 * p["ops_per_s"] + 1e-9
        if x["bytes"]:
            assert p["mb_per_s"] > 0, (op, p)
        for lim, f in (("hsm_limit", "vs_hsm"), ("cpu_limit", "vs_cpu")):
            if lim in x:
                assert x[lim] in res, (op, x[lim])
                assert p[f] > 0, (op, f, p)
            else:
                assert f not in p, (op, f)
    assert x["points"][0]["scaling"] == 1, op
assert res["unwrap"]["hsm_limit"] == "p11-decrypt" and res["unwrap"]["cpu_limit"] == "ossl-decrypt"
assert res["wrap"]["cpu_limit"] == "ossl-encrypt"
EOF

no_bench_keys "after the run"
is "$(count_objects)" "$before" "as many objects on the token as before the run"
objects_diff
python3 -c 'import sys, xml.etree.ElementTree as E; t = E.parse(sys.argv[1]).getroot(); assert t.tag.endswith("svg"); assert len(t.findall(".//{http://www.w3.org/2000/svg}polyline")) >= 2' "$T/b.svg" &&
	pass "--plot writes an SVG with the curves" || fail "--plot writes an SVG with the curves"

ok "bench --csv --repeat 2" cmk bench --csv --ops unwrap --duration 0.1 --threads 1 --warmup 0 --repeat 2
is "$(head -n 1 "$OUT" | tr ',' '\n' | wc -l)" 19 "CSV header has 19 columns"
is "$(cut -d, -f1 "$OUT" | tail -n +2 | tr '\n' ' ')" "unwrap p11-decrypt ossl-decrypt " \
	"one CSV row per point: unwrap and its two limits"
is "$(awk -F, 'NR > 1 && NF != 19' "$OUT" | wc -l)" 0 "every CSV row has 19 fields"

# --repeat: each point keeps its fastest round and lists every round's
# rate; its ratio to a limit is of the two fastest rounds.
ok "bench --json --repeat 3" cmk bench --json --ops wrap --duration 0.1 --threads 1,2 --warmup 0 --repeat 3
python3 - "$OUT" <<'EOF' >"$T/rounds.out" 2>&1 && pass "--repeat 3: three rounds per point, the fastest kept, ratios of the fastest rounds" || { fail "--repeat 3: three rounds per point, the fastest kept, ratios of the fastest rounds"; diag_file rounds "$T/rounds.out"; }
import json, sys
r = json.load(open(sys.argv[1]))
assert r["repeat"] == 3 and r["failed"] == [], r
res = {x["op"]: x for x in r["results"]}
assert set(res) == {"wrap", "p11-encrypt", "ossl-encrypt"}, sorted(res)
for x in res.values():
    for p in x["points"]:
        rounds = p["rounds_ops_per_s"]
        assert len(rounds) == 3 and min(rounds) > 0, (x["op"], p)
        assert p["ops_per_s"] == max(rounds), (x["op"], p)
for i, p in enumerate(res["wrap"]["points"]):
    q = res["ossl-encrypt"]["points"][i]
    assert p["threads"] == q["threads"]
    want = max(p["rounds_ops_per_s"]) / max(q["rounds_ops_per_s"])
    assert abs(p["vs_cpu"] - want) <= 1e-9 * want, (p["vs_cpu"], want)
EOF
ok "bench --repeat 1: no rounds listed" cmk bench --json --ops wrap --duration 0.1 --threads 1 --warmup 0 --no-limits
is "$(jq '[.results[].points[] | has("rounds_ops_per_s")] | any' "$OUT")" false "a single round lists no rounds"
ok "bench table --repeat 2" cmk bench --ops wrap --duration 0.1 --threads 1 --warmup 0 --repeat 2
like "$(cat "$OUT")" "the fastest of 2 rounds" "the table says each figure is the fastest round"
expect_fail_msg 2 "--repeat 101 is not between 1 and 100" "--repeat above 100 is refused" \
	cmk bench --ops wrap --repeat 101

ok "bench table" cmk bench --ops wrap --duration 0.1 --threads 1 --warmup 0 --key-size 3072 --hash SHA1
like "$(cat "$OUT")" "RSA-3072, RSA-OAEP" "the table names the key size and algorithm"
like "$(cat "$OUT")" "vs ossl-encrypt" "and the limit each figure is compared with"

ok "bench --procs 2" cmk bench --json --ops unwrap --procs 2 --threads 1 --duration 0.2 --warmup 0
python3 - "$OUT" <<'EOF' && pass "--procs 2: the points are of 2 processes" || fail "--procs 2: the points are of 2 processes"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["procs"] == 2 and r["failed"] == []
for x in r["results"]:
    for p in x["points"]:
        assert p["procs"] == 2 and p["ops"] > 0 and p["ops_per_s"] > 0 and p["cpu_us_per_op"] > 0
EOF
no_bench_keys "after the --procs run"
is "$(count_objects)" "$before" "as many objects on the token as before the --procs run"

# The audit log's limits: an unnamed file beside the log, nothing left
# there; with --procs the processes append to it under one mutex.
run cmk --json vault show
logdir=$(dirname "$(jq -r .audit_log "$OUT")")
ls -A "$logdir" | grep -v '\.audit\.log' >"$T/logdir.before"
ok "bench --ops log-append,ossl-encrypt-logged --procs 2" \
	cmk bench --json --ops log-append,ossl-encrypt-logged --procs 2 --threads 1,2 --duration 0.2 --warmup 0
python3 - "$OUT" <<'EOF' >"$T/logged.out" 2>&1 && pass "log-append and ossl-encrypt-logged: CPU limits, figures of 2 processes" || { fail "log-append and ossl-encrypt-logged: CPU limits, figures of 2 processes"; diag_file logged "$T/logged.out"; }
import json, sys
r = json.load(open(sys.argv[1]))
assert r["failed"] == [] and r["skipped"] == [], r
res = {x["op"]: x for x in r["results"]}
assert set(res) == {"log-append", "ossl-encrypt-logged"}, sorted(res)
for x in res.values():
    assert x["class"] == "cpu" and "record" in x["what"], x
    for p in x["points"]:
        assert p["procs"] == 2 and p["ops"] > 0 and p["ops_per_s"] > 0, (x["op"], p)
EOF
ls -A "$logdir" | grep -v '\.audit\.log' >"$T/logdir.after"
is "$(diff "$T/logdir.before" "$T/logdir.after")" "" "nothing is left in the audit log's directory"

# where no file can be made beside the log (here its directory is
# missing), both are skipped with the reason, and the run goes on
sed "s|^pin_source = .*|&\naudit_log = $T/no-such-dir/audit.log|" "$CMK_CONF" >"$T/nodir.conf"
grep -q "^audit_log = $T/no-such-dir/audit.log" "$T/nodir.conf" || bail "a configuration with audit_log in a missing directory"
CMK_CONF=$T/nodir.conf run cmk bench --json --ops log-append,ossl-encrypt-logged --threads 1 --duration 0.1 --warmup 0
is "$RC" 0 "log-append beside a log in a missing directory: the run succeeds"
is "$(jq -r '[.skipped[] | .op + ": " + .reason] | sort | join("; ")' "$OUT")" \
	"log-append: no file can be made in the audit log's directory $T/no-such-dir: No such file or directory; ossl-encrypt-logged: no file can be made in the audit log's directory $T/no-such-dir: No such file or directory" \
	"log-append beside a log in a missing directory: both skipped, the directory and the reason named"

# An identity that may not purge and is not the admin: no temporary key.
ok "policy set bob all (no purge)" cmk policy set bob all
expect_fail_msg 2 "bob may not purge.*--key" "no temporary key for an identity that may not purge" \
	cmk --identity bob bench --ops wrap --duration 0.1 --threads 1 --warmup 0
ok "with --key it runs, and skips what would make keys" \
	cmk --identity bob bench --key k --ops wrap,key-create --duration 0.1 --threads 1 --warmup 0 --json
python3 - "$OUT" <<'PY' && pass "key-create is skipped, with the reason" || fail "key-create is skipped, with the reason"
import json, sys
r = json.load(open(sys.argv[1]))
sk = {s["op"]: s["reason"] for s in r["skipped"]}
assert "may not purge" in sk["key-create"], sk
assert [x["op"] for x in r["results"]] == ["wrap", "p11-encrypt", "ossl-encrypt"], r["results"]
assert r["key"].startswith("cmk://lab/keys/k/") and not r["temporary_key"] and "made_as" not in r
PY
# An identity that may purge makes the run's keys itself.
ok "policy set admin all,purge" cmk policy set admin all,purge
ok "bench as an identity that may purge" cmk bench --json --ops wrap,key-create --duration 0.1 --threads 1 --warmup 0
is "$(jq -r .made_as "$OUT")" admin "the keys are made as the admin itself"
no_bench_keys "after the run as admin"

# Progress: a line per measurement on stderr when it is a terminal, else quiet.
ok "bench with stderr to a file" cmk bench --ops wrap --threads 1,2 --duration 0.1 --warmup 0
is "$(wc -c <"$ERR")" 0 "quiet when stderr is not a terminal"
if command -v script >/dev/null 2>&1; then
	rc=0
	script -qec "'$CMK_BIN' bench --ops wrap --threads 1,2 --duration 0.1 --warmup 0 >/dev/null" \
		/dev/null >"$T/tty.out" 2>&1 </dev/null || rc=$?
	is "$rc" 0 "bench on a terminal (script) succeeds"
	is "$(grep -cE '^cmk bench: (wrap|p11-encrypt|ossl-encrypt), [12] threads?: [0-9.]+ ops/s' "$T/tty.out")" 6 \
		"on a terminal: a line per measurement (3 operations x 2 thread counts)"
else
	skip "progress on a terminal" "script(1) not installed"
fi

expect_fail_msg 2 "--threads: 0" "--threads 0 is refused" cmk bench --threads 0
expect_fail_msg 2 "not a number" "--threads x is refused" cmk bench --threads 1,x
expect_fail_msg 2 "not both" "--duration and --count together are refused" cmk bench --duration 1 --count 5
expect_fail_msg 2 "--hash: 'MD5'" "--hash MD5 is refused" cmk bench --hash MD5
expect_fail_msg 2 "nothing to measure on a vault" "--ops of a token-only operation is refused on a vault" \
	cmk bench --ops p11-unwrap
expect_fail_msg 2 "unknown operation 'nope'" "--ops nope is refused" cmk bench --ops wrap,nope
expect_fail_msg 2 "2048, 3072 or 4096" "--key-size 1024 is refused" cmk bench --key-size 1024
expect_fail_msg 2 "not both" "--json with --csv is refused" cmk bench --json --csv
expect_fail_msg 2 "not a size" "--sizes 4Q is refused" cmk bench --sizes 4Q
expect_fail_msg 2 "unit must be" "--duration 2h is refused" cmk bench --duration 2h
expect_fail_msg 4 "nope" "--key of a missing key fails with not found" cmk bench --key nope --ops wrap
expect_fail_msg 19 "cannot write in" "--plot into a missing directory fails before the run" \
	cmk bench --ops wrap --plot "$T/none/b.svg"
no_file "$T/none" "and makes nothing"
# A vault that keeps identities as objects (docs/identities.md): the run
# makes its own identity for its policy, and removes both.
ok "identity create someone (identities become vault objects)" cmk identity create someone
ok "bench of key operations with identity objects" \
	cmk bench --json --duration 0.2 --threads 1 --warmup 0 --ops wrap,unwrap
run cmk identity list
is "$RC" 0 "cmk identity list succeeds"
is "$(grep -c bench- "$OUT")" 0 "no identity of the run is left"
no_bench_keys "with identity objects"

done_testing
