/*
 * io.c - input and output of the `cmk` command.
 *
 * Input is read whole before anything is done; output is written only
 * after the operation succeeded, and a file is replaced atomically
 * (temporary file + rename), so an error never leaves partial output.
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

#include "cli/cli.h"

static int
is_std(const char *path)
{
	return path == NULL || strcmp(path, "-") == 0;
}

static void *
buf_alloc(size_t len, int secret)
{
	return secret ? cmk_secure_alloc(len) : malloc(len);
}

void
cli_buf_free(struct cli_buf *b)
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
static int
buf_grow(struct cli_buf *b, size_t need)
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

int
cli_read(const char *path, const char *what, size_t max, int secret,
         struct cli_buf *out)
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
		return cli_fail(CMK_E_IO, "cannot open %s %s: %s", what, path,
		                strerror(errno));
	}
	for (;;) {
		if (out->len == out->cap &&
		    buf_grow(out, out->cap ? out->cap * 2 : 1024) != 0) {
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
		return cli_fail(CMK_E_NOMEM, "out of memory reading %s %s",
		                what, name);
	}
	if (err != 0) {
		cli_buf_free(out);
		return cli_fail(CMK_E_IO, "cannot read %s %s: %s", what, name,
		                strerror(err));
	}
	if (out->len > max) {
		cli_buf_free(out);
		return cli_fail(CMK_E_TOO_LARGE, "%s %s is larger than %zu "
		                "bytes", what, name, max);
	}
	return CMK_OK;
}

static int
write_all(int fd, const uint8_t *p, size_t len)
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

int
cli_write(const char *path, const char *what, const void *p, size_t len,
          int secret)
{
	char *tmp;
	size_t n;
	int fd, e;
	mode_t mask;

	if (is_std(path)) {
		if (fflush(stdout) != 0 || write_all(STDOUT_FILENO, p, len) != 0)
			return cli_fail(CMK_E_IO, "cannot write %s to standard "
			                "output: %s", what, strerror(errno));
		return CMK_OK;
	}
	n = strlen(path) + sizeof(".cmk-XXXXXX");
	if ((tmp = malloc(n)) == NULL)
		return cli_fail(CMK_E_NOMEM, "out of memory");
	snprintf(tmp, n, "%s.cmk-XXXXXX", path);
	if ((fd = mkstemp(tmp)) < 0) {
		e = errno;
		free(tmp);
		return cli_fail(CMK_E_IO, "cannot create %s %s: %s", what, path,
		                strerror(e));
	}
	if (!secret) {
		/* mkstemp makes 0600; ordinary output follows the umask. */
		mask = umask(0);
		umask(mask);
		(void)fchmod(fd, 0666 & ~mask);
	}
	if (write_all(fd, p, len) != 0 || fsync(fd) != 0) {
		e = errno;
		close(fd);
		unlink(tmp);
		free(tmp);
		return cli_fail(CMK_E_IO, "cannot write %s %s: %s", what, path,
		                strerror(e));
	}
	if (close(fd) != 0 || rename(tmp, path) != 0) {
		e = errno;
		unlink(tmp);
		free(tmp);
		return cli_fail(CMK_E_IO, "cannot write %s %s: %s", what, path,
		                strerror(e));
	}
	free(tmp);
	return CMK_OK;
}

int
cli_base64_encode(const uint8_t *in, size_t len, char **out, size_t *outlen)
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

static int
is_b64(uint8_t ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= '0' && ch <= '9') || ch == '+' || ch == '/' || ch == '=';
}

int
cli_base64_decode(const char *what, const uint8_t *in, size_t len,
                  int secret, struct cli_buf *out)
{
	EVP_ENCODE_CTX *ctx;
	size_t i, chars = 0;
	int n = 0, fin = 0, ok;

	memset(out, 0, sizeof(*out));
	out->secret = secret;
	for (i = 0; i < len; i++) {
		if (is_b64(in[i]))
			chars++;
		else if (in[i] != ' ' && in[i] != '\t' && in[i] != '\n' &&
		         in[i] != '\r')
			return cli_fail(CMK_E_FORMAT, "%s is not base64: "
			                "unexpected byte 0x%02x at offset %zu",
			                what, in[i], i);
	}
	if (chars == 0 || chars % 4 != 0)
		return cli_fail(CMK_E_FORMAT, "%s is not base64: %s", what,
		                chars ? "its length is not a multiple of 4"
		                      : "it is empty");
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
		return cli_fail(CMK_E_FORMAT, "%s is not base64: bad padding",
		                what);
	}
	out->len = (size_t)n + (size_t)fin;
	return CMK_OK;
}

int
cli_json_print(struct json_object *o)
{
	const char *s;
	int rc = CMK_OK;

	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
	                                   JSON_C_TO_STRING_SPACED |
	                                   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s == NULL)
		rc = cli_fail(CMK_E_NOMEM, "out of memory");
	else if (printf("%s\n", s) < 0)
		rc = cli_fail(CMK_E_IO, "cannot write standard output");
	json_object_put(o);
	return rc;
}
