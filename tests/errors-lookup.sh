#!/bin/bash
# Unknown vault, key and version: CMK_E_NOT_FOUND (4), an error naming the
# thing, nothing on stdout, no output file.
. "${srcdir:-.}/tests/lib.sh"
lab_new
ok "key create k" cmk key create k
v=$(key_versions k | tail -n 1)
rand_file "$T/dek" 32
ok "wrap --raw (for the unwrap cases)" cmk wrap k --raw --in "$T/dek" --out "$T/ct"
none=00000000000000000000000000000000

expect_fail_msg 4 "nope" "--vault nope: unknown vault" cmk --vault nope key list
CMK_VAULT=nope expect_fail_msg 4 "nope" "CMK_VAULT=nope: unknown vault" cmk key list
expect_fail_msg 4 "nope" "wrap into an unknown vault's id" cmk wrap cmk://nope/keys/k --in "$T/dek" --out "$T/o1"
no_file "$T/o1" "no output file for the unknown vault"

for cmd in "key show" "key rotate" "key enable" "key disable"; do
	expect_fail_msg 4 "no-such-key" "$cmd of an unknown key" cmk $cmd no-such-key
done
expect_fail_msg 4 "no-such-key" "key set of an unknown key" cmk key set no-such-key --ops wrapKey
expect_fail_msg 4 "no-such-key" "wrap with an unknown key" cmk wrap no-such-key --in "$T/dek" --out "$T/o2"
no_file "$T/o2" "no output file for the unknown key"
expect_fail_msg 4 "no-such-key" "unwrap --raw with an unknown key" cmk unwrap cmk://lab/keys/no-such-key/$v --raw --in "$T/ct" --out "$T/o3"
no_file "$T/o3" "no output file for the unknown key (unwrap)"

expect_fail_msg 4 "$none" "key show of an unknown version" cmk key show "k/$none"
expect_fail_msg 4 "$none" "key disable of an unknown version" cmk key disable "k/$none"
expect_fail_msg 4 "$none" "key set of an unknown version" cmk key set "k/$none" --expires none
expect_fail_msg 4 "$none" "wrap with an unknown version" cmk wrap "k/$none" --in "$T/dek" --out "$T/o4"
no_file "$T/o4" "no output file for the unknown version"
expect_fail_msg 4 "$none" "unwrap --raw with an unknown version" cmk unwrap "cmk://lab/keys/k/$none" --raw --in "$T/ct" --out "$T/o5"
no_file "$T/o5" "no output file for the unknown version (unwrap)"

expect_fail_msg 2 'key show: key id .k/NOT-HEX.: the version must be 32 lowercase hex characters \(see .cmk key show --help.\)' "a malformed version id is a usage error" cmk key show "k/NOT-HEX"
expect_fail_msg 2 'key name .cmk:. must be 1-127 characters of A-Z a-z 0-9 -' "a malformed key id is a usage error" cmk wrap "cmk:/lab/keys/k" --in "$T/dek"
expect_fail_msg 2 'key: unknown command .frobnicate., one of: create, .*purge.* \(see .cmk key --help.\)' "an unknown command is a usage error" cmk key frobnicate k
expect_fail_msg 2 'key create: missing key NAME \(see .cmk key create --help.\)' "a missing argument is a usage error" cmk key create
expect_fail_msg 2 'key list: unknown option .--no-such-option. \(see .cmk key list --help.\)' "an unknown option is a usage error" cmk key list --no-such-option
expect_fail_msg 19 'cannot open key to wrap .*/missing: No such file or directory' "wrap --in a missing file is an I/O error" cmk wrap k --in "$T/missing" --out "$T/o6"
no_file "$T/o6" "no output file when the input is missing"
expect_fail_msg 19 'cannot write wrapped key .*/no/dir/out: No such file or directory' "wrap --out into a missing directory is an I/O error" cmk wrap k --in "$T/dek" --out "$T/no/dir/out"
done_testing
