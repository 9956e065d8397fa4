/*
 * vault.c - `cmk vault`: initialise, list and show vaults.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli/cli.h"

enum { OPT_RETENTION = 256, OPT_PURGE_PROTECTION, OPT_ADMIN };

static int show_json(cmk_ctx *ctx, const cmk_vault_info *v);

/* ---------------------------------------------------------------- init */

static int run_init(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "retention", required_argument, NULL, OPT_RETENTION },
		{ "purge-protection", no_argument, NULL, OPT_PURGE_PROTECTION },
		{ "admin", required_argument, NULL, OPT_ADMIN },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	cmk_vault_params p;
	cmk_vault_info info;
	cmk_ctx *ctx;
	int o, rc;

	memset(&p, 0, sizeof(p));
	while ((o = cli_next_opt(c, argc, argv, opts)) != -1) {
		switch (o) {
		case CLI_OPT_STOP: return c->rc;
		case OPT_RETENTION:
			if ((rc = cli_parse_uint(c, "--retention", optarg, &p.retention_days)) !=
			    CMK_OK)
				return rc;
			if (p.retention_days < 7 || p.retention_days > 90)
				return cli_usage_fail(c,
						      "--retention %u is not "
						      "between 7 and 90 days",
						      p.retention_days);
			break;
		case OPT_PURGE_PROTECTION: p.purge_protection = 1; break;
		case OPT_ADMIN: p.admin = optarg; break;
		}
	}
	if ((rc = cli_operands(c, argc, argv, 0, 0, "")) != CMK_OK)
		return rc;
	if ((rc = cli_open(c, NULL, &ctx)) != CMK_OK)
		return rc;
	if ((rc = cmk_vault_init(ctx, &p)) != CMK_OK ||
	    (rc = cmk_vault_info_get(ctx, &info)) != CMK_OK) {
		rc = cli_lib_fail(rc);
	} else if (c->json) {
		rc = show_json(ctx, &info);
	} else {
		printf("vault %s initialised on token %s: retention %u days, "
		       "purge protection %s, administrator %s\n",
		       info.name, info.token_label, info.retention_days,
		       info.purge_protection ? "on" : "off", info.admin);
	}
	cmk_close(ctx);
	return rc;
}

/* ---------------------------------------------------------------- list */

static int run_list(struct cli *c, int argc, char **argv)
{
	struct json_object *arr = NULL, *o;
	cmk_vault_conf_info vi;
	char **names = NULL;
	size_t n = 0, i;
	int rc;

	if ((rc = cli_args(c, argc, argv, 0, 0, "")) != CMK_OK)
		return rc;
	if ((rc = cmk_config_vaults(c->config, &names, &n)) != CMK_OK)
		return cli_lib_fail(rc);
	if (c->json)
		arr = json_object_new_array();
	for (i = 0; i < n && rc == CMK_OK; i++) {
		if ((rc = cmk_config_vault_get(c->config, names[i], &vi)) != CMK_OK) {
			rc = cli_lib_fail(rc);
			break;
		}
		if (!c->json) {
			printf("%-12s %s %s%s\n", vi.name, vi.module, vi.token,
			       vi.is_default ? " default" : "");
			continue;
		}
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(vi.name));
		json_object_object_add(o, "module", json_object_new_string(vi.module));
		json_object_object_add(o, "token", json_object_new_string(vi.token));
		json_object_object_add(o, "default", json_object_new_boolean(vi.is_default));
		json_object_array_add(arr, o);
	}
	if (c->json && rc == CMK_OK)
		rc = cli_json_print(arr);
	else
		json_object_put(arr);
	cmk_strv_free(names, n);
	return rc;
}

/* ---------------------------------------------------------------- show */

static int show_json(cmk_ctx *ctx, const cmk_vault_info *v)
{
	struct json_object *o = json_object_new_object();
	char t[32];

	cli_time_format(v->created, t);
	json_object_object_add(o, "name", json_object_new_string(v->name));
	json_object_object_add(o, "identity", json_object_new_string(cmk_ctx_identity(ctx)));
	json_object_object_add(o, "token_label", json_object_new_string(v->token_label));
	json_object_object_add(o, "token_model", json_object_new_string(v->token_model));
	json_object_object_add(o, "token_manufacturer",
			       json_object_new_string(v->token_manufacturer));
	json_object_object_add(o, "token_serial", json_object_new_string(v->token_serial));
	json_object_object_add(o, "module", json_object_new_string(v->module));
	json_object_object_add(o, "admin", json_object_new_string(v->admin));
	json_object_object_add(o, "retention_days", json_object_new_int64(v->retention_days));
	json_object_object_add(o, "purge_protection", json_object_new_boolean(v->purge_protection));
	json_object_object_add(o, "created", v->created ? json_object_new_string(t) : NULL);
	json_object_object_add(o, "oaep256_native", json_object_new_boolean(v->oaep256_native));
	json_object_object_add(o, "oaep1_native", json_object_new_boolean(v->oaep1_native));
	json_object_object_add(o, "raw_rsa", json_object_new_boolean(v->raw_rsa));
	json_object_object_add(o, "unwrap_path", json_object_new_string(v->unwrap_path));
	json_object_object_add(o, "recovery_level", json_object_new_string(v->recovery_level));
	json_object_object_add(o, "audit_log", json_object_new_string(v->audit_log));
	json_object_object_add(o, "audit_fail_closed",
			       json_object_new_boolean(v->audit_fail_closed));
	static const char *const from[] = { "configuration", "vault", "default" };
	json_object_object_add(o, "audit_log_from",
			       json_object_new_string(from[v->audit_log_from % 3]));
	json_object_object_add(o, "audit_problem",
			       v->audit_problem[0] ? json_object_new_string(v->audit_problem)
						   : NULL);
	json_object_object_add(o, "audit_lost", json_object_new_int64((int64_t)v->audit_lost));
	json_object_object_add(o, "policy_cache_ms", json_object_new_int64(v->policy_cache_ms));
	return cli_json_print(o);
}

