/*
 * resource.c - `cmk resource`: encrypted stores of objects whose root key
 * is wrapped by a service-managed vault key and, optionally, a
 * customer-managed key (docs/resources.md).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "cli/envelope_io.h"

#define OBJECT_IN_MAX ((size_t)1 << 32)

enum { OPT_DIR = 256, OPT_SERVICE, OPT_VAULT, OPT_YES, OPT_DELETED, OPT_KEYMGMT, OPT_IDENT };

static const struct option res_options[] = {
	{ "dir", required_argument, NULL, OPT_DIR },
	{ "yes", no_argument, NULL, OPT_YES },
	{ "deleted", no_argument, NULL, OPT_DELETED },
	{ "key-management", required_argument, NULL, OPT_KEYMGMT },
	{ "identity", required_argument, NULL, OPT_IDENT },
	{ "in", required_argument, NULL, 'i' },
	{ "out", required_argument, NULL, 'o' },
	{ "key", required_argument, NULL, 'k' },
	{ "service-managed", no_argument, NULL, OPT_SERVICE },
	{ "vault", required_argument, NULL, OPT_VAULT },
	CLI_OPT_HELP,
	CLI_OPT_END,
};

struct res_opts {
	const char *dir, *in, *out, *key, *vault, *keymgmt, *identity;
	int service, yes, deleted;
};

static int parse_range(struct cli *c, int argc, char **argv, struct res_opts *o, int min, int max,
		       const char *what, const char *allowed);

/* Options, then `nops` operands (NAME [OBJECT]). */
static int parse(struct cli *c, int argc, char **argv, struct res_opts *o, int nops,
		 const char *what, const char *allowed)
{
	return parse_range(c, argc, argv, o, nops, nops, what, allowed);
}

static int parse_range(struct cli *c, int argc, char **argv, struct res_opts *o, int min, int max,
		       const char *what, const char *allowed)
{
	int v;
	memset(o, 0, sizeof(*o));
	while ((v = cli_next_opt(c, argc, argv, res_options)) != -1) {
		const char *name = NULL;
		switch (v) {
		case CLI_OPT_STOP: return c->rc;
		case OPT_DIR:
			o->dir = optarg;
			name = "dir";
			break;
		case 'i':
			o->in = optarg;
			name = "in";
			break;
		case 'o':
			o->out = optarg;
			name = "out";
			break;
		case 'k':
			o->key = optarg;
			name = "key";
			break;
		case OPT_SERVICE:
			o->service = 1;
			name = "service-managed";
			break;
		case OPT_VAULT:
			o->vault = optarg;
			name = "vault";
			break;
		case OPT_YES:
			o->yes = 1;
			name = "yes";
			break;
		case OPT_DELETED:
			o->deleted = 1;
			name = "deleted";
			break;
		case OPT_KEYMGMT:
			o->keymgmt = optarg;
			name = "key-management";
			break;
		case OPT_IDENT:
			o->identity = optarg;
			name = "identity";
			break;
		}
		if (name && strcmp(name, "dir") != 0 && !strstr(allowed, name))
			return cli_usage_fail(c, "option --%s does not apply here", name);
	}
	return cli_operands(c, argc, argv, min, max, what);
}

/* Open the vault of resource `name` (or --vault for create) and it. */
static int open_res(struct cli *c, const struct res_opts *o, const char *name, cmk_ctx **ctx,
		    cmk_resource **r)
{
	cmk_resource_params p = { .dir = o->dir, .config = c->config };
	char vault[64];
	cmk_rc rc;

	*ctx = NULL;
	*r = NULL;
	if ((rc = cmk_resource_vault(&p, name, vault)) != CMK_OK)
		return cli_lib_fail(rc);
	if (c->vault_explicit && strcmp(c->vault, vault) != 0)
		return cli_usage_fail(c,
				      "resource %s is in vault '%s', not in "
				      "vault '%s' given with --vault",
				      name, vault, c->vault);
	if ((rc = cmk_open(ctx, c->config, vault, c->identity)) != CMK_OK) {
		*ctx = NULL;
		return cli_lib_fail(rc);
	}
	if ((rc = cmk_resource_open(*ctx, &p, name, r)) != CMK_OK) {
		cmk_close(*ctx);
		*ctx = NULL;
		return cli_lib_fail(rc);
	}
	return CMK_OK;
}

