/* audit_int.h - what the files of the audit log share (docs/audit.md).
 *
 *   audit.c         records: the chain key, formatting, appending, failing
 *                   closed, lost records, rotation
 *   audit_shared.c  the chain's tail shared by every writer on the host
 *   audit_anchor.c  the anchor on the token (truncation, lost records)
 *   audit_verify.c  `cmk audit verify` over one or more segments
 */
#ifndef CMK_AUDIT_INT_H
#define CMK_AUDIT_INT_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>
#include "ctx.h"

#define AUDIT_ZERO_MAC "0000000000000000000000000000000000000000000000000000000000000000"
/* The chain key of an epoch: HMAC(audit key, AUDIT_EPOCH_LABEL || nonce),
 * computed on the token.  No record line starts like this. */
#define AUDIT_EPOCH_LABEL "cmk-audit-epoch-v1:"
#define AUDIT_EPOCH_HEX	  32 /* 16 random bytes */

/* ------------------------------------------------------- audit_shared.c */

/* The tail of the chain, in a small file next to the log (LOG.state),
 * mapped by every writer: a process-shared robust mutex orders the
 * appends of all threads and processes, and seq/mac say where the chain
 * ends, so an append costs no system call but its write(). */
typedef struct audit_shared {
	uint32_t magic, version;
	pthread_mutex_t mu;
	int valid; /* seq/mac describe the end of the log */
	uint64_t seq;
	char mac[65];
	uint64_t dev, ino;     /* the segment they belong to */
	uint64_t bytes;	       /* its size */
	int64_t started;       /* unix seconds: when it was started */
	int64_t anchor_ms;     /* unix ms: the last anchor update claimed */
	uint64_t anchored_seq; /* the seq it covered */
} audit_shared;

/* Map LOG.state (created when missing); NULL and an error if it cannot be. */
cmk_rc audit_shared_map(const char *log, audit_shared **out);
void audit_shared_unmap(audit_shared *s);
/* Lock; *dead is set when the last holder died holding it (the tail must
 * be read again from the file). */
int audit_shared_lock(audit_shared *s, int *dead);
void audit_shared_unlock(audit_shared *s);

/* ------------------------------------------------------- audit_anchor.c */

typedef struct audit_anchor {
	uint64_t seq;
	char mac[65];  /* "" when there is no anchor */
	uint64_t lost; /* records that could not be written */
} audit_anchor;

/* The newest anchor on the token (seq 0, mac "" when none). */
cmk_rc audit_anchor_read(cmk_ctx *ctx, audit_anchor *out);
/* Write a new anchor covering seq/mac and `lost_more` further lost
 * records, then destroy the ones it supersedes; under the vault lock
 * (blocking: wait for it; else give up when it is busy). */
cmk_rc audit_anchor_write(cmk_ctx *ctx, uint64_t seq, const char *mac, uint64_t lost_more,
			  int blocking);

/* --------------------------------------------------------------- audit.c */

/* The path of the vault's log: the configuration's audit_log, else the one
 * recorded in the vault's settings, else <config dir>/<vault>.audit.log. */
const char *audit_path(cmk_ctx *ctx);
/* MAC of one record line with the chain key of `epoch` (NULL: the token's
 * audit key itself, records written before epochs). */
cmk_rc audit_epoch_key(cmk_ctx *ctx, const char *epoch, uint8_t key[32]);
/* Seq and mac of the last complete line of fd (size bytes); *partial is
 * set to the length of the last line's start when the file does not end
 * with a newline.  Returns 0 when the last line is not a record. */
int audit_read_tail(int fd, off_t size, uint64_t *seq, char mac[65], off_t *partial);

#endif
