/*
 * keyref.c - DER of the key reference (docs/pem-reference.md):
 *
 *   CmkKeyReference ::= SEQUENCE {
 *       version      INTEGER,       -- 2 (1: written by cmk 0.1.0, still read)
 *       keyId        UTF8String,    -- cmk://VAULT/keys/NAME[/VERSION]
 *       tokenLabel   UTF8String,    -- label of the vault's token
 *       tokenSerial  [0] IMPLICIT UTF8String OPTIONAL,
 *                                   -- its serial number; in version 2 only
 *       vaultCreated INTEGER,       -- the vault's creation time, unix seconds
 *       check        OCTET STRING   -- SHA-256, see check() below
 *   }
 *
 * The check is a digest, not a MAC: it catches a damaged or edited block
 * (which could otherwise name another key of the vault), while who may use
 * a key is decided by the vault's access policies at load time.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "util/err.h"

#define KEYREF_VERSION 2 /* the one written; 1 is read too */

typedef struct CMK_KEYREF_st {
	ASN1_INTEGER *version;
	ASN1_UTF8STRING *kid;
	ASN1_UTF8STRING *token;
	ASN1_UTF8STRING *serial; /* NULL in version 1 */
	ASN1_INTEGER *created;
	ASN1_OCTET_STRING *check;
} CMK_KEYREF;

DECLARE_ASN1_FUNCTIONS(CMK_KEYREF)

ASN1_SEQUENCE(CMK_KEYREF) = {
	ASN1_SIMPLE(CMK_KEYREF, version, ASN1_INTEGER),
	ASN1_SIMPLE(CMK_KEYREF, kid, ASN1_UTF8STRING),
	ASN1_SIMPLE(CMK_KEYREF, token, ASN1_UTF8STRING),
	ASN1_IMP_OPT(CMK_KEYREF, serial, ASN1_UTF8STRING, 0),
	ASN1_SIMPLE(CMK_KEYREF, created, ASN1_INTEGER),
	ASN1_SIMPLE(CMK_KEYREF, check, ASN1_OCTET_STRING),
} ASN1_SEQUENCE_END(CMK_KEYREF)

IMPLEMENT_ASN1_FUNCTIONS(CMK_KEYREF)

/* SHA-256 of "CMK KEY REFERENCE 2" NUL keyId NUL tokenLabel NUL tokenSerial
 * NUL created (decimal); version 1 has no tokenSerial and its NUL. */
static int check(const cmk_keyref *r, int version, unsigned char md[32])
{
	char buf[64 + CMK_KID_MAX + 64 + 32];
	int n;
	size_t mdlen = 0;

	if (version == 1)
		n = snprintf(buf, sizeof buf, "%s 1%c%s%c%s%c%lld", CMK_KEYREF_PEM_LABEL, 0, r->kid,
			     0, r->token, 0, (long long)r->created);
	else
		n = snprintf(buf, sizeof buf, "%s %d%c%s%c%s%c%s%c%lld", CMK_KEYREF_PEM_LABEL,
			     version, 0, r->kid, 0, r->token, 0, r->serial, 0,
			     (long long)r->created);
	if (n < 0 || (size_t)n >= sizeof buf)
		return 0;
	/* never through cmk.so itself (this runs inside the provider too) */
	return EVP_Q_digest(NULL, "SHA256", "provider!=cmk", buf, (size_t)n, md, &mdlen) &&
	       mdlen == 32;
}

