/* plan.c - a benchmark run: the key it uses, the cases it measures, the
 * figures derived from the samples, and the clean-up.
 *
 * Unless --key names an existing key, the run makes a temporary key
 * (bench-XXXXXXXX) and purges it, and everything else it made, at the end;
 * on a vault with purge protection nothing could be purged, so then it
 * needs --key and skips what would make keys. */
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include "bench/bench.h"
#include "vault/keys.h"
#include "util/err.h"

/* Measuring order: each limit soon after the first operation using it. */
const bench_kind *const bench_kinds[] = {
	&bench_kind_wrap, &bench_kind_p11_encrypt, &bench_kind_ossl_encrypt,
	&bench_kind_unwrap, &bench_kind_provider, &bench_kind_p11_decrypt,
	&bench_kind_ossl_decrypt,
	&bench_kind_seal, &bench_kind_open, &bench_kind_ossl_aes_gcm,
	&bench_kind_res_put, &bench_kind_res_get,
	&bench_kind_res_put_cache, &bench_kind_res_get_cache,
	&bench_kind_key_create, &bench_kind_key_rotate, &bench_kind_p11_keygen,
};
const size_t bench_nkinds = sizeof bench_kinds / sizeof bench_kinds[0];

const char *cmk_bench_op_names(void)
{
	return "wrap unwrap unwrap-provider seal open put get put-cached get-cached "
	       "key-create key-rotate p11-decrypt p11-encrypt p11-keygen ossl-decrypt "
	       "ossl-encrypt ossl-aes-gcm-16K, or the groups key provider envelope "
	       "resource mgmt limits all";
}

/* ------------------------------------------------------------ helpers */

void bench_skip(bench_case *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->res->note, sizeof c->res->note, fmt, ap);
	va_end(ap);
	c->skip = 1;
}

cmk_rc bench_check_dek(bench_env *e, const uint8_t *got, size_t len, const char *what)
{
	if (len != sizeof e->dek || CRYPTO_memcmp(got, e->dek, len) != 0)
		return cmk_err(CMK_E_INTERNAL, "%s gave back a different key (%zu bytes)", what, len);
	return CMK_OK;
}

cmk_rc bench_key_create(bench_env *e, const char *name, unsigned bits,
                        char version[CMK_VERSION_LEN + 1])
{
	cmk_key_params p = { .bits = bits };
	cmk_rc rc;
	for (int i = 0; i < 10; i++)
		if ((rc = cmk_key_create(e->ctx, name, &p, version)) != CMK_E_CONFLICT)
			break;
	return rc;
}

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

/* ------------------------------------------------------------ the cases */

static int in_list(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; *p;) {
		size_t m = strcspn(p, ", ");
		if (m == n && !strncasecmp(p, word, n))
			return 1;
		p += m;
		p += strspn(p, ", ");
	}
	return 0;
}

static int selected(const cmk_bench_opts *o, const bench_kind *k)
{
	if (!o->ops || in_list(o->ops, "all"))
		return k->cls == CMK_BENCH_CMK || !o->no_limits;
	return in_list(o->ops, k->name) || in_list(o->ops, k->group);
}

/* Every word of --ops must name something. */
static cmk_rc check_ops(const char *list)
{
	for (const char *p = list; *p;) {
		size_t m = strcspn(p, ", ");
		int known = m == 3 && !strncasecmp(p, "all", 3);
		for (size_t i = 0; i < bench_nkinds && !known; i++) {
			const bench_kind *k = bench_kinds[i];
			known = (strlen(k->name) == m && !strncasecmp(p, k->name, m)) ||
			        (strlen(k->group) == m && !strncasecmp(p, k->group, m));
		}
		if (!known && m)
			return cmk_err(CMK_E_USAGE, "--ops: unknown operation '%.*s' (known: %s)",
			               (int)m, p, cmk_bench_op_names());
		p += m;
		p += strspn(p, ", ");
	}
	return CMK_OK;
}

void bench_fmt_size(size_t b, char *buf, size_t len)
{
	if (b && b % (1024 * 1024) == 0)
		snprintf(buf, len, "%zuM", b / (1024 * 1024));
	else if (b && b % 1024 == 0)
		snprintf(buf, len, "%zuK", b / 1024);
	else
		snprintf(buf, len, "%zu", b);
}

