/*
 * lab.c - `cmk lab`: a SoftHSMv2 token and a vault on it, in one directory,
 * for trying cmk and for tests.
 *
 *   DIR/softhsm2.conf   SoftHSMv2 configuration (tokendir = DIR/tokens)
 *   DIR/tokens/         the token
 *   DIR/pin, so-pin     random PINs, mode 0600
 *   DIR/cmk.conf        vault "lab" on token "cmk-lab", PIN from DIR/pin;
 *                       its [lab] section marks it as a lab (lab_token.c)
 *   DIR/token.object.saved  read-only copy of the token's token.object,
 *                       which SoftHSM can lose (lab_token.c)
 *   DIR/token-repair.lock  taken while a token file is restored
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "cli/cli.h"

enum { OPT_TOKEN = 256, OPT_VAULT, OPT_FORCE, OPT_RETENTION, OPT_PP, OPT_GROUP };

#define PIN_BYTES 16 /* 32 hex characters */

static const char *const lab_files[] = {
	"cmk.conf", "softhsm2.conf", "pin", "so-pin", "token.object.saved", "token-repair.lock",
};
#define NFILES (sizeof(lab_files) / sizeof(lab_files[0]))

struct lab {
	char dir[PATH_MAX];
	char path[PATH_MAX + 32];
	int made_dir;
	int made[NFILES]; /* lab_files written */
	int made_tokens;
};

static const char *lab_path(struct lab *l, const char *name)
{
	snprintf(l->path, sizeof(l->path), "%s/%s", l->dir, name);
	return l->path;
}

static int unlink_cb(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

static int remove_tree(const char *path)
{
	return nftw(path, unlink_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Undo a failed init: remove what this run made. */
static void lab_cleanup(struct lab *l)
{
	size_t i;

	if (l->made_tokens)
		remove_tree(lab_path(l, "tokens"));
	for (i = 0; i < NFILES; i++)
		if (l->made[i])
			unlink(lab_path(l, lab_files[i]));
	if (l->made_dir)
		rmdir(l->dir);
}

/* Characters a path in cmk.conf (NCONF) and softhsm2.conf can hold. */
static int path_ok(struct cli *c, const char *what, const char *s)
{
	const char *p;

	for (p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || strchr("#$\\\"'", *p) != NULL)
			return cli_usage_fail(c,
					      "%s '%s' holds '%c', which a "
					      "configuration file cannot hold",
					      what, s, *p >= 0x20 ? *p : '?');
	return CMK_OK;
}

static int name_ok(struct cli *c, const char *what, const char *s, size_t max, int label)
{
	const char *p;
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return cli_usage_fail(c, "%s '%s' must be 1-%zu characters", what, s, max);
	for (p = s; *p; p++) {
		int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			 (*p >= '0' && *p <= '9') || *p == '-' ||
			 (label && (*p == '_' || *p == '.'));
		if (!ok)
			return cli_usage_fail(c,
					      "%s '%s' may hold only letters, "
					      "digits and -%s",
					      what, s, label ? " _ ." : "");
	}
	return CMK_OK;
}

/* Write a whole file, new (O_EXCL), with `mode`. */
static int write_file(struct lab *l, size_t idx, const char *text, mode_t mode)
{
	const char *path = lab_path(l, lab_files[idx]);
	size_t len = strlen(text);
	ssize_t w;
	int fd, e;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)) < 0)
		return cli_fail(CMK_E_IO, "cannot create %s: %s", path, strerror(errno));
	l->made[idx] = 1;
	while (len > 0) {
		w = write(fd, text, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			e = errno;
			close(fd);
			return cli_fail(CMK_E_IO, "cannot write %s: %s", path, strerror(e));
		}
		text += w;
		len -= (size_t)w;
	}
	if (fchmod(fd, mode) != 0 || close(fd) != 0)
		return cli_fail(CMK_E_IO, "cannot write %s: %s", path, strerror(errno));
	return CMK_OK;
}

/* A random PIN, hex, in secure memory of PIN_BYTES * 2 + 1 bytes. */
static int make_pin(char **pin)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[PIN_BYTES];
	size_t i;

	if ((*pin = cmk_secure_alloc(PIN_BYTES * 2 + 1)) == NULL)
		return cli_fail(CMK_E_NOMEM, "out of secure memory");
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		cmk_secure_free(*pin, PIN_BYTES * 2 + 1);
		*pin = NULL;
		return cli_fail(CMK_E_INTERNAL, "cannot make a random PIN");
	}
	for (i = 0; i < PIN_BYTES; i++) {
		(*pin)[2 * i] = hex[raw[i] >> 4];
		(*pin)[2 * i + 1] = hex[raw[i] & 15];
	}
	(*pin)[2 * PIN_BYTES] = '\0';
	cmk_wipe(raw, sizeof(raw));
	return CMK_OK;
}