static void close_res(cmk_ctx *ctx, cmk_resource *r)
{
	cmk_resource_close(r);
	cmk_close(ctx);
}

static int run_create(struct cli *c, int argc, char **argv)
{
	struct res_opts o;
	cmk_ctx *ctx;
	cmk_rc r;
	int rc;

	if ((rc = parse(c, argc, argv, &o, 1, "NAME", "vault key key-management identity")) !=
	    CMK_OK)
		return rc;
	cmk_resource_create_params cp = { .keyid = o.key, .identity = o.identity };
	if (o.keymgmt && strcmp(o.keymgmt, "fixed") == 0)
		cp.key_fixed = 1;
	else if (o.keymgmt && strcmp(o.keymgmt, "switchable") != 0)
		return cli_usage_fail(c,
				      "--key-management must be fixed or "
				      "switchable, not '%s'",
				      o.keymgmt);
	if (o.vault) {
		if (c->vault_explicit && strcmp(c->vault, o.vault) != 0)
			return cli_usage_fail(c, "--vault %s and --vault %s disagree", c->vault,
					      o.vault);
		c->vault = o.vault;
		c->vault_explicit = 1;
	}
	if ((rc = cli_open(c, NULL, &ctx)) != CMK_OK)
		return rc;
	cmk_resource_params p = { .dir = o.dir, .config = c->config };
	r = cmk_resource_create2(ctx, &p, argv[optind], &cp);
	if (r == CMK_OK)
		fprintf(stderr,
			"resource %s created; its root key is wrapped by "
			"cmk://%s/keys/svc-%s%s%s%s\n",
			argv[optind], cmk_ctx_vault(ctx), argv[optind],
			o.key ? " and the customer-managed key " : "", o.key ? o.key : "",
			cp.key_fixed ? " (key management fixed)" : "");
	cmk_close(ctx);
	return r != CMK_OK ? cli_lib_fail(r) : CMK_OK;
}

static int run_put(struct cli *c, int argc, char **argv)
{
	struct res_opts o;
	struct cli_buf in = { 0 };
	cmk_ctx *ctx;
	cmk_resource *res;
	int rc;

	if ((rc = parse(c, argc, argv, &o, 2, "NAME and OBJECT", "in")) != 0 ||
	    (rc = cli_read(o.in, "object", OBJECT_IN_MAX, 1, &in)) != CMK_OK)
		return rc;
	if ((rc = open_res(c, &o, argv[optind], &ctx, &res)) == CMK_OK) {
		cmk_rc r = cmk_resource_put(res, argv[optind + 1], in.p, in.len);
		if (r != CMK_OK)
			rc = cli_lib_fail(r);
		close_res(ctx, res);
	}
	cli_buf_free(&in);
	return rc;
}

static int run_get(struct cli *c, int argc, char **argv)
{
	struct res_opts o;
	cmk_ctx *ctx;
	cmk_resource *res;
	uint8_t *data = NULL;
	size_t len = 0;
	int rc;

	if ((rc = parse(c, argc, argv, &o, 2, "NAME and OBJECT", "out")) != 0 ||
	    (rc = open_res(c, &o, argv[optind], &ctx, &res)) != CMK_OK)
		return rc;
	cmk_rc r = cmk_resource_get(res, argv[optind + 1], &data, &len);
	close_res(ctx, res);
	if (r != CMK_OK)
		return cli_lib_fail(r);
	/* The object authenticated as a whole before any byte is written. */
	rc = cli_write(o.out, "object", data, len, 1);
	cmk_wipe(data, len);
	cmk_free(data);
	return rc;
}

static const char *key_in_use(const cmk_resource_info *i)
{
	return i->customer_kid[0] ? i->customer_kid : i->service_kid;
}

