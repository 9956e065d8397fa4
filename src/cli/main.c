/*
 * main.c - the `cmk` command: global options and dispatch to the command
 * groups.  The exit status is the cmk_rc of the operation (cmk(1)).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli/cli.h"

/* The command groups, in the order `cmk help` lists them.  Adding a group
 * is one line here: X(name) refers to `cli_group_name` in its own file. */
/* one group a line (clang-format would pack them unevenly) */
/* clang-format off */
#define CLI_GROUPS(X) \
	X(vault) \
	X(key) \
	X(wrap) \
	X(unwrap) \
	X(encrypt) \
	X(decrypt) \
	X(resource) \
	X(policy) \
	X(identity) \
	X(audit) \
	X(lab) \
	X(bench) \
	X(provider) \
	X(version) \
	X(completion) \
	X(help)
/* clang-format on */

#define DECLARE(name) extern const struct cli_group cli_group_##name;
CLI_GROUPS(DECLARE)
#undef DECLARE

#define ENTRY(name) &cli_group_##name,
static const struct cli_group *const groups[] = { CLI_GROUPS(ENTRY) };
#undef ENTRY

#define NGROUPS (sizeof(groups) / sizeof(groups[0]))

static const char global_options[] =
	"  --config FILE    configuration file (else $CMK_CONF, else " SYSCONFDIR "/cmk/cmk.conf)\n"
	"  --vault NAME     vault to work on (else $CMK_VAULT, else the "
	"configuration's\n"
	"                   default_vault)\n"
	"  --identity ID    caller identity for access policies and audit\n"
	"                   (else $CMK_IDENTITY, else the configuration's "
	"identity)\n"
	"  --json           machine-readable output (vault, key and version\n"
	"                   commands)\n"
	"  --help, --version\n"
	"Global options are accepted anywhere on the line (cmk key list "
	"--json),\nunless the command has an option of the same name.\n";

const struct cli_group *const *cli_groups(size_t *n)
{
	*n = NGROUPS;
	return groups;
}

static void main_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: cmk [GLOBAL OPTIONS] COMMAND [ARGS]\n\n"
		   "Customer-managed keys on PKCS#11 tokens.\n\ncommands:\n");
	/* a summary's first line; the rest is for 'cmk help COMMAND' */
	for (i = 0; i < NGROUPS; i++)
		fprintf(f, "  %-10s %.*s\n", groups[i]->name,
			(int)strcspn(groups[i]->summary, "\n"), groups[i]->summary);
	fprintf(f,
		"\nglobal options:\n%s\n"
		"Run 'cmk help COMMAND' or 'cmk COMMAND --help' for more; "
		"see cmk(1).\n",
		global_options);
}

static const struct cli_group *find_group(const char *name)
{
	size_t i;

	for (i = 0; i < NGROUPS; i++)
		if (strcmp(groups[i]->name, name) == 0)
			return groups[i];
	return NULL;
}

static int is_help(const char *s)
{
	return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0 || strcmp(s, "help") == 0;
}

static void list_cmds(const struct cli_group *g, char *buf, size_t len)
{
	const struct cli_cmd *cmd;
	size_t n = 0;

	buf[0] = '\0';
	for (cmd = g->cmds; cmd->run != NULL && n < len; cmd++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "", cmd->name);
}

static int print_version(struct cli *c)
{
	struct json_object *o;

	if (!c->json) {
		printf("cmk %s\n", CMK_VERSION_STRING);
		return CMK_OK;
	}
	o = json_object_new_object();
	json_object_object_add(o, "version", json_object_new_string(CMK_VERSION_STRING));
	return cli_json_print(o);
}

static int run_version(struct cli *c, int argc, char **argv)
{
	int rc;

	if ((rc = cli_args(c, argc, argv, 0, 0, "")) != CMK_OK)
		return rc;
	return print_version(c);
}

static int run_help(struct cli *c, int argc, char **argv)
{
	const struct cli_group *g;
	const struct cli_cmd *cmd;

	(void)c;
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		main_usage(stdout);
		return CMK_OK;
	}
	if ((g = find_group(argv[1])) == NULL)
		return cli_fail(CMK_E_USAGE,
				"help: unknown command '%s' "
				"(see 'cmk help')",
				argv[1]);
	if (argc < 3 || g->cmds[0].name == NULL) {
		cli_print_group_help(stdout, g);
		return CMK_OK;
	}
	for (cmd = g->cmds; cmd->run != NULL; cmd++) {
		if (strcmp(cmd->name, argv[2]) == 0) {
			cli_print_cmd_help(stdout, g, cmd);
			return CMK_OK;
		}
	}
	return cli_fail(CMK_E_USAGE,
			"help: unknown command '%s %s' "
			"(see 'cmk help %s')",
			argv[1], argv[2], argv[1]);
}

