# cmk bench (issue 7): the measurements and the raw PKCS#11 baselines, in
# libcmk because only libcmk talks PKCS#11.  src/cmk_bench.h is the
# interface to the `cmk bench` command (not installed, not in cmk.h).
libcmk_bench_sources = \
	src/cmk_bench.h \
	src/lib/bench/bench.h \
	src/lib/bench/hist.c \
	src/lib/bench/run.c \
	src/lib/bench/procs.c \
	src/lib/bench/plan.c \
	src/lib/bench/cases.c \
	src/lib/bench/sweep.c \
	src/lib/bench/keys.c \
	src/lib/bench/op_key.c \
	src/lib/bench/op_provider.c \
	src/lib/bench/op_envelope.c \
	src/lib/bench/op_resource.c \
	src/lib/bench/op_mgmt.c \
	src/lib/bench/op_p11.c \
	src/lib/bench/op_ossl.c \
	src/lib/bench/report.c \
	src/lib/bench/json.c \
	src/lib/bench/svg.c

