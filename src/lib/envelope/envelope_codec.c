/*
 * envelope_codec.c - envelope header bytes <-> struct (no cryptography).
 * The layout is in docs/envelope-format.md; every field is checked here so
 * that no input can make the readers go out of bounds.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "envelope/envelope.h"
#include "util/err.h"

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

cmk_rc env_prefix_parse(const uint8_t *buf, size_t len, uint32_t *hlen)
{
	if (len < CMK_ENVELOPE_PREFIX_LEN)
		return cmk_err(CMK_E_FORMAT,
			       "envelope is truncated: %zu bytes, "
			       "the header alone needs at least %d",
			       len, ENV_HEADER_MIN);
	if (memcmp(buf, ENV_MAGIC, 4) != 0)
		return cmk_err(CMK_E_FORMAT, "input is not a cmk envelope "
					     "(no \"CMKE\" magic)");
	if (buf[4] != ENV_VERSION)
		return cmk_err(CMK_E_FORMAT,
			       "envelope format version %u is not "
			       "supported (this cmk reads version %d)",
			       buf[4], ENV_VERSION);
	if (buf[5] != ENV_SUITE_AES256GCM_HKDF_SHA256)
		return cmk_err(CMK_E_FORMAT,
			       "envelope algorithm suite %u is "
			       "unknown (known: 1 = AES-256-GCM frames, "
			       "HKDF-SHA256)",
			       buf[5]);
	if (buf[6] < ENV_FRAME_LOG2_MIN || buf[6] > ENV_FRAME_LOG2_MAX)
		return cmk_err(CMK_E_FORMAT,
			       "envelope frame size 2^%u is out of "
			       "range (2^%d-2^%d)",
			       buf[6], ENV_FRAME_LOG2_MIN, ENV_FRAME_LOG2_MAX);
	if (buf[7] != 0)
		return cmk_err(CMK_E_FORMAT,
			       "envelope header: reserved byte is "
			       "0x%02x, not 0",
			       buf[7]);
	uint32_t n = get32(buf + 8);
	if (n < ENV_HEADER_MIN || n > CMK_ENVELOPE_HEADER_MAX)
		return cmk_err(CMK_E_FORMAT,
			       "envelope header length %u is out of "
			       "range (%d-%d)",
			       n, ENV_HEADER_MIN, CMK_ENVELOPE_HEADER_MAX);
	*hlen = n;
	return CMK_OK;
}

/* A bounded reader over the header. */
struct rd {
	const uint8_t *p;
	size_t left;
};

static int take(struct rd *r, size_t n, const uint8_t **out)
{
	if (r->left < n)
		return 0;
	*out = r->p;
	r->p += n;
	r->left -= n;
	return 1;
}

static int take_uint(struct rd *r, size_t width, size_t *v)
{
	const uint8_t *p;
	if (!take(r, width, &p))
		return 0;
	*v = 0;
	for (size_t i = 0; i < width; i++)
		*v = *v << 8 | p[i];
	return 1;
}

