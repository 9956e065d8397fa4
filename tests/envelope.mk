# Envelope, data-key cache and resource tests (issue 4); included from
# tests/local.mk.

envelope_tests = \
	tests/envelope-codec.sh \
	tests/envelope-vectors.sh \
	tests/envelope-fuzz.sh \
	tests/envelope-cli.sh \
	tests/envelope-bad-input.sh \
	tests/resource-basic.sh \
	tests/resource-cmk.sh \
	tests/resource-revoke.sh \
	tests/envelope-cache.sh

TESTS += $(envelope_tests)
EXTRA_DIST += $(envelope_tests) tests/envelope-vectors.py \
	tests/data/envelope-v1-1.hex tests/data/envelope-v1-2.hex \
	tests/data/envelope-v1-3.hex

check_PROGRAMS += tests/envelope-codec
tests_envelope_codec_SOURCES = tests/envelope-codec.c
tests_envelope_codec_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS)
tests_envelope_codec_LDADD = src/lib/libcmk-internal.la $(LIBCRYPTO_LIBS) \
	$(PTHREAD_LIBS)

check_PROGRAMS += tests/envelope-cache
tests_envelope_cache_SOURCES = tests/envelope-cache.c
tests_envelope_cache_LDADD = src/lib/libcmk.la $(PTHREAD_LIBS)

# Throughput next to `openssl speed` (make bench-envelope; needs a lab in
# $CMK_CONF, see tests/envelope-bench.c).
noinst_PROGRAMS += tests/envelope-bench
tests_envelope_bench_SOURCES = tests/envelope-bench.c
tests_envelope_bench_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS)
tests_envelope_bench_LDADD = src/lib/libcmk-internal.la $(LIBCRYPTO_LIBS) \
	$(PTHREAD_LIBS)

bench-envelope: tests/envelope-bench
	tests/envelope-bench -s $${BENCH_SECONDS:-2}
.PHONY: bench-envelope
