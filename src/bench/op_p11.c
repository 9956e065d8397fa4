/* op_p11.c - the HSM limit of a vault's run: bare PKCS#11 calls on the
 * same token and the same key, through the benchmark's own connection to
 * the token (p11.c).
 *
 * Each thread opens a session for the measurement and loops C_DecryptInit +
 * C_Decrypt (or C_EncryptInit + C_Encrypt with the public key object) with
 * the mechanism cmk uses for the key's OAEP hash: CKM_RSA_PKCS_OAEP when the
 * token does that hash (plan.c probes it), else CKM_RSA_X_509.  The key pair
 * is the measured version's: CKA_ID holds the version's 16 bytes (cmk.h,
 * cmk_key_open).  Nothing else happens in the loop, so this is what the
 * token can do. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>
#include "bench/bench_int.h"

typedef struct p11_state {
	pthread_mutex_t lock; /* guards the handles below */
	CK_OBJECT_HANDLE priv, pub;
	unsigned gen; /* btok_gen when they were found */
	int found;
	CK_RSA_PKCS_OAEP_PARAMS oaep;
	CK_MECHANISM mech;
} p11_state;

typedef struct p11_thread {
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE priv, pub;
} p11_thread;

/* The key pair of the measured version, in session s. */
static cmk_rc find_pair(bench_env *e, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *priv,
			CK_OBJECT_HANDLE *pub)
{
	CK_OBJECT_CLASS cls[2] = { CKO_PRIVATE_KEY, CKO_PUBLIC_KEY };
	CK_BBOOL yes = CK_TRUE;
	CK_OBJECT_HANDLE *out[2] = { priv, pub };
	for (int i = 0; i < 2; i++) {
		CK_ATTRIBUTE t[] = {
			{ CKA_CLASS, &cls[i], sizeof cls[i] },
			{ CKA_ID, e->key_id, sizeof e->key_id },
			{ i ? CKA_ENCRYPT : CKA_DECRYPT, &yes, sizeof yes },
		};
		CK_OBJECT_HANDLE *h;
		size_t n;
		BENCH_TRY(btok_find(e->tok, s, t, 3, &h, &n));
		*out[i] = n ? h[0] : CK_INVALID_HANDLE;
		free(h);
		if (!n)
			return bench_err(CMK_E_NOT_FOUND,
					 "token %s has no %s key with the CKA_ID of %s",
					 e->rep->token, i ? "public" : "private", e->rep->key);
	}
	return CMK_OK;
}

/* Probe: does the token do OAEP with the run's hash on this key itself? */
int bench_p11_native(bench_env *e)
{
	CK_SESSION_HANDLE s;
	if (!e->tok || btok_session(e->tok, &s) != CMK_OK)
		return 0;
	CK_FUNCTION_LIST *fn = btok_fn(e->tok);
	CK_OBJECT_HANDLE priv, pub;
	CK_RSA_PKCS_OAEP_PARAMS p;
	btok_oaep_params(e->md, &p);
	CK_MECHANISM m = { CKM_RSA_PKCS_OAEP, &p, sizeof p };
	uint8_t out[1024];
	CK_ULONG len = sizeof out;
	int ok = find_pair(e, s, &priv, &pub) == CMK_OK &&
		 fn->C_DecryptInit(s, &m, priv) == CKR_OK &&
		 fn->C_Decrypt(s, e->ct, e->ctlen, out, &len) == CKR_OK && len == sizeof e->dek &&
		 !memcmp(out, e->dek, len);
	cmk_wipe(out, sizeof out);
	btok_session_close(e->tok, s);
	return ok;
}

