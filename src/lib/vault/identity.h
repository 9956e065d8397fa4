/* identity.h - identities as vault objects (docs/identities.md). */
#ifndef CMK_IDENTITY_H
#define CMK_IDENTITY_H

#include "ctx.h"

#define META_APP_IDENTITY "cmk/identity"

/* Every identity record (newest generation of each), and the handles of
 * superseded ones.  cmk_free *out. */
cmk_rc identity_read(cmk_ctx *ctx, cmk_identity_info **out, size_t *n, CK_OBJECT_HANDLE **stale,
		     size_t *nstale);
/* Write the record of `in` (next generation), then destroy older ones.
 * Caller holds the write lock. */
cmk_rc identity_write(cmk_ctx *ctx, const cmk_identity_info *in);
/* The resource code: the system-assigned identity of a new resource. */
cmk_rc identity_create_system(cmk_ctx *ctx, const char *name, const char *resource);
/* Resource purge: its system-assigned identity's records and policy are
 * destroyed (nothing of a purged resource stays on the token). */
cmk_rc identity_erase_system(cmk_ctx *ctx, const char *name, const char *resource);
cmk_rc identity_name_check(const char *name);

#endif
