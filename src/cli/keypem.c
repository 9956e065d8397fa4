/*
 * keypem.c - `cmk key pem`: write a key reference file, the PEM block
 * "CMK KEY REFERENCE" that the cmk OpenSSL provider reads as the vault key
 * wherever OpenSSL reads a private key file (docs/pem-reference.md,
 * cmk-provider(7)).  The file holds no key material.
 */
#include "config.h"

#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>

#include "cli/cli.h"

enum { OPT_OUT = 1000 };

/* The version exists (deleted keys are refused by cmk_key_versions). */
static int check_key(cmk_ctx *ctx, const char *name, const char *version)
{
	cmk_version_info *v = NULL;
	size_t n = 0, i;
	cmk_rc rc;

	if ((rc = cmk_key_versions(ctx, name, 0, &v, &n)) != CMK_OK)
		return cli_lib_fail(rc);
	for (i = 0; *version && i < n; i++)
		if (strcmp(v[i].version, version) == 0)
			break;
	cmk_free(v);
	if (*version && i == n)
		return cli_fail(CMK_E_NOT_FOUND, "key cmk://%s/keys/%s has no version %s",
				cmk_ctx_vault(ctx), name, version);
	return CMK_OK;
}

int cli_key_pem(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, OPT_OUT },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	char vault[64], name[CMK_NAME_MAX], version[CMK_VERSION_LEN + 1];
	const char *out = NULL;
	cmk_vault_info info;
	cmk_keyref r;
	uint8_t *der = NULL;
	size_t derlen = 0;
	BIO *mem = NULL;
	char *text;
	long len;
	cmk_ctx *ctx;
	int o, rc;

	while ((o = cli_next_opt(c, argc, argv, opts)) != -1) {
		if (o == CLI_OPT_STOP)
			return c->rc;
		out = optarg;
	}
	if ((rc = cli_operands(c, argc, argv, 1, 1, "key NAME[/VERSION]")) != CMK_OK)
		return rc;
	if ((rc = cli_split_id(c, argv[optind], vault, name, version)) != CMK_OK)
		return rc;
	if ((rc = cli_open(c, argv[optind], &ctx)) != CMK_OK)
		return rc;
	if ((rc = check_key(ctx, name, version)) != CMK_OK)
		goto done;
	if ((rc = cmk_vault_info_get(ctx, &info)) != CMK_OK) {
		rc = cli_lib_fail(rc);
		goto done;
	}
	memset(&r, 0, sizeof r);
	cli_kid(r.kid, cmk_ctx_vault(ctx), name, version);
	snprintf(r.token, sizeof r.token, "%s", info.token_label);
	snprintf(r.serial, sizeof r.serial, "%s", info.token_serial);
	r.created = info.created;
	if ((rc = cmk_keyref_encode(&r, &der, &derlen)) != CMK_OK) {
		rc = cli_lib_fail(rc);
		goto done;
	}
	if ((mem = BIO_new(BIO_s_mem())) == NULL ||
	    BIO_printf(mem,
		       "cmk key reference: %s%s\n"
		       "Not a private key: the cmk OpenSSL provider (cmk-provider(7)) reads "
		       "this block\nas the vault key it names, whose private half stays "
		       "on token '%s'.\n",
		       r.kid, *version ? "" : " (the current version when loaded)", r.token) <= 0 ||
	    !PEM_write_bio(mem, CMK_KEYREF_PEM_LABEL, "", der, (long)derlen)) {
		rc = cli_fail(CMK_E_INTERNAL, "cannot encode the key reference of %s", r.kid);
		goto done;
	}
	len = BIO_get_mem_data(mem, &text);
	rc = cli_write(out, "key reference", text, (size_t)len, 0);
done:
	BIO_free(mem);
	cmk_free(der);
	cmk_close(ctx);
	return rc;
}
