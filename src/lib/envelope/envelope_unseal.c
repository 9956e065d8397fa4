/*
 * envelope_unseal.c - the streaming opener.
 *
 * States: collect the header (bounded by CMK_ENVELOPE_HEADER_MAX), accept
 * it (context, DEK, commitment, tag), then frames.  A frame that is whole
 * in the caller's input is opened straight into the output; otherwise its
 * bytes are collected in a one-frame buffer first.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "envelope/envelope.h"
#include "util/err.h"

enum { ST_HEADER, ST_FRAMES, ST_DONE, ST_FAILED };

struct cmk_unsealer {
	env_unseal_cfg cfg;
	env_kv want[CMK_ENVELOPE_MAX_CONTEXT];
	size_t nwant;
	env_algs algs;
	EVP_CIPHER_CTX *gcm;
	int state;
	uint8_t *hdr; /* collected header */
	size_t hdr_len, hdr_need;
	env_header h;
	cmk_kv *ctx_out; /* the header's context as strings */
	char *ctx_strs;
	uint8_t hh[ENV_HASH_LEN];
	size_t frame;
	uint64_t counter;
	uint8_t *fb; /* a partial frame: frame + 21 bytes */
	size_t fblen;
	char kid[CMK_KID_MAX];
	char *want_strs; /* our copy of the caller's context */
	cmk_rc err;	 /* the error that stopped it */
	char errmsg[512];
};

/* Copy the caller's context so it need not outlive init. */
static cmk_rc copy_context(cmk_unsealer *u, const cmk_kv *kv, size_t n, cmk_kv *copy)
{
	size_t total = 1;
	for (size_t i = 0; i < n; i++) {
		if (!kv[i].key || !kv[i].value)
			return cmk_err(CMK_E_USAGE, "context pair %zu is empty", i + 1);
		total += strlen(kv[i].key) + strlen(kv[i].value) + 2;
	}
	char *p = u->want_strs = malloc(total);
	if (!p)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		size_t kl = strlen(kv[i].key) + 1, vl = strlen(kv[i].value) + 1;
		copy[i].key = memcpy(p, kv[i].key, kl);
		p += kl;
		copy[i].value = memcpy(p, kv[i].value, vl);
		p += vl;
	}
	return CMK_OK;
}

cmk_rc env_unseal_init(const env_unseal_cfg *cfg, cmk_unsealer **out)
{
	*out = NULL;
	cmk_unsealer *u = calloc(1, sizeof *u);
	if (!u)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	u->cfg = *cfg;
	u->cfg.context = NULL;
	u->nwant = cfg->ncontext;
	cmk_kv copy[CMK_ENVELOPE_MAX_CONTEXT];
	cmk_rc rc = CMK_OK;
	if (cfg->ncontext > CMK_ENVELOPE_MAX_CONTEXT)
		rc = cmk_err(CMK_E_USAGE, "context has %zu pairs (at most %d)", cfg->ncontext,
			     CMK_ENVELOPE_MAX_CONTEXT);
	else if (!cfg->any_context && cfg->ncontext &&
		 (rc = copy_context(u, cfg->context, cfg->ncontext, copy)) == CMK_OK)
		rc = env_context_canon(copy, cfg->ncontext, u->want);
	if (rc == CMK_OK)
		rc = env_algs_fetch(cfg->propq, &u->algs);
	if (rc == CMK_OK && !(u->hdr = malloc(CMK_ENVELOPE_PREFIX_LEN)))
		rc = cmk_err(CMK_E_NOMEM, "out of memory");
	if (rc != CMK_OK) {
		u->cfg.arg_free = NULL; /* the caller still owns arg */
		cmk_unseal_free(u);
		return rc;
	}
	u->hdr_need = CMK_ENVELOPE_PREFIX_LEN;
	*out = u;
	return CMK_OK;
}

int env_unseal_ready(const cmk_unsealer *u)
{
	return u->state == ST_FRAMES || u->state == ST_DONE;
}

const char *cmk_unseal_kid(const cmk_unsealer *u)
{
	return u && env_unseal_ready(u) ? u->kid : NULL;
}

size_t cmk_unseal_context(const cmk_unsealer *u, const cmk_kv **kv)
{
	if (!u || !env_unseal_ready(u)) {
		*kv = NULL;
		return 0;
	}
	*kv = u->ctx_out;
	return u->h.nctx;
}

size_t cmk_unseal_out_max(const cmk_unsealer *u, size_t inlen)
{
	/* Plaintext never exceeds the ciphertext given plus what is held. */
	return inlen + u->fblen;
}

static cmk_rc fail(cmk_unsealer *u, cmk_rc rc)
{
	u->state = ST_FAILED;
	u->err = rc;
	snprintf(u->errmsg, sizeof u->errmsg, "%s", cmk_last_error());
	return rc;
}

static cmk_rc failed_earlier(cmk_unsealer *u)
{
	return cmk_err(u->err, "%s", u->errmsg);
}

