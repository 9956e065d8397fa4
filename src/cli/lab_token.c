/*
 * lab_token.c - a lab's token survives an interrupted C_Login.
 *
 * SoftHSM 2.6 (file store; Debian builds no SQLite store) rewrites the
 * token's token.object in place on every C_Login, under a POSIX record lock
 * (truncate, write, flush, unlock).  A process killed inside that window
 * leaves the file empty or cut short, and the token disappears from the
 * slot list with every key on it.  The file holds only the token's label,
 * serial, flags and PIN blobs (each object has a file of its own), so a
 * copy of it brings the token back whole.
 *
 * `cmk lab init` keeps that copy, read-only, in DIR/token.object.saved and
 * marks its cmk.conf as a lab ([lab] dir, token_dir).  Before a command
 * opens the vault of such a configuration, cli_lab_guard() reads the token
 * file under a read lock (SoftHSM's own lock, so never in the middle of
 * its rewrite):
 *  - whole and equal to the copy (the generation aside): nothing to do;
 *  - whole but different (the PIN was changed, say): the copy is renewed;
 *  - missing, empty, or not a whole token file: under DIR/token-repair.lock and a
 *    write lock on the token file, checked again, and restored from the
 *    copy, saying so on standard error.
 * Only configurations with a [lab] section are touched; other tokens get
 * the library's diagnosis (src/lib/p11/softhsm_diag.c) and no repair.
 * The file's format is checked by the library (cmk_softhsm_token_file_ok,
 * src/lib/p11/softhsm_diag.c).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <glob.h>
#include <grp.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/conf.h>
#include <openssl/err.h>

#include "cli/cli.h"

#define TOKFILE_MAX (1u << 20)
struct tokfile {
	uint8_t *p;
	size_t len;
	int missing;
};

static void tokfile_free(struct tokfile *f)
{
	free(f->p);
	f->p = NULL;
	f->len = 0;
}

/* Read a whole file from fd; -1 with errno on error. */
static int read_fd(int fd, struct tokfile *f)
{
	struct stat st;
	ssize_t r;

	memset(f, 0, sizeof(*f));
	if (fstat(fd, &st) != 0)
		return -1;
	if ((uint64_t)st.st_size > TOKFILE_MAX) {
		errno = EFBIG;
		return -1;
	}
	if ((f->p = malloc((size_t)st.st_size + 1)) == NULL)
		return -1;
	while (f->len < (size_t)st.st_size) {
		r = pread(fd, f->p + f->len, (size_t)st.st_size - f->len, (off_t)f->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			tokfile_free(f);
			return -1;
		}
		if (r == 0)
			break;
		f->len += (size_t)r;
	}
	return 0;
}

/* An open file description lock (it coexists with SoftHSM's POSIX locks
 * in this process and conflicts with them across processes). */
static int ofd_lock(int fd, short type)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	while (fcntl(fd, F_OFD_SETLKW, &fl) != 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

/* The token file as SoftHSM last finished writing it. */
static int read_token(const char *path, struct tokfile *f)
{
	int fd, rc, e;

	memset(f, 0, sizeof(*f));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno != ENOENT)
			return -1;
		f->missing = 1;
		return 0;
	}
	rc = ofd_lock(fd, F_RDLCK) == 0 ? read_fd(fd, f) : -1;
	e = errno;
	close(fd);
	errno = e;
	return rc;
}

static const char *damage(const struct tokfile *f)
{
	if (f->missing)
		return "missing";
	if (f->len == 0)
		return "empty";
	return cmk_softhsm_token_file_ok(f->p, f->len) ? NULL : "cut short or garbled";
}

/* Equal but for the generation (SoftHSM bumps it at every login). */
static int same_token(const struct tokfile *a, const struct tokfile *b)
{
	return a->len == b->len && a->len >= 8 && memcmp(a->p + 8, b->p + 8, a->len - 8) == 0;
}

