/*
 * api-lifecycle.c - issue 3 through the public C API (cmk.h only) against
 * a real lab token: soft delete, recover (per-version flags kept), purge,
 * purge protection, retention bounds at init, access policies (every
 * missing permission denied, only the admin edits policies), the
 * revocation delay bound with one context kept open while another process
 * (the cmk binary, fork+exec) revokes, and audit verification with
 * tampered copies.  Prints TAP.
 *
 * Needs (tests/lifecycle-api.sh): CMK_CONF of a fresh lab whose [cmk]
 * section has policy_cache_ms = 1500, CMK_BIN (the cmk command).
 */
#define _POSIX_C_SOURCE 200809L
#include <cmk.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POLICY_CACHE_MS 1500
/* slack for the calls themselves (CMK_TIME_MARGIN_MS: wider under valgrind) */
static int MARGIN_MS = 500;

#include "tap.h"

/* rc is want and the last error mentions every one of the NULL-ended words */
static void is_rc_msg(cmk_rc got, cmk_rc want, const char *what, ...)
{
	const char *err = cmk_last_error() ? cmk_last_error() : "";
	char missing[256] = "";
	va_list ap;
	const char *w;

	va_start(ap, what);
	while ((w = va_arg(ap, const char *)) != NULL)
		if (!strstr(err, w) && strlen(missing) + strlen(w) + 3 < sizeof missing) {
			strcat(missing, " '");
			strcat(missing, w);
			strcat(missing, "'");
		}
	va_end(ap);
	ok(got == want && !missing[0], "%s: %s naming the object (got %s)", what, cmk_rc_name(want),
	   cmk_rc_name(got));
	if (missing[0])
		printf("# error '%s' lacks%s\n", err, missing);
}

static void bail(const char *why)
{
	printf("Bail out! %s: %s\n", why, cmk_last_error() ? cmk_last_error() : "");
	exit(1);
}

