/*
 * uri.c - from a key URI to an open key.
 *
 *   cmk://VAULT/keys/NAME[/VERSION]   a vault key (versionless: the current
 *                                     version at load time)
 *   cmk:///keys/NAME[/VERSION]        the same in the default vault
 *   pkcs11:token=...;object=NAME;id=%..  (RFC 7512) a vault key named by its
 *                                     token key pair: the vaults of cmk.conf
 *                                     whose token matches token=,
 *                                     manufacturer= and model= are searched;
 *                                     object= is the key name and id= the 16
 *                                     bytes of the version id.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>

#include "prov.h"

static cmkp_key *open_kid(cmkp_prov *p, cmk_ctx *ctx, const char *kid)
{
	cmk_key *tok = NULL;
	cmkp_key *k;
	cmk_rc rc;

	rc = cmk_key_open(ctx, kid, &tok);
	if (rc != CMK_OK) {
		CMKP_ERR_RC(p, rc);
		return NULL;
	}
	if ((k = cmkp_key_new(p)) == NULL) {
		cmk_key_close(tok);
		return NULL;
	}
	if (!cmkp_key_set_token(k, tok)) {
		cmk_key_close(tok);
		cmkp_key_free(k);
		return NULL;
	}
	return k;
}

static cmkp_key *open_cmk(cmkp_prov *p, const char *uri)
{
	char vault[64], name[CMK_NAME_MAX], version[CMK_VERSION_LEN + 1];
	char kid[CMK_KID_MAX];
	cmk_ctx *ctx;

	if (strncmp(uri, "cmk:///", 7) == 0) {
		if ((ctx = cmkp_vault_ctx(p, NULL)) == NULL)
			return NULL;
		if ((size_t)snprintf(kid, sizeof kid, "cmk://%s/%s", cmk_ctx_vault(ctx),
		                     uri + 7) >= sizeof kid) {
			CMKP_ERR(p, CMKP_R_BAD_URI, "key id %s is too long", uri);
			return NULL;
		}
	} else if (strlen(uri) < sizeof kid) {
		strcpy(kid, uri);
	} else {
		CMKP_ERR(p, CMKP_R_BAD_URI, "key id %.64s... is too long", uri);
		return NULL;
	}
	if (cmk_kid_parse(kid, vault, name, version) != CMK_OK) {
		CMKP_ERR(p, CMKP_R_BAD_URI, "%s", cmk_last_error());
		return NULL;
	}
	if ((ctx = cmkp_vault_ctx(p, vault)) == NULL)
		return NULL;
	return open_kid(p, ctx, kid);
}

/* ---------------------------------------------------------------- pkcs11: */

typedef struct p11_uri {
	char token[64], manufacturer[64], model[64], object[CMK_NAME_MAX], type[16];
	unsigned char id[64];
	size_t id_len;
	int has_token, has_manufacturer, has_model, has_object, has_id, has_type;
} p11_uri;

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode s[0..n) into out (cap bytes, NUL-terminated); 0 if it does
 * not fit or is malformed. */
static int pct_decode(const char *s, size_t n, unsigned char *out, size_t cap,
                      size_t *len)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n || (hi = hexval(s[i + 1])) < 0
			    || (lo = hexval(s[i + 2])) < 0)
				return 0;
			c = hi << 4 | lo;
			i += 2;
		}
		if (o + 1 >= cap)
			return 0;
		out[o++] = (unsigned char)c;
	}
	out[o] = '\0';
	*len = o;
	return 1;
}

static int text_attr(const char *v, size_t n, char *out, size_t cap, int *has)
{
	size_t len;

	*has = 1;
	return pct_decode(v, n, (unsigned char *)out, cap, &len) && strlen(out) == len;
}

static int parse_p11(const char *uri, p11_uri *u)
{
	const char *s = uri + strlen("pkcs11:"), *end = s + strcspn(s, "?");

	memset(u, 0, sizeof *u);
	while (s < end) {
		const char *semi = memchr(s, ';', (size_t)(end - s));
		const char *e = semi != NULL ? semi : end;
		const char *eq = memchr(s, '=', (size_t)(e - s));
		size_t kl, vl;
		int ok = 1;

		if (eq == NULL)
			return e == s;  /* only an empty trailing attribute is allowed */
		kl = (size_t)(eq - s);
		vl = (size_t)(e - eq - 1);
#define IS(name) (kl == strlen(name) && strncmp(s, name, kl) == 0)
		if (IS("token"))
			ok = text_attr(eq + 1, vl, u->token, sizeof u->token, &u->has_token);
		else if (IS("manufacturer"))
			ok = text_attr(eq + 1, vl, u->manufacturer, sizeof u->manufacturer,
			               &u->has_manufacturer);
		else if (IS("model"))
			ok = text_attr(eq + 1, vl, u->model, sizeof u->model, &u->has_model);
		else if (IS("object"))
			ok = text_attr(eq + 1, vl, u->object, sizeof u->object, &u->has_object);
		else if (IS("type"))
			ok = text_attr(eq + 1, vl, u->type, sizeof u->type, &u->has_type);
		else if (IS("id")) {
			u->has_id = 1;
			ok = pct_decode(eq + 1, vl, u->id, sizeof u->id, &u->id_len);
		}
#undef IS
		/* other attributes (serial, slot-*, library-*) do not select */
		if (!ok)
			return 0;
		s = e + (semi != NULL);
	}
	return 1;
}

