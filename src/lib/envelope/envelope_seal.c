/*
 * envelope_seal.c - the streaming sealer: header, then frames.
 *
 * Full frames go straight from the caller's input to its output; only the
 * tail that does not fill a frame is kept (in a buffer of one frame), so
 * memory stays bounded whatever the input size.  Regular frames are
 * written as soon as they are full; the final frame holds the remaining
 * 0..frame_size-1 bytes.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "envelope/envelope.h"
#include "util/err.h"

struct cmk_sealer {
	env_algs algs;
	EVP_CIPHER_CTX *gcm;
	uint8_t *hdr;
	size_t hdr_len;
	int hdr_sent;
	uint8_t hh[ENV_HASH_LEN];
	size_t frame;
	uint64_t counter;
	uint8_t *buf; /* the partial frame, frame bytes */
	size_t buflen;
	int state; /* 0 open, 1 finished, -1 failed */
	char **kids;
	size_t nkids;
};

static unsigned log2_of(unsigned v)
{
	unsigned l = 0;
	while ((1u << l) < v)
		l++;
	return l;
}

cmk_rc env_seal_init(const env_seal_cfg *cfg, const uint8_t dek[ENV_DEK_LEN], cmk_sealer **out)
{
	env_kv kv[CMK_ENVELOPE_MAX_CONTEXT];
	uint8_t msgid[ENV_MSGID_LEN];
	env_keys k;
	cmk_rc rc;

	*out = NULL;
	unsigned fs = cfg->frame_size ? cfg->frame_size : CMK_ENVELOPE_FRAME_DEFAULT;
	if (fs < CMK_ENVELOPE_FRAME_MIN || fs > CMK_ENVELOPE_FRAME_MAX || (fs & (fs - 1)))
		return cmk_err(CMK_E_USAGE,
			       "frame size %u is not a power of two "
			       "from %u to %u",
			       fs, CMK_ENVELOPE_FRAME_MIN, CMK_ENVELOPE_FRAME_MAX);
	CMK_TRY(env_context_canon(cfg->context, cfg->ncontext, kv));

	cmk_sealer *s = calloc(1, sizeof *s);
	if (!s)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	s->frame = fs;
	if ((rc = env_algs_fetch(cfg->propq, &s->algs)) != CMK_OK)
		goto fail;
	if (cfg->msgid)
		memcpy(msgid, cfg->msgid, sizeof msgid);
	else if ((rc = env_random(msgid, sizeof msgid, 0)) != CMK_OK)
		goto fail;
	rc = env_header_encode((uint8_t)log2_of(fs), msgid, cfg->recip, cfg->nrecip, kv,
			       cfg->ncontext, &s->hdr, &s->hdr_len);
	if (rc != CMK_OK)
		goto fail;
	if ((rc = env_derive(&s->algs, dek, msgid, &k)) != CMK_OK)
		goto fail;
	size_t signed_len = s->hdr_len - ENV_TAG_LEN;
	memcpy(s->hdr + signed_len - ENV_COMMIT_LEN, k.commit, ENV_COMMIT_LEN);
	if ((rc = env_gcm_new(&s->algs, k.frame_key, 1, &s->gcm)) != CMK_OK ||
	    (rc = env_header_tag(s->gcm, 1, s->hdr, signed_len, s->hdr + signed_len)) != CMK_OK ||
	    (rc = env_sha256(&s->algs, s->hdr, signed_len, s->hh)) != CMK_OK)
		goto fail;
	if (!(s->buf = malloc(fs))) {
		rc = cmk_err(CMK_E_NOMEM, "out of memory");
		goto fail;
	}
	cmk_wipe(&k, sizeof k);
	*out = s;
	return CMK_OK;
fail:
	cmk_wipe(&k, sizeof k);
	cmk_seal_free(s);
	return rc;
}

cmk_rc env_seal_set_kids(cmk_sealer *s, char **kids, size_t n)
{
	s->kids = kids;
	s->nkids = n;
	return CMK_OK;
}

const char *cmk_seal_kid(const cmk_sealer *s, size_t i)
{
	return s && i < s->nkids ? s->kids[i] : NULL;
}

size_t cmk_seal_out_max(const cmk_sealer *s, size_t inlen)
{
	size_t full = (s->buflen + inlen) / s->frame;
	return (s->hdr_sent ? 0 : s->hdr_len) + full * (s->frame + ENV_FRAME_OVERHEAD_REGULAR) +
	       s->frame + ENV_FRAME_OVERHEAD_FINAL;
}

