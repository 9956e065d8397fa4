/* handle.c - cmk_key: a resolved key version, and the operations on it.
 *
 * Public-key operations run in OpenSSL from the public key read once from
 * the token; private-key operations run on the token.  Before each
 * operation the handle's view of the key's metadata is refreshed when older
 * than the vault's metadata_cache_ms; disabling is enforced by the token at
 * once regardless (the working copy of the private key is destroyed).
 *
 * This path never changes the token (docs/design.md): it uses a version's
 * working copy -- found by CKA_ID and the usage it needs, so never the
 * archive copy -- and when there is none although the metadata says the
 * version is usable, it looks again holding the vault lock shared (no
 * change runs meanwhile); what is left is an interrupted change, reported
 * as such. */
#include "config.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "crypto/handle.h"
#include "codec/oaep.h"
#include "vault/audit.h"
#include "vault/keys.h"
#include "vault/policy.h"
#include "vault/view.h"
#include "util/err.h"
#include "util/clock.h"

#define ENC_POOL 8

struct cmk_key {
	cmk_ctx *ctx;
	_Atomic int refs; /* the caller's, and the context's cache's */
	char kid[CMK_KID_MAX];
	char name[CMK_NAME_MAX];
	char ver[CMK_VERSION_LEN + 1];
	uint8_t id[P11_ID_LEN];
	unsigned bits;
	size_t k;	/* modulus bytes */
	uint8_t n[512]; /* the modulus, big-endian, k bytes */
	EVP_PKEY *pub;
	pthread_mutex_t lock;	  /* guards the fields below */
	CK_OBJECT_HANDLE priv[2]; /* working copies: [0] decrypts, [1] signs */
	unsigned priv_gen[2];
	int priv_stale[2]; /* destroyed or never found: find it again */
	unsigned ops;
	int usable, deleted;
	int64_t not_before, expires;
	int64_t loaded_ms;
	/* prepared encryption contexts, reused (one thread at a time each) */
	struct enc_ctx {
		EVP_PKEY_CTX *c;
		cmk_alg alg;
		const char *md, *mgf1;
	} enc[ENC_POOL];
	size_t nenc;
};

/* Copy the version's metadata into the handle (lock held). */
static void snapshot(cmk_key *key, key_state *st, meta_version *v)
{
	key->ops = v->ops;
	key->usable = keys_version_usable(st, v);
	key->deleted = st->ks.deleted_on != 0;
	key->not_before = v->not_before;
	key->expires = v->expires;
	key->loaded_ms = mono_ms();
}

static cmk_rc refresh(cmk_key *key)
{
	key_state st;
	cmk_rc rc = keys_load(key->ctx, key->name, &st);
	if (rc != CMK_OK)
		return rc;
	meta_version *v = keys_find_version(&st, key->ver);
	if (!v) {
		key_state_free(&st);
		return cmk_err(CMK_E_NOT_FOUND, "key %s no longer exists", key->kid);
	}
	pthread_mutex_lock(&key->lock);
	snapshot(key, &st, v);
	pthread_mutex_unlock(&key->lock);
	key_state_free(&st);
	return CMK_OK;
}

static EVP_PKEY *pkey_from_parts(const char *propq, const uint8_t *n, size_t nlen, const uint8_t *e,
				 size_t elen)
{
	/* RSA named by its OID: a name OpenSSL does not map to a legacy key
	 * type, so that an ENGINE registered for RSA (libp11's, in the openssl
	 * command) is not picked instead of the provider's key management */
	ERR_set_mark();
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	BIGNUM *bn = BN_bin2bn(n, (int)nlen, NULL), *be = BN_bin2bn(e, (int)elen, NULL);
	OSSL_PARAM *params = NULL;
	EVP_PKEY *pk = NULL;
	EVP_PKEY_CTX *c = NULL;
	if (b && bn && be && OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn) &&
	    OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, be) &&
	    (params = OSSL_PARAM_BLD_to_param(b)) &&
	    (c = EVP_PKEY_CTX_new_from_name(NULL, "1.2.840.113549.1.1.1", propq)) &&
	    EVP_PKEY_fromdata_init(c) > 0)
		EVP_PKEY_fromdata(c, &pk, EVP_PKEY_PUBLIC_KEY, params);
	EVP_PKEY_CTX_free(c);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	BN_free(bn);
	BN_free(be);
	ERR_pop_to_mark();
	return pk;
}

