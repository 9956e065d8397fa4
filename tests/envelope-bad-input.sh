#!/bin/bash
# cmk decrypt on bad input: truncated header or body, a flipped bit in every
# field, frames swapped, duplicated or dropped, unknown version or suite,
# absurd lengths, the wrong key.  Each: a clear error, the documented exit
# (24 malformed, 14 does not authenticate, 4 key not found), nothing on
# stdout, and no --out file.
. "${srcdir:-.}/tests/lib.sh"
lab_new
ok "key create k1" cmk key create k1
rand_file "$T/p" 3000
ok "encrypt 3000 bytes in 1 KiB frames with a context" \
	cmk encrypt --key k1 --frame-size 1024 --context app=bad --in "$T/p" --out "$T/env"
size=$(stat -c %s "$T/env")
hl=$(od -An -tu1 -j 8 -N 4 "$T/env" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}')
F=1024 R=$((1024 + 17))
diag "envelope: $size bytes, header $hl bytes"
is "$size" $((hl + 2 * R + 5 + 3000 - 2048 + 16)) "layout: header, two regular frames, a final frame of 952 bytes"

# set_byte FILE OFFSET VALUE (decimal)
set_byte() {
	printf "$(printf '\\%03o' "$3")" | dd of="$1" bs=1 seek="$2" count=1 conv=notrunc status=none
}
# bad CODE ERE DESC FILE: refused with no output at all
bad() {
	rm -f "$T/out"
	expect_fail_msg "$1" "$2" "$3" cmk decrypt --context app=bad --in "$4" --out "$T/out"
	[ -e "$T/out" ] && fail "$3: no --out file" || true
	expect_fail_msg "$1" "$2" "$3 (to stdout)" cmk decrypt --context app=bad --in "$4"
}

ok "the intact envelope opens" cmk decrypt --context app=bad --in "$T/env" --out "$T/good"
same_file "$T/good" "$T/p" "round trip"

# a flipped bit in every field
commit=$((hl - 48)) tag=$((hl - 16)) fin=$((hl + 2 * R))
# NAME:OFFSET:CODE:ERE (the exit code and what the message must say)
auth='does not authenticate \(modified'
while IFS=: read -r name off code re; do
	[ -n "$name" ] || continue
	cp "$T/env" "$T/x"
	flip_byte "$T/x" "$off"
	bad "$code" "$re" "a flipped bit in the $name (byte $off) is refused" "$T/x"
done <<FIELDS
magic:0:24:not a cmk envelope \(no "CMKE" magic\)
version:4:24:envelope format version 0 is not supported
suite:5:24:envelope algorithm suite 0 is unknown
frame-size:6:14:envelope header $auth
reserved:7:24:envelope header: reserved byte is 0x01, not 0
header-length:11:24:envelope header: 1 unexpected bytes before the commitment
msgid:20:14:envelope key commitment does not match: the data key unwrapped with cmk://lab/keys/k1/[0-9a-f]{32} does not belong
key-count:44:24:envelope header: 0 wrapped data keys \(allowed: 1-16\)
key-type:45:24:envelope header: wrapped data key 1 has unknown type 0
key-length:47:24:envelope header is truncated or its length is wrong
wrapped-key-magic:48:24:not a cmk wrapped key \(no CMKW magic\)
wrapped-key-kid:70:24:wrapped key id is not a versioned cmk:// key id
wrapped-key-ciphertext:$((commit - 40)):14:the data does not unwrap with key cmk://lab/keys/k1/[0-9a-f]{32}
context:$((commit - 2)):14:encryption context does not match: the value of .app. differs
commitment:$((commit + 3)):14:envelope key commitment does not match
header-tag:$((tag + 5)):14:envelope header $auth
frame1-type:$hl:24:envelope final frame 1 claims [0-9]+ bytes \(the frame size is 1024\)
frame1-ciphertext:$((hl + 100)):14:envelope frame 1 $auth
frame1-tag:$((hl + 1 + F + 3)):14:envelope frame 1 $auth
frame2-ciphertext:$((hl + R + 500)):14:envelope frame 2 $auth
final-type:$fin:24:envelope is truncated: it ends inside frame 3, before the final frame
final-length:$((fin + 4)):24:envelope is truncated: it ends inside frame 3, before the final frame
final-ciphertext:$((fin + 50)):14:envelope frame 3 $auth
final-tag:$((size - 1)):14:envelope frame 3 $auth
FIELDS

# a regular frame re-typed as a final one of F bytes is refused by structure
# (a final frame holds fewer than F bytes); that the type byte is also in
# each frame's AAD is checked by the known-answer vectors
# (tests/envelope-vectors.sh, tests/envelope-codec.c)
{ head -c "$hl" "$T/env"; printf '\001\000\000\004\000'
  tail -c +$((hl + 2)) "$T/env" | head -c $((F + 16)); } >"$T/x"
