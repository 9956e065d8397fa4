/* run.c - one measurement in this process: N threads doing one operation.
 *
 * Every thread sets up its state, warms up, and waits at a barrier; the
 * clock and getrusage() start when all are there, so the measured window
 * holds only measured operations.  Each thread then works until the
 * deadline (or until the shared count of operations is used up), timing
 * each operation into its own histogram; the window ends when the last
 * thread finishes its last operation. */
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include "bench/bench_int.h"

uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bench_cpu_ns(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

typedef struct run run;

typedef struct worker {
	run *r;
	unsigned idx;
	pthread_t th;
	_Atomic uint64_t done; /* measured operations, for the progress line */
	uint64_t t_end;
	cmk_rc rc;
	char err[256];
	bench_hist hist;
} worker;

struct run {
	bench_case *c;
	unsigned n;
	int counted;
	_Atomic int64_t tickets; /* operations left, when counted */
	_Atomic int stop;	 /* an operation failed, or interrupted */
	uint64_t t0, deadline;	 /* written before the start barrier */
	pthread_barrier_t bar;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int gate; /* 0: wait, 1: all threads exist, 2: abort */
	unsigned finished;
};

static void fail(worker *w, cmk_rc rc)
{
	w->rc = rc;
	snprintf(w->err, sizeof w->err, "%s", bench_last_error());
	atomic_store(&w->r->stop, 1);
}

static void warm_up(worker *w, void *state)
{
	const bench_kind *k = w->r->c->k;
	double secs = w->r->c->env->o->warmup;
	if (secs <= 0 || k->slow)
		return;
	uint64_t end = bench_now_ns() + (uint64_t)(secs * 1e9);
	while (!atomic_load_explicit(&w->r->stop, memory_order_relaxed) &&
	       !bench_stopped(w->r->c->env)) {
		cmk_rc rc = k->one(w->r->c, state);
		if (rc != CMK_OK) {
			fail(w, rc);
			return;
		}
		if (bench_now_ns() >= end)
			return;
	}
}

static void measure(worker *w, void *state)
{
	run *r = w->r;
	const bench_kind *k = r->c->k;
	uint64_t n = 0;
	for (;;) {
		if (atomic_load_explicit(&r->stop, memory_order_relaxed) ||
		    bench_stopped(r->c->env))
			break;
		if (r->counted && atomic_fetch_sub(&r->tickets, 1) <= 0)
			break;
		uint64_t a = bench_now_ns();
		cmk_rc rc = k->one(r->c, state);
		uint64_t b = bench_now_ns();
		if (rc != CMK_OK) {
			fail(w, rc);
			break;
		}
		hist_add(&w->hist, b - a);
		atomic_store_explicit(&w->done, ++n, memory_order_relaxed);
		if (!r->counted && b >= r->deadline)
			break;
	}
	w->t_end = bench_now_ns();
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	run *r = w->r;
	const bench_kind *k = r->c->k;
	void *state = NULL;
	pthread_mutex_lock(&r->mu);
	while (r->gate == 0)
		pthread_cond_wait(&r->cv, &r->mu);
	int abort_ = r->gate == 2;
	pthread_mutex_unlock(&r->mu);
	if (abort_)
		return NULL;
	cmk_rc rc = k->thread_init ? k->thread_init(r->c, w->idx, &state) : CMK_OK;
	if (rc != CMK_OK)
		fail(w, rc);
	pthread_barrier_wait(&r->bar); /* everyone set up */
	if (rc == CMK_OK)
		warm_up(w, state);
	pthread_barrier_wait(&r->bar); /* warmed up */
	pthread_barrier_wait(&r->bar); /* t0 taken: go */
	if (rc == CMK_OK)
		measure(w, state);
	else
		w->t_end = bench_now_ns();
	if (rc == CMK_OK && k->thread_fini)
		k->thread_fini(r->c, state);
	pthread_mutex_lock(&r->mu);
	r->finished++;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

cmk_rc bench_measure(bench_case *c, unsigned threads, uint64_t count, bench_sync_fn sync,
		     void *sync_arg, bench_sample *out)
{
	run r;
	memset(&r, 0, sizeof r);
	r.c = c;
	r.n = threads;
	r.counted = count > 0;
	atomic_init(&r.tickets, (int64_t)count);
	atomic_init(&r.stop, 0);
	worker *w = calloc(threads, sizeof *w);
	if (!w)
		return bench_err(CMK_E_NOMEM, "out of memory");
	pthread_barrier_init(&r.bar, NULL, threads + 1);
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.cv, NULL);
	unsigned started = 0;
	cmk_rc rc = CMK_OK;
	for (; started < threads; started++) {
		w[started].r = &r;
		w[started].idx = started;
		hist_init(&w[started].hist);
		if (pthread_create(&w[started].th, NULL, worker_main, &w[started]) != 0) {
			rc = bench_err(CMK_E_INTERNAL, "cannot start thread %u of %u", started + 1,
				       threads);
			break;
		}
	}
	/* the barriers count on every thread: start all or none */
	pthread_mutex_lock(&r.mu);
	r.gate = rc == CMK_OK ? 1 : 2;
	pthread_cond_broadcast(&r.cv);
	pthread_mutex_unlock(&r.mu);
	if (rc != CMK_OK) {
		for (unsigned i = 0; i < started; i++)
			pthread_join(w[i].th, NULL);
		goto out;
	}
	pthread_barrier_wait(&r.bar);
	pthread_barrier_wait(&r.bar);
	if (sync)
		sync(sync_arg);
	uint64_t cpu0 = bench_cpu_ns();
	r.t0 = bench_now_ns();
	r.deadline = r.t0 + (uint64_t)(c->env->o->duration * 1e9);
	pthread_barrier_wait(&r.bar);

	pthread_mutex_lock(&r.mu);
	while (r.finished < threads) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&r.cv, &r.mu, &ts);
		if (bench_stopped(c->env))
			atomic_store(&r.stop, 1); /* interrupted: finish */
	}
	pthread_mutex_unlock(&r.mu);
	for (unsigned i = 0; i < threads; i++)
		pthread_join(w[i].th, NULL);
	uint64_t cpu1 = bench_cpu_ns();

	memset(out, 0, sizeof *out);
	hist_init(&out->hist);
	uint64_t end = r.t0;
	for (unsigned i = 0; i < threads; i++) {
		hist_merge(&out->hist, &w[i].hist);
		if (w[i].t_end > end)
			end = w[i].t_end;
		if (w[i].rc != CMK_OK && out->rc == CMK_OK) {
			out->rc = w[i].rc;
			snprintf(out->err, sizeof out->err, "%s", w[i].err);
		}
	}
	out->ops = out->hist.n;
	out->wall_ns = end - r.t0;
	out->cpu_ns = cpu1 - cpu0;
out:
	pthread_cond_destroy(&r.cv);
	pthread_mutex_destroy(&r.mu);
	pthread_barrier_destroy(&r.bar);
	free(w);
	return rc;
}

/* ------------------------------------------------------------ progress */

int bench_stopped(const bench_env *e)
{
	return e->o->stop && *e->o->stop;
}

void bench_progress(bench_env *e, const char *fmt, ...)
{
	if (!e->progress)
		return;
	char line[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "cmk bench: %s\n", line);
}
