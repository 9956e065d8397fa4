/* bench.h - what the files of the benchmark share (see cmk_bench.h).
 *
 * An operation kind (bench_kind) is a small table of functions: setup once
 * per run, per-thread state, one operation, teardown.  A case is a kind
 * with its object size; each case is measured at every thread count by the
 * runner (run.c), in one process or several (procs.c). */
#ifndef CMK_BENCH_INT_H
#define CMK_BENCH_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include "cmk_bench.h"
#include "ctx.h"

/* ------------------------------------------------------------- hist.c */

/* Log-linear histogram of nanoseconds: 2^HIST_SUB_BITS linear buckets per
 * power of two (at most 1/32 wide, so quantiles are within 1.6%). */
#define HIST_SUB_BITS 5
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_MAX_BITS 42         /* 73 minutes */
#define HIST_BUCKETS (HIST_SUB + (HIST_MAX_BITS - HIST_SUB_BITS) * HIST_SUB)

typedef struct bench_hist {
	uint64_t n, min, max;
	uint64_t c[HIST_BUCKETS];
} bench_hist;

void hist_init(bench_hist *h);
void hist_add(bench_hist *h, uint64_t ns);
void hist_merge(bench_hist *to, const bench_hist *from);
/* The q-quantile (0 < q <= 1) in nanoseconds; 0 for an empty histogram. */
uint64_t hist_quantile(const bench_hist *h, double q);

/* ------------------------------------------------------------ the run */

typedef struct bench_case bench_case;

/* Shared by every case of a run. */
typedef struct bench_env {
	cmk_ctx *ctx;
	const cmk_bench_opts *o;
	cmk_bench_report *rep;
	cmk_alg alg;
	const char *md;              /* "SHA256" */
	cmk_key *key;                /* one handle, shared by all threads */
	size_t k;                    /* modulus bytes */
	uint8_t dek[32];             /* the key that is wrapped */
	uint8_t ct[1024];            /* dek wrapped under key */
	size_t ctlen;
	int native;                  /* token does OAEP with md itself */
	int can_make_keys;           /* keys made by the run can be purged */
	char cannot_make_keys[200];  /* else why not */
	char tag[24];                /* "bench-1a2b3c4d": prefix of what it makes */
	uint64_t t_start;            /* for the progress line */
	int progress;                /* 1: on, 0: off, -1: once the run is 2 s old */
	int progress_shown;          /* a line to clear */
	pthread_mutex_t lock;        /* guards the lazily made parts below */
	void *soft;                  /* op_ossl.c: the software key */
	void *res;                   /* op_resource.c: the resource */
} bench_env;

typedef struct bench_kind {
	const char *name;            /* sized kinds get "-SIZE" appended */
	const char *group;           /* for --ops: "key", "envelope", ... */
	cmk_bench_class cls;
	const char *what;
	const char *hsm_limit, *cpu_limit; /* case names, NULL: none */
	int sized;                   /* 1: once per --sizes, 2: --object-size,
	                                3: a fixed size (its `bytes`) */
	size_t bytes;
	int slow;                    /* seconds per op: no warm-up */
	/* Set c->state; CMK_OK with c->skip set: not available. */
	cmk_rc (*setup)(bench_case *c);
	cmk_rc (*thread_init)(bench_case *c, unsigned idx, void **t);
	cmk_rc (*one)(bench_case *c, void *t);
	void (*thread_fini)(bench_case *c, void *t);
	/* After each measurement (outside it): undo what it left on the token. */
	void (*after)(bench_case *c);
	void (*teardown)(bench_case *c);
} bench_kind;

struct bench_case {
	const bench_kind *k;
	bench_env *env;
	cmk_bench_result *res;
	size_t size;                 /* bytes per op, 0: none */
	void *state;
	int skip;                    /* set by setup: res->note says why */
	int as_limit;                /* only there as the limit of another case */
	int dropped;                 /* as_limit, but no case was measured */
};

/* The outcome of one measurement, in one process. */
typedef struct bench_sample {
	uint64_t ops;
	uint64_t wall_ns;
	uint64_t cpu_ns;
	cmk_rc rc;
	char err[256];
	bench_hist hist;
} bench_sample;

/* run.c: measure case c with `threads` threads in this process.  sync, if
 * set, is called once every thread has warmed up, just before the start. */
typedef void (*bench_sync_fn)(void *arg);
cmk_rc bench_measure(bench_case *c, unsigned threads, uint64_t count,
                     bench_sync_fn sync, void *sync_arg, bench_sample *out);
uint64_t bench_now_ns(void);
uint64_t bench_cpu_ns(void);
/* The live line on stderr (when the run is on a terminal and long). */
void bench_progress(bench_env *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void bench_progress_clear(bench_env *e);

/* procs.c: the same with `procs` processes forked from this one. */
cmk_rc bench_measure_procs(bench_case *c, unsigned threads, unsigned procs,
                           bench_sample *out);

/* Skip a case with a reason (printf-style). */
void bench_skip(bench_case *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Check an unwrapped key against env->dek. */
cmk_rc bench_check_dek(bench_env *e, const uint8_t *got, size_t len,
                       const char *what);
/* Delete and purge the keys whose names start with prefix; names that
 * cannot be removed are listed in the report's leftover. */
void bench_purge_prefix(bench_env *e, const char *prefix);
/* Make a key, retrying on CMK_E_CONFLICT. */
cmk_rc bench_key_create(bench_env *e, const char *name, unsigned bits,
                        char version[CMK_VERSION_LEN + 1]);

/* cases.c: every word of --ops names something; the cases of a run. */
cmk_rc bench_check_ops(const char *list);
cmk_rc bench_make_cases(bench_env *e, bench_case **cs, size_t *n);
/* sweep.c: measure them all, fill in the report's results. */
cmk_rc bench_sweep(bench_env *e, bench_case *cs, size_t n);
/* keys.c: may the run make keys (else why not); the key; the clean-up. */
void bench_may_make_keys(bench_env *e, const cmk_vault_info *vi, char *why, size_t len);
cmk_rc bench_open_key(bench_env *e);
void bench_clean_up(bench_env *e);

/* The kinds, in measuring order (cases.c). */
extern const bench_kind *const bench_kinds[];
extern const size_t bench_nkinds;

/* Kinds by file. */
extern const bench_kind bench_kind_wrap, bench_kind_unwrap;        /* op_key.c */
extern const bench_kind bench_kind_provider;                        /* op_provider.c */
extern const bench_kind bench_kind_seal, bench_kind_open,
	bench_kind_open_cache;                                       /* op_envelope.c */
extern const bench_kind bench_kind_res_put, bench_kind_res_get,
	bench_kind_res_put_cache, bench_kind_res_get_cache;         /* op_resource.c */
extern const bench_kind bench_kind_key_create, bench_kind_key_rotate; /* op_mgmt.c */
extern const bench_kind bench_kind_p11_decrypt, bench_kind_p11_encrypt,
	bench_kind_p11_keygen;                                       /* op_p11.c */
extern const bench_kind bench_kind_ossl_decrypt, bench_kind_ossl_encrypt,
	bench_kind_ossl_aes_gcm;                                     /* op_ossl.c */

/* Teardown of lazily shared parts, at the end of the run. */
void bench_ossl_env_free(bench_env *e);
void bench_resource_env_free(bench_env *e);

/* report.c helpers shared by the writers */
void bench_fmt_us(double us, char *buf, size_t len);
void bench_fmt_size(size_t bytes, char *buf, size_t len);
const char *bench_class_name(cmk_bench_class c);

#endif
