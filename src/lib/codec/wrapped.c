/* wrapped.c - the wrapped-key record (docs/wrapped-key-format.md):
 *
 *   "CMKW" | version 1 | alg | kid length (u16 BE) | kid | ct length (u16 BE) | ct
 *
 * The key id is a full versioned cmk:// id, so the record unwraps with no
 * other input.  The parser takes untrusted bytes: every length is checked,
 * and trailing bytes are refused. */
#include "config.h"
#include <string.h>
#include "util/err.h"

#define MAGIC	       "CMKW"
#define FORMAT_VERSION 1
#define CT_MAX	       1024

static int alg_known(unsigned a)
{
	return a >= CMK_ALG_RSA_OAEP_256 && a <= CMK_ALG_RSA1_5;
}

cmk_rc cmk_wrapped_parse(const uint8_t *buf, size_t len, cmk_wrapped *out)
{
	return_if_fail(buf && out);
	memset(out, 0, sizeof *out);
	if (len < 4 || memcmp(buf, MAGIC, 4) != 0)
		return cmk_err(CMK_E_FORMAT, "not a cmk wrapped key (no CMKW magic)");
	if (len < 8)
		return cmk_err(CMK_E_FORMAT, "wrapped key is truncated (%zu bytes)", len);
	if (buf[4] != FORMAT_VERSION)
		return cmk_err(CMK_E_FORMAT,
			       "wrapped key format version %u is not supported (this cmk reads 1)",
			       buf[4]);
	if (!alg_known(buf[5]))
		return cmk_err(CMK_E_FORMAT, "wrapped key names unknown algorithm %u", buf[5]);
	size_t kl = (size_t)buf[6] << 8 | buf[7];
	if (kl == 0 || kl >= CMK_KID_MAX)
		return cmk_err(CMK_E_FORMAT, "wrapped key has a key id of %zu bytes", kl);
	if (len < 8 + kl + 2)
		return cmk_err(CMK_E_FORMAT, "wrapped key is truncated (%zu bytes)", len);
	memcpy(out->kid, buf + 8, kl);
	out->kid[kl] = '\0';
	if (strlen(out->kid) != kl)
		return cmk_err(CMK_E_FORMAT, "wrapped key id contains a NUL byte");
	char vault[64], name[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1];
	if (strncmp(out->kid, "cmk://", 6) != 0 ||
	    cmk_kid_parse(out->kid, vault, name, ver) != CMK_OK || !ver[0])
		return cmk_err(CMK_E_FORMAT, "wrapped key id is not a versioned cmk:// key id");
	size_t cl = (size_t)buf[8 + kl] << 8 | buf[9 + kl];
	if (cl == 0 || cl > CT_MAX)
		return cmk_err(CMK_E_FORMAT, "wrapped key ciphertext length %zu is out of range",
			       cl);
	if (len != 10 + kl + cl)
		return cmk_err(CMK_E_FORMAT, "wrapped key is %s (%zu bytes, expected %zu)",
			       len < 10 + kl + cl ? "truncated" : "followed by extra bytes", len,
			       10 + kl + cl);
	out->alg = (cmk_alg)buf[5];
	out->kid_len = kl;
	out->ct = buf + 10 + kl;
	out->ct_len = cl;
	return CMK_OK;
}

cmk_rc cmk_wrapped_encode(cmk_alg alg, const char *kid, const uint8_t *ct, size_t ctlen,
			  uint8_t *out, size_t *outlen)
{
	return_if_fail(kid && ct && outlen);
	size_t kl = strlen(kid);
	if (!alg_known((unsigned)alg) || kl == 0 || kl >= CMK_KID_MAX || ctlen == 0 ||
	    ctlen > CT_MAX)
		return cmk_err(CMK_E_USAGE, "cannot encode a wrapped key with these fields");
	size_t need = 10 + kl + ctlen;
	if (!out || *outlen < need) {
		*outlen = need;
		return cmk_err(CMK_E_BUFFER, "output buffer too small: %zu bytes needed", need);
	}
	memcpy(out, MAGIC, 4);
	out[4] = FORMAT_VERSION;
	out[5] = (uint8_t)alg;
	out[6] = (uint8_t)(kl >> 8);
	out[7] = (uint8_t)kl;
	memcpy(out + 8, kid, kl);
	out[8 + kl] = (uint8_t)(ctlen >> 8);
	out[9 + kl] = (uint8_t)ctlen;
	memcpy(out + 10 + kl, ct, ctlen);
	*outlen = need;
	return CMK_OK;
}
