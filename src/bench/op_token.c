/* op_token.c - a token without a vault (cmk bench --module --token): the
 * PKCS#11 limits on session objects only, so nothing is written to the
 * token and nothing is left on it (session objects go with their session,
 * at the latest when the process ends).
 *
 * Each process makes, on first use, an RSA key pair of --key-size bits
 * (private, sensitive, not extractable) and an AES-256 key, as session
 * objects held by one session it keeps open; a forked process makes its own
 * (after fork() the parent's session objects are not the child's).  The
 * operations: C_Encrypt and C_Decrypt with CKM_RSA_PKCS_OAEP (the run's
 * hash) and with CKM_RSA_X_509, C_WrapKey of the AES key and C_UnwrapKey
 * into a new AES-256 session key (then destroyed) with RSA-OAEP, so the
 * data key never leaves the token, and AES-256-GCM on the token over 16 KiB.
 * What the token does not offer is skipped, with the reason; each is
 * compared with the same operation in plain OpenSSL (op_ossl.c). */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include "bench/bench_int.h"

#define GCM_BLOCK 16384

typedef struct tok_pair {
	unsigned gen;
	int ready;
	CK_SESSION_HANDLE s; /* holds the session objects */
	CK_OBJECT_HANDLE priv, pub, aes;
	CK_RSA_PKCS_OAEP_PARAMS oaep;
	uint8_t ct[1024]; /* the run's dek under pub, RSA-OAEP */
	size_t ctlen;
	uint8_t wrapped[1024]; /* aes under pub (C_WrapKey) */
	CK_ULONG wlen;
	char no_oaep[200], no_raw[200], no_wrap[200], no_gcm[200]; /* "" or why not */
} tok_pair;

typedef struct tok_thread {
	CK_SESSION_HANDLE s;
	tok_pair p; /* a copy, for this process */
	uint8_t iv[12];
	uint8_t *buf;
} tok_thread;

/* The run's dek wrapped with RSA-OAEP under the public key, by OpenSSL. */
static cmk_rc encrypt_soft(bench_env *e, CK_FUNCTION_LIST *fn, tok_pair *p)
{
	uint8_t n[1024], x[16];
	CK_ATTRIBUTE a[] = { { CKA_MODULUS, n, sizeof n }, { CKA_PUBLIC_EXPONENT, x, sizeof x } };
	CK_RV rv = fn->C_GetAttributeValue(p->s, p->pub, a, 2);
	if (rv != CKR_OK)
		return btok_fail(e->tok, rv, "C_GetAttributeValue of the public key");
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	BIGNUM *bn = BN_bin2bn(n, (int)a[0].ulValueLen, NULL),
	       *be = BN_bin2bn(x, (int)a[1].ulValueLen, NULL);
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *fc = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL), *ec = NULL;
	EVP_PKEY *pk = NULL;
	int ok = b && bn && be && OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn) &&
		 OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, be) &&
		 (params = OSSL_PARAM_BLD_to_param(b)) && fc && EVP_PKEY_fromdata_init(fc) > 0 &&
		 EVP_PKEY_fromdata(fc, &pk, EVP_PKEY_PUBLIC_KEY, params) > 0 &&
		 (ec = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) &&
		 EVP_PKEY_encrypt_init(ec) > 0 &&
		 EVP_PKEY_CTX_set_rsa_padding(ec, RSA_PKCS1_OAEP_PADDING) > 0 &&
		 EVP_PKEY_CTX_set_rsa_oaep_md_name(ec, e->md, NULL) > 0 &&
		 EVP_PKEY_CTX_set_rsa_mgf1_md_name(ec, e->md, NULL) > 0 &&
		 (p->ctlen = sizeof p->ct,
		  EVP_PKEY_encrypt(ec, p->ct, &p->ctlen, e->dek, sizeof e->dek) > 0);
	EVP_PKEY_CTX_free(ec);
	EVP_PKEY_CTX_free(fc);
	EVP_PKEY_free(pk);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	BN_free(bn);
	BN_free(be);
	ERR_clear_error();
	return ok ? CMK_OK
		  : bench_err(CMK_E_INTERNAL, "OpenSSL: RSA-OAEP encryption with the "
					      "token's public key failed");
}

static void why(char *buf, size_t len, bench_env *e, const char *what, CK_RV rv)
{
	snprintf(buf, len, "not available: token %s refuses %s (%s)", e->rep->token, what,
		 btok_rv_name(rv));
}

