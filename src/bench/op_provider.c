/* op_provider.c - unwrap through the OpenSSL provider cmk.so.
 *
 * The provider is loaded into a library context of its own (with the
 * default provider beside it, which it uses for the public halves), so
 * nothing else of the run fetches from it.  The key comes from OSSL_STORE
 * by its cmk:// id; each thread then loops EVP_PKEY_decrypt with RSA-OAEP
 * on one EVP_PKEY_CTX, as an application would.  cmk.so is looked for in
 * --provider, $OPENSSL_MODULES, the build tree next to this program, then
 * OpenSSL's modules directory.
 *
 * The provider reads cmk.conf from $CMK_CONF (3.0 cannot pass parameters
 * to OSSL_PROVIDER_load), so a --config of the run is exported there. */
#include "config.h"
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/store.h>
#include "bench/bench_int.h"

typedef struct prov_state {
	OSSL_LIB_CTX *lib;
	OSSL_PROVIDER *cmk, *dflt;
	EVP_PKEY *pk;
} prov_state;

static int has_module(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;
	snprintf(path, sizeof path, "%s/cmk.so", dir);
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The directory holding cmk.so, into dir; 0 when there is none. */
static int find_module(const char *given, char *dir, size_t len, char *tried, size_t tlen)
{
	const char *env = getenv("OPENSSL_MODULES");
	char exe[PATH_MAX];
	ssize_t n;
	struct stat st;
	tried[0] = '\0';
	if (given) {
		snprintf(dir, len, "%s", given);
		if (stat(given, &st) == 0 && S_ISREG(st.st_mode)) {
			char *slash = strrchr(dir, '/');
			if (slash && !strcmp(slash + 1, "cmk.so")) {
				*slash = '\0';
				return 1;
			}
			if (!slash && !strcmp(dir, "cmk.so")) {
				snprintf(dir, len, ".");
				return 1;
			}
			snprintf(tried, tlen, "%s (a provider must be a file named cmk.so)", given);
			return 0;
		}
		snprintf(tried, tlen, "%s", given);
		return has_module(dir);
	}
	if (env && *env) {
		snprintf(dir, len, "%s", env);
		if (has_module(dir))
			return 1;
		snprintf(tried, tlen, "$OPENSSL_MODULES=%s", env);
	}
	/* in the build tree: src/cli/.libs/cmk (or lt-cmk) -> src/provider/.libs */
	if ((n = readlink("/proc/self/exe", exe, sizeof exe - 1)) > 0) {
		exe[n] = '\0';
		static const char *const rel[] = { "/../../provider/.libs", "/../provider/.libs" };
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
				snprintf(dir, len, "%s%s", exe, rel[i]);
				if (has_module(dir))
					return 1;
			}
		}
	}
	const char *mods = OPENSSL_info(OPENSSL_INFO_MODULES_DIR);
	snprintf(dir, len, "%s", mods ? mods : "");
	if (has_module(dir))
		return 1;
	size_t used = strlen(tried);
	snprintf(tried + used, tlen - used, "%sthe build tree, %s", used ? ", " : "", dir);
	return 0;
}

static cmk_rc ossl_fail(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "";
	if (e)
		ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	return bench_err(CMK_E_INTERNAL, "provider: %s failed%s%s", what, *buf ? ": " : "", buf);
}

static void prov_teardown(bench_case *c)
{
	prov_state *st = c->state;
	if (!st)
		return;
	EVP_PKEY_free(st->pk);
	if (st->cmk)
		OSSL_PROVIDER_unload(st->cmk);
	if (st->dflt)
		OSSL_PROVIDER_unload(st->dflt);
	OSSL_LIB_CTX_free(st->lib);
	free(st);
	c->state = NULL;
}

static cmk_rc load_key(prov_state *st, const char *kid)
{
	OSSL_STORE_CTX *s = OSSL_STORE_open_ex(kid, st->lib, NULL, NULL, NULL, NULL, NULL, NULL);
	if (!s)
		return ossl_fail("OSSL_STORE_open of the key");
	OSSL_STORE_expect(s, OSSL_STORE_INFO_PKEY);
	while (!st->pk && !OSSL_STORE_eof(s)) {
		OSSL_STORE_INFO *info = OSSL_STORE_load(s);
		if (!info)
			break;
		if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
			st->pk = OSSL_STORE_INFO_get1_PKEY(info);
		OSSL_STORE_INFO_free(info);
	}
	OSSL_STORE_close(s);
	return st->pk ? CMK_OK : ossl_fail("loading the key from OSSL_STORE");
}

static cmk_rc prov_setup(bench_case *c)
{
	bench_env *e = c->env;
	char dir[PATH_MAX], tried[PATH_MAX + 128];
	if (!find_module(e->o->provider, dir, sizeof dir, tried, sizeof tried)) {
		bench_skip(c,
			   "not available in this build: cmk.so not found (looked in %s; "
			   "--provider PATH or $OPENSSL_MODULES)",
			   tried);
		return CMK_OK;
	}
	if (e->o->config)
		setenv("CMK_CONF", e->o->config, 1);
	if (e->o->identity)
		setenv("CMK_IDENTITY", e->o->identity, 1);
	prov_state *st = calloc(1, sizeof *st);
	if (!st)
		return bench_err(CMK_E_NOMEM, "out of memory");
	c->state = st;
	if (!(st->lib = OSSL_LIB_CTX_new()) ||
	    !OSSL_PROVIDER_set_default_search_path(st->lib, dir) ||
	    !(st->dflt = OSSL_PROVIDER_load(st->lib, "default")))
		return ossl_fail("setting up a library context");
	if (!(st->cmk = OSSL_PROVIDER_load(st->lib, "cmk"))) {
		char what[PATH_MAX + 40];
		snprintf(what, sizeof what, "OSSL_PROVIDER_load of %s/cmk.so", dir);
		return ossl_fail(what);
	}
	return load_key(st, cmk_key_kid(e->key));
}

static cmk_rc prov_thread_init(bench_case *c, unsigned idx, void **t)
{
	prov_state *st = c->state;
	EVP_PKEY_CTX *p = EVP_PKEY_CTX_new_from_pkey(st->lib, st->pk, NULL);
	const char *md = c->env->md;
	if (!p || EVP_PKEY_decrypt_init(p) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(p, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md_name(p, md, NULL) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md_name(p, md, NULL) <= 0) {
		EVP_PKEY_CTX_free(p);
		return ossl_fail("RSA-OAEP decryption set-up");
	}
	*t = p;
	return CMK_OK;
}

static void prov_thread_fini(bench_case *c, void *t)
{
	EVP_PKEY_CTX_free(t);
}

static cmk_rc prov_one(bench_case *c, void *t)
{
	bench_env *e = c->env;
	uint8_t out[1024];
	size_t len = sizeof out;
	if (EVP_PKEY_decrypt(t, out, &len, e->ct, e->ctlen) <= 0)
		return ossl_fail("EVP_PKEY_decrypt");
	cmk_rc rc = bench_check_dek(e, out, len, "provider unwrap");
	cmk_wipe(out, sizeof out);
	return rc;
}

const bench_kind bench_kind_provider = {
	.name = "unwrap-provider",
	.group = "provider",
	.cls = BENCH_CMK,
	.what = "EVP_PKEY_decrypt RSA-OAEP with the key loaded through cmk.so",
	.hsm_limit = "p11-decrypt",
	.cpu_limit = "ossl-decrypt",
	.setup = prov_setup,
	.teardown = prov_teardown,
	.thread_init = prov_thread_init,
	.thread_fini = prov_thread_fini,
	.one = prov_one,
};
