/*
 * api-threads.c - the public C API (cmk.h) against a real lab token: pure
 * helpers, buffer conventions, errors, the wrapped-key codec, and the
 * promises that a context and key handles work from many threads at once
 * and in a child after fork().  Prints TAP.  Needs CMK_CONF (tests/api.sh).
 */
#define _POSIX_C_SOURCE 200809L
#include <cmk.h>

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

static void rand_bytes(uint8_t *p, size_t n)
{
	FILE *f = fopen("/dev/urandom", "rb");

	if (!f || fread(p, 1, n, f) != n) {
		printf("Bail out! cannot read /dev/urandom\n");
		exit(1);
	}
	fclose(f);
}

static int is_hex32(const char *s)
{
	size_t i;

	if (strlen(s) != CMK_VERSION_LEN)
		return 0;
	for (i = 0; i < CMK_VERSION_LEN; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return 0;
	return 1;
}

/* ------------------------------------------------------------ pure helpers */

static void test_helpers(void)
{
	cmk_alg alg = 0;
	unsigned ops = 0;
	char buf[128];
	char vault[64], name[CMK_NAME_MAX], version[CMK_VERSION_LEN + 1];
	uint8_t secret[32];
	size_t i;
	int zero = 1;
	void *sec;
	static const char *bad_kids[] = {
		"http://lab/keys/k",
		"cmk://lab/keys/",
		"cmk://lab/keys/bad_name",
		"cmk://lab/keys/k/XYZ",
		"cmk://lab/keys/k/0123456789abcdef0123456789abcdeF",
		"cmk://lab/secrets/k",
		"cmk:///keys/k",
		"",
	};

	ok(strcmp(cmk_rc_name(CMK_OK), "CMK_OK") == 0, "cmk_rc_name(CMK_OK)");

	/* a precondition is a caller's bug: CMK_E_INTERNAL naming the function
	 * and the expression, not bad input; CMK_STRICT=1 makes it abort */
	{
		cmk_wrapped w;
		int st = 0;
		pid_t pid;
		cmk_rc prc = cmk_wrapped_parse(NULL, 0, &w);
		char msg[512];
		snprintf(msg, sizeof msg, "%s", cmk_last_error());
		ok(prc == CMK_E_INTERNAL &&
			   strstr(msg, "cmk_wrapped_parse: precondition failed") != NULL,
		   "a NULL argument is a precondition failure (CMK_E_INTERNAL, named): %s", msg);
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			cmk_rc rc;
			setenv("CMK_STRICT", "1", 1);
			if (!freopen("/dev/null", "w", stderr))
				_exit(2);
			rc = cmk_wrapped_parse(NULL, 0, &w);
			_exit(rc == CMK_E_INTERNAL ? 3 : 4);
		}
		ok(pid > 0 && waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) &&
			   WTERMSIG(st) == SIGABRT,
		   "with CMK_STRICT=1 a precondition failure aborts");
	}
	ok(strcmp(cmk_rc_name(CMK_E_DISABLED), "CMK_E_DISABLED") == 0,
	   "cmk_rc_name(CMK_E_DISABLED)");
	ok(strcmp(cmk_rc_name(CMK_E_FORMAT), "CMK_E_FORMAT") == 0, "cmk_rc_name(CMK_E_FORMAT)");

	is_rc(cmk_alg_parse("RSA-OAEP-256", &alg), CMK_OK, "cmk_alg_parse RSA-OAEP-256");
	ok(alg == CMK_ALG_RSA_OAEP_256, "RSA-OAEP-256 is CMK_ALG_RSA_OAEP_256");
	is_rc(cmk_alg_parse("RSA-OAEP", &alg), CMK_OK, "cmk_alg_parse RSA-OAEP");
	ok(alg == CMK_ALG_RSA_OAEP, "RSA-OAEP is CMK_ALG_RSA_OAEP");
	is_rc(cmk_alg_parse("RSA-OAEP-1024", &alg), CMK_E_USAGE,
	      "cmk_alg_parse of an unknown name");
	ok(strcmp(cmk_alg_name(CMK_ALG_RSA_OAEP_256), "RSA-OAEP-256") == 0,
	   "cmk_alg_name(RSA-OAEP-256)");

	is_rc(cmk_ops_parse("wrapKey,unwrapKey", &ops), CMK_OK, "cmk_ops_parse with commas");
	ok(ops == (CMK_OP_WRAP | CMK_OP_UNWRAP), "wrapKey,unwrapKey is WRAP|UNWRAP");
	is_rc(cmk_ops_parse("sign verify", &ops), CMK_OK, "cmk_ops_parse with spaces");
	ok(ops == (CMK_OP_SIGN | CMK_OP_VERIFY), "sign verify is SIGN|VERIFY");
	is_rc(cmk_ops_parse("wrapKey,bogus", &ops), CMK_E_USAGE, "cmk_ops_parse of an unknown op");
	cmk_ops_format(CMK_OP_WRAP | CMK_OP_UNWRAP, buf, sizeof buf);
	ok(strcmp(buf, "wrapKey,unwrapKey") == 0, "cmk_ops_format(WRAP|UNWRAP) = '%s'", buf);

	is_rc(cmk_kid_parse("cmk://lab/keys/db-kek/0123456789abcdef0123456789abcdef", vault, name,
			    version),
	      CMK_OK, "cmk_kid_parse of a versioned id");
	ok(strcmp(vault, "lab") == 0 && strcmp(name, "db-kek") == 0 &&
		   strcmp(version, "0123456789abcdef0123456789abcdef") == 0,
	   "versioned id parts: %s %s %s", vault, name, version);
	is_rc(cmk_kid_parse("cmk://lab/keys/db-kek", vault, name, version), CMK_OK,
	      "cmk_kid_parse of a versionless id");
	ok(strcmp(name, "db-kek") == 0 && version[0] == '\0',
	   "versionless id has an empty version");
	for (i = 0; i < sizeof bad_kids / sizeof bad_kids[0]; i++)
		ok(cmk_kid_parse(bad_kids[i], vault, name, version) != CMK_OK,
		   "cmk_kid_parse refuses '%s'", bad_kids[i]);

	memset(secret, 0xa5, sizeof secret);
	cmk_wipe(secret, sizeof secret);
	for (i = 0; i < sizeof secret; i++)
		zero &= secret[i] == 0;
	ok(zero, "cmk_wipe zeroes the buffer");
	sec = cmk_secure_alloc(64);
	ok(sec != NULL, "cmk_secure_alloc(64)");
	if (sec) {
		memset(sec, 0x5a, 64);
		cmk_secure_free(sec, 64);
	}
}