/* Make this process's key pair and AES key; probe what the token offers. */
static cmk_rc make_pair(bench_env *e, tok_pair *p)
{
	bench_tok *t = e->tok;
	CK_FUNCTION_LIST *fn = btok_fn(t);
	memset(p, 0, sizeof *p);
	BENCH_TRY(btok_session(t, &p->s));
	CK_ULONG bits = e->rep->key_bits, aes_len = 32;
	CK_BYTE exp[] = { 1, 0, 1 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
	CK_KEY_TYPE aes = CKK_AES;
	char label[80];
	snprintf(label, sizeof label, "%s-session", e->tag);
	CK_ATTRIBUTE pub[] = {
		{ CKA_TOKEN, &no, 1 },
		{ CKA_MODULUS_BITS, &bits, sizeof bits },
		{ CKA_PUBLIC_EXPONENT, exp, sizeof exp },
		{ CKA_ENCRYPT, &yes, 1 },
		{ CKA_WRAP, &yes, 1 },
		{ CKA_LABEL, label, strlen(label) },
	};
	CK_ATTRIBUTE priv[] = {
		{ CKA_TOKEN, &no, 1 },
		{ CKA_PRIVATE, &yes, 1 },
		{ CKA_SENSITIVE, &yes, 1 },
		{ CKA_EXTRACTABLE, &no, 1 },
		{ CKA_DECRYPT, &yes, 1 },
		{ CKA_UNWRAP, &yes, 1 },
		{ CKA_LABEL, label, strlen(label) },
	};
	CK_ATTRIBUTE sec[] = {
		{ CKA_CLASS, &secret, sizeof secret },
		{ CKA_KEY_TYPE, &aes, sizeof aes },
		{ CKA_TOKEN, &no, 1 },
		{ CKA_VALUE_LEN, &aes_len, sizeof aes_len },
		{ CKA_ENCRYPT, &yes, 1 },
		{ CKA_EXTRACTABLE, &yes, 1 },
		{ CKA_SENSITIVE, &yes, 1 },
		{ CKA_LABEL, label, strlen(label) },
	};
	CK_MECHANISM kp = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_MECHANISM kg = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_RV rv = fn->C_GenerateKeyPair(p->s, &kp, pub, 6, priv, 7, &p->pub, &p->priv);
	if (rv != CKR_OK)
		return btok_fail(t, rv, "C_GenerateKeyPair of a session key pair");
	BENCH_TRY(encrypt_soft(e, fn, p));
	btok_oaep_params(e->md, &p->oaep);
	CK_MECHANISM oaep = { CKM_RSA_PKCS_OAEP, &p->oaep, sizeof p->oaep };
	uint8_t out[1024];
	CK_ULONG len = sizeof out;
	char what[80];
	snprintf(what, sizeof what, "CKM_RSA_PKCS_OAEP with %s", e->md);
	if ((rv = fn->C_DecryptInit(p->s, &oaep, p->priv)) == CKR_OK)
		rv = fn->C_Decrypt(p->s, p->ct, p->ctlen, out, &len);
	if (rv != CKR_OK)
		why(p->no_oaep, sizeof p->no_oaep, e, what, rv);
	else if (bench_check_dek(e, out, len, "C_Decrypt with CKM_RSA_PKCS_OAEP") != CMK_OK)
		snprintf(p->no_oaep, sizeof p->no_oaep, "%s", bench_last_error());
	CK_MECHANISM raw = { CKM_RSA_X_509, NULL, 0 };
	len = sizeof out;
	if ((rv = fn->C_DecryptInit(p->s, &raw, p->priv)) == CKR_OK)
		rv = fn->C_Decrypt(p->s, p->ct, p->ctlen, out, &len);
	if (rv != CKR_OK)
		why(p->no_raw, sizeof p->no_raw, e, "CKM_RSA_X_509", rv);
	cmk_wipe(out, sizeof out);
	rv = fn->C_GenerateKey(p->s, &kg, sec, 8, &p->aes);
	if (rv != CKR_OK) {
		why(p->no_wrap, sizeof p->no_wrap, e, "CKM_AES_KEY_GEN", rv);
		snprintf(p->no_gcm, sizeof p->no_gcm, "%s", p->no_wrap);
	} else {
		p->wlen = sizeof p->wrapped;
		if ((rv = fn->C_WrapKey(p->s, &oaep, p->pub, p->aes, p->wrapped, &p->wlen)) !=
		    CKR_OK) {
			snprintf(what, sizeof what, "C_WrapKey with CKM_RSA_PKCS_OAEP with %s",
				 e->md);
			why(p->no_wrap, sizeof p->no_wrap, e, what, rv);
		}
		uint8_t iv[12] = { 0 }, in[16] = { 0 }, o2[64];
		CK_GCM_PARAMS g = { iv, sizeof iv, sizeof iv * 8, NULL, 0, 128 };
		CK_MECHANISM gm = { CKM_AES_GCM, &g, sizeof g };
		CK_ULONG l2 = sizeof o2;
		if ((rv = fn->C_EncryptInit(p->s, &gm, p->aes)) == CKR_OK)
			rv = fn->C_Encrypt(p->s, in, sizeof in, o2, &l2);
		if (rv != CKR_OK)
			why(p->no_gcm, sizeof p->no_gcm, e, "CKM_AES_GCM", rv);
	}
	p->gen = btok_gen(t);
	p->ready = 1;
	return CMK_OK;
}

/* This process's pair: made on first use, again in a forked process. */
static cmk_rc pair_get(bench_env *e, tok_pair *out)
{
	pthread_mutex_lock(&e->lock);
	tok_pair *p = e->pair;
	cmk_rc rc = CMK_OK;
	if (!p && !(p = e->pair = calloc(1, sizeof *p)))
		rc = bench_err(CMK_E_NOMEM, "out of memory");
	else if (!p->ready || p->gen != btok_gen(e->tok)) {
		bench_progress(e, "making a session key pair on token %s", e->rep->token);
		if ((rc = make_pair(e, p)) != CMK_OK)
			p->ready = 0;
	}
	if (rc == CMK_OK)
		*out = *p;
	pthread_mutex_unlock(&e->lock);
	return rc;
}

void bench_token_env_free(bench_env *e)
{
	tok_pair *p = e->pair;
	if (!p)
		return;
	if (p->ready && p->gen == btok_gen(e->tok))
		btok_session_close(e->tok, p->s); /* and with it its objects */
	free(p);
	e->pair = NULL;
}

/* What a kind needs: the reason it cannot run, or "". */
static const char *missing(const bench_case *c, const tok_pair *p);

static cmk_rc tok_setup(bench_case *c)
{
	tok_pair p;
	BENCH_TRY(pair_get(c->env, &p));
	const char *no = missing(c, &p);
	if (*no)
		bench_skip(c, "%s", no);
	return CMK_OK;
}

static cmk_rc tok_thread_init(bench_case *c, unsigned idx, void **out)
{
	tok_thread *t = calloc(1, sizeof *t);
	if (!t)
		return bench_err(CMK_E_NOMEM, "out of memory");
	cmk_rc rc = pair_get(c->env, &t->p);
	if (rc == CMK_OK && *missing(c, &t->p))
		rc = bench_err(CMK_E_P11, "%s", missing(c, &t->p));
	if (rc == CMK_OK)
		rc = btok_session(c->env->tok, &t->s);
	if (rc == CMK_OK && !(t->buf = calloc(1, GCM_BLOCK + 64)))
		rc = bench_err(CMK_E_NOMEM, "out of memory");
	if (rc == CMK_OK && RAND_bytes(t->iv, sizeof t->iv) != 1)
		rc = bench_err(CMK_E_INTERNAL, "no random bytes");
	if (rc != CMK_OK) {
		free(t->buf);
		free(t);
		return rc;
	}
	*out = t;
	return CMK_OK;
}

static void tok_thread_fini(bench_case *c, void *vt)
{
	tok_thread *t = vt;
	btok_session_close(c->env->tok, t->s);
	free(t->buf);
	free(t);
}

static cmk_rc rsa_op(bench_case *c, tok_thread *t, int oaep, int decrypt)
{
	bench_env *e = c->env;
	CK_FUNCTION_LIST *fn = btok_fn(e->tok);
	CK_MECHANISM m = { oaep ? CKM_RSA_PKCS_OAEP : CKM_RSA_X_509, oaep ? &t->p.oaep : NULL,
			   oaep ? sizeof t->p.oaep : 0 };
	uint8_t out[1024];
	CK_ULONG len = sizeof out;
	CK_RV rv;
	if (decrypt) {
		if ((rv = fn->C_DecryptInit(t->s, &m, t->p.priv)) == CKR_OK)
			rv = fn->C_Decrypt(t->s, t->p.ct, t->p.ctlen, out, &len);
	} else {
		/* OAEP: the dek; raw: a whole block below the modulus, the ciphertext */
		if ((rv = fn->C_EncryptInit(t->s, &m, t->p.pub)) == CKR_OK)
			rv = fn->C_Encrypt(t->s, oaep ? e->dek : t->p.ct,
					   oaep ? sizeof e->dek : t->p.ctlen, out, &len);
	}
	if (rv != CKR_OK)
		return btok_fail(e->tok, rv, decrypt ? "C_Decrypt" : "C_Encrypt");
	cmk_rc rc = decrypt && oaep ? bench_check_dek(e, out, len, "C_Decrypt") : CMK_OK;
	cmk_wipe(out, sizeof out);
	return rc;
}

static cmk_rc enc_oaep_one(bench_case *c, void *t)
{
	return rsa_op(c, t, 1, 0);
}
static cmk_rc dec_oaep_one(bench_case *c, void *t)
{
	return rsa_op(c, t, 1, 1);
}
static cmk_rc enc_raw_one(bench_case *c, void *t)
{
	return rsa_op(c, t, 0, 0);
}
static cmk_rc dec_raw_one(bench_case *c, void *t)
{
	return rsa_op(c, t, 0, 1);
}

static cmk_rc wrap_one(bench_case *c, void *vt)
{
	tok_thread *t = vt;
	CK_FUNCTION_LIST *fn = btok_fn(c->env->tok);
	CK_MECHANISM m = { CKM_RSA_PKCS_OAEP, &t->p.oaep, sizeof t->p.oaep };
	uint8_t out[1024];
	CK_ULONG len = sizeof out;
	CK_RV rv = fn->C_WrapKey(t->s, &m, t->p.pub, t->p.aes, out, &len);
	return rv == CKR_OK ? CMK_OK : btok_fail(c->env->tok, rv, "C_WrapKey");
}

/* C_UnwrapKey into a new AES-256 session key, sensitive and not
 * extractable; then destroyed, so keys do not pile up. */
static cmk_rc unwrap_one(bench_case *c, void *vt)
{
	tok_thread *t = vt;
	CK_FUNCTION_LIST *fn = btok_fn(c->env->tok);
	CK_MECHANISM m = { CKM_RSA_PKCS_OAEP, &t->p.oaep, sizeof t->p.oaep };
	CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
	CK_KEY_TYPE aes = CKK_AES;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &secret, sizeof secret },
		{ CKA_KEY_TYPE, &aes, sizeof aes },
		{ CKA_TOKEN, &no, 1 },
		{ CKA_SENSITIVE, &yes, 1 },
		{ CKA_EXTRACTABLE, &no, 1 },
		{ CKA_ENCRYPT, &yes, 1 },
		{ CKA_DECRYPT, &yes, 1 },
	};
	CK_OBJECT_HANDLE k;
	CK_RV rv = fn->C_UnwrapKey(t->s, &m, t->p.priv, t->p.wrapped, t->p.wlen, tmpl, 7, &k);
	if (rv != CKR_OK)
		return btok_fail(c->env->tok, rv, "C_UnwrapKey");
	rv = fn->C_DestroyObject(t->s, k);
	return rv == CKR_OK ? CMK_OK : btok_fail(c->env->tok, rv, "C_DestroyObject");
}

