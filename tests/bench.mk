# cmk bench (docs/benchmarks.md): short runs checked for a complete report
# and for leaving nothing on the token; nothing asserts a speed.  And the
# exports of libcmk.so (src/lib/libcmk.map).  Included from tests/local.mk.
bench_tests = tests/bench.sh tests/bench-interrupt.sh tests/bench-token.sh tests/exports.sh
TESTS += $(bench_tests)
EXTRA_DIST += $(bench_tests) tests/bench-listing.sh
