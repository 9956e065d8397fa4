/*
 * store.c - OSSL_STORE loader for the "cmk" and "pkcs11" URI schemes.
 *
 * A URI names one key.  It is handed to OpenSSL by reference (the keymgmt's
 * load() takes it over), so the private half stays on the token; when only
 * a public key is expected it is handed over as a SubjectPublicKeyInfo.
 */
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/err.h>
#include <openssl/store.h>

#include "prov.h"

typedef struct store_ctx {
	cmkp_prov *prov;
	char *uri;
	int listing; /* a pkcs11: URI naming no object: every key */
	char **kids; /* listing: cmk://VAULT/keys/NAME of each key */
	size_t nkids, next;
	int expect; /* OSSL_STORE_INFO_* or 0: anything */
	int failed; /* the load failed; eof after the next load */
	int done;
} store_ctx;

static OSSL_FUNC_store_open_fn store_open;
static OSSL_FUNC_store_settable_ctx_params_fn store_settable_ctx_params;
static OSSL_FUNC_store_set_ctx_params_fn store_set_ctx_params;
static OSSL_FUNC_store_load_fn store_load;
static OSSL_FUNC_store_eof_fn store_eof;
static OSSL_FUNC_store_close_fn store_close;

/* A pkcs11: URI with no object= and no id= names no key: it lists them. */
static int is_listing(const char *uri)
{
	if (strncasecmp(uri, "pkcs11:", 7) != 0)
		return 0;
	for (const char *a = uri + 7; *a; a += strcspn(a, ";?"), a += *a != '\0') {
		if (strncmp(a, "object=", 7) == 0 || strncmp(a, "id=", 3) == 0)
			return 0;
	}
	return 1;
}

static int add_kid(store_ctx *c, const char *kid)
{
	char **n = OPENSSL_realloc(c->kids, (c->nkids + 1) * sizeof *n);

	if (n == NULL)
		return 0;
	c->kids = n;
	if ((c->kids[c->nkids] = OPENSSL_strdup(kid)) == NULL)
		return 0;
	c->nkids++;
	return 1;
}

/* The keys of every vault of the configuration (vaults that cannot be
 * opened are named in the error queue and skipped). */
static int list_keys(store_ctx *c)
{
	char **names = NULL;
	size_t n = 0;
	cmk_rc rc;
	int ok = 1;

	if ((rc = cmk_config_vaults(c->prov->conf, &names, &n)) != CMK_OK) {
		CMKP_ERR_RC(c->prov, rc);
		return 0;
	}
	for (size_t i = 0; i < n && ok; i++) {
		cmk_ctx *ctx = cmkp_vault_ctx(c->prov, names[i]);
		cmk_key_info *keys = NULL;
		size_t nk = 0;

		if (ctx == NULL)
			continue;
		if ((rc = cmk_key_list(ctx, 0, &keys, &nk)) != CMK_OK) {
			CMKP_ERR_RC(c->prov, rc);
			continue;
		}
		for (size_t k = 0; k < nk && ok; k++)
			ok = add_kid(c, keys[k].kid);
		cmk_free(keys);
	}
	cmk_strv_free(names, n);
	return ok;
}

static void *store_open(void *provctx, const char *uri)
{
	store_ctx *c = OPENSSL_zalloc(sizeof *c);

	if (c == NULL || (c->uri = OPENSSL_strdup(uri)) == NULL) {
		OPENSSL_free(c);
		return NULL;
	}
	c->prov = provctx;
	c->listing = is_listing(uri);
	return c;
}

static const OSSL_PARAM *store_settable_ctx_params(void *provctx)
{
	static const OSSL_PARAM settable[] = {
		OSSL_PARAM_int(OSSL_STORE_PARAM_EXPECT, NULL),
		OSSL_PARAM_END,
	};
	return settable;
}

static int store_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
	store_ctx *c = vctx;
	const OSSL_PARAM *p;

	p = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_EXPECT);
	if (p != NULL && !OSSL_PARAM_get_int(p, &c->expect))
		return 0;
	return 1;
}

static int give_public(cmkp_key *k, OSSL_CALLBACK *cb, void *cbarg)
{
	OSSL_PARAM params[5];
	int type = OSSL_OBJECT_PKEY, ok;
	uint8_t *der = NULL;
	size_t len = 0;
	cmk_rc rc;

	if ((rc = cmk_key_public_der(k->tok, &der, &len)) != CMK_OK) {
		CMKP_ERR_RC(k->prov, rc);
		return 0;
	}
	params[0] = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &type);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE, "RSA", 0);
	params[2] = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_STRUCTURE,
						     "SubjectPublicKeyInfo", 0);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_DATA, der, len);
	params[4] = OSSL_PARAM_construct_end();
	ok = cb(params, cbarg);
	cmk_free(der);
	return ok;
}

