/*
 * key.c - `cmk key`: create, import, rotate, change and delete keys.
 * Listing and showing are in keyshow.c.
 */
#include "config.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli/cli.h"

/* ------------------------------------------------- attribute options */

enum {
	OPT_SIZE = 256,
	OPT_OPS,
	OPT_EXPIRES,
	OPT_NBF,
	OPT_TAG,
	OPT_CLEAR_TAGS,
	OPT_PEM,
	OPT_YES,
	OPT_DELETED,
};

#define ATTR_OPTS                                                    \
	{ "ops", required_argument, NULL, OPT_OPS },                 \
		{ "expires", required_argument, NULL, OPT_EXPIRES }, \
		{ "not-before", required_argument, NULL, OPT_NBF },  \
	{                                                            \
		"tag", required_argument, NULL, OPT_TAG              \
	}

#define ATTR_HELP                                                                   \
	"  --ops OPS          key operations, comma separated: wrapKey unwrapKey\n" \
	"                     encrypt decrypt sign verify (default: all)\n"         \
	"  --expires T        no wrap, encrypt or sign after T\n"                   \
	"  --not-before T     no wrap, encrypt or sign before T\n"                  \
	"  --tag KEY=VALUE    a tag (repeat for more, at most 15)\n"                \
	"  T is 2027-01-31T00:00:00Z, 2027-01-31, now, or +90d (s m h d w)\n"

struct attrs {
	int has_bits;
	unsigned bits;
	int has_ops;
	unsigned ops;
	int has_nbf;
	int64_t nbf;
	int has_exp;
	int64_t exp;
	int has_tags;
	cmk_tag tags[CMK_TAGS_MAX];
	size_t ntags;
};

static int parse_tag(struct cli *c, struct attrs *a, const char *s)
{
	const char *eq = strchr(s, '=');
	size_t klen, vlen, i;

	if (eq == NULL || eq == s)
		return cli_usage_fail(c, "--tag '%s' is not KEY=VALUE", s);
	klen = (size_t)(eq - s);
	vlen = strlen(eq + 1);
	if (klen >= sizeof(a->tags[0].key))
		return cli_usage_fail(c,
				      "--tag '%s': the key is longer than "
				      "%zu bytes",
				      s, sizeof(a->tags[0].key) - 1);
	if (vlen >= sizeof(a->tags[0].value))
		return cli_usage_fail(c,
				      "--tag '%s': the value is longer than "
				      "%zu bytes",
				      s, sizeof(a->tags[0].value) - 1);
	a->has_tags = 1;
	for (i = 0; i < a->ntags; i++)
		if (strlen(a->tags[i].key) == klen && memcmp(a->tags[i].key, s, klen) == 0)
			break;
	if (i == CMK_TAGS_MAX)
		return cli_usage_fail(c, "more than %d tags", CMK_TAGS_MAX);
	memcpy(a->tags[i].key, s, klen);
	a->tags[i].key[klen] = '\0';
	memcpy(a->tags[i].value, eq + 1, vlen + 1);
	if (i == a->ntags)
		a->ntags++;
	return CMK_OK;
}

/* Handle one attribute option; -1 if `o` is not one. */
static int attr_opt(struct cli *c, struct attrs *a, int o, const char *arg, int allow_none)
{
	cmk_rc rc;

	switch (o) {
	case OPT_SIZE: a->has_bits = 1; return cli_parse_uint(c, "--size", arg, &a->bits);
	case OPT_OPS:
		a->has_ops = 1;
		if ((rc = cmk_ops_parse(arg, &a->ops)) != CMK_OK)
			return cli_lib_fail(rc);
		if (a->ops == 0)
			return cli_usage_fail(c, "--ops '%s' names no operation", arg);
		return CMK_OK;
	case OPT_EXPIRES:
		a->has_exp = 1;
		return cli_time_parse(c, "--expires", arg, allow_none, &a->exp);
	case OPT_NBF:
		a->has_nbf = 1;
		return cli_time_parse(c, "--not-before", arg, allow_none, &a->nbf);
	case OPT_TAG: return parse_tag(c, a, arg);
	case OPT_CLEAR_TAGS:
		a->has_tags = 1;
		a->ntags = 0;
		return CMK_OK;
	default: return -1;
	}
}

