#!/bin/bash
# Listing and start-up against the number of keys (issue 12, item 7): a
# benchmark, not a test (not in `make check`); it prints figures and
# asserts nothing.
#
#   tests/bench-listing.sh [NKEYS [REPEAT]]      (defaults 1000 and 5)
#
# from the build directory (or with CMK_BIN=path/to/cmk).  It makes a lab in
# a temporary directory and measures, with one key and then with NKEYS keys
# (imported from one PEM, so no key generation):
#   - cmk key list, next to pkcs11-tool -O (every object with its
#     attributes) on the same token: target key list <= 1.5 x pkcs11-tool;
#   - a one-shot cmk unwrap (a new process each time): target its time with
#     NKEYS keys <= 2 x its time on a one-key vault;
#   - the token's own floor for a one-shot unwrap: pkcs11-tool --decrypt
#     (a new process: initialise, log in, find the private key by CKA_ID,
#     one C_Decrypt with RSA-OAEP-SHA1), with 1 and NKEYS keys.  Its growth is
#     what any PKCS#11 application pays for a fuller token.
# Each figure is the median of REPEAT runs, in milliseconds.
set -eu
N=${1:-1000}
REPEAT=${2:-5}
CMK=${CMK_BIN:-$PWD/src/cli/cmk}
MODULE=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
[ -x "$CMK" ] || { echo "no cmk at $CMK (run from the build directory or set CMK_BIN)" >&2; exit 2; }
command -v pkcs11-tool >/dev/null || { echo "pkcs11-tool is needed" >&2; exit 2; }
T=$(mktemp -d "${TMPDIR:-/tmp}/cmk-listing.XXXXXX")
trap 'rm -rf "$T"' EXIT
"$CMK" lab init "$T/lab" >/dev/null
export SOFTHSM2_CONF=$T/lab/softhsm2.conf CMK_CONF=$T/lab/cmk.conf

# median_ms CMD...: the median wall time of REPEAT runs of CMD, in ms
median_ms() {
	local i t0 t1
	for i in $(seq "$REPEAT"); do
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
		t1=$(date +%s%N)
		echo $(( (t1 - t0) / 1000000 ))
	done | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
p11_list() {
	pkcs11-tool --module "$MODULE" --token-label cmk-lab --login \
		--pin "$(cat "$T/lab/pin")" -O
}
objects() {
	p11_list 2>/dev/null | grep -ciE '^(private key|public key|secret key|data|certificate) object'
}

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/k.pem" 2>/dev/null
"$CMK" key import k0 --pem "$T/k.pem" >/dev/null
head -c 32 /dev/urandom >"$T/dek"
"$CMK" wrap k0 --in "$T/dek" --out "$T/wrapped"
# the floor: an OAEP ciphertext for k0's private key, found by its id
# (SHA-1: SoftHSM 2.6 decrypts OAEP with SHA-1 only; the RSA operation is
# the same)
openssl pkeyutl -encrypt -inkey "$T/k.pem" -pkeyopt rsa_padding_mode:oaep \
	-pkeyopt rsa_oaep_md:sha1 -in "$T/dek" -out "$T/raw.ct"
V0=$("$CMK" --json key show k0 | sed -n 's/.*"current": *"\([0-9a-f]*\)".*/\1/p')
ID0=$(p11_list 2>/dev/null | awk -v v="$V0" '/^Private Key Object/ { p = 1 } /^[A-Z]/ && !/^Private/ { p = 0 }
	p && /^ *ID:/ && index($2, v) == 1 { id = $2 } p && /^ *Usage:.*decrypt/ && id { print id; exit }')
[ -n "$ID0" ] || { echo "no private key of k0 ($V0) that may decrypt" >&2; exit 1; }
p11_decrypt() {
	pkcs11-tool --module "$MODULE" --token-label cmk-lab --login --pin "$(cat "$T/lab/pin")" \
		--decrypt --id "$ID0" -m RSA-PKCS-OAEP --hash-algorithm SHA-1 --mgf MGF1-SHA1 \
		--input-file "$T/raw.ct" --output-file "$T/raw.out"
}

measure() {
	local keys=$1
	local list p11 unwrap floor
	list=$(median_ms "$CMK" key list)
	p11=$(median_ms p11_list)
	unwrap=$(median_ms "$CMK" unwrap --in "$T/wrapped" --out "$T/dek.out")
	floor=$(median_ms p11_decrypt)
	cmp -s "$T/raw.out" "$T/dek" || { echo "pkcs11-tool --decrypt gave another key" >&2; exit 1; }
	printf '%6s keys %6s objects  key list %6s ms  pkcs11-tool -O %6s ms  (%s x)  unwrap %6s ms  pkcs11-tool --decrypt %6s ms\n' \
		"$keys" "$(objects)" "$list" "$p11" \
		"$(awk -v a="$list" -v b="$p11" 'BEGIN { printf "%.2f", b ? a / b : 0 }')" "$unwrap" "$floor"
	eval "LIST_$keys=$list P11_$keys=$p11 UNWRAP_$keys=$unwrap FLOOR_$keys=$floor"
}

echo "$("$CMK" version 2>/dev/null | head -n 1), SoftHSM token, median of $REPEAT runs"
measure 1
i=1
while [ "$i" -lt "$N" ]; do
	"$CMK" key import "k$i" --pem "$T/k.pem" >/dev/null
	i=$((i + 1))
done
measure "$N"
eval "l=\$LIST_$N p=\$P11_$N u1=\$UNWRAP_1 un=\$UNWRAP_$N f1=\$FLOOR_1 fn=\$FLOOR_$N"
awk -v l="$l" -v p="$p" -v u1="$u1" -v un="$un" -v f1="$f1" -v fn="$fn" -v n="$N" 'BEGIN {
	printf "with %d keys: key list / pkcs11-tool -O = %.2f (target <= 1.5); ", n, l / p
	printf "unwrap / unwrap on a one-key vault = %.2f (target <= 2); ", un / u1
	printf "the token floor (pkcs11-tool --decrypt) grew %.2f x, by %d ms; ", fn / f1, fn - f1
	printf "unwrap grew by %d ms\n", un - u1 }'
