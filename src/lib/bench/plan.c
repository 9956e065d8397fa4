/* plan.c - a benchmark run: the options, the report's header, the run
 * from the key to the clean-up (cases.c, sweep.c, keys.c do the parts). */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include "bench/bench.h"
#include "util/err.h"

static const char *const hashes[][3] = {
	/* name, other spelling, OpenSSL spelling */
	{ "SHA1", "SHA-1", "SHA1" },
	{ "SHA256", "SHA-256", "SHA256" },
	{ "SHA384", "SHA-384", "SHA384" },
	{ "SHA512", "SHA-512", "SHA512" },
};
static const cmk_alg hash_algs[] = {
	CMK_ALG_RSA_OAEP, CMK_ALG_RSA_OAEP_256, CMK_ALG_RSA_OAEP_384, CMK_ALG_RSA_OAEP_512,
};
/* the index of ctx->oaep_native: p11_hash */
static const p11_hash hash_p11[] = { P11_SHA1, P11_SHA256, P11_SHA384, P11_SHA512 };

static int hash_index(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (!strcasecmp(s, hashes[i][0]) || !strcasecmp(s, hashes[i][1]) ||
		    (!strncasecmp(s, "SHA2-", 5) && i && !strcmp(s + 5, hashes[i][0] + 3)))
			return i;
	return -1;
}

static cmk_rc check_opts(const cmk_bench_opts *o)
{
	if (o->nthreads > sizeof o->threads / sizeof o->threads[0])
		return cmk_err(CMK_E_USAGE, "--threads: at most %zu thread counts",
		               sizeof o->threads / sizeof o->threads[0]);
	for (size_t i = 0; i < o->nthreads; i++)
		if (o->threads[i] < 1 || o->threads[i] > CMK_BENCH_THREADS_MAX)
			return cmk_err(CMK_E_USAGE, "--threads: %u is not between 1 and %d",
			               o->threads[i], CMK_BENCH_THREADS_MAX);
	if (o->repeat > 100)
		return cmk_err(CMK_E_USAGE, "--repeat: %u is more than 100", o->repeat);
	if (o->procs > CMK_BENCH_PROCS_MAX)
		return cmk_err(CMK_E_USAGE, "--procs: %u is more than %d", o->procs, CMK_BENCH_PROCS_MAX);
	if (o->key_bits && o->key_bits != 2048 && o->key_bits != 3072 && o->key_bits != 4096)
		return cmk_err(CMK_E_USAGE, "--key-size: %u is not 2048, 3072 or 4096", o->key_bits);
	if (o->key && o->key_bits)
		return cmk_err(CMK_E_USAGE, "--key-size applies to the temporary key: not with --key");
	if (o->duration < 0 || o->duration > 86400)
		return cmk_err(CMK_E_USAGE, "--duration: %g seconds is out of range", o->duration);
	if (o->warmup > 3600)
		return cmk_err(CMK_E_USAGE, "--warmup: %g seconds is out of range", o->warmup);
	if (o->hash && hash_index(o->hash) < 0)
		return cmk_err(CMK_E_USAGE, "--hash: '%s' is not SHA1, SHA256, SHA384 or SHA512", o->hash);
	if (o->ops)
		CMK_TRY(bench_check_ops(o->ops));
	return CMK_OK;
}

static void fill_header(bench_env *e, const cmk_vault_info *vi)
{
	cmk_bench_report *rep = e->rep;
	const cmk_bench_opts *o = e->o;
	snprintf(rep->vault, sizeof rep->vault, "%s", vi->name);
	snprintf(rep->token, sizeof rep->token, "%s", vi->token_label);
	snprintf(rep->model, sizeof rep->model, "%s", vi->token_model);
	snprintf(rep->manufacturer, sizeof rep->manufacturer, "%s", vi->token_manufacturer);
	snprintf(rep->module, sizeof rep->module, "%s", vi->module);
	snprintf(rep->alg, sizeof rep->alg, "%s", cmk_alg_name(e->alg));
	snprintf(rep->hash, sizeof rep->hash, "%s", e->md);
	snprintf(rep->openssl, sizeof rep->openssl, "%s", OpenSSL_version(OPENSSL_VERSION));
	CK_OBJECT_HANDLE *objs = NULL;
	size_t nobj = 0;
	if (p11_find(e->ctx->tok, NULL, 0, &objs, &nobj) == CMK_OK)
		rep->token_objects = nobj;
	free(objs);
	cmk_err_clear();
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	rep->cpus = cpus > 0 ? (unsigned)cpus : 1;
	rep->procs = o->procs;
	rep->repeat = o->repeat;
	rep->duration = o->count ? 0 : o->duration;
	rep->count = o->count;
	rep->warmup = o->warmup;
	rep->nthreads = o->nthreads;
	memcpy(rep->threads, o->threads, sizeof rep->threads);
}

