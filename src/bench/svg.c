/* svg.c - throughput against threads, one panel per cmk operation, with
 * its HSM and CPU limits drawn beside it (dashed).  Sized operations are in
 * MB/s; a limit measured in operations per second is then drawn as the MB/s
 * it would allow at the operation's size. */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "bench/bench_int.h"

#define PW   380 /* panel */
#define PH   250
#define ML   62 /* margins of the plot area in a panel */
#define MR   14
#define MT   40
#define MB   58
#define COLS 2

typedef struct series {
	const char *label;
	const char *colour;
	int dashed;
	double v[16];
	int have[16];
} series;

static const bench_result *find(const bench_report *r, const char *name)
{
	for (size_t i = 0; *name && i < r->nresults; i++)
		if (!strcmp(r->results[i].name, name) && r->results[i].measured)
			return &r->results[i];
	return NULL;
}

/* Values of result x in the unit of result r, by thread count index. */
static void fill(const bench_report *rep, const bench_result *r, const bench_result *x, series *s)
{
	for (size_t i = 0; i < rep->nthreads && i < 16; i++)
		for (size_t j = 0; x && j < x->npoints; j++) {
			const bench_point *p = &x->points[j];
			if (p->threads != rep->threads[i])
				continue;
			s->v[i] = !r->bytes  ? p->ops_per_s
				  : x->bytes ? p->bytes_per_s / 1e6
					     : p->ops_per_s * (double)r->bytes / 1e6;
			s->have[i] = 1;
		}
}

/* A round grid step (1, 2 or 5 times a power of ten) for about 5 lines. */
static double nice_step(double max)
{
	double raw = max / 5, mag = 1;
	while (mag * 10 <= raw)
		mag *= 10;
	while (mag > raw)
		mag /= 10;
	double f = raw / mag;
	return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

static void escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else if (*s == '&')
			fputs("&amp;", f);
		else
			fputc(*s, f);
	}
}

