/* secmem.c - wiping, and locked non-dumpable buffers for secrets. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <openssl/crypto.h>
#include "util/err.h"

void cmk_wipe(void *p, size_t len)
{
	if (p && len)
		OPENSSL_cleanse(p, len);
}

static size_t page_round(size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	return (len + page - 1) / page * page;
}

/* Page-aligned so that mlock and MADV_DONTDUMP cover exactly this buffer.
 * Locking is best effort (RLIMIT_MEMLOCK may forbid it). */
void *cmk_secure_alloc(size_t len)
{
	size_t cap = page_round(len ? len : 1);
	void *p = NULL;
	if (posix_memalign(&p, (size_t)sysconf(_SC_PAGESIZE), cap) != 0)
		return NULL;
	memset(p, 0, cap);
	(void)mlock(p, cap);
#ifdef MADV_DONTDUMP
	(void)madvise(p, cap, MADV_DONTDUMP);
#endif
	return p;
}

void cmk_secure_free(void *p, size_t len)
{
	if (!p)
		return;
	size_t cap = page_round(len ? len : 1);
	OPENSSL_cleanse(p, cap);
	(void)munlock(p, cap);
#ifdef MADV_DODUMP
	(void)madvise(p, cap, MADV_DODUMP);
#endif
	free(p);
}