cmk_rc cmk_keyref_encode(const cmk_keyref *r, uint8_t **der, size_t *len)
{
	return_if_fail(r && der && len);
	CMK_KEYREF *a = CMK_KEYREF_new();
	unsigned char md[32], *d = NULL;
	int n = -1;

	*der = NULL;
	ERR_set_mark();
	if (a != NULL && check(r, KEYREF_VERSION, md) &&
	    ASN1_INTEGER_set_int64(a->version, KEYREF_VERSION) &&
	    ASN1_STRING_set(a->kid, r->kid, (int)strlen(r->kid)) &&
	    ASN1_STRING_set(a->token, r->token, (int)strlen(r->token)) &&
	    (a->serial = ASN1_UTF8STRING_new()) != NULL &&
	    ASN1_STRING_set(a->serial, r->serial, (int)strlen(r->serial)) &&
	    ASN1_INTEGER_set_int64(a->created, r->created) &&
	    ASN1_OCTET_STRING_set(a->check, md, sizeof md))
		n = i2d_CMK_KEYREF(a, &d);
	CMK_KEYREF_free(a);
	ERR_pop_to_mark();
	if (n > 0 && (*der = malloc((size_t)n)) != NULL) {
		memcpy(*der, d, (size_t)n);
		*len = (size_t)n;
	}
	OPENSSL_free(d);
	if (*der == NULL)
		return cmk_err(n > 0 ? CMK_E_NOMEM : CMK_E_INTERNAL,
			       "cannot encode the key reference of %s", r->kid);
	return CMK_OK;
}

/* A UTF8String into a C string: no NUL inside, fits. */
static int get_str(const ASN1_UTF8STRING *s, char *out, size_t cap)
{
	int n = ASN1_STRING_length(s);
	const unsigned char *d = ASN1_STRING_get0_data(s);

	if (n < 0 || (size_t)n >= cap || memchr(d, 0, (size_t)n) != NULL)
		return 0;
	memcpy(out, d, (size_t)n);
	out[n] = '\0';
	return 1;
}

cmk_rc cmk_keyref_decode(const uint8_t *der, size_t len, cmk_keyref *r)
{
	return_if_fail(der && r);
	const unsigned char *p = der;
	CMK_KEYREF *a;
	unsigned char md[32];
	int64_t v = 0;
	const char *why = NULL;
	unsigned char *canon = NULL;
	int n;

	memset(r, 0, sizeof *r);
	ERR_set_mark();
	a = len <= CMK_KEYREF_DER_MAX ? d2i_CMK_KEYREF(NULL, &p, (long)len) : NULL;
	ERR_pop_to_mark(); /* the reason below says it in words */
	if (a == NULL)
		return cmk_err(CMK_E_FORMAT,
			       "its body is not a CmkKeyReference (damaged or truncated)");
	if (p != der + len)
		why = "its body has bytes after the CmkKeyReference";
	else if ((n = i2d_CMK_KEYREF(a, &canon)) <= 0 || (size_t)n != len ||
		 memcmp(canon, der, len) != 0)
		/* d2i takes BER too (long-form lengths, constructed strings);
		 * one reference has one encoding, the one cmk writes */
		why = "its body is not in DER (a non-canonical encoding)";
	else if (!ASN1_INTEGER_get_int64(&v, a->version) || (v != 1 && v != 2))
		why = "it is of an unknown version (this cmk reads versions 1 and 2)";
	else if ((v == 1) != (a->serial == NULL))
		why = v == 1 ? "it is of version 1 and has a token serial number"
			     : "it is of version 2 and has no token serial number";
	else if (!get_str(a->kid, r->kid, sizeof r->kid) || strncmp(r->kid, "cmk://", 6) != 0)
		why = "its key id is not a cmk:// id";
	else if (!get_str(a->token, r->token, sizeof r->token))
		why = "its token label is malformed";
	else if (a->serial != NULL && !get_str(a->serial, r->serial, sizeof r->serial))
		why = "its token serial number is malformed";
	else if (!ASN1_INTEGER_get_int64(&r->created, a->created))
		why = "its vault creation time is malformed";
	else if (ASN1_STRING_length(a->check) != 32 || !check(r, (int)v, md) ||
		 memcmp(md, ASN1_STRING_get0_data(a->check), 32) != 0)
		why = "its check value does not match (the block was altered)";
	OPENSSL_free(canon);
	CMK_KEYREF_free(a);
	r->version = (int)v;
	/* on failure r->kid may still name the key, for messages */
	return why ? cmk_err(CMK_E_FORMAT, "%s", why) : CMK_OK;
}
