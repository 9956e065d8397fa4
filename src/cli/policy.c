/*
 * policy.c - `cmk policy`: access policies (identity -> key permissions).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli/cli.h"

static int run_set(struct cli *c, int argc, char **argv)
{
	unsigned perms;
	cmk_ctx *ctx;
	int rc;

	if ((rc = cli_args(c, argc, argv, 2, 2, "IDENTITY PERMISSIONS")) != CMK_OK)
		return rc;
	if ((rc = cmk_perms_parse(argv[optind + 1], &perms)) != CMK_OK)
		return cli_usage_fail(c, "%s", cmk_last_error());
	if ((rc = cli_open(c, NULL, &ctx)) != CMK_OK)
		return rc;
	rc = cmk_policy_set(ctx, argv[optind], perms);
	if (rc != CMK_OK) {
		rc = cli_lib_fail(rc);
	} else {
		char buf[256];
		cmk_perms_format(perms, buf, sizeof buf);
		printf("identity %s in vault %s: %s\n", argv[optind], cmk_ctx_vault(ctx),
		       buf[0] ? buf : "(no permissions)");
	}
	cmk_close(ctx);
	return rc;
}

static int run_show(struct cli *c, int argc, char **argv)
{
	cmk_policy *v;
	size_t n;
	cmk_ctx *ctx;
	int rc;

	if ((rc = cli_args(c, argc, argv, 0, 1, "[IDENTITY]")) != CMK_OK)
		return rc;
	const char *only = optind < argc ? argv[optind] : NULL;
	if ((rc = cli_open(c, NULL, &ctx)) != CMK_OK)
		return rc;
	if ((rc = cmk_policy_list(ctx, &v, &n)) != CMK_OK) {
		cmk_close(ctx);
		return cli_lib_fail(rc);
	}
	int found = 0;
	json_object *arr = c->json ? json_object_new_array() : NULL;
	for (size_t i = 0; i < n; i++) {
		if (only && strcmp(v[i].identity, only) != 0)
			continue;
		found = 1;
		char buf[256], when[32];
		cmk_perms_format(v[i].perms, buf, sizeof buf);
		cli_time_format(v[i].updated, when);
		if (arr) {
			json_object *o2 = json_object_new_object();
			json_object_object_add(o2, "identity",
					       json_object_new_string(v[i].identity));
			json_object *p = json_object_new_array();
			for (unsigned b = 1; b <= CMK_PERM_VERIFY; b <<= 1)
				if (v[i].perms & b)
					json_object_array_add(
						p, json_object_new_string(cmk_perm_name(b)));
			json_object_object_add(o2, "permissions", p);
			json_object_object_add(o2, "updated", json_object_new_string(when));
			json_object_array_add(arr, o2);
		} else {
			printf("%-24s %s\n", v[i].identity, buf[0] ? buf : "-");
		}
	}
	cmk_free(v);
	if (only && !found) {
		json_object_put(arr);
		rc = cli_fail(CMK_E_NOT_FOUND, "vault %s has no access policy for identity '%s'",
			      cmk_ctx_vault(ctx), only);
	} else if (arr) {
		rc = cli_json_print(arr);
	}
	cmk_close(ctx);
	return rc;
}

static int run_remove(struct cli *c, int argc, char **argv)
{
	cmk_ctx *ctx;
	int rc;

	if ((rc = cli_args(c, argc, argv, 1, 1, "IDENTITY")) != CMK_OK)
		return rc;
	if ((rc = cli_open(c, NULL, &ctx)) != CMK_OK)
		return rc;
	rc = cmk_policy_remove(ctx, argv[optind]);
	if (rc != CMK_OK)
		rc = cli_lib_fail(rc);
	else
		printf("identity %s has no access to vault %s any more\n", argv[optind],
		       cmk_ctx_vault(ctx));
	cmk_close(ctx);
	return rc;
}

const struct cli_group cli_group_policy = {
	"policy",
	"grant, show and revoke key permissions of identities",
	(const struct cli_cmd[]){
		{ "set", run_set, "IDENTITY PERMISSIONS",
		  "Give IDENTITY exactly PERMISSIONS, a comma-separated list of: "
		  "get list create\nupdate delete recover purge rotate wrapKey "
		  "unwrapKey encrypt decrypt sign\nverify; \"all\" is every "
		  "permission except purge, which must be named.\nOnly the vault's "
		  "administrator may change policies.",
		  NULL },
		{ "show", run_show, "[IDENTITY]", "List the access policies, one identity a line.",
		  NULL },
		{ "remove", run_remove, "IDENTITY",
		  "Revoke every permission of IDENTITY.  Other processes see it "
		  "within the\nvault's policy_cache_ms (cmk.conf(5)).",
		  NULL },
		{ NULL, NULL, NULL, NULL, NULL },
	},
};
