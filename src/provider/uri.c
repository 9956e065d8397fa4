/*
 * uri.c - from a key URI to an open key.
 *
 *   cmk://VAULT/keys/NAME[/VERSION]   a vault key (versionless: the current
 *                                     version at load time)
 *   cmk:///keys/NAME[/VERSION]        the same in the default vault
 *   pkcs11:token=...;object=NAME[;id=%..]  (RFC 7512) a vault key named by
 *                                     its token key pair (cmk_key_open(3):
 *                                     object= is the key name, id= the 16
 *                                     bytes of the version), searched in the
 *                                     vaults of cmk.conf.
 */
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
		if ((size_t)snprintf(kid, sizeof kid, "cmk://%s/%s", cmk_ctx_vault(ctx), uri + 7) >=
		    sizeof kid) {
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

/* libcmk resolves a pkcs11: URI against one vault (and refuses it when its
 * token= is another token): try the vaults of the configuration in turn,
 * the default one first.  When none has the key, every vault's reason is
 * left on the error stack. */
static cmkp_key *open_pkcs11(cmkp_prov *p, const char *uri)
{
	char **names = NULL;
	size_t n = 0;
	cmkp_key *k = NULL;
	cmk_ctx *ctx;
	cmk_rc rc;

	if ((rc = cmk_config_vaults(p->conf, &names, &n)) != CMK_OK) {
		CMKP_ERR_RC(p, rc);
		return NULL;
	}
	ERR_set_mark();
	if (p->vault != NULL && (ctx = cmkp_vault_ctx(p, p->vault)) != NULL)
		k = open_kid(p, ctx, uri);
	for (size_t i = 0; i < n && k == NULL; i++)
		if ((p->vault == NULL || strcmp(names[i], p->vault) != 0) &&
		    (ctx = cmkp_vault_ctx(p, names[i])) != NULL)
			k = open_kid(p, ctx, uri);
	if (k != NULL)
		ERR_pop_to_mark();
	else
		ERR_clear_last_mark();
	if (k == NULL && n == 0 && p->vault == NULL)
		CMKP_ERR(p, CMK_E_CONFIG, "%s: the cmk configuration has no vaults", uri);
	cmk_strv_free(names, n);
	return k;
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
