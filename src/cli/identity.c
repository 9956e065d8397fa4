/*
 * identity.c - `cmk identity`: the identities of a vault as objects
 * (docs/identities.md).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "cli/cli.h"

static int one(struct cli *c, int argc, char **argv, int what)
{
	cmk_ctx *ctx;
	int rc;
	static const char *const done[] = { "created", "enabled", "disabled", "deleted" };

	if ((rc = cli_args(c, argc, argv, 1, 1, "NAME")) != CMK_OK)
		return rc;
	const char *name = argv[optind];
	if (what == 3) {
		/* an identity a resource acts as cannot go */
		cmk_resource_info *v;
		size_t n;
		for (int del = 0; del < 2; del++) {
			if (cmk_resource_list_all(NULL, del, &v, &n) != CMK_OK)
				continue;
			for (size_t i = 0; i < n; i++)
				if (strcmp(v[i].identity, name) == 0) {
					rc = cli_fail(CMK_E_USAGE,
						      "identity %s is used by "
						      "resource %s%s: delete or purge the "
						      "resource first",
						      name, v[i].name, del ? " (deleted)" : "");
					cmk_free(v);
					return rc;
				}
			cmk_free(v);
		}
	}
	if ((rc = cli_open(c, NULL, &ctx)) != CMK_OK)
		return rc;
	cmk_rc r = what == 0   ? cmk_identity_create(ctx, name)
		   : what == 3 ? cmk_identity_delete(ctx, name)
			       : cmk_identity_set_enabled(ctx, name, what == 1);
	if (r != CMK_OK)
		rc = cli_lib_fail(r);
	else
		printf("identity %s in vault %s %s\n", name, cmk_ctx_vault(ctx), done[what]);
	cmk_close(ctx);
	return rc;
}

static int run_create(struct cli *c, int argc, char **argv)
{
	return one(c, argc, argv, 0);
}
static int run_enable(struct cli *c, int argc, char **argv)
{
	return one(c, argc, argv, 1);
}
static int run_disable(struct cli *c, int argc, char **argv)
{
	return one(c, argc, argv, 2);
}
static int run_delete(struct cli *c, int argc, char **argv)
{
	return one(c, argc, argv, 3);
}

static json_object *ident_json(const cmk_identity_info *i, const cmk_policy *p)
{
	char t[32], perms[256] = "";
	json_object *o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(i->name));
	json_object_object_add(o, "state",
			       json_object_new_string(i->deleted   ? "deleted"
						      : i->enabled ? "enabled"
								   : "disabled"));
	json_object_object_add(o, "resource",
			       i->resource[0] ? json_object_new_string(i->resource) : NULL);
	if (p)
		cmk_perms_format(p->perms, perms, sizeof perms);
	json_object_object_add(o, "permissions", json_object_new_string(perms));
	cli_time_format(i->created, t);
	json_object_object_add(o, "created", json_object_new_string(t));
	return o;
}

