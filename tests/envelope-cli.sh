#!/bin/bash
# cmk encrypt / cmk decrypt: round trips through files and pipes at frame
# boundaries, contexts, several keys, rotation, key lifecycle, and the rule
# that decrypt writes nothing until the whole message has authenticated.
. "${srcdir:-.}/tests/lib.sh"
lab_new
ok "key create k1" cmk key create k1
ok "key create k2" cmk key create k2

for n in 0 1 1023 1024 1025 65536 200001; do
	rand_file "$T/p.$n" "$n"
	ok "encrypt $n bytes (--in/--out)" cmk encrypt --key k1 --frame-size 1024 \
		--context app=test --context tenant=7 --in "$T/p.$n" --out "$T/c.$n"
	ok "decrypt $n bytes (--in/--out, context in another order)" \
		cmk decrypt --context tenant=7 --context app=test --in "$T/c.$n" --out "$T/d.$n"
	same_file "$T/d.$n" "$T/p.$n" "$n bytes: round trip"
done
frames=$(( ( $(stat -c %s "$T/c.200001") ) ))
like "$frames" '^20[0-9]{4}$' "200001 bytes in 1 KiB frames cost ~17 bytes a frame (got $frames)"
is "$(stat -c %a "$T/d.1")" 600 "decrypted files are mode 0600"

# pipes, default frame size
rand_file "$T/big" 3000000
cmk encrypt --key k1 <"$T/big" 2>"$T/e1" | cmk decrypt >"$T/big.out" 2>"$T/e2"
is "${PIPESTATUS[*]}" "0 0" "encrypt | decrypt exits 0 0"
same_file "$T/big.out" "$T/big" "3 MB through pipes"
cmk encrypt --key k1 --in "$T/big" | cmk decrypt --stream >"$T/big.stream"
same_file "$T/big.stream" "$T/big" "--stream round trip"

# contexts
ok "encrypt with a context" cmk encrypt --key k1 --context a=1 --context b=two --in "$T/p.1025" --out "$T/ctx"
expect_fail_msg 14 "context does not match" "decrypt without the context is refused" \
	cmk decrypt --in "$T/ctx"
expect_fail_msg 14 "value of 'b' differs" "decrypt with a wrong value is refused" \
	cmk decrypt --context a=1 --context b=three --in "$T/ctx"
expect_fail_msg 14 "context does not match" "decrypt with an extra pair is refused" \
	cmk decrypt --context a=1 --context b=two --context c=3 --in "$T/ctx"
expect_fail_msg 2 'encrypt: --context .nope. is not KEY=VALUE \(see .cmk encrypt --help.\)' "a context without '=' is refused" cmk encrypt --key k1 --context nope --in "$T/p.1"
expect_fail_msg 2 'context key .a. is given twice' "a context key given twice is refused" cmk encrypt --key k1 --context a=1 --context a=2 --in "$T/p.1"
ok "values may hold '=' and spaces" cmk encrypt --key k1 --context "q=x = y" --in "$T/p.1" --out "$T/ctx2"
ok "and must be given the same" cmk decrypt --context "q=x = y" --in "$T/ctx2" --out "$T/ctx2.out"

# several keys: either opens
ok "encrypt under k1 and k2" cmk encrypt --key k1 --key cmk://lab/keys/k2 --in "$T/p.1025" --out "$T/two"
ok "disable k1" cmk key disable k1
ok "the k2 copy still opens it" cmk decrypt --in "$T/two" --out "$T/two.out"
same_file "$T/two.out" "$T/p.1025" "two-key round trip"
expect_fail_msg 6 "cmk://lab/keys/k1/[0-9a-f]{32}.*disabled" \
	"an envelope under k1 alone fails naming the key and 'disabled'" \
	cmk decrypt --in "$T/c.1025" --context app=test --context tenant=7
ok "enable k1" cmk key enable k1
ok "and it opens again" cmk decrypt --in "$T/c.1025" --context app=test --context tenant=7 --out "$T/again"
same_file "$T/again" "$T/p.1025" "nothing lost while disabled"

