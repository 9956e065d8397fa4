/* procs.c - one measurement in several processes on one token.
 *
 * The processes are forked from this one (libcmk contexts and key handles
 * keep working in a child); each runs the threads of run.c.  They start
 * together: a child writes a byte on `ready` once its threads have warmed
 * up and waits for a byte on `go`; the parent sends them when every child
 * is ready (or gone).  Each child sends its bench_sample back on its own
 * pipe and leaves with _exit(), so nothing of the parent's is flushed or
 * torn down twice. */
#include "config.h"
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "bench/bench_int.h"

typedef struct sync_fds {
	int ready, go;
} sync_fds;

static void child_sync(void *arg)
{
	sync_fds *s = arg;
	char b = 'r';
	while (write(s->ready, &b, 1) < 0 && errno == EINTR)
		;
	close(s->ready); /* the parent sees EOF once all are ready */
	while (read(s->go, &b, 1) < 0 && errno == EINTR)
		;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static void child(bench_case *c, unsigned threads, uint64_t count, sync_fds *s, int res)
{
	bench_sample *out = malloc(sizeof *out);
	if (!out)
		_exit(3);
	c->env->progress = 0; /* the parent speaks for everyone */
	cmk_rc rc = bench_measure(c, threads, count, child_sync, s, out);
	if (rc != CMK_OK) {
		memset(out, 0, sizeof *out);
		hist_init(&out->hist);
		out->rc = rc;
		snprintf(out->err, sizeof out->err, "%s", bench_last_error());
	}
	int bad = write_all(res, out, sizeof *out) != 0;
	free(out);
	_exit(bad ? 4 : 0);
}

/* Read what the children send. */
static void collect(bench_case *c, unsigned procs, const pid_t *pid, int *res, bench_sample *got,
		    size_t *have)
{
	bench_env *e = c->env;
	int told = 0;
	unsigned open_ = procs;
	while (open_) {
		struct pollfd pf[BENCH_PROCS_MAX];
		unsigned map[BENCH_PROCS_MAX], n = 0;
		for (unsigned i = 0; i < procs; i++)
			if (res[i] >= 0) {
				pf[n].fd = res[i];
				pf[n].events = POLLIN;
				map[n++] = i;
			}
		int r = poll(pf, n, 250);
		if (r < 0 && errno != EINTR)
			break;
		if (bench_stopped(e) && !told) {
			/* a signal to this process only: the children stop too */
			for (unsigned i = 0; i < procs; i++)
				kill(pid[i], SIGINT);
			told = 1;
		}
		if (r <= 0)
			continue;
		for (unsigned j = 0; j < n; j++) {
			if (!(pf[j].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			unsigned i = map[j];
			ssize_t m =
				read(res[i], (char *)&got[i] + have[i], sizeof got[i] - have[i]);
			if (m < 0 && errno == EINTR)
				continue;
			if (m > 0)
				have[i] += (size_t)m;
			if (m <= 0 || have[i] == sizeof got[i]) {
				close(res[i]);
				res[i] = -1;
				open_--;
			}
		}
	}
}

cmk_rc bench_measure_procs(bench_case *c, unsigned threads, unsigned procs, bench_sample *out)
{
	const bench_opts *o = c->env->o;
	int ready[2] = { -1, -1 }, go[2] = { -1, -1 }, res[BENCH_PROCS_MAX];
	pid_t pid[BENCH_PROCS_MAX];
	unsigned forked = 0;
	cmk_rc rc = CMK_OK;
	bench_sample *got = calloc(procs, sizeof *got);
	size_t *have = calloc(procs, sizeof *have);
	if (!got || !have || pipe(ready) != 0 || pipe(go) != 0) {
		rc = bench_err(CMK_E_INTERNAL, "cannot set up %u processes: %s", procs,
			       strerror(errno));
		goto out;
	}
	fflush(NULL);
	for (; forked < procs; forked++) {
		int p[2];
		if (pipe(p) != 0) {
			rc = bench_err(CMK_E_INTERNAL, "cannot make a pipe: %s", strerror(errno));
			break;
		}
		uint64_t count = o->count / procs + (forked < o->count % procs);
		if (o->count && count == 0)
			count = 1;
		pid[forked] = fork();
		if (pid[forked] == 0) {
			close(p[0]);
			close(ready[0]);
			close(go[1]);
			for (unsigned i = 0; i < forked; i++)
				close(res[i]);
			free(got);
			free(have);
			sync_fds s = { ready[1], go[0] };
			child(c, threads, count, &s, p[1]);
		}
		close(p[1]);
		if (pid[forked] < 0) {
			close(p[0]);
			rc = bench_err(CMK_E_INTERNAL, "cannot fork process %u of %u: %s",
				       forked + 1, procs, strerror(errno));
			break;
		}
		res[forked] = p[0];
	}
	close(ready[1]);
	ready[1] = -1;
	/* every child writes one byte and closes its end: read to EOF */
	char b[BENCH_PROCS_MAX];
	for (;;) {
		ssize_t m = read(ready[0], b, sizeof b);
		if (m > 0 || (m < 0 && errno == EINTR))
			continue;
		break;
	}
	memset(b, 'g', sizeof b);
	if (forked && write_all(go[1], b, forked) != 0 && rc == CMK_OK)
		rc = bench_err(CMK_E_INTERNAL, "cannot start the processes: %s", strerror(errno));
	collect(c, forked, pid, res, got, have);
	for (unsigned i = 0; i < forked; i++) {
		int st;
		while (waitpid(pid[i], &st, 0) < 0 && errno == EINTR)
			;
		if (rc != CMK_OK)
			continue;
		if (WIFSIGNALED(st))
			rc = bench_err(CMK_E_INTERNAL, "benchmark process %u of %u: %s", i + 1,
				       procs, strsignal(WTERMSIG(st)));
		else if (WIFEXITED(st) && WEXITSTATUS(st))
			rc = bench_err(CMK_E_INTERNAL,
				       "benchmark process %u of %u exited with status %d", i + 1,
				       procs, WEXITSTATUS(st));
		else if (have[i] != sizeof got[i])
			rc = bench_err(CMK_E_INTERNAL, "benchmark process %u of %u did not report",
				       i + 1, procs);
	}
	if (rc != CMK_OK)
		goto out;
	memset(out, 0, sizeof *out);
	hist_init(&out->hist);
	for (unsigned i = 0; i < forked; i++) {
		hist_merge(&out->hist, &got[i].hist);
		out->cpu_ns += got[i].cpu_ns;
		if (got[i].wall_ns > out->wall_ns)
			out->wall_ns = got[i].wall_ns;
		if (got[i].rc != CMK_OK && out->rc == CMK_OK) {
			out->rc = got[i].rc;
			memcpy(out->err, got[i].err, sizeof out->err);
		}
	}
	out->ops = out->hist.n;
out:
	for (int i = 0; i < 2; i++) {
		if (ready[i] >= 0)
			close(ready[i]);
		if (go[i] >= 0)
			close(go[i]);
	}
	free(got);
	free(have);
	return rc;
}
