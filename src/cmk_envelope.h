/*
 * cmk_envelope.h - envelope encryption, the data-key cache and resources.
 * Included by cmk.h; the conventions there apply (rc, *len, cmk_free).
 *
 * An envelope (docs/envelope-format.md) is a header naming the key(s) that
 * wrap a fresh data key (DEK) and the caller's context, then the data in
 * AES-256-GCM frames.  Sealing and opening stream in bounded memory.
 */
#ifndef CMK_ENVELOPE_H
#define CMK_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Everything declared here is libcmk's exported API: libcmk is built with
 * -fvisibility=hidden, and src/lib/libcmk.map versions what this exports
 * (tests/exports.sh checks the two agree). */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

#define CMK_ENVELOPE_VERSION	       1
#define CMK_ENVELOPE_FRAME_DEFAULT     65536u
#define CMK_ENVELOPE_FRAME_MIN	       1024u
#define CMK_ENVELOPE_FRAME_MAX	       (1024u * 1024u)
#define CMK_ENVELOPE_MAX_KEYS	       16  /* wrapped DEKs in one header */
#define CMK_ENVELOPE_MAX_CONTEXT       64  /* context pairs */
#define CMK_ENVELOPE_CONTEXT_KEY_MAX   255 /* bytes of a context key */
#define CMK_ENVELOPE_CONTEXT_VALUE_MAX 4096
#define CMK_ENVELOPE_HEADER_MAX	       65536 /* whole header, bytes */
#define CMK_ENVELOPE_PREFIX_LEN	       12    /* bytes that give the header length */

/* A context pair: key is 1-255 printable ASCII bytes without '=' or space;
 * value is any text without NUL.  Order does not matter; keys are unique. */
typedef struct cmk_kv {
	const char *key;
	const char *value;
} cmk_kv;

typedef struct cmk_dekcache cmk_dekcache;

typedef struct cmk_seal_params {
	const char *const *keyids; /* one or more vault keys, each wraps the DEK */
	size_t nkeys;
	cmk_alg alg;	       /* 0: CMK_ALG_RSA_OAEP_256 */
	const cmk_kv *context; /* authenticated, not secret */
	size_t ncontext;
	unsigned frame_size; /* 0: 64 KiB; power of two, 1 KiB - 1 MiB */
	const char *propq;   /* OpenSSL property query, NULL: default */
} cmk_seal_params;

typedef struct cmk_unseal_params {
	const cmk_kv *context; /* must equal the sealed context exactly */
	size_t ncontext;
	const char *propq;
	cmk_dekcache *cache; /* NULL: unwrap on the token every time */
} cmk_unseal_params;

/* ------------------------------------------------------------ streaming */

typedef struct cmk_sealer cmk_sealer;
typedef struct cmk_unsealer cmk_unsealer;

/*
 * Seal: init makes and wraps the DEK; update and final write the header
 * (first call only) and whole frames to out.  out must hold
 * cmk_seal_out_max(s, inlen) bytes (*outlen: in, its size; out, bytes
 * written).  Full frames are encrypted straight from `in` into `out`.
 */
cmk_rc cmk_seal_init(cmk_ctx *ctx, const cmk_seal_params *p, cmk_sealer **s);
size_t cmk_seal_out_max(const cmk_sealer *s, size_t inlen);
cmk_rc cmk_seal_update(cmk_sealer *s, const uint8_t *in, size_t inlen, uint8_t *out,
		       size_t *outlen);
cmk_rc cmk_seal_final(cmk_sealer *s, uint8_t *out, size_t *outlen);
/* The versioned ids that wrapped the DEK, in header order. */
const char *cmk_seal_kid(const cmk_sealer *s, size_t i);
void cmk_seal_free(cmk_sealer *s);

/*
 * Open: feed the envelope to update in pieces of any size.  The header is
 * checked (and the DEK unwrapped) as soon as it is complete; each frame's
 * plaintext is written to out once that frame has authenticated.  The
 * message as a whole is authentic only when cmk_unseal_final returns
 * CMK_OK (it detects truncation): callers must not commit earlier output
 * before that.  out must hold cmk_unseal_out_max(u, inlen) bytes.
 */
