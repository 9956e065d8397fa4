#!/bin/bash
# cmk bench without a vault (--module --token --pin-source): the PKCS#11
# limits of any token on session objects only.  Checked: a complete report
# of every operation SoftHSM offers (with --hash SHA1, the only OAEP hash
# SoftHSM 2.6 does), the OAEP operations skipped with the token's reason at
# SHA-256, --procs 2, a token named by URI and a module by p11-kit name,
# nothing left on the token (pkcs11-tool -O before and after), bad options.
# No speed is asserted.
. "${srcdir:-.}/tests/lib.sh"
need python3 pkcs11-tool
lab_new
ok "key create k" cmk key create k

before=$(count_objects)
isnt "$before" 0 "the lab's token has objects to count"
tok=(--module "$SOFTHSM_MODULE" --token cmk-lab --pin-source "file:$LAB/pin")
short=(--duration 0.2 --warmup 0)

ok "bench on the token, every operation" cmk bench "${tok[@]}" "${short[@]}" --threads 1,2 \
	--hash SHA1 --json --plot "$T/t.svg"
cp "$OUT" "$T/all.json"
python3 - "$T/all.json" <<'PY' >"$T/check.out" 2>&1 && pass "every operation is measured" || { fail "every operation is measured"; diag_file check "$T/check.out"; }
import json, sys
r = json.load(open(sys.argv[1]))
assert r["vault"] == "" and r["token"] == "cmk-lab" and r["temporary_key"] is True, r
assert r["hash"] == "SHA1" and r["key_bits"] == 2048 and r["failed"] == [] and r["skipped"] == [], r
res = {x["op"]: x for x in r["results"]}
tok = ["p11-encrypt-oaep", "p11-decrypt-oaep", "p11-encrypt-raw", "p11-decrypt-raw", "p11-wrap",
       "p11-unwrap", "p11-aes-gcm-16K", "p11-keygen"]
assert sorted(res) == sorted(tok + ["ossl-encrypt", "ossl-decrypt", "ossl-aes-gcm-16K"]), sorted(res)
for op in tok:
    assert res[op]["class"] == "hsm", op
for op, x in res.items():
    assert [p["threads"] for p in x["points"]] == [1, 2], op
    for p in x["points"]:
        assert p["ops"] > 0 and p["ops_per_s"] > 0 and p["p50_us"] <= p["p99_us"] <= p["max_us"], (op, p)
assert res["p11-unwrap"]["cpu_limit"] == "ossl-decrypt" and res["p11-unwrap"]["points"][0]["vs_cpu"] > 0
assert res["p11-aes-gcm-16K"]["bytes"] == 16384 and res["p11-aes-gcm-16K"]["points"][0]["mb_per_s"] > 0
PY
is "$(count_objects)" "$before" "nothing is left on the token"
python3 -c 'import sys, xml.etree.ElementTree as E; t = E.parse(sys.argv[1]).getroot(); assert len(t.findall(".//{http://www.w3.org/2000/svg}polyline")) >= 8' "$T/t.svg" &&
	pass "--plot draws the token's operations" || fail "--plot draws the token's operations"

ok "table" cmk bench "${tok[@]}" "${short[@]}" --threads 1 --ops p11-unwrap --hash SHA1
like "$(cat "$OUT")" "no vault \(session objects only\), token cmk-lab" "the table says there is no vault"
like "$(cat "$OUT")" "p11-unwrap: C_UnwrapKey" "and shows the operation"

ok "csv" cmk bench "${tok[@]}" "${short[@]}" --threads 1 --ops p11-unwrap --hash SHA1 --csv
is "$(cut -d, -f1 "$OUT" | tail -n +2 | tr '\n' ' ')" "p11-unwrap ossl-decrypt " \
	"one CSV row per point: p11-unwrap and its CPU limit"
is "$(awk -F, 'NR > 1 && NF != 19' "$OUT" | wc -l)" 0 "every CSV row has 19 fields"

# SHA-256: SoftHSM 2.6 refuses OAEP with it; raw RSA and AES-GCM still run.
ok "bench at SHA-256" cmk bench "${tok[@]}" "${short[@]}" --threads 1 --json \
	--ops p11-decrypt-oaep,p11-unwrap,p11-decrypt-raw
python3 - "$OUT" <<'PY' && pass "OAEP skipped with the token's reason" || fail "OAEP skipped with the token's reason"
import json, sys
r = json.load(open(sys.argv[1]))
sk = {s["op"]: s["reason"] for s in r["skipped"]}
res = [x["op"] for x in r["results"]]
if "p11-decrypt-oaep" in res:        # a SoftHSM that does OAEP-SHA256
    assert "p11-unwrap" in res, r
else:
    assert "refuses CKM_RSA_PKCS_OAEP with SHA256" in sk["p11-decrypt-oaep"], sk
    assert "refuses C_WrapKey" in sk["p11-unwrap"] or "refuses CKM_RSA" in sk["p11-unwrap"], sk
assert "p11-decrypt-raw" in res and r["failed"] == [], r
PY

ok "--procs 2, module by p11-kit name, token by URI" cmk bench --module softhsm2 \
	--token "pkcs11:token=cmk-lab" --pin-source "file:$LAB/pin" "${short[@]}" --threads 1 \
	--procs 2 --hash SHA1 --json --ops p11-decrypt-oaep,p11-unwrap
python3 - "$OUT" <<'PY' && pass "--procs 2: each process on its own session keys" || fail "--procs 2: each process on its own session keys"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["procs"] == 2 and r["failed"] == [], r
ops = [x["op"] for x in r["results"]]
assert "p11-decrypt-oaep" in ops and "p11-unwrap" in ops, ops
for x in r["results"]:
    assert all(p["procs"] == 2 and p["ops"] > 0 for p in x["points"]), x
PY
is "$(count_objects)" "$before" "nothing is left on the token after --procs 2"

expect_fail_msg 2 "go together" "--module without --token is refused" \
	cmk bench --module "$SOFTHSM_MODULE"
expect_fail_msg 2 "--pin-source is the PIN of --token" "--pin-source without --token is refused" \
	cmk bench --pin-source "file:$LAB/pin"
expect_fail_msg 2 "not with --token" "--key with --token is refused" \
	cmk bench "${tok[@]}" --key k
expect_fail_msg 2 "not with --vault" "--vault with --token is refused" \
	cmk bench "${tok[@]}" --vault lab
expect_fail_msg 2 "--ops wrap: nothing to measure without a vault" \
	"--ops of a vault's operation is refused without a vault" cmk bench "${tok[@]}" --ops wrap
expect_fail_msg 12 "has no token nope" "an unknown token label fails with exit 12" \
	cmk bench --module "$SOFTHSM_MODULE" --token nope --pin-source "file:$LAB/pin" --ops p11-keygen
expect_fail_msg 13 "$T/none.so" "a missing module fails with exit 13" \
	cmk bench --module "$T/none.so" --token cmk-lab --pin-source "file:$LAB/pin"
expect_fail_msg 2 "not a PKCS#11 URI" "a malformed token URI is refused" \
	cmk bench --module "$SOFTHSM_MODULE" --token "pkcs11:token=%zz" --pin-source "file:$LAB/pin"
echo 0000 >"$T/badpin"
chmod 600 "$T/badpin"
expect_fail_msg 11 "C_Login" "a wrong PIN fails with exit 11" \
	cmk bench --module "$SOFTHSM_MODULE" --token cmk-lab --pin-source "file:$T/badpin" \
	"${short[@]}" --threads 1 --ops p11-keygen
is "$(count_objects)" "$before" "nothing is left on the token after the failures"
done_testing