const struct cli_group cli_group_version = {
	"version",
	"print the version of cmk",
	(const struct cli_cmd[]){
		{ NULL, run_version, "", "Print the version of cmk.", NULL },
		{ NULL, NULL, NULL, NULL, NULL },
	},
};

const struct cli_group cli_group_help = {
	"help",
	"show help for cmk or one of its commands",
	(const struct cli_cmd[]){
		{ NULL, run_help, "[COMMAND [SUBCOMMAND]]",
		  "Show help for cmk, a command or a subcommand.", NULL },
		{ NULL, NULL, NULL, NULL, NULL },
	},
};

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

/* Global options up to the first operand (POSIX mode, "+"): before the
 * command name, or between a group and its subcommand. */
static int leading_opts(struct cli *c, int argc, char **argv, int top)
{
	static struct option opts[8];
	size_t n = 0;
	const struct option *g;
	int o;

	for (g = cli_global_opts; g->name != NULL; g++)
		opts[n++] = *g;
	opts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	opts[n++] = (struct option){ "version", no_argument, NULL, 'V' };
	memset(&opts[n], 0, sizeof(opts[n]));
	opterr = 0;
	while ((o = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		if (cli_global_opt(c, o, optarg) == CMK_OK)
			continue;
		switch (o) {
		case 'h':
			if (top)
				main_usage(stdout);
			else
				cli_print_group_help(stdout, c->group);
			return -1;
		case 'V':
			if (top)
				return print_version(c) == CMK_OK ? -1 : CMK_E_IO;
			/* fall through */
		case '?':
			return cli_fail(CMK_E_USAGE,
					"unknown option '%s' "
					"(see 'cmk help')",
					argv[optind - 1]);
		case ':':
			return cli_fail(CMK_E_USAGE,
					"option '%s' needs a value "
					"(see 'cmk help')",
					argv[optind - 1]);
		default: return CMK_E_USAGE; /* cli_global_opt said why */
		}
	}
	return CMK_OK;
}

static int run_group(struct cli *c, const struct cli_group *g, int argc, char **argv)
{
	const struct cli_cmd *cmd;
	char names[256];
	int rc;

	c->group = g;
	if (g->cmds[0].name == NULL) {
		c->cmd = &g->cmds[0];
		optind = 0;
		return c->cmd->run(c, argc, argv);
	}
	list_cmds(g, names, sizeof(names));
	optind = 0;
	if ((rc = leading_opts(c, argc, argv, 0)) != CMK_OK)
		return rc < 0 ? CMK_OK : rc;
	argc -= optind - 1;
	argv += optind - 1;
	if (argc < 2)
		return cli_fail(CMK_E_USAGE,
				"%s: missing command, one of: %s "
				"(see 'cmk %s --help')",
				g->name, names, g->name);
	if (is_help(argv[1])) {
		cli_print_group_help(stdout, g);
		return CMK_OK;
	}
	for (cmd = g->cmds; cmd->run != NULL; cmd++) {
		if (strcmp(cmd->name, argv[1]) == 0) {
			c->cmd = cmd;
			optind = 0;
			return cmd->run(c, argc - 1, argv + 1);
		}
	}
	return cli_fail(CMK_E_USAGE,
			"%s: unknown command '%s', one of: %s "
			"(see 'cmk %s --help')",
			g->name, argv[1], names, g->name);
}

int main(int argc, char **argv)
{
	struct cli c;
	const struct cli_group *g;
	int rc;

	memset(&c, 0, sizeof(c));
	cli_begin(&c);
	if ((rc = leading_opts(&c, argc, argv, 1)) != CMK_OK)
		return rc < 0 ? CMK_OK : rc;
	if (c.vault == NULL)
		c.vault = env("CMK_VAULT");
	if (c.identity == NULL)
		c.identity = env("CMK_IDENTITY");
	if (optind >= argc) {
		main_usage(stderr);
		return CMK_E_USAGE;
	}
	if ((g = find_group(argv[optind])) == NULL)
		return cli_fail(CMK_E_USAGE,
				"unknown command '%s' "
				"(see 'cmk help')",
				argv[optind]);
	rc = run_group(&c, g, argc - optind, argv + optind);
	if (g != find_group("lab"))
		cli_lab_after(&c); /* a lab shared with a group (lab init --group) */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (rc == CMK_OK)
			rc = cli_fail(CMK_E_IO, "cannot write standard output");
	}
	return rc;
}
