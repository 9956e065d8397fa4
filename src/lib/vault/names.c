/* names.c - key names, version ids, key ids, key-ops and algorithm names. */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <p11-kit/uri.h>
#include "vault/keys.h"
#include "util/err.h"
#include "util/hex.h"

int names_key_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n >= CMK_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return 0;
	}
	return 1;
}

int names_version_valid(const char *v)
{
	if (strlen(v) != CMK_VERSION_LEN)
		return 0;
	for (const char *p = v; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return 1;
}

void names_unhex(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

void names_kid(const char *vault, const char *name, const char *ver, char out[CMK_KID_MAX])
{
	if (ver && *ver)
		snprintf(out, CMK_KID_MAX, "cmk://%s/keys/%s/%s", vault, name, ver);
	else
		snprintf(out, CMK_KID_MAX, "cmk://%s/keys/%s", vault, name);
}

cmk_rc cmk_kid_parse(const char *kid, char vault[64], char name[CMK_NAME_MAX],
		     char version[CMK_VERSION_LEN + 1])
{
	return_if_fail(kid && vault && name && version);
	vault[0] = name[0] = version[0] = '\0';
	const char *p = kid;
	if (strncmp(p, "cmk://", 6) == 0) {
		p += 6;
		const char *slash = strchr(p, '/');
		if (!slash || (size_t)(slash - p) >= 64 || slash == p ||
		    strncmp(slash, "/keys/", 6) != 0)
			return cmk_err(CMK_E_USAGE,
				       "key id '%s' is not cmk://VAULT/keys/NAME[/VERSION]", kid);
		memcpy(vault, p, (size_t)(slash - p));
		vault[slash - p] = '\0';
		p = slash + 6;
	}
	const char *slash = strchr(p, '/');
	size_t nlen = slash ? (size_t)(slash - p) : strlen(p);
	if (nlen == 0 || nlen >= CMK_NAME_MAX)
		return cmk_err(CMK_E_USAGE, "key id '%s' has no valid key name", kid);
	memcpy(name, p, nlen);
	name[nlen] = '\0';
	if (!names_key_valid(name))
		return cmk_err(CMK_E_USAGE,
			       "key name '%s' must be 1-127 characters of A-Z a-z 0-9 -", name);
	if (slash) {
		if (!names_version_valid(slash + 1))
			return cmk_err(CMK_E_USAGE,
				       "key id '%s': version must be 32 lowercase hex characters",
				       kid);
		strcpy(version, slash + 1);
	}
	return CMK_OK;
}

/* An RFC 7512 URI naming a cmk key pair on this vault's token:
 * object= is the key name (CKA_LABEL), id= the version (CKA_ID), token=
 * if given must be this vault's token. */
static cmk_rc resolve_pkcs11_uri(const cmk_ctx *ctx, const char *id, char name[CMK_NAME_MAX],
				 char version[CMK_VERSION_LEN + 1])
{
	P11KitUri *uri = p11_kit_uri_new();
	if (!uri)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	int r = p11_kit_uri_parse(id, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, uri);
	cmk_rc rc = CMK_OK;
	if (r != P11_KIT_URI_OK) {
		rc = cmk_err(CMK_E_USAGE, "'%s' is not a valid PKCS#11 URI: %s", id,
			     p11_kit_uri_message(r));
		goto out;
	}
	CK_TOKEN_INFO *ti = p11_kit_uri_get_token_info(uri);
	const char *label = p11_tok_label(((cmk_ctx *)ctx)->tok);
	if (ti) {
		char want[33];
		size_t n = sizeof ti->label;
		memcpy(want, ti->label, n);
		want[n] = '\0';
		while (n && want[n - 1] == ' ')
			want[--n] = '\0';
		if (want[0] && strcmp(want, label) != 0) {
			rc = cmk_err(CMK_E_NOT_FOUND, "%s names token '%s'; %s is on token '%s'",
				     id, want, CTX_WHAT(ctx), label);
			goto out;
		}
	}
	CK_ATTRIBUTE *obj = p11_kit_uri_get_attribute(uri, CKA_LABEL);
	CK_ATTRIBUTE *cid = p11_kit_uri_get_attribute(uri, CKA_ID);
	if (!obj || obj->ulValueLen == 0 || obj->ulValueLen >= CMK_NAME_MAX) {
		rc = cmk_err(CMK_E_USAGE, "%s names no key: give object=NAME (and id=VERSION)", id);
		goto out;
	}
	memcpy(name, obj->pValue, obj->ulValueLen);
	name[obj->ulValueLen] = '\0';
	if (!names_key_valid(name)) {
		rc = cmk_err(CMK_E_NOT_FOUND, "%s: object '%s' is not a cmk key name", id, name);
		goto out;
	}
	version[0] = '\0';
	if (cid) {
		if (cid->ulValueLen != P11_ID_LEN) {
			rc = cmk_err(CMK_E_NOT_FOUND, "%s: id= is not a cmk version (16 bytes)",
				     id);
			goto out;
		}
		hex_encode(cid->pValue, P11_ID_LEN, version);
	}
out:
	p11_kit_uri_free(uri);
	return rc;
}

/* Resolve an id given to the API against the context's vault. */
cmk_rc names_resolve(const cmk_ctx *ctx, const char *id, char name[CMK_NAME_MAX],
		     char version[CMK_VERSION_LEN + 1])
{
	if (strncmp(id, "pkcs11:", 7) == 0)
		return resolve_pkcs11_uri(ctx, id, name, version);
	char vault[64];
	CMK_TRY(cmk_kid_parse(id, vault, name, version));
	if (vault[0] && strcmp(vault, cmk_ctx_vault(ctx)) != 0)
		return cmk_err(CMK_E_NOT_FOUND,
			       "key id %s names vault %s, but this context is vault %s", id, vault,
			       cmk_ctx_vault(ctx));
	return CMK_OK;
}

static const struct {
	unsigned bit;
	const char *word;
} op_words[] = {
	{ CMK_OP_WRAP, "wrapKey" },    { CMK_OP_UNWRAP, "unwrapKey" },
	{ CMK_OP_ENCRYPT, "encrypt" }, { CMK_OP_DECRYPT, "decrypt" },
	{ CMK_OP_SIGN, "sign" },       { CMK_OP_VERIFY, "verify" },
};

cmk_rc cmk_ops_parse(const char *s, unsigned *ops)
{
	return_if_fail(s && ops);
	unsigned m = 0;
	while (*s) {
		size_t n = strcspn(s, ", ");
		if (n) {
			unsigned bit = 0;
			for (size_t i = 0; i < sizeof op_words / sizeof op_words[0]; i++)
				if (strlen(op_words[i].word) == n &&
				    strncmp(s, op_words[i].word, n) == 0)
					bit = op_words[i].bit;
			if (!bit)
				return cmk_err(CMK_E_USAGE,
					       "unknown key operation '%.*s' (known: wrapKey "
					       "unwrapKey encrypt decrypt sign verify)",
					       (int)n, s);
			m |= bit;
		}
		s += n;
		if (*s)
			s++;
	}
	if (!m)
		return cmk_err(CMK_E_USAGE, "no key operation given");
	*ops = m;
	return CMK_OK;
}

void cmk_ops_format(unsigned ops, char *buf, size_t len)
{
	size_t used = 0;
	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < sizeof op_words / sizeof op_words[0]; i++)
		if (ops & op_words[i].bit)
			used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%s",
						 used ? "," : "", op_words[i].word);
}