static int show(struct cli *c, int argc, char **argv, int list)
{
	cmk_identity_info *v;
	cmk_policy *p;
	size_t n, np;
	cmk_ctx *ctx;
	int rc;

	if ((rc = cli_args(c, argc, argv, list ? 0 : 1, list ? 0 : 1, list ? "" : "NAME")) !=
	    CMK_OK)
		return rc;
	if ((rc = cli_open(c, NULL, &ctx)) != CMK_OK)
		return rc;
	cmk_rc r = cmk_identity_list(ctx, &v, &n);
	if (r == CMK_OK && (r = cmk_policy_list(ctx, &p, &np)) != CMK_OK)
		cmk_free(v);
	if (r != CMK_OK) {
		cmk_close(ctx);
		return cli_lib_fail(r);
	}
	json_object *arr = c->json ? json_object_new_array() : NULL;
	int found = 0;
	for (size_t i = 0; i < n; i++) {
		if (!list && strcmp(v[i].name, argv[optind]) != 0)
			continue;
		found = 1;
		const cmk_policy *pol = NULL;
		for (size_t k = 0; k < np; k++)
			if (strcmp(p[k].identity, v[i].name) == 0)
				pol = &p[k];
		char perms[256] = "-";
		if (pol && pol->perms)
			cmk_perms_format(pol->perms, perms, sizeof perms);
		if (arr)
			json_object_array_add(arr, ident_json(&v[i], pol));
		else if (list)
			printf("%-24s %-8s %s%s%s\n", v[i].name,
			       v[i].deleted   ? "deleted"
			       : v[i].enabled ? "enabled"
					      : "disabled",
			       perms, v[i].resource[0] ? "  resource " : "", v[i].resource);
		else
			printf("identity:    %s\nstate:       %s\npermissions: %s\n%s%s%s",
			       v[i].name,
			       v[i].deleted   ? "deleted"
			       : v[i].enabled ? "enabled"
					      : "disabled",
			       perms, v[i].resource[0] ? "resource:    " : "", v[i].resource,
			       v[i].resource[0] ? " (system-assigned)\n" : "");
	}
	/* identities named only by a policy (a vault from before identity
	 * objects): listed as such */
	for (size_t k = 0; list && k < np; k++) {
		int known = 0;
		for (size_t i = 0; i < n; i++)
			known |= strcmp(v[i].name, p[k].identity) == 0;
		if (known)
			continue;
		char perms[256];
		cmk_perms_format(p[k].perms, perms, sizeof perms);
		if (arr) {
			json_object *o = json_object_new_object();
			json_object_object_add(o, "name", json_object_new_string(p[k].identity));
			json_object_object_add(o, "state", json_object_new_string("policy-only"));
			json_object_object_add(o, "permissions", json_object_new_string(perms));
			json_object_array_add(arr, o);
		} else {
			printf("%-24s %-8s %s  (named by a policy only; cmk identity "
			       "create %s)\n",
			       p[k].identity, "-", perms, p[k].identity);
		}
	}
	cmk_free(v);
	cmk_free(p);
	if (!list && !found) {
		json_object_put(arr);
		rc = cli_fail(CMK_E_NOT_FOUND, "vault %s has no identity '%s'", cmk_ctx_vault(ctx),
			      argv[optind]);
	} else if (arr) {
		rc = cli_json_print(!list && json_object_array_length(arr) == 1
					    ? json_object_get(json_object_array_get_idx(arr, 0))
					    : arr);
		if (!list)
			json_object_put(arr);
	}
	cmk_close(ctx);
	return rc;
}

static int run_list(struct cli *c, int argc, char **argv)
{
	return show(c, argc, argv, 1);
}
static int run_show(struct cli *c, int argc, char **argv)
{
	return show(c, argc, argv, 0);
}

const struct cli_group cli_group_identity = {
	"identity",
	"the identities of a vault, as objects (administrator only, audited)\n\n"
	"A disabled or deleted identity is refused every operation (exit 9).  A\n"
	"resource acts as its own identity (res-NAME, made by resource create):\n"
	"disabling it, or revoking its policy, cuts the resource off its data for\n"
	"every caller.  Names: 1-127 of A-Z a-z 0-9 '-'.  Once a vault has an\n"
	"identity object, `policy set` needs an existing identity; the first\n"
	"`identity create` turns every identity its policies name into one.\n\n"
	"TRUST BOUNDARY: identities are names that callers state.  Whoever holds the\n"
	"token's PIN can act as any identity and can use the token directly,\n"
	"without cmk.  Identities and policies separate services that share a PIN\n"
	"and go through cmk; services that must be protected from each other need\n"
	"separate tokens (or separate PINs).  See docs/identities.md.",
	(const struct cli_cmd[]){
		{ "create", run_create, "NAME", "Create identity NAME (enabled).", NULL },
		{ "list", run_list, "",
		  "List identities: name, state, permissions, "
		  "resource.",
		  NULL },
		{ "show", run_show, "NAME", "Show one identity.", NULL },
		{ "enable", run_enable, "NAME", "Enable NAME again.", NULL },
		{ "disable", run_disable, "NAME",
		  "Disable NAME: every operation as "
		  "NAME is refused.\nOther processes see it within the vault's "
		  "policy_cache_ms (cmk.conf(5)).",
		  NULL },
		{ "delete", run_delete, "NAME",
		  "Delete NAME and its access policy "
		  "(refused while a resource acts as it).",
		  NULL },
		{ NULL, NULL, NULL, NULL, NULL },
	},
};