# rotation: old envelopes keep opening, new ones use the new version
v1=$(current_version k1)
ok "rotate k1" cmk key rotate k1
v2=$(current_version k1)
ok "an envelope from before the rotation opens" cmk decrypt --in "$T/c.1" --context app=test --context tenant=7 --out "$T/rot"
ok "encrypt after rotation" cmk encrypt --key k1 --in "$T/p.1" --out "$T/c.new"
grep -qa "k1/$v2" "$T/c.new" && pass "the new envelope records the new version" || fail "the new envelope records the new version"
grep -qa "k1/$v1" "$T/c.1" && pass "the old one records the old version" || fail "the old one records the old version"
ok "disable only the new version" cmk key disable "k1/$v2"
expect_fail_msg 6 "k1/$v2" "the new envelope fails naming its version" cmk decrypt --in "$T/c.new"
ok "the old envelope still opens" cmk decrypt --in "$T/c.1" --context app=test --context tenant=7 --out "$T/rot2"
ok "enable the version" cmk key enable "k1/$v2"

# delete / recover
ok "key delete k2" cmk key delete k2
expect_fail_msg 10 'key cmk://lab/keys/k2 is deleted \(since [0-9T:-]+Z\); recover it first' "encrypting under a deleted key is refused" cmk encrypt --key k2 --in "$T/p.1"
ok "recover k2" cmk key recover k2
ok "k2 works again" cmk encrypt --key k2 --in "$T/p.1" --out "$T/k2.env"

# usage errors
expect_fail_msg 2 'encrypt: --key KEYID is required \(see .cmk encrypt --help.\)' "encrypt needs --key" cmk encrypt --in "$T/p.1"
expect_fail_msg 2 'frame size 1000 is not a power of two from 1024 to 1048576' "a frame size that is not a power of two is refused" cmk encrypt --key k1 --frame-size 1000 --in "$T/p.1"
expect_fail_msg 4 'key cmk://lab/keys/nosuchkey does not exist' "an unknown key is refused" cmk encrypt --key nosuchkey --in "$T/p.1"
expect_fail_msg 19 'cannot open input .*/nothere: No such file or directory' "a missing input file is an I/O error" cmk encrypt --key k1 --in "$T/nothere"
no_file "$T/nothere.out" "nothing is written for a failed encrypt"
expect_fail_msg 2 'decrypt: --stream is for standard output; with --out the file appears only when complete \(see .cmk decrypt --help.\)' "--stream with --out is refused" cmk decrypt --stream --in "$T/c.1" --out "$T/x"

# decrypt writes nothing until authenticated: --out keeps the old file
echo "previous contents" >"$T/keep"
cp "$T/c.200001" "$T/bad"
flip_byte "$T/bad" -30
expect_fail_msg 14 'envelope frame 196 does not authenticate \(modified, reordered, duplicated or from another message\)' "a tampered last frame is refused (--out)" \
	cmk decrypt --context app=test --context tenant=7 --in "$T/bad" --out "$T/keep"
is "$(cat "$T/keep")" "previous contents" "the destination is left as it was"
is "$(ls "$T" | grep -c 'keep.cmk-')" 0 "no temporary file is left behind"
expect_fail_msg 14 'envelope frame 196 does not authenticate \(modified, reordered, duplicated or from another message\)' "the same to stdout writes nothing" \
	cmk decrypt --context app=test --context tenant=7 --in "$T/bad"
# --stream: frames before the bad one were written, and the exit says so
cmk encrypt --key k1 --in "$T/big" --out "$T/big.env"
cp "$T/big.env" "$T/big.bad"
flip_byte "$T/big.bad" -30
run cmk decrypt --stream --in "$T/big.bad"
is "$RC" 14 "--stream on a tampered message exits 14"
like "$(cat "$ERR")" "incomplete and must not be used" "--stream says the output is incomplete"
[ "$(stat -c %s "$OUT")" -gt 0 ] && pass "--stream wrote the frames that authenticated" || fail "--stream wrote the frames that authenticated"
# the stdout buffer limit
expect_fail_msg 15 "buffer-max" "a plaintext over --buffer-max is refused before any output" \
	cmk decrypt --buffer-max 1M --in "$T/big.env"
ok "--buffer-max 4M lets it through" cmk decrypt --buffer-max 4M --in "$T/big.env" --out "$T/big.4m"
same_file "$T/big.4m" "$T/big" "--buffer-max round trip"

done_testing
