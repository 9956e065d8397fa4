/* object.c - finding, reading, writing and destroying token objects. */
#include "config.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "p11/p11_int.h"
#include "util/err.h"

static _Atomic unsigned long writes;

unsigned long p11_writes(void)
{
	return atomic_load(&writes);
}

void p11_note_write(void)
{
	atomic_fetch_add(&writes, 1);
}

cmk_rc p11_find(p11_tok *t, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE **objs, size_t *count)
{
	CK_RV rv = CKR_OK;
	size_t cap = 16, used = 0;
	CK_OBJECT_HANDLE *v = malloc(cap * sizeof *v);
	if (!v)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	/* A search names no handle, so when the connection turns out to be
	 * lost (a pooled session of a p11-kit server that went away) it runs
	 * again once, on the module re-initialised by p11_sess_get(): the first
	 * operation after the server is back works.  Handle-based calls are
	 * never retried: their handles belong to the lost generation. */
	for (int attempt = 0; attempt < 2; attempt++) {
		p11_sess *s;
		cmk_rc rc = p11_sess_get(t, &s);
		if (rc != CMK_OK) {
			free(v);
			return rc;
		}
		used = 0;
		rv = p11_C_FindObjectsInit(t->mod, s->h, tmpl, n);
		while (rv == CKR_OK) {
			CK_ULONG got = 0;
			if (used == cap) {
				CK_OBJECT_HANDLE *nv = realloc(v, 2 * cap * sizeof *v);
				if (!nv) {
					rv = CKR_HOST_MEMORY;
					break;
				}
				v = nv;
				cap *= 2;
			}
			rv = p11_C_FindObjects(t->mod, s->h, v + used, cap - used, &got);
			if (rv != CKR_OK || got == 0)
				break;
			used += got;
		}
		CK_RV frv = p11_C_FindObjectsFinal(t->mod, s->h);
		if (rv == CKR_OK)
			rv = frv == CKR_OPERATION_NOT_INITIALIZED ? CKR_OK : frv;
		p11_sess_put(t, s, rv);
		if (!p11_rv_lost(rv))
			break;
	}
	if (rv != CKR_OK) {
		free(v);
		return p11_fail(rv, t->what, "C_FindObjects");
	}
	*objs = v;
	*count = used;
	return CMK_OK;
}

cmk_rc p11_get_attrs(p11_tok *t, CK_OBJECT_HANDLE o, CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
	p11_sess *s;
	CMK_TRY(p11_sess_get(t, &s));
	CK_RV rv = p11_C_GetAttributeValue(t->mod, s->h, o, tmpl, n);
	p11_sess_put(t, s, rv);
	if (rv != CKR_OK)
		return p11_fail(rv, t->what, "C_GetAttributeValue");
	return CMK_OK;
}

cmk_rc p11_get_bytes(p11_tok *t, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, uint8_t **val,
		     size_t *len)
{
	uint8_t *buf = NULL;
	CK_ATTRIBUTE a = { type, NULL, 0 };
	p11_sess *s;
	CMK_TRY(p11_sess_get(t, &s));
	CK_RV rv = p11_C_GetAttributeValue(t->mod, s->h, o, &a, 1);
	if (rv == CKR_OK && a.ulValueLen != CK_UNAVAILABLE_INFORMATION) {
		buf = malloc(a.ulValueLen + 1);
		if (!buf) {
			rv = CKR_HOST_MEMORY;
		} else {
			a.pValue = buf;
			rv = p11_C_GetAttributeValue(t->mod, s->h, o, &a, 1);
		}
	}
	p11_sess_put(t, s, rv);
	if (rv != CKR_OK || a.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
		free(buf);
		return p11_fail(rv, t->what, "C_GetAttributeValue");
	}
	buf[a.ulValueLen] = 0;
	*val = buf;
	*len = a.ulValueLen;
	return CMK_OK;
}