static void free_pin(char *pin)
{
	if (pin != NULL)
		cmk_secure_free(pin, PIN_BYTES * 2 + 1);
}

/* Print a value for the shell, quoted when it needs to be. */
static void print_export(const char *var, const char *dir, const char *file)
{
	const char *p;
	int plain = 1;

	for (p = dir; *p; p++)
		if (strchr("/._-+,:@%=~", *p) == NULL &&
		    !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9')))
			plain = 0;
	if (plain)
		printf("export %s=%s/%s\n", var, dir, file);
	else
		printf("export %s='%s/%s'\n", var, dir, file);
}

static void print_exports(const char *dir)
{
	print_export("SOFTHSM2_CONF", dir, "softhsm2.conf");
	print_export("CMK_CONF", dir, "cmk.conf");
}

/* Does DIR hold (part of) a lab?  Returns the first item found. */
static const char *lab_present(struct lab *l)
{
	struct stat st;
	size_t i;

	for (i = 0; i < NFILES; i++)
		if (lstat(lab_path(l, lab_files[i]), &st) == 0)
			return lab_files[i];
	if (lstat(lab_path(l, "tokens"), &st) == 0)
		return "tokens";
	return NULL;
}

static int lab_remove(struct lab *l)
{
	struct stat st;
	size_t i;

	if (lstat(lab_path(l, "tokens"), &st) == 0 && remove_tree(l->path) != 0)
		return cli_fail(CMK_E_IO, "cannot remove %s: %s", l->path, strerror(errno));
	for (i = 0; i < NFILES; i++)
		if (unlink(lab_path(l, lab_files[i])) != 0 && errno != ENOENT)
			return cli_fail(CMK_E_IO, "cannot remove %s: %s", l->path, strerror(errno));
	return CMK_OK;
}

/* Create DIR if needed and make l->dir its absolute path. */
static int lab_dir(struct cli *c, struct lab *l, const char *dir)
{
	if (mkdir(dir, 0700) == 0)
		l->made_dir = 1;
	else if (errno != EEXIST)
		return cli_fail(CMK_E_IO, "cannot create lab directory %s: %s", dir,
				strerror(errno));
	if (realpath(dir, l->dir) == NULL) {
		int e = errno;

		if (l->made_dir)
			rmdir(dir);
		return cli_fail(CMK_E_IO, "lab directory %s: %s", dir, strerror(e));
	}
	if (path_ok(c, "lab directory", l->dir) != CMK_OK) {
		if (l->made_dir)
			rmdir(l->dir);
		return CMK_E_USAGE;
	}
	return CMK_OK;
}

/* DIR/tokens/<uuid>: the one token directory SoftHSM made. */
static int token_dir(struct lab *l, char *out, size_t cap)
{
	char path[PATH_MAX + 300];
	DIR *d;
	struct dirent *e;
	struct stat st;
	int n = 0;

	if ((d = opendir(lab_path(l, "tokens"))) == NULL)
		return cli_fail(CMK_E_IO, "cannot read %s: %s", l->path, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/tokens/%s", l->dir, e->d_name);
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode) && n++ == 0)
			snprintf(out, cap, "%s", path);
	}
	closedir(d);
	if (n != 1)
		return cli_fail(CMK_E_TOKEN,
				"%s/tokens holds %d token "
				"directories, not one",
				l->dir, n);
	return CMK_OK;
}

/* Keep the copy of the token file that SoftHSM can lose. */
static int save_token_copy(struct lab *l, const char *tokdir)
{
	struct cli_lab lab;
	struct cli_buf b;
	struct tokfile_view v;
	char path[PATH_MAX + 64];
	int rc;

	snprintf(lab.dir, sizeof(lab.dir), "%s", l->dir);
	snprintf(lab.token_dir, sizeof(lab.token_dir), "%s", tokdir);
	snprintf(path, sizeof(path), "%s/token.object", tokdir);
	if ((rc = cli_read(path, "token file", 1u << 20, 0, &b)) != CMK_OK)
		return rc;
	v.p = b.p;
	v.len = b.len;
	l->made[4] = 1;
	rc = cli_lab_save_copy(&lab, &v);
	cli_buf_free(&b);
	return rc;
}

struct lab_opts {
	const char *token;
	const char *vault;
	int force;
	cmk_vault_params vp;
	const char *group; /* --group: shared with this group */
	gid_t gid;
};