static int list_resources(struct cli *c, const struct res_opts *o)
{
	cmk_resource_params p = { .dir = o->dir, .config = c->config };
	cmk_resource_info *v;
	size_t n;
	char t1[32], t2[32];
	cmk_rc r = cmk_resource_list_all(&p, o->deleted, &v, &n);

	if (r != CMK_OK)
		return cli_lib_fail(r);
	json_object *a = c->json ? json_object_new_array() : NULL;
	for (size_t k = 0; k < n; k++) {
		const cmk_resource_info *i = &v[k];
		const char *mgmt = i->customer_key[0] ? "customer-managed" : "service-managed";
		const char *ident = i->identity[0] ? i->identity : "(caller)";
		cli_time_format(i->deleted_on, t1);
		cli_time_format(i->purge_on, t2);
		if (a) {
			json_object *j = json_object_new_object();
			json_object_object_add(j, "name", json_object_new_string(i->name));
			json_object_object_add(j, "vault", json_object_new_string(i->vault));
			json_object_object_add(j, "key_management", json_object_new_string(mgmt));
			json_object_object_add(j, "key_management_fixed",
					       json_object_new_boolean(i->key_fixed));
			json_object_object_add(j, "customer_key",
					       i->customer_key[0]
						       ? json_object_new_string(i->customer_key)
						       : NULL);
			json_object_object_add(j, "key_in_use",
					       json_object_new_string(key_in_use(i)));
			json_object_object_add(j, "service_kid",
					       json_object_new_string(i->service_kid));
			json_object_object_add(j, "identity",
					       i->identity[0] ? json_object_new_string(i->identity)
							      : NULL);
			json_object_object_add(
				j, "state",
				json_object_new_string(i->deleted_on ? "deleted" : "live"));
			json_object_object_add(j, "objects",
					       json_object_new_int64((int64_t)i->objects));
			if (i->deleted_on) {
				json_object_object_add(j, "deleted_on", json_object_new_string(t1));
				json_object_object_add(j, "scheduled_purge_on",
						       json_object_new_string(t2));
			}
			json_object_array_add(a, j);
		} else {
			char m[40];
			snprintf(m, sizeof m, "%s%s", mgmt, i->key_fixed ? "(fixed)" : "");
			printf("%-20s %-10s %-23s %s %s %s %zu", i->name, i->vault, m,
			       key_in_use(i), ident, i->deleted_on ? "deleted" : "live",
			       i->objects);
			if (i->deleted_on)
				printf(" %s %s", t1, t2);
			putchar('\n');
		}
	}
	cmk_free(v);
	return a ? cli_json_print(a) : CMK_OK;
}

/* Ask on the terminal; 1 when the user typed the resource name. */
static int confirm(const char *name, size_t objects)
{
	char line[CMK_RESOURCE_NAME_MAX + 8];
	FILE *tty = fopen("/dev/tty", "r+");
	int ok;

	if (!tty)
		return -1;
	fprintf(tty,
		"Purging resource %s destroys its service-managed key and "
		"its %zu object%s.\nThey are LOST FOR EVER; this cannot be "
		"undone.\nType the resource name (%s) to purge it: ",
		name, objects, objects == 1 ? "" : "s", name);
	fflush(tty);
	ok = fgets(line, sizeof line, tty) != NULL;
	fclose(tty);
	if (!ok)
		return 0;
	line[strcspn(line, "\r\n")] = '\0';
	return strcmp(line, name) == 0;
}

static int run_lifecycle(struct cli *c, int argc, char **argv, int what)
{
	struct res_opts o;
	cmk_ctx *ctx;
	cmk_resource *res;
	cmk_resource_info i;
	cmk_rc r;
	int rc;

	if ((rc = parse(c, argc, argv, &o, 1, "NAME", what == 2 ? "yes" : "")) != 0)
		return rc;
	if (what == 2 && !o.yes && !isatty(STDIN_FILENO))
		return cli_usage_fail(c,
				      "refusing to purge resource %s without "
				      "confirmation: its data would be lost for "
				      "ever; give --yes",
				      argv[optind]);
	if ((rc = open_res(c, &o, argv[optind], &ctx, &res)) != CMK_OK)
		return rc;
	if (what == 2 && !o.yes) {
		int ok = cmk_resource_info_get(res, &i) == CMK_OK ? confirm(argv[optind], i.objects)
								  : 0;
		if (ok != 1) {
			close_res(ctx, res);
			return cli_fail(CMK_E_USAGE, "resource %s not purged: %s", argv[optind],
					ok < 0 ? "no terminal to "
						 "confirm on; give --yes"
					       : "not confirmed");
		}
	}
	r = what == 0	? cmk_resource_delete(res)
	    : what == 1 ? cmk_resource_recover(res)
			: cmk_resource_purge(res);
	if (r != CMK_OK) {
		rc = cli_lib_fail(r);
	} else if (what == 0 && cmk_resource_info_get(res, &i) == CMK_OK) {
		char t[32];
		cli_time_format(i.purge_on, t);
		fprintf(stderr,
			"resource %s deleted: its data is unreadable until "
			"`cmk resource recover %s`; scheduled purge on %s\n",
			i.name, i.name, t);
	} else {
		fprintf(stderr, "resource %s %s\n", argv[optind],
			what == 1 ? "recovered" : "purged; its data is lost for ever");
	}
	close_res(ctx, res);
	return rc;
}

