/* sweep.c - measuring the cases: set up, then thread count by thread count
 * each live case in turn (so an operation and its limits are measured close
 * together), --repeat times keeping each point's fastest round; then the
 * derived figures (scaling, ratios to the limits). */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench/bench_int.h"

static void to_point(const bench_sample *s, unsigned threads, unsigned procs, size_t bytes,
		     bench_point *p)
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
	bench_result *r = c->res;
	r->rc = rc;
	snprintf(r->note, sizeof r->note, "%s", why && *why ? why : bench_last_error());
	r->npoints = 0;
}

/* A limit is measured when a case that needs it can be. */
static int needed(bench_case *cs, size_t n, const bench_case *lim)
{
	for (size_t i = 0; i < n; i++)
		if (&cs[i] != lim && live(&cs[i]) &&
		    (!strcmp(cs[i].res->hsm_limit, lim->res->name) ||
		     !strcmp(cs[i].res->cpu_limit, lim->res->name)))
			return 1;
	return 0;
}

/* Remove the dropped limits from the report. */
static void compact(bench_report *rep, bench_case *cs, size_t n)
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
	bench_result *r = c->res;
	cmk_rc rc = c->k->setup ? c->k->setup(c) : CMK_OK;
	if (rc == CMK_OK && !c->skip && !(r->points = calloc(e->o->nthreads, sizeof *r->points)))
		rc = bench_err(CMK_E_NOMEM, "out of memory");
	if (rc != CMK_OK)
		fail_case(c, rc, NULL);
}

/* Measure point i of case c; of several rounds, the fastest is kept. */
static void measure_point(bench_case *c, size_t i, bench_sample *s)
{
	const bench_opts *o = c->env->o;
	bench_result *r = c->res;
	unsigned t = o->threads[i];
	cmk_rc rc = o->procs > 1 ? bench_measure_procs(c, t, o->procs, s)
				 : bench_measure(c, t, o->count, NULL, NULL, s);
	const char *why = NULL;
	if (rc == CMK_OK && s->rc != CMK_OK) {
		rc = s->rc;
		why = s->err;
	} else if (rc == CMK_OK && s->ops == 0) {
		rc = bench_err(CMK_E_INTERNAL, "no operation finished");
	}
	if (rc != CMK_OK) {
		fail_case(c, rc, why);
		return;
	}
	bench_point p;
	to_point(s, t, o->procs, c->size, &p);
	char th[32], p50[16], p99[16];
	if (o->procs > 1)
		snprintf(th, sizeof th, "%u processes x %u thread%s", o->procs, t,
			 t > 1 ? "s" : "");
	else
		snprintf(th, sizeof th, "%u thread%s", t, t > 1 ? "s" : "");
	bench_fmt_us(p.p50_us, p50, sizeof p50);
	bench_fmt_us(p.p99_us, p99, sizeof p99);
	if (c->size && p.bytes_per_s > 0)
		bench_progress(c->env, "%s, %s: %.1f MB/s, p50 %s, p99 %s", r->name, th,
			       p.bytes_per_s / 1e6, p50, p99);
	else
		bench_progress(c->env, "%s, %s: %.1f ops/s, p50 %s, p99 %s", r->name, th,
			       p.ops_per_s, p50, p99);
	bench_point *kept = &r->points[i];
	if (i >= r->npoints) {
		*kept = p;
		r->npoints = i + 1;
	} else if (p.ops_per_s > kept->ops_per_s) {
		/* the fastest round's figures, every round's rate */
		p.nrounds = kept->nrounds;
		memcpy(p.round_ops_per_s, kept->round_ops_per_s, sizeof p.round_ops_per_s);
		*kept = p;
	}
	if (kept->nrounds < BENCH_MAX_REPEAT)
		kept->round_ops_per_s[kept->nrounds++] = p.ops_per_s;
}

static cmk_rc measure_all(bench_env *e, bench_case *cs, size_t n)
{
	const bench_opts *o = e->o;
	for (size_t j = 0; j < n && !bench_stopped(e); j++)
		if (!cs[j].as_limit)
			set_up(&cs[j]);
	for (size_t j = 0; j < n; j++) {
		if (!cs[j].as_limit)
			continue;
		if (bench_stopped(e)) {
			cs[j].dropped = 1;
			continue;
		}
		if (needed(cs, n, &cs[j]))
			set_up(&cs[j]);
		else
			cs[j].dropped = 1;
	}
	bench_sample *s = malloc(sizeof *s);
	if (!s)
		return bench_err(CMK_E_NOMEM, "out of memory");
	for (unsigned round = 0; round < o->repeat && !bench_stopped(e); round++)
		for (size_t i = 0; i < o->nthreads && !bench_stopped(e); i++)
			for (size_t j = 0; j < n && !bench_stopped(e); j++)
				if (live(&cs[j])) {
					measure_point(&cs[j], i, s);
					if (cs[j].k->after)
						cs[j].k->after(&cs[j]);
				}
	free(s);
	for (size_t j = 0; j < n; j++) {
		cs[j].res->measured = live(&cs[j]) && cs[j].res->npoints == o->nthreads;
		if (!cs[j].dropped && cs[j].k->teardown)
			cs[j].k->teardown(&cs[j]);
	}
	return CMK_OK;
}

static const bench_result *find_result(const bench_report *rep, const char *name)
{
	for (size_t i = 0; *name && i < rep->nresults; i++)
		if (!strcmp(rep->results[i].name, name) && rep->results[i].measured)
			return &rep->results[i];
	return NULL;
}

static double ratio(const bench_result *r, const bench_point *p, const bench_result *lim)
{
	for (size_t i = 0; lim && i < lim->npoints; i++) {
		const bench_point *q = &lim->points[i];
		if (q->threads != p->threads)
			continue;
		if (r->bytes && lim->bytes)
			return q->bytes_per_s > 0 ? p->bytes_per_s / q->bytes_per_s : 0;
		return q->ops_per_s > 0 ? p->ops_per_s / q->ops_per_s : 0;
	}
	return 0;
}

static void derive(bench_report *rep)
{
	for (size_t i = 0; i < rep->nresults; i++) {
		bench_result *r = &rep->results[i];
		const bench_result *h = find_result(rep, r->hsm_limit);
		const bench_result *c = find_result(rep, r->cpu_limit);
		for (size_t j = 0; j < r->npoints; j++) {
			bench_point *p = &r->points[j], *p0 = &r->points[0];
			double speed = p0->ops_per_s > 0 ? p->ops_per_s / p0->ops_per_s : 0;
			p->scaling = speed / ((double)p->threads / (double)p0->threads);
			p->vs_hsm = ratio(r, p, h);
			p->vs_cpu = ratio(r, p, c);
		}
	}
}

cmk_rc bench_sweep(bench_env *e, bench_case *cs, size_t n)
{
	BENCH_TRY(measure_all(e, cs, n));
	compact(e->rep, cs, n);
	derive(e->rep);
	return CMK_OK;
}
