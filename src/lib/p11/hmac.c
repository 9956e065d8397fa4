/* hmac.c - HMAC-SHA-256 keys kept on the token (sensitive, not
 * extractable), for the metadata and audit MACs. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "p11/p11_int.h"
#include "util/err.h"

cmk_rc p11_hmac_key_find(p11_tok *t, const char *label, CK_OBJECT_HANDLE *h)
{
	return p11_hmac_keys_find(t, &label, 1, h);
}

static cmk_rc keys_find_once(p11_tok *t, const char *const *labels, size_t n, CK_OBJECT_HANDLE *h,
			     CK_RV *last)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof cls },
		{ CKA_SIGN, &yes, sizeof yes },
		{ CKA_LABEL, n == 1 ? (void *)labels[0] : NULL, n == 1 ? strlen(labels[0]) : 0 },
	};
	CK_OBJECT_HANDLE *v;
	size_t count;
	for (size_t i = 0; i < n; i++)
		h[i] = CK_INVALID_HANDLE;
	/* one label: searched by it; several: every secret key that signs,
	 * told apart by label (one search, not one per key) */
	p11_sess *s;
	CMK_TRY(p11_sess_get(t, &s));
	CK_RV rv = p11_find_in(t, s, tmpl, n == 1 ? 3 : 2, &v, &count);
	*last = rv;
	if (rv != CKR_OK) {
		p11_sess_put(t, s, rv);
		return p11_fail(rv, t->what, "C_FindObjects");
	}
	for (size_t i = 0; i < count; i++) {
		char lab[64] = "";
		const char *l = NULL;
		size_t len = 0;
		/* the label: a key destroyed since the search is left out; a token
		 * that fails is an error, not "no MAC key" */
		if (n > 1) {
			CK_ATTRIBUTE a = { CKA_LABEL, lab, sizeof lab - 1 };
			rv = p11_C_GetAttributeValue(t->mod, s->h, p11_h_raw(t, v[i]), &a, 1);
			if (rv != CKR_OK && rv != CKR_OBJECT_HANDLE_INVALID &&
			    rv != CKR_BUFFER_TOO_SMALL) {
				*last = rv;
				p11_sess_put(t, s, rv);
				free(v);
				return p11_fail(rv, t->what, "C_GetAttributeValue");
			}
			if (rv != CKR_OK)
				continue; /* destroyed since the search, or a longer label */
			l = lab;
			len = a.ulValueLen;
		}
		/* vault init makes exactly one of each, under the vault lock */
		for (size_t k = 0; k < n; k++)
			if (h[k] == CK_INVALID_HANDLE &&
			    (n == 1 ||
			     (len == strlen(labels[k]) && memcmp(l, labels[k], len) == 0)))
				h[k] = v[i];
	}
	p11_sess_put(t, s, CKR_OK);
	free(v);
	return CMK_OK;
}

cmk_rc p11_hmac_keys_find(p11_tok *t, const char *const *labels, size_t n, CK_OBJECT_HANDLE *h)
{
	/* once more on the module initialised again when the connection
	 * turned out lost (as p11_find()) */
	CK_RV last = CKR_OK;
	cmk_rc rc = keys_find_once(t, labels, n, h, &last);
	if (rc != CMK_OK && p11_rv_lost(last))
		rc = keys_find_once(t, labels, n, h, &last);
	return rc;
}

cmk_rc p11_hmac_key_create(p11_tok *t, const char *label, CK_OBJECT_HANDLE *h)
{
	CK_MECHANISM mech = { CKM_GENERIC_SECRET_KEY_GEN, NULL, 0 };
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_ULONG len = 32;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof cls },
		{ CKA_KEY_TYPE, &kt, sizeof kt },
		{ CKA_VALUE_LEN, &len, sizeof len },
		{ CKA_TOKEN, &yes, sizeof yes },
		{ CKA_PRIVATE, &yes, sizeof yes },
		{ CKA_SENSITIVE, &yes, sizeof yes },
		{ CKA_EXTRACTABLE, &no, sizeof no },
		{ CKA_SIGN, &yes, sizeof yes },
		{ CKA_VERIFY, &yes, sizeof yes },
		/* every other usage false: SoftHSM's defaults include them */
		{ CKA_ENCRYPT, &no, sizeof no },
		{ CKA_DECRYPT, &no, sizeof no },
		{ CKA_WRAP, &no, sizeof no },
		{ CKA_UNWRAP, &no, sizeof no },
		{ CKA_DERIVE, &no, sizeof no },
		{ CKA_MODIFIABLE, &no, sizeof no },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	p11_sess *s;
	CMK_TRY(p11_sess_get(t, &s));
	p11_note_write();
	CK_RV rv = p11_C_GenerateKey(t->mod, s->h, &mech, tmpl, sizeof tmpl / sizeof tmpl[0], h);
	if (rv == CKR_OK)
		*h = p11_h_tag(t, *h);
	p11_sess_put(t, s, rv);
	if (rv != CKR_OK)
		return p11_fail(rv, t->what, "C_GenerateKey (HMAC key)");
	return CMK_OK;
}