static cmk_rc check_state(cmk_sealer *s)
{
	if (!s)
		return cmk_err(CMK_E_USAGE, "seal: no sealer");
	if (s->state == 1)
		return cmk_err(CMK_E_USAGE, "seal: already finished");
	if (s->state < 0)
		return cmk_err(CMK_E_USAGE, "seal: failed earlier");
	return CMK_OK;
}

static cmk_rc emit(cmk_sealer *s, int final, const uint8_t *pt, size_t len, uint8_t **o)
{
	size_t n;
	cmk_rc rc = env_frame_seal(s->gcm, s->hh, s->counter, final, pt, len, *o, &n);
	if (rc != CMK_OK)
		return rc;
	s->counter++;
	*o += n;
	return CMK_OK;
}

static void send_header(cmk_sealer *s, uint8_t **o)
{
	if (!s->hdr_sent) {
		memcpy(*o, s->hdr, s->hdr_len);
		*o += s->hdr_len;
		s->hdr_sent = 1;
	}
}

cmk_rc cmk_seal_update(cmk_sealer *s, const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen)
{
	CMK_TRY(check_state(s));
	size_t need = cmk_seal_out_max(s, inlen);
	if (*outlen < need) {
		*outlen = need;
		return cmk_err(CMK_E_BUFFER,
			       "seal: output buffer too small "
			       "(%zu bytes needed)",
			       need);
	}
	uint8_t *o = out;
	cmk_rc rc = CMK_OK;
	send_header(s, &o);
	if (s->buflen) {
		size_t take = s->frame - s->buflen;
		if (take > inlen)
			take = inlen;
		memcpy(s->buf + s->buflen, in, take);
		s->buflen += take;
		in += take;
		inlen -= take;
		if (s->buflen == s->frame) {
			if ((rc = emit(s, 0, s->buf, s->frame, &o)) != CMK_OK)
				goto fail;
			s->buflen = 0;
		}
	}
	while (inlen >= s->frame) {
		if ((rc = emit(s, 0, in, s->frame, &o)) != CMK_OK)
			goto fail;
		in += s->frame;
		inlen -= s->frame;
	}
	if (inlen) {
		memcpy(s->buf, in, inlen);
		s->buflen = inlen;
	}
	*outlen = (size_t)(o - out);
	return CMK_OK;
fail:
	s->state = -1;
	return rc;
}

cmk_rc cmk_seal_final(cmk_sealer *s, uint8_t *out, size_t *outlen)
{
	CMK_TRY(check_state(s));
	size_t need = cmk_seal_out_max(s, 0);
	if (*outlen < need) {
		*outlen = need;
		return cmk_err(CMK_E_BUFFER,
			       "seal: output buffer too small "
			       "(%zu bytes needed)",
			       need);
	}
	uint8_t *o = out;
	send_header(s, &o);
	cmk_rc rc = emit(s, 1, s->buf, s->buflen, &o);
	cmk_wipe(s->buf, s->buflen);
	s->buflen = 0;
	s->state = rc == CMK_OK ? 1 : -1;
	if (rc == CMK_OK)
		*outlen = (size_t)(o - out);
	return rc;
}

void cmk_seal_free(cmk_sealer *s)
{
	if (!s)
		return;
	EVP_CIPHER_CTX_free(s->gcm);
	env_algs_free(&s->algs);
	if (s->buf) {
		cmk_wipe(s->buf, s->frame);
		free(s->buf);
	}
	free(s->hdr);
	for (size_t i = 0; i < s->nkids; i++)
		free(s->kids[i]);
	free(s->kids);
	free(s);
}

cmk_rc env_seal_buf(cmk_sealer *s, const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen)
{
	*out = NULL;
	size_t cap = cmk_seal_out_max(s, inlen), n1 = cap, n2;
	uint8_t *b = malloc(cap ? cap : 1);
	if (!b)
		return cmk_err(CMK_E_NOMEM,
			       "out of memory for a %zu-byte "
			       "envelope",
			       cap);
	cmk_rc rc = cmk_seal_update(s, in, inlen, b, &n1);
	n2 = cap - n1;
	if (rc == CMK_OK)
		rc = cmk_seal_final(s, b + n1, &n2);
	if (rc != CMK_OK) {
		free(b);
		return rc;
	}
	*out = b;
	*outlen = n1 + n2;
	return CMK_OK;
}