cmk_rc p11_create(p11_tok *t, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *o)
{
	p11_sess *s;
	p11_note_write();
	CMK_TRY(p11_sess_get(t, &s));
	CK_RV rv = p11_C_CreateObject(t->mod, s->h, tmpl, n, o);
	p11_sess_put(t, s, rv);
	if (rv != CKR_OK)
		return p11_fail(rv, t->what, "C_CreateObject");
	return CMK_OK;
}

cmk_rc p11_destroy(p11_tok *t, CK_OBJECT_HANDLE o)
{
	p11_sess *s;
	p11_note_write();
	CMK_TRY(p11_sess_get(t, &s));
	CK_RV rv = p11_C_DestroyObject(t->mod, s->h, o);
	p11_sess_put(t, s, rv);
	if (rv == CKR_OBJECT_HANDLE_INVALID)
		return CMK_OK; /* already gone: destroying is idempotent */
	if (rv != CKR_OK)
		return p11_fail(rv, t->what, "C_DestroyObject");
	return CMK_OK;
}

/*
 * Records and tokens that refuse token data objects.  NSS softoken rejects
 * every CKO_DATA object with CKA_TOKEN or CKA_PRIVATE true
 * (CKR_ATTRIBUTE_VALUE_INVALID) and never reveals a token secret key's
 * CKA_VALUE; it keeps any standard attribute on a secret key, though.  So on
 * such a token a record is carried by an inert secret key (no usage flag,
 * sensitive, not extractable, a zero value) holding the record's
 * CKA_APPLICATION and CKA_LABEL, and its value in CKA_OBJECT_ID.  Which form
 * a token takes is learnt from the token: the first C_CreateObject refused,
 * or the first find that returns records (docs/tokens.md).
 */
enum { REC_UNKNOWN = 0, REC_DATA = 1, REC_KEY = 2 };

static int rec_form(p11_tok *t)
{
	pthread_mutex_lock(&t->lock);
	int f = t->records;
	pthread_mutex_unlock(&t->lock);
	return f;
}

static void rec_learn(p11_tok *t, int form)
{
	pthread_mutex_lock(&t->lock);
	t->records = form;
	pthread_mutex_unlock(&t->lock);
}

/* The C_CreateObject of one record in *rv; an error only when no session
 * could be had (then no call was made). */
static cmk_rc rec_create(p11_tok *t, int form, const char *app, const char *label,
			 const uint8_t *value, size_t len, int modifiable, CK_OBJECT_HANDLE *o,
			 CK_RV *rv)
{
	CK_OBJECT_CLASS cls = form == REC_KEY ? CKO_SECRET_KEY : CKO_DATA;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_BYTE zero[16] = { 0 };
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof cls },
		{ CKA_TOKEN, &yes, sizeof yes },
		{ CKA_PRIVATE, &yes, sizeof yes },
		{ CKA_MODIFIABLE, modifiable ? &yes : &no, sizeof no },
		{ CKA_APPLICATION, (void *)app, strlen(app) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ form == REC_KEY ? CKA_OBJECT_ID : CKA_VALUE, (void *)value, len },
		/* the carrier key: inert */
		{ CKA_KEY_TYPE, &kt, sizeof kt },
		{ CKA_VALUE, zero, sizeof zero },
		{ CKA_SENSITIVE, &yes, sizeof yes },
		{ CKA_EXTRACTABLE, &no, sizeof no },
		{ CKA_ENCRYPT, &no, sizeof no },
		{ CKA_DECRYPT, &no, sizeof no },
		{ CKA_SIGN, &no, sizeof no },
		{ CKA_VERIFY, &no, sizeof no },
		{ CKA_WRAP, &no, sizeof no },
		{ CKA_UNWRAP, &no, sizeof no },
		{ CKA_DERIVE, &no, sizeof no },
	};
	CK_ULONG n = form == REC_KEY ? sizeof tmpl / sizeof tmpl[0] : 7;
	p11_sess *s;
	p11_note_write();
	CMK_TRY(p11_sess_get(t, &s));
	*rv = p11_C_CreateObject(t->mod, s->h, tmpl, n, o);
	p11_sess_put(t, s, *rv);
	return CMK_OK;
}

