#!/bin/bash
# The layers of docs/design.md, checked on the #include lines of src/:
#
#   util -> p11 -> codec -> context (ctx, conffile, pin) -> vault -> crypto
#     -> envelope -> resource
#   envelope, provider, cli, bench: the public headers (cmk.h,
#     cmk_envelope.h), and the envelope its own and util
#
# A directory may include its own headers and those of the layers below it,
# never one above (so no call goes back up), and only src/lib/p11/ includes
# the PKCS#11 headers.  The context holds the state of the layers above
# (the vault's audit log and policy cache, crypto's key cache) without
# knowing it: each layer adds its part with what to do at close and fork
# (ctx_part_add, src/lib/ctx.h).
. "${srcdir:-.}/tests/lib.sh"
src=$abs_top_srcdir/src
public='cmk\.h|cmk_envelope\.h|config\.h'

# check DIR ALLOWED-ERE DESC
check() {
	local dir=$1 allowed=$2 desc=$3 bad
	bad=$(cd "$src" && grep -HnE '^#include "' $dir/*.c $dir/*.h 2>/dev/null |
		grep -vE "#include \"($public|$allowed)\"")
	if [ -z "$bad" ]; then
		pass "$desc"
	else
		fail "$desc" "$bad"
	fi
}

check lib/util 'util/[a-z0-9_]+\.h' "util includes nothing above it"
check lib/p11 '(p11|util)/[a-z0-9_]+\.h' "p11 includes only p11 and util"
check lib/codec '(codec|p11|util)/[a-z0-9_]+\.h' "codec (OAEP, wrapped keys, key references, import) includes only p11 and util"
check lib '(ctx|conffile)\.h|(p11|util)/[a-z0-9_]+\.h' "the context includes p11 and util only"
check lib/vault '(ctx|conffile)\.h|(vault|codec|p11|util)/[a-z0-9_]+\.h' "vault includes nothing above it"
check lib/crypto '(ctx|conffile)\.h|(crypto|codec|vault|p11|util)/[a-z0-9_]+\.h' "crypto includes nothing above it"
check lib/envelope '(envelope|util)/[a-z0-9_]+\.h' "the envelope uses the public API (and util) only"
check lib/resource '(resource|envelope|crypto|vault|util)/[a-z0-9_]+\.h' "resource includes nothing above it (and no p11)"
check provider 'prov\.h' "the provider uses the public headers only"
check cli 'cli/[a-z0-9_]+\.h|bench/bench\.h' "the command uses the public headers (and the bench tool) only"
check bench 'bench/[a-z0-9_]+\.h' "the bench uses the public headers only"

# only src/lib/p11/ (and the bench tool, which measures a token without a
# vault) speaks PKCS#11
bad=$(cd "$src" && grep -lE '#include <p11-kit/(pkcs11|p11-kit)\.h>|\bC_(Decrypt|Sign|Login|FindObjects)\(' \
	$(find . -name '*.[ch]' ! -path './lib/p11/*' ! -path './bench/*') 2>/dev/null)
# p11.h is included from above through the layer's own header; the header
# brings the PKCS#11 types to the vault and crypto layers, never calls
is "$bad" "" "no file outside src/lib/p11/ (and the bench tool) includes the PKCS#11 headers or calls C_ functions"
done_testing
