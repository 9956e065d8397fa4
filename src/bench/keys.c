/* keys.c - the run's key, and what the run leaves on the vault: nothing.
 *
 * Everything a run makes is named after its tag, bench-HOST-PID-RAND (HOST
 * the first 8 hex digits of SHA-256 of the host name, PID the process,
 * RAND random): the temporary key bench-..., the keys of key-create and
 * key-rotate bench-...-c... and -r..., the resource's service key
 * svc-bench-..., the token key pairs of p11-keygen bench-...-keygen.  The
 * run removes them at its end, also when interrupted (bench_opts.stop);
 * what a killed run left is removed by the next run on the same host once
 * the process named in the tag is gone.
 *
 * Removing a key for good needs the purge permission, which `vault init`
 * does not give the admin.  So the run makes its keys as an identity of its
 * own: the admin grants the identity named after the tag all permissions
 * and purge for the run, the run makes and purges its keys as that
 * identity, and the policy is removed at the end (the audit log shows the
 * run's operations under that identity).  An identity that may purge
 * itself makes the keys itself and grants nothing.  Neither possible
 * (another identity, or a vault with purge protection): the run needs
 * --key and skips what would make keys, saying why. */
#include "config.h"
#include <errno.h>
#include <ftw.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "bench/bench_int.h"

cmk_rc bench_check_dek(bench_env *e, const uint8_t *got, size_t len, const char *what)
{
	if (len != sizeof e->dek || CRYPTO_memcmp(got, e->dek, len) != 0)
		return bench_err(CMK_E_INTERNAL, "%s gave back a different key (%zu bytes)", what,
				 len);
	return CMK_OK;
}

cmk_rc bench_key_create(bench_env *e, const char *name, unsigned bits,
			char version[CMK_VERSION_LEN + 1])
{
	cmk_key_params p = { .bits = bits };
	cmk_rc rc;
	for (int i = 0; i < 10; i++)
		if ((rc = cmk_key_create(e->mk, name, &p, version)) != CMK_E_CONFLICT)
			break;
	return bench_lib(rc);
}

/* ------------------------------------------------------------ the tag */

static void host_hash(char out[9])
{
	char host[256] = "";
	uint8_t md[32];
	unsigned len = 0;
	gethostname(host, sizeof host - 1);
	if (!EVP_Digest(host, strlen(host), md, &len, EVP_sha256(), NULL))
		memset(md, 0, sizeof md);
	snprintf(out, 9, "%02x%02x%02x%02x", md[0], md[1], md[2], md[3]);
}

void bench_make_tag(bench_env *e)
{
	char host[9];
	uint8_t r[4] = { 0 };
	host_hash(host);
	RAND_bytes(r, sizeof r);
	snprintf(e->tag, sizeof e->tag, "bench-%s-%ld-%02x%02x%02x%02x", host, (long)getpid(), r[0],
		 r[1], r[2], r[3]);
}

/* The run's liveness mark, TMPDIR/cmk-TAG.alive, locked (flock) for as long
 * as the run lives: the kernel releases a dead process's locks, so a run
 * that is gone is told from a live one whatever became of its PID (a busy
 * host reuses PIDs within seconds).  Made under a temporary name and
 * renamed, so that it is never seen unlocked while the run lives. */
static void alive_path(const char *tag, char *out, size_t cap)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(out, cap, "%s/cmk-%s.alive", tmp && *tmp ? tmp : "/tmp", tag);
}

void bench_mark_alive(bench_env *e)
{
	char path[4096], tmp[4200];
	alive_path(e->tag, path, sizeof path);
	snprintf(tmp, sizeof tmp, "%s.new", path);
	e->alive_fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (e->alive_fd < 0)
		return; /* then the PID tells (bench_tag_dead) */
	if (flock(e->alive_fd, LOCK_EX) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		close(e->alive_fd);
		e->alive_fd = -1;
	}
}

/* The vault the run works on goes into its mark: a killed run's mark is
 * removed only by a run on the same vault, once it has removed what the
 * killed run made there.  Written once, while the mark is locked. */
void bench_mark_vault(bench_env *e, const cmk_vault_info *vi)
{
	snprintf(e->vault_id, sizeof e->vault_id, "%s\n%s\n", vi->name, vi->audit_log);
	if (e->alive_fd >= 0 && pwrite(e->alive_fd, e->vault_id, strlen(e->vault_id), 0) !=
					(ssize_t)strlen(e->vault_id))
		bench_mark_done(e); /* then the PID tells */
}

