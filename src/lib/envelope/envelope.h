/*
 * envelope.h - internals of the envelope format (docs/envelope-format.md).
 *
 * Layers: envelope_codec.c (bytes <-> header struct, no crypto),
 * envelope_crypto.c (key derivation, header tag, one frame), envelope_seal.c
 * and envelope_unseal.c (streaming state machines over any recipients),
 * envelope_vault.c (recipients that are vault keys, the public API) and
 * envelope_aeskw.c (recipients wrapped by a symmetric key: resources).
 */
#ifndef CMK_ENVELOPE_INT_H
#define CMK_ENVELOPE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#include "cmk.h"

#define ENV_MAGIC			"CMKE"
#define ENV_VERSION			1
#define ENV_SUITE_AES256GCM_HKDF_SHA256 1
#define ENV_DEK_LEN			32
#define ENV_MSGID_LEN			32
#define ENV_COMMIT_LEN			32
#define ENV_TAG_LEN			16
#define ENV_HASH_LEN			32
#define ENV_RECIP_MAX_LEN		4096
#define ENV_FRAME_LOG2_MIN		10
#define ENV_FRAME_LOG2_MAX		20
#define ENV_FRAME_LOG2_DEFAULT		16
#define ENV_FRAME_REGULAR		0x00
#define ENV_FRAME_FINAL			0x01
#define ENV_FRAME_OVERHEAD_REGULAR	(1 + ENV_TAG_LEN)
#define ENV_FRAME_OVERHEAD_FINAL	(1 + 4 + ENV_TAG_LEN)
/* The smallest header: prefix, msgid, one 1-byte recipient, no context. */
#define ENV_HEADER_MIN (12 + ENV_MSGID_LEN + 1 + 3 + 1 + 1 + ENV_COMMIT_LEN + ENV_TAG_LEN)
#define ENV_MAX_FRAMES (UINT64_C(1) << 32)

/* Recipient types: how one copy of the DEK is wrapped. */
#define ENV_RECIP_VAULT 1 /* a cmk wrapped-key record (vault RSA key) */
#define ENV_RECIP_AESKW 2 /* id_len(1) id AES-256-WRAP(kek, DEK) */

typedef struct env_recip {
	uint8_t type;
	const uint8_t *data;
	size_t len;
} env_recip;

typedef struct env_kv {
	const uint8_t *k;
	size_t klen;
	const uint8_t *v;
	size_t vlen;
} env_kv;

typedef struct env_header {
	uint8_t version, suite, frame_log2;
	uint32_t frame_size;
	uint32_t header_len; /* whole header, tag included */
	const uint8_t *msgid;
	size_t nrecip;
	env_recip recip[CMK_ENVELOPE_MAX_KEYS];
	size_t nctx;
	env_kv ctx[CMK_ENVELOPE_MAX_CONTEXT];
	const uint8_t *commit;
	const uint8_t *tag; /* the last 16 bytes */
} env_header;

/* ---------------------------------------------------------------- codec */

/* From the first 12 bytes: the header length, range-checked. */
cmk_rc env_prefix_parse(const uint8_t *buf, size_t len, uint32_t *hlen);
/* Parse a whole header (len >= its header_len); pointers go into buf. */
cmk_rc env_header_parse(const uint8_t *buf, size_t len, env_header *h);
/* Context from the caller: checked and sorted into env_kv form. */
cmk_rc env_context_canon(const cmk_kv *kv, size_t n, env_kv out[CMK_ENVELOPE_MAX_CONTEXT]);
/* Exact comparison of the header's context with the caller's. */
cmk_rc env_context_match(const env_header *h, const env_kv *want, size_t n);
/* Encode a header with zero commitment and tag (filled in afterwards);
 * *len gets the header length; commit/tag offsets are len-48 / len-16. */
cmk_rc env_header_encode(uint8_t frame_log2, const uint8_t *msgid, const env_recip *r, size_t nr,
			 const env_kv *kv, size_t nkv, uint8_t **out, size_t *len);

/* --------------------------------------------------------------- crypto */

typedef struct env_keys {
	uint8_t frame_key[32];
	uint8_t commit[ENV_COMMIT_LEN];
} env_keys;

/* Fetched algorithms for one property query. */
typedef struct env_algs {
	EVP_CIPHER *gcm;
	EVP_CIPHER *wrap; /* AES-256-WRAP */
	EVP_MD *sha256;
	EVP_KDF *hkdf;
} env_algs;

cmk_rc env_algs_fetch(const char *propq, env_algs *a);
void env_algs_free(env_algs *a);
cmk_rc env_random(uint8_t *buf, size_t len, int secret);
cmk_rc env_derive(const env_algs *a, const uint8_t dek[ENV_DEK_LEN],
		  const uint8_t msgid[ENV_MSGID_LEN], env_keys *k);
