/* handle.h - key handles (cmk_key) inside the library. */
#ifndef CMK_CRYPTO_HANDLE_H
#define CMK_CRYPTO_HANDLE_H

#include "ctx.h"

/* A key handle for an id, from the context's cache of resolved handles;
 * close it with cmk_key_close. */
cmk_rc key_open_cached(cmk_ctx *ctx, const char *keyid, cmk_key **out);

#endif
