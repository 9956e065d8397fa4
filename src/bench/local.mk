# src/bench: the benchmark behind `cmk bench` (docs/benchmarks.md).  A
# tool, not part of libcmk: an internal library linked into the `cmk`
# command only, on libcmk's public API, with its own PKCS#11 connection to
# the token through p11-kit (p11.c).
noinst_LTLIBRARIES += src/bench/libbench.la
src_bench_libbench_la_SOURCES = \
	src/bench/bench.h \
	src/bench/bench_int.h \
	src/bench/err.c \
	src/bench/p11.c \
	src/bench/hist.c \
	src/bench/run.c \
	src/bench/procs.c \
	src/bench/plan.c \
	src/bench/cases.c \
	src/bench/sweep.c \
	src/bench/keys.c \
	src/bench/op_key.c \
	src/bench/op_provider.c \
	src/bench/op_envelope.c \
	src/bench/op_resource.c \
	src/bench/op_mgmt.c \
	src/bench/op_p11.c \
	src/bench/op_token.c \
	src/bench/op_ossl.c \
	src/bench/op_log.c \
	src/bench/report.c \
	src/bench/json.c \
	src/bench/svg.c
src_bench_libbench_la_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS) $(P11KIT_CFLAGS) $(JSONC_CFLAGS)
src_bench_libbench_la_LIBADD = $(LIBCRYPTO_LIBS) $(P11KIT_LIBS) $(JSONC_LIBS) $(PTHREAD_LIBS)