static void panel(FILE *f, const bench_report *rep, const bench_result *r, int x0, int y0)
{
	series s[3];
	memset(s, 0, sizeof s);
	s[0].label = r->name;
	s[0].colour = "#1f3b73";
	fill(rep, r, r, &s[0]);
	s[1].label = r->hsm_limit;
	s[1].colour = "#c0392b";
	s[1].dashed = 1;
	fill(rep, r, find(rep, r->hsm_limit), &s[1]);
	s[2].label = r->cpu_limit;
	s[2].colour = "#2471a3";
	s[2].dashed = 1;
	fill(rep, r, find(rep, r->cpu_limit), &s[2]);
	size_t n = rep->nthreads < 16 ? rep->nthreads : 16;
	double max = 0;
	for (int k = 0; k < 3; k++)
		for (size_t i = 0; i < n; i++)
			if (s[k].have[i] && s[k].v[i] > max)
				max = s[k].v[i];
	if (max <= 0)
		max = 1;
	double step = nice_step(max * 1.05), top = step;
	while (top < max * 1.05)
		top += step;
	int w = PW - ML - MR, h = PH - MT - MB;
	int ax = x0 + ML, ay = y0 + MT;

	fprintf(f,
		"<g>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#fff\" "
		"stroke=\"#ddd\"/>\n",
		x0 + 4, y0 + 4, PW - 8, PH - 8);
	fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"14\" font-weight=\"bold\">", x0 + 14,
		y0 + 24);
	escape(f, r->name);
	fprintf(f,
		"</text><text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"#555\" "
		"text-anchor=\"end\">%s</text>\n",
		x0 + PW - 14, y0 + 24, r->bytes ? "MB/s" : "ops/s");
	for (double v = 0; v <= top + step / 2; v += step) {
		double y = ay + h - v / top * h;
		fprintf(f,
			"<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#eee\"/>"
			"<text x=\"%d\" y=\"%.1f\" font-size=\"10\" "
			"text-anchor=\"end\">%g</text>\n",
			ax, y, ax + w, y, ax - 5, y + 3, v);
	}
	for (size_t i = 0; i < n; i++) {
		double x = ax + (n > 1 ? (double)i * w / (double)(n - 1) : w / 2.0);
		fprintf(f,
			"<text x=\"%.1f\" y=\"%d\" font-size=\"10\" "
			"text-anchor=\"middle\">%u</text>\n",
			x, ay + h + 14, rep->threads[i]);
	}
	fprintf(f,
		"<text x=\"%d\" y=\"%d\" font-size=\"10\" "
		"text-anchor=\"middle\">threads%s</text>\n",
		ax + w / 2, ay + h + 27, rep->procs > 1 ? " per process" : "");
	fprintf(f,
		"<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>"
		"<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n",
		ax, ay, ax, ay + h, ax, ay + h, ax + w, ay + h);
	int lx = x0 + 14;
	for (int k = 0; k < 3; k++) {
		int any = 0;
		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"",
			s[k].colour, s[k].dashed ? " stroke-dasharray=\"6,4\"" : "");
		for (size_t i = 0; i < n; i++) {
			if (!s[k].have[i])
				continue;
			double x = ax + (n > 1 ? (double)i * w / (double)(n - 1) : w / 2.0);
			fprintf(f, "%.1f,%.1f ", x, ay + h - s[k].v[i] / top * h);
			any = 1;
		}
		fputs("\"/>\n", f);
		for (size_t i = 0; i < n && !s[k].dashed; i++) {
			if (!s[k].have[i])
				continue;
			double x = ax + (n > 1 ? (double)i * w / (double)(n - 1) : w / 2.0);
			fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", x,
				ay + h - s[k].v[i] / top * h, s[k].colour);
		}
		if (!any)
			continue;
		fprintf(f,
			"<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
			"stroke-width=\"2\"%s/><text x=\"%d\" y=\"%d\" font-size=\"10\">",
			lx, y0 + PH - 14, lx + 18, y0 + PH - 14, s[k].colour,
			s[k].dashed ? " stroke-dasharray=\"6,4\"" : "", lx + 22, y0 + PH - 10);
		escape(f, s[k].label);
		fputs("</text>\n", f);
		lx += 30 + 6 * (int)strlen(s[k].label);
	}
	fputs("</g>\n", f);
}

cmk_rc bench_write_svg(const bench_report *r, FILE *f)
{
	/* a panel per operation of cmk, or without a vault per token operation */
	bench_class subj = BENCH_HSM;
	for (size_t i = 0; i < r->nresults; i++)
		if (r->results[i].cls == BENCH_CMK)
			subj = BENCH_CMK;
	int n = 0;
	for (size_t i = 0; i < r->nresults; i++)
		n += r->results[i].cls == subj && r->results[i].measured;
	int rows = (n + COLS - 1) / COLS, width = PW * COLS, height = 50 + rows * PH;
	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		"viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"#f7f7f7\"/>\n",
		width, height, width, height);
	fprintf(f, "<text x=\"10\" y=\"22\" font-size=\"15\" font-weight=\"bold\">cmk bench: "
		   "throughput against threads</text>\n<text x=\"10\" y=\"40\" font-size=\"11\" "
		   "fill=\"#555\">");
	escape(f, r->vault[0] ? r->vault : "no vault");
	fputs(" / ", f);
	escape(f, r->token);
	fputs(" (", f);
	escape(f, r->model);
	fprintf(f, "), RSA-%u %s, %u process%s; dashed: the HSM and CPU limits</text>\n",
		r->key_bits, r->alg, r->procs, r->procs > 1 ? "es" : "");
	int k = 0;
	for (size_t i = 0; i < r->nresults; i++) {
		const bench_result *res = &r->results[i];
		if (res->cls != subj || !res->measured)
			continue;
		panel(f, r, res, (k % COLS) * PW, 50 + (k / COLS) * PH);
		k++;
	}
	fputs("</svg>\n", f);
	return ferror(f) ? bench_err(CMK_E_IO, "cannot write the plot") : CMK_OK;
}