/* Copy the header's context out as NUL-terminated strings. */
static cmk_rc export_context(cmk_unsealer *u)
{
	size_t total = 0;
	for (size_t i = 0; i < u->h.nctx; i++)
		total += u->h.ctx[i].klen + u->h.ctx[i].vlen + 2;
	u->ctx_out = calloc(u->h.nctx + 1, sizeof *u->ctx_out);
	u->ctx_strs = malloc(total + 1);
	if (!u->ctx_out || !u->ctx_strs)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	char *p = u->ctx_strs;
	for (size_t i = 0; i < u->h.nctx; i++) {
		const env_kv *kv = &u->h.ctx[i];
		u->ctx_out[i].key = p;
		memcpy(p, kv->k, kv->klen);
		p[kv->klen] = 0;
		p += kv->klen + 1;
		u->ctx_out[i].value = p;
		memcpy(p, kv->v, kv->vlen);
		p[kv->vlen] = 0;
		p += kv->vlen + 1;
	}
	return CMK_OK;
}

static cmk_rc accept_header(cmk_unsealer *u)
{
	uint8_t dek[ENV_DEK_LEN];
	env_keys k;
	cmk_rc rc;
	size_t signed_len = u->hdr_len - ENV_TAG_LEN;

	CMK_TRY(env_header_parse(u->hdr, u->hdr_len, &u->h));
	if (!u->cfg.any_context)
		CMK_TRY(env_context_match(&u->h, u->want, u->nwant));
	CMK_TRY(u->cfg.unwrap(u->cfg.arg, &u->h, dek, u->kid));
	rc = env_derive(&u->algs, dek, u->h.msgid, &k);
	cmk_wipe(dek, sizeof dek);
	if (rc != CMK_OK)
		goto out;
	if (CRYPTO_memcmp(k.commit, u->h.commit, ENV_COMMIT_LEN) != 0) {
		rc = cmk_err(CMK_E_DECRYPT,
			     "envelope key commitment does not "
			     "match: the data key unwrapped with %s does not "
			     "belong to this envelope",
			     u->kid);
		goto out;
	}
	if ((rc = env_gcm_new(&u->algs, k.frame_key, 0, &u->gcm)) != CMK_OK ||
	    (rc = env_header_tag(u->gcm, 0, u->hdr, signed_len, (uint8_t *)u->h.tag)) != CMK_OK ||
	    (rc = env_sha256(&u->algs, u->hdr, signed_len, u->hh)) != CMK_OK ||
	    (rc = export_context(u)) != CMK_OK)
		goto out;
	u->frame = u->h.frame_size;
	if (!(u->fb = malloc(u->frame + ENV_FRAME_OVERHEAD_FINAL)))
		rc = cmk_err(CMK_E_NOMEM, "out of memory");
out:
	cmk_wipe(&k, sizeof k);
	return rc;
}

