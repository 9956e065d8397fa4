/*
 * io.c - input and output of the `cmk` command.
 *
 * Input is read whole before anything is done; output is written only
 * after the operation succeeded, and a file appears only when complete
 * (an unnamed O_TMPFILE linked into place), so neither an error nor a
 * kill leaves partial output or a stray copy of a secret.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cli/cli.h"

static int is_std(const char *path)
{
	return path == NULL || strcmp(path, "-") == 0;
}

static void *buf_alloc(size_t len, int secret)
{
	return secret ? cmk_secure_alloc(len) : malloc(len);
}

void cli_buf_free(struct cli_buf *b)
{
	if (b->p != NULL) {
		if (b->secret) {
			cmk_secure_free(b->p, b->cap);
		} else {
			cmk_wipe(b->p, b->cap);
			free(b->p);
		}
	}
	b->p = NULL;
	b->len = b->cap = 0;
}

/* Grow to at least `need` bytes, copying what is held. */
static int buf_grow(struct cli_buf *b, size_t need)
{
	struct cli_buf n = { NULL, b->len, b->cap ? b->cap : 1024, b->secret };

	while (n.cap < need)
		n.cap *= 2;
	if (n.cap == b->cap)
		return 0;
	if ((n.p = buf_alloc(n.cap, b->secret)) == NULL)
		return -1;
	if (b->len)
		memcpy(n.p, b->p, b->len);
	cli_buf_free(b);
	*b = n;
	return 0;
}

