#!/bin/bash
# Issue 10: a copy of a private key half written by a kill.  SoftHSM 2.6
# writes an object file in place, attributes in ascending type order, and
# loads a file cut between two attributes as a valid object, filling the
# missing ones with defaults -- an empty private exponent (docs/design.md).
# Here the working copy's file is cut before CKA_PRIVATE_EXPONENT: cmk must
# not use it, reads must change nothing of cmk's, `vault check` lists it and
# `--repair` replaces it.
. "${srcdir:-.}/tests/lib.sh"
need python3
PROBE=$CMK_TESTS_BIN/p11-probe
[ -x "$PROBE" ] || bail "tests/p11-probe is not built"
lab_new
probe() { "$PROBE" "$SOFTHSM_MODULE" - "$LAB_TOKEN" "$LAB/pin" "$@"; }
rand_file "$T/dek" 32

ok "key create k" cmk key create k
v=$(key_versions k | tail -n 1)
ok "wrap with k" cmk wrap k --in "$T/dek" --out "$T/w"
ok "wrap with k/V, raw" cmk wrap "k/$v" --raw --in "$T/dek" --out "$T/wr"
tokdir=$(sed -n 's/^directories.tokendir *= *//p' "$SOFTHSM2_CONF")
[ -d "$tokdir" ] || bail "no SoftHSM token directory in $SOFTHSM2_CONF"

# the working copy: CKA_CLASS (0) = CKO_PRIVATE_KEY (3) and CKA_DECRYPT
# (0x105) = true; big-endian 8-byte type and kind, then the value
cut_working_copy() {
	python3 - "$tokdir" <<'PY'
import glob, struct, sys
be = lambda v: struct.pack('>Q', v)
cls = be(0) + be(2) + be(3)            # CKA_CLASS, ULONG, CKO_PRIVATE_KEY
dec = be(0x105) + be(1) + b'\xff'      # CKA_DECRYPT, BOOL, true
last = be(0x123) + be(3)               # CKA_PRIVATE_EXPONENT, BYTESTR
hits = []
for f in glob.glob(sys.argv[1] + '/*/*.object'):
    if f.endswith('/token.object'):
        continue
    d = open(f, 'rb').read()
    if cls in d and dec in d and last in d:
        hits.append((f, d))
if len(hits) != 1:
    sys.exit('want one working copy file, found %d' % len(hits))
f, d = hits[0]
open(f, 'r+b').truncate(d.index(last))
print(f)
PY
}
ok "cut the working copy's file before its private exponent" cut_working_copy
ids=$(probe privkeys | awk '{ print $1 }' | sort)
like "$ids" "^$v" "the token still lists the cut copy (it loads, defaults filled in)"

expect_fail_msg 6 "k/$v.*interrupted change" "unwrap does not use the incomplete copy (exit 6)" \
	cmk unwrap --in "$T/w" -o "$T/u"
expect_fail_msg 6 "k/$v.*interrupted change" "nor does a raw unwrap naming the version (exit 6)" \
	cmk unwrap "cmk://lab/keys/k/$v" --raw --in "$T/wr" -o "$T/ur"
no_file "$T/ur" "and it writes no output"
is "$(probe privkeys | awk '{ print $1 }' | sort)" "$ids" "and changes nothing on the token"
run cmk vault check
is "$RC" 23 "vault check exits 23"
like "$(cat "$OUT")" "incomplete-copy cmk://lab/keys/k/$v" "and lists the half-written copy"
ok "vault check --repair" cmk vault check --repair
ok "vault check is clean after it" cmk vault check
ok "unwrap works again" cmk unwrap --in "$T/w" -o "$T/u"
same_file "$T/u" "$T/dek" "and recovers the DEK"
is "$(probe privkeys | awk '{ print $1 }' | sort | tr '\n' ' ')" "$v ${v}41 " "one working copy and one archive"
done_testing