/* ------------------------------------------------------------ one context */

struct shared {
	cmk_ctx *ctx;
	cmk_key *key;
	const char *keyname;
	int iters;
	int failures;
	char errmsg[256];
	pthread_mutex_t lock;
};

static void note_failure(struct shared *s, const char *what)
{
	pthread_mutex_lock(&s->lock);
	if (!s->failures++)
		snprintf(s->errmsg, sizeof s->errmsg, "%s: %s", what, cmk_last_error());
	pthread_mutex_unlock(&s->lock);
}

static void *worker(void *arg)
{
	struct shared *s = arg;
	uint8_t dek[32], out[32], w[1024], ct[512], pt[512];
	char kid[CMK_KID_MAX];
	size_t wlen, dlen, ctlen, ptlen;
	int i;

	for (i = 0; i < s->iters; i++) {
		rand_bytes(dek, sizeof dek);
		wlen = sizeof w;
		if (cmk_wrap(s->ctx, s->keyname, CMK_ALG_RSA_OAEP_256, dek, sizeof dek, w, &wlen) !=
		    CMK_OK) {
			note_failure(s, "cmk_wrap");
			continue;
		}
		dlen = sizeof out;
		if (cmk_unwrap(s->ctx, w, wlen, out, &dlen, kid) != CMK_OK || dlen != sizeof dek ||
		    memcmp(out, dek, dlen) != 0) {
			note_failure(s, "cmk_unwrap");
			continue;
		}
		/* the shared handle, both algorithms */
		ctlen = sizeof ct;
		ptlen = sizeof pt;
		if (cmk_key_encrypt(s->key, CMK_PURPOSE_KEY,
				    i % 2 ? CMK_ALG_RSA_OAEP : CMK_ALG_RSA_OAEP_256, NULL, dek,
				    sizeof dek, ct, &ctlen) != CMK_OK ||
		    cmk_key_decrypt(s->key, CMK_PURPOSE_KEY,
				    i % 2 ? CMK_ALG_RSA_OAEP : CMK_ALG_RSA_OAEP_256, NULL, ct,
				    ctlen, pt, &ptlen) != CMK_OK ||
		    ptlen != sizeof dek || memcmp(pt, dek, ptlen) != 0)
			note_failure(s, "cmk_key_encrypt/decrypt on a shared handle");
	}
	cmk_wipe(dek, sizeof dek);
	cmk_wipe(out, sizeof out);
	cmk_wipe(pt, sizeof pt);
	return NULL;
}

