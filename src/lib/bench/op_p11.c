/* op_p11.c - the HSM limit: bare PKCS#11 calls on the same token and key.
 *
 * Each thread keeps one session of the pool for the whole measurement and
 * loops C_DecryptInit + C_Decrypt (or C_EncryptInit + C_Encrypt with the
 * public key object) with the mechanism cmk itself uses for the key's OAEP
 * hash: CKM_RSA_PKCS_OAEP when the token does that hash, else CKM_RSA_X_509.
 * Nothing else happens in the loop, so this is what the token can do. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>
#include "bench/bench.h"
#include "vault/keys.h"
#include "util/err.h"

typedef struct p11_state {
	p11_tok *tok;
	uint8_t id[P11_ID_LEN];
	pthread_mutex_t lock;        /* guards the handles below */
	CK_OBJECT_HANDLE priv, pub;
	unsigned gen;                /* p11_tok_gen when they were found */
	CK_RSA_PKCS_OAEP_PARAMS oaep;
	CK_MECHANISM mech;
} p11_state;

typedef struct p11_thread {
	p11_sess *s;
	CK_OBJECT_HANDLE priv, pub;
	CK_RV last;
} p11_thread;

static void hash_mech(const char *md, CK_MECHANISM_TYPE *h, CK_RSA_PKCS_MGF_TYPE *mgf)
{
	if (!strcmp(md, "SHA1")) { *h = CKM_SHA_1; *mgf = CKG_MGF1_SHA1; }
	else if (!strcmp(md, "SHA384")) { *h = CKM_SHA384; *mgf = CKG_MGF1_SHA384; }
	else if (!strcmp(md, "SHA512")) { *h = CKM_SHA512; *mgf = CKG_MGF1_SHA512; }
	else { *h = CKM_SHA256; *mgf = CKG_MGF1_SHA256; }
}

