/* bench_int.h - what the files of the benchmark share (see bench.h).
 *
 * An operation kind (bench_kind) is a small table of functions: setup once
 * per run, per-thread state, one operation, teardown.  A case is a kind
 * with its object size; each case is measured at every thread count by the
 * runner (run.c), in one process or several (procs.c). */
#ifndef BENCH_INT_H
#define BENCH_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <p11-kit/pkcs11.h>
#include "bench/bench.h"

/* -------------------------------------------------------------- err.c */

/* Set this thread's error text (bench_last_error()) and return rc. */
cmk_rc bench_err(cmk_rc rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The result of a libcmk call: on failure its cmk_last_error() becomes
 * this thread's error text. */
cmk_rc bench_lib(cmk_rc rc);
#define BENCH_TRY(call)              \
	do {                         \
		cmk_rc rc_ = (call); \
		if (rc_ != CMK_OK)   \
			return rc_;  \
	} while (0)
/* A libcmk call whose failure returns from the calling function. */
#define LIB_TRY(call) BENCH_TRY(bench_lib(call))

/* -------------------------------------------------------------- p11.c */

/* The benchmark's own connection to a token: the module loaded through
 * p11-kit (by path or p11-kit module name), the slot of the token, the
 * user PIN when the run has it.  Sessions are per thread; after fork() the
 * first session of the child initialises the module again and logs in. */
typedef struct bench_tok bench_tok;
typedef struct bench_tok_spec {
	const char *module, *token;
	const char *server;	   /* p11-kit server address, "" or NULL */
	const char *init_reserved; /* C_Initialize pReserved, "" or NULL */
} bench_tok_spec;
cmk_rc btok_open(const bench_tok_spec *spec, bench_tok **out);
void btok_close(bench_tok *t);
/* Read the user PIN from a source (file:, env:, prompt) and keep it, in
 * locked memory, for logging in (wiped by btok_close). */
cmk_rc btok_read_pin(bench_tok *t, const char *source);
CK_FUNCTION_LIST *btok_fn(bench_tok *t);
/* The OAEP parameters of digest md ("SHA1", "SHA256", "SHA384", "SHA512";
 * anything else SHA-256), MGF1 with the same digest, no label. */
void btok_oaep_params(const char *md, CK_RSA_PKCS_OAEP_PARAMS *p);
/* This process is logged in to the token already (libcmk's login). */
int btok_logged_in(bench_tok *t);
/* A R/W session logged in as the user. */
cmk_rc btok_session(bench_tok *t, CK_SESSION_HANDLE *s);
void btok_session_close(bench_tok *t, CK_SESSION_HANDLE s);
/* Grows when the module was initialised again (after fork()): object
 * handles and session objects of before are gone. */
unsigned btok_gen(bench_tok *t);
/* The error for a failed call: "token LABEL: C_Decrypt: CKR_..." */
cmk_rc btok_fail(bench_tok *t, CK_RV rv, const char *call);
/* The token's mechanism mech has all of flags. */
int btok_has_mech(bench_tok *t, CK_MECHANISM_TYPE mech, CK_FLAGS flags);
const CK_TOKEN_INFO *btok_info(bench_tok *t);
const char *btok_module(bench_tok *t);
/* Objects a session of the token sees; labels of key objects (cmk_free). */
cmk_rc btok_count(bench_tok *t, size_t *n);
/* Handles of the objects matching tmpl (free()). */
cmk_rc btok_find(bench_tok *t, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n,
		 CK_OBJECT_HANDLE **out, size_t *count);
const char *btok_rv_name(CK_RV rv);

/* ------------------------------------------------------------- hist.c */

/* Log-linear histogram of nanoseconds: 2^HIST_SUB_BITS linear buckets per
 * power of two (at most 1/32 wide, so quantiles are within 1.6%). */
#define HIST_SUB_BITS 5
#define HIST_SUB      (1u << HIST_SUB_BITS)
#define HIST_MAX_BITS 42 /* 73 minutes */
#define HIST_BUCKETS  (HIST_SUB + (HIST_MAX_BITS - HIST_SUB_BITS) * HIST_SUB)

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
	cmk_ctx *user;	   /* the caller's context; NULL without a vault */
	cmk_ctx *ctx;	   /* where the cmk operations run: the maker's
	                                when the run made its key, else user */
	cmk_ctx *mk;	   /* makes and purges the run's keys (user, or
	                                a context as the run's own identity);
	                                NULL: the run may not make keys */
	cmk_ctx *own;	   /* the context as the run's identity */
	int granted;	   /* the run gave itself a policy (keys.c) */
	int made_identity; /* and made that identity first */
	const bench_opts *o;
	bench_report *rep;
	cmk_alg alg;
	const char *md;	    /* "SHA256" */
	cmk_key *key;	    /* one handle, shared by all threads */
	uint8_t key_id[16]; /* CKA_ID of its version on the token */
	size_t k;	    /* modulus bytes */
	uint8_t dek[32];    /* the key that is wrapped */
	uint8_t ct[1024];   /* dek wrapped under key */
	size_t ctlen;
	int native;		    /* token does OAEP with md itself */
	char cannot_make_keys[200]; /* why mk is NULL */
	int alive_fd;		    /* the run's liveness mark, locked (keys.c) */
	char vault_id[640];	    /* the vault, as its resource directory names it */
	char tag[64];		    /* bench-HOST-PID-RAND: what the run makes
	                                is named after it (keys.c) */
	bench_tok *tok;		    /* the raw PKCS#11 side (p11.c) */
	char tok_err[320];	    /* why tok is NULL */
	int progress;		    /* 1: a line per measurement on stderr */
	pthread_mutex_t lock;	    /* guards the lazily made parts below */
	void *soft;		    /* op_ossl.c: the software key */
	void *res;		    /* op_resource.c: the resource */
	void *pair;		    /* op_token.c: the session key pairs */
} bench_env;