void bench_mark_done(bench_env *e)
{
	char path[4096];
	if (e->alive_fd < 0)
		return;
	alive_path(e->tag, path, sizeof path);
	unlink(path);
	close(e->alive_fd);
	e->alive_fd = -1;
}

/* 1 dead, 0 alive, -1 no mark (a run killed before it made one, or of an
 * older cmk) */
static int mark_dead(const char *tag)
{
	char path[4096];
	alive_path(tag, path, sizeof path);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int dead = flock(fd, LOCK_EX | LOCK_NB) == 0;
	close(fd);
	return dead;
}

int bench_tag_dead(const char *name)
{
	char host[9], mine[9], rnd[9], tag[64];
	long pid;
	int end = 0;
	if (!strncmp(name, "svc-", 4))
		name += 4;
	if (sscanf(name, "bench-%8[0-9a-f]-%ld-%8[0-9a-f]%n", host, &pid, rnd, &end) != 3 ||
	    (name[end] != '\0' && name[end] != '-') || strlen(host) != 8 || strlen(rnd) != 8)
		return 0;
	host_hash(mine);
	if (strcmp(host, mine) != 0 || pid <= 0)
		return 0;
	snprintf(tag, sizeof tag, "bench-%s-%ld-%s", host, pid, rnd);
	int dead = mark_dead(tag);
	if (dead >= 0)
		return dead;
	return pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Whether the file at path holds exactly want (a mark's vault, or a
 * resource directory's, BENCH_VAULT_FILE). */
static int holds(const char *path, const char *want)
{
	char got[700] = "";
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(got, 1, sizeof got - 1, f);
	fclose(f);
	got[n] = '\0';
	return strcmp(got, want) == 0;
}

/* The marks of runs on this vault that are gone, once what they made is
 * removed; and marks that name no vault (runs killed before they knew it,
 * or runs on a bare token: they made nothing that outlives them).  Another
 * vault's dead run keeps its mark until a run on that vault removes what
 * it left (until then the mark tells that it is dead, whatever process
 * has its PID by then). */
static void remove_dead_marks(const bench_env *e)
{
	const char *tmp = getenv("TMPDIR");
	char pat[4096];
	glob_t g;
	snprintf(pat, sizeof pat, "%s/cmk-bench-*.alive", tmp && *tmp ? tmp : "/tmp");
	if (glob(pat, GLOB_NOSORT, NULL, &g) != 0)
		return;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *base = strrchr(g.gl_pathv[i], '/');
		char tag[128];
		snprintf(tag, sizeof tag, "%s", base ? base + 5 : g.gl_pathv[i]);
		char *dot = strrchr(tag, '.');
		if (dot)
			*dot = '\0';
		if (mark_dead(tag) == 1 &&
		    (holds(g.gl_pathv[i], "") || holds(g.gl_pathv[i], e->vault_id)))
			unlink(g.gl_pathv[i]);
	}
	globfree(&g);
}

/* ------------------------------------------------------------ leftovers */

void bench_left_over(bench_env *e, const char *name)
{
	size_t used = strlen(e->rep->leftover);
	if (strstr(e->rep->leftover, name))
		return;
	snprintf(e->rep->leftover + used, sizeof e->rep->leftover - used, "%s%s", used ? ", " : "",
		 name);
}

/* Remove keys whose name starts with prefix, or (prefix NULL) keys of runs
 * that are gone. */
static void purge_keys(bench_env *e, const char *prefix)
{
	size_t plen = prefix ? strlen(prefix) : 0;
	for (int deleted = 0; deleted < 2; deleted++) {
		cmk_key_info *keys = NULL;
		size_t n = 0;
		if (cmk_key_list(e->mk, deleted, &keys, &n) != CMK_OK) {
			bench_left_over(e, deleted ? "(cannot list deleted keys)"
						   : "(cannot list keys)");
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			const char *k = keys[i].name;
			if (prefix ? strncmp(k, prefix, plen) != 0 : !bench_tag_dead(k))
				continue;
			if ((deleted ? cmk_key_purge(e->mk, k) : cmk_key_delete(e->mk, k)) !=
			    CMK_OK)
				bench_left_over(e, k);
		}
		cmk_free(keys);
	}
}

void bench_purge_prefix(bench_env *e, const char *prefix)
{
	if (e->mk)
		purge_keys(e, prefix);
}

/* Resource directories of runs that are gone: TMPDIR/cmk-TAG-XXXXXX
 * (op_resource.c). */
static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	return remove(path);
}

