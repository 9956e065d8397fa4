#!/bin/bash
# The fuzz corpus replays cleanly through the fuzz targets (any compiler);
# with --enable-fuzz the libFuzzer targets also run briefly.
set -u
b=${abs_top_builddir:-.}/fuzz
c=${srcdir:-.}/fuzz/corpus
n=0 bad=0
for t in envelope wrapped; do
	n=$((n + 1))
	if out=$("$b/replay-$t" "$c/$t" 2>&1); then
		echo "ok $n - corpus of fuzz-$t replays without a crash (${out%%$'\n'*})"
	else
		bad=1
		echo "not ok $n - corpus of fuzz-$t replays without a crash"
		printf '%s\n' "$out" | sed 's/^/# /' | head -40
	fi
	if [ -x "$b/fuzz-$t" ]; then
		n=$((n + 1))
		w=$(mktemp -d)
		if "$b/fuzz-$t" -max_total_time="${CMK_FUZZ_SECONDS:-5}" -max_len=200000 \
			"$w" "$c/$t" >"$w.log" 2>&1; then
			echo "ok $n - fuzz-$t runs ${CMK_FUZZ_SECONDS:-5} s without a finding"
		else
			bad=1
			echo "not ok $n - fuzz-$t runs ${CMK_FUZZ_SECONDS:-5} s without a finding"
			tail -40 "$w.log" | sed 's/^/# /'
		fi
		rm -rf "$w" "$w.log"
	fi
done
echo "1..$n"
exit $bad