static void add_case(bench_case *cs, cmk_bench_result *rs, size_t *n, bench_env *e,
                     const bench_kind *k, size_t size)
{
	bench_case *c = &cs[*n];
	cmk_bench_result *r = &rs[*n];
	c->k = k;
	c->env = e;
	c->res = r;
	c->size = size;
	if (k->sized == 1 || k->sized == 2) {
		char sz[32];
		bench_fmt_size(size, sz, sizeof sz);
		snprintf(r->name, sizeof r->name, "%s-%s", k->name, sz);
	} else {
		snprintf(r->name, sizeof r->name, "%s", k->name);
	}
	r->cls = k->cls;
	snprintf(r->what, sizeof r->what, "%s", k->what);
	r->bytes = size;
	snprintf(r->hsm_limit, sizeof r->hsm_limit, "%s", k->hsm_limit && !e->o->no_limits ? k->hsm_limit : "");
	snprintf(r->cpu_limit, sizeof r->cpu_limit, "%s", k->cpu_limit && !e->o->no_limits ? k->cpu_limit : "");
	(*n)++;
}

/* The limits of the selected operations are measured too. */
static int referenced(const cmk_bench_opts *o, const bench_kind *lim)
{
	for (size_t i = 0; i < bench_nkinds; i++) {
		const bench_kind *k = bench_kinds[i];
		if (k->cls == CMK_BENCH_CMK && selected(o, k) &&
		    ((k->hsm_limit && !strcmp(k->hsm_limit, lim->name)) ||
		     (k->cpu_limit && !strcmp(k->cpu_limit, lim->name))))
			return 1;
	}
	return 0;
}

