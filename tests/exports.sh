#!/bin/bash
# libcmk.so exports its public API and nothing else: the dynamic symbols of
# the built library (nm -D --defined-only) are exactly the functions the
# public headers declare, each in the version node of src/lib/libcmk.map.
# Libcmk is compiled with -fvisibility=hidden and the public headers give
# what they declare default visibility (#pragma GCC visibility), so a
# function is exported by declaring it in a public header.
. "${srcdir:-.}/tests/lib.sh"
need nm objdump python3
so=$abs_top_builddir/src/lib/.libs/libcmk.so
[ -f "$so" ] || bail "$so not built"
headers="$abs_top_srcdir/src/cmk.h $abs_top_srcdir/src/cmk_envelope.h"
map=src/lib/libcmk.map

# The functions the headers declare: identifiers cmk_... followed by "(",
# outside comments, #define lines and typedefs (a function type or a
# function pointer type is not a function).
python3 - $headers >"$T/declared" <<'PY'
import re, sys
names = set()
for path in sys.argv[1:]:
    src = open(path).read()
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    src = re.sub(r"//[^\n]*", " ", src)
    src = re.sub(r"^\s*#[^\n]*(\\\n[^\n]*)*", " ", src, flags=re.M)
    # a function type (typedef int cmk_pin_cb(...);) declares no function
    src = re.sub(r"\btypedef\b[^;]*;", " ", src)
    names.update(re.findall(r"\b(cmk_[A-Za-z0-9_]+)\s*\(", src))
print("\n".join(sorted(names)))
PY
[ -s "$T/declared" ] || bail "no function found in $headers"
ok "nm -D libcmk.so" nm -D --defined-only "$so"
awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' "$OUT" | sort -u >"$T/exported"
[ -s "$T/exported" ] || bail "no symbol in nm -D of $so"

comm -23 "$T/exported" "$T/declared" >"$T/extra"
comm -13 "$T/exported" "$T/declared" >"$T/missing"
if [ -s "$T/extra" ]; then
	fail "libcmk.so exports only what the public headers declare"
	while read -r s; do
		diag "remove $s from the exports: make it static, or declare it in an internal" \
			"header (not src/cmk.h, src/cmk_envelope.h) and not with default visibility;" \
			"or, if it is public API, declare it in src/cmk.h"
	done <"$T/extra"
else
	pass "libcmk.so exports only what the public headers declare"
fi
if [ -s "$T/missing" ]; then
	fail "libcmk.so exports every function the public headers declare"
	while read -r s; do
		diag "add $s: it is declared in a public header but libcmk.so does not export it" \
			"(define it in src/lib/, inside the headers' #pragma GCC visibility" \
			"push(default) region; $map exports every cmk_* with default visibility)"
	done <"$T/missing"
else
	pass "libcmk.so exports every function the public headers declare"
fi
is "$(wc -l <"$T/exported")" "$(wc -l <"$T/declared")" "as many exports as declared functions"

# Every export is in the version node; nothing but cmk_ is exported.
ok "objdump -T libcmk.so" objdump -T "$so"
awk '/ DF \.text/ && $NF ~ /^cmk_/ && $(NF-1) != "CMK_1.0" { print $NF }' "$OUT" >"$T/unversioned"
is "$(cat "$T/unversioned")" "" "every exported function is in version node CMK_1.0 ($map)"
awk '$2 != "A" && $3 !~ /^cmk_/' <(nm -D --defined-only "$so") >"$T/other"
is "$(cat "$T/other")" "" "no other symbol is exported"
done_testing
