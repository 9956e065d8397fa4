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
#include "bench/bench_int.h"

static const char *const hashes[][3] = {
	/* name, other spelling, OpenSSL spelling */
	{ "SHA1", "SHA-1", "SHA1" },
	{ "SHA256", "SHA-256", "SHA256" },
	{ "SHA384", "SHA-384", "SHA384" },
	{ "SHA512", "SHA-512", "SHA512" },
};
static const cmk_alg hash_algs[] = {
	CMK_ALG_RSA_OAEP,
	CMK_ALG_RSA_OAEP_256,
	CMK_ALG_RSA_OAEP_384,
	CMK_ALG_RSA_OAEP_512,
};
static int hash_index(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (!strcasecmp(s, hashes[i][0]) || !strcasecmp(s, hashes[i][1]) ||
		    (!strncasecmp(s, "SHA2-", 5) && i && !strcmp(s + 5, hashes[i][0] + 3)))
			return i;
	return -1;
}

static cmk_rc check_opts(const bench_opts *o)
{
	if (o->nthreads > sizeof o->threads / sizeof o->threads[0])
		return bench_err(CMK_E_USAGE, "--threads: at most %zu thread counts",
				 sizeof o->threads / sizeof o->threads[0]);
	for (size_t i = 0; i < o->nthreads; i++)
		if (o->threads[i] < 1 || o->threads[i] > BENCH_THREADS_MAX)
			return bench_err(CMK_E_USAGE, "--threads: %u is not between 1 and %d",
					 o->threads[i], BENCH_THREADS_MAX);
	if (o->repeat > BENCH_MAX_REPEAT)
		return bench_err(CMK_E_USAGE, "--repeat: %u is more than %u", o->repeat,
				 BENCH_MAX_REPEAT);
	if (o->procs > BENCH_PROCS_MAX)
		return bench_err(CMK_E_USAGE, "--procs: %u is more than %d", o->procs,
				 BENCH_PROCS_MAX);
	if (o->key_bits && o->key_bits != 2048 && o->key_bits != 3072 && o->key_bits != 4096)
		return bench_err(CMK_E_USAGE, "--key-size: %u is not 2048, 3072 or 4096",
				 o->key_bits);
	if (o->key && o->key_bits)
		return bench_err(CMK_E_USAGE,
				 "--key-size applies to the temporary key: not with --key");
	if (o->duration < 0 || o->duration > 86400)
		return bench_err(CMK_E_USAGE, "--duration: %g seconds is out of range",
				 o->duration);
	if (o->warmup > 3600)
		return bench_err(CMK_E_USAGE, "--warmup: %g seconds is out of range", o->warmup);
	if (o->hash && hash_index(o->hash) < 0)
		return bench_err(CMK_E_USAGE, "--hash: '%s' is not SHA1, SHA256, SHA384 or SHA512",
				 o->hash);
	if (o->ops)
		BENCH_TRY(bench_check_ops(o->ops));
	return CMK_OK;
}

static void fill_header(bench_env *e)
{
	bench_report *rep = e->rep;
	const bench_opts *o = e->o;
	snprintf(rep->alg, sizeof rep->alg, "%s", cmk_alg_name(e->alg));
	snprintf(rep->hash, sizeof rep->hash, "%s", e->md);
	snprintf(rep->openssl, sizeof rep->openssl, "%s", OpenSSL_version(OPENSSL_VERSION));
	if (e->tok) {
		const CK_TOKEN_INFO *ti = btok_info(e->tok);
		if (!rep->token[0])
			snprintf(rep->token, sizeof rep->token, "%.32s", (const char *)ti->label);
		snprintf(rep->model, sizeof rep->model, "%.16s", (const char *)ti->model);
		snprintf(rep->manufacturer, sizeof rep->manufacturer, "%.32s",
			 (const char *)ti->manufacturerID);
		for (char *p = rep->token + strlen(rep->token); p > rep->token && p[-1] == ' ';)
			*--p = '\0';
		for (char *p = rep->model + strlen(rep->model); p > rep->model && p[-1] == ' ';)
			*--p = '\0';
		for (char *p = rep->manufacturer + strlen(rep->manufacturer);
		     p > rep->manufacturer && p[-1] == ' ';)
			*--p = '\0';
		if (btok_count(e->tok, &rep->token_objects) != CMK_OK)
			rep->token_objects = 0;
	}
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

/* Beside a vault: the benchmark's own connection to the vault's token, for
 * the raw PKCS#11 limits.  Without it those are skipped, saying why. */
static void open_vault_token(bench_env *e, const cmk_vault_info *vi)
{
	cmk_vault_conf_info vc;
	cmk_rc rc = bench_lib(cmk_config_vault_get(e->o->config, vi->name, &vc));
	if (rc == CMK_OK) {
		bench_tok_spec spec = { vc.module, vc.token, vc.server, vc.init_reserved };
		rc = btok_open(&spec, &e->tok);
	}
	/* Usually libcmk's login holds for this process's sessions; forked
	 * processes, and a connection of our own to a p11-kit server, log in
	 * again: with the vault's PIN, read now. */
	if (rc == CMK_OK && (e->o->procs > 1 || !btok_logged_in(e->tok)))
		rc = btok_read_pin(e->tok, vc.pin_source[0] ? vc.pin_source : "prompt");
	cmk_wipe(&vc, sizeof vc);
	if (rc != CMK_OK) {
		snprintf(e->tok_err, sizeof e->tok_err, "%s", bench_last_error());
		btok_close(e->tok);
		e->tok = NULL;
	}
}

/* Does a selected case make keys on the vault? */
static int makes_keys(bench_case *cs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(cs[i].k->group, "mgmt") || !strcmp(cs[i].k->group, "resource"))
			return 1;
	return 0;
}

