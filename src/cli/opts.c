/*
 * opts.c - option parsing, operand checks and messages shared by commands.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int
cli_fail(cmk_rc rc, const char *fmt, ...)
{
	va_list ap;

	fputs("cmk: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return rc;
}

int
cli_lib_fail(cmk_rc rc)
{
	const char *e = cmk_last_error();

	if (e == NULL || *e == '\0')
		e = cmk_rc_name(rc);
	return cli_fail(rc, "%s", e);
}

const char *
cli_cmd_path(const struct cli *c)
{
	static char path[96];

	if (c->group == NULL)
		return "cmk";
	if (c->cmd == NULL || c->cmd->name == NULL)
		snprintf(path, sizeof(path), "cmk %s", c->group->name);
	else
		snprintf(path, sizeof(path), "cmk %s %s", c->group->name,
		         c->cmd->name);
	return path;
}

int
cli_usage_fail(struct cli *c, const char *fmt, ...)
{
	va_list ap;
	const char *path = cli_cmd_path(c);

	if (c->group != NULL)
		fprintf(stderr, "cmk: %s: ", path + 4);
	else
		fputs("cmk: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see '%s --help')\n", path);
	return CMK_E_USAGE;
}

void
cli_print_cmd_help(FILE *f, const struct cli_group *g,
                   const struct cli_cmd *cmd)
{
	if (cmd->name != NULL)
		fprintf(f, "usage: cmk %s %s%s%s\n\n%s\n", g->name, cmd->name,
		        *cmd->synopsis ? " " : "", cmd->synopsis,
		        cmd->summary);
	else
		fprintf(f, "usage: cmk %s%s%s\n\n%s\n", g->name,
		        *cmd->synopsis ? " " : "", cmd->synopsis,
		        cmd->summary);
	if (cmd->options != NULL)
		fprintf(f, "\noptions:\n%s", cmd->options);
	fprintf(f, "\nGlobal options go before '%s': see 'cmk help' and "
	        "cmk(1).\n", g->name);
}

void
cli_print_group_help(FILE *f, const struct cli_group *g)
{
	const struct cli_cmd *cmd;

	if (g->cmds[0].name == NULL) {
		cli_print_cmd_help(f, g, &g->cmds[0]);
		return;
	}
	fprintf(f, "usage: cmk %s COMMAND [ARGS]\n\n%s\n\ncommands:\n",
	        g->name, g->summary);
	for (cmd = g->cmds; cmd->run != NULL; cmd++)
		fprintf(f, "  %s %s\n      %.*s\n", cmd->name, cmd->synopsis,
		        (int)strcspn(cmd->summary, "\n"), cmd->summary);
	fprintf(f, "\nRun 'cmk %s COMMAND --help' for a command's options.\n",
	        g->name);
}

/* The short options of a long-option table: every val that is a letter. */
static void
short_opts(const struct option *opts, char *buf, size_t len)
{
	size_t n = 0;

	buf[n++] = ':';
	for (; opts->name != NULL && n + 3 < len; opts++) {
		if (opts->flag != NULL || opts->val <= 0 || opts->val > 127 ||
		    !isalpha(opts->val))
			continue;
		buf[n++] = (char)opts->val;
		if (opts->has_arg == required_argument)
			buf[n++] = ':';
	}
	buf[n] = '\0';
}

int
cli_next_opt(struct cli *c, int argc, char **argv,
             const struct option *opts)
{
	char sopts[64];
	int o;

	opterr = 0;
	short_opts(opts, sopts, sizeof(sopts));
	o = getopt_long(argc, argv, sopts, opts, NULL);
	switch (o) {
	case 'h':
		/* Help ends the command here, so that no caller can mistake
		 * it for "go on". */
		cli_print_cmd_help(stdout, c->group, c->cmd);
		if (fflush(stdout) != 0 || ferror(stdout))
			exit(cli_fail(CMK_E_IO, "cannot write standard output"));
		exit(CMK_OK);
	case ':':
		c->rc = cli_usage_fail(c, "option '%s' needs a value",
		                       argv[optind - 1]);
		return CLI_OPT_STOP;
	case '?':
		if (optopt != 0 && optopt != '?')
			c->rc = cli_usage_fail(c, "unknown option '-%c'", optopt);
		else
			c->rc = cli_usage_fail(c, "unknown option '%s'",
			                       argv[optind - 1]);
		return CLI_OPT_STOP;
	default:
		return o;
	}
}

int
cli_operands(struct cli *c, int argc, char **argv, int min, int max,
             const char *what)
{
	int n = argc - optind;

	if (n < min)
		return cli_usage_fail(c, "missing %s", what);
	if (n > max)
		return cli_usage_fail(c, "unexpected argument '%s'",
		                      argv[optind + max]);
	return CMK_OK;
}

int
cli_parse_uint(struct cli *c, const char *opt, const char *s, unsigned *out)
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

int
cli_args(struct cli *c, int argc, char **argv, int min, int max, const char *what)
{
	static const struct option opts[] = { CLI_OPT_HELP, CLI_OPT_END };
	int o;

	while ((o = cli_next_opt(c, argc, argv, opts)) != -1)
		if (o == CLI_OPT_STOP)
			return c->rc;
	return cli_operands(c, argc, argv, min, max, what);
}
