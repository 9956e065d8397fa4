/*
 * completion.c - `cmk completion bash`: a bash completion script made from
 * the command table itself (groups, subcommands and the options named in
 * each command's synopsis and help), so it never drifts from the command.
 * `make install` installs its output as bash-completion's "cmk".
 */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "cli/cli.h"

/* Names of options that take a file (their metavariable says FILE, PATH
 * or DIR): completed with file names. */
struct words {
	char opts[1024];
	char files[512];
};

static void add_word(char *list, size_t cap, const char *word, size_t n)
{
	const char *p = list;
	size_t used = strlen(list);
	char w[64];

	if (n >= sizeof(w))
		return;
	memcpy(w, word, n);
	w[n] = '\0';
	while ((p = strstr(p, w)) != NULL) {
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0') &&
		    strncmp(p, w, n) == 0)
			return;
		p++;
	}
	if (used + n + 2 > cap)
		return;
	if (used)
		list[used++] = ' ';
	memcpy(list + used, w, n);
	list[used + n] = '\0';
}

/* Every "--name" in a help text, and whether a FILE/PATH/DIR follows. */
static void scan(struct words *w, const char *text)
{
	const char *p, *q, *m;
	size_t n;

	if (text == NULL)
		return;
	for (p = text; (p = strstr(p, "--")) != NULL; p = q) {
		q = p + 2;
		while (islower((unsigned char)*q) || isdigit((unsigned char)*q) || *q == '-')
			q++;
		n = (size_t)(q - p);
		if (n <= 2 || (p > text && p[-1] != ' ' && p[-1] != '[' && p[-1] != '(' &&
			       p[-1] != '|' && p[-1] != '\n'))
			continue;
		add_word(w->opts, sizeof(w->opts), p, n);
		m = q;
		if (m[0] == ',' && m[1] == ' ' && m[2] == '-' && m[3] != '-')
			m += 4;
		while (*m == ' ' && m[1] != ' ')
			m++;
		if (isupper((unsigned char)*m) &&
		    (strncmp(m, "FILE", 4) == 0 || strncmp(m, "PATH", 4) == 0 ||
		     strncmp(m, "DIR", 3) == 0))
			add_word(w->files, sizeof(w->files), p, n);
	}
}

static void cmd_words(struct words *w, const struct cli_cmd *cmd)
{
	memset(w, 0, sizeof(*w));
	scan(w, cmd->synopsis);
	scan(w, cmd->options);
	add_word(w->opts, sizeof(w->opts), "--help", 6);
}

static void print_bash(void)
{
	const struct cli_group *const *g;
	const struct cli_cmd *cmd;
	struct words w;
	char files[2048] = "--config";
	size_t i, n;

	g = cli_groups(&n);
	printf("# bash completion for cmk(1), made by `cmk completion bash`\n"
	       "_cmk()\n{\n"
	       "\tlocal cur=${COMP_WORDS[COMP_CWORD]} "
	       "prev=${COMP_WORDS[COMP_CWORD-1]}\n"
	       "\tlocal i=1 group= sub= w words=\n"
	       "\tlocal globals='--config --vault --identity --json --help'\n"
	       "\twhile [ \"$i\" -lt \"$COMP_CWORD\" ]; do\n"
	       "\t\tw=${COMP_WORDS[i]}\n"
	       "\t\tcase $w in\n"
	       "\t\t--config | --vault | --identity) i=$((i + 2)); continue ;;\n"
	       "\t\t-*) ;;\n"
	       "\t\t*) if [ -z \"$group\" ]; then group=$w; "
	       "elif [ -z \"$sub\" ]; then sub=$w; fi ;;\n"
	       "\t\tesac\n"
	       "\t\ti=$((i + 1))\n"
	       "\tdone\n");
	/* options that take a file, over all commands */
	for (i = 0; i < n; i++)
		for (cmd = g[i]->cmds; cmd->run != NULL; cmd++) {
			const char *p;

			cmd_words(&w, cmd);
			for (p = w.files; *p; p += strcspn(p, " "), p += *p == ' ')
				add_word(files, sizeof(files), p, strcspn(p, " "));
		}
	for (char *p = strchr(files, ' '); p; p = strchr(p, ' '))
		*p = '|';
	printf("\tcase $prev in\n\t%s)\n", files);
	printf("\t\tCOMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n"
	       "\tesac\n"
	       "\tcase $group in\n"
	       "\t'') words=\"");
	for (i = 0; i < n; i++)
		printf("%s%s", i ? " " : "", g[i]->name);
	printf("\" ;;\n");
	for (i = 0; i < n; i++) {
		printf("\t%s)\n", g[i]->name);
		if (strcmp(g[i]->name, "completion") == 0) {
			printf("\t\twords=bash ;;\n");
			continue;
		}
		if (g[i]->cmds[0].name == NULL) {
			cmd_words(&w, &g[i]->cmds[0]);
			printf("\t\twords=\"%s\" ;;\n", w.opts);
			continue;
		}
		printf("\t\tcase $sub in\n\t\t'') words=\"");
		for (cmd = g[i]->cmds; cmd->run != NULL; cmd++)
			printf("%s%s", cmd == g[i]->cmds ? "" : " ", cmd->name);
		printf("\" ;;\n");
		for (cmd = g[i]->cmds; cmd->run != NULL; cmd++) {
			cmd_words(&w, cmd);
			printf("\t\t%s) words=\"%s\" ;;\n", cmd->name, w.opts);
		}
		printf("\t\tesac ;;\n");
	}
	printf("\tesac\n"
	       "\tCOMPREPLY=($(compgen -W \"$words $globals\" -- \"$cur\"))\n"
	       "}\n"
	       "complete -F _cmk cmk\n");
}

static int run_completion(struct cli *c, int argc, char **argv)
{
	int rc;

	if ((rc = cli_args(c, argc, argv, 1, 1, "shell (bash)")) != CMK_OK)
		return rc;
	if (strcmp(argv[optind], "bash") != 0)
		return cli_usage_fail(c,
				      "no completion for shell '%s' (only "
				      "bash)",
				      argv[optind]);
	print_bash();
	return CMK_OK;
}

const struct cli_group cli_group_completion = {
	"completion",
	"print a shell completion script (bash)",
	(const struct cli_cmd[]){
		{ NULL, run_completion, "bash",
		  "Print the bash completion script for cmk; load it with\n"
		  "  source <(cmk completion bash)\n"
		  "(make install puts it where bash-completion finds it).",
		  NULL },
		{ NULL, NULL, NULL, NULL, NULL },
	},
};