/* The run was asked to stop (bench_opts.stop). */
int bench_stopped(const bench_env *e);

/* Which runs a kind belongs to. */
enum { BENCH_VAULT = 1, BENCH_TOKEN = 2 };

typedef struct bench_kind {
	const char *name;  /* sized kinds get "-SIZE" appended */
	const char *group; /* for --ops: "key", "envelope", ... */
	bench_class cls;
	const char *what;
	const char *hsm_limit, *cpu_limit; /* case names, NULL: none */
	int cpu_limit_sized;		   /* cpu_limit is a sized kind: its case of
	                                this case's size */
	int sized;			   /* 1: once per --sizes, 2: --object-size,
	                                3: a fixed size (its `bytes`) */
	size_t bytes;
	int slow;  /* seconds per op: no warm-up */
	int modes; /* BENCH_VAULT, BENCH_TOKEN; 0: vault */
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
	bench_result *res;
	size_t size; /* bytes per op, 0: none */
	void *state;
	int skip;     /* set by setup: res->note says why */
	int as_limit; /* only there as the limit of another case */
	int dropped;  /* as_limit, but no case was measured */
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
cmk_rc bench_measure(bench_case *c, unsigned threads, uint64_t count, bench_sync_fn sync,
		     void *sync_arg, bench_sample *out);
uint64_t bench_now_ns(void);
uint64_t bench_cpu_ns(void);
/* A line on stderr (when the run is on a terminal). */
void bench_progress(bench_env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* procs.c: the same with `procs` processes forked from this one. */
cmk_rc bench_measure_procs(bench_case *c, unsigned threads, unsigned procs, bench_sample *out);

/* Skip a case with a reason (printf-style). */
void bench_skip(bench_case *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Check an unwrapped key against env->dek. */
cmk_rc bench_check_dek(bench_env *e, const uint8_t *got, size_t len, const char *what);
/* Delete and purge the keys whose names start with prefix; names that
 * cannot be removed are listed in the report's leftover. */
void bench_purge_prefix(bench_env *e, const char *prefix);
/* Add a name to the report's leftover. */
void bench_left_over(bench_env *e, const char *name);
/* Make a key, retrying on CMK_E_CONFLICT. */
cmk_rc bench_key_create(bench_env *e, const char *name, unsigned bits,
			char version[CMK_VERSION_LEN + 1]);

/* cases.c: every word of --ops names something; the cases of a run. */
cmk_rc bench_check_ops(const char *list);
cmk_rc bench_make_cases(bench_env *e, bench_case **cs, size_t *n);
/* sweep.c: measure them all, fill in the report's results. */
cmk_rc bench_sweep(bench_env *e, bench_case *cs, size_t n);
/* keys.c: the run's tag; who makes the run's keys (else why not), after
 * removing what killed runs left; the key; the clean-up. */
void bench_make_tag(bench_env *e);
void bench_set_maker(bench_env *e, const cmk_vault_info *vi);
cmk_rc bench_open_key(bench_env *e);
void bench_clean_up(bench_env *e);
/* The tag names a run of this host whose process is gone. */
int bench_tag_dead(const char *name);
/* The run's liveness mark (keys.c): made once the tag is, removed at the
 * end; a killed run's, by the next run once what it made is gone. */
void bench_mark_alive(bench_env *e);
void bench_mark_done(bench_env *e);
/* A run on a vault belongs to it: e->vault_id (its name and audit log,
 * "NAME\nLOG\n") is written in its mark and in its resource directory,
 * DIR/vault; a killed run's directory and mark are removed only by a run on
 * the same vault. */
void bench_mark_vault(bench_env *e, const cmk_vault_info *vi);
#define BENCH_VAULT_FILE "vault"

/* The kinds, in measuring order (cases.c). */
extern const bench_kind *const bench_kinds[];
extern const size_t bench_nkinds;

/* Kinds by file. */
extern const bench_kind bench_kind_wrap, bench_kind_unwrap;			 /* op_key.c */
extern const bench_kind bench_kind_provider;					 /* op_provider.c */
extern const bench_kind bench_kind_seal, bench_kind_open, bench_kind_open_cache; /* op_envelope.c */
extern const bench_kind bench_kind_res_put, bench_kind_res_get, bench_kind_res_put_cache,
	bench_kind_res_get_cache;				      /* op_resource.c */
extern const bench_kind bench_kind_key_create, bench_kind_key_rotate; /* op_mgmt.c */
extern const bench_kind bench_kind_p11_decrypt, bench_kind_p11_encrypt,
	bench_kind_p11_keygen; /* op_p11.c */
extern const bench_kind bench_kind_ossl_decrypt, bench_kind_ossl_encrypt, bench_kind_ossl_aes_gcm,
	bench_kind_ossl_aes_gcm_buffer; /* op_ossl.c */

/* op_log.c: the audit log's part of a limit */
extern const bench_kind bench_kind_log_append, bench_kind_ossl_encrypt_logged;
/* op_ossl.c: ossl-encrypt's per-thread context and operation, for the
 * limits that add to it (op_log.c) */
cmk_rc bench_ossl_encrypt_init(bench_env *e, void **t);
cmk_rc bench_ossl_encrypt_one(bench_env *e, void *t);
void bench_ossl_encrypt_fini(void *t);

extern const bench_kind bench_kind_tok_enc_oaep, bench_kind_tok_dec_oaep, bench_kind_tok_enc_raw,
	bench_kind_tok_dec_raw, bench_kind_tok_wrap, bench_kind_tok_unwrap, bench_kind_tok_gcm,
	bench_kind_tok_keygen; /* op_token.c */
void bench_token_env_free(bench_env *e);
/* op_p11.c: the vault key's pair on the token, found by its CKA_ID */
void bench_p11_clean_up(bench_env *e);
/* The token does OAEP with the run's hash itself, on the run's key. */
int bench_p11_native(bench_env *e);

/* Teardown of lazily shared parts, at the end of the run. */
void bench_ossl_env_free(bench_env *e);
void bench_resource_env_free(bench_env *e);
cmk_rc bench_resource_purge_dir(cmk_ctx *ctx, const char *dir, const char *name);

/* report.c helpers shared by the writers */
void bench_fmt_us(double us, char *buf, size_t len);
void bench_fmt_size(size_t bytes, char *buf, size_t len);
const char *bench_class_name(bench_class c);

#endif
