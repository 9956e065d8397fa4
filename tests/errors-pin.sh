#!/bin/bash
# Wrong PIN: CMK_E_PIN (11), exactly one C_Login per command (cmk never
# retries a login, so it never locks a token), and the PIN is never echoed.
. "${srcdir:-.}/tests/lib.sh"
lab_new
C=$T/c.conf
good=$(cat "$LAB/pin")
printf '%s' "wrong-$good" >"$T/bad-pin"
chmod 600 "$T/bad-pin"
write_conf "$C" pin_source=file:$T/bad-pin

expect_fail_msg 11 "PIN|pin" "wrong PIN: CMK_E_PIN" cmk --config "$C" key list
if grep -qF -- "$good" "$ERR" || grep -qF -- "wrong-$good" "$ERR"; then
	fail "the error message holds no PIN"
else
	pass "the error message holds no PIN"
fi
rand_file "$T/dek" 32
expect_fail_msg 11 'vault lab: the PIN for token .cmk-lab. is incorrect' "wrap with a wrong PIN fails" cmk --config "$C" wrap k --in "$T/dek" --out "$T/o"
no_file "$T/o" "and writes no output file"

# count C_Login calls through OpenSC's PKCS#11 spy
spy=
for f in /usr/lib/x86_64-linux-gnu/pkcs11-spy.so /usr/lib/x86_64-linux-gnu/pkcs11/pkcs11-spy.so /usr/lib/pkcs11-spy.so; do
	[ -f "$f" ] && { spy=$f; break; }
done
if [ -n "$spy" ]; then
	write_conf "$T/spy.conf" module="$spy" pin_source=file:$T/bad-pin
	PKCS11SPY=$SOFTHSM_MODULE PKCS11SPY_OUTPUT=$T/spy.log \
		expect_fail_msg 11 'vault lab: the PIN for token .cmk-lab. is incorrect' "wrong PIN through the PKCS#11 spy: CMK_E_PIN" cmk --config "$T/spy.conf" key list
	is "$(grep -c 'C_Login$' "$T/spy.log" 2>/dev/null)" 1 "exactly one C_Login attempt with a wrong PIN (no retry)"
	write_conf "$T/spy.conf" module="$spy"
	rm -f "$T/spy.log"
	PKCS11SPY=$SOFTHSM_MODULE PKCS11SPY_OUTPUT=$T/spy.log \
		ok "right PIN through the PKCS#11 spy" cmk --config "$T/spy.conf" key list
	is "$(grep -c 'C_Login$' "$T/spy.log" 2>/dev/null)" 1 "exactly one C_Login for a command with the right PIN"
else
	skip "exactly one C_Login attempt with a wrong PIN" "pkcs11-spy.so (opensc) not installed"
fi

# a PIN file is read up to its first newline
{ cat "$LAB/pin"; printf '\nsecond line, not part of the PIN\n'; } >"$T/two-lines"
write_conf "$T/two.conf" pin_source=file:$T/two-lines
ok "a PIN file's first line is the PIN" cmk --config "$T/two.conf" key list

# three failed commands do not lock the token: cmk only ever tries once
for i in 1 2 3; do
	run cmk --config "$C" key list
done
is "$RC" 11 "the third wrong-PIN command still fails with CMK_E_PIN"
run p11tool -T
is "$RC" 0 "pkcs11-tool -T lists the token's flags"
flags=$(sed -n '/token label *: cmk-lab/,/^Slot/p' "$OUT")
like "$flags" "token label *: cmk-lab" "the listing holds the lab token"
if printf '%s' "$flags" | grep -qiE 'user PIN (locked|final try)'; then
	fail "the user PIN is neither locked nor on its final try" "$flags"
else
	pass "the user PIN is neither locked nor on its final try"
fi
ok "the right PIN still works after the failures" cmk key list
done_testing