static int run_show(struct cli *c, int argc, char **argv)
{
	cmk_vault_info v;
	cmk_ctx *ctx;
	char t[32];
	int rc;

	if ((rc = cli_args(c, argc, argv, 0, 0, "")) != CMK_OK)
		return rc;
	if ((rc = cli_open(c, NULL, &ctx)) != CMK_OK)
		return rc;
	if ((rc = cmk_vault_info_get(ctx, &v)) != CMK_OK) {
		rc = cli_lib_fail(rc);
	} else if (c->json) {
		rc = show_json(ctx, &v);
	} else {
		cli_time_format(v.created, t);
		printf("vault:              %s\n", v.name);
		printf("identity:           %s\n", cmk_ctx_identity(ctx));
		printf("administrator:      %s\n", v.admin);
		printf("retention:          %u days\n", v.retention_days);
		printf("purge protection:   %s\n", v.purge_protection ? "on" : "off");
		printf("created:            %s\n", t);
		printf("module:             %s\n", v.module);
		printf("token:              %s\n", v.token_label);
		printf("token model:        %s\n", v.token_model);
		printf("token manufacturer: %s\n", v.token_manufacturer);
		printf("token serial:       %s\n", v.token_serial);
		printf("OAEP-SHA256 native: %s\n", v.oaep256_native ? "yes" : "no");
		printf("OAEP-SHA1 native:   %s\n", v.oaep1_native ? "yes" : "no");
		printf("raw RSA:            %s\n", v.raw_rsa ? "yes" : "no");
		printf("OAEP-256 unwrap:    %s\n", v.unwrap_path);
		printf("recovery level:     %s\n", v.recovery_level);
		printf("audit log:          %s (%s; %s)\n", v.audit_log,
		       v.audit_fail_closed ? "fails closed" : "best effort",
		       v.audit_log_from == 0   ? "from the configuration"
		       : v.audit_log_from == 1 ? "recorded in the vault"
					       : "default");
		if (v.audit_problem[0])
			printf("audit WARNING:      records cannot be written: %s\n",
			       v.audit_problem);
		if (v.audit_lost)
			printf("audit WARNING:      the token counts %llu records that could not "
			       "be written\n",
			       (unsigned long long)v.audit_lost);
		printf("policy cache:       %u ms (revocation delay)\n", v.policy_cache_ms);
	}
	cmk_close(ctx);
	return rc;
}

/* --------------------------------------------------------------- group */

const struct cli_group cli_group_vault = {
	"vault",
	"initialise, list and show vaults",
	(const struct cli_cmd[]){
		{ "init", run_init, "[--retention DAYS] [--purge-protection] [--admin ID]",
		  "Write the vault's settings to its token (once).",
		  "  --retention DAYS   soft-delete retention, 7-90 days "
		  "(default 90)\n"
		  "  --purge-protection turn purge protection on; it can never "
		  "be turned off\n"
		  "  --admin ID         administrator identity (default: the "
		  "caller's identity)\n" },
		{ "list", run_list, "",
		  "List the configuration's vaults, one a line: name, module, "
		  "token, and\n\"default\" on the default vault.  Reads the "
		  "configuration only.",
		  NULL },
		{ "show", run_show, "",
		  "Show the vault's settings, its token, and how OAEP-256 "
		  "unwrap is done.",
		  NULL },
		{ "set", cli_vault_set,
		  "[--purge-protection on] [--audit-fail-closed on|off] [--audit-log PATH]",
		  "Change the vault's settings (administrator only).  Purge "
		  "protection is\none-way: once on, it can never be turned off.",
		  "  --purge-protection on    refuse purges before the retention "
		  "has passed\n"
		  "  --audit-fail-closed on|off\n"
		  "                           refuse operations whose audit record "
		  "cannot be written\n"
		  "  --audit-log PATH         the vault's audit log, for every "
		  "configuration\n"
		  "                           that sets no audit_log of its own\n" },
		{ "sweep", cli_vault_sweep, "",
		  "Purge every deleted key past its scheduled purge date, and "
		  "finish\ninterrupted purges.  Idempotent: safe to run from cron.",
		  NULL },
		{ "check", cli_vault_check, "[--repair]",
		  "List what a kill, a crash or an edit behind cmk's back left on "
		  "the token:\nrecords failing authentication (ignored by cmk), "
		  "superseded records,\nkey versions whose token copies do not "
		  "match their metadata, duplicate\nor half-written copies, "
		  "interrupted purges.  Exit status 23 while any is left.",
		  "  --repair     fix them, under the vault lock (administrator "
		  "only): remove the\n"
		  "               records, settle the copies, finish the purges\n" },
		{ NULL, NULL, NULL, NULL, NULL },
	},
};