static cmk_rc make_cases(bench_env *e, bench_case **cs_out, size_t *n_out)
{
	const cmk_bench_opts *o = e->o;
	size_t max = bench_nkinds * (CMK_BENCH_SIZES_MAX + 1), n = 0;
	bench_case *cs = calloc(max, sizeof *cs);
	cmk_bench_result *rs = calloc(max, sizeof *rs);
	if (!cs || !rs) {
		free(cs);
		free(rs);
		return cmk_err(CMK_E_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < bench_nkinds; i++) {
		const bench_kind *k = bench_kinds[i];
		int pick = selected(o, k);
		if (!pick && k->cls != CMK_BENCH_CMK && !o->no_limits)
			pick = referenced(o, k);
		if (!pick)
			continue;
		size_t first = n;
		if (k->sized == 1)
			for (size_t s = 0; s < o->nsizes; s++)
				add_case(cs, rs, &n, e, k, o->sizes[s]);
		else
			add_case(cs, rs, &n, e, k, k->sized == 2 ? o->object_size : k->bytes);
		for (size_t j = first; j < n; j++)
			cs[j].as_limit = !selected(o, k);
	}
	e->rep->results = rs;
	e->rep->nresults = n;
	*cs_out = cs;
	*n_out = n;
	return CMK_OK;
}

/* ------------------------------------------------------------ measuring */

static void to_point(const bench_sample *s, unsigned threads, unsigned procs, size_t bytes,
                     cmk_bench_point *p)
{
	memset(p, 0, sizeof *p);
	p->threads = threads;
	p->procs = procs;
	p->ops = s->ops;
	p->seconds = (double)s->wall_ns / 1e9;
	p->ops_per_s = p->seconds > 0 ? (double)s->ops / p->seconds : 0;
	p->bytes_per_s = p->ops_per_s * (double)bytes;
	p->p50_us = (double)hist_quantile(&s->hist, 0.50) / 1e3;
	p->p90_us = (double)hist_quantile(&s->hist, 0.90) / 1e3;
	p->p99_us = (double)hist_quantile(&s->hist, 0.99) / 1e3;
	p->max_us = (double)s->hist.max / 1e3;
	p->cpu_us_per_op = s->ops ? (double)s->cpu_ns / 1e3 / (double)s->ops : 0;
}

static int live(const bench_case *c)
{
	return !c->skip && !c->dropped && c->res->rc == CMK_OK;
}

static void fail_case(bench_case *c, cmk_rc rc, const char *why)
{
	cmk_bench_result *r = c->res;
	r->rc = rc;
	snprintf(r->note, sizeof r->note, "%s", why && *why ? why : cmk_last_error());
	r->npoints = 0;
}

/* A limit is measured when a case that needs it can be. */
static int needed(bench_case *cs, size_t n, const bench_case *lim)
{
	for (size_t i = 0; i < n; i++)
		if (cs[i].k->cls == CMK_BENCH_CMK && live(&cs[i]) &&
		    (!strcmp(cs[i].res->hsm_limit, lim->res->name) ||
		     !strcmp(cs[i].res->cpu_limit, lim->res->name)))
			return 1;
	return 0;
}

/* Remove the dropped limits from the report. */
static void compact(cmk_bench_report *rep, bench_case *cs, size_t n)
{
	size_t j = 0;
	for (size_t i = 0; i < n; i++)
		if (!cs[i].dropped)
			rep->results[j++] = rep->results[i];
	rep->nresults = j;
}

static void set_up(bench_case *c)
{
	bench_env *e = c->env;
	cmk_bench_result *r = c->res;
	bench_progress(e, "%s: setting up", r->name);
	cmk_rc rc = c->k->setup ? c->k->setup(c) : CMK_OK;
	if (rc == CMK_OK && !c->skip && !(r->points = calloc(e->o->nthreads, sizeof *r->points)))
		rc = cmk_err(CMK_E_NOMEM, "out of memory");
	if (rc != CMK_OK)
		fail_case(c, rc, NULL);
}

/* Measure point i of case c; of several rounds, the fastest is kept. */
static void measure_point(bench_case *c, size_t i, bench_sample *s)
{
	const cmk_bench_opts *o = c->env->o;
	cmk_bench_result *r = c->res;
	unsigned t = o->threads[i];
	cmk_rc rc = o->procs > 1 ? bench_measure_procs(c, t, o->procs, s)
	                         : bench_measure(c, t, o->count, NULL, NULL, s);
	const char *why = NULL;
	if (rc == CMK_OK && s->rc != CMK_OK) {
		rc = s->rc;
		why = s->err;
	} else if (rc == CMK_OK && s->ops == 0) {
		rc = cmk_err(CMK_E_INTERNAL, "no operation finished");
	}
	if (rc != CMK_OK) {
		fail_case(c, rc, why);
		return;
	}
	cmk_bench_point p;
	to_point(s, t, o->procs, c->size, &p);
	if (i >= r->npoints) {
		r->points[i] = p;
		r->npoints = i + 1;
	} else if (p.ops_per_s > r->points[i].ops_per_s) {
		r->points[i] = p;
	}
}

/* Thread count by thread count, each case in turn, so an operation and
 * its limits are measured close together in time. */
static cmk_rc measure_all(bench_env *e, bench_case *cs, size_t n)
{
	const cmk_bench_opts *o = e->o;
	for (size_t j = 0; j < n; j++)
		if (!cs[j].as_limit)
			set_up(&cs[j]);
	for (size_t j = 0; j < n; j++) {
		if (!cs[j].as_limit)
			continue;
		if (needed(cs, n, &cs[j]))
			set_up(&cs[j]);
		else
			cs[j].dropped = 1;
	}
	bench_sample *s = malloc(sizeof *s);
	if (!s)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	for (unsigned round = 0; round < o->repeat; round++)
		for (size_t i = 0; i < o->nthreads; i++)
			for (size_t j = 0; j < n; j++)
				if (live(&cs[j]))
					measure_point(&cs[j], i, s);
	free(s);
	for (size_t j = 0; j < n; j++) {
		cs[j].res->measured = live(&cs[j]) && cs[j].res->npoints == o->nthreads;
		if (!cs[j].dropped && cs[j].k->teardown)
			cs[j].k->teardown(&cs[j]);
	}
	return CMK_OK;
}

static const cmk_bench_result *find_result(const cmk_bench_report *rep, const char *name)
{
	for (size_t i = 0; *name && i < rep->nresults; i++)
		if (!strcmp(rep->results[i].name, name) && rep->results[i].measured)
			return &rep->results[i];
	return NULL;
}

static double ratio(const cmk_bench_result *r, const cmk_bench_point *p,
                    const cmk_bench_result *lim)
{
	for (size_t i = 0; lim && i < lim->npoints; i++) {
		const cmk_bench_point *q = &lim->points[i];
		if (q->threads != p->threads)
			continue;
		if (r->bytes && lim->bytes)
			return q->bytes_per_s > 0 ? p->bytes_per_s / q->bytes_per_s : 0;
		return q->ops_per_s > 0 ? p->ops_per_s / q->ops_per_s : 0;
	}
	return 0;
}

static void derive(cmk_bench_report *rep)
{
	for (size_t i = 0; i < rep->nresults; i++) {
		cmk_bench_result *r = &rep->results[i];
		const cmk_bench_result *h = find_result(rep, r->hsm_limit);
		const cmk_bench_result *c = find_result(rep, r->cpu_limit);
		for (size_t j = 0; j < r->npoints; j++) {
			cmk_bench_point *p = &r->points[j], *p0 = &r->points[0];
			double speed = p0->ops_per_s > 0 ? p->ops_per_s / p0->ops_per_s : 0;
			p->scaling = speed / ((double)p->threads / (double)p0->threads);
			p->vs_hsm = ratio(r, p, h);
			p->vs_cpu = ratio(r, p, c);
		}
	}
}

/* ------------------------------------------------------------ the key */

static cmk_rc open_key(bench_env *e)
{
	const cmk_bench_opts *o = e->o;
	cmk_bench_report *rep = e->rep;
	if (o->key)
		CMK_TRY(cmk_key_open(e->ctx, o->key, &e->key));
	else {
		char ver[CMK_VERSION_LEN + 1];
		if (!e->can_make_keys)
			return cmk_err(CMK_E_USAGE, "%s: a temporary key could not be removed "
			               "after the run; give an existing key with --key",
			               e->cannot_make_keys);
		bench_progress(e, "making the key %s", e->tag);
		CMK_TRY(bench_key_create(e, e->tag, o->key_bits, ver));
		rep->temporary_key = 1;
		CMK_TRY(cmk_key_open(e->ctx, e->tag, &e->key));
	}
	snprintf(rep->key, sizeof rep->key, "%s", cmk_key_kid(e->key));
	rep->key_bits = cmk_key_bits(e->key);
	e->k = (rep->key_bits + 7) / 8;
	if (RAND_bytes(e->dek, sizeof e->dek) != 1)
		return cmk_err(CMK_E_INTERNAL, "no random bytes");
	e->ctlen = sizeof e->ct;
	CMK_TRY(cmk_key_encrypt(e->key, CMK_PURPOSE_KEY, e->alg, NULL, e->dek, sizeof e->dek,
	                        e->ct, &e->ctlen));
	uint8_t back[1024];
	size_t len = sizeof back;
	CMK_TRY(cmk_key_decrypt(e->key, CMK_PURPOSE_KEY, e->alg, NULL, e->ct, e->ctlen,
	                        back, &len));
	cmk_rc rc = bench_check_dek(e, back, len, "unwrap");
	cmk_wipe(back, sizeof back);
	return rc;
}

/* Delete, then purge, every key whose name starts with the run's tag (the
 * resource's service key is svc-TAG). */
static int ours(const bench_env *e, const char *name)
{
	return !strncmp(name, e->tag, strlen(e->tag)) ||
	       (!strncmp(name, "svc-", 4) && !strncmp(name + 4, e->tag, strlen(e->tag)));
}

static void left_over(bench_env *e, const char *name)
{
	size_t used = strlen(e->rep->leftover);
	snprintf(e->rep->leftover + used, sizeof e->rep->leftover - used, "%s%s",
	         used ? ", " : "", name);
}

static void clean_up(bench_env *e)
{
	for (int deleted = 0; deleted < 2; deleted++) {
		cmk_key_info *keys = NULL;
		size_t n = 0;
		if (cmk_key_list(e->ctx, deleted, &keys, &n) != CMK_OK) {
			left_over(e, deleted ? "(cannot list deleted keys)" : "(cannot list keys)");
			continue;
		}
		for (size_t i = 0; i < n; i++)
			if (ours(e, keys[i].name) &&
			    (deleted ? cmk_key_purge(e->ctx, keys[i].name)
			             : cmk_key_delete(e->ctx, keys[i].name)) != CMK_OK)
				left_over(e, keys[i].name);
		cmk_free(keys);
	}
}

/* The run may make keys when it can purge them afterwards. */
static void may_make_keys(bench_env *e, const cmk_vault_info *vi, char *why, size_t len)
{
	cmk_policy pol;
	const char *id = cmk_ctx_identity(e->ctx);
	if (vi->purge_protection) {
		snprintf(why, len, "vault %s has purge protection", vi->name);
	} else if (cmk_policy_get(e->ctx, id, &pol) != CMK_OK || !(pol.perms & CMK_PERM_PURGE)) {
		snprintf(why, len, "identity %s may not purge keys in vault %s (cmk policy set "
		         "%s all,purge)", id, vi->name, id);
	} else {
		e->can_make_keys = 1;
		return;
	}
	snprintf(e->cannot_make_keys, sizeof e->cannot_make_keys, "%s", why);
	cmk_err_clear();
}

/* ------------------------------------------------------------ the run */

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
		CMK_TRY(check_ops(o->ops));
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
		may_make_keys(&e, &vi, why, sizeof why);
		fill_header(&e, &vi);
		rc = open_key(&e);
	}
	if (rc == CMK_OK) {
		int native = atomic_load(&ctx->oaep_native[hash_p11[hi]]) == 1;
		e.native = native;
		snprintf(rep->unwrap_mech, sizeof rep->unwrap_mech, native
		         ? "CKM_RSA_PKCS_OAEP with %s on the token"
		         : "CKM_RSA_X_509 on the token, OAEP-%s decoding in OpenSSL", e.md);
		rc = make_cases(&e, &cs, &n);
	}
	if (rc == CMK_OK)
		rc = measure_all(&e, cs, n);
	if (rc == CMK_OK) {
		compact(rep, cs, n);
		derive(rep);
	}
	char err[512] = "";
	if (rc != CMK_OK)
		snprintf(err, sizeof err, "%s", cmk_last_error());
	bench_progress(&e, "removing what the run made");
	bench_resource_env_free(&e);
	bench_ossl_env_free(&e);
	cmk_key_close(e.key);
	cmk_err_clear();
	if (e.can_make_keys)
		clean_up(&e);
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
