#!/bin/bash
# Audit records never hold key material or PINs (docs/audit.md): after
# wraps and unwraps of known DEKs (allowed, denied and failing ones), the
# log holds neither the user PIN nor the SO PIN nor any DEK, in hex (either
# case), base64 or raw, and neither does anything cmk printed on stderr.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/lifecycle-lib.sh"
need base64 od
lab_new
log=$LAB/lab.audit.log
: >"$T/stderr.all"
keep_err() { cat "$ERR" >>"$T/stderr.all"; }

ok "key create k" cmk key create k
ok "key create k2" cmk key create k2
ok "policy set svc get,wrapKey" cmk policy set svc get,wrapKey
for i in 1 2 3 4; do
	rand_file "$T/dek$i" 32
	ok "wrap DEK $i" cmk wrap k --in "$T/dek$i" --out "$T/w$i"
	keep_err
	ok "unwrap DEK $i" cmk unwrap --in "$T/w$i" --out "$T/u$i"
	keep_err
	same_file "$T/u$i" "$T/dek$i" "DEK $i round-trips"
	ok "wrap --raw DEK $i" cmk wrap k --raw --alg RSA-OAEP --in "$T/dek$i" --out "$T/r$i"
	keep_err
	ok "unwrap --raw DEK $i" cmk unwrap "$(jq -r 'select(.op == "wrapKey") | .key' "$log" | tail -1)" \
		--raw --alg RSA-OAEP --in "$T/r$i" --out "$T/ru$i"
	keep_err
	same_file "$T/ru$i" "$T/dek$i" "DEK $i round-trips raw"
done
ok "wrap DEK 1 as svc" cmk --identity svc wrap k --in "$T/dek1" --out "$T/sw"
keep_err
expect_fail_msg 9 'access denied: identity .svc. lacks permission .unwrapKey. on key cmk://lab/keys/k/[0-9a-f]{32}' "unwrap as svc is denied" cmk --identity svc unwrap --in "$T/w1"
keep_err
ok "disable k" cmk key disable k
expect_fail_msg 6 'key cmk://lab/keys/k/[0-9a-f]{32} is disabled' "unwrap with the disabled key fails" cmk unwrap --in "$T/w2"
keep_err
ok "enable k" cmk key enable k
flip_byte "$T/r3" 40
expect_fail_msg 14 'the data does not unwrap with key cmk://lab/keys/k/[0-9a-f]{32}' "a damaged raw ciphertext does not unwrap" \
	cmk unwrap "$(jq -r 'select(.op == "wrapKey") | .key' "$log" | tail -1)" --raw --alg RSA-OAEP --in "$T/r3"
keep_err
expect_fail_msg 14 'the data does not unwrap with key cmk://lab/keys/k2/[0-9a-f]{32}' "unwrapping k's blob with k2 fails 14" cmk unwrap "cmk://lab/keys/k2/$(lc_versions k2)" --raw --alg RSA-OAEP --in "$T/r4"
keep_err
ok "key delete k2" cmk key delete k2
ok "audit verify" cmk audit verify
ok "the log has records of all of it" test "$(wc -l <"$log")" -ge 25

# secret_in FILE SECRET-FILE: the secret appears in FILE in some encoding
secret_in() {
	local f=$1 s=$2 hex b64
	hex=$(od -An -tx1 -v "$s" | tr -d ' \n')
	b64=$(base64 -w0 <"$s")
	grep -qiF -- "$hex" "$f" && { echo "hex"; return 0; }
	grep -qF -- "$b64" "$f" && { echo "base64"; return 0; }
	grep -qF -- "$(base64 -w0 <"$s" | tr '+/' '-_' | tr -d '=')" "$f" && { echo "base64url"; return 0; }
	# raw bytes: the file's bytes in hex hold the secret's hex
	od -An -tx1 -v "$f" | tr -d ' \n' | grep -qF -- "$hex" && { echo "raw"; return 0; }
	return 1
}

for f in "$log" "$T/stderr.all"; do
	what=$([ "$f" = "$log" ] && echo "the audit log" || echo "cmk's stderr")
	for i in 1 2 3 4; do
		if enc=$(secret_in "$f" "$T/dek$i"); then fail "$what holds DEK $i ($enc)"; else pass "$what does not hold DEK $i"; fi
	done
	if enc=$(secret_in "$f" "$LAB/pin"); then fail "$what holds the user PIN ($enc)"; else pass "$what does not hold the user PIN"; fi
	if grep -qF -- "$(cat "$LAB/pin")" "$f"; then fail "$what holds the user PIN text"; else pass "$what does not hold the user PIN text"; fi
	if grep -qF -- "$(cat "$LAB/so-pin")" "$f"; then fail "$what holds the SO PIN"; else pass "$what does not hold the SO PIN"; fi
done
# the checks can fail: a file that does hold them is caught
cat "$T/dek2" "$LAB/pin" >"$T/control"
od -An -tx1 -v "$T/dek3" | tr -d ' \n' >>"$T/control"
if enc=$(secret_in "$T/control" "$T/dek2"); then pass "(control) raw DEK found by the check ($enc)"; else fail "(control) raw DEK found by the check"; fi
if enc=$(secret_in "$T/control" "$T/dek3"); then pass "(control) hex DEK found by the check ($enc)"; else fail "(control) hex DEK found by the check"; fi
if grep -qF -- "$(cat "$LAB/pin")" "$T/control"; then pass "(control) PIN found by the check"; else fail "(control) PIN found by the check"; fi
done_testing
