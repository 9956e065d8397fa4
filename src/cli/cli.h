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
	const char *config;   /* --config, else NULL (library: $CMK_CONF) */
	const char *vault;    /* --vault, else $CMK_VAULT, else NULL */
	int vault_explicit;   /* the vault came from --vault */
	const char *identity; /* --identity, else $CMK_IDENTITY, else NULL */
	int json;	      /* --json */
	const struct cli_group *group;
	const struct cli_cmd *cmd;
	int rc; /* set by cli_next_opt() on CLI_OPT_STOP */
};

struct cli_cmd {
	const char *name;				  /* NULL: the group is a single command */
	int (*run)(struct cli *c, int argc, char **argv); /* argv[0]: name */
	const char *synopsis;				  /* arguments after "cmk GROUP NAME" */
	const char *summary;				  /* one line */
	const char *options;				  /* option lines for --help, or NULL */
};

struct cli_group {
	const char *name;
	const char *summary;
	const struct cli_cmd *cmds; /* terminated by an entry with run NULL */
};

/* The command groups, in `cmk help` order (main.c). */
const struct cli_group *const *cli_groups(size_t *n);

/* ------------------------------------------------------------ messages */

/* Start of a command line: errors follow c->json from then on. */
void cli_begin(const struct cli *c);
/* Print "cmk: " + the text and return rc; with --json, a JSON object
 * {"error": TEXT, "code": RC, "name": "CMK_E_..."} on one line. */
