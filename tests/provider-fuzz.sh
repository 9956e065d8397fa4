#!/bin/bash
# The key reference corpus replays cleanly through the parser of the
# provider's decoder (fuzz/keyref.c, any compiler); with --enable-fuzz the
# libFuzzer target also runs briefly.
set -u
b=${abs_top_builddir:-.}/fuzz
c=${srcdir:-.}/fuzz/corpus/keyref
echo "1..2"
if out=$("$b/replay-keyref" "$c" 2>&1); then
	echo "ok 1 - corpus of fuzz-keyref replays without a crash (${out%%$'\n'*})"
else
	echo "not ok 1 - corpus of fuzz-keyref replays without a crash"
	printf '%s\n' "$out" | sed 's/^/# /' | head -20
fi
if [ -x "$b/fuzz-keyref" ]; then
	w=$(mktemp -d)
	trap 'rm -rf "$w"' EXIT
	if "$b/fuzz-keyref" -max_total_time="${CMK_FUZZ_SECONDS:-5}" -max_len=8192 \
		"$w" "$c" >"$w/log" 2>&1; then
		echo "ok 2 - fuzz-keyref runs ${CMK_FUZZ_SECONDS:-5} s without a finding"
	else
		echo "not ok 2 - fuzz-keyref runs ${CMK_FUZZ_SECONDS:-5} s without a finding"
		tail -30 "$w/log" | sed 's/^/# /'
	fi
else
	echo "ok 2 - fuzz-keyref # SKIP not built (configure --enable-fuzz CC=clang)"
fi
