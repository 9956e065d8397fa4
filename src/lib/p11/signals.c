/* signals.c - no signal interrupts a write to the token.
 *
 * SoftHSM 2.6 rewrites its files in place: token.object on C_Login,
 * C_InitToken, C_InitPIN and C_SetPIN, an object's file on C_CreateObject,
 * C_CopyObject, C_SetAttributeValue and key generation, and the generation
 * file on C_Initialize.  A process killed by SIGINT or SIGTERM in the middle
 * leaves the file empty, and an empty token.object loses the whole token.
 * So the calls that write the token are sections of util/sigdefer.h: SIGINT,
 * SIGTERM, SIGHUP and SIGQUIT are blocked in the calling thread, and a
 * process that gets one meanwhile, in any thread, dies of it only when no
 * thread is inside such a call.  SIGKILL cannot be held back: see
 * docs/design.md for what remains.
 */
#include "config.h"
#include "p11/p11_int.h"
#include "util/sigdefer.h"

void p11_sig_block(void)
{
	sig_defer_begin();
}

void p11_sig_restore(void)
{
	sig_defer_end();
}
