/* signals.c - no signal interrupts a write to the token.
 *
 * SoftHSM 2.6 rewrites its files in place: token.object on C_Login,
 * C_InitToken, C_InitPIN and C_SetPIN, an object's file on C_CreateObject,
 * C_CopyObject, C_SetAttributeValue and key generation, and the generation
 * file on C_Initialize.  A process killed by SIGINT or SIGTERM in the middle
 * leaves the file empty, and an empty token.object loses the whole token.
 * So the calls that write the token run with SIGINT, SIGTERM, SIGHUP and
 * SIGQUIT blocked in the calling thread (pthread_sigmask: other threads are
 * not affected); a signal that arrives meanwhile stays pending and is
 * delivered as soon as the call returns, with its usual effect.  SIGKILL
 * cannot be blocked: see docs/design.md for what remains.
 */
#include "config.h"
#include <pthread.h>
#include <signal.h>
#include "p11/p11_int.h"
#include "util/sigdefer.h"

void p11_sig_block(sigset_t *old)
{
	sigset_t set;
	sig_defer_set(&set);
	pthread_sigmask(SIG_BLOCK, &set, old);
}

void p11_sig_restore(const sigset_t *old)
{
	pthread_sigmask(SIG_SETMASK, old, NULL);
}