static cmk_rc p11_setup(bench_case *c)
{
	bench_env *e = c->env;
	if (!e->tok) {
		bench_skip(c, "not available: %s", e->tok_err);
		return CMK_OK;
	}
	p11_state *st = calloc(1, sizeof *st);
	if (!st)
		return bench_err(CMK_E_NOMEM, "out of memory");
	pthread_mutex_init(&st->lock, NULL);
	if (e->native) {
		btok_oaep_params(e->md, &st->oaep);
		st->mech = (CK_MECHANISM){ CKM_RSA_PKCS_OAEP, &st->oaep, sizeof st->oaep };
	} else {
		st->mech = (CK_MECHANISM){ CKM_RSA_X_509, NULL, 0 };
	}
	c->state = st;
	return CMK_OK;
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
	bench_env *e = c->env;
	p11_thread *t = calloc(1, sizeof *t);
	if (!t)
		return bench_err(CMK_E_NOMEM, "out of memory");
	cmk_rc rc = btok_session(e->tok, &t->s); /* initialises again after fork */
	if (rc != CMK_OK) {
		free(t);
		return rc;
	}
	/* object handles are the same in every session of a process */
	pthread_mutex_lock(&st->lock);
	unsigned gen = btok_gen(e->tok);
	if (!st->found || st->gen != gen) {
		rc = find_pair(e, t->s, &st->priv, &st->pub);
		st->found = rc == CMK_OK;
		st->gen = gen;
	}
	t->priv = st->priv;
	t->pub = st->pub;
	pthread_mutex_unlock(&st->lock);
	if (rc != CMK_OK) {
		btok_session_close(e->tok, t->s);
		free(t);
		return rc;
	}
	*out = t;
	return CMK_OK;
}

static void p11_thread_fini(bench_case *c, void *vt)
{
	p11_thread *t = vt;
	btok_session_close(c->env->tok, t->s);
	free(t);
}

static cmk_rc decrypt_one(bench_case *c, void *vt)
{
	p11_state *st = c->state;
	p11_thread *t = vt;
	CK_FUNCTION_LIST *fn = btok_fn(c->env->tok);
	uint8_t out[1024];
	CK_ULONG len = sizeof out;
	CK_RV rv = fn->C_DecryptInit(t->s, &st->mech, t->priv);
	if (rv == CKR_OK)
		rv = fn->C_Decrypt(t->s, c->env->ct, c->env->ctlen, out, &len);
	cmk_wipe(out, sizeof out);
	return rv == CKR_OK ? CMK_OK : btok_fail(c->env->tok, rv, "C_Decrypt");
}

static cmk_rc encrypt_one(bench_case *c, void *vt)
{
	p11_state *st = c->state;
	p11_thread *t = vt;
	bench_env *e = c->env;
	CK_FUNCTION_LIST *fn = btok_fn(e->tok);
	uint8_t out[1024];
	CK_ULONG len = sizeof out;
	/* raw RSA takes a whole block below the modulus: the wrapped key is one */
	const uint8_t *in = e->native ? e->dek : e->ct;
	CK_ULONG inlen = e->native ? sizeof e->dek : e->ctlen;
	CK_RV rv = fn->C_EncryptInit(t->s, &st->mech, t->pub);
	if (rv == CKR_OK)
		rv = fn->C_Encrypt(t->s, (CK_BYTE_PTR)in, inlen, out, &len);
	return rv == CKR_OK ? CMK_OK : btok_fail(e->tok, rv, "C_Encrypt");
}

/* The label of the key pairs p11-keygen makes: TAG-keygen. */
static void keygen_label(const bench_env *e, char *buf, size_t len)
{
	snprintf(buf, len, "%s-keygen", e->tag);
}

static cmk_rc keygen_setup(bench_case *c)
{
	if (!c->env->tok)
		bench_skip(c, "not available: %s", c->env->tok_err);
	return CMK_OK;
}

static cmk_rc keygen_thread_init(bench_case *c, unsigned idx, void **out)
{
	p11_thread *t = calloc(1, sizeof *t);
	if (!t)
		return bench_err(CMK_E_NOMEM, "out of memory");
	cmk_rc rc = btok_session(c->env->tok, &t->s);
	if (rc != CMK_OK) {
		free(t);
		return rc;
	}
	*out = t;
	return CMK_OK;
}

/* C_GenerateKeyPair of a token key pair like a key version's (private,
 * sensitive, not extractable), then C_DestroyObject of both. */
