# tests/provider-lib.sh - helpers for the tests of the OpenSSL provider
# (tests/provider-*.sh), sourced after tests/lib.sh.
#
# tests/provider.mk exports CMK_PROVIDER_DIR, the build directory of cmk.so.

: "${CMK_PROVIDER_DIR:?run the tests with make check}"
need openssl
[ -f "$CMK_PROVIDER_DIR/cmk.so" ] || bail "$CMK_PROVIDER_DIR/cmk.so not built"
export OPENSSL_MODULES=$CMK_PROVIDER_DIR
# Nothing from the machine's openssl.cnf; tests choose their configuration.
export OPENSSL_CONF=/dev/null
# A sanitizer build of cmk.so needs the sanitizer runtime loaded first in
# the uninstrumented openssl: run openssl through a wrapper that preloads it.
_san=$(ldd "$CMK_PROVIDER_DIR/cmk.so" 2>/dev/null |
	sed -n 's/^[[:space:]]*lib\(asan\|ubsan\)\.so[^ ]* => \([^ ]*\).*/\2/p' | tr '\n' ' ')
if [ -n "$_san" ]; then
	mkdir -p "$T/bin"
	printf '#!/bin/sh\nLD_PRELOAD="%s${LD_PRELOAD:+ $LD_PRELOAD}" exec %s "$@"\n' \
		"${_san% }" "$(command -v openssl)" >"$T/bin/openssl"
	chmod +x "$T/bin/openssl"
	PATH=$T/bin:$PATH
fi

# both providers on the command line (the default one first: see cmk-provider(7))
PROV="-provider default -provider cmk"

# prov_conf FILE [KEY = VALUE lines...]: an openssl.cnf that activates the
# default and the cmk provider, with the lines added to the cmk section.
prov_conf() {
	local file=$1 line
	shift
	{
		printf '%s\n' 'openssl_conf = openssl_init' '' '[openssl_init]' \
			'providers = provider_sect' '' '[provider_sect]' \
			'default = default_sect' 'cmk = cmk_sect' '' '[default_sect]' \
			'activate = 1' '' '[cmk_sect]' 'activate = 1' \
			"cmk_conf = $CMK_CONF"
		for line in "$@"; do printf '%s\n' "$line"; done
	} >"$file"
}

# pub_pem NAME FILE: the public key of a vault key, as the cmk command gives it
pub_pem() {
	cmk --json key show "$1" | jq -j .public_key_pem >"$2"
}

# oaep MD: pkeyutl options for RSA-OAEP with MD and MGF1-MD
oaep() {
	echo "-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:$1 -pkeyopt rsa_mgf1_md:$1"
}

# nothing_written FILE DESC: FILE is absent or empty (openssl creates -out
# files before the operation; what matters is that no byte of output lands)
nothing_written() {
	if [ -s "$1" ]; then
		fail "$2" "$1 has $(wc -c <"$1") bytes"
	else
		pass "$2"
	fi
}

# no_crash DESC: the last `run` ended by exit, not by a signal
no_crash() {
	if [ "$RC" -lt 128 ]; then
		pass "$1"
	else
		fail "$1" "exit $RC (signal $((RC - 128)))"
		diag_file stderr "$ERR"
	fi
}