static int key_ok(const uint8_t *k, size_t n)
{
	if (n < 1 || n > CMK_ENVELOPE_CONTEXT_KEY_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (k[i] <= 0x20 || k[i] >= 0x7f || k[i] == '=')
			return 0;
	return 1;
}

static int value_ok(const uint8_t *v, size_t n)
{
	return n <= CMK_ENVELOPE_CONTEXT_VALUE_MAX && !memchr(v, 0, n);
}

static int kv_cmp(const env_kv *a, const env_kv *b)
{
	size_t n = a->klen < b->klen ? a->klen : b->klen;
	int c = memcmp(a->k, b->k, n);
	if (c)
		return c;
	return a->klen < b->klen ? -1 : a->klen > b->klen;
}

#define TRUNC(what)                               \
	cmk_err(CMK_E_FORMAT,                     \
		"envelope header is truncated "   \
		"or its length is wrong (in %s)", \
		what)

cmk_rc env_header_parse(const uint8_t *buf, size_t len, env_header *h)
{
	uint32_t hlen;
	size_t v;
	const uint8_t *p;

	memset(h, 0, sizeof *h);
	CMK_TRY(env_prefix_parse(buf, len, &hlen));
	if (len < hlen)
		return cmk_err(CMK_E_FORMAT,
			       "envelope is truncated: the header "
			       "needs %u bytes, only %zu given",
			       hlen, len);
	h->version = buf[4];
	h->suite = buf[5];
	h->frame_log2 = buf[6];
	h->frame_size = UINT32_C(1) << h->frame_log2;
	h->header_len = hlen;

	/* Everything after the prefix, up to the commitment and the tag. */
	struct rd r = { buf + CMK_ENVELOPE_PREFIX_LEN,
			hlen - CMK_ENVELOPE_PREFIX_LEN - ENV_COMMIT_LEN - ENV_TAG_LEN };
	if (!take(&r, ENV_MSGID_LEN, &h->msgid))
		return TRUNC("message id");
	if (!take_uint(&r, 1, &v))
		return TRUNC("key count");
	if (v < 1 || v > CMK_ENVELOPE_MAX_KEYS)
		return cmk_err(CMK_E_FORMAT,
			       "envelope header: %zu wrapped data "
			       "keys (allowed: 1-%d)",
			       v, CMK_ENVELOPE_MAX_KEYS);
	h->nrecip = v;
	for (size_t i = 0; i < h->nrecip; i++) {
		size_t type, n;
		if (!take_uint(&r, 1, &type) || !take_uint(&r, 2, &n))
			return TRUNC("wrapped data key");
		if (type != ENV_RECIP_VAULT && type != ENV_RECIP_AESKW)
			return cmk_err(CMK_E_FORMAT,
				       "envelope header: wrapped data "
				       "key %zu has unknown type %zu",
				       i + 1, type);
		if (n < 1 || n > ENV_RECIP_MAX_LEN)
			return cmk_err(CMK_E_FORMAT,
				       "envelope header: wrapped data "
				       "key %zu has length %zu (allowed: 1-%d)",
				       i + 1, n, ENV_RECIP_MAX_LEN);
		if (!take(&r, n, &p))
			return TRUNC("wrapped data key");
		h->recip[i] = (env_recip){ (uint8_t)type, p, n };
	}
	if (!take_uint(&r, 1, &v))
		return TRUNC("context count");
	if (v > CMK_ENVELOPE_MAX_CONTEXT)
		return cmk_err(CMK_E_FORMAT,
			       "envelope header: %zu context pairs "
			       "(allowed: 0-%d)",
			       v, CMK_ENVELOPE_MAX_CONTEXT);
	h->nctx = v;
	for (size_t i = 0; i < h->nctx; i++) {
		env_kv *kv = &h->ctx[i];
		if (!take_uint(&r, 1, &kv->klen) || !take(&r, kv->klen, &kv->k) ||
		    !take_uint(&r, 2, &kv->vlen) || !take(&r, kv->vlen, &kv->v))
			return TRUNC("context");
		if (!key_ok(kv->k, kv->klen) || !value_ok(kv->v, kv->vlen))
			return cmk_err(CMK_E_FORMAT,
				       "envelope header: context pair "
				       "%zu is malformed",
				       i + 1);
		if (i > 0 && kv_cmp(&h->ctx[i - 1], kv) >= 0)
			return cmk_err(CMK_E_FORMAT, "envelope header: context keys "
						     "are not sorted and unique");
	}
	if (r.left != 0)
		return cmk_err(CMK_E_FORMAT,
			       "envelope header: %zu unexpected "
			       "bytes before the commitment",
			       r.left);
	h->commit = buf + hlen - ENV_COMMIT_LEN - ENV_TAG_LEN;
	h->tag = buf + hlen - ENV_TAG_LEN;
	return CMK_OK;
}

static int kv_qcmp(const void *a, const void *b)
{
	return kv_cmp(a, b);
}

cmk_rc env_context_canon(const cmk_kv *kv, size_t n, env_kv out[CMK_ENVELOPE_MAX_CONTEXT])
{
	if (n > CMK_ENVELOPE_MAX_CONTEXT)
		return cmk_err(CMK_E_USAGE, "context has %zu pairs (at most %d)", n,
			       CMK_ENVELOPE_MAX_CONTEXT);
	if (n && !kv)
		return cmk_err(CMK_E_USAGE, "context: no pairs given");
	for (size_t i = 0; i < n; i++) {
		if (!kv[i].key || !kv[i].value)
			return cmk_err(CMK_E_USAGE, "context pair %zu is empty", i + 1);
		out[i].k = (const uint8_t *)kv[i].key;
		out[i].klen = strlen(kv[i].key);
		out[i].v = (const uint8_t *)kv[i].value;
		out[i].vlen = strlen(kv[i].value);
		if (!key_ok(out[i].k, out[i].klen))
			return cmk_err(CMK_E_USAGE,
				       "context key '%.64s' is not valid "
				       "(1-%d printable characters, no '=' or space)",
				       kv[i].key, CMK_ENVELOPE_CONTEXT_KEY_MAX);
		if (out[i].vlen > CMK_ENVELOPE_CONTEXT_VALUE_MAX)
			return cmk_err(CMK_E_USAGE,
				       "context value of '%.64s' is longer "
				       "than %d bytes",
				       kv[i].key, CMK_ENVELOPE_CONTEXT_VALUE_MAX);
	}
	qsort(out, n, sizeof *out, kv_qcmp);
	for (size_t i = 1; i < n; i++)
		if (kv_cmp(&out[i - 1], &out[i]) == 0)
			return cmk_err(CMK_E_USAGE,
				       "context key '%.*s' is given "
				       "twice",
				       (int)out[i].klen, out[i].k);
	return CMK_OK;
}

cmk_rc env_context_match(const env_header *h, const env_kv *want, size_t n)
{
	size_t i = 0, j = 0;
	while (i < h->nctx || j < n) {
		int c = i == h->nctx ? 1 : j == n ? -1 : kv_cmp(&h->ctx[i], &want[j]);
		if (c < 0)
			return cmk_err(CMK_E_DECRYPT,
				       "encryption context does not "
				       "match: the envelope has '%.*s', not given",
				       (int)h->ctx[i].klen, h->ctx[i].k);
		if (c > 0)
			return cmk_err(CMK_E_DECRYPT,
				       "encryption context does not "
				       "match: '%.*s' is given, the envelope has no "
				       "such key",
				       (int)want[j].klen, want[j].k);
		if (h->ctx[i].vlen != want[j].vlen ||
		    memcmp(h->ctx[i].v, want[j].v, want[j].vlen) != 0)
			return cmk_err(CMK_E_DECRYPT,
				       "encryption context does not "
				       "match: the value of '%.*s' differs",
				       (int)want[j].klen, want[j].k);
		i++, j++;
	}
	return CMK_OK;
}

cmk_rc env_header_encode(uint8_t frame_log2, const uint8_t *msgid, const env_recip *r, size_t nr,
			 const env_kv *kv, size_t nkv, uint8_t **out, size_t *len)
{
	if (nr < 1 || nr > CMK_ENVELOPE_MAX_KEYS)
		return cmk_err(CMK_E_USAGE, "envelope: %zu keys given (1-%d)", nr,
			       CMK_ENVELOPE_MAX_KEYS);
	size_t n = CMK_ENVELOPE_PREFIX_LEN + ENV_MSGID_LEN + 1 + 1 + ENV_COMMIT_LEN + ENV_TAG_LEN;
	for (size_t i = 0; i < nr; i++) {
		if (r[i].len < 1 || r[i].len > ENV_RECIP_MAX_LEN)
			return cmk_err(CMK_E_INTERNAL,
				       "envelope: wrapped key %zu "
				       "has length %zu",
				       i + 1, r[i].len);
		n += 3 + r[i].len;
	}
	for (size_t i = 0; i < nkv; i++)
		n += 3 + kv[i].klen + kv[i].vlen;
	if (n > CMK_ENVELOPE_HEADER_MAX)
		return cmk_err(CMK_E_TOO_LARGE,
			       "envelope header would be %zu "
			       "bytes (at most %d): context too large",
			       n, CMK_ENVELOPE_HEADER_MAX);
	uint8_t *b = calloc(1, n), *p = b;
	if (!b)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	memcpy(p, ENV_MAGIC, 4);
	p[4] = ENV_VERSION;
	p[5] = ENV_SUITE_AES256GCM_HKDF_SHA256;
	p[6] = frame_log2;
	p[7] = 0;
	put32(p + 8, n);
	p += CMK_ENVELOPE_PREFIX_LEN;
	memcpy(p, msgid, ENV_MSGID_LEN);
	p += ENV_MSGID_LEN;
	*p++ = (uint8_t)nr;
	for (size_t i = 0; i < nr; i++) {
		*p++ = r[i].type;
		put16(p, r[i].len);
		memcpy(p + 2, r[i].data, r[i].len);
		p += 2 + r[i].len;
	}
	*p++ = (uint8_t)nkv;
	for (size_t i = 0; i < nkv; i++) {
		*p++ = (uint8_t)kv[i].klen;
		memcpy(p, kv[i].k, kv[i].klen);
		p += kv[i].klen;
		put16(p, kv[i].vlen);
		memcpy(p + 2, kv[i].v, kv[i].vlen);
		p += 2 + kv[i].vlen;
	}
	*out = b;
	*len = n;
	return CMK_OK;
}
