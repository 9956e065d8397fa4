/*
 * decoder.c - key reference files (docs/pem-reference.md): wherever OpenSSL
 * reads a private key from a file (PEM_read_bio_PrivateKey, OSSL_DECODER,
 * SSL_CTX_use_PrivateKey_file, the file: store), a "CMK KEY REFERENCE" PEM
 * block becomes the vault key it names.
 *
 * Two decoders, as OpenSSL chains them:
 *   "DER" (input=pem)   the PEM block to its DER body, checked, with the
 *                       data structure "CmkKeyReference"; any other PEM
 *                       block is left to the other decoders.
 *   "RSA" (input=der, structure=CmkKeyReference)  the DER body to the key:
 *                       the vault is opened, its token must be the one the
 *                       reference names, and the key is loaded as the store
 *                       loads a cmk:// URI (a versionless reference is the
 *                       current version now).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/err.h>
#include <openssl/pem.h>

/* A reference block, its text included, is never larger than this. */
#define CMK_KEYREF_MAX	     4096
#define CMK_KEYREF_STRUCTURE "CmkKeyReference"
#include "prov.h"

static OSSL_FUNC_decoder_newctx_fn dec_newctx;
static OSSL_FUNC_decoder_freectx_fn dec_freectx;
static OSSL_FUNC_decoder_decode_fn pem_decode;
static OSSL_FUNC_decoder_decode_fn der_decode;
static OSSL_FUNC_decoder_does_selection_fn der_does_selection;

#define BEGIN_LINE "-----BEGIN " CMK_KEYREF_PEM_LABEL "-----"
#define END_LINE   "-----END " CMK_KEYREF_PEM_LABEL "-----"
/* How far the PEM decoder looks for a BEGIN line before giving up. */
#define SCAN_MAX (1024 * 1024)

static void *dec_newctx(void *provctx)
{
	return provctx;
}

static void dec_freectx(void *ctx)
{
}

/* A line without its end of line; 1 if there is one. */
static int get_line(BIO *in, char *line, int cap, size_t *total)
{
	int n = BIO_gets(in, line, cap);

	if (n <= 0)
		return 0;
	*total += (size_t)n;
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return 1;
}

/* The block, from its BEGIN line on, into `mem`; 1 when the END line came. */
static int read_block(BIO *in, BIO *mem, size_t *total)
{
	char line[256];
	size_t size = sizeof BEGIN_LINE;

	BIO_puts(mem, BEGIN_LINE "\n");
	while (get_line(in, line, sizeof line, total)) {
		size += strlen(line) + 1;
		if (size > CMK_KEYREF_MAX)
			return 0;
		BIO_puts(mem, line);
		BIO_puts(mem, "\n");
		if (strcmp(line, END_LINE) == 0)
			return 1;
	}
	return 0;
}

static cmkp_key *open_ref(cmkp_prov *p, const cmk_keyref *r, OSSL_PASSPHRASE_CALLBACK *pw_cb,
			  void *pw_cbarg);

static int pem_decode(void *ctx, OSSL_CORE_BIO *cin, int selection, OSSL_CALLBACK *data_cb,
		      void *data_cbarg, OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
	cmkp_prov *p = ctx;
	BIO *in, *mem = NULL;
	char line[256], *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	long len = 0;
	size_t total = 0;
	cmk_keyref r;
	cmkp_key *k;
	int ok = 1, found = 0;

	if ((in = BIO_new_from_core_bio(p->libctx, cin)) == NULL)
		return 0;
	/* the next PEM block: ours, or the other decoders' business */
	while (total < SCAN_MAX && get_line(in, line, sizeof line, &total)) {
		if (strncmp(line, "-----BEGIN ", 11) == 0) {
			found = strcmp(line, BEGIN_LINE) == 0;
			break;
		}
	}
	if (!found)
		goto out;
	ok = 0;
	if ((mem = BIO_new(BIO_s_mem())) == NULL)
		goto out;
	if (!read_block(in, mem, &total)) {
		CMKP_ERR(p, CMKP_R_KEYREF,
			 "%s block: truncated or too long (no %s line within "
			 "%d bytes)",
			 CMK_KEYREF_PEM_LABEL, END_LINE, CMK_KEYREF_MAX);
		goto out;
	}
	ERR_set_mark();
	if (!PEM_read_bio(mem, &name, &header, &der, &len)) {
		ERR_pop_to_mark();
		CMKP_ERR(p, CMKP_R_KEYREF, "%s block: its base64 body is damaged",
			 CMK_KEYREF_PEM_LABEL);
		goto out;
	}
	ERR_pop_to_mark();
	if (cmk_keyref_decode(der, (size_t)len, &r) != CMK_OK) {
		CMKP_ERR(p, CMKP_R_KEYREF, "%s block%s%s: %s", CMK_KEYREF_PEM_LABEL,
			 r.kid[0] ? " of " : "", r.kid, cmk_last_error());
		goto out;
	}
	/*
	 * Open the key here already: OpenSSL's file store drops the errors of
	 * the DER stage, so a reference that cannot be loaded is reported
	 * here, where they reach the application.  The vault stays open for
	 * the DER stage.
	 */
	if ((k = open_ref(p, &r, pw_cb, pw_cbarg)) == NULL)
		goto out;
	cmkp_key_free(k);
	{
		OSSL_PARAM params[5];
		int type = OSSL_OBJECT_PKEY;

		params[0] = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &type);
		params[1] = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE, "RSA", 0);
		params[2] = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_STRUCTURE,
							     CMK_KEYREF_STRUCTURE, 0);
		params[3] =
			OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_DATA, der, (size_t)len);
		params[4] = OSSL_PARAM_construct_end();
		ok = data_cb(params, data_cbarg);
	}
