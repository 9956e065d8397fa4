#!/bin/bash
# wrap/unwrap round trips: both algorithms, the wrapped-key format and --raw,
# --base64, --in/--out files and pipes, DEK sizes up to the OAEP limits.
. "${srcdir:-.}/tests/lib.sh"
need base64
lab_new
ok "key create k" cmk key create k
v=$(key_versions k | tail -n 1)
kid=cmk://lab/keys/k/$v
rand_file "$T/dek" 32

for alg in RSA-OAEP-256 RSA-OAEP; do
	ok "wrap --alg $alg --in/--out" cmk wrap k --alg "$alg" --in "$T/dek" --out "$T/w.$alg"
	[ -s "$T/w.$alg" ] && ! cmp -s "$T/w.$alg" "$T/dek" && pass "$alg: wrapped file is written and is not the DEK" ||
		fail "$alg: wrapped file is written and is not the DEK"
	grep -qF "k/$v" "$T/w.$alg" && pass "$alg: the wrapped key records the versioned id" ||
		fail "$alg: the wrapped key records the versioned id"
	ok "unwrap (no key id needed) --in/--out" cmk unwrap --in "$T/w.$alg" --out "$T/d.$alg"
	same_file "$T/d.$alg" "$T/dek" "$alg: round trip through files"

	ok "wrap --raw --alg $alg" cmk wrap k --raw --alg "$alg" --in "$T/dek" --out "$T/r.$alg"
	is "$(grep -c "^kid: $kid\$" "$ERR")" 1 "$alg: --raw prints 'kid: <versioned id>' on stderr"
	is "$(stat -c %s "$T/r.$alg")" 256 "$alg: --raw output is the bare 256-byte RSA ciphertext"
	ok "unwrap KID --raw --alg $alg" cmk unwrap "$kid" --raw --alg "$alg" --in "$T/r.$alg" --out "$T/rd.$alg"
	same_file "$T/rd.$alg" "$T/dek" "$alg: raw round trip"
done
# the record is the one docs/wrapped-key-format.md describes
K=${#kid}
for alg in RSA-OAEP-256:01 RSA-OAEP:02; do
	f=$T/w.${alg%:*}
	is "$(od -An -tx1 -N8 "$f" | tr -d ' \n')" "$(printf '434d4b5701%s%04x' "${alg#*:}" "$K")" \
		"${alg%:*}: header is CMKW, version 1, algorithm ${alg#*:}, key id length $K"
	is "$(dd if="$f" bs=1 skip=8 count="$K" status=none)" "$kid" "${alg%:*}: then the versioned key id"
	is "$(od -An -tx1 -j $((8 + K)) -N2 "$f" | tr -d ' \n')" "0100" "${alg%:*}: then the ciphertext length 256"
	is "$(stat -c %s "$f")" $((10 + K + 256)) "${alg%:*}: and the record ends with the ciphertext"
done
expect_fail_msg 14 'the data does not unwrap with key cmk://lab/keys/k/[0-9a-f]{32}' "a raw RSA-OAEP ciphertext does not open as RSA-OAEP-256" \
	cmk unwrap "$kid" --raw --alg RSA-OAEP-256 --in "$T/r.RSA-OAEP"
ok "default algorithm is RSA-OAEP-256 (raw)" cmk wrap k --raw --in "$T/dek" --out "$T/r.default"
ok "which unwraps as RSA-OAEP-256" cmk unwrap "$kid" --raw --alg RSA-OAEP-256 --in "$T/r.default" --out "$T/rd.default"
same_file "$T/rd.default" "$T/dek" "default raw round trip"
expect_fail_msg 2 'unknown algorithm .RSA-OAEP-999. \(known: RSA-OAEP-256 RSA-OAEP RSA-OAEP-384 RSA-OAEP-512 RSA1_5\)' "an unknown --alg is refused" cmk wrap k --alg RSA-OAEP-999 --in "$T/dek"

# wrapping is randomised
ok "wrap twice" cmk wrap k --raw --in "$T/dek" --out "$T/r.again"
if cmp -s "$T/r.again" "$T/r.default"; then fail "two wraps of one DEK differ (OAEP is randomised)"; else pass "two wraps of one DEK differ (OAEP is randomised)"; fi

# pipes: stdin -> stdout
cmk wrap k <"$T/dek" 2>"$T/e1" | cmk unwrap >"$T/d.pipe" 2>"$T/e2"
is "${PIPESTATUS[*]}" "0 0" "wrap | unwrap through pipes exits 0 0"
same_file "$T/d.pipe" "$T/dek" "pipe round trip"
cmk wrap k --raw <"$T/dek" 2>/dev/null | cmk unwrap "$kid" --raw >"$T/d.rawpipe" 2>/dev/null
same_file "$T/d.rawpipe" "$T/dek" "raw pipe round trip"

# base64
ok "wrap --base64" cmk wrap k --base64 --in "$T/dek" --out "$T/w.b64"
if base64 -d "$T/w.b64" >"$T/w.bin" 2>/dev/null && [ -s "$T/w.bin" ]; then pass "--base64 output is base64"; else fail "--base64 output is base64"; fi
ok "unwrap --base64" cmk unwrap --base64 --in "$T/w.b64" --out "$T/d.b64"
same_file "$T/d.b64" "$T/dek" "base64 round trip"
ok "the decoded base64 unwraps as binary" cmk unwrap --in "$T/w.bin" --out "$T/d.b64bin"
same_file "$T/d.b64bin" "$T/dek" "base64 is just an encoding of the binary format"
cmk wrap k --raw --base64 <"$T/dek" 2>/dev/null | base64 -d >"$T/r.b64" 2>/dev/null
is "$(stat -c %s "$T/r.b64")" 256 "--raw --base64 is the base64 of the ciphertext"
cmk wrap k --raw --base64 <"$T/dek" 2>/dev/null | cmk unwrap "$kid" --raw --base64 >"$T/d.rawb64" 2>/dev/null
same_file "$T/d.rawb64" "$T/dek" "raw base64 pipe round trip"

# DEK sizes, up to the OAEP limits of a 2048-bit key (256 - 2*hLen - 2)
for n in 1 16 24 32 64 190; do
	rand_file "$T/dek.$n" "$n"
	cmk wrap k --in "$T/dek.$n" 2>/dev/null | cmk unwrap >"$T/d.$n" 2>/dev/null
	same_file "$T/d.$n" "$T/dek.$n" "RSA-OAEP-256 round trip of a $n-byte DEK"
done
rand_file "$T/dek.214" 214
cmk wrap k --alg RSA-OAEP --in "$T/dek.214" 2>/dev/null | cmk unwrap >"$T/d.214" 2>/dev/null
same_file "$T/d.214" "$T/dek.214" "RSA-OAEP round trip of a 214-byte DEK"

# key ids: versioned, full, after rotate
ok "wrap with the full versionless id" cmk wrap cmk://lab/keys/k --raw --in "$T/dek" --out "$T/r.full"
like "$(cat "$ERR")" "kid: $kid" "the full versionless id resolves to the current version"
ok "rotate" cmk key rotate k
ok "wrap with an explicit old version" cmk wrap "k/$v" --raw --in "$T/dek" --out "$T/r.old"
like "$(cat "$ERR")" "kid: $kid" "an explicit version is used even when not current"
ok "unwrap of the old wrapped file after rotate" cmk unwrap --in "$T/w.RSA-OAEP-256" --out "$T/d.after"
same_file "$T/d.after" "$T/dek" "old data opens after rotation"
done_testing