cmk_rc cmk_unseal_init(cmk_ctx *ctx, const cmk_unseal_params *p, cmk_unsealer **u);
size_t cmk_unseal_out_max(const cmk_unsealer *u, size_t inlen);
cmk_rc cmk_unseal_update(cmk_unsealer *u, const uint8_t *in, size_t inlen, uint8_t *out,
			 size_t *outlen);
CMK_MUST_CHECK cmk_rc cmk_unseal_final(cmk_unsealer *u);
/* After the header: the versioned id that unwrapped the DEK, the context. */
const char *cmk_unseal_kid(const cmk_unsealer *u);
size_t cmk_unseal_context(const cmk_unsealer *u, const cmk_kv **kv);
void cmk_unseal_free(cmk_unsealer *u);

/* ------------------------------------------------------------- one-shot */

/* Whole buffers; *out is malloc memory: cmk_free it (after cmk_wipe for
 * plaintext).  On failure *out is NULL: no partial plaintext is returned. */
cmk_rc cmk_seal(cmk_ctx *ctx, const cmk_seal_params *p, const uint8_t *in, size_t inlen,
		uint8_t **out, size_t *outlen);
cmk_rc cmk_unseal(cmk_ctx *ctx, const cmk_unseal_params *p, const uint8_t *in, size_t inlen,
		  uint8_t **out, size_t *outlen);

/* ------------------------------------------------------ header inspection */

/*
 * From the first CMK_ENVELOPE_PREFIX_LEN bytes: the header's length (so a
 * reader can fetch the whole header before choosing a vault).
 */
cmk_rc cmk_envelope_header_len(const uint8_t *buf, size_t len, size_t *hlen);
/* The versioned ids of a complete header's wrapped DEKs (cmk_strv_free). */
cmk_rc cmk_envelope_kids(const uint8_t *hdr, size_t len, char ***kids, size_t *n);

/* ------------------------------------------------------- data-key cache */

/*
 * Unwrapped data keys (and resource root keys) kept in locked memory for at
 * most ttl_ms and max_uses uses, then wiped.  Everything is wiped at once
 * when the context reports a change it made (key disabled, deleted,
 * policy changed...), on cmk_dekcache_flush and on free.  One cache
 * belongs to one context; it may be shared by threads.
 */
typedef struct cmk_dekcache_params {
	unsigned ttl_ms;      /* 0: 60000 */
	unsigned max_uses;    /* 0: unlimited within ttl */
	unsigned max_entries; /* 0: 1024 */
} cmk_dekcache_params;

cmk_rc cmk_dekcache_new(cmk_ctx *ctx, const cmk_dekcache_params *p, cmk_dekcache **c);
void cmk_dekcache_flush(cmk_dekcache *c);
void cmk_dekcache_free(cmk_dekcache *c);
/* Counters for tests and monitoring. */
typedef struct cmk_dekcache_stats {
	uint64_t hits, misses, expired, flushed;
	size_t entries;
} cmk_dekcache_stats;
void cmk_dekcache_stats_get(cmk_dekcache *c, cmk_dekcache_stats *st);

/* ------------------------------------------------------------- resources */

/*
 * A resource (docs/resources.md) is a directory of encrypted objects.
 * Object DEKs are wrapped by the resource's root key; the root key is
 * wrapped by a service-managed vault key "svc-NAME" and, when the owner
 * sets one, under that by a customer-managed key (double encryption).
 */
typedef struct cmk_resource cmk_resource;

#define CMK_RESOURCE_NAME_MAX 120  /* 1-119 of [A-Za-z0-9-] */
#define CMK_OBJECT_NAME_MAX   1024 /* bytes, no NUL */

typedef struct cmk_resource_params {
	const char *dir;     /* parent directory of resources; NULL:
	                               $CMK_RESOURCE_DIR, else
	                               $XDG_DATA_HOME/cmk/resources */
	const char *config;  /* for opening a CMK in another vault */
	cmk_dekcache *cache; /* root-key cache; NULL: unwrap per call */
	const char *propq;
} cmk_resource_params;