void cli_user_desc(char *out, size_t cap)
{
	uid_t uid = geteuid();
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res != NULL)
		snprintf(out, cap, "user %s (uid %u)", res->pw_name, (unsigned)uid);
	else
		snprintf(out, cap, "uid %u", (unsigned)uid);
}

/* ------------------------------------------------------------ the lab */

int cli_lab_conf(const char *config, struct cli_lab *lab)
{
	CONF *conf;
	long eline;
	const char *dir, *tok;
	int found = 0;

	memset(lab, 0, sizeof(*lab));
	if (config == NULL && (config = getenv("CMK_CONF")) != NULL && *config == '\0')
		config = NULL;
	if (config == NULL)
		config = SYSCONFDIR "/cmk/cmk.conf";
	if ((conf = NCONF_new(NULL)) == NULL)
		return 0;
	if (NCONF_load(conf, config, &eline) > 0 &&
	    (dir = NCONF_get_string(conf, "lab", "dir")) != NULL &&
	    (tok = NCONF_get_string(conf, "lab", "token_dir")) != NULL &&
	    strlen(dir) < sizeof(lab->dir) && strlen(tok) < sizeof(lab->token_dir)) {
		const char *g = NCONF_get_string(conf, "lab", "group");

		strcpy(lab->dir, dir);
		strcpy(lab->token_dir, tok);
		if (g != NULL && strlen(g) < sizeof(lab->group))
			strcpy(lab->group, g);
		found = 1;
	}
	ERR_clear_error();
	NCONF_free(conf);
	return found;
}

static void lab_file(char *out, size_t cap, const char *dir, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

/* Mode of the lab's files: group-readable when the lab is shared with a
 * group (its directory is setgid: cmk lab init --group). */
static mode_t lab_mode(const struct cli_lab *lab, mode_t owner)
{
	struct stat st;

	if (stat(lab->dir, &st) == 0 && (st.st_mode & S_ISGID))
		return owner | ((owner & 0700) >> 3);
	return owner;
}

/* Write the copy: a new read-only file renamed over the old one. */
int cli_lab_save_copy(const struct cli_lab *lab, const struct tokfile_view *v)
{
	char path[PATH_MAX + 64], tmp[PATH_MAX + 80];
	size_t off = 0;
	ssize_t w;
	int fd, e;

	lab_file(path, sizeof(path), lab->dir, "token.object.saved");
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return cli_fail(CMK_E_IO,
				"cannot save the lab token's copy "
				"%s: %s",
				tmp, strerror(errno));
	while (off < v->len) {
		w = write(fd, v->p + off, v->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			break;
		off += (size_t)w;
	}
	if (off < v->len || fchmod(fd, lab_mode(lab, 0400)) != 0 || fsync(fd) != 0) {
		e = errno;
		close(fd);
		unlink(tmp);
		return cli_fail(CMK_E_IO,
				"cannot save the lab token's copy "
				"%s: %s",
				tmp, strerror(e));
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		e = errno;
		unlink(tmp);
		return cli_fail(CMK_E_IO,
				"cannot save the lab token's copy "
				"%s: %s",
				path, strerror(e));
	}
	return CMK_OK;
}

/* Take DIR/token-repair.lock (blocks while another process repairs). */
static int lab_lock(const struct cli_lab *lab)
{
	char path[PATH_MAX + 64];
	int fd;

	lab_file(path, sizeof(path), lab->dir, "token-repair.lock");
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, lab_mode(lab, 0600))) < 0) {
		cli_fail(CMK_E_IO, "lab %s: cannot open its lock file %s: %s", lab->dir, path,
			 strerror(errno));
		return -1;
	}
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			cli_fail(CMK_E_IO, "lab %s: cannot lock %s: %s", lab->dir, path,
				 strerror(errno));
			close(fd);
			return -1;
		}
	}
	return fd;
}

