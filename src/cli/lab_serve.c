/*
 * lab_serve.c - `cmk lab serve` and `cmk lab stop`: the token of a lab
 * behind `p11-kit server`, so cmk can be tried (and tested) on a remote
 * token exactly as a service host would use one (docs/remote.md).
 *
 *   DIR/p11-kit.sock        the server's socket (mode 0711 in the 0700 lab)
 *   DIR/p11-kit.pid         the server's pid (it leads its process group:
 *                           the server and one p11-kit-remote per client)
 *   DIR/p11-kit-server.log  the server's messages
 *   DIR/remote.conf         cmk.conf with the remote vault (and, by
 *                           .include, the lab's own vaults)
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

enum { OPT_VAULT = 256 };

struct lab_srv {
	char dir[PATH_MAX];
	char sock[PATH_MAX + 32];
	char pidf[PATH_MAX + 32];
	char log[PATH_MAX + 32];
	char conf[PATH_MAX + 32];
	char local_conf[PATH_MAX + 32];
};

static int srv_paths(struct cli *c, struct lab_srv *s, const char *dir)
{
	struct stat st;
	char hsm[PATH_MAX + 32];

	memset(s, 0, sizeof(*s));
	if (realpath(dir, s->dir) == NULL)
		return cli_fail(CMK_E_NOT_FOUND, "lab directory %s: %s", dir, strerror(errno));
	snprintf(s->sock, sizeof(s->sock), "%s/p11-kit.sock", s->dir);
	snprintf(s->pidf, sizeof(s->pidf), "%s/p11-kit.pid", s->dir);
	snprintf(s->log, sizeof(s->log), "%s/p11-kit-server.log", s->dir);
	snprintf(s->conf, sizeof(s->conf), "%s/remote.conf", s->dir);
	snprintf(s->local_conf, sizeof(s->local_conf), "%s/cmk.conf", s->dir);
	snprintf(hsm, sizeof(hsm), "%s/softhsm2.conf", s->dir);
	if (stat(s->local_conf, &st) != 0 || stat(hsm, &st) != 0)
		return cli_fail(CMK_E_NOT_FOUND,
				"%s is not a cmk lab: %s or "
				"softhsm2.conf is missing (make one with cmk lab "
				"init)",
				s->dir, s->local_conf);
	if (strlen(s->sock) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return cli_usage_fail(c,
				      "the socket path %s is longer than a "
				      "unix socket allows (%zu bytes): use a "
				      "shorter lab directory",
				      s->sock, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	return CMK_OK;
}

/* A process that exists and is not a zombie (the daemon's parent is init,
 * which may reap it late). */
static int proc_alive(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return 0;
	return p[2] != 'Z' && p[2] != 'X';
}

