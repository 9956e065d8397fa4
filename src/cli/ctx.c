/*
 * ctx.c - opening the vault a command works on, and key ids.
 */
#include "config.h"

#include <string.h>

#include "cli/cli.h"

int cli_split_id(struct cli *c, const char *id, char vault[64], char name[CMK_NAME_MAX],
		 char version[CMK_VERSION_LEN + 1])
{
	const char *slash;
	size_t n;
	cmk_rc rc;

	vault[0] = name[0] = version[0] = '\0';
	if (strncmp(id, "cmk://", 6) == 0) {
		if ((rc = cmk_kid_parse(id, vault, name, version)) != CMK_OK)
			return cli_lib_fail(rc);
		return CMK_OK;
	}
	slash = strchr(id, '/');
	n = slash != NULL ? (size_t)(slash - id) : strlen(id);
	if (n == 0)
		return cli_usage_fail(c, "key id '%s' has no key name", id);
	if (n >= CMK_NAME_MAX)
		return cli_usage_fail(c,
				      "key name in '%s' is longer than %d "
				      "characters",
				      id, CMK_NAME_MAX - 1);
	memcpy(name, id, n);
	name[n] = '\0';
	if (slash == NULL)
		return CMK_OK;
	if (strchr(slash + 1, '/') != NULL || slash[1] == '\0')
		return cli_usage_fail(c,
				      "key id '%s' is not NAME, NAME/VERSION "
				      "or cmk://VAULT/keys/NAME[/VERSION]",
				      id);
	if (strlen(slash + 1) != CMK_VERSION_LEN ||
	    strspn(slash + 1, "0123456789abcdef") != CMK_VERSION_LEN)
		return cli_usage_fail(c,
				      "key id '%s': the version must be %d "
				      "lowercase hex characters",
				      id, CMK_VERSION_LEN);
	strcpy(version, slash + 1);
	return CMK_OK;
}

void cli_kid(char out[CMK_KID_MAX], const char *vault, const char *name, const char *version)
{
	snprintf(out, CMK_KID_MAX, "cmk://%s/keys/%s%s%s", vault, name,
		 version != NULL && *version ? "/" : "", version != NULL ? version : "");
}

int cli_open(struct cli *c, const char *keyid, cmk_ctx **ctx)
{
	char vault[64], name[CMK_NAME_MAX], version[CMK_VERSION_LEN + 1];
	const char *use = c->vault;
	int restored;
	cmk_rc rc;

	*ctx = NULL;
	if (keyid != NULL && strncmp(keyid, "cmk://", 6) == 0) {
		if ((rc = cli_split_id(c, keyid, vault, name, version)) != CMK_OK)
			return rc;
		if (c->vault_explicit && strcmp(c->vault, vault) != 0)
			return cli_usage_fail(c,
					      "key id %s is in vault '%s', "
					      "not in vault '%s' given with "
					      "--vault",
					      keyid, vault, c->vault);
		use = vault;
	}
	/* a lab's token file, lost by a process killed in C_Login, is put
	 * back first (lab_token.c); and once more if this open finds the
	 * token gone (a kill between the check and our login) */
	if ((rc = cli_lab_guard(c, &restored)) != CMK_OK)
		return rc;
	rc = cmk_open(ctx, c->config, use, c->identity);
	if (rc == CMK_E_TOKEN && cli_lab_guard(c, &restored) == CMK_OK && restored)
		rc = cmk_open(ctx, c->config, use, c->identity);
	if (rc != CMK_OK) {
		*ctx = NULL;
		return cli_lib_fail(rc);
	}
	return CMK_OK;
}
