/* keys.h - a key's state as read from the token, and the rules on it. */
#ifndef CMK_KEYS_H
#define CMK_KEYS_H

#include "ctx.h"
#include "vault/meta.h"

typedef struct key_state {
	char name[CMK_NAME_MAX];
	meta_keystate ks; /* ks.gen == 0: no state record (live, enabled) */
	meta_version *v;  /* newest generation of each version, by seq */
	size_t nv;
	CK_OBJECT_HANDLE *stale; /* superseded records left by an interrupted change */
	size_t nstale;
} key_state;

/* Read every record of key `name`.  CMK_E_NOT_FOUND when it has none. */
cmk_rc keys_load(cmk_ctx *ctx, const char *name, key_state *st);
/* The same from the key's records already read (their CKA_APPLICATION is
 * the key's): key list reads every record once for all keys. */
cmk_rc keys_load_from(cmk_ctx *ctx, const char *name, const p11_data *d, size_t n, key_state *st);
void key_state_free(key_state *st);
/* Live key (not deleted): NOT_FOUND / DELETED errors otherwise. */
cmk_rc keys_load_live(cmk_ctx *ctx, const char *name, key_state *st);

meta_version *keys_find_version(key_state *st, const char *ver);
/* The version the token should let decrypt/sign. */
int keys_version_usable(const key_state *st, const meta_version *v);
/* Newest usable version whose dates admit `now` (seconds); NULL if none. */
meta_version *keys_current(key_state *st, int64_t now);
p11_rsa_flags keys_token_flags(const key_state *st, const meta_version *v);

void keys_fill_version_info(cmk_ctx *ctx, key_state *st, meta_version *v, cmk_version_info *out);

/* Apply a change: `ks` (new key state) or `v` (new record of one
 * version; nothing else changes).  Under the vault lock, on a state read
 * after taking it.  Destroys working copies that allow too much before the
 * commit, makes the allowed ones after, then destroys superseded records
 * (docs/design.md). */
cmk_rc keys_commit(cmk_ctx *ctx, key_state *st, const meta_keystate *ks, const meta_version *v);

/* What keys_settle*() did. */
typedef struct keys_settled {
	size_t made_archive, made_working, destroyed;
} keys_settled;
/* Under the vault lock: bring one version's copies to exactly usages f
 * (archive made if missing, incomplete and surplus copies destroyed while
 * a complete archive is there, the working copy made). */
cmk_rc keys_settle_version(cmk_ctx *ctx, const meta_version *v, p11_rsa_flags f, keys_settled *out);
/* The same for every version of a key, from its metadata. */
cmk_rc keys_settle(cmk_ctx *ctx, key_state *st, keys_settled *out);
/* A version's copies as found, against usages f (read only). */
typedef struct keys_exam {
	size_t archives;   /* complete archive copies (want 1) */
	size_t working;	   /* complete working copies */
	size_t exact;	   /* ... with exactly f (want 1 if f allows anything) */
	size_t looser;	   /* ... allowing more than f */
	size_t incomplete; /* half-written copies */
} keys_exam;
cmk_rc keys_examine_version(cmk_ctx *ctx, const meta_version *v, p11_rsa_flags f, keys_exam *out);

/* listing.c, lifecycle.c: no permission check, no audit */
cmk_rc keys_list_all(cmk_ctx *ctx, int deleted, cmk_key_info **keys, size_t *n);
cmk_rc keys_finish_purges(cmk_ctx *ctx, size_t *count);
/* Destroy every object of key `name` (its purge is committed). */
cmk_rc keys_purge_objects(cmk_ctx *ctx, const char *name);

/* names.c */
int names_key_valid(const char *name);
int names_version_valid(const char *v);
void names_unhex(const char *hex, uint8_t *out, size_t n);
void names_kid(const char *vault, const char *name, const char *ver, char out[CMK_KID_MAX]);
cmk_rc names_resolve(const cmk_ctx *ctx, const char *id, char name[CMK_NAME_MAX],
		     char version[CMK_VERSION_LEN + 1]);

#endif
