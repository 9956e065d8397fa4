/*
 * opts.c - option parsing, operand checks and messages shared by commands.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli/cli.h"

/* The command line being run: its --json makes errors JSON too. */
static const struct cli *cli_current;

void cli_begin(const struct cli *c)
{
	cli_current = c;
}

/*
 * One error: "cmk: TEXT" on stderr, or with --json one JSON object
 * {"error": TEXT, "code": RC, "name": "CMK_E_..."} on a line of its own.
 */
static int vfail(cmk_rc rc, const char *prefix, const char *fmt, va_list ap, const char *suffix)
{
	char msg[2048];
	json_object *o;
	const char *s;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (cli_current == NULL || !cli_current->json) {
		fprintf(stderr, "cmk: %s%s%s\n", prefix, msg, suffix);
		return rc;
	}
	if (*prefix || *suffix) {
		char full[2300];

		snprintf(full, sizeof(full), "%s%s%s", prefix, msg, suffix);
		snprintf(msg, sizeof(msg), "%s", full);
	}
	o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(msg));
	json_object_object_add(o, "code", json_object_new_int((int)rc));
	json_object_object_add(o, "name", json_object_new_string(cmk_rc_name(rc)));
	s = json_object_to_json_string_ext(o,
					   JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	fprintf(stderr, "%s\n", s != NULL ? s : "{\"error\": \"out of memory\"}");
	json_object_put(o);
	return rc;
}

int cli_fail(cmk_rc rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(rc, "", fmt, ap, "");
	va_end(ap);
	return rc;
}

int cli_lib_fail(cmk_rc rc)
{
	const char *e = cmk_last_error();

	if (e == NULL || *e == '\0')
		e = cmk_rc_name(rc);
	return cli_fail(rc, "%s", e);
}

const char *cli_cmd_path(const struct cli *c)
{
	static char path[96];

	if (c->group == NULL)
		return "cmk";
	if (c->cmd == NULL || c->cmd->name == NULL)
		snprintf(path, sizeof(path), "cmk %s", c->group->name);
	else
		snprintf(path, sizeof(path), "cmk %s %s", c->group->name, c->cmd->name);
	return path;
}

int cli_usage_fail(struct cli *c, const char *fmt, ...)
{
	va_list ap;
	const char *path = cli_cmd_path(c);
	char prefix[100], suffix[120];

	prefix[0] = '\0';
	if (c->group != NULL)
		snprintf(prefix, sizeof(prefix), "%s: ", path + 4);
	snprintf(suffix, sizeof(suffix), " (see '%s --help')", path);
	va_start(ap, fmt);
	vfail(CMK_E_USAGE, prefix, fmt, ap, suffix);
	va_end(ap);
	return CMK_E_USAGE;
}

void cli_print_cmd_help(FILE *f, const struct cli_group *g, const struct cli_cmd *cmd)
{
	if (cmd->name != NULL)
		fprintf(f, "usage: cmk %s %s%s%s\n\n%s\n", g->name, cmd->name,
			*cmd->synopsis ? " " : "", cmd->synopsis, cmd->summary);
	else
		fprintf(f, "usage: cmk %s%s%s\n\n%s\n", g->name, *cmd->synopsis ? " " : "",
			cmd->synopsis, cmd->summary);
	if (cmd->options != NULL)
		fprintf(f, "\noptions:\n%s", cmd->options);
	fprintf(f, "\nGlobal options (--config, --vault, --identity, --json) "
		   "go anywhere on the\nline unless the command has an option of "
		   "that name: see 'cmk help' and cmk(1).\n");
}

void cli_print_group_help(FILE *f, const struct cli_group *g)
{
	const struct cli_cmd *cmd;

	if (g->cmds[0].name == NULL) {
		cli_print_cmd_help(f, g, &g->cmds[0]);
		return;
	}
	fprintf(f, "usage: cmk %s COMMAND [ARGS]\n\n%s\n\ncommands:\n", g->name, g->summary);
	for (cmd = g->cmds; cmd->run != NULL; cmd++)
		fprintf(f, "  %s %s\n      %.*s\n", cmd->name, cmd->synopsis,
			(int)strcspn(cmd->summary, "\n"), cmd->summary);
	fprintf(f, "\nRun 'cmk %s COMMAND --help' for a command's options.\n", g->name);
}