static int run_delete(struct cli *c, int argc, char **argv)
{
	return run_lifecycle(c, argc, argv, 0);
}
static int run_recover(struct cli *c, int argc, char **argv)
{
	return run_lifecycle(c, argc, argv, 1);
}
static int run_purge(struct cli *c, int argc, char **argv)
{
	return run_lifecycle(c, argc, argv, 2);
}

static int run_list(struct cli *c, int argc, char **argv)
{
	struct res_opts o;
	cmk_ctx *ctx;
	cmk_resource *res;
	char **names = NULL;
	size_t n = 0;
	int rc;

	if ((rc = parse_range(c, argc, argv, &o, 0, 1, "[NAME]", "deleted")) != 0)
		return rc;
	if (optind >= argc)
		return list_resources(c, &o);
	if (o.deleted)
		return cli_usage_fail(c, "--deleted lists resources, not objects: "
					 "give no NAME");
	if ((rc = open_res(c, &o, argv[optind], &ctx, &res)) != CMK_OK)
		return rc;
	cmk_rc r = cmk_resource_list(res, &names, &n);
	close_res(ctx, res);
	if (r != CMK_OK)
		return cli_lib_fail(r);
	if (c->json) {
		json_object *a = json_object_new_array();
		for (size_t i = 0; i < n; i++)
			json_object_array_add(a, json_object_new_string(names[i]));
		rc = cli_json_print(a);
	} else {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", names[i]);
	}
	cmk_strv_free(names, n);
	return rc;
}

static int run_rm(struct cli *c, int argc, char **argv)
{
	struct res_opts o;
	cmk_ctx *ctx;
	cmk_resource *res;
	int rc;

	if ((rc = parse(c, argc, argv, &o, 2, "NAME and OBJECT", "")) != 0 ||
	    (rc = open_res(c, &o, argv[optind], &ctx, &res)) != CMK_OK)
		return rc;
	cmk_rc r = cmk_resource_rm(res, argv[optind + 1]);
	close_res(ctx, res);
	return r != CMK_OK ? cli_lib_fail(r) : CMK_OK;
}

static int print_info(struct cli *c, cmk_resource *res)
{
	cmk_resource_info i;
	cmk_rc r = cmk_resource_info_get(res, &i);
	char t1[32], t2[32];

	if (r != CMK_OK)
		return cli_lib_fail(r);
	cli_time_format(i.created, t1);
	cli_time_format(i.rewrapped, t2);
	if (c->json) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(i.name));
		json_object_object_add(o, "path", json_object_new_string(i.path));
		json_object_object_add(o, "vault", json_object_new_string(i.vault));
		json_object_object_add(o, "key_source",
				       json_object_new_string(i.customer_key[0]
								      ? "customer-managed"
								      : "service-managed"));
		json_object_object_add(o, "service_kid", json_object_new_string(i.service_kid));
		json_object_object_add(o, "customer_key",
				       i.customer_key[0] ? json_object_new_string(i.customer_key)
							 : NULL);
		json_object_object_add(o, "customer_kid",
				       i.customer_kid[0] ? json_object_new_string(i.customer_kid)
							 : NULL);
		json_object_object_add(o, "cmk_vault",
				       i.cmk_vault[0] ? json_object_new_string(i.cmk_vault) : NULL);
		json_object_object_add(o, "objects", json_object_new_int64((int64_t)i.objects));
		json_object_object_add(o, "created", json_object_new_string(t1));
		json_object_object_add(o, "rewrapped", json_object_new_string(t2));
		json_object_object_add(o, "key_management_fixed",
				       json_object_new_boolean(i.key_fixed));
		json_object_object_add(o, "state",
				       json_object_new_string(i.deleted_on ? "deleted" : "live"));
		json_object_object_add(o, "identity",
				       i.identity[0] ? json_object_new_string(i.identity) : NULL);
		return cli_json_print(o);
	}
	printf("name:         %s\npath:         %s\nvault:        %s\n"
	       "identity:     %s\n"
	       "key source:   %s\nservice key:  %s\n",
	       i.name, i.path, i.vault, i.identity[0] ? i.identity : "(the caller's)",
	       i.customer_key[0] ? "customer-managed (double encryption)" : "service-managed",
	       i.service_kid);
	if (i.customer_key[0])
		printf("customer key: %s\n  version:    %s\n", i.customer_key, i.customer_kid);
	printf("objects:      %zu\ncreated:      %s\nre-wrapped:   %s\n"
	       "key mgmt:     %s\nstate:        %s\n",
	       i.objects, t1, t2, i.key_fixed ? "fixed" : "switchable",
	       i.deleted_on ? "deleted" : "live");
	return CMK_OK;
}

