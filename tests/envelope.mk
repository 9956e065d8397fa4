# Envelope, data-key cache and resource tests (issue 4); included from
# tests/local.mk.

envelope_tests = \
	tests/envelope-codec.sh \
	tests/envelope-vectors.sh \
	tests/envelope-fuzz.sh

TESTS += $(envelope_tests)
EXTRA_DIST += $(envelope_tests) tests/envelope-vectors.py \
	tests/data/envelope-v1-1.hex tests/data/envelope-v1-2.hex \
	tests/data/envelope-v1-3.hex

check_PROGRAMS += tests/envelope-codec
tests_envelope_codec_SOURCES = tests/envelope-codec.c
tests_envelope_codec_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS)
tests_envelope_codec_LDADD = src/lib/libcmk-internal.la $(LIBCRYPTO_LIBS) \
	$(PTHREAD_LIBS)