/* Give `path` to the lab's group with `mode` (no world access). */
static int share(const char *path, gid_t gid, mode_t mode)
{
	if (chown(path, (uid_t)-1, gid) != 0 || chmod(path, mode) != 0)
		return cli_fail(CMK_E_IO, "cannot share %s with its group: %s", path,
				strerror(errno));
	return CMK_OK;
}

static gid_t share_gid;

static int share_cb(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)f;
	if (flag == FTW_D)
		return share(path, share_gid, 02770) != CMK_OK;
	if (flag == FTW_F)
		return share(path, share_gid, 0660) != CMK_OK;
	(void)st;
	return 0;
}

/*
 * --group: members of the group use the lab as its owner does (a service
 * whose workers run as another user, cmk(1)): setgid directories 2770,
 * the token's files 0660 (SoftHSM rewrites token.object at every login),
 * the configurations and the PIN 0640, the vault's lock file and audit
 * log 0660; the SO PIN stays the owner's; nothing for others.  SoftHSM
 * 2.6 makes every new object file 0600 whatever the umask, so each cmk
 * command on a shared lab gives new token files to the group when it ends
 * (cli_lab_after).
 */
static int lab_share(struct lab *l, const struct lab_opts *o)
{
	char path[PATH_MAX + 80];
	int fd, rc;

	share_gid = o->gid;
	if ((rc = share(l->dir, o->gid, 02770)) != CMK_OK)
		return rc;
	if (nftw(lab_path(l, "tokens"), share_cb, 16, FTW_PHYS) != 0)
		return CMK_E_IO;
	if ((rc = share(lab_path(l, "softhsm2.conf"), o->gid, 0640)) ||
	    (rc = share(lab_path(l, "cmk.conf"), o->gid, 0640)) ||
	    (rc = share(lab_path(l, "pin"), o->gid, 0640)) ||
	    (rc = share(lab_path(l, "token.object.saved"), o->gid, 0440)))
		return rc;
	/* the vault's lock file and audit log (cmk.conf(5) defaults, next
	 * to the configuration) and the repair lock */
	snprintf(path, sizeof(path), "%s/%s.lock", l->dir, o->vault);
	const char *more[] = { path, NULL, NULL };
	char audit[PATH_MAX + 80], repair[PATH_MAX + 80];
	snprintf(audit, sizeof(audit), "%s/%s.audit.log", l->dir, o->vault);
	snprintf(repair, sizeof(repair), "%s/token-repair.lock", l->dir);
	more[1] = audit;
	more[2] = repair;
	for (size_t i = 0; i < 3; i++) {
		if ((fd = open(more[i], O_RDWR | O_CREAT | O_CLOEXEC, 0660)) < 0)
			return cli_fail(CMK_E_IO, "cannot create %s: %s", more[i], strerror(errno));
		close(fd);
		if ((rc = share(more[i], o->gid, 0660)) != CMK_OK)
			return rc;
	}
	return CMK_OK;
}