cmk_rc cmk_key_open(cmk_ctx *ctx, const char *keyid, cmk_key **out)
{
	return_if_fail(ctx && keyid && out);
	char name[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1];
	CMK_TRY(names_resolve(ctx, keyid, name, ver));
	char akid[CMK_KID_MAX];
	names_kid(cmk_ctx_vault(ctx), name, ver, akid);
	cmk_rc prc = policy_check(ctx, CMK_PERM_GET, akid);
	if (prc != CMK_OK)
		return audit_op(ctx, "get", akid, prc);
	key_state st;
	CMK_TRY(keys_load_live(ctx, name, &st));
	meta_version *v;
	cmk_rc rc = CMK_OK;
	char kid[CMK_KID_MAX];
	names_kid(cmk_ctx_vault(ctx), name, NULL, kid);
	if (ver[0]) {
		if (!(v = keys_find_version(&st, ver)))
			rc = cmk_err(CMK_E_NOT_FOUND, "key %s has no version %s", kid, ver);
	} else if (!(v = keys_current(&st, (int64_t)time(NULL)))) {
		int any = 0;
		for (size_t i = 0; i < st.nv; i++)
			any |= keys_version_usable(&st, &st.v[i]);
		rc = any ? cmk_err(CMK_E_NOT_VALID,
				   "key %s has no current version: every enabled version is "
				   "outside its not-before/expires dates",
				   kid)
			 : cmk_err(CMK_E_DISABLED, "key %s is disabled (no enabled version)", kid);
	}
	if (rc != CMK_OK) {
		key_state_free(&st);
		return rc;
	}
	cmk_key *key = calloc(1, sizeof *key);
	if (!key) {
		key_state_free(&st);
		return cmk_err(CMK_E_NOMEM, "out of memory");
	}
	key->ctx = ctx;
	atomic_init(&key->refs, 1);
	pthread_mutex_init(&key->lock, NULL);
	strcpy(key->name, name);
	strcpy(key->ver, v->ver);
	names_kid(cmk_ctx_vault(ctx), name, v->ver, key->kid);
	names_unhex(v->ver, key->id, sizeof key->id);
	key->bits = v->bits;
	snapshot(key, &st, v);
	key_state_free(&st);

	uint8_t *n = NULL, *e = NULL;
	size_t nlen = 0, elen = 0;
	int has_priv = 0;
	key->priv_stale[0] = key->priv_stale[1] = 1;
	rc = p11_rsa_find_public(ctx->tok, key->id, &has_priv, &n, &nlen, &e, &elen);
	if (rc == CMK_OK && (!has_priv || !n))
		rc = cmk_err(CMK_E_INTEGRITY, "key %s: the key pair is missing from token '%s'",
			     key->kid, p11_tok_label(ctx->tok));
	if (rc == CMK_OK && !(key->pub = pkey_from_parts(ctx->conf.propquery, n, nlen, e, elen)))
		rc = cmk_err(CMK_E_INTEGRITY,
			     "key %s: the public key on the token is not a valid RSA key",
			     key->kid);
	if (rc == CMK_OK) {
		while (nlen && n[0] == 0) { /* a token may pad the modulus */
			memmove(n, n + 1, --nlen);
		}
		if (nlen > sizeof key->n)
			rc = cmk_err(CMK_E_INTEGRITY, "key %s: modulus of %zu bytes is too large",
				     key->kid, nlen);
		else
			memcpy(key->n, n, nlen);
	}
	free(n);
	free(e);
	if (rc != CMK_OK) {
		cmk_key_close(key);
		return rc;
	}
	key->k = (size_t)EVP_PKEY_get_size(key->pub);
	*out = key;
	return CMK_OK;
}

void cmk_key_close(cmk_key *key)
{
	if (!key || atomic_fetch_sub(&key->refs, 1) != 1)
		return;
	EVP_PKEY_free(key->pub);
	for (size_t i = 0; i < key->nenc; i++)
		EVP_PKEY_CTX_free(key->enc[i].c);
	pthread_mutex_destroy(&key->lock);
	free(key);
}

/* ------------------------------------------- handles kept per context
 *
 * cmk_wrap/cmk_unwrap (and so envelopes and resources) name keys by id;
 * resolving an id costs token reads (metadata, key objects, the public
 * key).  The context keeps the last KEYCACHE_MAX handles it resolved: one
 * named by a versioned id until the vault is changed through this context,
 * a versionless one (the current version) at most metadata_cache_ms.  The
 * handles refresh their metadata as any handle does (check()), so
 * disabling and deleting take effect within the same bounds. */
#define KEYCACHE_MAX 32

struct ctx_keycache {
	pthread_mutex_t lock;
	struct kc_entry {
		char id[CMK_KID_MAX];
		cmk_key *key;
		uint64_t changes, used;
		int64_t at_ms;
		int versioned;
	} e[KEYCACHE_MAX];
	uint64_t tick;
};

static void keycache_fork_prepare(cmk_ctx *ctx)
{
	pthread_mutex_lock(&ctx->keycache->lock);
}

static void keycache_fork_parent(cmk_ctx *ctx)
{
	pthread_mutex_unlock(&ctx->keycache->lock);
}

static void keycache_fork_child(cmk_ctx *ctx)
{
	pthread_mutex_init(&ctx->keycache->lock, NULL);
}

