/*
 * vault_admin.c - `cmk vault set`, `cmk vault sweep` and `cmk vault
 * check`: the vault's one-way switches, purging what is past its
 * retention, and finding (and repairing) what a kill or an edit behind
 * cmk's back left on the token.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli/cli.h"

enum { OPT_PURGE_PROTECTION = 256, OPT_FAIL_CLOSED, OPT_AUDIT_LOG, OPT_REPAIR };

static int on_off(struct cli *c, const char *opt, const char *v, int *out)
{
	if (strcmp(v, "on") == 0 || strcmp(v, "yes") == 0)
		*out = 1;
	else if (strcmp(v, "off") == 0 || strcmp(v, "no") == 0)
		*out = 0;
	else
		return cli_usage_fail(c, "%s takes on or off, not '%s'", opt, v);
	return CMK_OK;
}

int cli_vault_set(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "purge-protection", required_argument, NULL, OPT_PURGE_PROTECTION },
		{ "audit-fail-closed", required_argument, NULL, OPT_FAIL_CLOSED },
		{ "audit-log", required_argument, NULL, OPT_AUDIT_LOG },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	int pp = -1, fc = -1, o, rc;
	const char *log = NULL;
	cmk_ctx *ctx;

	while ((o = cli_next_opt(c, argc, argv, opts)) != -1) {
		switch (o) {
		case CLI_OPT_STOP: return c->rc;
		case OPT_PURGE_PROTECTION:
			if ((rc = on_off(c, "--purge-protection", optarg, &pp)) != CMK_OK)
				return rc;
			break;
		case OPT_FAIL_CLOSED:
			if ((rc = on_off(c, "--audit-fail-closed", optarg, &fc)) != CMK_OK)
				return rc;
			break;
		case OPT_AUDIT_LOG: log = optarg; break;
		}
	}
	if ((rc = cli_operands(c, argc, argv, 0, 0, "")) != CMK_OK)
		return rc;
	if (pp < 0 && fc < 0 && !log)
		return cli_usage_fail(c, "nothing to set: give --purge-protection on, "
					 "--audit-fail-closed on|off or --audit-log PATH");
	if ((rc = cli_open(c, NULL, &ctx)) != CMK_OK)
		return rc;
	if (pp >= 0 && (rc = cmk_vault_set_purge_protection(ctx, pp)) != CMK_OK)
		rc = cli_lib_fail(rc);
	else if (fc >= 0 && (rc = cmk_vault_set_audit_fail_closed(ctx, fc)) != CMK_OK)
		rc = cli_lib_fail(rc);
	else if (log && (rc = cmk_vault_set_audit_log(ctx, log)) != CMK_OK)
		rc = cli_lib_fail(rc);
	else {
		cmk_vault_info v;
		if ((rc = cmk_vault_info_get(ctx, &v)) != CMK_OK)
			rc = cli_lib_fail(rc);
		else
			printf("vault %s: purge protection %s, audit %s, recovery level %s\n",
			       v.name, v.purge_protection ? "on" : "off",
			       v.audit_fail_closed ? "fails closed" : "best effort",
			       v.recovery_level);
	}
	cmk_close(ctx);
	return rc;
}

int cli_vault_sweep(struct cli *c, int argc, char **argv)
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
		printf("vault %s: %zu key%s purged\n", cmk_ctx_vault(ctx), purged,
		       purged == 1 ? "" : "s");
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
		json_object_object_add(o, "resources_purged",
				       json_object_new_int64((int64_t)rpurged));
		json_object_object_add(o, "rotation", rot);
		rc = cli_json_print(o);
	}
	cmk_close(ctx);
	return rc;
}

static int check_json(const cmk_check_item *it, size_t n)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "kind",
				       json_object_new_string(cmk_check_kind_name(it[i].kind)));
		json_object_object_add(o, "object", json_object_new_string(it[i].object));
		json_object_object_add(o, "detail", json_object_new_string(it[i].detail));
		json_object_object_add(o, "repaired", json_object_new_boolean(it[i].repaired));
		json_object_array_add(a, o);
	}
	printf("%s\n", json_object_to_json_string_ext(a, JSON_C_TO_STRING_PRETTY));
	json_object_put(a);
	return CMK_OK;
}

int cli_vault_check(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "repair", no_argument, NULL, OPT_REPAIR },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	int repair = 0, o, rc;
	cmk_ctx *ctx;

	while ((o = cli_next_opt(c, argc, argv, opts)) != -1) {
		switch (o) {
		case CLI_OPT_STOP: return c->rc;
		case OPT_REPAIR: repair = 1; break;
		}
	}
	if ((rc = cli_operands(c, argc, argv, 0, 0, "")) != CMK_OK)
		return rc;
	if ((rc = cli_open(c, NULL, &ctx)) != CMK_OK)
		return rc;
	cmk_check_item *it;
	size_t n;
	if ((rc = cmk_vault_check(ctx, repair, &it, &n)) != CMK_OK) {
		rc = cli_lib_fail(rc);
		cmk_close(ctx);
		return rc;
	}
	size_t left = 0, missing = 0;
	for (size_t i = 0; i < n; i++) {
		left += !it[i].repaired;
		missing += it[i].kind == CMK_CHECK_MISSING;
	}
	if (c->json)
		check_json(it, n);
	else if (n == 0)
		printf("vault %s: no problem found\n", cmk_ctx_vault(ctx));
	for (size_t i = 0; !c->json && i < n; i++)
		printf("%s %s: %s%s\n", cmk_check_kind_name(it[i].kind), it[i].object, it[i].detail,
		       it[i].repaired ? " (repaired: removed or settled)" : "");
	if (!c->json && n && !left)
		printf("vault %s: %zu problem%s repaired (removed or settled)\n",
		       cmk_ctx_vault(ctx), n, n == 1 ? "" : "s");
	if (left) {
		rc = cli_fail(CMK_E_INTEGRITY, "vault %s: %zu problem%s %s%s", cmk_ctx_vault(ctx),
			      left, left == 1 ? "" : "s",
			      repair ? "left after the repair" : "found",
			      missing  ? ": a version without its private key cannot be repaired"
			      : repair ? ""
				       : "; `cmk vault check --repair` repairs them");
	}
	cmk_free(it);
	cmk_close(ctx);
	return rc;
}
