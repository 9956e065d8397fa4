/* fork.c - fork() while other threads are inside PKCS#11 calls.
 *
 * A child of a multi-threaded process has only the thread that forked; any
 * lock another thread held at that instant stays locked for ever in the
 * child.  A module's own locks (SoftHSM's mutexes) are among them when a
 * thread was inside a call, and PKCS#11 says nothing of the child's state
 * until it calls C_Initialize again (v3.0 section 5.4).  So, as p11-kit and
 * pkcs11-provider do, fork() is quiesced with pthread_atfork:
 *
 *   prepare  takes the modules lock (no load or unload in progress), the
 *            locks the tokens' owners hold across calls (their fork hooks:
 *            the vault's writer and audit locks, taken while the gates are
 *            still open so their holders can finish), then closes every
 *            module's gate and waits until no call is in flight, then takes
 *            each token's lock;
 *   parent   releases all of it in reverse order;
 *   child    bumps the fork generation and starts every gate and lock
 *            afresh; each token re-initialises its module and logs in
 *            again on first use (p11_tok_check_fork), so a child that
 *            execs or never touches the vault pays nothing.
 *
 * The fork generation replaces getpid() checks: it changes exactly when a
 * child starts, and costs one atomic load.
 */
#include "config.h"
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include "p11/p11_int.h"

static atomic_uint fork_gen;
static pthread_once_t once = PTHREAD_ONCE_INIT;

unsigned p11_fork_gen(void)
{
	return atomic_load_explicit(&fork_gen, memory_order_acquire);
}

#define EACH_MOD(m)    for (p11_mod *m = p11_mod_next(NULL); m; m = p11_mod_next(m))
#define EACH_TOK(m, t) for (p11_tok *t = *p11_mod_toks(m); t; t = t->mod_next)

static void prepare(void)
{
	p11_modules_lock();
	EACH_MOD(m)
	EACH_TOK(m, t)
	if (t->hooks.prepare)
		t->hooks.prepare(t->hooks.arg);
	EACH_MOD(m)
	{
		p11_mod_exclusive_begin(m);
		EACH_TOK(m, t)
		pthread_mutex_lock(&t->lock);
	}
}

static void parent(void)
{
	EACH_MOD(m)
	{
		EACH_TOK(m, t)
		pthread_mutex_unlock(&t->lock);
		p11_mod_exclusive_end(m);
	}
	EACH_MOD(m)
	EACH_TOK(m, t)
	if (t->hooks.parent)
		t->hooks.parent(t->hooks.arg);
	p11_modules_unlock();
}

static void child(void)
{
	atomic_fetch_add_explicit(&fork_gen, 1, memory_order_release);
	EACH_MOD(m)
	{
		p11_mod_fork_child(m);
		EACH_TOK(m, t)
		pthread_mutex_init(&t->lock, NULL);
	}
	EACH_MOD(m)
	EACH_TOK(m, t)
	if (t->hooks.child)
		t->hooks.child(t->hooks.arg);
	p11_modules_unlock();
}

static void register_once(void)
{
	pthread_atfork(prepare, parent, child);
}

void p11_fork_register(void)
{
	pthread_once(&once, register_once);
}

void p11_tok_fork_hooks(p11_tok *t, const p11_fork_hooks *h)
{
	p11_modules_lock();
	if (h)
		t->hooks = *h;
	else
		memset(&t->hooks, 0, sizeof t->hooks);
	p11_modules_unlock();
}