static void attrs_params(const struct attrs *a, cmk_key_params *p)
{
	memset(p, 0, sizeof(*p));
	p->bits = a->has_bits ? a->bits : 0;
	p->ops = a->has_ops ? a->ops : 0;
	p->not_before = a->has_nbf ? a->nbf : 0;
	p->expires = a->has_exp ? a->exp : 0;
	p->tags = a->tags;
	p->ntags = a->ntags;
}

/* ------------------------------------------------------------ output */

/* Print the versioned id of a new version of `name`. */
static int print_new_version(struct cli *c, cmk_ctx *ctx, const char *name, const char *version,
			     const char *verb)
{
	char vault[64], kname[CMK_NAME_MAX], v[CMK_VERSION_LEN + 1];
	char kid[CMK_KID_MAX];
	struct json_object *o;
	int rc;

	if ((rc = cli_split_id(c, name, vault, kname, v)) != CMK_OK)
		return rc;
	cli_kid(kid, cmk_ctx_vault(ctx), kname, version);
	if (!c->json) {
		printf("%s\n", kid);
		return CMK_OK;
	}
	o = json_object_new_object();
	json_object_object_add(o, "kid", json_object_new_string(kid));
	json_object_object_add(o, "name", json_object_new_string(kname));
	json_object_object_add(o, "version", json_object_new_string(version));
	json_object_object_add(o, "action", json_object_new_string(verb));
	return cli_json_print(o);
}