int cmkp_give_reference(cmkp_key **kp, OSSL_CALLBACK *cb, void *cbarg)
{
	OSSL_PARAM params[5];
	int type = OSSL_OBJECT_PKEY;
	char desc[CMK_KID_MAX + 32];

	snprintf(desc, sizeof desc, "cmk vault key %s", cmkp_key_name(*kp));
	params[0] = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &type);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE, "RSA", 0);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_REFERENCE, kp, sizeof *kp);
	params[3] = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DESC, desc, 0);
	params[4] = OSSL_PARAM_construct_end();
	return cb(params, cbarg);
}

static int give(store_ctx *c, cmkp_key *k, OSSL_CALLBACK *cb, void *cbarg)
{
	int ok;

	if (c->expect == OSSL_STORE_INFO_PUBKEY)
		ok = give_public(k, cb, cbarg);
	else
		ok = cmkp_give_reference(&k, cb, cbarg);
	cmkp_key_free(k); /* NULL when keymgmt load() took it */
	return ok;
}

/* Listing: the next key that opens (a disabled or not yet valid key is
 * skipped: it has no current version to hand out). */
static int load_next(store_ctx *c, OSSL_CALLBACK *cb, void *cbarg, OSSL_PASSPHRASE_CALLBACK *pw_cb,
		     void *pw_cbarg)
{
	cmkp_key *k = NULL;

	if (c->next == 0 && c->nkids == 0) {
		cmkp_pw_push(c->prov, pw_cb, pw_cbarg);
		if (!list_keys(c)) {
			cmkp_pw_pop(c->prov);
			c->done = 1;
			return 0;
		}
		cmkp_pw_pop(c->prov);
	}
	while (k == NULL && c->next < c->nkids) {
		ERR_set_mark();
		k = cmkp_key_open_uri(c->prov, c->kids[c->next++]);
		ERR_pop_to_mark();
	}
	if (c->next >= c->nkids)
		c->done = 1;
	if (k == NULL)
		return 1;
	return give(c, k, cb, cbarg);
}

static int store_load(void *vctx, OSSL_CALLBACK *object_cb, void *object_cbarg,
		      OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
	store_ctx *c = vctx;
	cmkp_key *k;
	int ok;

	/* After a failure, eof only comes with the next load, so that callers
	 * that stop at eof (openssl storeutl) see the error first. */
	if (c->done || c->failed) {
		c->done = 1;
		return 1;
	}
	/* a URI names a key: nothing else (certificates, CRLs...) is here */
	if (c->expect != 0 && c->expect != OSSL_STORE_INFO_PKEY &&
	    c->expect != OSSL_STORE_INFO_PUBKEY) {
		c->done = 1;
		return 1;
	}
	if (c->listing)
		return load_next(c, object_cb, object_cbarg, pw_cb, pw_cbarg);
	/* the PIN comes from the vault's pin_source (cmk.conf); pw_cb answers
	 * a "prompt" source */
	cmkp_pw_push(c->prov, pw_cb, pw_cbarg);
	k = cmkp_key_open_uri(c->prov, c->uri);
	cmkp_pw_pop(c->prov);
	if (k == NULL) {
		c->failed = 1;
		return 0;
	}
	ok = give(c, k, object_cb, object_cbarg);
	c->done = ok;
	c->failed = !ok;
	return ok;
}

static int store_eof(void *vctx)
{
	return ((store_ctx *)vctx)->done;
}

static int store_close(void *vctx)
{
	store_ctx *c = vctx;

	for (size_t i = 0; i < c->nkids; i++)
		OPENSSL_free(c->kids[i]);
	OPENSSL_free(c->kids);
	OPENSSL_free(c->uri);
	OPENSSL_free(c);
	return 1;
}

const OSSL_DISPATCH cmkp_store_functions[] = {
	{ OSSL_FUNC_STORE_OPEN, (void (*)(void))store_open },
	{ OSSL_FUNC_STORE_SETTABLE_CTX_PARAMS, (void (*)(void))store_settable_ctx_params },
	{ OSSL_FUNC_STORE_SET_CTX_PARAMS, (void (*)(void))store_set_ctx_params },
	{ OSSL_FUNC_STORE_LOAD, (void (*)(void))store_load },
	{ OSSL_FUNC_STORE_EOF, (void (*)(void))store_eof },
	{ OSSL_FUNC_STORE_CLOSE, (void (*)(void))store_close },
	{ 0, NULL },
};