is "$(stat -c %s "$T/x")" $((hl + 5 + F + 16)) "the forged final frame has the layout of a final frame of F bytes"
bad 24 "envelope final frame 1 claims 1024 bytes \(the frame size is 1024\)" "a regular frame re-typed as the final frame is refused" "$T/x"

# unknown version and suite, absurd lengths
cp "$T/env" "$T/x"; set_byte "$T/x" 4 2
bad 24 "format version 2 is not supported" "an unknown version is refused by number" "$T/x"
cp "$T/env" "$T/x"; set_byte "$T/x" 5 7
bad 24 "suite 7 is unknown" "an unknown suite is refused by number" "$T/x"
cp "$T/env" "$T/x"; for i in 8 9 10 11; do set_byte "$T/x" $i 255; done
bad 24 "header length 4294967295 is out of range" "an absurd header length is refused" "$T/x"
cp "$T/env" "$T/x"; set_byte "$T/x" $((fin + 1)) 127
bad 24 "claims" "an absurd final-frame length is refused" "$T/x"
cp "$T/env" "$T/x"; set_byte "$T/x" 46 255; set_byte "$T/x" 47 255
bad 24 "length 65535" "an absurd wrapped-key length is refused" "$T/x"

# truncation
head -c 11 "$T/env" >"$T/x"; bad 24 "truncated" "a truncated prefix is refused" "$T/x"
head -c $((hl - 1)) "$T/env" >"$T/x"; bad 24 "truncated" "a truncated header is refused" "$T/x"
head -c "$fin" "$T/env" >"$T/x"; bad 24 "truncated" "a body cut at a frame boundary (no final frame) is refused" "$T/x"
head -c $((size - 1)) "$T/env" >"$T/x"; bad 24 "truncated" "a body missing its last byte is refused" "$T/x"
: >"$T/x"; bad 24 "envelope is truncated: 0 bytes, the header alone needs at least" "an empty input is refused" "$T/x"
cp "$T/env" "$T/x"; printf 'X' >>"$T/x"; bad 24 "trailing" "a byte after the final frame is refused" "$T/x"

# frames swapped, duplicated, dropped (regular frames are R bytes at hl, hl+R)
{ head -c "$hl" "$T/env"; tail -c +$((hl + R + 1)) "$T/env" | head -c "$R"
  tail -c +$((hl + 1)) "$T/env" | head -c "$R"; tail -c +$((fin + 1)) "$T/env"; } >"$T/x"
bad 14 "does not authenticate" "swapped frames are refused" "$T/x"
{ head -c $((hl + R)) "$T/env"; tail -c +$((hl + 1)) "$T/env" | head -c "$R"
  tail -c +$((fin + 1)) "$T/env"; } >"$T/x"
bad 14 "does not authenticate" "a duplicated frame (in place of frame 2) is refused" "$T/x"
{ head -c $((hl + R)) "$T/env"; tail -c +$((fin + 1)) "$T/env"; } >"$T/x"
bad 14 "does not authenticate" "a dropped frame is refused" "$T/x"
ok "a second envelope of the same data" cmk encrypt --key k1 --frame-size 1024 --context app=bad --in "$T/p" --out "$T/env2"
{ head -c $((hl + R)) "$T/env"; tail -c +$((hl + R + 1)) "$T/env2" | head -c "$R"
  tail -c +$((fin + 1)) "$T/env"; } >"$T/x"
bad 14 "does not authenticate" "a frame from another message is refused" "$T/x"
{ head -c "$hl" "$T/env"; tail -c +$((hl + 1)) "$T/env2"; } >"$T/x"
bad 14 "does not authenticate" "another message's body under this header is refused" "$T/x"

# the wrong key: another vault's k1 (same names, other token)
ok "encrypt in lab 1" cmk encrypt --key k1 --context app=bad --in "$T/p" --out "$T/lab1.env"
LAB1=$LAB
lab_new "$T/lab2"
ok "key create k1 in lab 2" cmk key create k1
bad 4 "cmk://lab/keys/k1.*version [0-9a-f]{32}" "an envelope whose key this vault lacks is refused naming the key" "$T/lab1.env"
export SOFTHSM2_CONF=$LAB1/softhsm2.conf CMK_CONF=$LAB1/cmk.conf
ok "and opens with the right vault" cmk decrypt --context app=bad --in "$T/lab1.env" --out "$T/lab1.out"
same_file "$T/lab1.out" "$T/p" "no data lost"
done_testing