static int run_show(struct cli *c, int argc, char **argv)
{
	struct res_opts o;
	cmk_ctx *ctx;
	cmk_resource *res;
	int rc;

	if ((rc = parse(c, argc, argv, &o, 1, "NAME", "")) != 0 ||
	    (rc = open_res(c, &o, argv[optind], &ctx, &res)) != CMK_OK)
		return rc;
	rc = print_info(c, res);
	close_res(ctx, res);
	return rc;
}

static int run_set_key(struct cli *c, int argc, char **argv)
{
	struct res_opts o;
	cmk_ctx *ctx;
	cmk_resource *res;
	int rc;

	if ((rc = parse(c, argc, argv, &o, 1, "NAME", "key service-managed")) != 0)
		return rc;
	if (!o.key == !o.service)
		return cli_usage_fail(c, "give either --key NAME[/VERSION] (or "
					 "cmk://VAULT/keys/NAME[/VERSION]) or "
					 "--service-managed");
	if ((rc = open_res(c, &o, argv[optind], &ctx, &res)) != CMK_OK)
		return rc;
	cmk_rc r = o.key ? cmk_resource_set_key(res, o.key) : cmk_resource_set_service_managed(res);
	if (r != CMK_OK)
		rc = cli_lib_fail(r);
	close_res(ctx, res);
	return rc;
}

/* Whether the resource's versionless CMK has no current version. */
static int no_current(struct cli *c, cmk_ctx *ctx, const cmk_resource_info *i)
{
	char v[64], n[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1];
	cmk_ctx *kctx = ctx;
	cmk_key *k = NULL;
	cmk_rc rc;

	if (!i->customer_key[0] || cmk_kid_parse(i->customer_key, v, n, ver) != CMK_OK || ver[0])
		return 0;
	if (strcmp(v, cmk_ctx_vault(ctx)) != 0 &&
	    cmk_open(&kctx, c->config, v, c->identity) != CMK_OK)
		return 0;
	rc = cmk_key_open(kctx, i->customer_key, &k);
	if (rc == CMK_OK)
		cmk_key_close(k);
	if (kctx != ctx)
		cmk_close(kctx);
	return rc == CMK_E_NOT_VALID;
}

static int run_refresh(struct cli *c, int argc, char **argv)
{
	struct res_opts o;
	cmk_ctx *ctx;
	cmk_resource *res;
	int rc, changed = 0;

	if ((rc = parse(c, argc, argv, &o, 1, "NAME", "")) != 0 ||
	    (rc = open_res(c, &o, argv[optind], &ctx, &res)) != CMK_OK)
		return rc;
	cmk_rc r = cmk_resource_refresh(res, &changed);
	if (r != CMK_OK) {
		rc = cli_lib_fail(r);
	} else {
		cmk_resource_info i;
		if (cmk_resource_info_get(res, &i) == CMK_OK) {
			const char *what = changed ? "root key re-wrapped under the current version"
						   : "already wrapped under the current version";
			if (!changed && no_current(c, ctx, &i))
				what = "the customer-managed key has no current version "
				       "(expired or not yet valid); the root key stays "
				       "wrapped under the version in use, which keeps "
				       "unwrapping it";
			fprintf(stderr, "resource %s: %s\n", i.name, what);
		}
	}
	close_res(ctx, res);
	return rc;
}