cmk_rc p11_data_create(p11_tok *t, const char *app, const char *label, const uint8_t *value,
		       size_t len, int modifiable, CK_OBJECT_HANDLE *o)
{
	CK_OBJECT_HANDLE h;
	CK_RV rv;
	int form = rec_form(t);
	CMK_TRY(rec_create(t, form == REC_KEY ? REC_KEY : REC_DATA, app, label, value, len,
			   modifiable, &h, &rv));
	if (form == REC_UNKNOWN &&
	    (rv == CKR_ATTRIBUTE_VALUE_INVALID || rv == CKR_TEMPLATE_INCONSISTENT)) {
		form = REC_KEY;
		CMK_TRY(rec_create(t, REC_KEY, app, label, value, len, modifiable, &h, &rv));
	}
	if (rv != CKR_OK)
		return p11_fail(rv, t->what, "C_CreateObject");
	if (form == REC_UNKNOWN)
		form = REC_DATA;
	rec_learn(t, form);
	if (o)
		*o = h;
	return CMK_OK;
}

void p11_data_free(p11_data *d, size_t n)
{
	if (!d)
		return;
	for (size_t i = 0; i < n; i++) {
		free(d[i].app);
		free(d[i].value);
	}
	free(d);
}

static cmk_rc rec_find(p11_tok *t, int form, const char *app, p11_data **out, size_t *n)
{
	CK_OBJECT_CLASS cls = form == REC_KEY ? CKO_SECRET_KEY : CKO_DATA;
	CK_ATTRIBUTE_TYPE vtype = form == REC_KEY ? CKA_OBJECT_ID : CKA_VALUE;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof cls },
		{ CKA_TOKEN, &yes, sizeof yes },
		{ CKA_APPLICATION, (void *)app, app ? strlen(app) : 0 },
	};
	CK_OBJECT_HANDLE *h;
	size_t count;
	CMK_TRY(p11_find(t, tmpl, app ? 3 : 2, &h, &count));
	p11_data *d = calloc(count ? count : 1, sizeof *d);
	if (!d) {
		free(h);
		return cmk_err(CMK_E_NOMEM, "out of memory");
	}
	size_t used = 0;
	for (size_t i = 0; i < count; i++) {
		p11_data *x = &d[used];
		x->h = h[i];
		size_t alen;
		cmk_rc rc = p11_get_bytes(t, h[i], CKA_APPLICATION, (uint8_t **)&x->app, &alen);
		if (rc == CMK_OK)
			rc = p11_get_bytes(t, h[i], vtype, &x->value, &x->len);
		if (rc == CMK_E_P11) {
			/* destroyed by another process since the find (or, among
			 * secret keys, not a record): skip it */
			free(x->app);
			free(x->value);
			memset(x, 0, sizeof *x);
			continue;
		}
		if (rc != CMK_OK) {
			free(h);
			p11_data_free(d, used + 1);
			return rc;
		}
		used++;
	}
	free(h);
	*out = d;
	*n = used;
	return CMK_OK;
}

cmk_rc p11_data_find(p11_tok *t, const char *app, p11_data **out, size_t *n)
{
	int form = rec_form(t);
	if (form != REC_UNKNOWN)
		return rec_find(t, form, app, out, n);
	CMK_TRY(rec_find(t, REC_DATA, app, out, n));
	if (*n) {
		rec_learn(t, REC_DATA);
		return CMK_OK;
	}
	p11_data_free(*out, 0);
	CMK_TRY(rec_find(t, REC_KEY, app, out, n));
	if (*n)
		rec_learn(t, REC_KEY);
	return CMK_OK;
}
