/* op_log.c - the kernel's part of an audit record, and what it leaves of
 * a software operation: limits for audited operations on the file system
 * that holds the vault's audit log.
 *
 * Every operation of libcmk appends one line of about 400 bytes to the
 * vault's audit log with one write(), under one process-shared mutex
 * (docs/audit.md).  log-append measures just that, on the same file system:
 * one write() of a line of that size per operation, appended by every
 * thread (and, with --procs, every process) under one process-shared mutex
 * to an unnamed file in the audit log's directory: O_TMPFILE, so nothing is
 * left there even when the run is killed (where the file system lacks it, a
 * file unlinked right after it is made: left only by a kill between the
 * two calls).
 * No HMAC, no chain: those are cmk's own cost.  Back to back, the appends
 * measure the file system's own rate; ossl-encrypt-logged makes each after
 * an ossl-encrypt, as a wrap does, where the file's state has moved to the
 * other CPU between two appends: the most that any software wrap writing
 * one record per operation reaches on this host.  The file is emptied
 * every 16 MiB. */
#define _GNU_SOURCE
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "bench/bench_int.h"

#define LINE_LEN 413 /* an unwrapKey record of a key with a short name */
#define TRUNC_AT (16u << 20)

typedef struct log_state {
	int fd;
	struct shared {
		pthread_mutex_t mu;
		size_t bytes;
	} * sh;
	char line[LINE_LEN];
} log_state;

/* An unnamed file in dir: O_TMPFILE where the file system has it, else a
 * file made and unlinked at once. */
static int unnamed_file(const char *dir, const char *tag)
{
	int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	char path[4096];
	snprintf(path, sizeof path, "%s/.%s.append", dir, tag);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0)
		unlink(path);
	return fd;
}

static void log_teardown(bench_case *c)
{
	log_state *s = c->state;
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	if (s->sh) {
		pthread_mutex_destroy(&s->sh->mu);
		munmap(s->sh, sizeof *s->sh);
	}
	free(s);
	c->state = NULL;
}

static cmk_rc log_setup(bench_case *c)
{
	bench_env *e = c->env;
	const char *log = cmk_audit_log_path(e->user);
	if (!log || !*log) {
		bench_skip(c, "the vault's audit log path is not known");
		return CMK_OK;
	}
	char copy[4096];
	snprintf(copy, sizeof copy, "%s", log);
	const char *dir = dirname(copy);
	log_state *s = calloc(1, sizeof *s);
	if (!s)
		return bench_err(CMK_E_NOMEM, "out of memory");
	s->fd = -1;
	c->state = s;
	s->sh = mmap(NULL, sizeof *s->sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
		     0);
	if (s->sh == MAP_FAILED) {
		s->sh = NULL;
		log_teardown(c);
		return bench_err(CMK_E_NOMEM, "log-append: mmap: %s", strerror(errno));
	}
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	int r = pthread_mutex_init(&s->sh->mu, &a);
	pthread_mutexattr_destroy(&a);
	if (r != 0) {
		munmap(s->sh, sizeof *s->sh);
		s->sh = NULL;
		log_teardown(c);
		return bench_err(CMK_E_INTERNAL, "log-append: a process-shared mutex: %s",
				 strerror(r));
	}
	s->fd = unnamed_file(dir, e->tag);
	if (s->fd < 0) {
		int err = errno;
		log_teardown(c);
		bench_skip(c, "no file can be made in the audit log's directory %s: %s", dir,
			   strerror(err));
		return CMK_OK;
	}
	/* reopened with O_APPEND, as the audit log is */
	int fl = fcntl(s->fd, F_GETFL);
	if (fl < 0 || fcntl(s->fd, F_SETFL, fl | O_APPEND) != 0) {
		int err = errno;
		log_teardown(c);
		return bench_err(CMK_E_INTERNAL, "log-append: O_APPEND: %s", strerror(err));
	}
	memset(s->line, 'x', sizeof s->line);
	s->line[sizeof s->line - 1] = '\n';
	return CMK_OK;
}

static cmk_rc append_line(log_state *s)
{
	cmk_rc rc = CMK_OK;
	pthread_mutex_lock(&s->sh->mu);
	if (s->sh->bytes >= TRUNC_AT) {
		if (ftruncate(s->fd, 0) == 0)
			s->sh->bytes = 0;
	}
	ssize_t w = write(s->fd, s->line, sizeof s->line);
	if (w == (ssize_t)sizeof s->line)
		s->sh->bytes += (size_t)w;
	else
		rc = bench_err(CMK_E_INTERNAL, "log-append: write: %s",
			       w < 0 ? strerror(errno) : "short write");
	pthread_mutex_unlock(&s->sh->mu);
	return rc;
}

static cmk_rc log_one(bench_case *c, void *t)
{
	return append_line(c->state);
}

static cmk_rc logged_thread_init(bench_case *c, unsigned idx, void **t)
{
	return bench_ossl_encrypt_init(c->env, t);
}

static void logged_thread_fini(bench_case *c, void *t)
{
	bench_ossl_encrypt_fini(t);
}

static cmk_rc logged_one(bench_case *c, void *t)
{
	BENCH_TRY(bench_ossl_encrypt_one(c->env, t));
	return append_line(c->state);
}

const bench_kind bench_kind_log_append = {
	.name = "log-append",
	.group = "limits",
	.cls = BENCH_CPU,
	.what = "write() of a 413-byte line by every thread, under one process-shared mutex, to "
		"a file beside the audit log: the kernel's part of an audit record",
	.modes = BENCH_VAULT, /* the audit log is a vault's */
	.setup = log_setup,
	.one = log_one,
	.teardown = log_teardown,
};

const bench_kind bench_kind_ossl_encrypt_logged = {
	.name = "ossl-encrypt-logged",
	.group = "limits",
	.cls = BENCH_CPU,
	.what = "ossl-encrypt, then log-append's write() of a line: plain OpenSSL that writes one "
		"record per operation",
	.modes = BENCH_VAULT,
	.setup = log_setup,
	.thread_init = logged_thread_init,
	.one = logged_one,
	.thread_fini = logged_thread_fini,
	.teardown = log_teardown,
};