/* Report a change: a sentence, or with --json {"kid", "action", ...}. */
static int print_action(struct cli *c, const char *kid, const char *action, int64_t purge_on,
			const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int print_action(struct cli *c, const char *kid, const char *action, int64_t purge_on,
			const char *fmt, ...)
{
	struct json_object *o;
	char when[32];
	va_list ap;

	if (!c->json) {
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		return CMK_OK;
	}
	o = json_object_new_object();
	json_object_object_add(o, "kid", json_object_new_string(kid));
	json_object_object_add(o, "action", json_object_new_string(action));
	if (purge_on != 0) {
		cli_time_format(purge_on, when);
		json_object_object_add(o, "scheduled_purge_on", json_object_new_string(when));
	}
	return cli_json_print(o);
}

/* ---------------------------------------------------- create, import */

static int run_create_import(struct cli *c, int argc, char **argv, int import)
{
	static const struct option create_opts[] = {
		{ "size", required_argument, NULL, OPT_SIZE },
		ATTR_OPTS,
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	static const struct option import_opts[] = {
		{ "pem", required_argument, NULL, OPT_PEM },
		ATTR_OPTS,
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	struct attrs a;
	struct cli_buf pem = { 0 };
	const char *pem_path = NULL;
	char version[CMK_VERSION_LEN + 1];
	cmk_key_params p;
	cmk_ctx *ctx;
	int o, rc;

	memset(&a, 0, sizeof(a));
	while ((o = cli_next_opt(c, argc, argv, import ? import_opts : create_opts)) != -1) {
		if (o == CLI_OPT_STOP)
			return c->rc;
		if (o == OPT_PEM) {
			pem_path = optarg;
			continue;
		}
		if ((rc = attr_opt(c, &a, o, optarg, 0)) != CMK_OK)
			return rc;
	}
	if ((rc = cli_operands(c, argc, argv, 1, 1, "key NAME")) != CMK_OK)
		return rc;
	if (import && pem_path == NULL)
		return cli_usage_fail(c, "missing --pem FILE");
	attrs_params(&a, &p);
	if (import && (rc = cli_read(pem_path, "private key", 1 << 20, 1, &pem)) != CMK_OK)
		return rc;
	if ((rc = cli_open(c, argv[optind], &ctx)) != CMK_OK) {
		cli_buf_free(&pem);
		return rc;
	}
	if (import)
		rc = cmk_key_import(ctx, argv[optind], pem.p, pem.len, &p, version);
	else
		rc = cmk_key_create(ctx, argv[optind], &p, version);
	cli_buf_free(&pem);
	if (rc != CMK_OK)
		rc = cli_lib_fail(rc);
	else
		rc = print_new_version(c, ctx, argv[optind], version,
				       import ? "imported" : "created");
	cmk_close(ctx);
	return rc;
}

static int run_create(struct cli *c, int argc, char **argv)
{
	return run_create_import(c, argc, argv, 0);
}

static int run_import(struct cli *c, int argc, char **argv)
{
	return run_create_import(c, argc, argv, 1);
}

/* ------------------------------------------------------------ rotate */

static int run_rotate(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, OPT_SIZE },
		ATTR_OPTS,
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	struct attrs a;
	char version[CMK_VERSION_LEN + 1];
	cmk_key_params p;
	cmk_ctx *ctx;
	int o, rc, any = 0;

	memset(&a, 0, sizeof(a));
	while ((o = cli_next_opt(c, argc, argv, opts)) != -1) {
		if (o == CLI_OPT_STOP)
			return c->rc;
		if ((rc = attr_opt(c, &a, o, optarg, 0)) != CMK_OK)
			return rc;
		any = 1;
	}
	if ((rc = cli_operands(c, argc, argv, 1, 1, "key NAME")) != CMK_OK)
		return rc;
	if ((rc = cli_open(c, argv[optind], &ctx)) != CMK_OK)
		return rc;
	/* Size, ops and tags not given are the newest version's. */
	attrs_params(&a, &p);
	rc = cmk_key_rotate(ctx, argv[optind], any ? &p : NULL, version);
	if (rc != CMK_OK)
		rc = cli_lib_fail(rc);
	else
		rc = print_new_version(c, ctx, argv[optind], version, "rotated");
	cmk_close(ctx);
	return rc;
}

/* --------------------------------------------------- enable, disable */

/* Parse NAME[/VERSION] and open its vault. */
static int open_id(struct cli *c, const char *id, cmk_ctx **ctx, char name[CMK_NAME_MAX],
		   char version[CMK_VERSION_LEN + 1], char kid[CMK_KID_MAX])
{
	char vault[64];
	int rc;

	if ((rc = cli_split_id(c, id, vault, name, version)) != CMK_OK)
		return rc;
	if ((rc = cli_open(c, id, ctx)) != CMK_OK)
		return rc;
	cli_kid(kid, cmk_ctx_vault(*ctx), name, version);
	return CMK_OK;
}

/* --force for disable and delete (none for enable); then the operand. */
static int parse_force(struct cli *c, int argc, char **argv, int *force, int none, const char *what)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	static const struct option noopts[] = { CLI_OPT_HELP, CLI_OPT_END };
	int o;

	while ((o = cli_next_opt(c, argc, argv, none ? noopts : opts)) != -1) {
		if (o == CLI_OPT_STOP)
			return c->rc;
		*force = 1;
	}
	return cli_operands(c, argc, argv, 1, 1, what);
}

/* A key (version) that wraps resources' root keys: refused without
 * --force, naming them (docs/resources.md). */
static int refuse_in_use(struct cli *c, cmk_ctx *ctx, const char *name, const char *version,
			 const char *doing)
{
	char users[1024];
	char kid[CMK_KID_MAX];
	cmk_key_info ki;
	(void)c;
	if (!cli_key_users(cmk_ctx_vault(ctx), name, *version ? version : NULL, users, sizeof users,
			   NULL))
		return CMK_OK;
	/* a resource's own key: libcmk refuses it (managed by resource); read
	 * (and audited) only when resources use the key */
	if (cmk_key_info_get(ctx, name, 0, &ki) == CMK_OK && *ki.managed_by)
		return CMK_OK;
	cli_kid(kid, cmk_ctx_vault(ctx), name, version);
	return cli_fail(CMK_E_USAGE,
			"%s %s makes the data of these resources "
			"unreadable: %s; give --force to do it anyway",
			doing, kid, users);
}

static int set_enabled(struct cli *c, int argc, char **argv, int enabled)
{
	char name[CMK_NAME_MAX], version[CMK_VERSION_LEN + 1];
	char kid[CMK_KID_MAX];
	cmk_ctx *ctx;
	int rc, force = 0;

	if ((rc = parse_force(c, argc, argv, &force, enabled, "NAME[/VERSION]")) != CMK_OK)
		return rc;
	if ((rc = open_id(c, argv[optind], &ctx, name, version, kid)) != CMK_OK)
		return rc;
	if (!enabled && !force &&
	    (rc = refuse_in_use(c, ctx, name, version, "disabling")) != CMK_OK) {
		cmk_close(ctx);
		return rc;
	}
	rc = cmk_key_set_enabled(ctx, name, *version ? version : NULL, enabled);
	if (rc != CMK_OK)
		rc = cli_lib_fail(rc);
	else
		rc = print_action(c, kid, enabled ? "enabled" : "disabled", 0, "%s %s %s\n",
				  *version ? "version" : "key", kid,
				  enabled ? "enabled" : "disabled");
	cmk_close(ctx);
	return rc;
}

static int run_enable(struct cli *c, int argc, char **argv)
{
	return set_enabled(c, argc, argv, 1);
}

static int run_disable(struct cli *c, int argc, char **argv)
{
	return set_enabled(c, argc, argv, 0);
}

/* --------------------------------------------------------------- set */

static int run_set(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		ATTR_OPTS,
		{ "clear-tags", no_argument, NULL, OPT_CLEAR_TAGS },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	char name[CMK_NAME_MAX], version[CMK_VERSION_LEN + 1];
	char kid[CMK_KID_MAX];
	struct attrs a;
	cmk_key_update u;
	cmk_ctx *ctx;
	int o, rc;

	memset(&a, 0, sizeof(a));
	while ((o = cli_next_opt(c, argc, argv, opts)) != -1) {
		if (o == CLI_OPT_STOP)
			return c->rc;
		if ((rc = attr_opt(c, &a, o, optarg, 1)) != CMK_OK)
			return rc;
	}
	if ((rc = cli_operands(c, argc, argv, 1, 1, "NAME[/VERSION]")) != CMK_OK)
		return rc;
	if (!a.has_ops && !a.has_nbf && !a.has_exp && !a.has_tags)
		return cli_usage_fail(c, "nothing to change: give --ops, "
					 "--expires, --not-before, --tag or "
					 "--clear-tags");
	memset(&u, 0, sizeof(u));
	u.set_ops = a.has_ops;
	u.ops = a.ops;
	u.set_not_before = a.has_nbf;
	u.not_before = a.nbf;
	u.set_expires = a.has_exp;
	u.expires = a.exp;
	u.set_tags = a.has_tags;
	u.tags = a.tags;
	u.ntags = a.ntags;
	if ((rc = open_id(c, argv[optind], &ctx, name, version, kid)) != CMK_OK)
		return rc;
	rc = cmk_key_update_attrs(ctx, name, *version ? version : NULL, &u);
	if (rc != CMK_OK)
		rc = cli_lib_fail(rc);
	else
		rc = print_action(c, kid, "updated", 0, "%s %s updated\n",
				  *version ? "version" : "key", kid);
	cmk_close(ctx);
	return rc;
}

/* ------------------------------------------ delete, recover and purge */

static int run_delete(struct cli *c, int argc, char **argv)
{
	char name[CMK_NAME_MAX], version[CMK_VERSION_LEN + 1];
	char kid[CMK_KID_MAX], when[32];
	cmk_key_info info;
	cmk_ctx *ctx;
	int rc, force = 0;

	if ((rc = parse_force(c, argc, argv, &force, 0, "key NAME")) != CMK_OK)
		return rc;
	if ((rc = open_id(c, argv[optind], &ctx, name, version, kid)) != CMK_OK)
		return rc;
	if (*version) {
		cmk_close(ctx);
		return cli_usage_fail(c,
				      "%s names a version; a whole key is "
				      "deleted (disable a version instead)",
				      argv[optind]);
	}
	if (!force && (rc = refuse_in_use(c, ctx, name, version, "deleting")) != CMK_OK) {
		cmk_close(ctx);
		return rc;
	}
	if ((rc = cmk_key_delete(ctx, name)) != CMK_OK) {
		rc = cli_lib_fail(rc);
	} else if (cmk_key_info_get(ctx, name, 1, &info) == CMK_OK && info.purge_on != 0) {
		cli_time_format(info.purge_on, when);
		rc = print_action(c, kid, "deleted", info.purge_on,
				  "key %s deleted; it can be recovered until it "
				  "is purged, at the earliest %s\n",
				  kid, when);
	} else {
		rc = print_action(c, kid, "deleted", 0, "key %s deleted\n", kid);
	}
	cmk_close(ctx);
	return rc;
}

static int run_recover(struct cli *c, int argc, char **argv)
{
	char name[CMK_NAME_MAX], version[CMK_VERSION_LEN + 1];
	char kid[CMK_KID_MAX];
	cmk_ctx *ctx;
	int rc;

	if ((rc = cli_args(c, argc, argv, 1, 1, "key NAME")) != CMK_OK)
		return rc;
	if ((rc = open_id(c, argv[optind], &ctx, name, version, kid)) != CMK_OK)
		return rc;
	if (*version)
		rc = cli_usage_fail(c, "%s names a version; give the key name", argv[optind]);
	else if ((rc = cmk_key_recover(ctx, name)) != CMK_OK)
		rc = cli_lib_fail(rc);
	else
		rc = print_action(c, kid, "recovered", 0, "key %s recovered\n", kid);
	cmk_close(ctx);
	return rc;
}

/* Ask on the terminal; 1 when the user typed the key name. */
static int confirm_purge(const char *kid, const char *name, size_t nversions)
{
	char line[CMK_NAME_MAX + 8];
	FILE *tty;
	size_t n;
	int fd, ok;

	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC)) < 0)
		return -1;
	if ((tty = fdopen(fd, "r+")) == NULL) {
		close(fd);
		return -1;
	}
	fprintf(tty,
		"Purging key %s destroys its %zu version%s on the token.\n"
		"Everything wrapped or encrypted under this key is LOST FOR "
		"EVER:\nno one can unwrap or decrypt it again, and this "
		"cannot be undone.\n"
		"Type the key name (%s) to purge it: ",
		kid, nversions, nversions == 1 ? "" : "s", name);
	fflush(tty);
	ok = fgets(line, sizeof(line), tty) != NULL;
	fclose(tty);
	if (!ok)
		return 0;
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	return strcmp(line, name) == 0;
}