static cmk_rc run_vault(bench_env *e, bench_case **cs, size_t *n)
{
	cmk_vault_info vi;
	bench_report *rep = e->rep;
	BENCH_TRY(bench_make_cases(e, cs, n));
	LIB_TRY(cmk_vault_info_get(e->user, &vi));
	bench_mark_vault(e, &vi);
	snprintf(rep->vault, sizeof rep->vault, "%s", vi.name);
	snprintf(rep->token, sizeof rep->token, "%s", vi.token_label);
	snprintf(rep->module, sizeof rep->module, "%s", vi.module);
	open_vault_token(e, &vi);
	fill_header(e);
	if (!e->o->key || makes_keys(*cs, *n))
		bench_set_maker(e, &vi);
	else
		snprintf(e->cannot_make_keys, sizeof e->cannot_make_keys, "the run makes no keys");
	BENCH_TRY(bench_open_key(e));
	e->native = bench_p11_native(e);
	snprintf(rep->unwrap_mech, sizeof rep->unwrap_mech,
		 e->native ? "CKM_RSA_PKCS_OAEP with %s on the token"
			   : "CKM_RSA_X_509 on the token, OAEP-%s decoding in OpenSSL",
		 e->md);
	return bench_sweep(e, *cs, *n);
}

static cmk_rc run_token(bench_env *e, bench_case **cs, size_t *n)
{
	const bench_opts *o = e->o;
	bench_report *rep = e->rep;
	bench_tok_spec spec = { o->module, o->token, NULL, NULL };
	BENCH_TRY(bench_make_cases(e, cs, n));
	BENCH_TRY(btok_open(&spec, &e->tok));
	BENCH_TRY(btok_read_pin(e->tok, o->pin_source ? o->pin_source : "prompt"));
	BENCH_TRY(btok_count(e->tok, &rep->token_objects)); /* logs in */
	snprintf(rep->module, sizeof rep->module, "%s", o->module);
	fill_header(e);
	rep->key_bits = o->key_bits ? o->key_bits : 2048;
	e->k = rep->key_bits / 8;
	snprintf(rep->key, sizeof rep->key,
		 "an RSA-%u key pair and an AES-256 key per process, "
		 "session objects",
		 rep->key_bits);
	rep->temporary_key = 1;
	snprintf(rep->unwrap_mech, sizeof rep->unwrap_mech,
		 "CKM_RSA_PKCS_OAEP with %s, "
		 "CKM_RSA_X_509",
		 e->md);
	if (RAND_bytes(e->dek, sizeof e->dek) != 1)
		return bench_err(CMK_E_INTERNAL, "no random bytes");
	return bench_sweep(e, *cs, *n);
}

cmk_rc bench_run(cmk_ctx *ctx, const bench_opts *given, bench_report **out)
{
	*out = NULL;
	bench_opts o = *given;
	if (!ctx && (!o.module || !o.token))
		return bench_err(CMK_E_USAGE, "without a vault, give --module and --token");
	if (ctx && (o.module || o.token || o.pin_source))
		return bench_err(CMK_E_USAGE, "--module, --token and --pin-source measure a token "
					      "without a vault: not with a vault");
	if (!ctx && o.key)
		return bench_err(CMK_E_USAGE, "--key names a key of a vault: not with --token");
	BENCH_TRY(check_opts(&o));
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

	bench_report *rep = calloc(1, sizeof *rep);
	if (!rep)
		return bench_err(CMK_E_NOMEM, "out of memory");
	bench_env e;
	memset(&e, 0, sizeof e);
	e.user = ctx;
	e.o = &o;
	e.rep = rep;
	e.alg = hash_algs[hi];
	e.md = hashes[hi][2];
	e.progress = o.progress < 0 ? isatty(STDERR_FILENO) : o.progress;
	pthread_mutex_init(&e.lock, NULL);
	bench_make_tag(&e);
	e.alive_fd = -1;
	bench_mark_alive(&e);

	bench_case *cs = NULL;
	size_t n = 0;
	cmk_rc rc = ctx ? run_vault(&e, &cs, &n) : run_token(&e, &cs, &n);
	if (rc == CMK_OK && bench_stopped(&e))
		rc = bench_err(CMK_E_INTERNAL, "interrupted");
	char err[512] = "";
	if (rc != CMK_OK)
		snprintf(err, sizeof err, "%s", bench_last_error());
	bench_progress(&e, "removing what the run made");
	bench_resource_env_free(&e);
	bench_ossl_env_free(&e);
	bench_token_env_free(&e);
	cmk_key_close(e.key);
	if (ctx)
		bench_clean_up(&e);
	bench_mark_done(&e);
	btok_close(e.tok);
	pthread_mutex_destroy(&e.lock);
	cmk_wipe(e.dek, sizeof e.dek);
	free(cs);
	if (rc != CMK_OK) {
		bench_report_free(rep);
		return bench_err(rc, "%s", err);
	}
	*out = rep;
	return CMK_OK;
}

cmk_rc bench_failed(const bench_report *r)
{
	for (size_t i = 0; r && i < r->nresults; i++)
		if (r->results[i].rc != CMK_OK)
			return r->results[i].rc;
	return CMK_OK;
}

void bench_report_free(bench_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nresults; i++)
		free(r->results[i].points);
	free(r->results);
	free(r);
}
