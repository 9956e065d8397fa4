/* report.c - the readable table and the CSV of a benchmark run. */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "bench/bench_int.h"

const char *bench_class_name(bench_class c)
{
	return c == BENCH_HSM ? "hsm" : c == BENCH_CPU ? "cpu" : "cmk";
}

void bench_fmt_us(double us, char *buf, size_t len)
{
	if (us < 100)
		snprintf(buf, len, "%.1fus", us);
	else if (us < 1000)
		snprintf(buf, len, "%.0fus", us);
	else if (us < 1e6)
		snprintf(buf, len, "%.2fms", us / 1e3);
	else
		snprintf(buf, len, "%.2fs", us / 1e6);
}

static void pct(double r, char *buf, size_t len)
{
	if (r > 0)
		snprintf(buf, len, "%.1f%%", r * 100);
	else
		snprintf(buf, len, "-");
}

static void header(const bench_report *r, FILE *f)
{
	if (r->vault[0])
		fprintf(f, "cmk bench: vault %s, ", r->vault);
	else
		fprintf(f, "cmk bench: no vault (session objects only), ");
	fprintf(f, "token %s (%s, %s), %u CPU%s, %s\n", r->token, r->model, r->manufacturer,
		r->cpus, r->cpus > 1 ? "s" : "", r->openssl);
	fprintf(f, "module %s; %zu objects on the token\n", r->module, r->token_objects);
	if (r->vault[0])
		fprintf(f, "key %s%s: RSA-%u, %s\n", r->key, r->temporary_key ? " (temporary)" : "",
			r->key_bits, r->alg);
	else
		fprintf(f, "keys: %s; %s\n", r->key, r->alg);
	if (r->made_as[0])
		fprintf(f, "keys made and purged as identity %s\n", r->made_as);
	fprintf(f, "unwrap: %s\n", r->unwrap_mech);
	fprintf(f, "%u process%s; ", r->procs, r->procs > 1 ? "es" : "");
	if (r->count)
		fprintf(f, "%llu operations per measurement", (unsigned long long)r->count);
	else
		fprintf(f, "%g s per measurement", r->duration);
	fprintf(f, " after %g s of warm-up (none for key generation)", r->warmup);
	if (r->repeat > 1)
		fprintf(f, "; the fastest of %u rounds", r->repeat);
	fputc('\n', f);
}

static void table(const bench_result *res, FILE *f)
{
	char hl[64] = "", cl[64] = "";
	int bytes = res->bytes > 0;
	if (res->hsm_limit[0])
		snprintf(hl, sizeof hl, "vs %s", res->hsm_limit);
	if (res->cpu_limit[0])
		snprintf(cl, sizeof cl, "vs %s", res->cpu_limit);
	fprintf(f, "  %7s %10s %9s %8s %8s %8s %8s %9s %7s", "threads", "ops/s",
		bytes ? "MB/s" : "", "p50", "p90", "p99", "max", "CPU/op", "scaling");
	if (*hl)
		fprintf(f, "  %*s", (int)strlen(hl) > 7 ? (int)strlen(hl) : 7, hl);
	if (*cl)
		fprintf(f, "  %*s", (int)strlen(cl) > 7 ? (int)strlen(cl) : 7, cl);
	fputc('\n', f);
	for (size_t i = 0; i < res->npoints; i++) {
		const bench_point *p = &res->points[i];
		char th[24], mb[24] = "", q[4][16], cpu[16], a[16], b[16];
		if (p->procs > 1)
			snprintf(th, sizeof th, "%ux%u", p->procs, p->threads);
		else
			snprintf(th, sizeof th, "%u", p->threads);
		if (bytes)
			snprintf(mb, sizeof mb, "%.1f", p->bytes_per_s / 1e6);
		bench_fmt_us(p->p50_us, q[0], sizeof q[0]);
		bench_fmt_us(p->p90_us, q[1], sizeof q[1]);
		bench_fmt_us(p->p99_us, q[2], sizeof q[2]);
		bench_fmt_us(p->max_us, q[3], sizeof q[3]);
		bench_fmt_us(p->cpu_us_per_op, cpu, sizeof cpu);
		fprintf(f, "  %7s %10.1f %9s %8s %8s %8s %8s %9s %7.2f", th, p->ops_per_s, mb, q[0],
			q[1], q[2], q[3], cpu, p->scaling);
		pct(p->vs_hsm, a, sizeof a);
		pct(p->vs_cpu, b, sizeof b);
		if (*hl)
			fprintf(f, "  %*s", (int)strlen(hl) > 7 ? (int)strlen(hl) : 7, a);
		if (*cl)
			fprintf(f, "  %*s", (int)strlen(cl) > 7 ? (int)strlen(cl) : 7, b);
		fputc('\n', f);
	}
}

