/* softhsm_diag.c - why SoftHSMv2 shows no token: its file store examined.
 *
 * SoftHSM 2.6 (file object store) keeps a token's label, flags and PIN
 * blobs in DIR/<uuid>/token.object and rewrites that file in place on every
 * C_Login: a process killed at that instant leaves it empty or cut short,
 * and the slot then shows no token at all.  When a configured token is
 * missing, token.c asks this file for the reason: the token directory from
 * SOFTHSM2_CONF's directories.tokendir, and in it every token.object that is
 * missing, empty, cut short or unreadable by this process's user (a
 * service's worker after it dropped privileges).  Also called when
 * SoftHSM's C_Initialize fails (module.c): an unreadable token directory
 * or configuration makes it fail with CKR_GENERAL_ERROR.
 *
 * token.object is SoftHSM's ObjectFile: an 8-byte big-endian generation,
 * then records of (8-byte attribute type, 8-byte kind, value): kind 1 a
 * 1-byte boolean, 2 an 8-byte integer, 3 an 8-byte length and bytes, 4 an
 * attribute map (8-byte length and bytes), 5 a mechanism set (8-byte count
 * and 8 bytes each).  A token file holds at least the label (0x80005349)
 * and the flags (0x8000534b).  Diagnostics only: nothing here writes. */
#include "config.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "p11/p11_int.h"

#define TOKFILE_MAX   (1u << 20)
#define OS_TOKENLABEL 0x80005349ull
#define OS_TOKENFLAGS 0x8000534bull

static uint64_t be64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* 1 when the bytes are a whole token file, 0 when they are cut short or
 * garbled (cmk.h; also `cmk lab`'s check of its token). */
int cmk_softhsm_token_file_ok(const uint8_t *p, size_t n)
{
	size_t pos = 8;
	int label = 0, flags = 0;
	if (n < 8)
		return 0;
	while (pos < n) {
		if (n - pos < 16)
			return 0;
		uint64_t type = be64(p + pos), kind = be64(p + pos + 8), len;
		pos += 16;
		switch (kind) {
		case 1: len = 1; break;
		case 2: len = 8; break;
		case 3:
		case 4:
			if (n - pos < 8)
				return 0;
			len = be64(p + pos);
			pos += 8;
			break;
		case 5:
			if (n - pos < 8)
				return 0;
			len = be64(p + pos);
			pos += 8;
			if (len > n / 8)
				return 0;
			len *= 8;
			break;
		default: return 0;
		}
		if (len > n - pos)
			return 0;
		pos += len;
		label |= type == OS_TOKENLABEL;
		flags |= type == OS_TOKENFLAGS;
	}
	return label && flags;
}

static void user_desc(char *out, size_t cap)
{
	uid_t uid = geteuid();
	struct passwd pw, *res = NULL;
	char buf[1024];
	if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res)
		snprintf(out, cap, "user %s (uid %u)", res->pw_name, (unsigned)uid);
	else
		snprintf(out, cap, "uid %u", (unsigned)uid);
}

static void append(char *out, size_t cap, const char *fmt, const char *a, const char *b)
{
	size_t used = strlen(out);
	if (used + 3 >= cap)
		return;
	snprintf(out + used, cap - used, fmt, a, b);
}

/* directories.tokendir of the SoftHSM configuration in effect; 0 when the
 * store is not the file store or nothing says where it is. */