/* Collect header bytes; accept the header once whole. */
static cmk_rc feed_header(cmk_unsealer *u, const uint8_t **in, size_t *inlen)
{
	size_t take = u->hdr_need - u->hdr_len;
	if (take > *inlen)
		take = *inlen;
	memcpy(u->hdr + u->hdr_len, *in, take);
	u->hdr_len += take;
	*in += take;
	*inlen -= take;
	if (u->hdr_len < u->hdr_need)
		return CMK_OK;
	if (u->hdr_need == CMK_ENVELOPE_PREFIX_LEN) {
		uint32_t n;
		CMK_TRY(env_prefix_parse(u->hdr, u->hdr_len, &n));
		uint8_t *b = realloc(u->hdr, n);
		if (!b)
			return cmk_err(CMK_E_NOMEM, "out of memory");
		u->hdr = b;
		u->hdr_need = n;
		return CMK_OK;
	}
	CMK_TRY(accept_header(u));
	u->state = ST_FRAMES;
	return CMK_OK;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Size of the frame starting at p (n bytes available): 0 when more bytes
 * are needed to know, else the whole frame's length; *plen gets the
 * plaintext length.
 */
static cmk_rc frame_size(cmk_unsealer *u, const uint8_t *p, size_t n, size_t *size, size_t *plen)
{
	*size = 0;
	if (n < 1)
		return CMK_OK;
	if (p[0] == ENV_FRAME_REGULAR) {
		*plen = u->frame;
		*size = u->frame + ENV_FRAME_OVERHEAD_REGULAR;
		return CMK_OK;
	}
	if (p[0] != ENV_FRAME_FINAL)
		return cmk_err(CMK_E_FORMAT,
			       "envelope frame %llu has unknown type "
			       "0x%02x",
			       (unsigned long long)u->counter + 1, p[0]);
	if (n < 5)
		return CMK_OK;
	uint32_t len = get32(p + 1);
	if (len >= u->frame)
		return cmk_err(CMK_E_FORMAT,
			       "envelope final frame %llu claims %u "
			       "bytes (the frame size is %zu)",
			       (unsigned long long)u->counter + 1, len, u->frame);
	*plen = len;
	*size = len + ENV_FRAME_OVERHEAD_FINAL;
	return CMK_OK;
}

static cmk_rc open_frame(cmk_unsealer *u, const uint8_t *f, size_t plen, uint8_t **o)
{
	int final = f[0] == ENV_FRAME_FINAL;
	const uint8_t *ct = f + (final ? 5 : 1);
	if (u->counter >= ENV_MAX_FRAMES)
		return cmk_err(CMK_E_FORMAT, "envelope has more than 2^32 frames");
	CMK_TRY(env_frame_open(u->gcm, u->hh, u->counter, final, ct, plen, ct + plen, *o));
	u->counter++;
	*o += plen;
	if (final)
		u->state = ST_DONE;
	return CMK_OK;
}

static cmk_rc feed_frames(cmk_unsealer *u, const uint8_t **in, size_t *inlen, uint8_t **o)
{
	size_t size, plen;
	while (*inlen && u->state == ST_FRAMES) {
		if (u->fblen == 0) {
			CMK_TRY(frame_size(u, *in, *inlen, &size, &plen));
			if (size && *inlen >= size) {
				CMK_TRY(open_frame(u, *in, plen, o));
				*in += size;
				*inlen -= size;
				continue;
			}
		}
		/* Collect: first enough to know the size, then the rest. */
		CMK_TRY(frame_size(u, u->fb, u->fblen, &size, &plen));
		size_t want = size ? size : (u->fblen < 1 ? 1 : 5);
		size_t take = want - u->fblen;
		if (take > *inlen)
			take = *inlen;
		memcpy(u->fb + u->fblen, *in, take);
		u->fblen += take;
		*in += take;
		*inlen -= take;
		if (size && u->fblen == size) {
			CMK_TRY(open_frame(u, u->fb, plen, o));
			u->fblen = 0;
		}
	}
	return CMK_OK;
}

cmk_rc cmk_unseal_update(cmk_unsealer *u, const uint8_t *in, size_t inlen, uint8_t *out,
			 size_t *outlen)
{
	if (!u)
		return cmk_err(CMK_E_USAGE, "unseal: no unsealer");
	if (u->state == ST_FAILED)
		return failed_earlier(u);
	size_t need = cmk_unseal_out_max(u, inlen);
	if (*outlen < need && inlen) {
		*outlen = need;
		return cmk_err(CMK_E_BUFFER,
			       "unseal: output buffer too small "
			       "(%zu bytes needed)",
			       need);
	}
	uint8_t *o = out;
	cmk_rc rc = CMK_OK;
	while (inlen && rc == CMK_OK) {
		if (u->state == ST_HEADER)
			rc = feed_header(u, &in, &inlen);
		else if (u->state == ST_FRAMES)
			rc = feed_frames(u, &in, &inlen, &o);
		else
			rc = cmk_err(CMK_E_FORMAT,
				     "envelope has %zu bytes of "
				     "trailing data after the final frame",
				     inlen);
	}
	if (rc != CMK_OK) {
		cmk_wipe(out, (size_t)(o - out));
		return fail(u, rc);
	}
	*outlen = (size_t)(o - out);
	return CMK_OK;
}

cmk_rc cmk_unseal_final(cmk_unsealer *u)
{
	if (!u)
		return cmk_err(CMK_E_USAGE, "unseal: no unsealer");
	switch (u->state) {
	case ST_DONE: return CMK_OK;
	case ST_FAILED: return failed_earlier(u);
	case ST_HEADER:
		return fail(u,
			    cmk_err(CMK_E_FORMAT,
				    "envelope is truncated: "
				    "%zu header bytes of %zu",
				    u->hdr_len,
				    u->hdr_need == CMK_ENVELOPE_PREFIX_LEN ? (size_t)ENV_HEADER_MIN
									   : u->hdr_need));
	default:
		return fail(u, cmk_err(CMK_E_FORMAT,
				       "envelope is truncated: it "
				       "ends %s frame %llu, before the final frame",
				       u->fblen ? "inside" : "before",
				       (unsigned long long)u->counter + 1));
	}
}

void cmk_unseal_free(cmk_unsealer *u)
{
	if (!u)
		return;
	EVP_CIPHER_CTX_free(u->gcm);
	env_algs_free(&u->algs);
	free(u->hdr);
	if (u->fb) {
		cmk_wipe(u->fb, u->frame + ENV_FRAME_OVERHEAD_FINAL);
		free(u->fb);
	}
	free(u->ctx_out);
	free(u->ctx_strs);
	free(u->want_strs);
	if (u->cfg.arg_free)
		u->cfg.arg_free(u->cfg.arg);
	free(u);
}

cmk_rc env_unseal_buf(cmk_unsealer *u, const uint8_t *in, size_t inlen, uint8_t **out,
		      size_t *outlen)
{
	*out = NULL;
	size_t n = inlen;
	uint8_t *b = malloc(inlen ? inlen : 1);
	if (!b)
		return cmk_err(CMK_E_NOMEM, "out of memory for %zu bytes", inlen);
	cmk_rc rc = cmk_unseal_update(u, in, inlen, b, &n);
	if (rc == CMK_OK)
		rc = cmk_unseal_final(u);
	if (rc != CMK_OK) {
		cmk_wipe(b, inlen);
		free(b);
		return rc;
	}
	*out = b;
	*outlen = n;
	return CMK_OK;
}