/* Find the key pair (again, after a fork or a re-initialisation). */
static cmk_rc find_keys(p11_state *st)
{
	unsigned gen = p11_tok_gen(st->tok);
	pthread_mutex_lock(&st->lock);
	cmk_rc rc = CMK_OK;
	if (st->gen != gen || st->priv == CK_INVALID_HANDLE) {
		rc = p11_rsa_find(st->tok, st->id, &st->priv, &st->pub);
		if (rc == CMK_OK && (st->priv == CK_INVALID_HANDLE || st->pub == CK_INVALID_HANDLE))
			rc = cmk_err(CMK_E_NOT_FOUND, "the key pair of the benchmark key is not on the token");
		st->gen = gen;
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

static cmk_rc p11_setup(bench_case *c)
{
	bench_env *e = c->env;
	char vault[64], name[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1];
	CMK_TRY(cmk_kid_parse(cmk_key_kid(e->key), vault, name, ver));
	p11_state *st = calloc(1, sizeof *st);
	if (!st)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	st->tok = e->ctx->tok;
	names_unhex(ver, st->id, sizeof st->id);
	pthread_mutex_init(&st->lock, NULL);
	if (e->native) {
		hash_mech(e->md, &st->oaep.hashAlg, &st->oaep.mgf);
		st->oaep.source = CKZ_DATA_SPECIFIED;
		st->mech = (CK_MECHANISM){ CKM_RSA_PKCS_OAEP, &st->oaep, sizeof st->oaep };
	} else {
		st->mech = (CK_MECHANISM){ CKM_RSA_X_509, NULL, 0 };
	}
	c->state = st;
	return find_keys(st);
}

static void p11_teardown(bench_case *c)
{
	p11_state *st = c->state;
	if (!st)
		return;
	pthread_mutex_destroy(&st->lock);
	free(st);
}

static cmk_rc p11_thread_init(bench_case *c, unsigned idx, void **out)
{
	p11_state *st = c->state;
	p11_thread *t = calloc(1, sizeof *t);
	if (!t)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	cmk_rc rc = p11_sess_get(st->tok, &t->s);      /* re-initialises after fork */
	if (rc == CMK_OK && (rc = find_keys(st)) == CMK_OK) {
		pthread_mutex_lock(&st->lock);
		t->priv = st->priv;
		t->pub = st->pub;
		pthread_mutex_unlock(&st->lock);
	}
	if (rc != CMK_OK) {
		if (t->s)
			p11_sess_put(st->tok, t->s, CKR_OK);
		free(t);
		return rc;
	}
	*out = t;
	return CMK_OK;
}

static void p11_thread_fini(bench_case *c, void *vt)
{
	p11_state *st = c->state;
	p11_thread *t = vt;
	p11_sess_put(st->tok, t->s, t->last);
	free(t);
}

static cmk_rc decrypt_one(bench_case *c, void *vt)
{
	p11_state *st = c->state;
	p11_thread *t = vt;
	p11_mod *m = p11_tok_mod(st->tok);
	uint8_t out[1024];
	CK_ULONG len = sizeof out;
	CK_RV rv = p11_C_DecryptInit(m, t->s->h, &st->mech, t->priv);
	if (rv == CKR_OK)
		rv = p11_C_Decrypt(m, t->s->h, c->env->ct, c->env->ctlen, out, &len);
	cmk_wipe(out, sizeof out);
	t->last = rv;
	return rv == CKR_OK ? CMK_OK : p11_fail(rv, p11_tok_what(st->tok), "C_Decrypt");
}

static cmk_rc encrypt_one(bench_case *c, void *vt)
{
	p11_state *st = c->state;
	p11_thread *t = vt;
	bench_env *e = c->env;
	p11_mod *m = p11_tok_mod(st->tok);
	uint8_t out[1024];
	CK_ULONG len = sizeof out;
	/* raw RSA takes a whole block below the modulus: the wrapped key is one */
	const uint8_t *in = e->native ? e->dek : e->ct;
	CK_ULONG inlen = e->native ? sizeof e->dek : e->ctlen;
	CK_RV rv = p11_C_EncryptInit(m, t->s->h, &st->mech, t->pub);
	if (rv == CKR_OK)
		rv = p11_C_Encrypt(m, t->s->h, (CK_BYTE_PTR)in, inlen, out, &len);
	t->last = rv;
	return rv == CKR_OK ? CMK_OK : p11_fail(rv, p11_tok_what(st->tok), "C_Encrypt");
}

/* C_GenerateKeyPair of a token key pair like a key version, then destroy. */
static cmk_rc keygen_one(bench_case *c, void *t)
{
	bench_env *e = c->env;
	uint8_t id[P11_ID_LEN];
	CK_OBJECT_HANDLE priv, pub;
	char label[64];
	if (RAND_bytes(id, sizeof id) != 1)
		return cmk_err(CMK_E_INTERNAL, "no random bytes");
	snprintf(label, sizeof label, "%s-keygen", e->tag);
	p11_rsa_flags f = { 1, 1 };
	CMK_TRY(p11_rsa_generate(e->ctx->tok, cmk_key_bits(e->key), id, label, f, &priv, &pub));
	cmk_rc rc = p11_destroy(e->ctx->tok, priv);
	cmk_rc rc2 = p11_destroy(e->ctx->tok, pub);
	return rc != CMK_OK ? rc : rc2;
}

const bench_kind bench_kind_p11_decrypt = {
	.name = "p11-decrypt", .group = "limits", .cls = CMK_BENCH_HSM,
	.what = "C_DecryptInit + C_Decrypt on one session per thread",
	.setup = p11_setup, .teardown = p11_teardown,
	.thread_init = p11_thread_init, .thread_fini = p11_thread_fini,
	.one = decrypt_one,
};

const bench_kind bench_kind_p11_encrypt = {
	.name = "p11-encrypt", .group = "limits", .cls = CMK_BENCH_HSM,
	.what = "C_EncryptInit + C_Encrypt with the public key object, one session per thread",
	.setup = p11_setup, .teardown = p11_teardown,
	.thread_init = p11_thread_init, .thread_fini = p11_thread_fini,
	.one = encrypt_one,
};

const bench_kind bench_kind_p11_keygen = {
	.name = "p11-keygen", .group = "limits", .cls = CMK_BENCH_HSM,
	.what = "C_GenerateKeyPair of a token RSA key pair, then C_DestroyObject of both",
	.slow = 1,
	.one = keygen_one,
};