static void rand_bytes(uint8_t *p, size_t n)
{
	FILE *f = fopen("/dev/urandom", "rb");

	if (!f || fread(p, 1, n, f) != n)
		bail("cannot read /dev/urandom");
	fclose(f);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static cmk_ctx *open_as(const char *identity)
{
	cmk_ctx *c = NULL;

	if (cmk_open(&c, NULL, NULL, identity) != CMK_OK)
		bail("cmk_open");
	return c;
}

/* run the cmk binary (fork+exec) with ARGS; returns its exit code */
static int run_cmk(const char *a1, const char *a2, const char *a3, const char *a4)
{
	const char *bin = getenv("CMK_BIN");
	pid_t pid;
	int st;

	if (!bin)
		bail("CMK_BIN not set");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bail("fork");
	if (pid == 0) {
		const char *argv[] = { bin, a1, a2, a3, a4, NULL };
		if (!freopen("/dev/null", "w", stdout))
			_exit(126);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) != pid)
		bail("waitpid");
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int has_key(cmk_ctx *c, int deleted, const char *name)
{
	cmk_key_info *keys = NULL;
	size_t n = 0, i;
	int found = 0;

	if (cmk_key_list(c, deleted, &keys, &n) != CMK_OK)
		return -1;
	for (i = 0; i < n; i++)
		if (!strcmp(keys[i].name, name))
			found = 1;
	cmk_free(keys);
	return found;
}

/* enabled flag of version `ver` of `name` (-1: not found) */
static int version_enabled(cmk_ctx *c, const char *name, int deleted, const char *ver)
{
	cmk_version_info *v = NULL;
	size_t n = 0, i;
	int r = -1;

	if (cmk_key_versions(c, name, deleted, &v, &n) != CMK_OK)
		return -2;
	for (i = 0; i < n; i++)
		if (!strcmp(v[i].version, ver))
			r = v[i].enabled;
	cmk_free(v);
	return r;
}

static uint8_t dek[32];

/* unwrap `w` and check the DEK */
static cmk_rc unwrap_check(cmk_ctx *c, const uint8_t *w, size_t wlen)
{
	uint8_t out[512];
	size_t olen = sizeof out;
	char kid[CMK_KID_MAX];
	cmk_rc rc = cmk_unwrap(c, w, wlen, out, &olen, kid);

	if (rc == CMK_OK && (olen != sizeof dek || memcmp(out, dek, olen) != 0))
		rc = CMK_E_INTERNAL;
	cmk_wipe(out, sizeof out);
	return rc;
}

/* ------------------------------------------------------------ lifecycle */

static void test_lifecycle(cmk_ctx *a)
{
	char v1[CMK_VERSION_LEN + 1], v2[CMK_VERSION_LEN + 1], vx[CMK_VERSION_LEN + 1];
	char kid1[CMK_KID_MAX], kid2[CMK_KID_MAX];
	uint8_t w1[1024], w2[1024], ct[512], out[512];
	size_t w1len = sizeof w1, w2len = sizeof w2, ctlen = sizeof ct, olen;
	cmk_key_info info;
	cmk_key *h = NULL;
	cmk_vault_info vi;
	cmk_key_update up = { 0 };
	int64_t t0 = (int64_t)time(NULL);
	cmk_rc rc;

	is_rc(cmk_vault_info_get(a, &vi), CMK_OK, "cmk_vault_info_get");
	ok(vi.retention_days == 90 && !vi.purge_protection, "a lab: 90 days, no purge protection");
	ok(!strcmp(vi.recovery_level, "Recoverable+Purgeable"), "recovery level %s",
	   vi.recovery_level);
	ok(vi.policy_cache_ms == POLICY_CACHE_MS, "policy_cache_ms from cmk.conf: %u",
	   vi.policy_cache_ms);

	is_rc(cmk_key_create(a, "k", NULL, v1), CMK_OK, "create k");
	is_rc(cmk_key_rotate(a, "k", NULL, v2), CMK_OK, "rotate k");
	snprintf(kid1, sizeof kid1, "cmk://lab/keys/k/%s", v1);
	snprintf(kid2, sizeof kid2, "cmk://lab/keys/k/%s", v2);
	is_rc(cmk_wrap(a, kid1, CMK_ALG_RSA_OAEP_256, dek, sizeof dek, w1, &w1len), CMK_OK,
	      "wrap with v1");
	is_rc(cmk_wrap(a, kid2, CMK_ALG_RSA_OAEP_256, dek, sizeof dek, w2, &w2len), CMK_OK,
	      "wrap with v2");
	is_rc(cmk_key_open(a, kid2, &h), CMK_OK, "open a handle on v2");
	is_rc(cmk_key_encrypt(h, CMK_PURPOSE_KEY, CMK_ALG_RSA_OAEP, NULL, dek, sizeof dek, ct,
			      &ctlen),
	      CMK_OK, "encrypt with the handle");
	is_rc(cmk_key_set_enabled(a, "k", v1, 0), CMK_OK, "disable v1");

	/* delete */
	is_rc(cmk_key_delete(a, "k"), CMK_OK, "delete k");
	is_rc_msg(cmk_key_info_get(a, "k", 0, &info), CMK_E_DELETED, "info_get of a deleted key",
		  "cmk://lab/keys/k", NULL);
	is_rc(cmk_key_info_get(a, "k", 1, &info), CMK_OK, "info_get(deleted=1)");
	ok(info.deleted == 1, "the key is marked deleted");
	ok(info.deleted_on >= t0 - 5 && info.deleted_on <= (int64_t)time(NULL) + 5,
	   "deleted_on is now");
	ok(info.purge_on - info.deleted_on == 90 * 86400, "purge_on = deleted_on + 90 days (%lld)",
	   (long long)(info.purge_on - info.deleted_on));
	ok(info.nversions == 2, "both versions kept");
	ok(has_key(a, 0, "k") == 0, "key_list(deleted=0) leaves k out");
	ok(has_key(a, 1, "k") == 1, "key_list(deleted=1) has k");
	is_rc_msg(cmk_key_create(a, "k", NULL, vx), CMK_E_EXISTS,
		  "create with the deleted key's name", "cmk://lab/keys/k", "deleted", NULL);
	is_rc(cmk_wrap(a, "k", CMK_ALG_RSA_OAEP_256, dek, sizeof dek, out, &(size_t){ sizeof out }),
	      CMK_E_DELETED, "wrap with a deleted key");
	is_rc(unwrap_check(a, w2, w2len), CMK_E_DELETED, "unwrap with a deleted key");
	is_rc(cmk_key_rotate(a, "k", NULL, vx), CMK_E_DELETED, "rotate a deleted key");
	is_rc(cmk_key_set_enabled(a, "k", NULL, 1), CMK_E_DELETED, "enable a deleted key");
	is_rc(cmk_key_set_enabled(a, "k", v1, 1), CMK_E_DELETED,
	      "enable a version of a deleted key");
	up.set_ops = 1;
	up.ops = CMK_OP_WRAP;
	is_rc(cmk_key_update_attrs(a, "k", NULL, &up), CMK_E_DELETED, "update a deleted key");
	is_rc(cmk_key_delete(a, "k"), CMK_E_DELETED, "delete a deleted key");
	olen = sizeof out;
	rc = cmk_key_decrypt(h, CMK_PURPOSE_KEY, CMK_ALG_RSA_OAEP, NULL, ct, ctlen, out, &olen);
	ok(rc == CMK_E_DELETED || rc == CMK_E_DISABLED,
	   "a handle opened before the delete no longer decrypts (the token refuses): %s",
	   cmk_rc_name(rc));
	sleep_ms(1100); /* past metadata_cache_ms (1 s): the handle knows why */
	olen = sizeof out;
	is_rc_msg(
		cmk_key_decrypt(h, CMK_PURPOSE_KEY, CMK_ALG_RSA_OAEP, NULL, ct, ctlen, out, &olen),
		CMK_E_DELETED, "after metadata_cache_ms the old handle reports the delete",
		"cmk://lab/keys/k", "deleted", NULL);

	/* recover */
	is_rc(cmk_key_recover(a, "k"), CMK_OK, "recover k");
	is_rc(cmk_key_recover(a, "k"), CMK_E_NOT_FOUND, "recover of a live key");
	is_rc(cmk_key_info_get(a, "k", 0, &info), CMK_OK, "info_get after recover");
	ok(!info.deleted && info.deleted_on == 0 && info.purge_on == 0 && info.enabled,
	   "live, enabled, no dates");
	ok(!strcmp(info.current, v2), "current is v2 again");
	ok(version_enabled(a, "k", 0, v1) == 0, "v1 is still disabled");
	ok(version_enabled(a, "k", 0, v2) == 1, "v2 is enabled");
	is_rc(unwrap_check(a, w1, w1len), CMK_E_DISABLED,
	      "unwrap with v1 (disabled before the delete)");
	is_rc(unwrap_check(a, w2, w2len), CMK_OK, "unwrap with v2 after recover");
	/* the handle's metadata may say "deleted" for metadata_cache_ms (1 s) */
	int64_t t_rec = now_ms();
	do {
		olen = sizeof out;
		rc = cmk_key_decrypt(h, CMK_PURPOSE_KEY, CMK_ALG_RSA_OAEP, NULL, ct, ctlen, out,
				     &olen);
		if (rc != CMK_OK)
			sleep_ms(50);
	} while (rc == CMK_E_DELETED && now_ms() - t_rec < 1000 + MARGIN_MS);
	is_rc(rc, CMK_OK, "the old handle decrypts again after recover, within metadata_cache_ms");
	ok(olen == sizeof dek && !memcmp(out, dek, olen), "and gives the DEK");
	cmk_key_close(h);
	is_rc(cmk_key_set_enabled(a, "k", v1, 1), CMK_OK, "enable v1");
	is_rc(unwrap_check(a, w1, w1len), CMK_OK, "v1 unwraps once enabled");

	/* purge */
	is_rc(cmk_key_purge(a, "k"), CMK_E_NOT_FOUND, "purge of a live key");
	is_rc(cmk_key_delete(a, "k"), CMK_OK, "delete k again");
	is_rc(cmk_key_purge(a, "k"), CMK_OK, "purge k");
	is_rc(cmk_key_info_get(a, "k", 1, &info), CMK_E_NOT_FOUND, "a purged key is gone");
	is_rc(cmk_key_recover(a, "k"), CMK_E_NOT_FOUND, "and cannot be recovered");
	is_rc(unwrap_check(a, w2, w2len), CMK_E_NOT_FOUND, "what it wrapped is lost");
	is_rc(cmk_key_create(a, "k", NULL, vx), CMK_OK, "the name is free again");
	ok(strcmp(vx, v1) && strcmp(vx, v2), "with a new version id");

	/* a forked child deletes with the parent's context */
	is_rc(cmk_key_create(a, "f", NULL, vx), CMK_OK, "create f");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(cmk_key_delete(a, "f"));
	int st = 0;
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == CMK_OK,
	   "a forked child deletes f with the parent's context (%d)",
	   WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	is_rc(cmk_key_info_get(a, "f", 0, &info), CMK_E_DELETED, "the parent sees f deleted");
	is_rc(cmk_key_recover(a, "f"), CMK_OK, "and recovers it");

	/* purge protection, retention bounds */
	is_rc(cmk_key_create(a, "p", NULL, vx), CMK_OK, "create p");
	is_rc(cmk_key_delete(a, "p"), CMK_OK, "delete p");
	is_rc(cmk_vault_set_purge_protection(a, 1), CMK_OK, "purge protection on");
	is_rc(cmk_vault_set_purge_protection(a, 0), CMK_E_USAGE, "purge protection off is refused");
	is_rc(cmk_vault_info_get(a, &vi), CMK_OK, "vault info");
	ok(vi.purge_protection == 1 && !strcmp(vi.recovery_level, "Recoverable"),
	   "protection on, recovery level %s", vi.recovery_level);
	is_rc_msg(cmk_key_purge(a, "p"), CMK_E_PURGE_PROTECTED, "purge before the retention passed",
		  "cmk://lab/keys/p", NULL);
	size_t purged = 99;
	is_rc(cmk_vault_sweep(a, &purged), CMK_OK, "sweep");
	ok(purged == 0, "the sweep purges nothing before the date (%zu)", purged);
	ok(has_key(a, 1, "p") == 1, "p is still deleted");

	cmk_vault_params vp = { 6, 0, NULL };
	is_rc(cmk_vault_init(a, &vp), CMK_E_USAGE, "vault_init with retention 6");
	vp.retention_days = 91;
	is_rc(cmk_vault_init(a, &vp), CMK_E_USAGE, "vault_init with retention 91");
	vp.retention_days = 30;
	is_rc(cmk_vault_init(a, &vp), CMK_E_EXISTS, "vault_init of an initialised vault");
	is_rc(cmk_vault_info_get(a, &vi), CMK_OK, "vault info");
	ok(vi.retention_days == 90, "retention is unchanged (%u)", vi.retention_days);
}

/* --------------------------------------------------------- access policies */

static void test_policies(cmk_ctx *a)
{
	static const unsigned perms[] = {
		CMK_PERM_GET,	  CMK_PERM_LIST,  CMK_PERM_CREATE, CMK_PERM_UPDATE, CMK_PERM_DELETE,
		CMK_PERM_RECOVER, CMK_PERM_PURGE, CMK_PERM_ROTATE, CMK_PERM_WRAP,   CMK_PERM_UNWRAP,
	};
	char v[CMK_VERSION_LEN + 1];
	uint8_t w[1024], out[512];
	size_t wlen = sizeof w, i, n;
	unsigned pm = 0;
	cmk_policy pol, *pols = NULL;
	cmk_key_info info;

	is_rc(cmk_perms_parse("all", &pm), CMK_OK, "parse all");
	ok(pm == CMK_PERM_DEFAULT && !(pm & CMK_PERM_PURGE), "all is every permission but purge");
	is_rc(cmk_perms_parse("get,bogus", &pm), CMK_E_USAGE, "an unknown permission word");

	is_rc(cmk_key_create(a, "ak", NULL, v), CMK_OK, "create ak");
	is_rc(cmk_key_create(a, "ad", NULL, v), CMK_OK, "create ad");
	is_rc(cmk_key_delete(a, "ad"), CMK_OK, "delete ad");
	is_rc(cmk_wrap(a, "ak", CMK_ALG_RSA_OAEP_256, dek, sizeof dek, w, &wlen), CMK_OK,
	      "wrap with ak");

	for (i = 0; i < sizeof perms / sizeof perms[0]; i++) {
		const char *pname = cmk_perm_name(perms[i]);
		char id[64];
		cmk_ctx *c;
		cmk_rc rc = CMK_E_INTERNAL;
		cmk_key_update up = { .set_ops = 1, .ops = CMK_OP_ALL };
		cmk_key_info *keys = NULL;
		size_t nk = 0, olen = sizeof out;
		char vx[CMK_VERSION_LEN + 1], kx[CMK_KID_MAX];
		const char *keyname = "cmk://lab/keys/ak";

		snprintf(id, sizeof id, "no-%s", pname);
		if (cmk_policy_set(a, id, CMK_PERM_ALL & ~perms[i]) != CMK_OK)
			bail("policy_set");
		c = open_as(id);
		switch (perms[i]) {
		case CMK_PERM_GET: rc = cmk_key_info_get(c, "ak", 0, &info); break;
		case CMK_PERM_LIST:
			rc = cmk_key_list(c, 0, &keys, &nk);
			keyname = "vault lab";
			break;
		case CMK_PERM_CREATE:
			rc = cmk_key_create(c, "never", NULL, vx);
			keyname = "cmk://lab/keys/never";
			break;
		case CMK_PERM_UPDATE: rc = cmk_key_update_attrs(c, "ak", NULL, &up); break;
		case CMK_PERM_DELETE: rc = cmk_key_delete(c, "ak"); break;
		case CMK_PERM_RECOVER:
			rc = cmk_key_recover(c, "ad");
			keyname = "cmk://lab/keys/ad";
			break;
		case CMK_PERM_PURGE:
			rc = cmk_key_purge(c, "ad");
			keyname = "cmk://lab/keys/ad";
			break;
		case CMK_PERM_ROTATE: rc = cmk_key_rotate(c, "ak", NULL, vx); break;
		case CMK_PERM_WRAP:
			rc = cmk_wrap(c, "ak", CMK_ALG_RSA_OAEP_256, dek, sizeof dek, out, &olen);
			break;
		case CMK_PERM_UNWRAP: rc = cmk_unwrap(c, w, wlen, out, &olen, kx); break;
		}
		char what[96];
		snprintf(what, sizeof what, "identity %s (everything but %s)", id, pname);
		is_rc_msg(rc, CMK_E_ACCESS_DENIED, what, id, pname, keyname, NULL);
		cmk_free(keys);
		cmk_close(c);
	}
	ok(has_key(a, 0, "never") == 0, "the denied create made no key");
	ok(has_key(a, 0, "ak") == 1 && has_key(a, 1, "ad") == 1,
	   "the denied delete, recover, purge changed nothing");
	is_rc(cmk_key_info_get(a, "ak", 0, &info), CMK_OK, "ak");
	ok(info.nversions == 1, "the denied rotate made no version");

	/* only the admin edits policies */
	cmk_ctx *s = open_as("svc");
	is_rc(cmk_policy_set(a, "svc", CMK_PERM_GET | CMK_PERM_WRAP | CMK_PERM_UNWRAP), CMK_OK,
	      "grant svc get,wrapKey,unwrapKey");
	is_rc(cmk_policy_get(a, "svc", &pol), CMK_OK, "policy_get svc");
	ok(pol.perms == (CMK_PERM_GET | CMK_PERM_WRAP | CMK_PERM_UNWRAP) &&
		   !strcmp(pol.identity, "svc"),
	   "exactly the granted permissions");
	is_rc_msg(cmk_policy_set(s, "svc", CMK_PERM_ALL), CMK_E_ACCESS_DENIED,
		  "svc raises its own policy", "svc", "admin", NULL);
	is_rc(cmk_policy_remove(s, "no-get"), CMK_E_ACCESS_DENIED, "svc removes a policy");
	is_rc(cmk_policy_set(s, "other", CMK_PERM_GET), CMK_E_ACCESS_DENIED,
	      "svc grants another identity");
	is_rc(cmk_vault_set_purge_protection(s, 1), CMK_E_ACCESS_DENIED,
	      "svc changes vault settings");
	is_rc(cmk_policy_get(a, "other", &pol), CMK_E_NOT_FOUND, "no policy for other was made");
	is_rc(cmk_policy_get(a, "svc", &pol), CMK_OK, "svc's policy");
	ok(pol.perms == (CMK_PERM_GET | CMK_PERM_WRAP | CMK_PERM_UNWRAP), "is unchanged");
	is_rc(cmk_policy_list(a, &pols, &n), CMK_OK, "policy_list");
	int seen = 0;
	for (i = 0; i < n; i++)
		seen |= (!strcmp(pols[i].identity, "admin") ? 1 : 0) |
			(!strcmp(pols[i].identity, "svc") ? 2 : 0);
	cmk_free(pols);
	ok(seen == 3, "lists admin and svc");
	is_rc(unwrap_check(s, w, wlen), CMK_OK, "svc unwraps");
	is_rc(cmk_key_delete(s, "ak"), CMK_E_ACCESS_DENIED, "svc cannot delete");
	cmk_close(s);

	/* the admin can always edit policies, even with its own removed */
	is_rc(cmk_policy_remove(a, "admin"), CMK_OK, "admin removes its own policy");
	is_rc(cmk_key_info_get(a, "ak", 0, &info), CMK_E_ACCESS_DENIED,
	      "and loses access at once (same context)");
	is_rc(cmk_policy_set(a, "admin", CMK_PERM_ALL), CMK_OK, "but can grant itself again");
	is_rc(cmk_key_info_get(a, "ak", 0, &info), CMK_OK, "and has access again at once");
}

/* ------------------------------------------------------ revocation delay */

static void test_revocation(cmk_ctx *a)
{
	uint8_t w[1024];
	size_t wlen = sizeof w;
	cmk_ctx *s;
	int64_t t_cached, t_revoked, t_fail = -1, t_end, t, t_last_pass = -1;
	int passes_after_revoke = 0, flapped = 0, calls = 0;
	cmk_rc rc, bad_rc = CMK_OK;

	is_rc(cmk_policy_set(a, "rev", CMK_PERM_GET | CMK_PERM_WRAP | CMK_PERM_UNWRAP), CMK_OK,
	      "grant rev");
	is_rc(cmk_wrap(a, "ak", CMK_ALG_RSA_OAEP_256, dek, sizeof dek, w, &wlen), CMK_OK,
	      "wrap with ak");
	s = open_as("rev");
	is_rc(unwrap_check(s, w, wlen), CMK_OK, "rev unwraps (its policy is now cached)");
	t_cached = now_ms(); /* the cache was filled before this instant */

	ok(run_cmk("policy", "remove", "rev", NULL) == 0,
	   "another process (cmk policy remove rev) revokes");
	t_revoked = now_ms();
	t_end = t_revoked + POLICY_CACHE_MS + MARGIN_MS;
	while ((t = now_ms()) < t_end + 300) {
		rc = unwrap_check(s, w, wlen);
		calls++;
		if (rc == CMK_OK) {
			if (t_fail >= 0)
				flapped++;
			else
				passes_after_revoke++;
			t_last_pass = t;
		} else if (rc == CMK_E_ACCESS_DENIED) {
			if (t_fail < 0)
				t_fail = t;
		} else {
			bad_rc = rc;
		}
		sleep_ms(50);
	}
	printf("# %d calls; %d passed after the revoke (allowed within %d ms); revoked %lld ms "
	       "after the "
	       "policy was cached; last pass after %lld ms, first denial after %lld ms\n",
	       calls, passes_after_revoke, POLICY_CACHE_MS, (long long)(t_revoked - t_cached),
	       (long long)(t_last_pass - t_revoked),
	       t_fail < 0 ? -1LL : (long long)(t_fail - t_revoked));
	ok(bad_rc == CMK_OK, "every call either passed or was denied (%s)", cmk_rc_name(bad_rc));
	ok(t_fail >= 0, "the revocation took effect");
	ok(t_fail >= 0 && t_fail - t_revoked <= POLICY_CACHE_MS + MARGIN_MS,
	   "within the bound: policy_cache_ms %d + %d ms margin", POLICY_CACHE_MS, MARGIN_MS);
	ok(t_last_pass < 0 || t_last_pass - t_cached < POLICY_CACHE_MS,
	   "no call made policy_cache_ms after the policy was read passed (last pass %lld ms "
	   "after)",
	   (long long)(t_last_pass - t_cached));
	ok(flapped == 0, "once denied, never allowed again (%d)", flapped);
	is_rc_msg(unwrap_check(s, w, wlen), CMK_E_ACCESS_DENIED, "an unwrap after the bound",
		  "'rev'", "lacks permission", "cmk://lab/keys/ak", NULL);
	{
		uint8_t out[512];
		size_t olen = sizeof out;
		is_rc(cmk_wrap(s, "ak", CMK_ALG_RSA_OAEP_256, dek, sizeof dek, out, &olen),
		      CMK_E_ACCESS_DENIED, "a wrap after the bound");
	}

	/* the grant travels the same way */
	ok(run_cmk("policy", "set", "rev", "get,wrapKey,unwrapKey") == 0,
	   "another process grants rev again");
	t_revoked = now_ms();
	t_fail = -1;
	while ((t = now_ms()) < t_revoked + POLICY_CACHE_MS + MARGIN_MS) {
		if (unwrap_check(s, w, wlen) == CMK_OK) {
			t_fail = t;
			break;
		}
		sleep_ms(50);
	}
	ok(t_fail >= 0, "the grant took effect within the bound (%lld ms)",
	   t_fail < 0 ? -1LL : (long long)(t_fail - t_revoked));
	cmk_close(s);
}

/* ------------------------------------------------------------- audit */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (!f)
		return NULL;
	do {
		if (n + 4096 > cap) {
			cap = (n + 4096) * 2;
			buf = realloc(buf, cap + 1);
			if (!buf)
				bail("out of memory");
		}
		r = fread(buf + n, 1, 4096, f);
		n += r;
	} while (r > 0);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static void spit(const char *path, const char *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
		bail("cannot write a log copy");
}

/* offset of the start of line `ln` (1-based) */
static size_t line_off(const char *buf, int ln)
{
	const char *p = buf;

	while (--ln > 0 && (p = strchr(p, '\n')) != NULL)
		p++;
	return p ? (size_t)(p - buf) : strlen(buf);
}

static void test_audit(cmk_ctx *a)
{
	const char *path = cmk_audit_log_path(a);
	const char *tmp = getenv("T");
	char copy[512];
	uint64_t records = 0;
	size_t len, lines = 0, i, o3, o4, o5;
	char *log, *t;

	ok(path && strstr(path, "lab.audit.log") != NULL, "the audit log is %s",
	   path ? path : "(null)");
	is_rc(cmk_audit_verify(a, NULL, &records), CMK_OK, "audit_verify of the vault's log");
	log = slurp(path, &len);
	if (!log)
		bail("cannot read the audit log");
	for (i = 0; i < len; i++)
		lines += log[i] == '\n';
	ok(records == lines && lines > 50, "it counts every record (%llu of %zu lines)",
	   (unsigned long long)records, lines);
	ok(strstr(log, "\"identity\":\"no-purge\"") && strstr(log, "\"result\":\"denied\""),
	   "denied operations are in the log");

	snprintf(copy, sizeof copy, "%s/api-audit-copy.log", tmp ? tmp : "/tmp");
	t = malloc(len + 1);
	if (!t)
		bail("out of memory");

	/* edit one field of line 3 */
	memcpy(t, log, len + 1);
	o3 = line_off(t, 3);
	char *f = strstr(t + o3, "\"seq\":3");
	ok(f != NULL, "line 3 is record 3");
	if (f)
		f[6] = '7'; /* "seq":3 -> "seq":7 */
	spit(copy, t, len);
	is_rc_msg(cmk_audit_verify(a, copy, &records), CMK_E_INTEGRITY, "a copy with line 3 edited",
		  "line 3", NULL);
	memcpy(t, log, len + 1);
	char *r = strstr(t + line_off(t, 5), "\"result\":\"");
	if (r)
		r[10] = r[10] == 'o' ? 'O' : 'o';
	spit(copy, t, len);
	is_rc_msg(cmk_audit_verify(a, copy, &records), CMK_E_INTEGRITY,
		  "a copy with the result of line 5 edited", "line 5", NULL);

	/* remove line 4 */
	o4 = line_off(log, 4);
	o5 = line_off(log, 5);
	memcpy(t, log, o4);
	memcpy(t + o4, log + o5, len - o5);
	spit(copy, t, len - (o5 - o4));
	is_rc_msg(cmk_audit_verify(a, copy, &records), CMK_E_INTEGRITY,
		  "a copy with line 4 removed", "line 4", NULL);

	/* swap lines 3 and 4 */
	o3 = line_off(log, 3);
	memcpy(t, log, o3);
	memcpy(t + o3, log + o4, o5 - o4);
	memcpy(t + o3 + (o5 - o4), log + o3, o4 - o3);
	memcpy(t + o5, log + o5, len - o5);
	spit(copy, t, len);
	is_rc_msg(cmk_audit_verify(a, copy, &records), CMK_E_INTEGRITY,
		  "a copy with lines 3 and 4 swapped", "line 3", NULL);

	/* the last line cut off (the last op was a management op) */
	is_rc(cmk_policy_set(a, "last", CMK_PERM_GET), CMK_OK, "a management op (policy set)");
	free(log);
	log = slurp(path, &len);
	spit(copy, log, line_off(log, (int)lines + 1)); /* all but the new last line */
	is_rc_msg(cmk_audit_verify(a, copy, &records), CMK_E_INTEGRITY,
		  "a copy without its last line", "cut off", NULL);
	spit(copy, "", 0);
	is_rc(cmk_audit_verify(a, copy, &records), CMK_E_INTEGRITY, "an empty copy");
	spit(copy, log, len);
	is_rc(cmk_audit_verify(a, copy, &records), CMK_OK, "an untouched copy verifies");
	ok(records == lines + 1, "with every record (%llu)", (unsigned long long)records);
	unlink(copy);
	free(t);
	free(log);
}

int main(void)
{
	cmk_ctx *a;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getenv("CMK_TIME_MARGIN_MS"))
		MARGIN_MS = atoi(getenv("CMK_TIME_MARGIN_MS"));
	rand_bytes(dek, sizeof dek);
	a = open_as("admin");
	is_rc(cmk_policy_set(a, "admin", CMK_PERM_ALL), CMK_OK, "admin takes purge too");
	test_lifecycle(a);
	test_policies(a);
	test_revocation(a);
	test_audit(a);
	cmk_close(a);
	printf("1..%d\n", test_n);
	return test_failed ? 1 : 0;
}
