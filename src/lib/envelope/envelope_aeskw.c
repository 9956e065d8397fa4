/*
 * envelope_aeskw.c - recipients whose DEK is wrapped by a symmetric key
 * (RFC 3394 AES-256 key wrap): resource objects under their root key.
 * Record: id_len (1) || id || AES-256-WRAP(kek, DEK) (40 bytes).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>

#include "envelope/envelope.h"
#include "util/err.h"

#define KW_LEN (ENV_DEK_LEN + 8)

static cmk_rc kw(const char *propq, int enc, const uint8_t kek[32], const uint8_t *in, size_t inlen,
		 uint8_t *out, int *outlen)
{
	env_algs a;
	CMK_TRY(env_algs_fetch(propq, &a));
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	int n = 0, m = 0, ok = 0;
	if (x) {
		EVP_CIPHER_CTX_set_flags(x, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
		ok = EVP_CipherInit_ex2(x, a.wrap, kek, NULL, enc, NULL) == 1 &&
		     EVP_CipherUpdate(x, out, &n, in, (int)inlen) == 1 &&
		     EVP_CipherFinal_ex(x, out + n, &m) == 1;
	}
	EVP_CIPHER_CTX_free(x);
	env_algs_free(&a);
	if (!ok) {
		ERR_clear_error();
		return enc ? cmk_err(CMK_E_INTERNAL, "AES-256-WRAP failed") : CMK_E_DECRYPT;
	}
	*outlen = n + m;
	return CMK_OK;
}

cmk_rc env_aeskw_wrap(const char *propq, const uint8_t kek[32], const char *id,
		      const uint8_t dek[ENV_DEK_LEN], uint8_t **rec, size_t *len)
{
	size_t il = strlen(id);
	int n;
	if (il < 1 || il > 255)
		return cmk_err(CMK_E_INTERNAL, "key-wrap id of %zu bytes", il);
	uint8_t *b = malloc(1 + il + KW_LEN);
	if (!b)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	b[0] = (uint8_t)il;
	memcpy(b + 1, id, il);
	cmk_rc rc = kw(propq, 1, kek, dek, ENV_DEK_LEN, b + 1 + il, &n);
	if (rc == CMK_OK && n != KW_LEN)
		rc = cmk_err(CMK_E_INTERNAL, "AES-256-WRAP gave %d bytes", n);
	if (rc != CMK_OK) {
		free(b);
		return rc;
	}
	*rec = b;
	*len = 1 + il + KW_LEN;
	return CMK_OK;
}

cmk_rc env_aeskw_unwrap(const char *propq, const uint8_t kek[32], const char *id,
			const env_header *h, uint8_t dek[ENV_DEK_LEN])
{
	size_t il = strlen(id);
	for (size_t i = 0; i < h->nrecip; i++) {
		const env_recip *r = &h->recip[i];
		uint8_t out[KW_LEN + 16];
		int n = 0;
		if (r->type != ENV_RECIP_AESKW || r->len != 1 + il + KW_LEN || r->data[0] != il ||
		    memcmp(r->data + 1, id, il) != 0)
			continue;
		cmk_rc rc = kw(propq, 0, kek, r->data + 1 + il, KW_LEN, out, &n);
		if (rc == CMK_OK && n == ENV_DEK_LEN) {
			memcpy(dek, out, ENV_DEK_LEN);
			cmk_wipe(out, sizeof out);
			return CMK_OK;
		}
		cmk_wipe(out, sizeof out);
		if (rc == CMK_E_DECRYPT || rc == CMK_OK)
			return cmk_err(CMK_E_DECRYPT,
				       "the data key does not unwrap "
				       "with key %s (wrong key or modified)",
				       id);
		return rc;
	}
	return cmk_err(CMK_E_NOT_FOUND,
		       "envelope: no data key is wrapped by "
		       "key %s",
		       id);
}

/* --------------------------------------- sealers over an AES-KW recipient */

struct kw_arg {
	const char *propq;
	uint8_t *kek; /* secure copy */
	char id[256];
};

static cmk_rc kw_unwrap_cb(void *arg, const env_header *h, uint8_t dek[ENV_DEK_LEN],
			   char kid[CMK_KID_MAX])
{
	struct kw_arg *a = arg;
	CMK_TRY(env_aeskw_unwrap(a->propq, a->kek, a->id, h, dek));
	snprintf(kid, CMK_KID_MAX, "%s", a->id);
	return CMK_OK;
}

static void kw_arg_free(void *arg)
{
	struct kw_arg *a = arg;
	if (a) {
		cmk_secure_free(a->kek, 32);
		free(a);
	}
}

cmk_rc env_kw_sealer(const env_kw_params *p, cmk_sealer **s)
{
	uint8_t *dek = cmk_secure_alloc(ENV_DEK_LEN), *rec = NULL;
	size_t rlen = 0;
	cmk_rc rc;
	*s = NULL;
	if (!dek)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	if (p->dek)
		memcpy(dek, p->dek, ENV_DEK_LEN);
	else if ((rc = env_random(dek, ENV_DEK_LEN, 1)) != CMK_OK)
		goto out;
	if ((rc = env_aeskw_wrap(p->propq, p->kek, p->id, dek, &rec, &rlen)) != CMK_OK)
		goto out;
	env_recip r = { ENV_RECIP_AESKW, rec, rlen };
	env_seal_cfg cfg = {
		.recip = &r,
		.nrecip = 1,
		.context = p->context,
		.ncontext = p->ncontext,
		.frame_size = p->frame_size,
		.propq = p->propq,
		.msgid = p->msgid,
	};
	rc = env_seal_init(&cfg, dek, s);
out:
	cmk_secure_free(dek, ENV_DEK_LEN);
	free(rec);
	return rc;
}

cmk_rc env_kw_unsealer(const env_kw_params *p, int any_context, cmk_unsealer **u)
{
	*u = NULL;
	struct kw_arg *a = calloc(1, sizeof *a);
	if (!a || !(a->kek = cmk_secure_alloc(32))) {
		free(a);
		return cmk_err(CMK_E_NOMEM, "out of memory");
	}
	memcpy(a->kek, p->kek, 32);
	a->propq = p->propq;
	snprintf(a->id, sizeof a->id, "%s", p->id);
	env_unseal_cfg cfg = {
		.context = p->context,
		.ncontext = p->ncontext,
		.any_context = any_context,
		.propq = p->propq,
		.unwrap = kw_unwrap_cb,
		.arg = a,
		.arg_free = kw_arg_free,
	};
	cmk_rc rc = env_unseal_init(&cfg, u);
	if (rc != CMK_OK)
		kw_arg_free(a);
	return rc;
}