struct error_arg {
	cmk_ctx *ctx;
	int not_found;
};

/* An error here must not change the main thread's error text. */
static void *error_thread(void *arg)
{
	struct error_arg *a = arg;
	cmk_key *k = NULL;

	a->not_found = cmk_key_open(a->ctx, "thread-only-missing", &k) == CMK_E_NOT_FOUND;
	return NULL;
}

int main(int argc, char **argv)
{
	const char *keyname = argc > 1 ? argv[1] : "api-k";
	int nthreads = 4, iters = getenv("CMK_API_ITERS") ? atoi(getenv("CMK_API_ITERS")) : 25;
	cmk_ctx *ctx = NULL;
	cmk_key *key = NULL;
	char version[CMK_VERSION_LEN + 1] = "", kid[CMK_KID_MAX], want_kid[CMK_KID_MAX + 64];
	char **names = NULL;
	size_t nnames = 0;
	uint8_t dek[32], out[64], w[1024], w2[1024];
	size_t wlen, w2len, dlen;
	cmk_wrapped parsed;
	cmk_key_info info;
	cmk_rc rc;
	pthread_t th[8];
	struct shared s;
	int i, status;
	pid_t pid;

	setvbuf(stdout, NULL, _IOLBF, 0);
	test_helpers();

	is_rc(cmk_config_vaults(getenv("CMK_CONF"), &names, &nnames), CMK_OK, "cmk_config_vaults");
	ok(nnames == 1 && strcmp(names[0], "lab") == 0, "the lab config has the one vault 'lab'");
	cmk_strv_free(names, nnames);

	rc = cmk_open(&ctx, NULL, NULL, NULL);
	is_rc(rc, CMK_OK, "cmk_open with $CMK_CONF and the default vault");
	if (rc != CMK_OK) {
		printf("Bail out! no context\n");
		return 1;
	}
	ok(strcmp(cmk_ctx_vault(ctx), "lab") == 0, "cmk_ctx_vault is 'lab'");

	is_rc(cmk_key_open(ctx, "no-such-key", &key), CMK_E_NOT_FOUND,
	      "cmk_key_open of an unknown key");
	ok(cmk_last_error() && strstr(cmk_last_error(), "no-such-key") != NULL,
	   "cmk_last_error names the key: '%s'", cmk_last_error() ? cmk_last_error() : "");
	{
		struct error_arg targ = { ctx, 0 };
		pthread_t et;

		pthread_create(&et, NULL, error_thread, &targ);
		pthread_join(et, NULL);
		ok(targ.not_found, "an error in another thread");
		ok(strstr(cmk_last_error(), "no-such-key") != NULL,
		   "leaves this thread's cmk_last_error alone");
	}

	rc = cmk_key_create(ctx, keyname, NULL, version);
	is_rc(rc, CMK_OK, "cmk_key_create");
	ok(is_hex32(version), "the new version id is 32 hex: %s", version);
	is_rc(cmk_key_info_get(ctx, keyname, 0, &info), CMK_OK, "cmk_key_info_get");
	ok(info.nversions == 1 && strcmp(info.current, version) == 0 && info.bits == 2048,
	   "one version, current, 2048 bits");
	{
		char again[CMK_VERSION_LEN + 1];

		is_rc(cmk_key_create(ctx, keyname, NULL, again), CMK_E_EXISTS,
		      "cmk_key_create of a taken name");
	}

	rand_bytes(dek, sizeof dek);
	wlen = 10;
	is_rc(cmk_wrap(ctx, keyname, CMK_ALG_RSA_OAEP_256, dek, sizeof dek, w, &wlen), CMK_E_BUFFER,
	      "cmk_wrap into a 10-byte buffer");
	ok(wlen > 256 && wlen <= sizeof w, "CMK_E_BUFFER sets the size needed (%zu)", wlen);
	w2len = wlen;
	is_rc(cmk_wrap(ctx, keyname, CMK_ALG_RSA_OAEP_256, dek, sizeof dek, w, &wlen), CMK_OK,
	      "cmk_wrap into a buffer of exactly that size");
	ok(wlen == w2len, "the size written is the size announced");

	dlen = sizeof out;
	is_rc(cmk_unwrap(ctx, w, wlen, out, &dlen, kid), CMK_OK, "cmk_unwrap");
	ok(dlen == sizeof dek && memcmp(out, dek, dlen) == 0, "cmk_unwrap gives the DEK back");
	snprintf(want_kid, sizeof want_kid, "cmk://lab/keys/%s/%s", keyname, version);
	ok(strcmp(kid, want_kid) == 0, "cmk_unwrap reports the versioned id %s", kid);

	is_rc(cmk_wrapped_parse(w, wlen, &parsed), CMK_OK, "cmk_wrapped_parse");
	ok(parsed.alg == CMK_ALG_RSA_OAEP_256 && parsed.ct_len == 256 &&
		   strcmp(parsed.kid, want_kid) == 0 && parsed.kid_len == strlen(want_kid),
	   "parsed: alg, kid and a 256-byte ciphertext");
	w2len = sizeof w2;
	is_rc(cmk_wrapped_encode(parsed.alg, parsed.kid, parsed.ct, parsed.ct_len, w2, &w2len),
	      CMK_OK, "cmk_wrapped_encode of the parsed parts");
	ok(w2len == wlen && memcmp(w2, w, wlen) == 0, "encode(parse(x)) == x");
	{
		/* a parsed record is a value: a copy outlives the original */
		cmk_wrapped copy = parsed;
		memset(&parsed, 0x5a, sizeof parsed);
		ok(strcmp(copy.kid, want_kid) == 0 && copy.ct == w + wlen - copy.ct_len,
		   "a copy of a cmk_wrapped keeps its key id after the original is overwritten");
	}
	for (i = 0; i < (int)wlen; i += (int)wlen / 7 + 1)
		ok(cmk_wrapped_parse(w, (size_t)i, &parsed) == CMK_E_FORMAT,
		   "cmk_wrapped_parse of the first %d bytes: CMK_E_FORMAT", i);

	is_rc(cmk_key_open(ctx, keyname, &key), CMK_OK, "cmk_key_open (versionless)");
	if (!key) {
		printf("Bail out! no key handle\n");
		return 1;
	}
	ok(strcmp(cmk_key_kid(key), want_kid) == 0, "cmk_key_kid is the versioned id");
	ok(cmk_key_bits(key) == 2048, "cmk_key_bits is 2048");
	{
		/* OAEP parameters naming a digest OpenSSL does not know are
		 * refused by name, in both directions, before the token is used */
		cmk_oaep bad = { "SHA-NOPE", NULL, NULL, 0 },
			 badmgf = { "SHA256", "MGF-NOPE", NULL, 0 };
		uint8_t ct[512], pt[512];
		size_t ctlen = sizeof ct, ptlen = sizeof pt;

		is_rc(cmk_key_encrypt(key, CMK_PURPOSE_KEY, CMK_ALG_RSA_OAEP_256, &bad, dek,
				      sizeof dek, ct, &ctlen),
		      CMK_E_USAGE, "cmk_key_encrypt with an unknown OAEP digest");
		ok(cmk_last_error() &&
			   strstr(cmk_last_error(), "OAEP digest 'SHA-NOPE' is unknown"),
		   "the error names the digest: '%s'", cmk_last_error() ? cmk_last_error() : "");
		ctlen = sizeof ct;
		is_rc(cmk_key_encrypt(key, CMK_PURPOSE_KEY, CMK_ALG_RSA_OAEP_256, &badmgf, dek,
				      sizeof dek, ct, &ctlen),
		      CMK_E_USAGE, "cmk_key_encrypt with an unknown MGF1 digest");
		ok(cmk_last_error() &&
			   strstr(cmk_last_error(), "OAEP MGF1 digest 'MGF-NOPE' is unknown"),
		   "the error names the MGF1 digest: '%s'",
		   cmk_last_error() ? cmk_last_error() : "");
		memset(ct, 1, sizeof ct);
		is_rc(cmk_key_decrypt(key, CMK_PURPOSE_KEY, CMK_ALG_RSA_OAEP_256, &badmgf, ct, 256,
				      pt, &ptlen),
		      CMK_E_USAGE, "cmk_key_decrypt with an unknown MGF1 digest");
		ok(cmk_last_error() &&
			   strstr(cmk_last_error(), "OAEP MGF1 digest 'MGF-NOPE' is unknown"),
		   "the error names the MGF1 digest: '%s'",
		   cmk_last_error() ? cmk_last_error() : "");
	}

	/* threads sharing one context and one handle */
	memset(&s, 0, sizeof s);
	s.ctx = ctx;
	s.key = key;
	s.keyname = keyname;
	s.iters = iters;
	pthread_mutex_init(&s.lock, NULL);
	for (i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, worker, &s);
	for (i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	ok(s.failures == 0,
	   "%d threads x %d wrap/unwrap + handle encrypt/decrypt on one context: %d failures%s%s",
	   nthreads, iters, s.failures, s.failures ? ", first: " : "", s.errmsg);

	/* a child after fork() keeps using the parent's context and handle */
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		uint8_t cout[64], ct[512];
		size_t clen = sizeof cout, ctlen = sizeof ct;
		int bad = 0;

		if (cmk_unwrap(ctx, w, wlen, cout, &clen, kid) != CMK_OK || clen != sizeof dek ||
		    memcmp(cout, dek, clen) != 0)
			bad |= 1;
		clen = sizeof cout;
		if (cmk_key_encrypt(key, CMK_PURPOSE_KEY, CMK_ALG_RSA_OAEP_256, NULL, dek,
				    sizeof dek, ct, &ctlen) != CMK_OK ||
		    cmk_key_decrypt(key, CMK_PURPOSE_KEY, CMK_ALG_RSA_OAEP_256, NULL, ct, ctlen, ct,
				    &clen) != CMK_OK ||
		    clen != sizeof dek || memcmp(ct, dek, clen) != 0)
			bad |= 2;
		if (bad)
			fprintf(stderr, "child: %s\n", cmk_last_error());
		_exit(bad);
	}
	status = -1;
	if (pid > 0)
		waitpid(pid, &status, 0);
	ok(pid > 0 && WIFEXITED(status) && (WEXITSTATUS(status) & 1) == 0,
	   "a forked child unwraps with the parent's context");
	ok(pid > 0 && WIFEXITED(status) && (WEXITSTATUS(status) & 2) == 0,
	   "a forked child decrypts with the parent's key handle");

	/* and the parent still works after the child is gone */
	dlen = sizeof out;
	is_rc(cmk_unwrap(ctx, w, wlen, out, &dlen, kid), CMK_OK,
	      "the parent unwraps after the fork");

	/* lifecycle through a live handle: disable is seen at once */
	is_rc(cmk_key_set_enabled(ctx, keyname, NULL, 0), CMK_OK, "cmk_key_set_enabled(0)");
	dlen = sizeof out;
	is_rc(cmk_unwrap(ctx, w, wlen, out, &dlen, kid), CMK_E_DISABLED,
	      "cmk_unwrap of a disabled key");
	{
		uint8_t ct[512], pt[512];
		size_t ctlen = sizeof ct, ptlen = sizeof pt;

		cmk_key_encrypt(key, CMK_PURPOSE_KEY, CMK_ALG_RSA_OAEP_256, NULL, dek, sizeof dek,
				ct, &ctlen);
		is_rc(cmk_key_decrypt(key, CMK_PURPOSE_KEY, CMK_ALG_RSA_OAEP_256, NULL, ct, ctlen,
				      pt, &ptlen),
		      CMK_E_DISABLED, "decrypt through a handle opened before the disable");
	}
	is_rc(cmk_key_set_enabled(ctx, keyname, NULL, 1), CMK_OK, "cmk_key_set_enabled(1)");
	dlen = sizeof out;
	is_rc(cmk_unwrap(ctx, w, wlen, out, &dlen, kid), CMK_OK, "cmk_unwrap after enable");

	cmk_key_close(key);
	cmk_close(ctx);
	cmk_wipe(dek, sizeof dek);
	cmk_wipe(out, sizeof out);
	printf("1..%d\n", test_n);
	return 0;
}