static int token_matches(const p11_uri *u, const cmk_vault_info *info)
{
	return (!u->has_token || strcmp(u->token, info->token_label) == 0)
	       && (!u->has_manufacturer || strcmp(u->manufacturer, info->token_manufacturer) == 0)
	       && (!u->has_model || strcmp(u->model, info->token_model) == 0);
}

static void hex(const unsigned char *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/* The key of version `version` in the vault, by searching its keys. */
static int find_version(cmkp_prov *p, cmk_ctx *ctx, const char *version,
                        char name[CMK_NAME_MAX])
{
	cmk_key_info *keys = NULL;
	size_t n = 0;
	int found = 0;
	cmk_rc rc;

	if ((rc = cmk_key_list(ctx, 0, &keys, &n)) != CMK_OK) {
		CMKP_ERR_RC(p, rc);
		return 0;
	}
	for (size_t i = 0; i < n && !found; i++) {
		cmk_version_info *v = NULL;
		size_t nv = 0;

		if (cmk_key_versions(ctx, keys[i].name, 0, &v, &nv) != CMK_OK)
			continue;
		for (size_t j = 0; j < nv && !found; j++)
			if (strcmp(v[j].version, version) == 0) {
				snprintf(name, CMK_NAME_MAX, "%s", keys[i].name);
				found = 1;
			}
		cmk_free(v);
	}
	cmk_free(keys);
	return found;
}

/* The vault key a pkcs11: URI names in vault `vault`, or NULL. */
static cmkp_key *p11_in_vault(cmkp_prov *p, const char *vault, const p11_uri *u,
                              const char *uri, int *token_seen)
{
	char name[CMK_NAME_MAX], version[CMK_VERSION_LEN + 1] = "";
	char kid[CMK_KID_MAX];
	cmk_vault_info info;
	cmk_ctx *ctx;
	cmk_rc rc;

	if ((ctx = cmkp_vault_ctx(p, vault)) == NULL)
		return NULL;
	if ((rc = cmk_vault_info_get(ctx, &info)) != CMK_OK) {
		CMKP_ERR_RC(p, rc);
		return NULL;
	}
	if (!token_matches(u, &info))
		return NULL;
	*token_seen = 1;
	if (u->has_id) {
		if (u->id_len != CMK_VERSION_LEN / 2) {
			CMKP_ERR(p, CMK_E_NOT_FOUND, "%s: id= is not a cmk version id (16 bytes)", uri);
			return NULL;
		}
		hex(u->id, u->id_len, version);
	}
	if (u->has_object)
		snprintf(name, sizeof name, "%s", u->object);
	else if (!find_version(p, ctx, version, name)) {
		CMKP_ERR(p, CMK_E_NOT_FOUND, "%s: no key of vault %s has version %s", uri,
		         vault, version);
		return NULL;
	}
	if ((size_t)snprintf(kid, sizeof kid, "cmk://%s/keys/%s%s%s", vault, name,
	                     *version ? "/" : "", version) >= sizeof kid) {
		CMKP_ERR(p, CMKP_R_BAD_URI, "%s: object= is too long", uri);
		return NULL;
	}
	return open_kid(p, ctx, kid);
}

static cmkp_key *open_pkcs11(cmkp_prov *p, const char *uri)
{
	p11_uri u;
	char **names = NULL;
	size_t n = 0;
	int token_seen = 0;
	cmkp_key *k = NULL;
	cmk_rc rc;

	if (!parse_p11(uri, &u)) {
		CMKP_ERR(p, CMKP_R_BAD_URI, "%s is not a valid pkcs11: URI (RFC 7512)", uri);
		return NULL;
	}
	if (!u.has_object && !u.has_id) {
		CMKP_ERR(p, CMKP_R_BAD_URI, "%s names no key: give object= or id=", uri);
		return NULL;
	}
	if (u.has_type && strcmp(u.type, "private") != 0 && strcmp(u.type, "public") != 0) {
		CMKP_ERR(p, CMK_E_NOT_FOUND, "%s: the cmk provider has no %s objects", uri, u.type);
		return NULL;
	}
	if ((rc = cmk_config_vaults(p->conf, &names, &n)) != CMK_OK) {
		CMKP_ERR_RC(p, rc);
		return NULL;
	}
	ERR_set_mark();
	/* the configured default vault first, then the others in file order */
	if (p->vault != NULL)
		k = p11_in_vault(p, p->vault, &u, uri, &token_seen);
	for (size_t i = 0; i < n && k == NULL; i++)
		if (p->vault == NULL || strcmp(names[i], p->vault) != 0)
			k = p11_in_vault(p, names[i], &u, uri, &token_seen);
	cmk_strv_free(names, n);
	if (k != NULL) {
		ERR_pop_to_mark();
		return k;
	}
	ERR_clear_last_mark();
	if (!token_seen)
		CMKP_ERR(p, CMK_E_NOT_FOUND, "%s: no vault of the cmk configuration is on that token",
		         uri);
	return NULL;
}

cmkp_key *cmkp_key_open_uri(cmkp_prov *p, const char *uri)
{
	if (strncmp(uri, "cmk:", 4) == 0)
		return open_cmk(p, uri);
	if (strncasecmp(uri, "pkcs11:", 7) == 0)
		return open_pkcs11(p, uri);
	CMKP_ERR(p, CMKP_R_BAD_URI, "%s is neither a cmk:// nor a pkcs11: key URI", uri);
	return NULL;
}
