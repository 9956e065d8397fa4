/* p11.c - the benchmark's own PKCS#11 connection to the token.
 *
 * The benchmark is a tool beside libcmk, not part of it: to measure what
 * the token itself can do (the HSM limit), and to measure a token that has
 * no vault at all, it speaks PKCS#11 directly, as pkcs11-tool does.  It
 * loads the module through p11-kit (a path, or a module name from p11-kit's
 * configuration), finds the token by its label or a pkcs11: URI with
 * p11-kit's URI parser, and knows nothing of libcmk's PKCS#11 layer
 * (src/lib/p11/).
 *
 * Beside a vault, libcmk has usually loaded and initialised the same
 * module in this process already: C_Initialize then answers
 * CKR_CRYPTOKI_ALREADY_INITIALIZED, the login libcmk did holds for this
 * process's sessions too, and this file never finalizes the module.
 * After fork() a child initialises the module again (PKCS#11 3.0 section
 * 5.4) and logs in with the PIN the run read before forking. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <sys/stat.h>
#include <p11-kit/p11-kit.h>
#include <p11-kit/uri.h>
#include "bench/bench_int.h"

struct bench_tok {
	CK_FUNCTION_LIST *fn;
	int managed; /* loaded by p11-kit as a managed module */
	int owned;   /* this file's C_Initialize did it */
	char init_reserved[1024];
	CK_SLOT_ID slot;
	CK_TOKEN_INFO info;
	char label[33];
	char module[512];
	char *pin; /* cmk_secure_alloc, or NULL */
	size_t pin_cap;
	pthread_mutex_t mu;
	pid_t pid; /* process the module was initialised in */
	unsigned gen;
};

const char *btok_rv_name(CK_RV rv)
{
	const char *s = p11_kit_strerror(rv);
	return s ? s : "unknown error";
}

cmk_rc btok_fail(bench_tok *t, CK_RV rv, const char *call)
{
	cmk_rc rc = rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED	      ? CMK_E_PIN
		    : rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT ? CMK_E_TOKEN
									      : CMK_E_P11;
	return bench_err(rc, "token %s: %s failed: %s (0x%lx)", t->label, call, btok_rv_name(rv),
			 (unsigned long)rv);
}

static CK_RV initialize(bench_tok *t)
{
	CK_C_INITIALIZE_ARGS args;
	memset(&args, 0, sizeof args);
	args.flags = CKF_OS_LOCKING_OK;
	args.pReserved = t->init_reserved[0] ? t->init_reserved : NULL;
	CK_RV rv = t->fn->C_Initialize(&args);
	if (rv == CKR_OK)
		t->owned = 1;
	else if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED)
		rv = CKR_OK; /* libcmk did, in this process */
	t->pid = getpid();
	return rv;
}

/* A module file; a remote one gets its server address the way p11-kit's
 * client reads it, from the environment while it is loaded. */
static CK_FUNCTION_LIST *load_path(const char *path, const char *server)
{
	const char *var = "P11_KIT_SERVER_ADDRESS";
	char *saved = NULL;
	if (server && *server) {
		const char *cur = getenv(var);
		saved = cur ? strdup(cur) : NULL;
		setenv(var, server, 1);
	}
	CK_FUNCTION_LIST *fn =
		p11_kit_module_load(path, P11_KIT_MODULE_UNMANAGED | P11_KIT_MODULE_CRITICAL);
	if (server && *server) {
		if (saved)
			setenv(var, saved, 1);
		else
			unsetenv(var);
		free(saved);
	}
	return fn;
}

/* A module of p11-kit's configuration, by name: unmanaged if p11-kit
 * offers it so, else managed (remote modules). */
static CK_FUNCTION_LIST *load_name(bench_tok *t, const char *name)
{
	CK_FUNCTION_LIST *fn = NULL;
	for (int pass = 0; pass < 2 && !fn; pass++) {
		CK_FUNCTION_LIST **all =
			p11_kit_modules_load(NULL, pass ? 0 : P11_KIT_MODULE_UNMANAGED);
		for (size_t i = 0; all && all[i]; i++) {
			char *n = p11_kit_module_get_name(all[i]);
			if (!fn && n && !strcmp(n, name)) {
				fn = all[i];
				t->managed = pass;
				char *opt = p11_kit_config_option(fn, "x-init-reserved");
				if (opt && !t->init_reserved[0])
					snprintf(t->init_reserved, sizeof t->init_reserved, "%s",
						 opt);
				free(opt);
			} else {
				p11_kit_module_release(all[i]);
			}
			free(n);
		}
		free(all);
	}
	return fn;
}

