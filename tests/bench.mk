# cmk bench (issue 7, docs/benchmarks.md): a short run checked for a complete
# report; nothing asserts a speed.  Included from tests/local.mk.
TESTS += tests/bench.sh
EXTRA_DIST += tests/bench.sh
