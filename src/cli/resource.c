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

enum { OPT_DIR = 256, OPT_SERVICE, OPT_VAULT };

static const struct option res_options[] = {
	{ "dir", required_argument, NULL, OPT_DIR },
	{ "in", required_argument, NULL, 'i' },
	{ "out", required_argument, NULL, 'o' },
	{ "key", required_argument, NULL, 'k' },
	{ "service-managed", no_argument, NULL, OPT_SERVICE },
	{ "vault", required_argument, NULL, OPT_VAULT },
	CLI_OPT_HELP, CLI_OPT_END,
};

struct res_opts {
	const char *dir, *in, *out, *key, *vault;
	int service;
};

/* Options, then `nops` operands (NAME [OBJECT]). */
static int
parse(struct cli *c, int argc, char **argv, struct res_opts *o, int nops,
      const char *what, const char *allowed)
{
	int v;
	memset(o, 0, sizeof(*o));
	while ((v = cli_next_opt(c, argc, argv, res_options)) != -1) {
		const char *name = NULL;
		switch (v) {
		case CLI_OPT_STOP:
			return c->rc;
		case OPT_DIR: o->dir = optarg; name = "dir"; break;
		case 'i': o->in = optarg; name = "in"; break;
		case 'o': o->out = optarg; name = "out"; break;
		case 'k': o->key = optarg; name = "key"; break;
		case OPT_SERVICE: o->service = 1; name = "service-managed"; break;
		case OPT_VAULT: o->vault = optarg; name = "vault"; break;
		}
		if (name && strcmp(name, "dir") != 0 &&
		    !strstr(allowed, name))
			return cli_usage_fail(c, "option --%s does not apply here",
			                      name);
	}
	return cli_operands(c, argc, argv, nops, nops, what);
}

/* Open the vault of resource `name` (or --vault for create) and it. */
static int
open_res(struct cli *c, const struct res_opts *o, const char *name,
         cmk_ctx **ctx, cmk_resource **r)
{
	cmk_resource_params p = { .dir = o->dir, .config = c->config };
	char vault[64];
	cmk_rc rc;

	*ctx = NULL;
	*r = NULL;
	if ((rc = cmk_resource_vault(&p, name, vault)) != CMK_OK)
		return cli_lib_fail(rc);
	if (c->vault_explicit && strcmp(c->vault, vault) != 0)
		return cli_usage_fail(c, "resource %s is in vault '%s', not in "
		                      "vault '%s' given with --vault", name, vault,
		                      c->vault);
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

static void
close_res(cmk_ctx *ctx, cmk_resource *r)
{
	cmk_resource_close(r);
	cmk_close(ctx);
}

static int
run_create(struct cli *c, int argc, char **argv)
{
	struct res_opts o;
	cmk_ctx *ctx;
	cmk_rc r;
	int rc;

	if ((rc = parse(c, argc, argv, &o, 1, "NAME", "vault")) != CMK_OK)
		return rc;
	if (o.vault) {
		if (c->vault_explicit && strcmp(c->vault, o.vault) != 0)
			return cli_usage_fail(c, "--vault %s and --vault %s disagree",
			                      c->vault, o.vault);
		c->vault = o.vault;
		c->vault_explicit = 1;
	}
	if ((rc = cli_open(c, NULL, &ctx)) != CMK_OK)
		return rc;
	cmk_resource_params p = { .dir = o.dir, .config = c->config };
	r = cmk_resource_create(ctx, &p, argv[optind]);
	if (r == CMK_OK)
		fprintf(stderr, "resource %s created; its root key is wrapped by "
		        "cmk://%s/keys/svc-%s\n", argv[optind], cmk_ctx_vault(ctx),
		        argv[optind]);
	cmk_close(ctx);
	return r != CMK_OK ? cli_lib_fail(r) : CMK_OK;
}

static int
run_put(struct cli *c, int argc, char **argv)
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

static int
run_get(struct cli *c, int argc, char **argv)
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

static int
run_list(struct cli *c, int argc, char **argv)
{
	struct res_opts o;
	cmk_ctx *ctx;
	cmk_resource *res;
	char **names = NULL;
	size_t n = 0;
	int rc;

	if ((rc = parse(c, argc, argv, &o, 1, "NAME", "")) != 0 ||
	    (rc = open_res(c, &o, argv[optind], &ctx, &res)) != CMK_OK)
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

static int
run_rm(struct cli *c, int argc, char **argv)
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

static int
print_info(struct cli *c, cmk_resource *res)
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
		json_object_object_add(o, "key_source", json_object_new_string(
		        i.customer_key[0] ? "customer-managed" : "service-managed"));
		json_object_object_add(o, "service_kid",
		                       json_object_new_string(i.service_kid));
		json_object_object_add(o, "customer_key", i.customer_key[0] ?
		        json_object_new_string(i.customer_key) : NULL);
		json_object_object_add(o, "customer_kid", i.customer_kid[0] ?
		        json_object_new_string(i.customer_kid) : NULL);
		json_object_object_add(o, "cmk_vault", i.cmk_vault[0] ?
		        json_object_new_string(i.cmk_vault) : NULL);
		json_object_object_add(o, "objects",
		                       json_object_new_int64((int64_t)i.objects));
		json_object_object_add(o, "created", json_object_new_string(t1));
		json_object_object_add(o, "rewrapped", json_object_new_string(t2));
		return cli_json_print(o);
	}
	printf("name:         %s\npath:         %s\nvault:        %s\n"
	       "key source:   %s\nservice key:  %s\n", i.name, i.path, i.vault,
	       i.customer_key[0] ? "customer-managed (double encryption)"
	                         : "service-managed", i.service_kid);
	if (i.customer_key[0])
		printf("customer key: %s\n  version:    %s\n", i.customer_key,
		       i.customer_kid);
	printf("objects:      %zu\ncreated:      %s\nre-wrapped:   %s\n",
	       i.objects, t1, t2);
	return CMK_OK;
}

