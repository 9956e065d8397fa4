/* hist.c - a log-linear latency histogram.
 *
 * Values below 2^HIST_SUB_BITS have a bucket each; above, every power of
 * two is split into HIST_SUB equal buckets.  Adding is a few shifts, so
 * threads record every operation without sorting or storing samples, and
 * histograms of threads and processes merge by adding counts. */
#include "config.h"
#include <string.h>
#include "bench/bench_int.h"

void hist_init(bench_hist *h)
{
	memset(h, 0, sizeof *h);
	h->min = UINT64_MAX;
}

static unsigned bucket(uint64_t v)
{
	if (v < HIST_SUB)
		return (unsigned)v;
	unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= HIST_SUB_BITS */
	if (e >= HIST_MAX_BITS)
		return HIST_BUCKETS - 1;
	unsigned m = (unsigned)(v >> (e - HIST_SUB_BITS)) - HIST_SUB;
	return HIST_SUB + (e - HIST_SUB_BITS) * HIST_SUB + m;
}

/* Lowest value of bucket i and its width. */
static void bucket_range(unsigned i, uint64_t *low, uint64_t *width)
{
	if (i < HIST_SUB) {
		*low = i;
		*width = 1;
		return;
	}
	unsigned shift = (i - HIST_SUB) / HIST_SUB, m = (i - HIST_SUB) % HIST_SUB;
	*low = (uint64_t)(HIST_SUB + m) << shift;
	*width = (uint64_t)1 << shift;
}

void hist_add(bench_hist *h, uint64_t ns)
{
	h->c[bucket(ns)]++;
	h->n++;
	if (ns < h->min)
		h->min = ns;
	if (ns > h->max)
		h->max = ns;
}

void hist_merge(bench_hist *to, const bench_hist *from)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		to->c[i] += from->c[i];
	to->n += from->n;
	if (from->min < to->min)
		to->min = from->min;
	if (from->max > to->max)
		to->max = from->max;
}

uint64_t hist_quantile(const bench_hist *h, double q)
{
	if (h->n == 0)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)h->n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > h->n)
		rank = h->n;
	uint64_t seen = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->c[i];
		if (seen < rank)
			continue;
		uint64_t low, width, v;
		bucket_range(i, &low, &width);
		v = low + width / 2; /* the middle of the bucket */
		if (v < h->min)
			v = h->min;
		if (v > h->max)
			v = h->max;
		return v;
	}
	return h->max;
}