static int tokendir_of(char *dir, size_t cap, char *conf, size_t ccap)
{
	const char *path = getenv("SOFTHSM2_CONF");
	if (!path || !*path)
		path = "/etc/softhsm/softhsm2.conf";
	snprintf(conf, ccap, "%s", path);
	FILE *f = fopen(path, "re");
	if (!f)
		return errno == EACCES ? -1 : 0;
	char line[1200];
	int found = 0, db = 0;
	while (fgets(line, sizeof line, f)) {
		char *p = line, *v;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || !(v = strchr(p, '=')))
			continue;
		char *k_end = v;
		while (k_end > p && (k_end[-1] == ' ' || k_end[-1] == '\t'))
			k_end--;
		for (v++; *v == ' ' || *v == '\t'; v++)
			;
		v[strcspn(v, "\r\n")] = '\0';
		for (size_t n = strlen(v); n && (v[n - 1] == ' ' || v[n - 1] == '\t'); n--)
			v[n - 1] = '\0';
		size_t klen = (size_t)(k_end - p);
		if (klen == 20 && strncmp(p, "directories.tokendir", 20) == 0) {
			snprintf(dir, cap, "%s", v);
			found = 1;
		} else if (klen == 19 && strncmp(p, "objectstore.backend", 19) == 0) {
			db = strcmp(v, "db") == 0;
		}
	}
	fclose(f);
	return found && !db;
}

/* One token directory: what is wrong with its token.object, if anything. */
static void check_token(const char *tokdir, const char *who, const char *repair, char *out,
			size_t cap)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/token.object", tokdir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EACCES)
			append(out, cap, "; %s is not readable by %s", path, who);
		else if (errno == ENOENT)
			append(out, cap, "; %s is missing%s", path, repair);
		return;
	}
	struct stat st;
	unsigned char *buf = NULL;
	ssize_t n = -1;
	if (fstat(fd, &st) == 0 && st.st_size >= 0 && (uint64_t)st.st_size <= TOKFILE_MAX &&
	    (buf = malloc((size_t)st.st_size + 1)) != NULL)
		n = pread(fd, buf, (size_t)st.st_size, 0);
	close(fd);
	if (n == 0)
		append(out, cap, "; %s is empty (a process killed during C_Login)%s", path, repair);
	else if (n > 0 && !cmk_softhsm_token_file_ok(buf, (size_t)n))
		append(out, cap, "; %s is cut short or garbled (a process killed during C_Login)%s",
		       path, repair);
	free(buf);
}

void p11_softhsm_diag(const char *module, char *out, size_t cap)
{
	char dir[1024], conf[1024], who[300], repair[1400];
	out[0] = '\0';
	if (!module || !strstr(module, "softhsm"))
		return;
	int where = tokendir_of(dir, sizeof dir, conf, sizeof conf);
	user_desc(who, sizeof who);
	if (where < 0)
		append(out, cap, "; the SoftHSM configuration %s is not readable by %s", conf, who);
	if (where <= 0)
		return;
	/* a cmk lab (DIR/tokens) keeps a copy of its token file */
	repair[0] = '\0';
	char parent[1024];
	snprintf(parent, sizeof parent, "%s", dir);
	size_t pl = strlen(parent);
	while (pl > 1 && parent[pl - 1] == '/')
		parent[--pl] = '\0';
	char *slash = strrchr(parent, '/');
	if (slash && strcmp(slash, "/tokens") == 0) {
		*slash = '\0';
		char saved[1100];
		snprintf(saved, sizeof saved, "%s/token.object.saved", parent);
		if (access(saved, F_OK) == 0)
			snprintf(repair, sizeof repair,
				 "; restore it from %s: run `cmk lab repair %s`", saved, parent);
	}
	if (!repair[0])
		snprintf(repair, sizeof repair,
			 "; restore it from a copy of that file (SoftHSM keeps none)");
	DIR *d = opendir(dir);
	if (!d) {
		int e = errno;
		size_t used = strlen(out);
		if (e == EACCES)
			snprintf(out + used, cap - used,
				 "; token directory %s (directories.tokendir in %s) is not "
				 "readable by %s",
				 dir, conf, who);
		else
			snprintf(out + used, cap - used,
				 "; token directory %s (directories.tokendir in %s): %s", dir, conf,
				 strerror(e));
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char tokdir[2200];
		struct stat st;
		snprintf(tokdir, sizeof tokdir, "%s/%s", dir, e->d_name);
		if (stat(tokdir, &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		if (access(tokdir, R_OK | X_OK) != 0 && errno == EACCES) {
			append(out, cap, "; token directory %s is not readable by %s", tokdir, who);
			continue;
		}
		check_token(tokdir, who, repair, out, cap);
	}
	closedir(d);
}
