#!/bin/bash
# cmk next to libp11's PKCS#11 engine (libengine-pkcs11-openssl), both in
# one openssl.cnf: key reference files and cmk:// URIs go to cmk (policies,
# audit), a pkcs11: URI given to the engine goes to libp11; neither takes
# the other's keys, and a server with the engine configured still uses the
# vault key through cmk.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/provider-lib.sh"
. "${srcdir:-.}/tests/service-lib.sh"
ENGINE=$(openssl version -e | sed -n 's/^ENGINESDIR: "\(.*\)"/\1/p')/pkcs11.so
svc_need libengine-pkcs11-openssl "$ENGINE" pkcs11-tool

plan 7
# libp11's engine leaves its allocations to the exit (OpenSSL does not
# unload engines): in a sanitizer build they are not cmk's to report
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"
svc_setup
cat >>"$SVC_CNF" <<EOC

[openssl_init]
engines = engine_sect

[engine_sect]
pkcs11 = pkcs11_sect

[pkcs11_sect]
engine_id = pkcs11
dynamic_path = $ENGINE
MODULE_PATH = $SOFTHSM_MODULE
init = 0
EOC
# openssl_init is now declared twice: merge the engines line into the first
awk '/^\[openssl_init\]$/ {n++; if (n == 2) {skip = 1; next}} skip && /^engines/ {eng = $0; skip = 0; next}
	{print} /^providers = provider_sect$/ && !done {print "engines = engine_sect"; done = 1}' \
	"$SVC_CNF" >"$T/both.cnf" && mv "$T/both.cnf" "$SVC_CNF"

run openssl engine -t pkcs11
like "$(cat "$OUT")" '\[ available \]' "libp11's engine loads next to cmk"
N=$(audit_lines)
run openssl pkey -in "$KEYREF" -text -noout
[ "$RC" = 0 ] || diag_file stderr "$ERR"
like "$(cat "$OUT")" "^cmk vault key $KID" "a key reference file goes to cmk"
run "$CMK_TESTS_BIN/provider-pemread" "$KEYREF"
is "$RC" 0 "PEM_read_bio_PrivateKey / SSL_CTX_use_PrivateKey_file use the vault key through cmk"
audited_sign "$N" "and cmk audits the signatures under svc-tls"
run openssl pkey -in cmk://lab/keys/tls -text -noout
like "$(cat "$OUT")" "^cmk vault key $KID" "a cmk:// URI goes to cmk"
# (Not tested, documented in cmk-provider(7): the openssl command itself
# registers every configured engine as a default, and libp11's then takes
# over RSA signing of every provider's keys, cmk's included.  Servers do not
# do that.)

# the engine, asked for explicitly, reads the token itself: not cmk's, not audited
N=$(audit_lines)
run openssl pkey -engine pkcs11 -inform ENGINE -pubout \
	-passin "file:$LAB/pin" -in "pkcs11:token=$LAB_TOKEN;object=tls;type=private"
like "$(cat "$OUT")" 'BEGIN PUBLIC KEY' "a pkcs11: URI given to -engine pkcs11 goes to libp11"
[ "$RC" = 0 ] || diag_file stderr "$ERR"
is "$(audit_lines)" "$N" "libp11's access is not cmk's: nothing in the vault's audit log"
done_testing
