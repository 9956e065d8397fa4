# fuzz: libFuzzer targets for the parsers of untrusted bytes.
#
#   ./configure --enable-fuzz CC=clang && make fuzz-run
#       builds fuzz/fuzz-envelope, fuzz/fuzz-wrapped and fuzz/fuzz-keyref
#       (clang, -fsanitize=fuzzer,address) and runs each for FUZZ_SECONDS
#       (30; all at once with make -j3 fuzz-run) on
#       its corpus fuzz/corpus/<target>/ (new inputs go to a scratch dir;
#       copy good ones into the corpus by hand).
#
# `make check` replays the corpus through the same targets with a plain
# main() (fuzz/replay.c) whatever the compiler, and with --enable-fuzz also
# runs each libFuzzer target for a few seconds (tests/envelope-fuzz.sh).

fuzz_corpus = \
	fuzz/corpus/envelope/vector-1 fuzz/corpus/envelope/vector-2 \
	fuzz/corpus/envelope/vector-3 fuzz/corpus/envelope/frames-4 \
	fuzz/corpus/envelope/big-frame fuzz/corpus/envelope/many-keys \
	fuzz/corpus/wrapped/oaep256 fuzz/corpus/wrapped/oaep1 \
	fuzz/corpus/wrapped/rsa4096
EXTRA_DIST += $(fuzz_corpus) fuzz/envelope.c fuzz/wrapped.c fuzz/replay.c

# The parser sources are compiled into each target (instrumented for
# coverage with libFuzzer); everything else comes from libcmk-internal.
fuzz_envelope_srcs = fuzz/envelope.c $(libcmk_envelope_sources)
fuzz_wrapped_srcs = fuzz/wrapped.c src/lib/codec/wrapped.c
fuzz_cflags = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS) $(P11KIT_CFLAGS) $(JSONC_CFLAGS)
fuzz_ldadd = src/lib/libcmk-internal.la $(LIBCRYPTO_LIBS) $(PTHREAD_LIBS)

check_PROGRAMS += fuzz/replay-envelope fuzz/replay-wrapped
fuzz_replay_envelope_SOURCES = fuzz/replay.c $(fuzz_envelope_srcs)
fuzz_replay_envelope_CFLAGS = $(fuzz_cflags)
fuzz_replay_envelope_LDADD = $(fuzz_ldadd)
fuzz_replay_wrapped_SOURCES = fuzz/replay.c $(fuzz_wrapped_srcs)
fuzz_replay_wrapped_CFLAGS = $(fuzz_cflags)
fuzz_replay_wrapped_LDADD = $(fuzz_ldadd)

FUZZ_SECONDS = 30
FUZZ_TARGETS = envelope wrapped keyref

if FUZZ
FUZZ_FLAGS = -fsanitize=fuzzer,address -fno-omit-frame-pointer
noinst_PROGRAMS += fuzz/fuzz-envelope fuzz/fuzz-wrapped
fuzz_fuzz_envelope_SOURCES = $(fuzz_envelope_srcs)
fuzz_fuzz_envelope_CFLAGS = $(fuzz_cflags) $(FUZZ_FLAGS)
fuzz_fuzz_envelope_LDFLAGS = $(FUZZ_FLAGS)
fuzz_fuzz_envelope_LDADD = $(fuzz_ldadd)
fuzz_fuzz_wrapped_SOURCES = $(fuzz_wrapped_srcs)
fuzz_fuzz_wrapped_CFLAGS = $(fuzz_cflags) $(FUZZ_FLAGS)
fuzz_fuzz_wrapped_LDFLAGS = $(FUZZ_FLAGS)
fuzz_fuzz_wrapped_LDADD = $(fuzz_ldadd)

# fuzz-run: every target at once (make -j3 fuzz-run: FUZZ_SECONDS in all),
# each on its corpus; fuzz-run-TARGET: one of them.
fuzz_run = run() { \
	work=`mktemp -d`; trap 'rm -rf "$$work"' EXIT; \
	echo "fuzz-$$1: $(FUZZ_SECONDS) s on $(srcdir)/fuzz/corpus/$$1"; \
	ASAN_OPTIONS=detect_leaks=1 fuzz/fuzz-$$1 -max_total_time=$(FUZZ_SECONDS) \
		-max_len=$$2 -print_final_stats=1 $$work $(srcdir)/fuzz/corpus/$$1; \
}; run
fuzz-run: $(FUZZ_TARGETS:%=fuzz-run-%)
fuzz-run-envelope: fuzz/fuzz-envelope
	@$(fuzz_run) envelope 200000
fuzz-run-wrapped: fuzz/fuzz-wrapped
	@$(fuzz_run) wrapped 200000
else
fuzz-run fuzz-run-envelope fuzz-run-wrapped:
	@echo "$@: configure with --enable-fuzz CC=clang first" >&2; exit 2
endif
.PHONY: fuzz-run fuzz-run-envelope fuzz-run-wrapped

# The key reference parser of the provider's decoder (docs/pem-reference.md):
# fuzz/fuzz-keyref with --enable-fuzz; the corpus replays in make check
# (tests/provider-fuzz.sh).
fuzz_keyref_corpus = fuzz/corpus/keyref/versionless fuzz/corpus/keyref/versioned \
	fuzz/corpus/keyref/ber-long-length fuzz/corpus/keyref/v2-versionless
EXTRA_DIST += $(fuzz_keyref_corpus) fuzz/keyref.c
fuzz_keyref_srcs = fuzz/keyref.c src/lib/codec/keyref.c
check_PROGRAMS += fuzz/replay-keyref
fuzz_replay_keyref_SOURCES = fuzz/replay.c $(fuzz_keyref_srcs)
fuzz_replay_keyref_CFLAGS = $(fuzz_cflags)
fuzz_replay_keyref_LDADD = $(fuzz_ldadd)
if FUZZ
noinst_PROGRAMS += fuzz/fuzz-keyref
fuzz_fuzz_keyref_SOURCES = $(fuzz_keyref_srcs)
fuzz_fuzz_keyref_CFLAGS = $(fuzz_cflags) $(FUZZ_FLAGS)
fuzz_fuzz_keyref_LDFLAGS = $(FUZZ_FLAGS)
fuzz_fuzz_keyref_LDADD = $(fuzz_ldadd)
fuzz-run-keyref: fuzz/fuzz-keyref
	@$(fuzz_run) keyref 8192
else
fuzz-run-keyref:
	@echo "$@: configure with --enable-fuzz CC=clang first" >&2; exit 2
endif
.PHONY: fuzz-run-keyref
