/* pin.c - reading a PIN from its source: a file, the environment or the
 * terminal (no echo).  Never from the command line. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include "util/err.h"
#include "util/secmem.h"

/* The PIN is the first line; a trailing CR (a file from Windows) goes too. */
static void chomp(char *pin)
{
	pin[strcspn(pin, "\n")] = '\0';
	size_t n = strlen(pin);
	if (n && pin[n - 1] == '\r')
		pin[n - 1] = '\0';
}

static cmk_rc pin_from_fd(int fd, char *pin, const char *what, const char *src)
{
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, pin + n, SECMEM_PIN_CAP - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return cmk_err(CMK_E_PIN, "%s: cannot read PIN from %s: %s", what, src,
				       strerror(errno));
		if (r == 0 || memchr(pin + n, '\n', (size_t)r))
			break;
		n += (size_t)r;
		if (n >= SECMEM_PIN_CAP - 1)
			return cmk_err(CMK_E_PIN, "%s: PIN from %s is longer than %d bytes", what,
				       src, SECMEM_PIN_CAP - 1);
	}
	chomp(pin);
	return CMK_OK;
}

static cmk_rc pin_from_file(const char *path, char *pin, const char *what)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == EACCES) {
		/* a service's worker after it dropped privileges: say who */
		uid_t uid = geteuid();
		struct passwd pw, *res = NULL;
		char buf[1024];
		if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) != 0)
			res = NULL;
		return cmk_err(CMK_E_PIN, "%s: PIN file %s is not readable by user %s (uid %u): %s",
			       what, path, res ? res->pw_name : "?", (unsigned)uid,
			       strerror(EACCES));
	}
	if (fd < 0)
		return cmk_err(CMK_E_PIN, "%s: PIN file %s cannot be read: %s", what, path,
			       strerror(errno));
	char src[600];
	snprintf(src, sizeof src, "file %s", path);
	cmk_rc rc = pin_from_fd(fd, pin, what, src);
	close(fd);
	return rc;
}

static cmk_rc pin_from_prompt(char *pin, const char *what)
{
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return cmk_err(CMK_E_PIN, "%s: PIN source is 'prompt' but there is no terminal",
			       what);
	struct termios old, quiet;
	int have_tty = tcgetattr(fd, &old) == 0;
	if (have_tty) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	char prompt[200];
	int plen = snprintf(prompt, sizeof prompt, "PIN for %s: ", what);
	if (write(fd, prompt, (size_t)plen) < 0) { /* best effort */
	}
	cmk_rc rc = pin_from_fd(fd, pin, what, "the terminal");
	if (have_tty)
		tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0) { /* best effort */
	}
	close(fd);
	return rc;
}

/* cmk_set_thread_pin_cb(): this thread's supplier for "prompt" sources. */
static _Thread_local cmk_pin_cb *thread_pin_cb;
static _Thread_local void *thread_pin_arg;

void cmk_set_thread_pin_cb(cmk_pin_cb *cb, void *arg)
{
	thread_pin_cb = cb;
	thread_pin_arg = arg;
}

static cmk_rc pin_from_cb(char *pin, const char *what)
{
	if (!thread_pin_cb(pin, SECMEM_PIN_CAP, what, thread_pin_arg)) {
		cmk_wipe(pin, SECMEM_PIN_CAP);
		return cmk_err(CMK_E_PIN,
			       "%s: PIN source is 'prompt' and the application's "
			       "passphrase callback gave no PIN",
			       what);
	}
	pin[SECMEM_PIN_CAP - 1] = '\0';
	return CMK_OK;
}

cmk_rc cmk_pin_read(const char *source, const char *what, char **out, size_t *cap)
{
	return_if_fail(source && out && cap);
	if (!what)
		what = "token";
	char *pin = cmk_secure_alloc(SECMEM_PIN_CAP);
	if (!pin)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	cmk_rc rc;
	if (strncmp(source, "file:", 5) == 0) {
		rc = pin_from_file(source + 5, pin, what);
	} else if (strncmp(source, "env:", 4) == 0) {
		const char *v = getenv(source + 4);
		if (!v)
			rc = cmk_err(CMK_E_PIN, "%s: PIN variable %s is not set", what, source + 4);
		else if (strlen(v) >= SECMEM_PIN_CAP)
			rc = cmk_err(CMK_E_PIN, "%s: PIN in %s is too long", what, source + 4);
		else {
			strcpy(pin, v);
			rc = CMK_OK;
		}
	} else if (strcmp(source, "prompt") == 0) {
		rc = thread_pin_cb ? pin_from_cb(pin, what) : pin_from_prompt(pin, what);
	} else {
		rc = cmk_err(CMK_E_CONFIG,
			     "%s: pin_source '%s' is not file:PATH, env:VAR or prompt", what,
			     source);
	}
	if (rc == CMK_OK && !*pin)
		rc = cmk_err(CMK_E_PIN, "%s: the PIN from %s is empty", what, source);
	if (rc != CMK_OK) {
		cmk_secure_free(pin, SECMEM_PIN_CAP);
		return rc;
	}
	*out = pin;
	*cap = SECMEM_PIN_CAP;
	return CMK_OK;
}
