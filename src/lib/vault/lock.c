/* lock.c - the vault lock (lock.h). */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include "vault/lock.h"
#include "vault/view.h"
#include "util/err.h"
#include "util/sigdefer.h"

/* The lock file sits next to the configuration unless lock_file says
 * otherwise; every process changing the vault on this host takes it. */
static cmk_rc write_take(cmk_ctx *ctx, int blocking, int change, int *got);

cmk_rc vault_write_begin(cmk_ctx *ctx)
{
	int got;
	return write_take(ctx, 1, 1, &got);
}

cmk_rc vault_write_try(cmk_ctx *ctx, int blocking, int *got)
{
	return write_take(ctx, blocking, 0, got);
}

/* change: a change of the vault follows (vault_write_begin), not the audit
 * anchor's bookkeeping */
static cmk_rc write_take(cmk_ctx *ctx, int blocking, int change, int *got)
{
	*got = 0;
	if (!blocking) {
		if (pthread_mutex_trylock(&ctx->write_lock) != 0)
			return CMK_OK;
	} else {
		pthread_mutex_lock(&ctx->write_lock);
	}
	if (ctx->lock_fd < 0) {
		ctx->lock_fd = open(ctx->conf.lock_file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (ctx->lock_fd < 0) {
			pthread_mutex_unlock(&ctx->write_lock);
			return cmk_err(CMK_E_IO, "%s: lock file %s: %s", CTX_WHAT(ctx),
				       ctx->conf.lock_file, strerror(errno));
		}
	}
	while (flock(ctx->lock_fd, blocking ? LOCK_EX : LOCK_EX | LOCK_NB) != 0) {
		if (!blocking && errno == EWOULDBLOCK) {
			pthread_mutex_unlock(&ctx->write_lock);
			return CMK_OK;
		}
		if (errno != EINTR) {
			pthread_mutex_unlock(&ctx->write_lock);
			return cmk_err(CMK_E_IO, "%s: cannot lock %s: %s", CTX_WHAT(ctx),
				       ctx->conf.lock_file, strerror(errno));
		}
	}
	*got = 1;
	/* no catchable signal stops a change half-way (util/sigdefer.h) */
	sig_defer_begin();
	ctx->write_owner = pthread_self();
	atomic_store(&ctx->write_held, 1);
	/* a change starts from a complete view of the token (vault/view.h); a
	 * non-blocking take is the audit anchor's, which reads no key objects
	 * and must not re-initialise the module under an unwrap */
	if (blocking) {
		cmk_rc rc = vault_lock_taken(ctx, change);
		if (rc != CMK_OK) {
			*got = 0;
			vault_write_release(ctx);
		}
		return rc;
	}
	return CMK_OK;
}

int vault_write_held(cmk_ctx *ctx)
{
	return atomic_load(&ctx->write_held) && pthread_equal(ctx->write_owner, pthread_self());
}

void vault_write_release(cmk_ctx *ctx)
{
	if (ctx->lock_marked) /* a blocking take released without vault_write_end */
		vault_lock_releasing(ctx);
	atomic_store(&ctx->write_held, 0);
	flock(ctx->lock_fd, LOCK_UN);
	pthread_mutex_unlock(&ctx->write_lock);
	sig_defer_end();
}

void vault_write_end(cmk_ctx *ctx)
{
	atomic_fetch_add(&ctx->changes, 1);
	vault_lock_releasing(ctx);
	vault_write_release(ctx);
}