static void keycache_free(cmk_ctx *ctx)
{
	struct ctx_keycache *c = ctx->keycache;
	if (!c)
		return;
	for (size_t i = 0; i < KEYCACHE_MAX; i++)
		cmk_key_close(c->e[i].key);
	pthread_mutex_destroy(&c->lock);
	free(c);
	ctx->keycache = NULL;
}

/* the context's part (ctx.h): taken after the context's lock at fork */
static const ctx_part keycache_part = {
	.free = keycache_free,
	.before_ctx_lock = 0,
	.fork_prepare = keycache_fork_prepare,
	.fork_parent = keycache_fork_parent,
	.fork_child = keycache_fork_child,
};

static struct ctx_keycache *keycache(cmk_ctx *ctx)
{
	pthread_mutex_lock(&ctx->lock);
	if (!ctx->keycache) {
		struct ctx_keycache *c = calloc(1, sizeof *c);
		if (c) {
			pthread_mutex_init(&c->lock, NULL);
			ctx->keycache = c;
			ctx_part_add(ctx, CTX_PART_KEYCACHE, &keycache_part);
		}
	}
	pthread_mutex_unlock(&ctx->lock);
	return ctx->keycache;
}

cmk_rc key_open_cached(cmk_ctx *ctx, const char *keyid, cmk_key **out)
{
	char name[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1], akid[CMK_KID_MAX];
	struct ctx_keycache *c = keycache(ctx);
	if (!c || strlen(keyid) >= CMK_KID_MAX || strncmp(keyid, "pkcs11:", 7) == 0)
		return cmk_key_open(ctx, keyid, out);
	CMK_TRY(names_resolve(ctx, keyid, name, ver));
	names_kid(cmk_ctx_vault(ctx), name, ver, akid);
	cmk_rc prc = policy_check(ctx, CMK_PERM_GET, akid);
	if (prc != CMK_OK)
		return audit_op(ctx, "get", akid, prc);
	uint64_t changes = cmk_ctx_changes(ctx);
	int64_t now = mono_ms();
	cmk_key *stale = NULL, *hit = NULL;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < KEYCACHE_MAX; i++) {
		struct kc_entry *e = &c->e[i];
		if (!e->key || strcmp(e->id, keyid) != 0)
			continue;
		if (e->changes == changes &&
		    (e->versioned || now - e->at_ms < (int64_t)ctx->conf.metadata_cache_ms)) {
			hit = e->key;
			atomic_fetch_add(&hit->refs, 1);
			e->used = ++c->tick;
		} else {
			stale = e->key;
			e->key = NULL;
		}
		break;
	}
	pthread_mutex_unlock(&c->lock);
	cmk_key_close(stale);
	if (hit) {
		*out = hit;
		return CMK_OK;
	}
	cmk_key *k;
	CMK_TRY(cmk_key_open(ctx, keyid, &k));
	pthread_mutex_lock(&c->lock);
	size_t slot = 0;
	for (size_t i = 0; i < KEYCACHE_MAX; i++) {
		if (!c->e[i].key) {
			slot = i;
			break;
		}
		if (c->e[i].used < c->e[slot].used)
			slot = i;
	}
	stale = c->e[slot].key;
	struct kc_entry *e = &c->e[slot];
	snprintf(e->id, sizeof e->id, "%s", keyid);
	e->key = k;
	atomic_fetch_add(&k->refs, 1);
	e->changes = changes;
	e->at_ms = now;
	e->versioned = ver[0] != '\0';
	e->used = ++c->tick;
	pthread_mutex_unlock(&c->lock);
	cmk_key_close(stale);
	*out = k;
	return CMK_OK;
}

const char *cmk_key_kid(const cmk_key *key)
{
	return key->kid;
}
unsigned cmk_key_bits(const cmk_key *key)
{
	return key->bits;
}
unsigned cmk_key_ops(const cmk_key *key)
{
	return key->ops;
}

cmk_rc cmk_key_public_der(const cmk_key *key, uint8_t **der, size_t *len)
{
	return_if_fail(key && der && len);
	unsigned char *p = NULL;
	int n = i2d_PUBKEY(key->pub, &p);
	if (n <= 0)
		return cmk_err(CMK_E_INTERNAL, "cannot encode the public key of %s", key->kid);
	*der = malloc((size_t)n);
	if (!*der) {
		OPENSSL_free(p);
		return cmk_err(CMK_E_NOMEM, "out of memory");
	}
	memcpy(*der, p, (size_t)n);
	OPENSSL_free(p);
	*len = (size_t)n;
	return CMK_OK;
}

cmk_rc cmk_key_public_pem(const cmk_key *key, char **pem, size_t *len)
{
	return_if_fail(key && pem && len);
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	if (!b || !PEM_write_bio_PUBKEY(b, key->pub)) {
		BIO_free(b);
		return cmk_err(CMK_E_INTERNAL, "cannot encode the public key of %s", key->kid);
	}
	long n = BIO_get_mem_data(b, &data);
	*pem = malloc((size_t)n + 1);
	if (!*pem) {
		BIO_free(b);
		return cmk_err(CMK_E_NOMEM, "out of memory");
	}
	memcpy(*pem, data, (size_t)n);
	(*pem)[n] = '\0';
	*len = (size_t)n;
	BIO_free(b);
	return CMK_OK;
}