static cmk_rc keygen_one(bench_case *c, void *vt)
{
	bench_env *e = c->env;
	p11_thread *t = vt;
	CK_FUNCTION_LIST *fn = btok_fn(e->tok);
	uint8_t id[16];
	char label[80];
	if (RAND_bytes(id, sizeof id) != 1)
		return bench_err(CMK_E_INTERNAL, "no random bytes");
	keygen_label(e, label, sizeof label);
	CK_ULONG bits = cmk_key_bits(e->key);
	CK_BYTE exp[] = { 1, 0, 1 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE pub[] = {
		{ CKA_TOKEN, &yes, 1 },
		{ CKA_MODULUS_BITS, &bits, sizeof bits },
		{ CKA_PUBLIC_EXPONENT, exp, sizeof exp },
		{ CKA_ENCRYPT, &yes, 1 },
		{ CKA_ID, id, sizeof id },
		{ CKA_LABEL, label, strlen(label) },
	};
	CK_ATTRIBUTE priv[] = {
		{ CKA_TOKEN, &yes, 1 },
		{ CKA_PRIVATE, &yes, 1 },
		{ CKA_SENSITIVE, &yes, 1 },
		{ CKA_EXTRACTABLE, &no, 1 },
		{ CKA_DECRYPT, &yes, 1 },
		{ CKA_ID, id, sizeof id },
		{ CKA_LABEL, label, strlen(label) },
	};
	CK_MECHANISM m = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_OBJECT_HANDLE hpub, hpriv;
	CK_RV rv = fn->C_GenerateKeyPair(t->s, &m, pub, 6, priv, 7, &hpub, &hpriv);
	if (rv != CKR_OK)
		return btok_fail(e->tok, rv, "C_GenerateKeyPair");
	CK_RV r1 = fn->C_DestroyObject(t->s, hpriv), r2 = fn->C_DestroyObject(t->s, hpub);
	if (r1 != CKR_OK || r2 != CKR_OK)
		return btok_fail(e->tok, r1 != CKR_OK ? r1 : r2, "C_DestroyObject");
	return CMK_OK;
}

/* Key pairs a killed run's p11-keygen left on the token (TAG-keygen of a
 * run that is gone, keys.c): destroyed at the start of the next run. */
void bench_p11_clean_up(bench_env *e)
{
	CK_SESSION_HANDLE s;
	if (!e->tok || btok_session(e->tok, &s) != CMK_OK)
		return;
	CK_FUNCTION_LIST *fn = btok_fn(e->tok);
	CK_OBJECT_CLASS cls[2] = { CKO_PRIVATE_KEY, CKO_PUBLIC_KEY };
	for (int i = 0; i < 2; i++) {
		CK_ATTRIBUTE t = { CKA_CLASS, &cls[i], sizeof cls[i] };
		CK_OBJECT_HANDLE *h;
		size_t n;
		if (btok_find(e->tok, s, &t, 1, &h, &n) != CMK_OK)
			continue;
		for (size_t j = 0; j < n; j++) {
			char label[129] = "";
			CK_ATTRIBUTE a = { CKA_LABEL, label, sizeof label - 1 };
			if (fn->C_GetAttributeValue(s, h[j], &a, 1) != CKR_OK ||
			    a.ulValueLen >= sizeof label)
				continue;
			label[a.ulValueLen] = '\0';
			size_t l = strlen(label);
			if (l > 7 && !strcmp(label + l - 7, "-keygen") && bench_tag_dead(label))
				fn->C_DestroyObject(s, h[j]);
		}
		free(h);
	}
	btok_session_close(e->tok, s);
}

const bench_kind bench_kind_p11_decrypt = {
	.name = "p11-decrypt",
	.group = "limits",
	.cls = BENCH_HSM,
	.what = "C_DecryptInit + C_Decrypt on one session per thread",
	.setup = p11_setup,
	.teardown = p11_teardown,
	.thread_init = p11_thread_init,
	.thread_fini = p11_thread_fini,
	.one = decrypt_one,
};

const bench_kind bench_kind_p11_encrypt = {
	.name = "p11-encrypt",
	.group = "limits",
	.cls = BENCH_HSM,
	.what = "C_EncryptInit + C_Encrypt with the public key object, one session per thread",
	.setup = p11_setup,
	.teardown = p11_teardown,
	.thread_init = p11_thread_init,
	.thread_fini = p11_thread_fini,
	.one = encrypt_one,
};

const bench_kind bench_kind_p11_keygen = {
	.name = "p11-keygen",
	.group = "limits",
	.cls = BENCH_HSM,
	.what = "C_GenerateKeyPair of a token RSA key pair, then C_DestroyObject of both",
	.slow = 1,
	.setup = keygen_setup,
	.thread_init = keygen_thread_init,
	.thread_fini = p11_thread_fini,
	.one = keygen_one,
};
