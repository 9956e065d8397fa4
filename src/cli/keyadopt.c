/*
 * keyadopt.c - `cmk key adopt`: take an RSA key pair made on the vault's
 * token by another tool (pkcs11-tool, a vendor's CLI) into the vault as a
 * new key or a new version (cmk_key_adopt(3)).
 */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>

#include "cli/cli.h"

enum { OPT_ID = 1000, OPT_LABEL, OPT_OPS };

int cli_key_adopt(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "id", required_argument, NULL, OPT_ID },
		{ "label", required_argument, NULL, OPT_LABEL },
		{ "ops", required_argument, NULL, OPT_OPS },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	const char *idhex = NULL, *label = NULL;
	char version[CMK_VERSION_LEN + 1], kid[CMK_KID_MAX];
	cmk_key_params p;
	unsigned char *id = NULL;
	long idlen = 0;
	cmk_ctx *ctx;
	int o, rc;

	memset(&p, 0, sizeof p);
	while ((o = cli_next_opt(c, argc, argv, opts)) != -1) {
		switch (o) {
		case CLI_OPT_STOP: return c->rc;
		case OPT_ID: idhex = optarg; break;
		case OPT_LABEL: label = optarg; break;
		case OPT_OPS:
			if (cmk_ops_parse(optarg, &p.ops) != CMK_OK)
				return cli_usage_fail(c, "--ops %s: %s", optarg, cmk_last_error());
			break;
		}
	}
	if ((rc = cli_operands(c, argc, argv, 1, 1, "key NAME")) != CMK_OK)
		return rc;
	if ((idhex == NULL) == (label == NULL))
		return cli_usage_fail(
			c, "give the key pair by --id HEX or by --label LABEL (one of them)");
	if (label != NULL && *label == '\0')
		return cli_usage_fail(c, "--label needs a label");
	if (idhex != NULL && ((id = OPENSSL_hexstr2buf(idhex, &idlen)) == NULL || idlen <= 0))
		return cli_usage_fail(c, "--id %s is not hexadecimal (e.g. 0a1b or 0a:1b)", idhex);
	if ((rc = cli_open(c, argv[optind], &ctx)) != CMK_OK) {
		OPENSSL_free(id);
		return rc;
	}
	rc = cmk_key_adopt(ctx, argv[optind], id, (size_t)idlen, label, &p, version);
	OPENSSL_free(id);
	if (rc != CMK_OK) {
		rc = cli_lib_fail(rc);
	} else {
		cli_kid(kid, cmk_ctx_vault(ctx), argv[optind], version);
		printf("%s\n", kid);
	}
	cmk_close(ctx);
	return rc;
}