/* ---------------------------------------------------------------- checks */

static const char *op_word(unsigned op)
{
	switch (op) {
	case CMK_OP_WRAP: return "wrapKey";
	case CMK_OP_UNWRAP: return "unwrapKey";
	case CMK_OP_ENCRYPT: return "encrypt";
	case CMK_OP_DECRYPT: return "decrypt";
	case CMK_OP_SIGN: return "sign";
	default: return "verify";
	}
}

/* Lifecycle rules of docs/semantics.md §2 for operation `op`. */
static unsigned perm_of(unsigned op)
{
	switch (op) {
	case CMK_OP_WRAP: return CMK_PERM_WRAP;
	case CMK_OP_UNWRAP: return CMK_PERM_UNWRAP;
	case CMK_OP_ENCRYPT: return CMK_PERM_ENCRYPT;
	case CMK_OP_DECRYPT: return CMK_PERM_DECRYPT;
	case CMK_OP_SIGN: return CMK_PERM_SIGN;
	default: return CMK_PERM_VERIFY;
	}
}

static cmk_rc check_state(cmk_key *key, unsigned op);

/* The metadata cache holds a handle's state for metadata_cache_ms; only a
 * "yes" is taken from it: a refusal is read again first, so an enable (or
 * recover, or key-ops change) made elsewhere counts at once, as a disable
 * does (the token enforces it). */
static cmk_rc check(cmk_key *key, unsigned op)
{
	CMK_TRY(policy_check(key->ctx, perm_of(op), key->kid));
	pthread_mutex_lock(&key->lock);
	int stale = mono_ms() - key->loaded_ms >= (int64_t)key->ctx->conf.metadata_cache_ms;
	pthread_mutex_unlock(&key->lock);
	if (stale)
		CMK_TRY(refresh(key));
	cmk_rc rc = check_state(key, op);
	if (rc != CMK_OK && !stale) {
		CMK_TRY(refresh(key));
		rc = check_state(key, op);
	}
	return rc;
}

static cmk_rc check_state(cmk_key *key, unsigned op)
{
	pthread_mutex_lock(&key->lock);
	unsigned ops = key->ops;
	int usable = key->usable, deleted = key->deleted;
	int64_t nbf = key->not_before, exp = key->expires;
	pthread_mutex_unlock(&key->lock);
	if (deleted)
		return cmk_err(CMK_E_DELETED, "key %s is deleted", key->kid);
	if (!usable)
		return cmk_err(CMK_E_DISABLED, "key %s is disabled", key->kid);
	if (!(ops & op))
		return cmk_err(CMK_E_OP_NOT_ALLOWED, "key %s does not allow %s (key-ops)", key->kid,
			       op_word(op));
	/* Dates stop wrap, encrypt and sign only: expiry never strands data. */
	if (op == CMK_OP_WRAP || op == CMK_OP_ENCRYPT || op == CMK_OP_SIGN) {
		int64_t now = (int64_t)time(NULL);
		if (nbf && now < nbf)
			return cmk_err(CMK_E_NOT_VALID, "key %s is not valid yet (not-before)",
				       key->kid);
		if (exp && now >= exp)
			return cmk_err(CMK_E_NOT_VALID, "key %s has expired", key->kid);
	}
	return CMK_OK;
}

/* No working copy with the usage although the handle's metadata says the
 * version is usable: a disable (or key-ops change) just destroyed it, an
 * enable has committed but not made it yet, this process's view of the
 * token is stale (docs/design.md), or a change was interrupted.  Refresh
 * the view if needed, then, holding the vault lock shared (no change runs
 * meanwhile, so the metadata and the copies read are one state of the
 * vault), read the metadata again and look once more.  Changes nothing on
 * the token. */
static CK_OBJECT_HANDLE priv_missing(cmk_key *key, int sign, cmk_rc *rc)
{
	cmk_ctx *ctx = key->ctx;
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	if ((*rc = vault_view_refresh(ctx)) != CMK_OK)
		return CK_INVALID_HANDLE;
	vault_read_hold held = vault_read_begin(ctx);
	if ((*rc = refresh(key)) != CMK_OK)
		goto out;
	pthread_mutex_lock(&key->lock);
	int usable = key->usable, deleted = key->deleted;
	pthread_mutex_unlock(&key->lock);
	if (deleted) {
		*rc = cmk_err(CMK_E_DELETED, "key %s is deleted", key->kid);
		goto out;
	}
	if (!usable) {
		*rc = cmk_err(CMK_E_DISABLED, "key %s is disabled", key->kid);
		goto out;
	}
	if ((*rc = p11_rsa_find_usable(ctx->tok, key->id, sign, &h)) != CMK_OK)
		goto out;
	if (h == CK_INVALID_HANDLE)
		*rc = cmk_err(CMK_E_DISABLED,
			      "key %s is enabled but the token has no copy of it that may %s: an "
			      "interrupted change left the token stricter than the metadata; `cmk "
			      "vault check --repair` (or the next change of the key) restores it",
			      key->kid, sign ? "sign" : "decrypt");
out:
	vault_read_end(ctx, held);
	return h;
}