/* The pid in DIR/p11-kit.pid if that process is still the lab's server. */
static pid_t srv_running(const struct lab_srv *s)
{
	char buf[32], cmd[4096], path[64];
	ssize_t n;
	long pid;
	int fd;

	if ((fd = open(s->pidf, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, NULL, 10);
	if (pid <= 1 || !proc_alive((pid_t)pid))
		return 0;
	/* a reused pid is not ours: the server's command line names the socket */
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, cmd, sizeof(cmd) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	cmd[n] = '\0';
	for (ssize_t i = 0; i < n; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
	return strstr(cmd, s->sock) != NULL ? (pid_t)pid : 0;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Wait until the socket accepts connections (the daemon listens a moment
 * after it prints its pid). */
static int srv_wait_listening(const struct lab_srv *s, pid_t pid)
{
	struct sockaddr_un sa;
	int i, fd, ok;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, s->sock);
	for (i = 0; i < 250; i++) {
		if (!proc_alive(pid))
			return 0;
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return 0;
		ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(fd); /* the server's child for this connection just exits */
		if (ok)
			return 1;
		sleep_ms(20);
	}
	return 0;
}

/* Run `p11-kit server` (it daemonizes, prints its pid and exits). */
static int srv_start(const struct lab_srv *s, const char *label, pid_t *out)
{
	char tokuri[96], hsm[PATH_MAX + 32], line[256];
	char *argv[] = {
		(char *)CMK_P11KIT_BIN,
		(char *)"server",
		(char *)"--provider",
		(char *)CMK_SOFTHSM_MODULE,
		(char *)"-n",
		(char *)s->sock,
		(char *)"--sh",
		tokuri,
		NULL,
	};
	int p[2], logfd, status;
	pid_t child, pid = 0;
	FILE *f;

	snprintf(tokuri, sizeof(tokuri), "pkcs11:token=%s", label);
	snprintf(hsm, sizeof(hsm), "%s/softhsm2.conf", s->dir);
	if ((logfd = open(s->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0)
		return cli_fail(CMK_E_IO, "cannot open %s: %s", s->log, strerror(errno));
	if (pipe2(p, O_CLOEXEC) != 0) {
		close(logfd);
		return cli_fail(CMK_E_IO, "cannot make a pipe: %s", strerror(errno));
	}
	fflush(NULL);
	if ((child = fork()) < 0) {
		close(logfd);
		close(p[0]);
		close(p[1]);
		return cli_fail(CMK_E_INTERNAL, "cannot fork: %s", strerror(errno));
	}
	if (child == 0) {
		int null = open("/dev/null", O_RDONLY);

		/* the server's messages go to its log, never to our
		 * caller's terminal or pipes, which it would hold open */
		if (null < 0 || dup2(null, 0) < 0 || dup2(p[1], 1) < 0 || dup2(logfd, 2) < 0 ||
		    setenv("SOFTHSM2_CONF", hsm, 1) != 0)
			_exit(127);
		unsetenv("P11_KIT_SERVER_ADDRESS");
		unsetenv("P11_KIT_SERVER_PID");
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	close(logfd);
	if ((f = fdopen(p[0], "r")) == NULL) {
		close(p[0]);
		waitpid(child, NULL, 0);
		return cli_fail(CMK_E_INTERNAL, "cannot read from p11-kit");
	}
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "P11_KIT_SERVER_PID=", 19) == 0)
			pid = (pid_t)strtol(line + 19, NULL, 10);
	fclose(f);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || pid <= 1)
		return cli_fail(CMK_E_TOKEN,
				"%s server did not start (exit %d); "
				"see %s",
				CMK_P11KIT_BIN, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
				s->log);
	if (!srv_wait_listening(s, pid)) {
		kill(-pid, SIGKILL);
		return cli_fail(CMK_E_TOKEN,
				"p11-kit server (pid %ld) does not "
				"accept connections on %s; see %s",
				(long)pid, s->sock, s->log);
	}
	*out = pid;
	return CMK_OK;
}

/* Write `text` to `path` through a temporary file and rename(2). */
static int write_atomic(const char *path, const char *text, mode_t mode)
{
	char tmp[PATH_MAX + 48];
	size_t len = strlen(text);
	ssize_t w;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)) < 0)
		return cli_fail(CMK_E_IO, "cannot create %s: %s", tmp, strerror(errno));
	while (len > 0) {
		w = write(fd, text, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		text += w;
		len -= (size_t)w;
	}
	if (len > 0 || close(fd) != 0 || rename(tmp, path) != 0) {
		int e = errno;

		if (len > 0)
			close(fd);
		unlink(tmp);
		return cli_fail(CMK_E_IO, "cannot write %s: %s", path, strerror(e));
	}
	return CMK_OK;
}

/* remote.conf: the remote vault `name`, plus the lab's own vaults unless
 * one of them has that name.  The remote vault is the lab's token, so it
 * shares the local vault's lock file and audit log. */
static int write_remote_conf(const struct lab_srv *s, const char *name, const cmk_vault_info *local)
{
	char text[6 * PATH_MAX], sect[96];
	size_t i;
	int same = strcmp(name, local->name) == 0;

	snprintf(sect, sizeof(sect), "vault_%s", name);
	for (i = 0; sect[i]; i++)
		if (sect[i] == '-')
			sect[i] = '_';
	snprintf(text, sizeof(text),
		 "# cmk lab: vault %s through p11-kit server, made by cmk lab "
		 "serve; see docs/remote.md\n"
		 "%s%s%s"
		 "[cmk]\n"
		 "default_vault = %s\n"
		 "%s"
		 "\n"
		 "[vaults]\n"
		 "%s = %s\n"
		 "\n"
		 "[%s]\n"
		 "module = %s\n"
		 "server = unix:path=%s\n"
		 "token = %s\n"
		 "pin_source = file:%s/pin\n"
		 "lock_file = %s/%s.lock\n"
		 "audit_log = %s/%s.audit.log\n",
		 name, same ? "" : ".include ", same ? "" : s->local_conf, same ? "" : "\n", name,
		 same ? "identity = admin\n" : "", name, sect, sect, CMK_P11KIT_CLIENT, s->sock,
		 local->token_label, s->dir, s->dir, local->name, s->dir, local->name);
	return write_atomic(s->conf, text, 0644);
}

static int name_ok(struct cli *c, const char *s)
{
	const char *p;

	if (*s == '\0' || strlen(s) > 63)
		return cli_usage_fail(c, "--vault '%s' must be 1-63 characters", s);
	for (p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-'))
			return cli_usage_fail(c,
					      "--vault '%s' may hold only "
					      "letters, digits and -",
					      s);
	return CMK_OK;
}

int cli_lab_serve(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vault", required_argument, NULL, OPT_VAULT },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	const char *name = "remote";
	struct lab_srv s;
	cmk_vault_info info;
	cmk_ctx *ctx = NULL;
	pid_t pid;
	int o, rc;

	while ((o = cli_next_opt(c, argc, argv, opts)) != -1) {
		if (o == CLI_OPT_STOP)
			return c->rc;
		if (o == OPT_VAULT)
			name = optarg;
	}
	if ((rc = cli_operands(c, argc, argv, 1, 1, "lab DIR")) != CMK_OK ||
	    (rc = name_ok(c, name)) != CMK_OK || (rc = srv_paths(c, &s, argv[optind])) != CMK_OK)
		return rc;
	if ((pid = srv_running(&s)) != 0)
		return cli_fail(CMK_E_EXISTS,
				"a p11-kit server already serves "
				"lab %s (pid %ld, unix:path=%s); stop it with "
				"cmk lab stop %s",
				s.dir, (long)pid, s.sock, s.dir);
	/* the lab's own vault names the token to serve */
	if ((rc = cmk_open(&ctx, s.local_conf, NULL, c->identity)) != CMK_OK ||
	    (rc = cmk_vault_info_get(ctx, &info)) != CMK_OK) {
		rc = cli_lib_fail(rc);
		cmk_close(ctx);
		return rc;
	}
	cmk_close(ctx);
	if ((rc = srv_start(&s, info.token_label, &pid)) != CMK_OK)
		return rc;
	char num[32];
	snprintf(num, sizeof(num), "%ld\n", (long)pid);
	if ((rc = write_atomic(s.pidf, num, 0600)) != CMK_OK ||
	    (rc = write_remote_conf(&s, name, &info)) != CMK_OK) {
		kill(-pid, SIGTERM);
		unlink(s.pidf);
		return rc;
	}
	printf("# p11-kit server for token %s of lab %s: pid %ld, address "
	       "unix:path=%s\n"
	       "# vault %s in %s goes through it; stop it with: cmk lab stop "
	       "%s\n"
	       "export CMK_CONF=%s\n",
	       info.token_label, s.dir, (long)pid, s.sock, name, s.conf, s.dir, s.conf);
	return CMK_OK;
}

int cli_lab_stop(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { CLI_OPT_HELP, CLI_OPT_END };
	struct lab_srv s;
	pid_t pid;
	int o, rc, i;

	while ((o = cli_next_opt(c, argc, argv, opts)) != -1)
		if (o == CLI_OPT_STOP)
			return c->rc;
	if ((rc = cli_operands(c, argc, argv, 1, 1, "lab DIR")) != CMK_OK ||
	    (rc = srv_paths(c, &s, argv[optind])) != CMK_OK)
		return rc;
	if ((pid = srv_running(&s)) == 0) {
		unlink(s.pidf);
		unlink(s.sock);
		return cli_fail(CMK_E_NOT_FOUND, "no p11-kit server serves lab %s", s.dir);
	}
	/* the server and the p11-kit-remote of every open connection */
	kill(-pid, SIGTERM);
	for (i = 0; i < 250 && proc_alive(pid); i++)
		sleep_ms(20);
	if (proc_alive(pid)) {
		kill(-pid, SIGKILL);
		for (i = 0; i < 100 && proc_alive(pid); i++)
			sleep_ms(20);
	}
	unlink(s.pidf);
	unlink(s.sock);
	printf("# stopped the p11-kit server of lab %s (pid %ld, unix:path=%s)\n", s.dir, (long)pid,
	       s.sock);
	return CMK_OK;
}
