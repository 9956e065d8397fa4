/* sigdefer.h - hold SIGINT, SIGTERM, SIGHUP and SIGQUIT back while a change
 * of the vault is in progress in the calling thread (docs/design.md,
 * "Interrupted changes").
 *
 * A change under the vault lock is a short sequence of token writes (for a
 * disable: destroy the working copies, then commit the metadata) followed by
 * its audit record.  A catchable signal that arrives in the middle is
 * delivered only when the sequence is over, with its usual effect, so
 * Ctrl-C and SIGTERM never leave a half-made change.  Calls nest; only the
 * outermost end restores the thread's signal mask.  The same holds when
 * the signal goes to another thread of the process: while the signal's
 * action is the default one (no handler of the application's), the
 * process dies of it only once no thread is inside a section
 * (sigdefer.c).  Other threads keep their signal masks. */
#ifndef CMK_SIGDEFER_H
#define CMK_SIGDEFER_H

void sig_defer_begin(void);
void sig_defer_end(void);

#endif