static CK_OBJECT_HANDLE priv_handle(cmk_key *key, int sign, cmk_rc *rc)
{
	unsigned gen = p11_tok_gen(key->ctx->tok);
	pthread_mutex_lock(&key->lock);
	CK_OBJECT_HANDLE h = key->priv[sign];
	int fresh = key->priv_gen[sign] == gen && !key->priv_stale[sign];
	pthread_mutex_unlock(&key->lock);
	*rc = CMK_OK;
	if (fresh)
		return h;
	*rc = p11_rsa_find_usable(key->ctx->tok, key->id, sign, &h);
	if (*rc == CMK_OK && h == CK_INVALID_HANDLE)
		h = priv_missing(key, sign, rc);
	if (*rc != CMK_OK)
		return CK_INVALID_HANDLE;
	/* kept under the generation read before the search: one that moved
	 * since makes the next use look again, never the other way round (a
	 * handle of an older generation names another object: p11/object.c) */
	pthread_mutex_lock(&key->lock);
	key->priv[sign] = h;
	key->priv_gen[sign] = gen;
	key->priv_stale[sign] = 0;
	pthread_mutex_unlock(&key->lock);
	return h;
}

/* A disable destroys the working copy, so a handle found earlier can go
 * invalid: look again (and find the answer "disabled"). */
static int handle_gone(CK_RV rv)
{
	return rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID;
}

/* A handle the operation itself looked up again (p11_key): kept under the
 * generation read before the operation, as priv_handle() does. */
static void keep_priv(cmk_key *key, int sign, CK_OBJECT_HANDLE h, unsigned gen)
{
	pthread_mutex_lock(&key->lock);
	key->priv[sign] = h;
	key->priv_gen[sign] = gen;
	key->priv_stale[sign] = h == CK_INVALID_HANDLE;
	pthread_mutex_unlock(&key->lock);
}

static void forget_priv(cmk_key *key, int sign)
{
	pthread_mutex_lock(&key->lock);
	key->priv_stale[sign] = 1;
	pthread_mutex_unlock(&key->lock);
}

static p11_hash hash_of(const char *md)
{
	if (!md)
		return 0;
	if (!OPENSSL_strcasecmp(md, "SHA1") || !OPENSSL_strcasecmp(md, "SHA-1"))
		return P11_SHA1;
	if (!OPENSSL_strcasecmp(md, "SHA256") || !OPENSSL_strcasecmp(md, "SHA2-256") ||
	    !OPENSSL_strcasecmp(md, "SHA-256"))
		return P11_SHA256;
	if (!OPENSSL_strcasecmp(md, "SHA384") || !OPENSSL_strcasecmp(md, "SHA2-384") ||
	    !OPENSSL_strcasecmp(md, "SHA-384"))
		return P11_SHA384;
	if (!OPENSSL_strcasecmp(md, "SHA512") || !OPENSSL_strcasecmp(md, "SHA2-512") ||
	    !OPENSSL_strcasecmp(md, "SHA-512"))
		return P11_SHA512;
	return 0;
}

/* Map a token refusal to the key's words. */
static cmk_rc token_fail(cmk_key *key, CK_RV rv, const char *what)
{
	cmk_rc rc = p11_rv_rc(rv);
	if (rc == CMK_E_DISABLED)
		return cmk_err(rc, "key %s is disabled (the token refuses to %s)", key->kid, what);
	if (rc == CMK_E_DECRYPT)
		return cmk_err(rc, "the data does not %s with key %s", what, key->kid);
	/* name the vault too: for a remote one, that names its server */
	char where[CMK_KID_MAX + 300];
	snprintf(where, sizeof where, "key %s in %s", key->kid, p11_tok_where(key->ctx->tok));
	return p11_fail(rv, where, what);
}

static int native_refused(CK_RV rv)
{
	return rv == CKR_ARGUMENTS_BAD || rv == CKR_MECHANISM_PARAM_INVALID ||
	       rv == CKR_MECHANISM_INVALID;
}

/* ------------------------------------------------------------ operations */