cmk_rc cmk_bench_run(cmk_ctx *ctx, const cmk_bench_opts *given, cmk_bench_report **out)
{
	return_if_fail(ctx && given && out);
	*out = NULL;
	cmk_bench_opts o = *given;
	CMK_TRY(check_opts(&o));
	static const unsigned dflt_threads[] = { 1, 2, 4 };
	if (!o.nthreads) {
		memcpy(o.threads, dflt_threads, sizeof dflt_threads);
		o.nthreads = 3;
	}
	if (!o.nsizes) {
		o.sizes[0] = 4096;
		o.sizes[1] = 16u << 20;
		o.nsizes = 2;
	}
	if (!o.object_size)
		o.object_size = 4096;
	if (!o.procs)
		o.procs = 1;
	if (!o.repeat)
		o.repeat = 1;
	if (!o.count && o.duration == 0)
		o.duration = 2;
	if (o.warmup < 0)
		o.warmup = 0.5;
	int hi = hash_index(o.hash ? o.hash : "SHA256");

	cmk_bench_report *rep = calloc(1, sizeof *rep);
	if (!rep)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	bench_env e;
	memset(&e, 0, sizeof e);
	e.ctx = ctx;
	e.o = &o;
	e.rep = rep;
	e.alg = hash_algs[hi];
	e.md = hashes[hi][2];
	e.t_start = bench_now_ns();
	e.progress = o.progress < 0 ? (isatty(STDERR_FILENO) ? -1 : 0) : o.progress;
	pthread_mutex_init(&e.lock, NULL);
	uint8_t tag[4];
	RAND_bytes(tag, sizeof tag);
	snprintf(e.tag, sizeof e.tag, "bench-%02x%02x%02x%02x", tag[0], tag[1], tag[2], tag[3]);

	cmk_vault_info vi;
	bench_case *cs = NULL;
	size_t n = 0;
	cmk_rc rc = cmk_vault_info_get(ctx, &vi);
	if (rc == CMK_OK) {
		char why[sizeof e.cannot_make_keys];
		bench_may_make_keys(&e, &vi, why, sizeof why);
		fill_header(&e, &vi);
		rc = bench_open_key(&e);
	}
	if (rc == CMK_OK) {
		int native = atomic_load(&ctx->oaep_native[hash_p11[hi]]) == 1;
		e.native = native;
		snprintf(rep->unwrap_mech, sizeof rep->unwrap_mech, native
		         ? "CKM_RSA_PKCS_OAEP with %s on the token"
		         : "CKM_RSA_X_509 on the token, OAEP-%s decoding in OpenSSL", e.md);
		rc = bench_make_cases(&e, &cs, &n);
	}
	if (rc == CMK_OK)
		rc = bench_sweep(&e, cs, n);
	char err[512] = "";
	if (rc != CMK_OK)
		snprintf(err, sizeof err, "%s", cmk_last_error());
	bench_progress(&e, "removing what the run made");
	bench_resource_env_free(&e);
	bench_ossl_env_free(&e);
	cmk_key_close(e.key);
	cmk_err_clear();
	if (e.can_make_keys)
		bench_clean_up(&e);
	bench_progress_clear(&e);
	pthread_mutex_destroy(&e.lock);
	cmk_wipe(e.dek, sizeof e.dek);
	free(cs);
	if (rc != CMK_OK) {
		cmk_bench_report_free(rep);
		return cmk_err(rc, "%s", err);
	}
	*out = rep;
	return CMK_OK;
}

cmk_rc cmk_bench_failed(const cmk_bench_report *r)
{
	for (size_t i = 0; r && i < r->nresults; i++)
		if (r->results[i].rc != CMK_OK)
			return r->results[i].rc;
	return CMK_OK;
}

void cmk_bench_report_free(cmk_bench_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nresults; i++)
		free(r->results[i].points);
	free(r->results);
	free(r);
}