static int
run_show(struct cli *c, int argc, char **argv)
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

static int
run_set_key(struct cli *c, int argc, char **argv)
{
	struct res_opts o;
	cmk_ctx *ctx;
	cmk_resource *res;
	int rc;

	if ((rc = parse(c, argc, argv, &o, 1, "NAME",
	                "key service-managed")) != 0)
		return rc;
	if (!o.key == !o.service)
		return cli_usage_fail(c, "give either --key cmk://VAULT/keys/"
		                      "NAME[/VERSION] or --service-managed");
	if ((rc = open_res(c, &o, argv[optind], &ctx, &res)) != CMK_OK)
		return rc;
	cmk_rc r = o.key ? cmk_resource_set_key(res, o.key)
	                 : cmk_resource_set_service_managed(res);
	if (r != CMK_OK)
		rc = cli_lib_fail(r);
	close_res(ctx, res);
	return rc;
}

/* Whether the resource's versionless CMK has no current version. */
static int
no_current(struct cli *c, cmk_ctx *ctx, const cmk_resource_info *i)
{
	char v[64], n[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1];
	cmk_ctx *kctx = ctx;
	cmk_key *k = NULL;
	cmk_rc rc;

	if (!i->customer_key[0] ||
	    cmk_kid_parse(i->customer_key, v, n, ver) != CMK_OK || ver[0])
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

static int
run_refresh(struct cli *c, int argc, char **argv)
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
			const char *what = changed ?
			        "root key re-wrapped under the current version" :
			        "already wrapped under the current version";
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

#define DIR_HELP "  --dir DIR        where resources live (else $CMK_RESOURCE_DIR, else\n" \
	"                   $XDG_DATA_HOME/cmk/resources)\n"

const struct cli_group cli_group_resource = {
	"resource", "encrypted stores of objects (service- or customer-managed "
	"keys)",
	(const struct cli_cmd[]){
		{ "create", run_create, "NAME [--vault V] [--dir DIR]",
		  "Create resource NAME in vault V (else the default vault): a "
		  "root key wrapped\nfrom the first byte by a new service-managed "
		  "vault key svc-NAME.",
		  "  --vault V        the vault (as the global --vault)\n"
		  DIR_HELP },
		{ "put", run_put, "NAME OBJECT [--in FILE]",
		  "Store OBJECT (read from --in, default standard input), sealed "
		  "with its own\ndata key under the root key.",
		  "  --in FILE        the data (default: standard input)\n"
		  DIR_HELP },
		{ "get", run_get, "NAME OBJECT [--out FILE]",
		  "Write OBJECT to --out (default: standard output) once it has "
		  "authenticated.",
		  "  --out FILE       where to write (atomically, mode 0600)\n"
		  DIR_HELP },
		{ "list", run_list, "NAME",
		  "List the objects' names (decrypted; the directory does not "
		  "show them).", DIR_HELP },
		{ "rm", run_rm, "NAME OBJECT", "Remove OBJECT.", DIR_HELP },
		{ "show", run_show, "NAME",
		  "Show the resource's keys and object count.", DIR_HELP },
		{ "set-key", run_set_key,
		  "NAME (--key cmk://VAULT/keys/KEY[/VERSION] | --service-managed)",
		  "Protect the root key with a customer-managed key (RSA 2048, in "
		  "a vault with\npurge protection, the same vault as any earlier "
		  "CMK, the identity holding\nget, wrapKey and unwrapKey), on top "
		  "of the service-managed key; or go back\nto the "
		  "service-managed key alone.  Only the root key is re-wrapped.",
		  "  --key KEYID      the customer-managed key; versionless ids "
		  "follow rotation\n"
		  "  --service-managed  drop the customer-managed layer\n"
		  DIR_HELP },
		{ "refresh", run_refresh, "NAME",
		  "Re-wrap the root key under the current version of a "
		  "versionless CMK.", DIR_HELP },
		{ NULL, NULL, NULL, NULL, NULL },
	},
};