static int lab_make(struct cli *c, struct lab *l, const struct lab_opts *o)
{
	char text[4 * PATH_MAX], sect[80], *pin = NULL, *so_pin = NULL;
	char tokdir[PATH_MAX + 300];
	cmk_ctx *ctx = NULL;
	size_t i;
	int rc;

	snprintf(text, sizeof(text),
		 "# SoftHSMv2 token of a cmk lab, made by cmk lab init\n"
		 "directories.tokendir = %s/tokens\n"
		 "objectstore.backend = file\n"
		 "log.level = ERROR\n"
		 "slots.removable = false\n",
		 l->dir);
	if ((rc = write_file(l, 1, text, 0644)) != CMK_OK)
		return rc;
	if (mkdir(lab_path(l, "tokens"), 0700) != 0)
		return cli_fail(CMK_E_IO, "cannot create %s: %s", l->path, strerror(errno));
	l->made_tokens = 1;
	if ((rc = make_pin(&pin)) != CMK_OK || (rc = make_pin(&so_pin)) != CMK_OK)
		goto out;
	if ((rc = write_file(l, 2, pin, 0600)) != CMK_OK ||
	    (rc = write_file(l, 3, so_pin, 0600)) != CMK_OK)
		goto out;
	if (setenv("SOFTHSM2_CONF", lab_path(l, "softhsm2.conf"), 1) != 0) {
		rc = cli_fail(CMK_E_INTERNAL, "cannot set SOFTHSM2_CONF");
		goto out;
	}
	rc = cmk_token_init(CMK_SOFTHSM_MODULE, o->token, so_pin, pin);
	if (rc != CMK_OK) {
		rc = cli_lib_fail(rc);
		goto out;
	}
	if ((rc = token_dir(l, tokdir, sizeof(tokdir))) != CMK_OK)
		goto out;
	snprintf(sect, sizeof(sect), "vault_%s", o->vault);
	for (i = 0; sect[i]; i++)
		if (sect[i] == '-')
			sect[i] = '_';
	snprintf(text, sizeof(text),
		 "# cmk lab, made by cmk lab init; see cmk.conf(5)\n"
		 "[cmk]\n"
		 "default_vault = %s\n"
		 "identity = admin\n"
		 "\n"
		 "[vaults]\n"
		 "%s = %s\n"
		 "\n"
		 "[%s]\n"
		 "module = %s\n"
		 "token = %s\n"
		 "pin_source = file:%s/pin\n"
		 "\n"
		 "# a lab: cmk restores token_dir/token.object from\n"
		 "# dir/token.object.saved when SoftHSM lost it (cmk lab repair)\n"
		 "[lab]\n"
		 "dir = %s\n"
		 "token_dir = %s\n"
		 "%s%s%s",
		 o->vault, o->vault, sect, sect, CMK_SOFTHSM_MODULE, o->token, l->dir, l->dir,
		 tokdir, o->group ? "group = " : "", o->group ? o->group : "",
		 o->group ? "\n" : "");
	if ((rc = write_file(l, 0, text, 0644)) != CMK_OK)
		goto out;
	if ((rc = cmk_open(&ctx, lab_path(l, "cmk.conf"), o->vault, c->identity)) != CMK_OK ||
	    (rc = cmk_vault_init(ctx, &o->vp)) != CMK_OK)
		rc = cli_lib_fail(rc);
out:
	if (ctx != NULL)
		cmk_close(ctx);
	if (rc == CMK_OK)
		rc = save_token_copy(l, tokdir);
	if (rc == CMK_OK && o->group != NULL)
		rc = lab_share(l, o);
	free_pin(pin);
	free_pin(so_pin);
	return rc;
}

static int run_init(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "token", required_argument, NULL, OPT_TOKEN },
		{ "vault", required_argument, NULL, OPT_VAULT },
		{ "retention", required_argument, NULL, OPT_RETENTION },
		{ "purge-protection", no_argument, NULL, OPT_PP },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "group", required_argument, NULL, OPT_GROUP },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	struct lab_opts lo = { "cmk-lab", "lab", 0, { 0, 0, NULL }, NULL, 0 };
	struct group *gr;
	struct lab l;
	const char *found;
	int o, rc;

	while ((o = cli_next_opt(c, argc, argv, opts)) != -1) {
		switch (o) {
		case CLI_OPT_STOP: return c->rc;
		case OPT_TOKEN: lo.token = optarg; break;
		case OPT_VAULT: lo.vault = optarg; break;
		case OPT_FORCE: lo.force = 1; break;
		case OPT_PP: lo.vp.purge_protection = 1; break;
		case OPT_GROUP: lo.group = optarg; break;
		case OPT_RETENTION:
			if ((rc = cli_parse_uint(c, "--retention", optarg,
						 &lo.vp.retention_days)) != CMK_OK)
				return rc;
			if (lo.vp.retention_days < 7 || lo.vp.retention_days > 90)
				return cli_usage_fail(c,
						      "--retention %u is not "
						      "between 7 and 90 days",
						      lo.vp.retention_days);
			break;
		}
	}
	if ((rc = cli_operands(c, argc, argv, 1, 1, "lab DIR")) != CMK_OK)
		return rc;
	if ((rc = name_ok(c, "--token", lo.token, 32, 1)) != CMK_OK ||
	    (rc = name_ok(c, "--vault", lo.vault, 63, 0)) != CMK_OK)
		return rc;
	if (lo.group != NULL) {
		if ((rc = name_ok(c, "--group", lo.group, 32, 1)) != CMK_OK)
			return rc;
		errno = 0;
		if ((gr = getgrnam(lo.group)) == NULL)
			return cli_usage_fail(c, "--group %s: no such group%s%s", lo.group,
					      errno ? ": " : "", errno ? strerror(errno) : "");
		lo.gid = gr->gr_gid;
	}
	memset(&l, 0, sizeof(l));
	if ((rc = lab_dir(c, &l, argv[optind])) != CMK_OK)
		return rc;
	if ((found = lab_present(&l)) != NULL) {
		if (!lo.force)
			return cli_fail(CMK_E_EXISTS,
					"%s already holds a cmk lab "
					"(%s/%s); give --force to replace it",
					l.dir, l.dir, found);
		if ((rc = lab_remove(&l)) != CMK_OK)
			return rc;
	}
	if ((rc = lab_make(c, &l, &lo)) != CMK_OK) {
		lab_cleanup(&l);
		return rc;
	}
	print_exports(l.dir);
	return CMK_OK;
}