int cli_read(const char *path, const char *what, size_t max, int secret, struct cli_buf *out)
{
	const char *name = is_std(path) ? "standard input" : path;
	int fd, err = 0;
	size_t want;
	ssize_t r;

	memset(out, 0, sizeof(*out));
	out->secret = secret;
	if (is_std(path)) {
		fd = STDIN_FILENO;
	} else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		return cli_fail(CMK_E_IO, "cannot open %s %s: %s", what, path, strerror(errno));
	}
	for (;;) {
		if (out->len == out->cap && buf_grow(out, out->cap ? out->cap * 2 : 1024) != 0) {
			err = ENOMEM;
			break;
		}
		want = out->cap - out->len;
		if (want > max + 1 - out->len)
			want = max + 1 - out->len;
		r = read(fd, out->p + out->len, want);
		if (r == 0)
			break;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			break;
		}
		out->len += (size_t)r;
		if (out->len > max)
			break;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	if (err == ENOMEM) {
		cli_buf_free(out);
		return cli_fail(CMK_E_NOMEM, "out of memory reading %s %s", what, name);
	}
	if (err != 0) {
		cli_buf_free(out);
		return cli_fail(CMK_E_IO, "cannot read %s %s: %s", what, name, strerror(err));
	}
	if (out->len > max) {
		cli_buf_free(out);
		return cli_fail(CMK_E_TOO_LARGE,
				"%s %s is larger than %zu "
				"bytes",
				what, name, max);
	}
	return CMK_OK;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t w;

	while (len > 0) {
		w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* ------------------------------------------------------------ outputs */

static int out_fail(struct cli_out *o, int e, const char *how)
{
	return cli_fail(CMK_E_IO, "cannot write %s %s: %s", o->what, o->path,
			how != NULL ? how : strerror(e));
}

static void out_free(struct cli_out *o)
{
	if (o->dirfd >= 0)
		close(o->dirfd);
	free(o->dir);
	free(o->base);
	free(o->tmp);
	o->dirfd = -1;
	o->dir = o->base = o->tmp = NULL;
}

/* o->dir and o->base of the regular file `target`. */
static int out_split(struct cli_out *o, const char *target)
{
	const char *slash = strrchr(target, '/');

	if (slash == NULL) {
		o->dir = strdup(".");
		o->base = strdup(target);
	} else {
		o->dir = slash == target ? strdup("/") : strndup(target, (size_t)(slash - target));
		o->base = strdup(slash + 1);
	}
	if (o->dir == NULL || o->base == NULL)
		return cli_fail(CMK_E_NOMEM, "out of memory");
	if (*o->base == '\0' || strcmp(o->base, ".") == 0 || strcmp(o->base, "..") == 0)
		return out_fail(o, EISDIR, NULL);
	return CMK_OK;
}

/* A fresh temporary name next to the target: BASE.cmk-XXXXXXXX. */
static char *tmp_name(const char *base)
{
	unsigned char r[4];
	size_t n = strlen(base) + sizeof(".cmk-12345678");
	char *t = malloc(n);

	if (t == NULL)
		return NULL;
	if (RAND_bytes(r, sizeof(r)) != 1)
		memset(r, 0, sizeof(r));
	snprintf(t, n, "%s.cmk-%02x%02x%02x%02x", base, r[0], r[1], r[2], r[3]);
	return t;
}

int cli_out_begin(struct cli_out *o, const char *path, const char *what, int secret)
{
	struct stat st, tst;
	char *target = NULL;
	mode_t mode = secret ? 0600 : 0666;
	int rc, e, i;

	memset(o, 0, sizeof(*o));
	o->what = what;
	o->dirfd = -1;
	o->fd = -1;
	if (is_std(path)) {
		o->fd = STDOUT_FILENO;
		o->direct = 1;
		return CMK_OK;
	}
	o->path = path;
	/* a descriptor by name (/dev/stdout, /dev/fd/N, /proc/self/fd/N):
	 * that descriptor, even when a regular file is behind it */
	if (strcmp(path, "/dev/stdout") == 0 || strcmp(path, "/dev/stderr") == 0 ||
	    strncmp(path, "/dev/fd/", 8) == 0 || strncmp(path, "/proc/self/fd/", 14) == 0) {
		const char *n =
			path[5] == 's' ? (path[8] == 'o' ? "1" : "2") : strrchr(path, '/') + 1;
		char *end;
		long fd;

		errno = 0;
		fd = strtol(n, &end, 10);

		if (*n == '\0' || *end != '\0' || fd < 0 || fd > 65535 ||
		    (o->fd = fcntl((int)fd, F_DUPFD_CLOEXEC, 3)) < 0)
			return out_fail(o, errno ? errno : EBADF, NULL);
		o->direct = 1;
		return CMK_OK;
	}
	if (strncmp(path, "/dev/", 5) == 0 || strncmp(path, "/proc/", 6) == 0) {
		/* never replace a file under /dev or /proc */
		o->direct = 1;
		o->fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
		if (o->fd < 0)
			return out_fail(o, errno, NULL);
		return CMK_OK;
	}
	if (lstat(path, &st) != 0) {
		if (errno != ENOENT)
			return out_fail(o, errno, NULL);
		st.st_mode = S_IFREG; /* a new file */
	} else if (S_ISLNK(st.st_mode)) {
		if (stat(path, &tst) != 0) {
			e = errno;
			return cli_fail(CMK_E_IO,
					"cannot write %s %s: it is a "
					"symbolic link to a file that %s; give "
					"the file's own path to create it",
					what, path, e == ENOENT ? "does not exist" : strerror(e));
		}
		st = tst;
		if (S_ISREG(st.st_mode) && (target = realpath(path, NULL)) == NULL)
			return out_fail(o, errno, NULL);
	}
	if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
		/* written as such: /dev/null stays /dev/null, a FIFO's
		 * reader gets the data */
		o->direct = 1;
		o->fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
		if (o->fd < 0)
			return out_fail(o, errno, NULL);
		return CMK_OK;
	}
	if (S_ISDIR(st.st_mode))
		return out_fail(o, 0, "it is a directory");
	if (!S_ISREG(st.st_mode))
		return out_fail(o, 0,
				"it is neither a regular file, a "
				"device nor a FIFO");
	rc = out_split(o, target != NULL ? target : path);
	free(target);
	if (rc != CMK_OK) {
		out_free(o);
		return rc;
	}
	if ((o->dirfd = open(o->dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		e = errno;
		out_free(o);
		return out_fail(o, e, NULL);
	}
#ifdef O_TMPFILE
	o->fd = openat(o->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
	if (o->fd >= 0) {
		o->anon = 1;
		return CMK_OK;
	}
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL && errno != ENOENT) {
		e = errno;
		out_free(o);
		return out_fail(o, e, NULL);
	}
#endif
	/* No O_TMPFILE here: a named temporary file, removed on error (a
	 * SIGKILL can leave it: cmk(1) says so). */
	for (i = 0; i < 16; i++) {
		free(o->tmp);
		if ((o->tmp = tmp_name(o->base)) == NULL) {
			out_free(o);
			return cli_fail(CMK_E_NOMEM, "out of memory");
		}
		o->fd = openat(o->dirfd, o->tmp,
			       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (o->fd >= 0 || errno != EEXIST)
			break;
	}
	if (o->fd < 0) {
		e = errno;
		out_free(o);
		return out_fail(o, e, NULL);
	}
	return CMK_OK;
}

int cli_out_write(struct cli_out *o, const uint8_t *p, size_t len)
{
	if (len && write_all(o->fd, p, len) != 0)
		return cli_fail(CMK_E_IO, "cannot write %s %s: %s", o->what,
				o->path ? o->path : "to standard output", strerror(errno));
	o->written += len;
	return CMK_OK;
}

/* Give the unnamed file the name `name` in the target's directory. */
static int link_anon(struct cli_out *o, const char *name)
{
	char proc[64];

	if (linkat(o->fd, "", o->dirfd, name, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno == EEXIST)
		return -1;
	/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc does not */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", o->fd);
	return linkat(AT_FDCWD, proc, o->dirfd, name, AT_SYMLINK_FOLLOW);
}

static int out_place(struct cli_out *o)
{
	int i, e;

	if (o->anon) {
		/* a new file: linked under its final name in one step */
		if (link_anon(o, o->base) == 0)
			return 0;
		if (errno != EEXIST)
			return -1;
		/* replacing a file: a name of our own, then rename over it
		 * (the only moment a kill could leave the temporary name) */
		for (i = 0; i < 16; i++) {
			free(o->tmp);
			if ((o->tmp = tmp_name(o->base)) == NULL) {
				errno = ENOMEM;
				return -1;
			}
			if (link_anon(o, o->tmp) == 0)
				break;
			if (errno != EEXIST)
				return -1;
		}
		if (i == 16)
			return -1;
	}
	if (renameat(o->dirfd, o->tmp, o->dirfd, o->base) != 0) {
		e = errno;
		unlinkat(o->dirfd, o->tmp, 0);
		errno = e;
		return -1;
	}
	return 0;
}

int cli_out_end(struct cli_out *o, int ok)
{
	int rc = CMK_OK, e;

	if (o->direct) {
		if (o->fd != STDOUT_FILENO && o->fd >= 0 && close(o->fd) != 0 && ok)
			rc = out_fail(o, errno, NULL);
		o->fd = -1;
		return rc;
	}
	if (o->fd < 0)
		return CMK_OK;
	if (ok && (fsync(o->fd) != 0 || out_place(o) != 0)) {
		e = errno;
		rc = out_fail(o, e, NULL);
		ok = 0;
	}
	if (ok) {
		int dfd = openat(o->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd >= 0) {
			(void)fsync(dfd);
			close(dfd);
		}
	} else if (!o->anon && o->tmp != NULL) {
		unlinkat(o->dirfd, o->tmp, 0);
	}
	close(o->fd);
	o->fd = -1;
	out_free(o);
	return rc;
}

int cli_write(const char *path, const char *what, const void *p, size_t len, int secret)
{
	struct cli_out o;
	int rc;

	if (is_std(path)) {
		if (fflush(stdout) != 0 || write_all(STDOUT_FILENO, p, len) != 0)
			return cli_fail(CMK_E_IO,
					"cannot write %s to standard "
					"output: %s",
					what, strerror(errno));
		return CMK_OK;
	}
	if ((rc = cli_out_begin(&o, path, what, secret)) != CMK_OK)
		return rc;
	rc = cli_out_write(&o, p, len);
	return cli_out_end(&o, rc == CMK_OK) != CMK_OK && rc == CMK_OK ? CMK_E_IO : rc;
}

int cli_base64_encode(const uint8_t *in, size_t len, char **out, size_t *outlen)
{
	size_t cap = 4 * ((len + 2) / 3) + 2;
	char *b;
	int n;

	if (len > 0x3fffffff)
		return cli_fail(CMK_E_TOO_LARGE, "output too large for base64");
	if ((b = malloc(cap)) == NULL)
		return cli_fail(CMK_E_NOMEM, "out of memory");
	n = EVP_EncodeBlock((unsigned char *)b, in, (int)len);
	b[n] = '\n';
	b[n + 1] = '\0';
	*out = b;
	*outlen = (size_t)n + 1;
	return CMK_OK;
}

static int is_b64(uint8_t ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       ch == '+' || ch == '/' || ch == '=';
}

int cli_base64_decode(const char *what, const uint8_t *in, size_t len, int secret,
		      struct cli_buf *out)
{
	EVP_ENCODE_CTX *ctx;
	size_t i, chars = 0;
	int n = 0, fin = 0, ok;

	memset(out, 0, sizeof(*out));
	out->secret = secret;
	for (i = 0; i < len; i++) {
		if (is_b64(in[i]))
			chars++;
		else if (in[i] != ' ' && in[i] != '\t' && in[i] != '\n' && in[i] != '\r')
			return cli_fail(CMK_E_FORMAT,
					"%s is not base64: "
					"unexpected byte 0x%02x at offset %zu",
					what, in[i], i);
	}
	if (chars == 0 || chars % 4 != 0)
		return cli_fail(CMK_E_FORMAT, "%s is not base64: %s", what,
				chars ? "its length is not a multiple of 4" : "it is empty");
	if (len > 0x3fffffff)
		return cli_fail(CMK_E_TOO_LARGE, "%s is too large", what);
	if (buf_grow(out, len + 80) != 0)
		return cli_fail(CMK_E_NOMEM, "out of memory");
	if ((ctx = EVP_ENCODE_CTX_new()) == NULL) {
		cli_buf_free(out);
		return cli_fail(CMK_E_NOMEM, "out of memory");
	}
	EVP_DecodeInit(ctx);
	ok = EVP_DecodeUpdate(ctx, out->p, &n, in, (int)len) >= 0 &&
	     EVP_DecodeFinal(ctx, out->p + n, &fin) == 1;
	EVP_ENCODE_CTX_free(ctx);
	if (!ok) {
		cli_buf_free(out);
		return cli_fail(CMK_E_FORMAT, "%s is not base64: bad padding", what);
	}
	out->len = (size_t)n + (size_t)fin;
	return CMK_OK;
}

int cli_json_print(struct json_object *o)
{
	const char *s;
	int rc = CMK_OK;

	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
						      JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s == NULL)
		rc = cli_fail(CMK_E_NOMEM, "out of memory");
	else if (printf("%s\n", s) < 0)
		rc = cli_fail(CMK_E_IO, "cannot write standard output");
	json_object_put(o);
	return rc;
}