static cmk_rc cmk_key_encrypt_impl(cmk_key *key, cmk_purpose purpose, cmk_alg alg,
				   const cmk_oaep *oaep, const uint8_t *in, size_t inlen,
				   uint8_t *out, size_t *outlen)
{
	return_if_fail(key && in && out && outlen);
	CMK_TRY(check(key, purpose == CMK_PURPOSE_KEY ? CMK_OP_WRAP : CMK_OP_ENCRYPT));
	const char *md, *mgf1;
	const uint8_t *label;
	size_t llen;
	CMK_TRY(oaep_params(alg, oaep, &md, &mgf1, &label, &llen));
	/* a context prepared earlier for the same parameters (no label) */
	EVP_PKEY_CTX *c = NULL;
	if (!oaep) {
		pthread_mutex_lock(&key->lock);
		for (size_t i = key->nenc; i-- > 0;)
			if (key->enc[i].alg == alg &&
			    (md == key->enc[i].md ||
			     (md && key->enc[i].md && !strcmp(md, key->enc[i].md))) &&
			    (mgf1 == key->enc[i].mgf1 ||
			     (mgf1 && key->enc[i].mgf1 && !strcmp(mgf1, key->enc[i].mgf1)))) {
				c = key->enc[i].c;
				key->enc[i] = key->enc[--key->nenc];
				break;
			}
		pthread_mutex_unlock(&key->lock);
	}
	cmk_rc rc = CMK_OK;
	if (!c)
		c = oaep_encrypt_ctx(key->ctx->conf.propquery, key->pub, alg, md, mgf1, label, llen,
				     &rc);
	if (c)
		rc = oaep_encrypt_with(c, key->pub, alg, md, in, inlen, out, outlen);
	if (c && !oaep) { /* md, mgf1: static names */
		pthread_mutex_lock(&key->lock);
		if (key->nenc < ENC_POOL) {
			key->enc[key->nenc++] = (struct enc_ctx){ c, alg, md, mgf1 };
			c = NULL;
		}
		pthread_mutex_unlock(&key->lock);
	}
	EVP_PKEY_CTX_free(c);
	if (rc != CMK_OK && rc != CMK_E_BUFFER)
		cmk_err_prefix(rc, "key %s", key->kid);
	return rc;
}

/* Private RSA on the token; OAEP natively when the token does that hash,
 * else raw RSA plus OpenSSL's decoding.  What the token refuses is
 * remembered per context. */
static CK_RV decrypt_on_token(cmk_key *key, p11_key *priv, cmk_alg alg, const char *md,
			      const char *mgf1, const uint8_t *label, size_t llen,
			      const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen,
			      int *need_decode)
{
	cmk_ctx *ctx = key->ctx;
	*need_decode = 0;
	size_t cap = *outlen;
	if (alg == CMK_ALG_RSA1_5 && !md) {
		/* raw RSA and the padding checked here, in constant time with
		 * implicit rejection; the token's own CKM_RSA_PKCS would say
		 * which ciphertexts have a bad padding (Bleichenbacher) */
		CK_RV rv =
			p11_rsa_decrypt_raw(ctx->tok, priv, CKM_RSA_X_509, in, inlen, out, outlen);
		if (!native_refused(rv)) {
			*need_decode = 1;
			return rv;
		}
		*outlen = cap;
		return p11_rsa_decrypt_raw(ctx->tok, priv, CKM_RSA_PKCS, in, inlen, out, outlen);
	}
	p11_hash h = hash_of(md), g = hash_of(mgf1);
	int state = h && h == g ? atomic_load(&ctx->oaep_native[h]) : 0;
	if (state != 0) { /* -1 not tried yet, 1 works */
		CK_RV rv = p11_rsa_decrypt_oaep(ctx->tok, priv, h, label, llen, in, inlen, out,
						outlen);
		if (!native_refused(rv)) {
			if (state == -1 && rv == CKR_OK)
				atomic_store(&ctx->oaep_native[h], 1);
			/* the input is the right length and below the modulus (checked
			 * before), so a failing native OAEP decryption is a padding
			 * failure; SoftHSM reports it as CKR_GENERAL_ERROR */
			if (rv == CKR_GENERAL_ERROR || rv == CKR_FUNCTION_FAILED)
				rv = CKR_ENCRYPTED_DATA_INVALID;
			return rv;
		}
		atomic_store(&ctx->oaep_native[h], 0);
	}
	*need_decode = 1;
	return p11_rsa_decrypt_raw(ctx->tok, priv, CKM_RSA_X_509, in, inlen, out, outlen);
}

/* The PKCS#1 v1.5 implicit rejection's secret for this ciphertext: an HMAC
 * on the token, with the vault's metadata key under a label of its own. */
static cmk_rc rejection_seed(cmk_key *key, const uint8_t *in, size_t inlen, uint8_t seed[32])
{
	char label[CMK_KID_MAX + 64];
	int n = snprintf(label, sizeof label, "cmk/pkcs1v15-implicit-rejection/%s", key->kid);
	return ctx_mac(key->ctx, CTX_MAC_META, (const uint8_t *)label, (size_t)n + 1, in, inlen,
		       seed);
}

/* *used: the token decrypted (the operation is audited even when the
 * caller's buffer then turns out too small). */