#define DIR_HELP                                                                  \
	"  --dir DIR        where resources live (else $CMK_RESOURCE_DIR, else\n" \
	"                   $XDG_DATA_HOME/cmk/resources)\n"

const struct cli_group cli_group_resource = {
	"resource",
	"encrypted stores of objects (service- or customer-managed "
	"keys)",
	(const struct cli_cmd[]){
		{ "create", run_create,
		  "NAME [--vault V] [--key KEYID] [--identity ID] "
		  "[--key-management fixed|switchable]",
		  "Create resource NAME in vault V (else the default vault): a "
		  "root key wrapped\nfrom the first byte by a new service-managed "
		  "vault key svc-NAME (marked as\nmanaged by NAME: cmk key refuses "
		  "to change it).  With --key, also under that\ncustomer-managed "
		  "key from the start (set-key's checks first).",
		  "  --vault V        the vault (as the global --vault)\n"
		  "  --key KEYID      a customer-managed key: NAME, NAME/VERSION or "
		  "a full id\n"
		  "  --identity ID    act as this existing identity (default: "
		  "the system-assigned\n                   identity res-NAME, "
		  "created with the resource)\n"
		  "  --key-management fixed   never switch between service- and "
		  "customer-managed\n                   keys later (default: "
		  "switchable)\n" DIR_HELP },
		{ "delete", run_delete, "NAME",
		  "Soft-delete NAME with the vault's retention: the objects stay, "
		  "unreadable\n(exit 10), svc-NAME is soft-deleted too; `resource "
		  "list --deleted` shows it.",
		  DIR_HELP },
		{ "recover", run_recover, "NAME",
		  "Undo a delete: everything readable again, exactly as before.", DIR_HELP },
		{ "purge", run_purge, "NAME [--yes]",
		  "Destroy a deleted resource: svc-NAME (refused under purge "
		  "protection until\nthe retention has passed), the objects and "
		  "the state.  Asks for the name\nunless --yes.",
		  "  --yes            do not ask\n" DIR_HELP },
		{ "put", run_put, "NAME OBJECT [--in FILE]",
		  "Store OBJECT (read from --in, default standard input), sealed "
		  "with its own\ndata key under the root key.",
		  "  --in FILE        the data (default: standard input)\n" DIR_HELP },
		{ "get", run_get, "NAME OBJECT [--out FILE]",
		  "Write OBJECT to --out (default: standard output) once it has "
		  "authenticated.",
		  "  --out FILE       where to write (atomically, mode 0600)\n" DIR_HELP },
		{ "list", run_list, "[NAME] [--deleted]",
		  "Without NAME: every resource (name, vault, key management, key "
		  "in use,\nidentity, state, objects; --deleted: the deleted ones, "
		  "with deleted-on and\nscheduled-purge-on).  With NAME: the "
		  "objects' names (decrypted; the\ndirectory does not show them).",
		  "  --deleted        deleted resources\n" DIR_HELP },
		{ "rm", run_rm, "NAME OBJECT", "Remove OBJECT.", DIR_HELP },
		{ "show", run_show, "NAME", "Show the resource's keys and object count.",
		  DIR_HELP },
		{ "set-key", run_set_key,
		  "NAME (--key KEY[/VERSION] | --key cmk://VAULT/keys/KEY[/VERSION] "
		  "| --service-managed)",
		  "Protect the root key with a customer-managed key (RSA 2048, in "
		  "a vault with\npurge protection, the same vault as any earlier "
		  "CMK, the identity holding\nget, wrapKey and unwrapKey), on top "
		  "of the service-managed key; or go back\nto the "
		  "service-managed key alone.  Only the root key is re-wrapped.",
		  "  --key KEYID      the customer-managed key (NAME, NAME/VERSION: "
		  "in the vault\n                   of the resource's CMKs, else "
		  "its own); versionless ids\n                   follow rotation\n"
		  "  --service-managed  drop the customer-managed layer\n" DIR_HELP },
		{ "refresh", run_refresh, "NAME",
		  "Re-wrap the root key under the current version of a "
		  "versionless CMK.",
		  DIR_HELP },
		{ NULL, NULL, NULL, NULL, NULL },
	},
};
