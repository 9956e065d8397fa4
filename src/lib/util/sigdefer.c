/* sigdefer.c - see sigdefer.h.
 *
 * Blocking the signals in the thread that writes is not enough in a
 * process of several threads: the kernel gives a signal sent to the
 * process to any thread that does not block it, and the default action of
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT ends the whole process, the writing
 * thread with it.  So, for each of those signals whose action is still the
 * default when the first section starts, a handler of ours takes its
 * place, and one word of state says how many threads are inside a section
 * and whether the process is to die:
 *
 *   - the handler, with no thread inside a section, marks the process
 *     KILLING and dies of the signal (default action, raised again); with
 *     threads inside, it marks the process DYING and returns;
 *   - the last thread to leave a section of a DYING process marks it
 *     KILLING and dies of the signal;
 *   - a thread that would enter a section of a KILLING process waits for
 *     the end instead, which is immediate (KILLING is set only with no
 *     thread inside and is followed by the kill, with no lock taken).
 *
 * Every change of the word is one compare-and-swap, so the handler and the
 * threads agree on who kills.  A handler the application set itself is
 * left alone: it decides what a signal does (docs/design.md, "Signals and
 * token writes"). */
#include "config.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include "util/sigdefer.h"

static __thread unsigned depth;
static __thread sigset_t saved;

#define KILLING ((uint64_t)1 << 63)
#define DYING	((uint64_t)1 << 62)
#define COUNT	(DYING - 1)

static _Atomic uint64_t state; /* threads inside a section | DYING | KILLING */
static _Atomic int dying_sig;  /* the first signal that asked to die */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

/* The signals held back. */
static void sig_defer_set(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
		sigaddset(set, sigs[i]);
}

/* Die of sig by its default action, now (async-signal-safe). */
static void die(int sig)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
	raise(sig);
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, sig);
	pthread_sigmask(SIG_UNBLOCK, &one, NULL);
	_exit(128 + sig); /* not reached */
}

static void on_signal(int sig)
{
	int expected = 0;
	atomic_compare_exchange_strong(&dying_sig, &expected, sig);
	uint64_t s = atomic_load(&state);
	for (;;) {
		if (s & KILLING)
			return; /* another thread is killing the process */
		uint64_t next = (s & COUNT) ? s | DYING : s | KILLING;
		if (atomic_compare_exchange_weak(&state, &s, next))
			break;
	}
	if (!(s & COUNT))
		die(atomic_load(&dying_sig));
}

/* The child of fork() has only the thread that forked: nothing inside a
 * section but its own, and no signal of the parent's to die of. */
static void child_reset(void)
{
	atomic_store(&state, depth ? 1 : 0);
	atomic_store(&dying_sig, 0);
}

static void install(void)
{
	pthread_atfork(NULL, NULL, child_reset);
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sig_defer_set(&sa.sa_mask);
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
		if (sigaction(sigs[i], NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) &&
		    old.sa_handler == SIG_DFL)
			sigaction(sigs[i], &sa, NULL);
}

static void enter(void)
{
	uint64_t s = atomic_load(&state);
	for (;;) {
		while (s & KILLING) { /* the process dies now */
			pause();
			s = atomic_load(&state);
		}
		if (atomic_compare_exchange_weak(&state, &s, s + 1))
			return;
	}
}

static void leave(void)
{
	uint64_t s = atomic_load(&state), next;
	for (;;) {
		next = s - 1;
		if (!(next & COUNT) && (next & DYING))
			next |= KILLING;
		if (atomic_compare_exchange_weak(&state, &s, next))
			break;
	}
	if (next & KILLING)
		die(atomic_load(&dying_sig));
}

void sig_defer_begin(void)
{
	if (depth++ > 0)
		return;
	pthread_once(&once, install);
	sigset_t set;
	sig_defer_set(&set);
	pthread_sigmask(SIG_BLOCK, &set, &saved);
	enter();
}

void sig_defer_end(void)
{
	if (depth == 0 || --depth > 0)
		return;
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	leave();
}