int cli_fail(cmk_rc rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "cmk: " + cmk_last_error() (or the rc name) and return rc. */
int cli_lib_fail(cmk_rc rc);
/* A usage error for the running command, with a one-line hint; returns 2. */
int cli_usage_fail(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "cmk GROUP NAME" of the running command. */
const char *cli_cmd_path(const struct cli *c);
void cli_print_cmd_help(FILE *f, const struct cli_group *g, const struct cli_cmd *cmd);
void cli_print_group_help(FILE *f, const struct cli_group *g);

/* ------------------------------------------------------------- options */

#define CLI_OPT_STOP (-2)
/* The global options, accepted before the command and among its own
 * options (cli_next_opt); vals outside any command's range. */
enum { CLI_G_CONFIG = 0x4001, CLI_G_VAULT, CLI_G_IDENTITY, CLI_G_JSON };
extern const struct option cli_global_opts[];
/* Apply global option `o` (CMK_OK), or -1 when o is not one. */
int cli_global_opt(struct cli *c, int o, const char *arg);
#define CLI_OPT_HELP                           \
	{                                      \
		"help", no_argument, NULL, 'h' \
	}
#define CLI_OPT_END              \
	{                        \
		NULL, 0, NULL, 0 \
	}
/*
 * getopt_long over a command's options (which must include CLI_OPT_HELP)
 * and the global options it does not define itself, which are applied to
 * c and not returned; the dispatcher resets getopt before a command runs.
 * Returns the option's val, -1 after the last option (optind is then the
 * first operand), or CLI_OPT_STOP after printing an error (c->rc is then
 * CMK_E_USAGE).  --help prints the command's help and exits with 0.
 */
int cli_next_opt(struct cli *c, int argc, char **argv, const struct option *opts);
/* A command with no options but --help: parse them, then check the
 * operand count (cli_operands).  Returns 0 or the exit status. */
int cli_args(struct cli *c, int argc, char **argv, int min, int max, const char *what);
/* Check the operand count: between min and max; names for messages. */
int cli_operands(struct cli *c, int argc, char **argv, int min, int max, const char *what);
/* Strict decimal unsigned; returns 0 or prints a usage error (returns 2). */
int cli_parse_uint(struct cli *c, const char *opt, const char *s, unsigned *out);

/* ------------------------------------------------------------- context */

/*
 * Open the context's vault.  `keyid` (may be NULL) is a key id the command
 * works on: a full cmk://VAULT/... id selects its vault, which must agree
 * with --vault if that was given.
 */
int cli_open(struct cli *c, const char *keyid, cmk_ctx **ctx);

/* lab_token.c: a lab's SoftHSM token file, kept and restored. */
struct cli_lab {
	char dir[1024];	      /* [lab] dir of the lab's cmk.conf */
	char token_dir[1100]; /* [lab] token_dir: DIR/tokens/<uuid> */
	char group[64];	      /* [lab] group: shared with it (lab init --group) */
};
struct tokfile_view {
	const uint8_t *p;
	size_t len;
};
/* 1 when the configuration (NULL: $CMK_CONF, else the default) is a lab's. */
int cli_lab_conf(const char *config, struct cli_lab *lab);
/* Check the lab's token file; restore it from the copy when damaged
 * (*restored = 1, said on stderr), renew the copy when the file changed. */
int cli_lab_check(const struct cli_lab *lab, int *restored);
/* cli_lab_check for the configuration of the command, if it is a lab's. */
int cli_lab_guard(struct cli *c, int *restored);
/* After a command on a lab shared with a group: give the token files,
 * audit logs and lock files this user made to the group (SoftHSM 2.6
 * makes new object files 0600 whatever the umask). */
void cli_lab_after(const struct cli *c);
/* "user NAME (uid N)" of the effective user, for permission errors. */
void cli_user_desc(char *out, size_t cap);
/* Write DIR/token.object.saved (read-only) from the bytes given. */
int cli_lab_save_copy(const struct cli_lab *lab, const struct tokfile_view *v);

/* Split NAME, NAME/VERSION or cmk://VAULT/keys/NAME[/VERSION]. */
int cli_split_id(struct cli *c, const char *id, char vault[64], char name[CMK_NAME_MAX],
		 char version[CMK_VERSION_LEN + 1]);
/* "cmk://VAULT/keys/NAME[/VERSION]" for messages and output. */
void cli_kid(char out[CMK_KID_MAX], const char *vault, const char *name, const char *version);

/* ----------------------------------------------------------------- time */

/* RFC 3339 (2027-01-31T00:00:00Z), a date (2027-01-31), "now", or a
 * relative time (+90d, -1h; units s m h d w).  With allow_none, "none"
 * gives 0.  Returns 0 or prints a usage error naming `opt`. */
int cli_time_parse(struct cli *c, const char *opt, const char *s, int allow_none, int64_t *out);
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
int cli_read(const char *path, const char *what, size_t max, int secret, struct cli_buf *out);
/* Free (and wipe) a buffer. */
void cli_buf_free(struct cli_buf *b);
/*
 * An output named by --out (io.c, cmk(1) "OUTPUT FILES"):
 *  - "-" or NULL: standard output;
 *  - a character or block device or a FIFO (also through a symbolic
 *    link): opened and written as such (direct = 1), never replaced;
 *  - a regular file, missing or existing (also the existing target of a
 *    symbolic link, which stays a link): written to an unnamed O_TMPFILE
 *    in the file's directory and linked into place when complete, so a
 *    kill at any instant leaves no file behind; where the filesystem has
 *    no O_TMPFILE, to a named temporary file renamed into place;
 *  - a directory, socket, or symbolic link to a missing file: refused.
 * Secret output gets mode 0600, other output 0666 & ~umask.
 */
struct cli_out {
	int fd;
	const char *path; /* as given; NULL: standard output */
	const char *what;
	size_t written;
	int direct;	  /* stdout, a device or a FIFO */
	int anon;	  /* fd is an unnamed O_TMPFILE */
	int dirfd;	  /* the target's directory */
	char *dir, *base; /* the target: dir/base */
	char *tmp;	  /* the named temporary (fallback), base name */
};
int cli_out_begin(struct cli_out *o, const char *path, const char *what, int secret);
int cli_out_write(struct cli_out *o, const uint8_t *p, size_t len);
/* ok: fsync and put into place; else drop what was written (a device or
 * FIFO has then got part of it only if the caller wrote before the end). */
int cli_out_end(struct cli_out *o, int ok);
/* Write `len` bytes to `path` as one cli_out: all or nothing. */
int cli_write(const char *path, const char *what, const void *p, size_t len, int secret);
/* Base64 (one line, then "\n") of in; cmk_free-able malloc memory. */
int cli_base64_encode(const uint8_t *in, size_t len, char **out, size_t *outlen);
/* Decode base64 text (whitespace allowed) into a new buffer. */
int cli_base64_decode(const char *what, const uint8_t *in, size_t len, int secret,
		      struct cli_buf *out);

/* ------------------------------------------------------------ key group */

/* keyshow.c: `cmk key list` and `cmk key show`. */
int cli_key_list(struct cli *c, int argc, char **argv);
int cli_key_show(struct cli *c, int argc, char **argv);

/* keypem.c: `cmk key pem` (docs/pem-reference.md). */
int cli_key_pem(struct cli *c, int argc, char **argv);
/* keyadopt.c: `cmk key adopt`. */
int cli_key_adopt(struct cli *c, int argc, char **argv);

/* lab_serve.c: `cmk lab serve` and `cmk lab stop` (docs/remote.md). */
int cli_lab_serve(struct cli *c, int argc, char **argv);
int cli_lab_stop(struct cli *c, int argc, char **argv);

/* vault_admin.c: `cmk vault set`, `cmk vault sweep`, `cmk vault check`. */
int cli_vault_set(struct cli *c, int argc, char **argv);
int cli_vault_sweep(struct cli *c, int argc, char **argv);
int cli_vault_check(struct cli *c, int argc, char **argv);

/* ----------------------------------------------------------------- json */

struct json_object;
/* rotation.c: the rotation part of `vault sweep` */
int cli_rotation_sweep(struct cli *c, cmk_ctx *ctx, struct json_object **json);
int cli_key_rotation_policy(struct cli *c, int argc, char **argv);
/* keyusers.c: resources whose root key NAME[/VERSION] wraps; their list
 * in `out` ("r1 (version V), ..."), and as objects in arr when not NULL. */
size_t cli_key_users(const char *vault, const char *name, const char *version, char *out,
		     size_t len, struct json_object *arr);
/* Print a JSON value on stdout and release it. */
int cli_json_print(struct json_object *o);

#endif /* CMK_CLI_H */
