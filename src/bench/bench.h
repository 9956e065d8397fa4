/*
 * bench.h - the benchmark behind `cmk bench` (docs/benchmarks.md).
 *
 * src/bench/ is a tool, not part of libcmk: an internal library linked
 * into the `cmk` command only, never installed.  It measures libcmk through
 * its public API (cmk.h, cmk_envelope.h) and the token through a PKCS#11
 * module it loads with p11-kit itself (p11.c), as pkcs11-tool would; it
 * uses nothing of libcmk's internals.  This header is its interface to the
 * command, which parses the options and prints the report.
 *
 * A run measures each selected operation at each thread count and, in the
 * same run, the limits it is compared with: the raw PKCS#11 calls on the
 * same token ("hsm" class, the HSM limit) and the same operations in plain
 * OpenSSL on a software key ("cpu" class, the CPU limit).
 */
#ifndef BENCH_H
#define BENCH_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cmk.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BENCH_THREADS_MAX 256
#define BENCH_SIZES_MAX	  8
#define BENCH_PROCS_MAX	  64

typedef struct bench_opts {
	unsigned threads[16];	       /* thread counts, in order */
	size_t nthreads;	       /* 0: 1, 2, 4 */
	double duration;	       /* seconds per measurement; 0: 2 */
	uint64_t count;		       /* operations per measurement instead of a
	                               duration (all threads and processes) */
	double warmup;		       /* seconds before each measurement; <0: 0.5 */
	unsigned procs;		       /* processes on the token; 0: 1 */
	unsigned repeat;	       /* rounds; each point keeps its fastest; 0: 1 */
	unsigned key_bits;	       /* temporary key; 0: 2048 */
	const char *hash;	       /* OAEP digest; NULL: "SHA256" */
	const char *key;	       /* existing key to use (NAME, NAME/VERSION or
	                               cmk:// id); NULL: a temporary key */
	const char *ops;	       /* comma-separated names or groups; NULL: all */
	size_t sizes[BENCH_SIZES_MAX]; /* envelope object sizes */
	size_t nsizes;		       /* 0: 4 KiB and 16 MiB */
	size_t object_size;	       /* resource objects; 0: 4 KiB */
	int no_limits;		       /* skip the baselines */
	const char *provider;	       /* cmk.so or its directory; NULL: search */
	const char *config;	       /* cmk.conf for the provider; NULL: default */
	const char *identity;	       /* identity for the provider; NULL: default */
	int progress;		       /* a line per measurement on stderr;
	                               -1: when stderr is a terminal */
	/* Without a vault (ctx NULL): the token to measure on session objects
	 * only.  module: a path or a p11-kit module name; token: its label or
	 * a pkcs11: URI; pin_source: as in cmk.conf (file:, env:, prompt). */
	const char *module;
	const char *token;
	const char *pin_source;
	/* Set to non-zero (by a signal handler) to end the run early: the
	 * measurements stop, what the run made is removed, bench_run returns
	 * CMK_E_INTERNAL with "interrupted". */
	volatile sig_atomic_t *stop;
} bench_opts;

typedef enum bench_class {
	BENCH_CMK = 0, /* an operation of cmk */
	BENCH_HSM = 1, /* raw PKCS#11 on the same token */
	BENCH_CPU = 2, /* plain OpenSSL in this process */
} bench_class;

/* One measurement: an operation at one thread count. */
#define BENCH_MAX_REPEAT 100 /* --repeat at most */

typedef struct bench_point {
	unsigned threads; /* per process */
	unsigned procs;
	uint64_t ops;
	double seconds; /* wall time of the measurement */
	double ops_per_s;
	double bytes_per_s;			  /* 0 for operations without a size */
	double p50_us, p90_us, p99_us, max_us;	  /* latency of one operation */
	double cpu_us_per_op;			  /* user + system time of all processes */
	double scaling;				  /* speed-up over the first thread count,
	                               divided by the ratio of thread counts */
	double vs_hsm, vs_cpu;			  /* this over the limit at the same thread
	                               count; 0: no such limit */
	unsigned nrounds;			  /* rounds measured (--repeat) */
	double round_ops_per_s[BENCH_MAX_REPEAT]; /* each round's ops/s */
} bench_point;

typedef struct bench_result {
	char name[48]; /* "unwrap", "seal-16M", "p11-decrypt" */
	bench_class cls;
	char what[160];	    /* what one operation is */
	size_t bytes;	    /* bytes per operation, 0: none */
	char hsm_limit[48]; /* names of the limits, "" when none */
	char cpu_limit[48];
	int measured;	/* 0: skipped or failed, see note */
	cmk_rc rc;	/* CMK_OK unless it failed */
	char note[320]; /* why it was skipped, or the error */
	bench_point *points;
	size_t npoints;
} bench_result;

typedef struct bench_report {
	char vault[64]; /* "" without a vault */
	char token[33];
	char model[17];
	char manufacturer[33];
	char module[256];
	size_t token_objects;		/* objects the session sees, at the start
	                               (lookups slow down as they grow) */
	char key[CMK_KID_MAX];		/* versioned id of the key measured */
	int temporary_key;		/* made for the run and purged after */
	char made_as[CMK_IDENTITY_MAX]; /* identity that made and purged the
	                               run's keys, "" when it made none */
	unsigned key_bits;
	char alg[16]; /* "RSA-OAEP-256" */
	char hash[16];
	char unwrap_mech[64]; /* what the token does for an unwrap */
	char openssl[64];
	unsigned cpus;
	unsigned procs;
	unsigned repeat;
	double duration, warmup;
	uint64_t count;
	unsigned threads[16];
	size_t nthreads;
	bench_result *results;
	size_t nresults;
	char leftover[320]; /* keys the run could not remove, "" */
} bench_report;

/* The names --ops accepts, for help texts: "wrap unwrap ...". */
const char *bench_op_names(void);

/*
 * Run the benchmark on ctx's vault, or (ctx NULL) on o->module's token o->token
 * without a vault.  A failing operation does not stop the run: its result
 * has rc and note set (bench_failed() gives the first).  Errors before any
 * measurement (no such key, bad option) return their rc, with the text in
 * bench_last_error().
 */
cmk_rc bench_run(cmk_ctx *ctx, const bench_opts *o, bench_report **out);
/* This thread's last error of the benchmark. */
const char *bench_last_error(void);
/* CMK_OK, or the rc of the first failed operation. */
cmk_rc bench_failed(const bench_report *r);
void bench_report_free(bench_report *r);

/* Output: a readable table, CSV (one row per point), SVG (throughput against
 * threads for each operation next to its limits), and JSON (json-c). */
cmk_rc bench_write_table(const bench_report *r, FILE *f);
cmk_rc bench_write_csv(const bench_report *r, FILE *f);
cmk_rc bench_write_svg(const bench_report *r, FILE *f);
struct json_object;
struct json_object *bench_json(const bench_report *r);

#ifdef __cplusplus
}
#endif
#endif /* BENCH_H */