typedef struct cmk_resource_info {
	char name[CMK_RESOURCE_NAME_MAX];
	char path[4096];
	char vault[64];
	char service_kid[CMK_KID_MAX];	/* versioned */
	char customer_key[CMK_KID_MAX]; /* as set (maybe versionless), "" */
	char customer_kid[CMK_KID_MAX]; /* version now wrapping, "" */
	char cmk_vault[64];		/* vault of any CMK ever set, "" */
	int64_t created;		/* unix seconds */
	int64_t rewrapped;		/* last root-key re-wrap */
	size_t objects;
	int key_fixed;	    /* --key-management fixed */
	int64_t deleted_on; /* unix seconds; 0: live */
	int64_t purge_on;   /* scheduled purge; 0: live */
	char identity[128]; /* the identity it acts as ("":
	                                      the caller's; older resources) */
} cmk_resource_info;

/* Create: makes the vault key svc-NAME, a root key, the directory. */
cmk_rc cmk_resource_create(cmk_ctx *ctx, const cmk_resource_params *p, const char *name);
/* Create with options: a customer-managed key from the start (keyid, with
 * set-key's checks made before anything is created), and fixed key
 * management (no later switch between service- and customer-managed;
 * CMK_E_OP_NOT_ALLOWED). */
typedef struct cmk_resource_create_params {
	const char *keyid; /* NULL: service-managed */
	int key_fixed;
	const char *identity; /* an existing identity to act as; NULL:
	                               the system-assigned res-NAME, created */
} cmk_resource_create_params;
cmk_rc cmk_resource_create2(cmk_ctx *ctx, const cmk_resource_params *p, const char *name,
			    const cmk_resource_create_params *cp);
/* Every resource in the directory (any vault), sorted by name; deleted
 * ones only with `deleted` (and only they).  cmk_free the array. */
cmk_rc cmk_resource_list_all(const cmk_resource_params *p, int deleted, cmk_resource_info **out,
			     size_t *n);
/* Soft delete with the vault's retention: the objects stay, unreadable
 * (CMK_E_DELETED), svc-NAME is soft-deleted with them.  Recover brings
 * both back exactly; purge destroys svc-NAME (refused by purge protection
 * until the retention has passed: CMK_E_PURGE_PROTECTED), then the files. */
cmk_rc cmk_resource_delete(cmk_resource *r);
cmk_rc cmk_resource_recover(cmk_resource *r);
cmk_rc cmk_resource_purge(cmk_resource *r);
/* Purge every deleted resource of ctx's vault past its date. */
cmk_rc cmk_resource_sweep(cmk_ctx *ctx, const cmk_resource_params *p, size_t *purged);
/* The vault a resource lives in (to open the right context). */
cmk_rc cmk_resource_vault(const cmk_resource_params *p, const char *name, char vault[64]);
/* Open an existing resource; ctx must be for the resource's vault. */
cmk_rc cmk_resource_open(cmk_ctx *ctx, const cmk_resource_params *p, const char *name,
			 cmk_resource **r);
void cmk_resource_close(cmk_resource *r);
cmk_rc cmk_resource_info_get(cmk_resource *r, cmk_resource_info *out);

/* Objects: data is sealed whole (put) or opened whole (get, malloc'd). */
cmk_rc cmk_resource_put(cmk_resource *r, const char *object, const uint8_t *data, size_t len);
CMK_MUST_CHECK cmk_rc cmk_resource_get(cmk_resource *r, const char *object, uint8_t **data,
				       size_t *len);
cmk_rc cmk_resource_rm(cmk_resource *r, const char *object);
/* Names, sorted; cmk_strv_free. */
cmk_rc cmk_resource_list(cmk_resource *r, char ***names, size_t *n);

/* Key changes: each re-wraps the root key only. */
cmk_rc cmk_resource_set_key(cmk_resource *r, const char *keyid);
cmk_rc cmk_resource_set_service_managed(cmk_resource *r);
/* Re-wrap under the current version of a versionless CMK (and check it). */
cmk_rc cmk_resource_refresh(cmk_resource *r, int *changed);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* CMK_ENVELOPE_H */