static cmk_rc cmk_key_decrypt_impl(cmk_key *key, cmk_purpose purpose, cmk_alg alg,
				   const cmk_oaep *oaep, const uint8_t *in, size_t inlen,
				   uint8_t *out, size_t *outlen, int *used)
{
	return_if_fail(key && in && out && outlen);
	const char *what = purpose == CMK_PURPOSE_KEY ? "unwrap" : "decrypt";
	CMK_TRY(check(key, purpose == CMK_PURPOSE_KEY ? CMK_OP_UNWRAP : CMK_OP_DECRYPT));
	const char *md, *mgf1;
	const uint8_t *label;
	size_t llen;
	CMK_TRY(oaep_params(alg, oaep, &md, &mgf1, &label, &llen));
	if (inlen != key->k)
		return cmk_err(CMK_E_DECRYPT,
			       "the data does not %s with key %s: %zu bytes, the key takes %zu",
			       what, key->kid, inlen, key->k);
	/* RFC 8017 5.1.2: the ciphertext must be smaller than the modulus (tokens
	 * answer that with anything from CKR_ENCRYPTED_DATA_INVALID to
	 * CKR_GENERAL_ERROR).  Public values: no need for constant time. */
	if (memcmp(in, key->n, key->k) >= 0)
		return cmk_err(
			CMK_E_DECRYPT,
			"the data does not %s with key %s: it is not smaller than the modulus",
			what, key->kid);
	cmk_rc rc;
	CK_OBJECT_HANDLE priv = priv_handle(key, 0, &rc);
	if (rc != CMK_OK)
		return rc;
	uint8_t em[1024];
	size_t emlen = sizeof em;
	int decode;
	CK_RV rv = CKR_OK;
	/* a handle refused as gone is looked up again: a disable destroyed the
	 * copy, or the module was initialised again since it was found (which
	 * may happen a few times in a row while another process writes) */
	for (int attempt = 0; attempt < 5; attempt++) {
		emlen = sizeof em;
		unsigned gen = p11_tok_gen(key->ctx->tok);
		p11_key pk = { priv, key->id, 0 };
		rv = decrypt_on_token(key, &pk, alg, md, mgf1, label, llen, in, inlen, em, &emlen,
				      &decode);
		if (pk.h != priv) {
			keep_priv(key, 0, pk.h, gen);
			priv = pk.h;
		}
		if (rv == CKR_OK || attempt == 4)
			break;
		if (handle_gone(rv) || p11_rv_rc(rv) == CMK_E_DISABLED) {
			/* the working copy was destroyed (disable), or is not the
			 * one to use: look again -- never change the token here */
			forget_priv(key, 0);
			priv = priv_handle(key, 0, &rc);
			if (rc != CMK_OK)
				return rc;
		} else if (p11_rv_dead(rv)) {
			/* a lost session or token: recover and try again, on the
			 * native OAEP path as on the raw one; when the token stays
			 * away, the lookup or the next call says why (never "the
			 * data does not decrypt") */
			(void)p11_tok_recover(key->ctx->tok, gen);
			priv = priv_handle(key, 0, &rc);
			if (rc != CMK_OK)
				return rc;
		} else {
			break;
		}
	}
	if (rv != CKR_OK) {
		cmk_wipe(em, sizeof em);
		return token_fail(key, rv, what);
	}
	*used = 1;
	/* The plaintext goes to a buffer of our own first, so that a caller's
	 * buffer too small gets CMK_E_BUFFER and the length, whichever path
	 * the token took. */
	uint8_t pt[1024];
	size_t ptlen = sizeof pt;
	rc = CMK_OK;
	if (!decode) {
		memcpy(pt, em, emlen);
		ptlen = emlen;
	} else {
		/* Raw RSA output is k bytes; a token may drop leading zeros. */
		if (emlen < key->k) {
			memmove(em + (key->k - emlen), em, emlen);
			memset(em, 0, key->k - emlen);
		}
		if (alg == CMK_ALG_RSA1_5 && !md) {
			uint8_t seed[32];
			rc = rejection_seed(key, in, inlen, seed);
			if (rc == CMK_OK)
				rc = pkcs1_decode_ir(key->ctx->conf.propquery, em, key->k, seed, pt,
						     &ptlen);
			cmk_wipe(seed, sizeof seed);
		} else {
			rc = oaep_decode(key->ctx->conf.propquery, em, key->k, md, mgf1, label,
					 llen, pt, &ptlen);
		}
	}
	cmk_wipe(em, sizeof em);
	if (rc == CMK_OK && ptlen > *outlen) {
		*outlen = ptlen;
		rc = cmk_err(CMK_E_BUFFER, "output buffer too small: %zu bytes needed", ptlen);
	} else if (rc == CMK_OK) {
		memcpy(out, pt, ptlen);
		*outlen = ptlen;
	} else if (rc == CMK_E_DECRYPT) {
		rc = cmk_err(rc, "the data does not %s with key %s (%s)", what, key->kid,
			     oaep ? "OAEP" : cmk_alg_name(alg));
	}
	cmk_wipe(pt, sizeof pt);
	return rc;
}