static int run_show(struct cli *c, int argc, char **argv)
{
	struct lab l;
	struct stat st;
	int rc;

	if ((rc = cli_args(c, argc, argv, 1, 1, "lab DIR")) != CMK_OK)
		return rc;
	memset(&l, 0, sizeof(l));
	if (realpath(argv[optind], l.dir) == NULL)
		return cli_fail(CMK_E_NOT_FOUND, "lab directory %s: %s", argv[optind],
				strerror(errno));
	if (stat(lab_path(&l, "cmk.conf"), &st) != 0 ||
	    stat(lab_path(&l, "softhsm2.conf"), &st) != 0)
		return cli_fail(CMK_E_NOT_FOUND,
				"%s is not a cmk lab: %s is "
				"missing (make one with cmk lab init)",
				l.dir, l.path);
	print_exports(l.dir);
	return CMK_OK;
}

static int run_repair(struct cli *c, int argc, char **argv)
{
	struct lab l;
	struct cli_lab lab;
	int rc, restored;

	if ((rc = cli_args(c, argc, argv, 1, 1, "lab DIR")) != CMK_OK)
		return rc;
	memset(&l, 0, sizeof(l));
	if (realpath(argv[optind], l.dir) == NULL)
		return cli_fail(CMK_E_NOT_FOUND, "lab directory %s: %s", argv[optind],
				strerror(errno));
	if (!cli_lab_conf(lab_path(&l, "cmk.conf"), &lab))
		return cli_fail(CMK_E_NOT_FOUND,
				"%s is not a cmk lab: %s has "
				"no [lab] section (labs made before cmk kept a "
				"copy of the token file cannot be repaired)",
				l.dir, l.path);
	if ((rc = cli_lab_check(&lab, &restored)) != CMK_OK)
		return rc;
	if (!restored)
		printf("lab %s: the token file %s/token.object is whole\n", l.dir, lab.token_dir);
	else
		printf("lab %s: the token file %s/token.object was restored\n", l.dir,
		       lab.token_dir);
	return CMK_OK;
}

const struct cli_group cli_group_lab = {
	"lab",
	"make a SoftHSMv2 lab: a token and a vault in one directory",
	(const struct cli_cmd[]){
		{ "init", run_init,
		  "DIR [--token LABEL] [--vault NAME] [--retention DAYS] "
		  "[--purge-protection] [--group GROUP] [--force]",
		  "Make a lab in DIR: a SoftHSMv2 token with random PINs and an "
		  "initialised\nvault, then print the export lines that select "
		  "it.",
		  "  --token LABEL      token label (default cmk-lab)\n"
		  "  --vault NAME       vault name (default lab)\n"
		  "  --retention DAYS   soft-delete retention, 7-90 days "
		  "(default 90)\n"
		  "  --purge-protection turn purge protection on (for ever)\n"
		  "  --group GROUP      share the lab with GROUP (for services "
		  "whose workers run\n                     as another user): "
		  "group read/write, no world access\n"
		  "  --force            replace a lab already in DIR "
		  "(destroys its keys)\n" },
		{ "repair", run_repair, "DIR",
		  "Check the lab's token file (DIR/tokens/*/token.object), which "
		  "SoftHSM\nrewrites at every login, and restore it from "
		  "DIR/token.object.saved when a\nkilled process left it empty or "
		  "cut short (every command on the lab does\nthis by itself).",
		  NULL },
		{ "show", run_show, "DIR", "Print the export lines that select the lab in DIR.",
		  NULL },
		{ "serve", cli_lab_serve, "DIR [--vault NAME]",
		  "Serve the lab's token with p11-kit server on DIR/p11-kit.sock "
		  "and write\nDIR/remote.conf, which names vault NAME (default "
		  "remote) on it; print\nthe address and the export line.",
		  "  --vault NAME       name of the remote vault (default remote; "
		  "the lab's own\n                     vault name makes "
		  "remote.conf hold only the remote one)\n" },
		{ "stop", cli_lab_stop, "DIR",
		  "Stop the p11-kit server of the lab in DIR and its "
		  "connections.",
		  NULL },
		{ NULL, NULL, NULL, NULL, NULL },
	},
};
