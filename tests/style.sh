#!/bin/bash
# One code style for src/, tests/ and fuzz/ (issue 14): every C file is as
# clang-format formats it with the checked-in .clang-format (the kernel-like
# style of docs/design.md's code: tabs, one-line signatures, 100 columns).
# To fix a file: clang-format -i FILE.
. "${srcdir:-.}/tests/lib.sh"
need clang-format git
cd "$abs_top_srcdir" || bail "no source tree"
[ -f .clang-format ] || bail ".clang-format is missing"
files=$(git ls-files 'src/*.[ch]' 'tests/*.[ch]' 'fuzz/*.[ch]' 2>/dev/null) ||
	files=$(find src tests fuzz -name '*.[ch]' 2>/dev/null)
[ -n "$files" ] || bail "no C files found"
bad=
for f in $files; do
	clang-format --style=file "$f" | cmp -s - "$f" || bad="$bad $f"
done
is "$bad" "" "every C file is formatted as .clang-format says ($(echo "$files" | wc -w) files)"
done_testing