/* The short options of a long-option table: every val that is a letter. */
static void short_opts(const struct option *opts, char *buf, size_t len)
{
	size_t n = 0;

	buf[n++] = ':';
	for (; opts->name != NULL && n + 3 < len; opts++) {
		if (opts->flag != NULL || opts->val <= 0 || opts->val > 127 || !isalpha(opts->val))
			continue;
		buf[n++] = (char)opts->val;
		if (opts->has_arg == required_argument)
			buf[n++] = ':';
	}
	buf[n] = '\0';
}

const struct option cli_global_opts[] = {
	{ "config", required_argument, NULL, CLI_G_CONFIG },
	{ "vault", required_argument, NULL, CLI_G_VAULT },
	{ "identity", required_argument, NULL, CLI_G_IDENTITY },
	{ "json", no_argument, NULL, CLI_G_JSON },
	CLI_OPT_END,
};

int cli_global_opt(struct cli *c, int o, const char *arg)
{
	switch (o) {
	case CLI_G_CONFIG:
		if (*arg == '\0')
			return cli_fail(CMK_E_USAGE, "--config needs a file name");
		c->config = arg;
		return CMK_OK;
	case CLI_G_VAULT:
		c->vault = arg;
		c->vault_explicit = 1;
		return CMK_OK;
	case CLI_G_IDENTITY: c->identity = arg; return CMK_OK;
	case CLI_G_JSON: c->json = 1; return CMK_OK;
	default: return -1;
	}
}

/* The command's options followed by the global options it does not
 * define itself (a command's own --vault or --json wins). */
static const struct option *merged_opts(const struct option *opts)
{
	static struct option all[96];
	const struct option *g, *o;
	size_t n = 0;

	for (o = opts; o->name != NULL && n < 90; o++)
		all[n++] = *o;
	for (g = cli_global_opts; g->name != NULL; g++) {
		for (o = opts; o->name != NULL; o++)
			if (strcmp(o->name, g->name) == 0)
				break;
		if (o->name == NULL)
			all[n++] = *g;
	}
	memset(&all[n], 0, sizeof(all[n]));
	return all;
}

int cli_next_opt(struct cli *c, int argc, char **argv, const struct option *opts)
{
	const struct option *all = merged_opts(opts);
	char sopts[64];
	int o;

	opterr = 0;
	short_opts(opts, sopts, sizeof(sopts));
	for (;;) {
		o = getopt_long(argc, argv, sopts, all, NULL);
		if (o < CLI_G_CONFIG || o > CLI_G_JSON)
			break;
		if ((c->rc = cli_global_opt(c, o, optarg)) != CMK_OK)
			return CLI_OPT_STOP;
	}
	switch (o) {
	case 'h':
		/* Help ends the command here, so that no caller can mistake
		 * it for "go on". */
		cli_print_cmd_help(stdout, c->group, c->cmd);
		if (fflush(stdout) != 0 || ferror(stdout))
			exit(cli_fail(CMK_E_IO, "cannot write standard output"));
		exit(CMK_OK);
	case ':':
		c->rc = cli_usage_fail(c, "option '%s' needs a value", argv[optind - 1]);
		return CLI_OPT_STOP;
	case '?':
		if (optopt != 0 && optopt != '?')
			c->rc = cli_usage_fail(c, "unknown option '-%c'", optopt);
		else
			c->rc = cli_usage_fail(c, "unknown option '%s'", argv[optind - 1]);
		return CLI_OPT_STOP;
	default: return o;
	}
}

int cli_operands(struct cli *c, int argc, char **argv, int min, int max, const char *what)
{
	int n = argc - optind;

	if (n < min)
		return cli_usage_fail(c, "missing %s", what);
	if (n > max)
		return cli_usage_fail(c, "unexpected argument '%s'", argv[optind + max]);
	return CMK_OK;
}

int cli_parse_uint(struct cli *c, const char *opt, const char *s, unsigned *out)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return cli_usage_fail(c, "%s '%s' is not a number", opt, s);
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end != '\0')
		return cli_usage_fail(c, "%s '%s' is not a number", opt, s);
	if (errno != 0 || v > 0xffffffffUL)
		return cli_usage_fail(c, "%s '%s' is too large", opt, s);
	*out = (unsigned)v;
	return CMK_OK;
}

int cli_args(struct cli *c, int argc, char **argv, int min, int max, const char *what)
{
	static const struct option opts[] = { CLI_OPT_HELP, CLI_OPT_END };
	int o;

	while ((o = cli_next_opt(c, argc, argv, opts)) != -1)
		if (o == CLI_OPT_STOP)
			return c->rc;
	return cli_operands(c, argc, argv, min, max, what);
}
