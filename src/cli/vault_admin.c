/*
 * vault_admin.c - `cmk vault set` and `cmk vault sweep`: the vault's
 * one-way switches, and purging what is past its retention.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "cli/cli.h"

enum { OPT_PURGE_PROTECTION = 256, OPT_FAIL_CLOSED };

static int
on_off(struct cli *c, const char *opt, const char *v, int *out)
{
	if (strcmp(v, "on") == 0 || strcmp(v, "yes") == 0)
		*out = 1;
	else if (strcmp(v, "off") == 0 || strcmp(v, "no") == 0)
		*out = 0;
	else
		return cli_usage_fail(c, "%s takes on or off, not '%s'", opt, v);
	return CMK_OK;
}

int
cli_vault_set(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "purge-protection", required_argument, NULL, OPT_PURGE_PROTECTION },
		{ "audit-fail-closed", required_argument, NULL, OPT_FAIL_CLOSED },
		CLI_OPT_HELP, CLI_OPT_END,
	};
	int pp = -1, fc = -1, o, rc;
	cmk_ctx *ctx;

	while ((o = cli_next_opt(c, argc, argv, opts)) != -1) {
		switch (o) {
		case CLI_OPT_STOP:
			return c->rc;
		case OPT_PURGE_PROTECTION:
			if ((rc = on_off(c, "--purge-protection", optarg, &pp)) != CMK_OK)
				return rc;
			break;
		case OPT_FAIL_CLOSED:
			if ((rc = on_off(c, "--audit-fail-closed", optarg, &fc)) != CMK_OK)
				return rc;
			break;
		}
	}
	if ((rc = cli_operands(c, argc, argv, 0, 0, "")) != CMK_OK)
		return rc;
	if (pp < 0 && fc < 0)
		return cli_usage_fail(c, "nothing to set: give --purge-protection on or --audit-fail-closed on|off");
	if ((rc = cli_open(c, NULL, &ctx)) != CMK_OK)
		return rc;
	if (pp >= 0 && (rc = cmk_vault_set_purge_protection(ctx, pp)) != CMK_OK)
		rc = cli_lib_fail(rc);
	else if (fc >= 0 && (rc = cmk_vault_set_audit_fail_closed(ctx, fc)) != CMK_OK)
		rc = cli_lib_fail(rc);
	else {
		cmk_vault_info v;
		if ((rc = cmk_vault_info_get(ctx, &v)) != CMK_OK)
			rc = cli_lib_fail(rc);
		else
			printf("vault %s: purge protection %s, audit %s, recovery level %s\n", v.name,
			       v.purge_protection ? "on" : "off",
			       v.audit_fail_closed ? "fails closed" : "best effort", v.recovery_level);
	}
	cmk_close(ctx);
	return rc;
}

int
cli_vault_sweep(struct cli *c, int argc, char **argv)
{
	cmk_ctx *ctx;
	int rc;

	if ((rc = cli_args(c, argc, argv, 0, 0, "")) != CMK_OK)
		return rc;
	if ((rc = cli_open(c, NULL, &ctx)) != CMK_OK)
		return rc;
	size_t purged = 0, rpurged = 0;
	rc = cmk_vault_sweep(ctx, &purged);
	if (rc != CMK_OK)
		rc = cli_lib_fail(rc);
	else if (!c->json)
		printf("vault %s: %zu key%s purged\n", cmk_ctx_vault(ctx), purged, purged == 1 ? "" : "s");
	/* resources of this vault past their purge date, then rotation
	 * policies (docs/resources.md) */
	cmk_resource_params rp = { .config = c->config };
	if (rc == CMK_OK && (rc = cmk_resource_sweep(ctx, &rp, &rpurged)) != CMK_OK)
		rc = cli_lib_fail(rc);
	else if (rc == CMK_OK && !c->json)
		printf("vault %s: %zu resource%s purged\n", cmk_ctx_vault(ctx), rpurged,
		       rpurged == 1 ? "" : "s");
	json_object *rot = NULL;
	if (rc == CMK_OK)
		rc = cli_rotation_sweep(c, ctx, c->json ? &rot : NULL);
	if (rc == CMK_OK && c->json) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "vault", json_object_new_string(cmk_ctx_vault(ctx)));
		json_object_object_add(o, "keys_purged", json_object_new_int64((int64_t)purged));
		json_object_object_add(o, "resources_purged", json_object_new_int64((int64_t)rpurged));
		json_object_object_add(o, "rotation", rot);
		rc = cli_json_print(o);
	}
	cmk_close(ctx);
	return rc;
}