static const struct {
	cmk_alg alg;
	const char *name;
} alg_names[] = {
	{ CMK_ALG_RSA_OAEP_256, "RSA-OAEP-256" },
	{ CMK_ALG_RSA_OAEP, "RSA-OAEP" },
	{ CMK_ALG_RSA_OAEP_384, "RSA-OAEP-384" },
	{ CMK_ALG_RSA_OAEP_512, "RSA-OAEP-512" },
	{ CMK_ALG_RSA1_5, "RSA1_5" },
};

const char *cmk_alg_name(cmk_alg alg)
{
	for (size_t i = 0; i < sizeof alg_names / sizeof alg_names[0]; i++)
		if (alg_names[i].alg == alg)
			return alg_names[i].name;
	return "unknown";
}

cmk_rc cmk_alg_parse(const char *name, cmk_alg *alg)
{
	return_if_fail(name && alg);
	for (size_t i = 0; i < sizeof alg_names / sizeof alg_names[0]; i++)
		if (strcmp(alg_names[i].name, name) == 0) {
			*alg = alg_names[i].alg;
			return CMK_OK;
		}
	return cmk_err(CMK_E_USAGE,
		       "unknown algorithm '%s' (known: RSA-OAEP-256 RSA-OAEP RSA-OAEP-384 "
		       "RSA-OAEP-512 RSA1_5)",
		       name);
}
