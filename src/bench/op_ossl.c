/* op_ossl.c - the CPU limit: the same operations in plain OpenSSL.
 *
 * A software RSA key of the same size (made once per run, shared by all
 * threads as the token key is), OAEP with the same digest; each thread
 * sets up its EVP_PKEY_CTX once and then only calls EVP_PKEY_decrypt or
 * EVP_PKEY_encrypt.  AES-256-GCM over 16 KiB blocks is the limit of the
 * envelope, as `openssl speed -evp aes-256-gcm` measures it. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include "bench/bench_int.h"

#define GCM_BLOCK 16384

typedef struct soft_key {
	EVP_PKEY *pk;
	uint8_t ct[1024];
	size_t ctlen;
} soft_key;

static cmk_rc ossl_fail(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[160] = "";
	if (e)
		ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	return bench_err(CMK_E_INTERNAL, "OpenSSL: %s failed%s%s", what, *buf ? ": " : "", buf);
}

static int set_oaep(EVP_PKEY_CTX *p, const char *md)
{
	return EVP_PKEY_CTX_set_rsa_padding(p, RSA_PKCS1_OAEP_PADDING) > 0 &&
	       EVP_PKEY_CTX_set_rsa_oaep_md_name(p, md, NULL) > 0 &&
	       EVP_PKEY_CTX_set_rsa_mgf1_md_name(p, md, NULL) > 0;
}

/* The run's software key, made on first use. */
static cmk_rc soft_get(bench_env *e, soft_key **out)
{
	pthread_mutex_lock(&e->lock);
	soft_key *s = e->soft;
	cmk_rc rc = CMK_OK;
	if (!s) {
		EVP_PKEY_CTX *p = NULL;
		if (!(s = calloc(1, sizeof *s)))
			rc = bench_err(CMK_E_NOMEM, "out of memory");
		else if (!(s->pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)e->rep->key_bits)))
			rc = ossl_fail("RSA key generation");
		else if (!(p = EVP_PKEY_CTX_new_from_pkey(NULL, s->pk, NULL)) ||
			 EVP_PKEY_encrypt_init(p) <= 0 || !set_oaep(p, e->md) ||
			 (s->ctlen = sizeof s->ct,
			  EVP_PKEY_encrypt(p, s->ct, &s->ctlen, e->dek, sizeof e->dek) <= 0))
			rc = ossl_fail("RSA-OAEP encryption");
		EVP_PKEY_CTX_free(p);
		if (rc == CMK_OK) {
			e->soft = s;
		} else if (s) {
			EVP_PKEY_free(s->pk);
			free(s);
			s = NULL;
		}
	}
	pthread_mutex_unlock(&e->lock);
	*out = s;
	return rc;
}

void bench_ossl_env_free(bench_env *e)
{
	soft_key *s = e->soft;
	if (s) {
		EVP_PKEY_free(s->pk);
		free(s);
		e->soft = NULL;
	}
}

static cmk_rc rsa_setup(bench_case *c)
{
	soft_key *s;
	BENCH_TRY(soft_get(c->env, &s));
	c->state = s;
	return CMK_OK;
}

/* A thread's EVP_PKEY_CTX for the software key s. */
static cmk_rc rsa_ctx_new(const bench_env *e, const soft_key *s, int decrypt, void **t)
{
	EVP_PKEY_CTX *p = EVP_PKEY_CTX_new_from_pkey(NULL, s->pk, NULL);
	if (!p || (decrypt ? EVP_PKEY_decrypt_init(p) : EVP_PKEY_encrypt_init(p)) <= 0 ||
	    !set_oaep(p, e->md)) {
		EVP_PKEY_CTX_free(p);
		return ossl_fail("RSA-OAEP set-up");
	}
	*t = p;
	return CMK_OK;
}

static cmk_rc dec_thread_init(bench_case *c, unsigned idx, void **t)
{
	return rsa_ctx_new(c->env, c->state, 1, t);
}

static cmk_rc enc_thread_init(bench_case *c, unsigned idx, void **t)
{
	return rsa_ctx_new(c->env, c->state, 0, t);
}

static void rsa_thread_fini(bench_case *c, void *t)
{
	EVP_PKEY_CTX_free(t);
}

static cmk_rc dec_one(bench_case *c, void *t)
{
	soft_key *s = c->state;
	uint8_t out[1024];
	size_t len = sizeof out;
	if (EVP_PKEY_decrypt(t, out, &len, s->ct, s->ctlen) <= 0)
		return ossl_fail("RSA-OAEP decryption");
	cmk_rc rc = bench_check_dek(c->env, out, len, "OpenSSL decryption");
	cmk_wipe(out, sizeof out);
	return rc;
}

static cmk_rc enc_one(bench_case *c, void *t)
{
	return bench_ossl_encrypt_one(c->env, t);
}

cmk_rc bench_ossl_encrypt_init(bench_env *e, void **t)
{
	soft_key *s;
	BENCH_TRY(soft_get(e, &s));
	return rsa_ctx_new(e, s, 0, t);
}