static cmk_rc cmk_key_sign_impl(cmk_key *key, const cmk_sig *sig, const uint8_t *digest,
				size_t dlen, uint8_t *out, size_t *outlen)
{
	return_if_fail(key && sig && sig->md && digest && out && outlen);
	CMK_TRY(check(key, CMK_OP_SIGN));
	if (*outlen < key->k) {
		*outlen = key->k;
		return cmk_err(CMK_E_BUFFER, "output buffer too small: %zu bytes needed", key->k);
	}
	cmk_rc rc;
	int retried = 0;
	CK_OBJECT_HANDLE priv;
	CK_RV rv;
	size_t len;
again:
	priv = priv_handle(key, 1, &rc);
	if (rc != CMK_OK)
		return rc;
	len = *outlen;
	unsigned gen = p11_tok_gen(key->ctx->tok);
	p11_key pk = { priv, key->id, 1 };
	if (sig->pad == CMK_SIG_PKCS1) {
		uint8_t di[128];
		size_t dil = sizeof di;
		CMK_TRY(digest_info(sig->md, digest, dlen, di, &dil));
		rv = p11_rsa_sign_raw(key->ctx->tok, &pk, CKM_RSA_PKCS, di, dil, out, &len);
	} else {
		const char *mgf1 = sig->mgf1_md ? sig->mgf1_md : sig->md;
		p11_hash h = hash_of(sig->md), g = hash_of(mgf1);
		int salt = sig->salt_len < 0 ? (int)dlen : sig->salt_len;
		if (!h || !g)
			return cmk_err(CMK_E_USAGE, "PSS with %s/%s is not supported", sig->md,
				       mgf1);
		rv = p11_rsa_sign_pss(key->ctx->tok, &pk, h, g, (unsigned long)salt, digest, dlen,
				      out, &len);
		if (native_refused(rv)) {
			uint8_t em[1024];
			CMK_TRY(pss_encode(key->ctx->conf.propquery, key->pub, sig->md, mgf1, salt,
					   digest, dlen, em, key->k));
			len = *outlen;
			rv = p11_rsa_sign_raw(key->ctx->tok, &pk, CKM_RSA_X_509, em, key->k, out,
					      &len);
			cmk_wipe(em, sizeof em);
		}
	}
	if (pk.h != priv)
		keep_priv(key, 1, pk.h, gen);
	if ((handle_gone(rv) || p11_rv_rc(rv) == CMK_E_DISABLED) && retried < 4) {
		forget_priv(key, 1); /* as in cmk_key_decrypt_impl() */
		retried++;
		goto again;
	}
	if (rv != CKR_OK)
		return token_fail(key, rv, "sign");
	*outlen = len;
	return CMK_OK;
}

/* ---------------------------------------------------------- public calls */

static const char *op_name(cmk_purpose p, int decrypt)
{
	if (p == CMK_PURPOSE_KEY)
		return decrypt ? "unwrapKey" : "wrapKey";
	return decrypt ? "decrypt" : "encrypt";
}

cmk_rc cmk_key_encrypt(cmk_key *key, cmk_purpose purpose, cmk_alg alg, const cmk_oaep *oaep,
		       const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen)
{
	return_if_fail(key && in && out && outlen);
	cmk_rc rc = audit_check_writable(key->ctx);
	if (rc == CMK_OK)
		rc = cmk_key_encrypt_impl(key, purpose, alg, oaep, in, inlen, out, outlen);
	if (rc == CMK_E_BUFFER) /* a size query, not an operation */
		return rc;
	return audit_op(key->ctx, op_name(purpose, 0), key->kid, rc);
}

cmk_rc cmk_key_decrypt(cmk_key *key, cmk_purpose purpose, cmk_alg alg, const cmk_oaep *oaep,
		       const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen)
{
	return_if_fail(key && in && out && outlen);
	size_t cap = *outlen;
	int used = 0;
	cmk_rc rc = audit_check_writable(key->ctx);
	if (rc == CMK_OK)
		rc = cmk_key_decrypt_impl(key, purpose, alg, oaep, in, inlen, out, outlen, &used);
	if (rc == CMK_E_BUFFER && !used) /* refused before the token was asked */
		return rc;
	rc = audit_op(key->ctx, op_name(purpose, 1), key->kid, rc);
	if (rc == CMK_E_AUDIT) /* fail closed: the caller gets nothing */
		cmk_wipe(out, cap);
	return rc;
}

cmk_rc cmk_key_sign(cmk_key *key, const cmk_sig *sig, const uint8_t *digest, size_t dlen,
		    uint8_t *out, size_t *outlen)
{
	return_if_fail(key && sig && digest && out && outlen);
	cmk_rc rc = audit_check_writable(key->ctx);
	if (rc == CMK_OK)
		rc = cmk_key_sign_impl(key, sig, digest, dlen, out, outlen);
	if (rc == CMK_E_BUFFER)
		return rc;
	return audit_op(key->ctx, "sign", key->kid, rc);
}