static int run_purge(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "yes", no_argument, NULL, OPT_YES },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	char name[CMK_NAME_MAX], version[CMK_VERSION_LEN + 1];
	char kid[CMK_KID_MAX];
	cmk_key_info info;
	cmk_policy pol;
	cmk_ctx *ctx;
	int o, rc, yes = 0, ok;

	while ((o = cli_next_opt(c, argc, argv, opts)) != -1) {
		if (o == CLI_OPT_STOP)
			return c->rc;
		yes = 1;
	}
	if ((rc = cli_operands(c, argc, argv, 1, 1, "key NAME")) != CMK_OK)
		return rc;
	if (!yes && !isatty(STDIN_FILENO))
		return cli_usage_fail(c,
				      "refusing to purge %s without "
				      "confirmation: data wrapped under it "
				      "would be lost for ever; give --yes",
				      argv[optind]);
	if ((rc = open_id(c, argv[optind], &ctx, name, version, kid)) != CMK_OK)
		return rc;
	if (*version) {
		cmk_close(ctx);
		return cli_usage_fail(c,
				      "%s names a version; a whole key is "
				      "purged",
				      argv[optind]);
	}
	if (!yes) {
		if ((rc = cmk_key_info_get(ctx, name, 1, &info)) != CMK_OK) {
			cmk_close(ctx);
			return cli_lib_fail(rc);
		}
		/* Do not ask for a purge the identity may not do. */
		if (cmk_policy_get(ctx, cmk_ctx_identity(ctx), &pol) == CMK_OK &&
		    !(pol.perms & CMK_PERM_PURGE)) {
			cmk_close(ctx);
			return cli_fail(CMK_E_ACCESS_DENIED,
					"access denied: "
					"identity '%s' lacks permission 'purge' on "
					"key %s",
					pol.identity, kid);
		}
		ok = confirm_purge(kid, name, info.nversions);
		if (ok != 1) {
			cmk_close(ctx);
			return cli_fail(CMK_E_USAGE, "key %s not purged: %s", kid,
					ok < 0 ? "no terminal to confirm on; "
						 "give --yes"
					       : "not confirmed");
		}
	}
	if ((rc = cmk_key_purge(ctx, name)) != CMK_OK)
		rc = cli_lib_fail(rc);
	else
		rc = print_action(c, kid, "purged", 0,
				  "key %s purged; data "
				  "wrapped under it is lost for ever\n",
				  kid);
	cmk_close(ctx);
	return rc;
}

