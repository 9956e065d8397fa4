#!/bin/bash
# Configuration, module and token errors: malformed config (3), module that
# cannot be loaded (13), token absent (12), PIN source unreadable (11).
. "${srcdir:-.}/tests/lib.sh"
lab_new
C=$T/c.conf

write_conf "$C"
ok "the test's own config (documented format) works" cmk --config "$C" key list
write_conf "$C" token=pkcs11:token=cmk-lab
ok "token as an RFC 7512 URI works" cmk --config "$C" key list

# --- module
write_conf "$C" module=/nonexistent/libnope.so
expect_fail_msg 13 "/nonexistent/libnope.so" "missing module file: CMK_E_MODULE naming the path" cmk --config "$C" key list
printf 'not a shared object\n' >"$T/fake.so"
write_conf "$C" module="$T/fake.so"
expect_fail_msg 13 "fake.so" "a file that is not a shared object: CMK_E_MODULE" cmk --config "$C" key list
nonp11=$(ls /lib/x86_64-linux-gnu/libz.so.1 /usr/lib/x86_64-linux-gnu/libz.so.1 2>/dev/null | head -n 1)
if [ -n "$nonp11" ]; then
	write_conf "$C" module="$nonp11"
	expect_fail_msg 13 "libz" "a shared object that is not a PKCS#11 module: CMK_E_MODULE" cmk --config "$C" key list
else
	skip "a shared object that is not a PKCS#11 module: CMK_E_MODULE" "no libz.so.1 found"
fi

# --- token
write_conf "$C" token=no-such-token
expect_fail_msg 12 "no-such-token" "token label not on the module: CMK_E_TOKEN naming it" cmk --config "$C" key list
write_conf "$C" token=pkcs11:token=no-such-token
expect_fail_msg 12 "no-such-token" "token URI matching nothing: CMK_E_TOKEN" cmk --config "$C" key list
rand_file "$T/dek" 32
write_conf "$C" token=no-such-token
expect_fail_msg 12 'vault lab: token no-such-token is not present on module /usr/lib/softhsm/libsofthsm2\.so \(tokens seen: .cmk-lab.\)' "wrap on an absent token fails" cmk --config "$C" wrap k --in "$T/dek" --out "$T/o"
no_file "$T/o" "and writes no output file"

# --- PIN sources
write_conf "$C" pin_source=file:$T/no-pin-file
expect_fail_msg 11 "no-pin-file" "unreadable PIN file: CMK_E_PIN naming it" cmk --config "$C" key list
write_conf "$C" pin_source=file:$T
expect_fail_msg 11 'vault lab: cannot read PIN from file .*: Is a directory' "PIN file that is a directory: CMK_E_PIN" cmk --config "$C" key list
: >"$T/empty-pin"
write_conf "$C" pin_source=file:$T/empty-pin
expect_fail_msg 11 'vault lab: the PIN from file:.*/empty-pin is empty' "empty PIN file: CMK_E_PIN" cmk --config "$C" key list
write_conf "$C" pin_source=env:CMK_TEST_UNSET_PIN_VAR
expect_fail_msg 11 "CMK_TEST_UNSET_PIN_VAR" "PIN from an unset variable: CMK_E_PIN" cmk --config "$C" key list
write_conf "$C" pin_source=env:CMK_TEST_PIN
CMK_TEST_PIN=$(cat "$LAB/pin") ok "PIN from an environment variable works" cmk --config "$C" key list
write_conf "$C" pin_source=carrier-pigeon:x
expect_fail_msg 3 'vault lab: pin_source .carrier-pigeon:x. is not file:PATH, env:VAR or prompt' "an unknown PIN source kind is refused" cmk --config "$C" key list
write_conf "$C" pin_source=prompt
expect_fail_msg 11 'vault lab: PIN source is .prompt. but there is no terminal' "pin_source=prompt with no terminal: CMK_E_PIN, no hang" \
	setsid -w timeout 20 "$CMK_BIN" --config "$C" key list

# --- malformed or missing configuration
printf '[cmk\ndefault_vault = lab\n' >"$C"
expect_fail_msg 3 'configuration .*/c\.conf is malformed at line 1: missing close square bracket' "a config with a broken section header: CMK_E_CONFIG" cmk --config "$C" key list
printf '[cmk]\ndefault_vault = $undefined_var\n' >"$C"
expect_fail_msg 3 'configuration .*/c\.conf is malformed at line 2: variable has no value' "a config with an undefined variable: CMK_E_CONFIG" cmk --config "$C" key list
expect_fail_msg 3 "/nonexistent/cmk.conf" "a missing config file: CMK_E_CONFIG naming it" cmk --config /nonexistent/cmk.conf key list
CMK_CONF=/nonexistent/env.conf expect_fail_msg 3 "/nonexistent/env.conf" "CMK_CONF naming a missing file: CMK_E_CONFIG" cmk key list
cat >"$C" <<CONF
[cmk]
default_vault = lab
[vaults]
lab = vault_lab
[vault_lab]
token = cmk-lab
pin_source = file:$LAB/pin
CONF
expect_fail_msg 3 "module" "a vault section without module: CMK_E_CONFIG naming the key" cmk --config "$C" key list
cat >"$C" <<CONF
[cmk]
default_vault = lab
[vaults]
lab = vault_missing
CONF
expect_fail_msg 3 "vault_missing" "a vault pointing at a missing section: CMK_E_CONFIG" cmk --config "$C" key list
write_conf "$C"
sed -i 's/^default_vault = lab$/default_vault = lab\nmetadata_cache_ms = soon/' "$C"
expect_fail_msg 3 "metadata_cache_ms" "metadata_cache_ms that is not a number: CMK_E_CONFIG" cmk --config "$C" key list
done_testing
