#!/bin/bash
# The provider says what is wrong with its configuration, and the sample
# conf/openssl.cnf works against a lab as shipped; a "prompt" PIN source is
# answered by the application's passphrase callback.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/provider-lib.sh"

plan 11
lab_new
KID=$(cmk key create tls --ops sign,verify) || bail "cannot create a key"
cmk key pem tls --out "$T/tls.pem" || bail "cannot write a reference"

# a bad value: the provider does not load and says why on stderr
prov_conf "$T/bogus.cnf" "purpose = bogus"
run env OPENSSL_CONF="$T/bogus.cnf" openssl list -providers
like "$(cat "$ERR")" 'purpose = bogus: want auto, key or data' "purpose = bogus is reported on stderr"
prov_conf "$T/maybe.cnf" "allow_pkcs1v15 = maybe"
run env OPENSSL_CONF="$T/maybe.cnf" openssl list -providers
like "$(cat "$ERR")" 'allow_pkcs1v15 = maybe: want yes or no' "allow_pkcs1v15 = maybe is reported on stderr"

# an option cmk does not know (a typo): the provider does not load rather
# than run under another identity than meant, and names the option, its
# section and file; OpenSSL's own options of the section are known
prov_conf "$T/typo.cnf" "cmk_identiy = svc" "purpose = auto"
run env OPENSSL_CONF="$T/typo.cnf" openssl list -providers
like "$(cat "$ERR")" "not loaded: $T/typo.cnf: \[cmk_sect\]: unknown option \"cmk_identiy\"" \
	"an unknown option is reported on stderr with its file and section"
is "$(grep -c 'cmk vault key provider' "$OUT")" 0 "and cmk is not loaded"
prov_conf "$T/known.cnf" "identity = cmk" "1.activate = 1" "allow_pkcs1v15 = no"
run env OPENSSL_CONF="$T/known.cnf" openssl list -providers
is "$RC:$(grep -c 'cmk vault key provider' "$OUT")" "0:1" "OpenSSL's own options are not reported"
[ "$RC" = 0 ] || diag_file stderr "$ERR"

# the sample as shipped, with only CMK_CONF and OPENSSL_MODULES pointing at
# the lab and the build
run env OPENSSL_CONF="$abs_top_srcdir/conf/openssl.cnf" openssl list -providers
like "$(cat "$OUT")" 'cmk vault key provider' "the shipped sample loads cmk"
run env OPENSSL_CONF="$abs_top_srcdir/conf/openssl.cnf" openssl pkey -in "$T/tls.pem" -text -noout
like "$RC:$(cat "$OUT")" "^0:cmk vault key $KID" "the shipped sample reads a key reference of the lab"
[ "$RC" = 0 ] || diag_file stderr "$ERR"

# pin_source = prompt: the passphrase callback (openssl -passin) gives it
write_conf "$T/prompt.conf" "pin_source=prompt"
prov_conf "$T/prompt.cnf"
sed -i "s|^cmk_conf = .*|cmk_conf = $T/prompt.conf|" "$T/prompt.cnf"
run env OPENSSL_CONF="$T/prompt.cnf" openssl pkey -in "$T/tls.pem" -passin "file:$LAB/pin" -text -noout
like "$RC:$(cat "$OUT")" "^0:cmk vault key $KID" "prompt PIN: the key reference loads with -passin"
[ "$RC" = 0 ] || diag_file stderr "$ERR"
run env OPENSSL_CONF="$T/prompt.cnf" openssl pkey -in "$KID" -passin "file:$LAB/pin" -text -noout
like "$RC:$(cat "$OUT")" "^0:cmk vault key $KID" "prompt PIN: a cmk:// URI loads with -passin"
echo 000000 >"$T/wrongpin"
expect_fail_msg 1 "PIN for token .cmk-lab. is incorrect" "prompt PIN: a wrong PIN from -passin is refused" \
	env OPENSSL_CONF="$T/prompt.cnf" openssl pkey -in "$T/tls.pem" -passin "file:$T/wrongpin" -noout
expect_fail_msg 1 "prompt.*(passphrase callback gave no PIN|no terminal)" \
	"prompt PIN: no callback answer, no terminal: refused with the reason" \
	env OPENSSL_CONF="$T/prompt.cnf" openssl pkey -in "$T/tls.pem" -passin "pass:" -noout
done_testing