cmk_rc bench_ossl_encrypt_one(bench_env *e, void *t)
{
	uint8_t out[1024];
	size_t len = sizeof out;
	if (EVP_PKEY_encrypt(t, out, &len, e->dek, sizeof e->dek) <= 0)
		return ossl_fail("RSA-OAEP encryption");
	return CMK_OK;
}

void bench_ossl_encrypt_fini(void *t)
{
	EVP_PKEY_CTX_free(t);
}

/* ------------------------------------------------------------ AES-GCM */

typedef struct gcm_thread {
	EVP_CIPHER_CTX *c;
	uint8_t iv[12];
	size_t n; /* bytes per message */
	uint8_t *in, *out;
} gcm_thread;

static void gcm_thread_fini(bench_case *c, void *vt)
{
	gcm_thread *t = vt;
	EVP_CIPHER_CTX_free(t->c);
	free(t->in);
	free(t->out);
	free(t);
}

static cmk_rc gcm_thread_init(bench_case *c, unsigned idx, void **out)
{
	gcm_thread *t = calloc(1, sizeof *t);
	uint8_t key[32];
	EVP_CIPHER *aes = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	cmk_rc rc = CMK_OK;
	if (t) {
		t->n = c->size ? c->size : GCM_BLOCK;
		t->in = malloc(t->n);
		t->out = malloc(t->n + 16);
	}
	if (!t || !t->in || !t->out)
		rc = bench_err(CMK_E_NOMEM, "out of memory");
	else if (!aes || RAND_bytes(key, sizeof key) != 1 || RAND_bytes(t->in, (int)t->n) != 1 ||
		 !(t->c = EVP_CIPHER_CTX_new()) ||
		 !EVP_EncryptInit_ex2(t->c, aes, key, t->iv, NULL))
		rc = ossl_fail("AES-256-GCM set-up");
	EVP_CIPHER_free(aes);
	cmk_wipe(key, sizeof key);
	if (rc != CMK_OK) {
		if (t)
			gcm_thread_fini(c, t);
		return rc;
	}
	*out = t;
	return CMK_OK;
}

static cmk_rc gcm_one(bench_case *c, void *vt)
{
	gcm_thread *t = vt;
	uint8_t tag[16];
	int len = 0, fin = 0;
	t->iv[11]++; /* a new nonce per message, as a sealer does */
	if (!EVP_EncryptInit_ex2(t->c, NULL, NULL, t->iv, NULL) ||
	    !EVP_EncryptUpdate(t->c, t->out, &len, t->in, (int)t->n) ||
	    !EVP_EncryptFinal_ex(t->c, t->out + len, &fin) ||
	    !EVP_CIPHER_CTX_ctrl(t->c, EVP_CTRL_GCM_GET_TAG, sizeof tag, tag))
		return ossl_fail("AES-256-GCM encryption");
	return CMK_OK;
}

const bench_kind bench_kind_ossl_decrypt = {
	.name = "ossl-decrypt",
	.group = "limits",
	.cls = BENCH_CPU,
	.what = "EVP_PKEY_decrypt RSA-OAEP with a software key, one EVP_PKEY_CTX per thread",
	.setup = rsa_setup,
	.thread_init = dec_thread_init,
	.thread_fini = rsa_thread_fini,
	.one = dec_one,
};

const bench_kind bench_kind_ossl_encrypt = {
	.name = "ossl-encrypt",
	.group = "limits",
	.cls = BENCH_CPU,
	.what = "EVP_PKEY_encrypt RSA-OAEP with a software key, one EVP_PKEY_CTX per thread",
	.setup = rsa_setup,
	.thread_init = enc_thread_init,
	.thread_fini = rsa_thread_fini,
	.one = enc_one,
};

const bench_kind bench_kind_ossl_aes_gcm = {
	.name = "ossl-aes-gcm-16K",
	.group = "limits",
	.cls = BENCH_CPU,
	.what = "AES-256-GCM encryption of 16 KiB with a new IV, one EVP_CIPHER_CTX per thread",
	.sized = 3,
	.bytes = GCM_BLOCK,
	.thread_init = gcm_thread_init,
	.thread_fini = gcm_thread_fini,
	.one = gcm_one,
};

/* The limit of an envelope of SIZE: AES-256-GCM over as many bytes, read
 * from one buffer and written to another, as a seal or an open must (the
 * 16 KiB blocks of ossl-aes-gcm-16K stay in the CPU's cache). */
const bench_kind bench_kind_ossl_aes_gcm_buffer = {
	.name = "ossl-aes-gcm-buffer",
	.group = "limits",
	.cls = BENCH_CPU,
	.what = "AES-256-GCM encryption of SIZE bytes from one buffer into another, a new IV each, "
		"one EVP_CIPHER_CTX per thread",
	.sized = 1,
	.modes = BENCH_VAULT, /* envelopes need a vault */
	.thread_init = gcm_thread_init,
	.thread_fini = gcm_thread_fini,
	.one = gcm_one,
};