static cmk_rc gcm_one(bench_case *c, void *vt)
{
	tok_thread *t = vt;
	CK_FUNCTION_LIST *fn = btok_fn(c->env->tok);
	for (int i = 11; i >= 0 && ++t->iv[i] == 0; i--)
		; /* a new nonce per message */
	CK_GCM_PARAMS g = { t->iv, sizeof t->iv, sizeof t->iv * 8, NULL, 0, 128 };
	CK_MECHANISM m = { CKM_AES_GCM, &g, sizeof g };
	CK_ULONG len = GCM_BLOCK + 64;
	CK_RV rv = fn->C_EncryptInit(t->s, &m, t->p.aes);
	if (rv == CKR_OK)
		rv = fn->C_Encrypt(t->s, t->buf, GCM_BLOCK, t->buf, &len);
	return rv == CKR_OK ? CMK_OK : btok_fail(c->env->tok, rv, "C_Encrypt with CKM_AES_GCM");
}

/* C_GenerateKeyPair of a session RSA key pair, then C_DestroyObject of both. */
static cmk_rc keygen_one(bench_case *c, void *vt)
{
	tok_thread *t = vt;
	bench_env *e = c->env;
	CK_FUNCTION_LIST *fn = btok_fn(e->tok);
	CK_ULONG bits = e->rep->key_bits;
	CK_BYTE exp[] = { 1, 0, 1 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE pub[] = {
		{ CKA_TOKEN, &no, 1 },
		{ CKA_MODULUS_BITS, &bits, sizeof bits },
		{ CKA_PUBLIC_EXPONENT, exp, sizeof exp },
		{ CKA_ENCRYPT, &yes, 1 },
	};
	CK_ATTRIBUTE priv[] = {
		{ CKA_TOKEN, &no, 1 },	     { CKA_PRIVATE, &yes, 1 }, { CKA_SENSITIVE, &yes, 1 },
		{ CKA_EXTRACTABLE, &no, 1 }, { CKA_DECRYPT, &yes, 1 },
	};
	CK_MECHANISM m = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_OBJECT_HANDLE hpub, hpriv;
	CK_RV rv = fn->C_GenerateKeyPair(t->s, &m, pub, 4, priv, 5, &hpub, &hpriv);
	if (rv != CKR_OK)
		return btok_fail(e->tok, rv, "C_GenerateKeyPair");
	CK_RV r1 = fn->C_DestroyObject(t->s, hpriv), r2 = fn->C_DestroyObject(t->s, hpub);
	return r1 != CKR_OK || r2 != CKR_OK
		       ? btok_fail(e->tok, r1 != CKR_OK ? r1 : r2, "C_DestroyObject")
		       : CMK_OK;
}

#define TOK_KIND(var, nm, fn, w, cpu, ...)                       \
	const bench_kind var = { .name = nm,                     \
				 .group = "token",               \
				 .cls = BENCH_HSM,               \
				 .what = w,                      \
				 .cpu_limit = cpu,               \
				 .modes = BENCH_TOKEN,           \
				 .setup = tok_setup,             \
				 .thread_init = tok_thread_init, \
				 .thread_fini = tok_thread_fini, \
				 .one = fn,                      \
				 __VA_ARGS__ }

TOK_KIND(bench_kind_tok_enc_oaep, "p11-encrypt-oaep", enc_oaep_one,
	 "C_EncryptInit + C_Encrypt of 32 bytes, CKM_RSA_PKCS_OAEP, session public key",
	 "ossl-encrypt");
TOK_KIND(bench_kind_tok_dec_oaep, "p11-decrypt-oaep", dec_oaep_one,
	 "C_DecryptInit + C_Decrypt, CKM_RSA_PKCS_OAEP, session private key", "ossl-decrypt");
TOK_KIND(bench_kind_tok_enc_raw, "p11-encrypt-raw", enc_raw_one,
	 "C_EncryptInit + C_Encrypt of a block, CKM_RSA_X_509, session public key", NULL);
TOK_KIND(bench_kind_tok_dec_raw, "p11-decrypt-raw", dec_raw_one,
	 "C_DecryptInit + C_Decrypt, CKM_RSA_X_509 (raw RSA), session private key", "ossl-decrypt");
TOK_KIND(bench_kind_tok_wrap, "p11-wrap", wrap_one,
	 "C_WrapKey of an AES-256 session key, CKM_RSA_PKCS_OAEP", "ossl-encrypt");
TOK_KIND(bench_kind_tok_unwrap, "p11-unwrap", unwrap_one,
	 "C_UnwrapKey into an AES-256 session key (CKM_RSA_PKCS_OAEP), then C_DestroyObject",
	 "ossl-decrypt");
TOK_KIND(bench_kind_tok_gcm, "p11-aes-gcm-16K", gcm_one,
	 "C_EncryptInit + C_Encrypt of 16 KiB, CKM_AES_GCM, a new IV each, session AES key",
	 "ossl-aes-gcm-16K", .sized = 3, .bytes = GCM_BLOCK);
TOK_KIND(bench_kind_tok_keygen, "p11-keygen", keygen_one,
	 "C_GenerateKeyPair of a session RSA key pair, then C_DestroyObject of both", NULL,
	 .slow = 1);

static const char *missing(const bench_case *c, const tok_pair *p)
{
	const bench_kind *k = c->k;
	if (k == &bench_kind_tok_enc_oaep || k == &bench_kind_tok_dec_oaep)
		return p->no_oaep;
	if (k == &bench_kind_tok_enc_raw || k == &bench_kind_tok_dec_raw)
		return p->no_raw;
	if (k == &bench_kind_tok_wrap || k == &bench_kind_tok_unwrap)
		return p->no_wrap;
	if (k == &bench_kind_tok_gcm)
		return p->no_gcm;
	return "";
}