out:
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(der);
	BIO_free(mem);
	BIO_free(in);
	return ok;
}

static int der_does_selection(void *provctx, int selection)
{
	/* a reference gives a whole key pair; public-only readers get it too */
	return selection == 0 || (selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0;
}

static void fmt_time(int64_t t, char buf[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, 32, "%lld", (long long)t);
}

/* The vault of the reference is on the token it names: the token's label
 * and serial number and the vault's creation time (a version 1 reference
 * has no serial number: label and time only). */
static int same_token(cmkp_prov *p, cmk_ctx *ctx, const cmk_keyref *r)
{
	cmk_vault_info info;
	char want[32], have[32], want_serial[40] = "", have_serial[40] = "";
	cmk_rc rc;

	if ((rc = cmk_vault_info_get(ctx, &info)) != CMK_OK) {
		CMKP_ERR_RC(p, rc);
		return 0;
	}
	if (strcmp(info.token_label, r->token) == 0 && info.created == r->created &&
	    (r->version == 1 || strcmp(info.token_serial, r->serial) == 0))
		return 1;
	fmt_time(r->created, want);
	fmt_time(info.created, have);
	if (r->version != 1) {
		snprintf(want_serial, sizeof want_serial, "serial '%s', ", r->serial);
		snprintf(have_serial, sizeof have_serial, "serial '%s', ", info.token_serial);
	}
	CMKP_ERR(p, CMKP_R_KEYREF,
		 "key reference %s names vault %s on token '%s' (%screated "
		 "%s), but vault %s here is on token '%s' (%screated %s): the reference was "
		 "made for another token",
		 r->kid, cmk_ctx_vault(ctx), r->token, want_serial, want, cmk_ctx_vault(ctx),
		 info.token_label, have_serial, have);
	return 0;
}

/* The key a reference names, on the token it names. */
static cmkp_key *open_ref(cmkp_prov *p, const cmk_keyref *r, OSSL_PASSPHRASE_CALLBACK *pw_cb,
			  void *pw_cbarg)
{
	char vault[64], name[CMK_NAME_MAX], version[CMK_VERSION_LEN + 1];
	cmkp_key *k = NULL;
	cmk_ctx *vctx;
	int ok;

	cmkp_pw_push(p, pw_cb, pw_cbarg);
	ok = cmk_kid_parse(r->kid, vault, name, version) == CMK_OK &&
	     (vctx = cmkp_vault_ctx(p, vault)) != NULL && same_token(p, vctx, r) &&
	     (k = cmkp_key_open_uri(p, r->kid)) != NULL;
	cmkp_pw_pop(p);
	if (!ok)
		CMKP_ERR(p, CMKP_R_KEYREF,
			 "the key reference to %s (token '%s') cannot be "
			 "loaded (the reason is the error before this one)",
			 r->kid, r->token);
	return k;
}

static int der_decode(void *ctx, OSSL_CORE_BIO *cin, int selection, OSSL_CALLBACK *data_cb,
		      void *data_cbarg, OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
	cmkp_prov *p = ctx;
	unsigned char buf[CMK_KEYREF_MAX + 1];
	cmkp_key *k = NULL;
	cmk_keyref r;
	size_t len = 0;
	int n, ok;
	BIO *in;

	if ((in = BIO_new_from_core_bio(p->libctx, cin)) == NULL)
		return 0;
	while (len < sizeof buf && (n = BIO_read(in, buf + len, (int)(sizeof buf - len))) > 0)
		len += (size_t)n;
	BIO_free(in);
	/* not a reference (any DER may be offered): the other decoders' */
	if (cmk_keyref_decode(buf, len, &r) != CMK_OK)
		return 1;
	if ((k = open_ref(p, &r, pw_cb, pw_cbarg)) == NULL)
		return 0;
	ok = cmkp_give_reference(&k, data_cb, data_cbarg);
	cmkp_key_free(k); /* NULL when keymgmt load() took it */
	return ok;
}

const OSSL_DISPATCH cmkp_decoder_pem_functions[] = {
	{ OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))dec_newctx },
	{ OSSL_FUNC_DECODER_FREECTX, (void (*)(void))dec_freectx },
	{ OSSL_FUNC_DECODER_DECODE, (void (*)(void))pem_decode },
	{ 0, NULL },
};

const OSSL_DISPATCH cmkp_decoder_der_functions[] = {
	{ OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))dec_newctx },
	{ OSSL_FUNC_DECODER_FREECTX, (void (*)(void))dec_freectx },
	{ OSSL_FUNC_DECODER_DOES_SELECTION, (void (*)(void))der_does_selection },
	{ OSSL_FUNC_DECODER_DECODE, (void (*)(void))der_decode },
	{ 0, NULL },
};