cmk_rc env_sha256(const env_algs *a, const uint8_t *in, size_t len, uint8_t out[ENV_HASH_LEN]);
/* A GCM context keyed with the frame key (enc: 1 seal, 0 open). */
cmk_rc env_gcm_new(const env_algs *a, const uint8_t key[32], int enc, EVP_CIPHER_CTX **c);
/* GMAC of the signed part of the header under the reserved nonce. */
cmk_rc env_header_tag(EVP_CIPHER_CTX *c, int enc, const uint8_t *hdr, size_t signed_len,
		      uint8_t tag[ENV_TAG_LEN]);
/* Seal one frame into out (type, [len], ct, tag); returns bytes written. */
cmk_rc env_frame_seal(EVP_CIPHER_CTX *c, const uint8_t hh[ENV_HASH_LEN], uint64_t counter,
		      int final, const uint8_t *pt, size_t len, uint8_t *out, size_t *outlen);
/* Open one frame's ct+tag into out; wipes out on failure. */
cmk_rc env_frame_open(EVP_CIPHER_CTX *c, const uint8_t hh[ENV_HASH_LEN], uint64_t counter,
		      int final, const uint8_t *ct, size_t len, const uint8_t *tag, uint8_t *out);
/* Report an OpenSSL failure (clears its error queue). */
cmk_rc env_ossl_err(cmk_rc rc, const char *what);

/* ------------------------------------------------------------ streaming */

/* Seal with a given DEK and recipients (the caller wrapped the DEK). */
typedef struct env_seal_cfg {
	const env_recip *recip;
	size_t nrecip;
	const cmk_kv *context;
	size_t ncontext;
	unsigned frame_size;
	const char *propq;
	const uint8_t *msgid; /* NULL: random (test vectors only) */
} env_seal_cfg;

cmk_rc env_seal_init(const env_seal_cfg *cfg, const uint8_t dek[ENV_DEK_LEN], cmk_sealer **s);
/* Recorded versioned key ids for cmk_seal_kid. */
cmk_rc env_seal_set_kids(cmk_sealer *s, char **kids, size_t n);

/* Find and unwrap the DEK of a parsed header; `kid` names the key used. */
typedef cmk_rc (*env_unwrap_fn)(void *arg, const env_header *h, uint8_t dek[ENV_DEK_LEN],
				char kid[CMK_KID_MAX]);

typedef struct env_unseal_cfg {
	const cmk_kv *context;
	size_t ncontext;
	int any_context; /* skip the context check (listing) */
	const char *propq;
	env_unwrap_fn unwrap;
	void *arg;
	void (*arg_free)(void *arg); /* called on arg when the unsealer goes */
} env_unseal_cfg;

cmk_rc env_unseal_init(const env_unseal_cfg *cfg, cmk_unsealer **u);
/* Whether the header has been accepted. */
int env_unseal_ready(const cmk_unsealer *u);

/* One-shot over the streaming core, no extra copies. */
cmk_rc env_seal_buf(cmk_sealer *s, const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen);
cmk_rc env_unseal_buf(cmk_unsealer *u, const uint8_t *in, size_t inlen, uint8_t **out,
		      size_t *outlen);

/* ---------------------------------------------------------- recipients */

/* AES-256-WRAP recipient: id (1-255 bytes) and the wrapped DEK. */
cmk_rc env_aeskw_wrap(const char *propq, const uint8_t kek[32], const char *id,
		      const uint8_t dek[ENV_DEK_LEN], uint8_t **rec, size_t *len);
cmk_rc env_aeskw_unwrap(const char *propq, const uint8_t kek[32], const char *id,
			const env_header *h, uint8_t dek[ENV_DEK_LEN]);

/* Seal or open with one AES-KW recipient (resources, tests, fuzzing). */
typedef struct env_kw_params {
	const uint8_t *kek; /* 32 bytes */
	const char *id;	    /* 1-255 bytes */
	const cmk_kv *context;
	size_t ncontext;
	unsigned frame_size;
	const char *propq;
	const uint8_t *msgid; /* sealing: NULL random (vectors only) */
	const uint8_t *dek;   /* sealing: NULL random (vectors only) */
} env_kw_params;

cmk_rc env_kw_sealer(const env_kw_params *p, cmk_sealer **s);
cmk_rc env_kw_unsealer(const env_kw_params *p, int any_context, cmk_unsealer **u);

/* ----------------------------------------------------------- dek cache */

/* Look up / store a secret under the SHA-256 of an id blob (e.g. the wrapped
 * record).  get returns 1 on a hit (secret and kid copied out). */
int dekcache_get(cmk_dekcache *c, const uint8_t *id, size_t idlen, uint8_t *secret, size_t len,
		 char kid[CMK_KID_MAX]);
void dekcache_put(cmk_dekcache *c, const uint8_t *id, size_t idlen, const uint8_t *secret,
		  size_t len, const char *kid);
/* Forget entries unwrapped with a key (versioned or versionless id). */
void dekcache_forget_key(cmk_dekcache *c, const char *kid);

#endif