/* ------------------------------------------------------------- group */

const struct cli_group cli_group_key = {
	"key",
	"create, list, rotate, change and delete keys",
	(const struct cli_cmd[]){
		{ "create", run_create,
		  "NAME [--size BITS] [--ops OPS] [--expires T] "
		  "[--not-before T] [--tag K=V]...",
		  "Create a key: an RSA key pair made on the token; prints the "
		  "versioned id.",
		  "  --size BITS        2048 (default), 3072 or 4096\n" ATTR_HELP },
		{ "import", run_import,
		  "NAME --pem FILE [--ops OPS] [--expires T] [--not-before T] "
		  "[--tag K=V]...",
		  "Import an RSA private key (PEM or DER; FILE - is standard "
		  "input) as a new key,\nor as a new version of an existing "
		  "key; prints the versioned id.",
		  "  --pem FILE         the private key (required)\n" ATTR_HELP },
		{ "rotation-policy", cli_key_rotation_policy,
		  "set NAME [--rotate-after 90d] [--expire-after 2y] "
		  "[--notify-before 30d] | show NAME",
		  "Set or show a key's rotation policy; `cmk vault sweep` applies "
		  "it: rotates\nthe key when its newest version is older than "
		  "--rotate-after, gives new\nversions an expiry --expire-after "
		  "later, and reports (stderr, audit) a\ncurrent version that "
		  "expires within --notify-before.",
		  "  --rotate-after P   rotate this long after the newest "
		  "version's creation\n"
		  "  --expire-after P   new versions expire this long after "
		  "creation (not shorter\n                     than --rotate-after)\n"
		  "  --notify-before P  report the expiry this long before\n"
		  "  P: a number and h, d, w or y (365 days); at least a day\n" },
		{ "list", cli_key_list, "[--deleted]",
		  "List keys, one a line: name, current version, "
		  "enabled|disabled, versions.",
		  "  --deleted          list soft-deleted keys instead, with "
		  "deleted-on and\n"
		  "                     scheduled-purge-on\n" },
		{ "show", cli_key_show, "NAME[/VERSION] [--deleted]",
		  "Show a key, all its versions, and the public key of the "
		  "current or given version.",
		  "  --deleted          show a soft-deleted key\n" },
		{ "pem", cli_key_pem, "NAME[/VERSION] [--out FILE]",
		  "Write a key reference file: a PEM block that the cmk OpenSSL "
		  "provider reads as\nthe vault key wherever OpenSSL reads a "
		  "private key file (no key material;\nwithout VERSION, the "
		  "current version at load time).",
		  "  --out FILE         write to FILE (default: standard output)\n" },
		{ "adopt", cli_key_adopt, "NAME --id HEX | --label LABEL [--ops OPS]",
		  "Take an RSA key pair made on the vault's token by another "
		  "tool (pkcs11-tool,\na vendor's CLI) into the vault as a new key, "
		  "or a new version of key NAME.\nThe private key must be sensitive "
		  "and non-extractable; the tool's objects are\nreplaced by the "
		  "vault's.  Prints the versioned id.",
		  "  --id HEX           the pair's CKA_ID\n"
		  "  --label LABEL      the pair's CKA_LABEL\n"
		  "  --ops OPS          key operations (default: all)\n" },
		{ "rotate", run_rotate,
		  "NAME [--size BITS] [--ops OPS] [--expires T] "
		  "[--not-before T] [--tag K=V]...",
		  "Make a new version; it becomes current.  Size, ops and tags "
		  "not given are\nthose of the newest version.  Prints the new "
		  "versioned id.",
		  "  --size BITS        2048, 3072 or 4096\n" ATTR_HELP },
		{ "enable", run_enable, "NAME[/VERSION]", "Enable a key or one version.", NULL },
		{ "disable", run_disable, "NAME[/VERSION] [--force]",
		  "Disable a key or one version: it can neither wrap nor "
		  "unwrap until enabled.\nRefused without --force when it wraps "
		  "the root key of resources (named).",
		  "  --force            disable even if resources use it\n" },
		{ "set", run_set,
		  "NAME[/VERSION] [--ops OPS] [--expires T|none] "
		  "[--not-before T|none] [--tag K=V]... [--clear-tags]",
		  "Change attributes of a key's newest version, or of the "
		  "given version.",
		  ATTR_HELP "  none clears --expires or --not-before; --tag replaces all "
			    "tags\n"
			    "  --clear-tags       remove all tags\n" },
		{ "delete", run_delete, "NAME [--force]",
		  "Soft-delete a key: it can be recovered until the vault's "
		  "retention has passed.\nRefused without --force when it wraps "
		  "the root key of resources (named).",
		  "  --force            delete even if resources use it\n" },
		{ "recover", run_recover, "NAME", "Recover a soft-deleted key, exactly as it was.",
		  NULL },
		{ "purge", run_purge, "NAME [--yes]",
		  "Destroy a soft-deleted key on the token.  Data wrapped under "
		  "it is lost for ever.\nOn a terminal, asks to type the key "
		  "name; otherwise needs --yes.  Needs the 'purge'\npermission, "
		  "which 'all' does not include (cmk policy set ID all,purge).",
		  "  --yes              do not ask for confirmation\n" },
		{ NULL, NULL, NULL, NULL, NULL },
	},
};