/* The token key labelled label, on a borrowed session (tagged). */
static CK_RV key_in(p11_tok *t, p11_sess *s, const char *label, CK_OBJECT_HANDLE *h)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof cls },
		{ CKA_SIGN, &yes, sizeof yes },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	CK_OBJECT_HANDLE *v;
	size_t n;
	CK_RV rv = p11_find_in(t, s, tmpl, 3, &v, &n);
	if (rv != CKR_OK)
		return rv;
	*h = n ? v[0] : CK_INVALID_HANDLE;
	free(v);
	return CKR_OK;
}

cmk_rc p11_hmac(p11_tok *t, CK_OBJECT_HANDLE *keyp, const char *label, const uint8_t *a,
		size_t alen, const uint8_t *b, size_t blen, uint8_t mac[32])
{
	CK_MECHANISM mech = { CKM_SHA256_HMAC, NULL, 0 };
	p11_sess *s;
	CMK_TRY(p11_sess_get(t, &s));
	CK_OBJECT_HANDLE key = p11_h_raw(t, *keyp);
	CK_RV rv = key == CK_INVALID_HANDLE ? CKR_KEY_HANDLE_INVALID
					    : p11_C_SignInit(t->mod, s->h, &mech, key);
	if ((rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID) && label) {
		/* of an earlier generation, or a session copy gone with its
		 * session: the token key, found on this session (p11.h) */
		rv = key_in(t, s, label, keyp);
		key = rv == CKR_OK ? p11_h_raw(t, *keyp) : CK_INVALID_HANDLE;
		if (rv == CKR_OK)
			rv = key == CK_INVALID_HANDLE ? CKR_KEY_HANDLE_INVALID
						      : p11_C_SignInit(t->mod, s->h, &mech, key);
	}
	CK_ULONG len = 32;
	if (rv == CKR_OK && !blen) {
		/* one part (every audit record): one call fewer, which counts
		 * through p11-kit server */
		rv = p11_C_Sign(t->mod, s->h, (CK_BYTE_PTR)a, alen, mac, &len);
	} else {
		if (rv == CKR_OK && alen)
			rv = p11_C_SignUpdate(t->mod, s->h, (CK_BYTE_PTR)a, alen);
		if (rv == CKR_OK)
			rv = p11_C_SignUpdate(t->mod, s->h, (CK_BYTE_PTR)b, blen);
		if (rv == CKR_OK) /* a failed update has ended the operation */
			rv = p11_C_SignFinal(t->mod, s->h, mac, &len);
	}
	p11_sess_put(t, s, rv);
	if (rv == CKR_OK && len != 32)
		rv = CKR_GENERAL_ERROR;
	if (rv != CKR_OK)
		return p11_fail(rv, t->what, "C_Sign (HMAC)");
	return CMK_OK;
}

/* A session-object copy of a token key: still inside the token, still
 * sensitive and not extractable, but SoftHSM need not re-check its object
 * file on every use.  It lives as long as the session that made it, so
 * callers keep the token key's handle to copy again. */
cmk_rc p11_key_session_copy(p11_tok *t, CK_OBJECT_HANDLE key, CK_OBJECT_HANDLE *copy)
{
	CK_BBOOL no = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = { { CKA_TOKEN, &no, sizeof no } };
	p11_sess *s;
	CMK_TRY(p11_sess_get(t, &s));
	CK_RV rv = p11_C_CopyObject(t->mod, s->h, p11_h_raw(t, key), tmpl, 1, copy);
	if (rv == CKR_OK)
		*copy = p11_h_tag(t, *copy);
	/* the copy dies with its session: keep that session out of the pool's
	 * closing path by putting it back like any other */
	p11_sess_put(t, s, rv);
	if (rv != CKR_OK)
		return p11_fail(rv, t->what, "C_CopyObject");
	return CMK_OK;
}
