#!/bin/bash
# Bad wrapped input: truncated, extra bytes, bit flips, another key's
# ciphertext, garbage, and DEKs larger than OAEP allows (CMK_E_TOO_LARGE 15).
# Never any output.  docs/wrapped-key-format.md: a record of the wrong length
# or with a bad header is CMK_E_FORMAT (24); a ciphertext that does not open,
# or is not exactly the modulus size, is CMK_E_DECRYPT (14).
. "${srcdir:-.}/tests/lib.sh"
lab_new
rand_file "$T/dek" 32
ok "key create a" cmk key create a
ok "key create b" cmk key create b
va=$(key_versions a | tail -n 1)
vb=$(key_versions b | tail -n 1)
ok "wrap with a" cmk wrap a --in "$T/dek" --out "$T/w"
ok "wrap --raw with a" cmk wrap a --raw --in "$T/dek" --out "$T/r"
size=$(stat -c %s "$T/w")

bad() { # CODE REGEX DESC FILE [unwrap args...]
	local code=$1 re=$2 desc=$3 f=$4
	shift 4
	rm -f "$T/out"
	expect_fail_msg "$code" "$re" "$desc" cmk unwrap "$@" --in "$f" --out "$T/out"
	no_file "$T/out" "no output file: $desc"
}

# --- the wrapped-key format
head -c $((size - 1)) "$T/w" >"$T/w.trunc1"
bad 24 'wrapped key is truncated \(314 bytes, expected 315\)' "wrapped key truncated by one byte" "$T/w.trunc1"
head -c 3 "$T/w" >"$T/w.trunc3"
bad 24 'not a cmk wrapped key \(no CMKW magic\)' "wrapped key truncated to 3 bytes" "$T/w.trunc3"
: >"$T/w.empty"
bad 2 'the wrapped key \(.*/w\.empty\) is empty' "empty wrapped key" "$T/w.empty"
{ cat "$T/w"; printf 'X'; } >"$T/w.extra"
bad 24 'wrapped key is followed by extra bytes \(316 bytes, expected 315\)' "wrapped key with one extra byte" "$T/w.extra"
cp "$T/w" "$T/w.flip-last"; flip_byte "$T/w.flip-last" -1
bad 14 'the data does not unwrap with key cmk://lab/keys/a/[0-9a-f]{32}' "wrapped key with a flipped bit in the ciphertext" "$T/w.flip-last"
cp "$T/w" "$T/w.flip-first"; flip_byte "$T/w.flip-first" 0
bad 24 'not a cmk wrapped key \(no CMKW magic\)' "wrapped key with a flipped bit in the first byte" "$T/w.flip-first"
rand_file "$T/garbage" 300
bad 24 'not a cmk wrapped key \(no CMKW magic\)' "300 random bytes" "$T/garbage"
head -c $((size - 256)) "$T/w" >"$T/w.noct"
bad 24 'wrapped key is truncated \(59 bytes, expected 315\)' "wrapped key with its ciphertext cut off" "$T/w.noct"
# a record saying key b around key a's ciphertext
# docs/wrapped-key-format.md: the record holds the versioned key id as text
# (a format change that drops it must fail here, not skip)
if grep -qF "cmk://lab/keys/a/$va" "$T/w"; then
	pass "the wrapped-key record names the versioned key id"
else
	fail "the wrapped-key record names the versioned key id" "cmk://lab/keys/a/$va not found in $T/w"
fi
# key b refuses it by range or by padding (either names key b)
sed "s/$va/$vb/; s#/keys/a/#/keys/b/#" "$T/w" >"$T/w.other"
bad 14 'the data does not unwrap with key cmk://lab/keys/b/[0-9a-f]{32}' "wrapped key whose id names another key" "$T/w.other"

# --- raw ciphertexts
head -c 255 "$T/r" >"$T/r.trunc"
bad 14 'the data does not unwrap with key cmk://lab/keys/a/[0-9a-f]{32}: 255 bytes, the key takes 256' "raw ciphertext truncated by one byte" "$T/r.trunc" "cmk://lab/keys/a/$va" --raw
{ cat "$T/r"; printf 'X'; } >"$T/r.extra"
bad 14 'the data does not unwrap with key cmk://lab/keys/a/[0-9a-f]{32}: 257 bytes, the key takes 256' "raw ciphertext with one extra byte" "$T/r.extra" "cmk://lab/keys/a/$va" --raw
cp "$T/r" "$T/r.flip"; flip_byte "$T/r.flip" 100
bad 14 'the data does not unwrap with key cmk://lab/keys/a/[0-9a-f]{32}' "raw ciphertext with a flipped bit" "$T/r.flip" "cmk://lab/keys/a/$va" --raw
bad 14 'the data does not unwrap with key cmk://lab/keys/b/[0-9a-f]{32}' "raw ciphertext for key a unwrapped with key b" "$T/r" "cmk://lab/keys/b/$vb" --raw
printf '\377%.0s' $(seq 256) >"$T/r.big"
bad 14 'the data does not unwrap with key cmk://lab/keys/a/[0-9a-f]{32}: it is not smaller than the modulus' "raw ciphertext larger than the modulus" "$T/r.big" "cmk://lab/keys/a/$va" --raw
bad 14 'the data does not unwrap with key cmk://lab/keys/a/[0-9a-f]{32}' "raw RSA-OAEP-256 ciphertext unwrapped as RSA-OAEP" "$T/r" "cmk://lab/keys/a/$va" --raw --alg RSA-OAEP
printf 'not base64 at all!!!\n' >"$T/not.b64"
bad 24 '.*/not\.b64 is not base64: unexpected byte 0x21 at offset 17' "--base64 input that is not base64" "$T/not.b64" --base64

# --- DEK too large for OAEP (RSA-2048: 190 bytes for SHA-256, 214 for SHA-1)
rand_file "$T/dek191" 191
expect_fail_msg 15 "190|191" "a 191-byte DEK with RSA-OAEP-256: CMK_E_TOO_LARGE" cmk wrap a --in "$T/dek191" --out "$T/o1"
no_file "$T/o1" "no output file (too large)"
rand_file "$T/dek215" 215
expect_fail_msg 15 'key cmk://lab/keys/a/[0-9a-f]{32}: input of 215 bytes is larger than RSA-OAEP with a 2048-bit key allows \(214 bytes\)' "a 215-byte DEK with RSA-OAEP: CMK_E_TOO_LARGE" cmk wrap a --alg RSA-OAEP --in "$T/dek215" --out "$T/o2"
no_file "$T/o2" "no output file (too large, RSA-OAEP)"
expect_fail_msg 15 'key cmk://lab/keys/a/[0-9a-f]{32}: input of 191 bytes is larger than RSA-OAEP-256 with a 2048-bit key allows \(190 bytes\)' "a 191-byte DEK with --raw: CMK_E_TOO_LARGE" cmk wrap a --raw --in "$T/dek191"
rand_file "$T/dek4k" 4096
expect_fail_msg 15 'key cmk://lab/keys/a/[0-9a-f]{32}: input of 4096 bytes is larger than RSA-OAEP-256 with a 2048-bit key allows \(190 bytes\)' "a 4 KiB DEK: CMK_E_TOO_LARGE" cmk wrap a --in "$T/dek4k"
ok "a 190-byte DEK with RSA-OAEP-256 is fine" cmk wrap a --in <(head -c 190 "$T/dek191") --out "$T/w190"
done_testing
