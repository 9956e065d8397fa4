/*
 * cli.h - shared pieces of the `cmk` command.
 *
 * The command is built on the public API (cmk.h) only.  Each command group
 * lives in its own file and exports one `struct cli_group`; main.c lists
 * the groups in CLI_GROUPS.
 */
#ifndef CMK_CLI_H
#define CMK_CLI_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "cmk.h"

/* What every command sees: the global options and the command running. */
struct cli {
	const char *config;       /* --config, else NULL (library: $CMK_CONF) */
	const char *vault;        /* --vault, else $CMK_VAULT, else NULL */
	int vault_explicit;       /* the vault came from --vault */
	const char *identity;     /* --identity, else $CMK_IDENTITY, else NULL */
	int json;                 /* --json */
	const struct cli_group *group;
	const struct cli_cmd *cmd;
	int rc;                   /* set by cli_next_opt() on CLI_OPT_STOP */
};

struct cli_cmd {
	const char *name;         /* NULL: the group is a single command */
	int (*run)(struct cli *c, int argc, char **argv); /* argv[0]: name */
	const char *synopsis;     /* arguments after "cmk GROUP NAME" */
	const char *summary;      /* one line */
	const char *options;      /* option lines for --help, or NULL */
};

struct cli_group {
	const char *name;
	const char *summary;
	const struct cli_cmd *cmds; /* terminated by an entry with run NULL */
};

/* ------------------------------------------------------------ messages */

/* Print "cmk: " + the text and return rc. */
int cli_fail(cmk_rc rc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Print "cmk: " + cmk_last_error() (or the rc name) and return rc. */
int cli_lib_fail(cmk_rc rc);
/* A usage error for the running command, with a one-line hint; returns 2. */
int cli_usage_fail(struct cli *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "cmk GROUP NAME" of the running command. */
const char *cli_cmd_path(const struct cli *c);
void cli_print_cmd_help(FILE *f, const struct cli_group *g,
                        const struct cli_cmd *cmd);
void cli_print_group_help(FILE *f, const struct cli_group *g);

/* ------------------------------------------------------------- options */

#define CLI_OPT_STOP (-2)
#define CLI_OPT_HELP { "help", no_argument, NULL, 'h' }
#define CLI_OPT_END { NULL, 0, NULL, 0 }
/*
 * getopt_long over a command's options (which must include CLI_OPT_HELP);
 * the dispatcher resets getopt before a command runs.
 * Returns the option's val, -1 after the last option (optind is then the
 * first operand), or CLI_OPT_STOP after printing an error (c->rc is then
 * CMK_E_USAGE).  --help prints the command's help and exits with 0.
 */
int cli_next_opt(struct cli *c, int argc, char **argv,
                 const struct option *opts);
/* A command with no options but --help: parse them, then check the
 * operand count (cli_operands).  Returns 0 or the exit status. */
int cli_args(struct cli *c, int argc, char **argv, int min, int max,
             const char *what);
/* Check the operand count: between min and max; names for messages. */
int cli_operands(struct cli *c, int argc, char **argv, int min, int max,
                 const char *what);
/* Strict decimal unsigned; returns 0 or prints a usage error (returns 2). */
int cli_parse_uint(struct cli *c, const char *opt, const char *s,
                   unsigned *out);

/* ------------------------------------------------------------- context */

/*
 * Open the context's vault.  `keyid` (may be NULL) is a key id the command
 * works on: a full cmk://VAULT/... id selects its vault, which must agree
 * with --vault if that was given.
 */
int cli_open(struct cli *c, const char *keyid, cmk_ctx **ctx);

/* Split NAME, NAME/VERSION or cmk://VAULT/keys/NAME[/VERSION]. */
int cli_split_id(struct cli *c, const char *id, char vault[64],
                 char name[CMK_NAME_MAX], char version[CMK_VERSION_LEN + 1]);
/* "cmk://VAULT/keys/NAME[/VERSION]" for messages and output. */
void cli_kid(char out[CMK_KID_MAX], const char *vault, const char *name,
             const char *version);

/* ----------------------------------------------------------------- time */

/* RFC 3339 (2027-01-31T00:00:00Z), a date (2027-01-31), "now", or a
 * relative time (+90d, -1h; units s m h d w).  With allow_none, "none"
 * gives 0.  Returns 0 or prints a usage error naming `opt`. */
int cli_time_parse(struct cli *c, const char *opt, const char *s,
                   int allow_none, int64_t *out);
/* Unix seconds as "2027-01-31T00:00:00Z" ("-" for 0). */
void cli_time_format(int64_t secs, char buf[32]);

/* ------------------------------------------------------------------- io */

/* Bytes read from a file; `secret` ones live in cmk_secure_alloc memory. */
struct cli_buf {
	uint8_t *p;
	size_t len;
	size_t cap;
	int secret;
};

/* Read all of `path` ("-" or NULL: stdin), at most `max` bytes. */
int cli_read(const char *path, const char *what, size_t max, int secret,
             struct cli_buf *out);
/* Free (and wipe) a buffer. */
void cli_buf_free(struct cli_buf *b);
/*
 * Write `len` bytes to `path` ("-" or NULL: stdout).  A file is written to
 * a temporary file next to it and renamed into place, so it either holds
 * the whole output or is left as it was.  Secret output gets mode 0600.
 */
int cli_write(const char *path, const char *what, const void *p, size_t len,
              int secret);
/* Base64 (one line, then "\n") of in; cmk_free-able malloc memory. */
int cli_base64_encode(const uint8_t *in, size_t len, char **out,
                      size_t *outlen);
/* Decode base64 text (whitespace allowed) into a new buffer. */
int cli_base64_decode(const char *what, const uint8_t *in, size_t len,
                      int secret, struct cli_buf *out);

/* ------------------------------------------------------------ key group */

/* keyshow.c: `cmk key list` and `cmk key show`. */
int cli_key_list(struct cli *c, int argc, char **argv);
int cli_key_show(struct cli *c, int argc, char **argv);

/* lab_serve.c: `cmk lab serve` and `cmk lab stop` (docs/remote.md). */
int cli_lab_serve(struct cli *c, int argc, char **argv);
int cli_lab_stop(struct cli *c, int argc, char **argv);

/* vault_admin.c: `cmk vault set`, `cmk vault sweep`, `cmk vault check`. */
int cli_vault_set(struct cli *c, int argc, char **argv);
int cli_vault_sweep(struct cli *c, int argc, char **argv);
int cli_vault_check(struct cli *c, int argc, char **argv);

/* ----------------------------------------------------------------- json */

struct json_object;
/* Print a JSON value on stdout and release it. */
int cli_json_print(struct json_object *o);

#endif /* CMK_CLI_H */
