/* cases.c - what a run measures: the kinds of operation, in measuring
 * order, and the cases chosen by --ops (the limits of the chosen operations
 * come along unless --no-limits). */
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "bench/bench_int.h"

/* Measuring order: each limit soon after the first operation using it. */
const bench_kind *const bench_kinds[] = {
	&bench_kind_wrap,
	&bench_kind_p11_encrypt,
	&bench_kind_ossl_encrypt,
	&bench_kind_ossl_encrypt_logged,
	&bench_kind_log_append,
	&bench_kind_unwrap,
	&bench_kind_provider,
	&bench_kind_p11_decrypt,
	&bench_kind_ossl_decrypt,
	&bench_kind_seal,
	&bench_kind_open,
	&bench_kind_open_cache,
	&bench_kind_ossl_aes_gcm,
	&bench_kind_ossl_aes_gcm_buffer,
	&bench_kind_res_put,
	&bench_kind_res_get,
	&bench_kind_res_put_cache,
	&bench_kind_res_get_cache,
	&bench_kind_key_create,
	&bench_kind_key_rotate,
	&bench_kind_p11_keygen,
	/* without a vault */
	&bench_kind_tok_enc_oaep,
	&bench_kind_tok_enc_raw,
	&bench_kind_tok_wrap,
	&bench_kind_tok_dec_oaep,
	&bench_kind_tok_dec_raw,
	&bench_kind_tok_unwrap,
	&bench_kind_tok_gcm,
	&bench_kind_tok_keygen,
};
const size_t bench_nkinds = sizeof bench_kinds / sizeof bench_kinds[0];

const char *bench_op_names(void)
{
	return "wrap unwrap unwrap-provider seal open open-cached put get put-cached get-cached "
	       "key-create key-rotate p11-decrypt p11-encrypt p11-keygen ossl-decrypt "
	       "ossl-encrypt ossl-aes-gcm-16K ossl-aes-gcm-buffer ossl-encrypt-logged log-append, "
	       "or the groups key provider envelope resource mgmt limits all; without a vault: "
	       "p11-encrypt-oaep p11-decrypt-oaep p11-encrypt-raw p11-decrypt-raw p11-wrap "
	       "p11-unwrap p11-aes-gcm-16K p11-keygen, the group token";
}

void bench_skip(bench_case *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->res->note, sizeof c->res->note, fmt, ap);
	va_end(ap);
	c->skip = 1;
}

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

/* The kind belongs to this run: with a vault, or without (e->user NULL). */
static int in_mode(const bench_env *e, const bench_kind *k)
{
	int modes = k->modes ? k->modes : BENCH_VAULT;
	if (k->cls == BENCH_CPU && !k->modes)
		modes = BENCH_VAULT | BENCH_TOKEN; /* the limits of both, unless said */
	return modes & (e->user ? BENCH_VAULT : BENCH_TOKEN);
}

static int selected(const bench_opts *o, const bench_kind *k)
{
	if (!o->ops || in_list(o->ops, "all"))
		return k->cls == BENCH_CMK || k->modes == BENCH_TOKEN || !o->no_limits;
	return in_list(o->ops, k->name) || in_list(o->ops, k->group);
}

/* Every word of --ops must name something. */
cmk_rc bench_check_ops(const char *list)
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
			return bench_err(CMK_E_USAGE, "--ops: unknown operation '%.*s' (known: %s)",
					 (int)m, p, bench_op_names());
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

static void add_case(bench_case *cs, bench_result *rs, size_t *n, bench_env *e, const bench_kind *k,
		     size_t size)
{
	bench_case *c = &cs[*n];
	bench_result *r = &rs[*n];
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
	snprintf(r->hsm_limit, sizeof r->hsm_limit, "%s",
		 k->hsm_limit && !e->o->no_limits ? k->hsm_limit : "");
	snprintf(r->cpu_limit, sizeof r->cpu_limit, "%s",
		 k->cpu_limit && !e->o->no_limits ? k->cpu_limit : "");
	if (r->cpu_limit[0] && k->cpu_limit_sized) {
		char sz[32];
		size_t used = strlen(r->cpu_limit);
		bench_fmt_size(size, sz, sizeof sz);
		snprintf(r->cpu_limit + used, sizeof r->cpu_limit - used, "-%s", sz);
	}
	(*n)++;
}

/* What a run measures for itself: cmk's operations, or without a vault
 * the token's; the others are there as their limits. */
static int subject(const bench_env *e, const bench_kind *k)
{
	return in_mode(e, k) && (e->user ? k->cls == BENCH_CMK : k->modes == BENCH_TOKEN);
}

/* The limits of the selected operations are measured too. */
static int referenced(const bench_env *e, const bench_kind *lim)
{
	const bench_opts *o = e->o;
	for (size_t i = 0; i < bench_nkinds; i++) {
		const bench_kind *k = bench_kinds[i];
		if (subject(e, k) && selected(o, k) &&
		    ((k->hsm_limit && !strcmp(k->hsm_limit, lim->name)) ||
		     (k->cpu_limit && !strcmp(k->cpu_limit, lim->name))))
			return 1;
	}
	return 0;
}

cmk_rc bench_make_cases(bench_env *e, bench_case **cs_out, size_t *n_out)
{
	const bench_opts *o = e->o;
	size_t max = bench_nkinds * (BENCH_SIZES_MAX + 1), n = 0;
	bench_case *cs = calloc(max, sizeof *cs);
	bench_result *rs = calloc(max, sizeof *rs);
	if (!cs || !rs) {
		free(cs);
		free(rs);
		return bench_err(CMK_E_NOMEM, "out of memory");
	}
	/* without a vault the token's operations first, then their limits */
	for (size_t step = 0; step < 2 * bench_nkinds; step++) {
		const bench_kind *k = bench_kinds[step % bench_nkinds];
		int pass1 = step < bench_nkinds;
		if (!in_mode(e, k) || (e->user ? !pass1 : pass1 != subject(e, k)))
			continue;
		int pick = selected(o, k);
		if (!pick && !subject(e, k) && !o->no_limits)
			pick = referenced(e, k);
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
	if (n == 0) {
		free(cs);
		free(rs);
		return bench_err(
			CMK_E_USAGE, "--ops %s: nothing to measure %s", o->ops ? o->ops : "all",
			e->user ? "on a vault (the p11-... operations of a token without "
				  "a vault need --module and --token)"
				: "without a vault (there: p11-encrypt-oaep p11-decrypt-oaep "
				  "p11-encrypt-raw p11-decrypt-raw p11-wrap p11-unwrap "
				  "p11-aes-gcm-16K p11-keygen, the limits, or the group token)");
	}
	e->rep->results = rs;
	e->rep->nresults = n;
	*cs_out = cs;
	*n_out = n;
	return CMK_OK;
}
