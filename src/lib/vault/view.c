/* view.c - see view.h. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include "vault/view.h"
#include "vault/lock.h"
#include "vault/check.h"
#include "util/err.h"

/* The lock file holds one line: the change counter, then 'p' while a
 * change is in progress (set by each blocking lock holder, cleared when
 * it releases) or 'c'.  A line without the mark (older cmk) is clean. */
static uint64_t read_lock(int fd, int *pending)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	*pending = 0;
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *end;
	uint64_t seq = strtoull(buf, &end, 10);
	*pending = end[0] == ' ' && end[1] == 'p';
	return seq;
}

static int write_lock(int fd, uint64_t seq, int pending)
{
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%020llu %c\n", (unsigned long long)seq,
			 pending ? 'p' : 'c');
	return pwrite(fd, buf, (size_t)n, 0) == n;
}

cmk_rc vault_view_refresh(cmk_ctx *ctx)
{
	unsigned long w = p11_writes();
	if (w == atomic_load(&ctx->view_writes))
		return CMK_OK;
	/* Never in the middle of another thread's change of this context: the
	 * re-initialisation would make the handles it found refused, and the
	 * change fail half-way (tests/reinit-race.sh); the change's end makes
	 * the view whole anyway (vault_lock_releasing). */
	int mine = vault_write_held(ctx);
	if (!mine)
		pthread_mutex_lock(&ctx->write_lock);
	cmk_rc rc = CMK_OK;
	if (p11_writes() != atomic_load(&ctx->view_writes)) {
		rc = p11_tok_recover(ctx->tok, p11_tok_gen(ctx->tok));
		if (rc == CMK_OK)
			atomic_store(&ctx->view_writes, p11_writes());
	}
	if (!mine)
		pthread_mutex_unlock(&ctx->write_lock);
	return rc;
}

cmk_rc vault_lock_taken(cmk_ctx *ctx, int change)
{
	int pending;
	uint64_t seq = read_lock(ctx->lock_fd, &pending);
	if (seq != ctx->view_seq || !ctx->view_seq_known)
		CMK_TRY(vault_view_refresh(ctx));
	ctx->view_seq = seq;
	ctx->view_seq_known = 1;
	ctx->lock_writes = p11_writes();
	ctx->heal_failed = 0;
	if (!change)
		return CMK_OK;
	if (pending) {
		/* the last holder died inside its change (SIGKILL, a crash):
		 * finish or undo what it left before changing anything */
		size_t fixed = 0;
		cmk_rc rc = vault_heal(ctx, &fixed);
		if (rc != CMK_OK) {
			ctx->heal_failed = 1; /* the mark stays for the next holder */
			cmk_err_clear();
		}
	}
	if (!write_lock(ctx->lock_fd, seq, 1))
		ctx->view_seq_known = 0;
	ctx->lock_marked = 1;
	return CMK_OK;
}

void vault_lock_releasing(cmk_ctx *ctx)
{
	unsigned long w = p11_writes();
	ctx->lock_marked = 0;
	int pending;
	uint64_t seq = read_lock(ctx->lock_fd, &pending);
	if (w != ctx->lock_writes)
		seq++;
	if (write_lock(ctx->lock_fd, seq, ctx->heal_failed))
		ctx->view_seq = seq;
	else
		ctx->view_seq_known = 0;
	/* every object of the vault's keys is made under the lock: this
	 * process has seen them all */
	atomic_store(&ctx->view_writes, w);
}

vault_read_hold vault_read_begin(cmk_ctx *ctx)
{
	vault_read_hold h = { -1, 0 };
	/* the calling thread's own change: no other can run meanwhile */
	if (vault_write_held(ctx))
		return h;
	/* the process's writer lock first, as a change takes it: fork()
	 * waits for it (ctx.c, fork_prepare), so no child inherits the
	 * flock below held */
	pthread_mutex_lock(&ctx->write_lock);
	h.mutex = 1;
	int fd = open(ctx->conf.lock_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return h; /* no change was ever made on this host */
	while (flock(fd, LOCK_SH) != 0) {
		if (errno != EINTR) {
			close(fd);
			return h;
		}
	}
	h.fd = fd;
	return h;
}

void vault_read_end(cmk_ctx *ctx, vault_read_hold h)
{
	if (h.fd >= 0) {
		flock(h.fd, LOCK_UN);
		close(h.fd);
	}
	if (h.mutex)
		pthread_mutex_unlock(&ctx->write_lock);
}
