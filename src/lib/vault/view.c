/* view.c - see view.h. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include "vault/view.h"
#include "util/err.h"

static uint64_t read_seq(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtoull(buf, NULL, 10);
}

cmk_rc vault_view_refresh(cmk_ctx *ctx)
{
	unsigned long w = p11_writes();
	if (w == atomic_load(&ctx->view_writes))
		return CMK_OK;
	CMK_TRY(p11_tok_recover(ctx->tok, p11_tok_gen(ctx->tok)));
	atomic_store(&ctx->view_writes, p11_writes());
	return CMK_OK;
}

cmk_rc vault_lock_taken(cmk_ctx *ctx)
{
	uint64_t seq = read_seq(ctx->lock_fd);
	if (seq != ctx->view_seq || !ctx->view_seq_known)
		CMK_TRY(vault_view_refresh(ctx));
	ctx->view_seq = seq;
	ctx->view_seq_known = 1;
	ctx->lock_writes = p11_writes();
	return CMK_OK;
}

void vault_lock_releasing(cmk_ctx *ctx)
{
	unsigned long w = p11_writes();
	if (w != ctx->lock_writes) {
		uint64_t seq = read_seq(ctx->lock_fd) + 1;
		char buf[32];
		int n = snprintf(buf, sizeof buf, "%020llu\n", (unsigned long long)seq);
		if (pwrite(ctx->lock_fd, buf, (size_t)n, 0) == n)
			ctx->view_seq = seq;
		else
			ctx->view_seq_known = 0;
	}
	/* every object of the vault's keys is made under the lock: this
	 * process has seen them all */
	atomic_store(&ctx->view_writes, w);
}

void vault_wait_writer(cmk_ctx *ctx)
{
	int fd = open(ctx->conf.lock_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	/* bounded: a thread of this process may hold the lock itself */
	for (int i = 0; i < 500; i++) {
		if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
			flock(fd, LOCK_UN);
			break;
		}
		if (errno != EWOULDBLOCK && errno != EINTR)
			break;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	close(fd);
}
