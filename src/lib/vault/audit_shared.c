/* audit_shared.c - the tail of the audit chain, shared by every writer.
 *
 * LOG.state holds a process-shared robust mutex and where the chain ends
 * (seq and mac of the last record, the segment's inode and size).  Every
 * thread of every process on the host appends under that mutex, so the
 * chain is one sequence; the state is updated after each write(), and a
 * writer that dies holding the mutex (kill -9 at any instant) makes the
 * next one read the tail from the file again (EOWNERDEAD).  Creation is
 * serialised by an flock of the state file, taken only then. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "vault/audit_int.h"
#include "util/err.h"

#define SHARED_MAGIC   0x41434d4bu /* "KMCA" */
#define SHARED_VERSION 1u

static size_t map_len(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	return (sizeof(audit_shared) + page - 1) / page * page;
}

static int init_mutex(pthread_mutex_t *mu)
{
	pthread_mutexattr_t at;
	if (pthread_mutexattr_init(&at) != 0)
		return 0;
	int ok = pthread_mutexattr_setpshared(&at, PTHREAD_PROCESS_SHARED) == 0 &&
		 pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST) == 0 &&
		 pthread_mutex_init(mu, &at) == 0;
	pthread_mutexattr_destroy(&at);
	return ok;
}

cmk_rc audit_shared_map(const char *log, audit_shared **out)
{
	char path[1100];
	*out = NULL;
	if (snprintf(path, sizeof path, "%s.state", log) >= (int)sizeof path)
		return cmk_err(CMK_E_AUDIT, "audit log %s: path too long", log);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return cmk_err(CMK_E_AUDIT, "audit log %s: its state file %s cannot be opened: %s",
			       log, path, strerror(errno));
	while (flock(fd, LOCK_EX) != 0)
		if (errno != EINTR) {
			cmk_rc rc = cmk_err(CMK_E_AUDIT, "audit log %s: cannot lock %s: %s", log,
					    path, strerror(errno));
			close(fd);
			return rc;
		}
	size_t len = map_len();
	struct stat st;
	audit_shared *s = MAP_FAILED;
	cmk_rc rc = CMK_OK;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		rc = cmk_err(CMK_E_AUDIT, "audit log %s: %s is not a regular file", log, path);
	else if ((size_t)st.st_size < len && ftruncate(fd, (off_t)len) != 0)
		rc = cmk_err(CMK_E_AUDIT, "audit log %s: cannot size %s: %s", log, path,
			     strerror(errno));
	else if ((s = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED)
		rc = cmk_err(CMK_E_AUDIT, "audit log %s: cannot map %s: %s", log, path,
			     strerror(errno));
	if (rc == CMK_OK && (s->magic != SHARED_MAGIC || s->version != SHARED_VERSION)) {
		/* new, or its creator died before finishing: nobody uses it yet */
		memset(s, 0, sizeof *s);
		if (!init_mutex(&s->mu))
			rc = cmk_err(CMK_E_AUDIT, "audit log %s: cannot make the lock in %s", log,
				     path);
		else {
			__atomic_store_n(&s->version, SHARED_VERSION, __ATOMIC_RELEASE);
			__atomic_store_n(&s->magic, SHARED_MAGIC, __ATOMIC_RELEASE);
		}
	}
	flock(fd, LOCK_UN);
	close(fd);
	if (rc != CMK_OK) {
		if (s != MAP_FAILED)
			munmap(s, len);
		return rc;
	}
	*out = s;
	return CMK_OK;
}

void audit_shared_unmap(audit_shared *s)
{
	if (s)
		munmap(s, map_len());
}

/* A short spin first: the holder writes one line and lets go. */
int audit_shared_lock(audit_shared *s, int *dead)
{
	int r = EBUSY;
	*dead = 0;
	for (int i = 0; i < 200 && r == EBUSY; i++) {
		r = pthread_mutex_trylock(&s->mu);
		if (r == EBUSY)
			__asm__ __volatile__("" ::: "memory");
	}
	if (r == EBUSY)
		r = pthread_mutex_lock(&s->mu);
	if (r == EOWNERDEAD) {
		*dead = 1;
		s->valid = 0;
		pthread_mutex_consistent(&s->mu);
		r = 0;
	}
	return r;
}

void audit_shared_unlock(audit_shared *s)
{
	pthread_mutex_unlock(&s->mu);
}