static void trim(char *dst, const CK_UTF8CHAR *src, size_t n)
{
	memcpy(dst, src, n);
	dst[n] = '\0';
	for (size_t i = n; i > 0 && dst[i - 1] == ' '; i--)
		dst[i - 1] = '\0';
}

/* The slot of the token: by label, or the first a pkcs11: URI matches. */
static cmk_rc find_slot(bench_tok *t, const char *token)
{
	P11KitUri *uri = NULL;
	if (!strncmp(token, "pkcs11:", 7)) {
		uri = p11_kit_uri_new();
		int r = uri ? p11_kit_uri_parse(token, P11_KIT_URI_FOR_TOKEN, uri)
			    : P11_KIT_URI_UNEXPECTED;
		if (r != P11_KIT_URI_OK) {
			p11_kit_uri_free(uri);
			return bench_err(CMK_E_USAGE,
					 "--token %s: not a PKCS#11 URI of a token: %s", token,
					 p11_kit_uri_message(r));
		}
	}
	CK_ULONG n = 0;
	CK_SLOT_ID *slots = NULL;
	CK_RV rv = t->fn->C_GetSlotList(CK_TRUE, NULL, &n);
	if (rv == CKR_OK && n && !(slots = calloc(n, sizeof *slots)))
		rv = CKR_HOST_MEMORY;
	if (rv == CKR_OK && n)
		rv = t->fn->C_GetSlotList(CK_TRUE, slots, &n);
	cmk_rc rc = CMK_E_TOKEN;
	for (CK_ULONG i = 0; rv == CKR_OK && i < n && rc != CMK_OK; i++) {
		CK_TOKEN_INFO ti;
		if (t->fn->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		char label[33];
		trim(label, ti.label, sizeof ti.label);
		if (uri ? p11_kit_uri_match_token_info(uri, &ti) == 1 : !strcmp(label, token)) {
			t->slot = slots[i];
			t->info = ti;
			memcpy(t->label, label, sizeof label);
			rc = CMK_OK;
		}
	}
	free(slots);
	p11_kit_uri_free(uri);
	if (rv != CKR_OK)
		return bench_err(CMK_E_P11, "module %s: C_GetSlotList failed: %s", t->module,
				 btok_rv_name(rv));
	if (rc != CMK_OK)
		return bench_err(CMK_E_TOKEN, "module %s has no token %s", t->module, token);
	return CMK_OK;
}

cmk_rc btok_open(const bench_tok_spec *spec, bench_tok **out)
{
	*out = NULL;
	bench_tok *t = calloc(1, sizeof *t);
	if (!t)
		return bench_err(CMK_E_NOMEM, "out of memory");
	pthread_mutex_init(&t->mu, NULL);
	snprintf(t->module, sizeof t->module, "%s", spec->module);
	snprintf(t->init_reserved, sizeof t->init_reserved, "%s",
		 spec->init_reserved ? spec->init_reserved : "");
	cmk_rc rc = CMK_OK;
	if (strchr(spec->module, '/')) {
		struct stat st;
		if (stat(spec->module, &st) != 0)
			rc = bench_err(CMK_E_MODULE, "PKCS#11 module %s: %s", spec->module,
				       strerror(errno));
		else if (!(t->fn = load_path(spec->module, spec->server)))
			rc = bench_err(CMK_E_MODULE, "PKCS#11 module %s cannot be loaded: %s",
				       spec->module,
				       p11_kit_message() ? p11_kit_message()
							 : "not a PKCS#11 module");
	} else if (!(t->fn = load_name(t, spec->module))) {
		rc = bench_err(CMK_E_MODULE,
			       "PKCS#11 module '%s' is neither a file nor a p11-kit "
			       "module name",
			       spec->module);
	}
	CK_RV rv;
	if (rc == CMK_OK && (rv = initialize(t)) != CKR_OK)
		rc = bench_err(CMK_E_MODULE, "PKCS#11 module %s: C_Initialize failed: %s",
			       spec->module, btok_rv_name(rv));
	if (rc == CMK_OK)
		rc = find_slot(t, spec->token);
	if (rc != CMK_OK) {
		btok_close(t);
		return rc;
	}
	*out = t;
	return CMK_OK;
}

void btok_close(bench_tok *t)
{
	if (!t)
		return;
	if (t->fn) {
		if (t->owned && t->pid == getpid())
			t->fn->C_Finalize(NULL);
		p11_kit_module_release(t->fn);
	}
	if (t->pin)
		cmk_secure_free(t->pin, t->pin_cap);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

cmk_rc btok_read_pin(bench_tok *t, const char *source)
{
	if (t->pin)
		return CMK_OK;
	char what[80];
	snprintf(what, sizeof what, "token %s", t->label);
	return bench_lib(cmk_pin_read(source, what, &t->pin, &t->pin_cap));
}

CK_FUNCTION_LIST *btok_fn(bench_tok *t)
{
	return t->fn;
}

const CK_TOKEN_INFO *btok_info(bench_tok *t)
{
	return &t->info;
}

const char *btok_module(bench_tok *t)
{
	return t->module;
}

unsigned btok_gen(bench_tok *t)
{
	pthread_mutex_lock(&t->mu);
	unsigned g = t->gen + (t->pid != getpid());
	pthread_mutex_unlock(&t->mu);
	return g;
}

/* The token's slot again, by label and serial number (slot ids need not
 * survive a re-initialisation). */
static CK_RV refind_slot(bench_tok *t)
{
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64;
	CK_RV rv = t->fn->C_GetSlotList(CK_TRUE, slots, &n);
	for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++) {
		CK_TOKEN_INFO ti;
		if (t->fn->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
		    !memcmp(ti.label, t->info.label, sizeof ti.label) &&
		    !memcmp(ti.serialNumber, t->info.serialNumber, sizeof ti.serialNumber)) {
			t->slot = slots[i];
			return CKR_OK;
		}
	}
	return rv == CKR_OK ? CKR_TOKEN_NOT_PRESENT : rv;
}

static CK_RV login(bench_tok *t, CK_SESSION_HANDLE s)
{
	CK_SESSION_INFO si;
	CK_RV rv = t->fn->C_GetSessionInfo(s, &si);
	if (rv == CKR_OK &&
	    (si.state == CKS_RW_USER_FUNCTIONS || si.state == CKS_RO_USER_FUNCTIONS))
		return CKR_OK;
	if (rv == CKR_OK && !t->pin)
		rv = CKR_USER_NOT_LOGGED_IN;
	if (rv == CKR_OK) {
		rv = t->fn->C_Login(s, CKU_USER, (CK_UTF8CHAR *)t->pin, strlen(t->pin));
		if (rv == CKR_USER_ALREADY_LOGGED_IN)
			rv = CKR_OK;
	}
	return rv;
}

/* In a child after fork(): initialise the module again, find the token and
 * log in, once; a session stays open so the login lasts.  SoftHSM with
 * several processes starting at once on one token directory sometimes
 * hides the token or fails the login; C_Finalize + C_Initialize recovers,
 * so that is tried a few times. */
static cmk_rc child_init(bench_tok *t)
{
	pthread_mutex_lock(&t->mu);
	CK_RV rv = CKR_OK;
	const char *call = "C_Initialize (after fork)";
	for (int i = 0; t->pid != getpid() && i < 5; i++) {
		if (i) {
			struct timespec ts = { 0, 20000000L * i };
			nanosleep(&ts, NULL);
		}
		t->fn->C_Finalize(NULL);
		rv = initialize(t);
		t->owned = 0; /* a child leaves with _exit() */
		call = "C_Initialize (after fork)";
		if (rv == CKR_OK && (rv = refind_slot(t)) != CKR_OK)
			call = "C_GetSlotList (after fork)";
		CK_SESSION_HANDLE s;
		if (rv == CKR_OK &&
		    (rv = t->fn->C_OpenSession(t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
					       NULL, &s)) != CKR_OK)
			call = "C_OpenSession (after fork)";
		if (rv == CKR_OK && (rv = login(t, s)) != CKR_OK)
			call = "C_Login (after fork)";
		if (rv != CKR_OK)
			t->pid = 0; /* again */
	}
	if (rv == CKR_OK)
		t->gen++;
	pthread_mutex_unlock(&t->mu);
	return rv == CKR_OK ? CMK_OK : btok_fail(t, rv, call);
}

cmk_rc btok_session(bench_tok *t, CK_SESSION_HANDLE *s)
{
	BENCH_TRY(child_init(t));
	CK_RV rv =
		t->fn->C_OpenSession(t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s);
	if (rv != CKR_OK)
		return btok_fail(t, rv, "C_OpenSession");
	if ((rv = login(t, *s)) != CKR_OK) {
		t->fn->C_CloseSession(*s);
		return btok_fail(t, rv, "C_Login");
	}
	return CMK_OK;
}

int btok_logged_in(bench_tok *t)
{
	CK_SESSION_HANDLE s;
	CK_SESSION_INFO si;
	if (child_init(t) != CMK_OK ||
	    t->fn->C_OpenSession(t->slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
		return 0;
	int in = t->fn->C_GetSessionInfo(s, &si) == CKR_OK &&
		 (si.state == CKS_RW_USER_FUNCTIONS || si.state == CKS_RO_USER_FUNCTIONS);
	t->fn->C_CloseSession(s);
	return in;
}

void btok_session_close(bench_tok *t, CK_SESSION_HANDLE s)
{
	if (t->pid == getpid())
		t->fn->C_CloseSession(s);
}

int btok_has_mech(bench_tok *t, CK_MECHANISM_TYPE mech, CK_FLAGS flags)
{
	CK_MECHANISM_INFO mi;
	return t->fn->C_GetMechanismInfo(t->slot, mech, &mi) == CKR_OK &&
	       (mi.flags & flags) == flags;
}

cmk_rc btok_find(bench_tok *t, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n,
		 CK_OBJECT_HANDLE **out, size_t *count)
{
	*out = NULL;
	*count = 0;
	size_t cap = 0;
	CK_RV rv = t->fn->C_FindObjectsInit(s, tmpl, n);
	if (rv != CKR_OK)
		return btok_fail(t, rv, "C_FindObjectsInit");
	for (;;) {
		if (*count + 64 > cap) {
			CK_OBJECT_HANDLE *p = realloc(*out, (cap + 256) * sizeof *p);
			if (!p) {
				rv = CKR_HOST_MEMORY;
				break;
			}
			*out = p;
			cap += 256;
		}
		CK_ULONG got = 0;
		rv = t->fn->C_FindObjects(s, *out + *count, 64, &got);
		if (rv != CKR_OK || got == 0)
			break;
		*count += got;
	}
	t->fn->C_FindObjectsFinal(s);
	if (rv != CKR_OK) {
		free(*out);
		*out = NULL;
		*count = 0;
		return btok_fail(t, rv, "C_FindObjects");
	}
	return CMK_OK;
}

cmk_rc btok_count(bench_tok *t, size_t *n)
{
	CK_SESSION_HANDLE s;
	BENCH_TRY(btok_session(t, &s));
	CK_OBJECT_HANDLE *h;
	cmk_rc rc = btok_find(t, s, NULL, 0, &h, n);
	free(h);
	btok_session_close(t, s);
	return rc;
}

void btok_oaep_params(const char *md, CK_RSA_PKCS_OAEP_PARAMS *p)
{
	memset(p, 0, sizeof *p);
	p->source = CKZ_DATA_SPECIFIED;
	if (!strcmp(md, "SHA1")) {
		p->hashAlg = CKM_SHA_1;
		p->mgf = CKG_MGF1_SHA1;
	} else if (!strcmp(md, "SHA384")) {
		p->hashAlg = CKM_SHA384;
		p->mgf = CKG_MGF1_SHA384;
	} else if (!strcmp(md, "SHA512")) {
		p->hashAlg = CKM_SHA512;
		p->mgf = CKG_MGF1_SHA512;
	} else {
		p->hashAlg = CKM_SHA256;
		p->mgf = CKG_MGF1_SHA256;
	}
}