static void section(const bench_report *r, FILE *f, bench_class cls, const char *title)
{
	int any = 0;
	for (size_t i = 0; i < r->nresults; i++) {
		const bench_result *res = &r->results[i];
		if (res->cls != cls)
			continue;
		if (!any++)
			fprintf(f, "\n== %s\n", title);
		if (res->rc != CMK_OK) {
			fprintf(f, "\n%s: FAILED (%s): %s\n", res->name, cmk_rc_name(res->rc),
				res->note);
			continue;
		}
		if (!res->measured) {
			fprintf(f, "\n%s: %s\n", res->name, res->note);
			continue;
		}
		fprintf(f, "\n%s: %s\n", res->name, res->what);
		table(res, f);
	}
}

cmk_rc bench_write_table(const bench_report *r, FILE *f)
{
	header(r, f);
	section(r, f, BENCH_CMK, "cmk operations");
	section(r, f, BENCH_HSM,
		r->vault[0] ? "HSM limit: raw PKCS#11 on the same token"
			    : "the token: raw PKCS#11 on session objects");
	section(r, f, BENCH_CPU, "CPU limit: plain OpenSSL in this process");
	fprintf(f,
		"\nlatency of one operation (p50/p90/p99/max); CPU/op: user+system time of the "
		"process(es) per operation;\nscaling: speed-up over the first thread count divided "
		"by the ratio of thread counts;\nvs X: throughput over X's at the same thread "
		"count "
		"(bytes/s when both have a size).\n");
	if (r->leftover[0])
		fprintf(f, "\ncould not remove: %s\n", r->leftover);
	return ferror(f) ? bench_err(CMK_E_IO, "cannot write the report") : CMK_OK;
}

cmk_rc bench_write_csv(const bench_report *r, FILE *f)
{
	fprintf(f, "op,class,threads,procs,ops,seconds,ops_per_s,bytes,mb_per_s,p50_us,p90_us,"
		   "p99_us,max_us,cpu_us_per_op,scaling,hsm_limit,vs_hsm,cpu_limit,vs_cpu\n");
	for (size_t i = 0; i < r->nresults; i++) {
		const bench_result *res = &r->results[i];
		for (size_t j = 0; j < res->npoints; j++) {
			const bench_point *p = &res->points[j];
			fprintf(f,
				"%s,%s,%u,%u,%llu,%.6f,%.3f,%zu,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.4f,"
				"%s,%.4f,%s,%.4f\n",
				res->name, bench_class_name(res->cls), p->threads, p->procs,
				(unsigned long long)p->ops, p->seconds, p->ops_per_s, res->bytes,
				p->bytes_per_s / 1e6, p->p50_us, p->p90_us, p->p99_us, p->max_us,
				p->cpu_us_per_op, p->scaling, res->hsm_limit, p->vs_hsm,
				res->cpu_limit, p->vs_cpu);
		}
	}
	return ferror(f) ? bench_err(CMK_E_IO, "cannot write the CSV") : CMK_OK;
}