/* Whether dir was made by a run on this run's vault (BENCH_VAULT_FILE). */
static int same_vault(const bench_env *e, const char *dir)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", dir, BENCH_VAULT_FILE);
	return holds(path, e->vault_id);
}

/* 1 when a dead run's resource could not be removed */
static int remove_dead_dirs(bench_env *e)
{
	int left = 0;
	const char *tmp = getenv("TMPDIR");
	char pat[4096];
	glob_t g;
	snprintf(pat, sizeof pat, "%s/cmk-bench-*", tmp && *tmp ? tmp : "/tmp");
	if (!e->mk || glob(pat, GLOB_NOSORT | GLOB_ONLYDIR, NULL, &g) != 0)
		return 0; /* a run that cannot purge leaves them to one that can */
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *base = strrchr(g.gl_pathv[i], '/');
		char tag[128];
		struct stat st;
		if (stat(g.gl_pathv[i], &st) != 0 || !S_ISDIR(st.st_mode))
			continue; /* a run's .alive mark */
		snprintf(tag, sizeof tag, "%s", base ? base + 5 : g.gl_pathv[i]);
		char *x = strrchr(tag, '-'); /* the mkdtemp suffix */
		if (x)
			*x = '\0';
		if (!same_vault(e, g.gl_pathv[i]) || !bench_tag_dead(tag))
			continue; /* another vault's run, or a live one */
		/* its resource first: the service key goes only through it; the
		 * directory stays when that fails, for the next run to try again */
		if (bench_resource_purge_dir(e->mk, g.gl_pathv[i], tag) != CMK_OK) {
			fprintf(stderr,
				"cmk: bench: warning: could not remove resource %s that a "
				"killed run left in %s: %s\n",
				tag, g.gl_pathv[i], cmk_last_error());
			left = 1;
			continue;
		}
		nftw(g.gl_pathv[i], rm_one, 16, FTW_DEPTH | FTW_PHYS);
	}
	globfree(&g);
	return left;
}

/* Policies of runs that are gone (the admin's to remove). */
static void remove_dead_policies(bench_env *e)
{
	cmk_policy *p = NULL;
	size_t n = 0;
	if (cmk_policy_list(e->user, &p, &n) != CMK_OK)
		return;
	for (size_t i = 0; i < n; i++)
		if (bench_tag_dead(p[i].identity))
			cmk_policy_remove(e->user, p[i].identity);
	cmk_free(p);
}

/* ------------------------------------------------------------ the maker */

static void cannot(bench_env *e, const char *fmt, const char *a, const char *b)
{
	snprintf(e->cannot_make_keys, sizeof e->cannot_make_keys, fmt, a, b);
	e->mk = NULL;
}

/* A policy for the run's own identity; where the vault keeps identities as
 * objects (docs/identities.md), the identity is made first. */
static cmk_rc grant(bench_env *e)
{
	cmk_rc rc = cmk_policy_set(e->user, e->tag, CMK_PERM_ALL | CMK_PERM_PURGE);
	if (rc == CMK_E_NOT_FOUND && cmk_identity_create(e->user, e->tag) == CMK_OK) {
		e->made_identity = 1;
		rc = cmk_policy_set(e->user, e->tag, CMK_PERM_ALL | CMK_PERM_PURGE);
	}
	return rc;
}