static int read_copy(const struct cli_lab *lab, struct tokfile *f, char *path, size_t cap)
{
	int fd, rc, e;

	lab_file(path, cap, lab->dir, "token.object.saved");
	memset(f, 0, sizeof(*f));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		f->missing = errno == ENOENT;
		return f->missing ? 0 : -1;
	}
	rc = read_fd(fd, f);
	e = errno;
	close(fd);
	errno = e;
	return rc;
}

/* Under the lab lock: look again with a write lock on the token file, and
 * put the copy back if it is still damaged.  1: restored, 0: it had
 * become whole, else an exit status. */
static int restore_locked(const struct cli_lab *lab, const char *tokpath, const char **why)
{
	struct tokfile now, copy;
	char copypath[PATH_MAX + 64];
	size_t off = 0;
	ssize_t w;
	int fd, rc;

	if (read_copy(lab, &copy, copypath, sizeof(copypath)) != 0 || copy.missing ||
	    !cmk_softhsm_token_file_ok(copy.p, copy.len)) {
		rc = cli_fail(CMK_E_TOKEN,
			      "lab %s: the token file %s is %s, "
			      "and its copy %s %s: re-make the lab (cmk lab "
			      "init --force destroys its keys)",
			      lab->dir, tokpath, *why, copypath,
			      copy.missing ? "is missing" : "is not a whole token file");
		tokfile_free(&copy);
		return rc;
	}
	/* SoftHSM truncates the file before it takes its lock: a writer may
	 * be waiting for the lock we hold, the file empty meanwhile.  So a
	 * damaged file is looked at again, the lock let go in between, before
	 * it is taken for a killed writer's. */
	for (int i = 0;; i++) {
		if ((fd = open(tokpath, O_RDWR | O_CREAT | O_CLOEXEC, lab_mode(lab, 0600))) < 0 ||
		    ofd_lock(fd, F_WRLCK) != 0 || read_fd(fd, &now) != 0) {
			rc = cli_fail(CMK_E_TOKEN, "lab %s: cannot restore %s: %s", lab->dir,
				      tokpath, strerror(errno));
			if (fd >= 0)
				close(fd);
			tokfile_free(&copy);
			return rc;
		}
		now.missing = 0;
		if (damage(&now) == NULL) { /* SoftHSM finished its rewrite */
			tokfile_free(&now);
			tokfile_free(&copy);
			close(fd);
			return 0;
		}
		if (i == 10)
			break;
		tokfile_free(&now);
		close(fd);
		struct timespec ts = { 0, 30 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (strcmp(*why, "missing") != 0)
		*why = damage(&now);
	tokfile_free(&now);
	rc = ftruncate(fd, 0);
	while (rc == 0 && off < copy.len) {
		w = pwrite(fd, copy.p + off, copy.len - off, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			rc = -1;
		else
			off += (size_t)w;
	}
	if (rc == 0)
		rc = fsync(fd);
	if (rc != 0) {
		rc = cli_fail(CMK_E_TOKEN, "lab %s: cannot restore %s: %s", lab->dir, tokpath,
			      strerror(errno));
		close(fd);
		tokfile_free(&copy);
		return rc;
	}
	close(fd); /* releases the lock */
	tokfile_free(&copy);
	fprintf(stderr,
		"cmk: lab %s: the token file %s was %s (a process "
		"killed during SoftHSM's C_Login); restored it from %s\n",
		lab->dir, tokpath, *why, copypath);
	return 1;
}

int cli_lab_check(const struct cli_lab *lab, int *restored)
{
	struct tokfile tok, copy;
	char tokpath[PATH_MAX + 64], copypath[PATH_MAX + 64];
	const char *why;
	int lfd, rc = CMK_OK;

	*restored = 0;
	lab_file(tokpath, sizeof(tokpath), lab->token_dir, "token.object");
	if (read_token(tokpath, &tok) != 0) {
		char who[300];

		if (errno != EACCES)
			return cli_fail(CMK_E_TOKEN,
					"lab %s: cannot read the "
					"token file %s: %s",
					lab->dir, tokpath, strerror(errno));
		cli_user_desc(who, sizeof(who));
		return cli_fail(CMK_E_TOKEN,
				"lab %s: the token file %s is not "
				"readable by %s: %s (a lab used by another "
				"user is made with cmk lab init --group)",
				lab->dir, tokpath, who, strerror(EACCES));
	}
	why = damage(&tok);
	/* SoftHSM truncates the file before it takes its lock and writes, so a
	 * live process's rewrite can look like damage for a moment: only a file
	 * that stays damaged (its writer was killed) is repaired */
	for (int i = 0; why != NULL && i < 50; i++) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		tokfile_free(&tok);
		if (read_token(tokpath, &tok) != 0)
			break;
		if ((why = damage(&tok)) == NULL) {
			tokfile_free(&tok);
			return CMK_OK;
		}
	}
	if (why == NULL) {
		/* whole: keep the copy current (a changed PIN, say) */
		if (read_copy(lab, &copy, copypath, sizeof(copypath)) == 0 && !copy.missing &&
		    same_token(&tok, &copy)) {
			tokfile_free(&copy);
			tokfile_free(&tok);
			return CMK_OK;
		}
		tokfile_free(&copy);
		tokfile_free(&tok);
		if ((lfd = lab_lock(lab)) < 0)
			return CMK_E_IO;
		if (read_token(tokpath, &tok) == 0 && damage(&tok) == NULL) {
			struct tokfile_view v = { tok.p, tok.len };

			rc = cli_lab_save_copy(lab, &v);
		}
		tokfile_free(&tok);
		close(lfd);
		return rc;
	}
	tokfile_free(&tok);
	if ((lfd = lab_lock(lab)) < 0)
		return CMK_E_IO;
	rc = restore_locked(lab, tokpath, &why);
	close(lfd);
	if (rc == 1) {
		*restored = 1;
		return CMK_OK;
	}
	return rc;
}

int cli_lab_guard(struct cli *c, int *restored)
{
	struct cli_lab lab;

	*restored = 0;
	if (!cli_lab_conf(c->config, &lab))
		return CMK_OK;
	return cli_lab_check(&lab, restored);
}

/* ------------------------------------------------------ shared labs */

static gid_t after_gid;

static void give_to_group(const char *path, const struct stat *st, mode_t want)
{
	if (st->st_uid != geteuid())
		return;
	if (st->st_gid != after_gid)
		(void)chown(path, (uid_t)-1, after_gid);
	if ((st->st_mode & 07777) != want)
		(void)chmod(path, want);
}

static int after_cb(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)f;
	if (flag == FTW_D)
		give_to_group(path, st, 02770);
	else if (flag == FTW_F)
		give_to_group(path, st, 0660);
	return 0;
}

void cli_lab_after(const struct cli *c)
{
	struct cli_lab lab;
	struct group *gr;
	struct stat st;
	char pat[1100];
	glob_t g;
	size_t i, k;
	static const char *const pats[] = { "%s/*.audit.log*", "%s/*.lock" };

	if (!cli_lab_conf(c->config, &lab) || lab.group[0] == '\0' ||
	    (gr = getgrnam(lab.group)) == NULL)
		return;
	after_gid = gr->gr_gid;
	snprintf(pat, sizeof(pat), "%s/tokens", lab.dir);
	(void)nftw(pat, after_cb, 16, FTW_PHYS);
	for (k = 0; k < sizeof(pats) / sizeof(pats[0]); k++) {
		snprintf(pat, sizeof(pat), pats[k], lab.dir);
		if (glob(pat, 0, NULL, &g) != 0)
			continue;
		for (i = 0; i < g.gl_pathc; i++)
			if (lstat(g.gl_pathv[i], &st) == 0 && S_ISREG(st.st_mode))
				give_to_group(g.gl_pathv[i], &st, 0660);
		globfree(&g);
	}
}
