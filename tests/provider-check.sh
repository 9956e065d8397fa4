#!/bin/bash
# cmk provider check: an OpenSSL configuration that does not load cmk.so is
# named with its reason (OpenSSL 3.0 itself says nothing when a provider's
# module is missing); one that does is shown loaded.
. "${srcdir:-.}/tests/lib.sh"
. "${srcdir:-.}/tests/provider-lib.sh"

plan 15
lab_new
SO=$CMK_PROVIDER_DIR/cmk.so

# check_fails CONF ERE DESC [ARGS...]: cmk provider check on CONF exits 3
# naming the reason
check_fails() {
	expect_fail_msg 3 "$2" "$3" cmk provider check --openssl-conf "$1" "${@:4}"
}

prov_conf "$T/ok.cnf" "module = $SO"
run cmk provider check --openssl-conf "$T/ok.cnf"
like "$RC:$(tr '\n' ' ' <"$OUT")" \
	"^0:configuration: $T/ok.cnf \(--openssl-conf\) .*module: +$SO \(module =\) .*loaded: +cmk vault key provider [0-9.]+, active" \
	"a configuration that loads cmk: shown loaded, with its module"
[ "$RC" = 0 ] || diag_file stderr "$ERR"

# the shipped sample, found through OPENSSL_CONF, the module through
# OPENSSL_MODULES (provider-lib.sh), as OpenSSL finds them
OPENSSL_CONF="$abs_top_srcdir/conf/openssl.cnf" run cmk provider check
like "$RC:$(tr '\n' ' ' <"$OUT")" "^0:configuration: .*/conf/openssl.cnf \(OPENSSL_CONF\) .*module: +$SO \(OPENSSL_MODULES\)" \
	"the shipped sample through OPENSSL_CONF and OPENSSL_MODULES"

# the module
prov_conf "$T/missing.cnf" "module = /nonexistent/lib/ossl-modules/cmk.so"
check_fails "$T/missing.cnf" \
	"module /nonexistent/lib/ossl-modules/cmk.so of provider cmk \(section \[cmk_sect\] of $T/missing.cnf, path from module =\) does not exist \(this cmk installs its provider as .*/cmk.so" \
	"a module that does not exist (a prefix install)"
prov_conf "$T/relative.cnf" "module = cmk-old.so"
check_fails "$T/relative.cnf" "module $CMK_PROVIDER_DIR/cmk-old.so of provider cmk .*path from OPENSSL_MODULES\) does not exist" \
	"a relative module name, resolved as OpenSSL does"
printf 'not a library\n' >"$T/text.so"
prov_conf "$T/text.cnf" "module = $T/text.so"
check_fails "$T/text.cnf" "module $T/text.so of provider cmk .* cannot be loaded: .*text.so" \
	"a module that is no library: the loader's reason"
prov_conf "$T/notprov.cnf" "module = $SOFTHSM_MODULE"
check_fails "$T/notprov.cnf" "module $SOFTHSM_MODULE of provider cmk .* is not an OpenSSL provider \(no OSSL_provider_init\)" \
	"a library that is not a provider"

# the configuration
prov_conf "$T/off.cnf" "module = $SO"
sed -i '/^\[cmk_sect\]/,$ { /^activate = 1$/d }' "$T/off.cnf"
check_fails "$T/off.cnf" "provider cmk in $T/off.cnf is not activated: its section \[cmk_sect\] has no 'activate = 1'" \
	"a provider section without activate"
# 'activate = 0': OpenSSL 3.0 activates on the line whatever its value,
# later versions read a boolean; the check says what this OpenSSL does
prov_conf "$T/zero.cnf" "module = $SO"
sed -i '/^\[cmk_sect\]/,$ s/^activate = 1$/activate = 0/' "$T/zero.cnf"
run env OPENSSL_CONF="$T/zero.cnf" openssl list -providers
want=$([ "$(grep -c 'cmk vault key provider' "$OUT")" = 1 ] && echo 0 || echo 3)
run cmk provider check --openssl-conf "$T/zero.cnf"
is "$RC" "$want" "activate = 0: the check agrees with what this OpenSSL loads (exit $want)"
[ "$RC" = "$want" ] || diag_file stderr "$ERR"
prov_conf "$T/other.cnf" "module = $SO"
check_fails "$T/other.cnf" "does not load a provider named vault: its providers section has no line for it" \
	"a provider name the file does not have" --name vault
run cmk provider check --openssl-conf "$T/ok.cnf" --name cmk
is "$RC" 0 "--name cmk is the default's name"
expect_fail_msg 3 "OpenSSL configuration /dev/null \(OPENSSL_CONF\) loads no provider: it has no 'openssl_conf' line" \
	"a file that loads no provider" cmk provider check # (provider-lib.sh's OPENSSL_CONF)
check_fails "$T/absent.cnf" "OpenSSL configuration $T/absent.cnf \(--openssl-conf\) cannot be read: No such file or directory" \
	"a file that does not exist"

# cmk.so's own refusals reach the user
prov_conf "$T/typo.cnf" "module = $SO" "cmk_identiy = svc"
check_fails "$T/typo.cnf" "unknown option \"cmk_identiy\"" "an unknown option of cmk's section: named"
prov_conf "$T/bogus.cnf" "module = $SO" "purpose = bogus"
check_fails "$T/bogus.cnf" "purpose = bogus: want auto, key or data" "a bad value of cmk's section: named"
no_crash "no crash"
done_testing
