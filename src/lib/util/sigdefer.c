/* sigdefer.c - see sigdefer.h. */
#include "config.h"
#include <pthread.h>
#include <signal.h>
#include "util/sigdefer.h"

static __thread unsigned depth;
static __thread sigset_t saved;

void sig_defer_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
}

void sig_defer_begin(void)
{
	if (depth++ > 0)
		return;
	sigset_t set;
	sig_defer_set(&set);
	pthread_sigmask(SIG_BLOCK, &set, &saved);
}

void sig_defer_end(void)
{
	if (depth == 0 || --depth > 0)
		return;
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
}