void bench_set_maker(bench_env *e, const cmk_vault_info *vi)
{
	const char *id = cmk_ctx_identity(e->user);
	cmk_policy pol;
	int admin = !strcmp(vi->admin, id);
	if (vi->purge_protection) {
		cannot(e, "vault %s has purge protection%s", vi->name, "");
	} else if (cmk_policy_get(e->user, id, &pol) == CMK_OK && (pol.perms & CMK_PERM_PURGE)) {
		e->mk = e->user;
	} else if (!admin) {
		cannot(e,
		       "identity %s may not purge keys and is not the admin of vault %s "
		       "(the admin can run `cmk policy set IDENTITY all,purge`)",
		       id, vi->name);
	} else if (grant(e) != CMK_OK) {
		cannot(e, "cannot give the run an identity of its own: %s%s", cmk_last_error(), "");
	} else {
		e->granted = 1;
		if (cmk_open(&e->own, e->o->config, cmk_ctx_vault(e->user), e->tag) != CMK_OK)
			cannot(e, "cannot open vault %s as the run's identity: %s", vi->name,
			       cmk_last_error());
		else
			e->mk = e->own;
	}
	int left = remove_dead_dirs(e); /* killed runs' resources, then their keys */
	if (e->mk) {
		snprintf(e->rep->made_as, sizeof e->rep->made_as, "%s", cmk_ctx_identity(e->mk));
		purge_keys(e, NULL); /* what killed runs left */
		left |= e->rep->leftover[0] != '\0';
		e->rep->leftover[0] = '\0';
	}
	if (admin)
		remove_dead_policies(e);
	/* a killed run's mark goes once what it made is gone (while anything
	 * is left, the mark keeps telling that the run is dead) */
	if (e->mk && !left)
		remove_dead_marks(e);
	bench_p11_clean_up(e);
}

/* ------------------------------------------------------------ the key */

cmk_rc bench_open_key(bench_env *e)
{
	const bench_opts *o = e->o;
	bench_report *rep = e->rep;
	if (o->key) {
		e->ctx = e->user;
		LIB_TRY(cmk_key_open(e->ctx, o->key, &e->key));
	} else {
		char ver[CMK_VERSION_LEN + 1];
		if (!e->mk)
			return bench_err(CMK_E_USAGE,
					 "%s, so a temporary key could not be removed "
					 "after the run; give an existing key with --key",
					 e->cannot_make_keys);
		e->ctx = e->mk;
		bench_progress(e, "making the key %s", e->tag);
		BENCH_TRY(bench_key_create(e, e->tag, o->key_bits, ver));
		rep->temporary_key = 1;
		LIB_TRY(cmk_key_open(e->ctx, e->tag, &e->key));
	}
	char vault[64], name[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1];
	size_t idlen = 0;
	snprintf(rep->key, sizeof rep->key, "%s", cmk_key_kid(e->key));
	LIB_TRY(cmk_kid_parse(rep->key, vault, name, ver));
	if (!OPENSSL_hexstr2buf_ex(e->key_id, sizeof e->key_id, &idlen, ver, '\0') ||
	    idlen != sizeof e->key_id)
		return bench_err(CMK_E_INTERNAL, "key %s: the version is not 16 bytes of hex",
				 rep->key);
	rep->key_bits = cmk_key_bits(e->key);
	e->k = (rep->key_bits + 7) / 8;
	if (RAND_bytes(e->dek, sizeof e->dek) != 1)
		return bench_err(CMK_E_INTERNAL, "no random bytes");
	e->ctlen = sizeof e->ct;
	LIB_TRY(cmk_key_encrypt(e->key, CMK_PURPOSE_KEY, e->alg, NULL, e->dek, sizeof e->dek, e->ct,
				&e->ctlen));
	uint8_t back[1024];
	size_t len = sizeof back;
	LIB_TRY(cmk_key_decrypt(e->key, CMK_PURPOSE_KEY, e->alg, NULL, e->ct, e->ctlen, back,
				&len));
	cmk_rc rc = bench_check_dek(e, back, len, "unwrap");
	cmk_wipe(back, sizeof back);
	return rc;
}

/* Everything the run made: keys named after its tag, the resource's
 * service key svc-TAG; then the run's identity and its policy. */
void bench_clean_up(bench_env *e)
{
	char svc[80];
	snprintf(svc, sizeof svc, "svc-%s", e->tag);
	bench_purge_prefix(e, e->tag);
	bench_purge_prefix(e, svc);
	if (e->own) {
		cmk_close(e->own);
		e->own = NULL;
	}
	if (e->granted && cmk_policy_remove(e->user, e->tag) != CMK_OK) {
		char what[120];
		snprintf(what, sizeof what, "the policy of identity %s", e->tag);
		bench_left_over(e, what);
	}
	if (e->made_identity && cmk_identity_delete(e->user, e->tag) != CMK_OK) {
		char what[120];
		snprintf(what, sizeof what, "identity %s", e->tag);
		bench_left_over(e, what);
	}
	e->granted = 0;
	e->made_identity = 0;
	e->mk = NULL;
}
