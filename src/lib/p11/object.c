/* object.c - finding, reading, writing and destroying token objects. */
#include "config.h"
#include <stdatomic.h>
#include <stdio.h>
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

/*
 * Object handles carry the generation of the module they were found in.
 * A re-initialisation (after fork, a lost connection, another process's
 * writes: docs/design.md) makes every handle of the module invalid, and
 * SoftHSM then numbers objects again from 1, so a handle kept from before
 * names another object: a destroy, a copy, a decryption or a signature
 * would act on another key.  So the handles this layer hands out have the
 * module's generation in their upper 32 bits (with the top bit set), and
 * each is turned back into the module's number just before a call, under a
 * borrowed session (the generation cannot change then: module.c): one from
 * another generation becomes CK_INVALID_HANDLE, which the module refuses.
 * Where CK_OBJECT_HANDLE has 32 bits, or a module uses numbers of more than
 * 32 bits (t->wide), handles are the module's own, and only the borrowed
 * sessions keep each operation within one generation.
 */
#define TAG_BIT ((CK_OBJECT_HANDLE)1 << (sizeof(CK_OBJECT_HANDLE) * 8 - 1))
#define CAN_TAG (sizeof(CK_OBJECT_HANDLE) >= 8)

static CK_OBJECT_HANDLE gen_tag(p11_tok *t)
{
	unsigned g = p11_mod_gen(t->mod) & 0x7fffffffu;
	return CAN_TAG ? TAG_BIT | ((CK_OBJECT_HANDLE)g << (CAN_TAG ? 32 : 0)) : 0;
}

CK_OBJECT_HANDLE p11_h_tag(p11_tok *t, CK_OBJECT_HANDLE raw)
{
	if (!CAN_TAG || raw == CK_INVALID_HANDLE || atomic_load(&t->wide))
		return raw;
	if (raw >> (CAN_TAG ? 32 : 0)) {
		atomic_store(&t->wide, 1); /* not ours to number */
		return raw;
	}
	return gen_tag(t) | raw;
}

int p11_h_stale(p11_tok *t, CK_OBJECT_HANDLE h)
{
	if (!CAN_TAG || h == CK_INVALID_HANDLE || !(h & TAG_BIT) || atomic_load(&t->wide))
		return 0;
	return (h & ~(CK_OBJECT_HANDLE)0xffffffffu) != gen_tag(t);
}

CK_OBJECT_HANDLE p11_h_raw(p11_tok *t, CK_OBJECT_HANDLE h)
{
	if (!CAN_TAG || h == CK_INVALID_HANDLE || !(h & TAG_BIT) || atomic_load(&t->wide))
		return h;
	if (p11_h_stale(t, h))
		return CK_INVALID_HANDLE;
	return h & 0xffffffffu;
}

/* The objects matching tmpl, on a borrowed session (handles tagged). */
CK_RV p11_find_in(p11_tok *t, p11_sess *s, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE **objs,
		  size_t *count)
{
	size_t cap = 16, used = 0;
	CK_OBJECT_HANDLE *v = malloc(cap * sizeof *v);
	if (!v)
		return CKR_HOST_MEMORY;
	CK_RV rv = p11_C_FindObjectsInit(t->mod, s->h, tmpl, n);
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
	if (rv != CKR_OK) {
		free(v);
		return rv;
	}
	for (size_t i = 0; i < used; i++)
		v[i] = p11_h_tag(t, v[i]);
	*objs = v;
	*count = used;
	return CKR_OK;
}

cmk_rc p11_find(p11_tok *t, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE **objs, size_t *count)
{
	CK_RV rv = CKR_OK;
	/* A search names no handle, so when the connection turns out to be
	 * lost (a pooled session of a p11-kit server that went away) it runs
	 * again once, on the module re-initialised by p11_sess_get(): the first
	 * operation after the server is back works.  Handle-based calls are
	 * never retried: their handles belong to the lost generation. */
	for (int attempt = 0; attempt < 2; attempt++) {
		p11_sess *s;
		cmk_rc rc = p11_sess_get(t, &s);
		if (rc != CMK_OK)
			return rc;
		rv = p11_find_in(t, s, tmpl, n, objs, count);
		p11_sess_put(t, s, rv);
		if (!p11_rv_lost(rv))
			break;
	}
	if (rv != CKR_OK)
		return p11_fail(rv, t->what, "C_FindObjects");
	return CMK_OK;
}

cmk_rc p11_get_attrs(p11_tok *t, CK_OBJECT_HANDLE o, CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
	p11_sess *s;
	CMK_TRY(p11_sess_get(t, &s));
	CK_RV rv = p11_C_GetAttributeValue(t->mod, s->h, p11_h_raw(t, o), tmpl, n);
	p11_sess_put(t, s, rv);
	if (rv != CKR_OK)
		return p11_fail(rv, t->what, "C_GetAttributeValue");
	return CMK_OK;
}

/* One attribute's value (malloc'd, NUL-terminated) on a borrowed session. */
CK_RV p11_get_bytes_in(p11_tok *t, p11_sess *s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type,
		       uint8_t **val, size_t *len)
{
	uint8_t *buf = NULL;
	CK_ATTRIBUTE a = { type, NULL, 0 };
	CK_OBJECT_HANDLE raw = p11_h_raw(t, o);
	CK_RV rv = p11_C_GetAttributeValue(t->mod, s->h, raw, &a, 1);
	if (rv == CKR_OK && a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
		rv = CKR_ATTRIBUTE_TYPE_INVALID;
	if (rv == CKR_OK) {
		buf = malloc(a.ulValueLen + 1);
		if (!buf) {
			rv = CKR_HOST_MEMORY;
		} else {
			a.pValue = buf;
			rv = p11_C_GetAttributeValue(t->mod, s->h, raw, &a, 1);
		}
	}
	if (rv != CKR_OK) {
		free(buf);
		return rv;
	}
	buf[a.ulValueLen] = 0;
	*val = buf;
	*len = a.ulValueLen;
	return CKR_OK;
}

cmk_rc p11_get_bytes(p11_tok *t, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, uint8_t **val,
		     size_t *len)
{
	p11_sess *s;
	CMK_TRY(p11_sess_get(t, &s));
	CK_RV rv = p11_get_bytes_in(t, s, o, type, val, len);
	p11_sess_put(t, s, rv);
	if (rv != CKR_OK)
		return p11_fail(rv, t->what, "C_GetAttributeValue");
	return CMK_OK;
}

cmk_rc p11_create(p11_tok *t, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *o)
{
	p11_sess *s;
	p11_note_write();
	CMK_TRY(p11_sess_get(t, &s));
	CK_RV rv = p11_C_CreateObject(t->mod, s->h, tmpl, n, o);
	if (rv == CKR_OK)
		*o = p11_h_tag(t, *o);
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
	if (p11_h_stale(t, o)) {
		/* found before the module was initialised again: not "gone" */
		p11_sess_put(t, s, CKR_OK);
		return cmk_err(CMK_E_TOKEN,
			       "%s: C_DestroyObject not made: the object was found before the "
			       "module was initialised again",
			       t->what);
	}
	CK_RV rv = p11_C_DestroyObject(t->mod, s->h, p11_h_raw(t, o));
	p11_sess_put(t, s, rv);
	if (rv == CKR_OBJECT_HANDLE_INVALID)
		return CMK_OK; /* already gone: destroying is idempotent */
	if (rv != CKR_OK)
		return p11_fail(rv, t->what, "C_DestroyObject");
	return CMK_OK;
}

void p11_destroy_undo(p11_tok *t, CK_OBJECT_HANDLE o)
{
	char saved[512];
	const char *e = cmk_last_error();
	snprintf(saved, sizeof saved, "%s", e ? e : "");
	(void)p11_destroy(t, o);
	cmk_err(CMK_OK, "%s", saved);
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
	if (*rv == CKR_OK)
		*o = p11_h_tag(t, *o);
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

static cmk_rc rec_find_once(p11_tok *t, int form, const char *app, p11_data **out, size_t *n,
			    CK_RV *last, int *gone)
{
	CK_OBJECT_CLASS cls = form == REC_KEY ? CKO_SECRET_KEY : CKO_DATA;
	CK_ATTRIBUTE_TYPE vtype = form == REC_KEY ? CKA_OBJECT_ID : CKA_VALUE;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof cls },
		{ CKA_TOKEN, &yes, sizeof yes },
		{ CKA_APPLICATION, (void *)app, app ? strlen(app) : 0 },
	};
	/* the search and the reads on one borrowed session: one generation
	 * of the module (object handles stay what they were found as) */
	CK_OBJECT_HANDLE *h = NULL;
	size_t count = 0;
	p11_sess *s;
	CMK_TRY(p11_sess_get(t, &s));
	CK_RV rv = p11_find_in(t, s, tmpl, app ? 3 : 2, &h, &count);
	*last = rv;
	if (rv != CKR_OK) {
		p11_sess_put(t, s, rv);
		return p11_fail(rv, t->what, "C_FindObjects");
	}
	p11_data *d = calloc(count ? count : 1, sizeof *d);
	if (!d) {
		p11_sess_put(t, s, CKR_OK);
		free(h);
		return cmk_err(CMK_E_NOMEM, "out of memory");
	}
	size_t used = 0;
	for (size_t i = 0; i < count; i++) {
		p11_data *x = &d[used];
		x->h = h[i];
		size_t alen;
		rv = p11_get_bytes_in(t, s, h[i], CKA_APPLICATION, (uint8_t **)&x->app, &alen);
		if (rv == CKR_OK)
			rv = p11_get_bytes_in(t, s, h[i], vtype, &x->value, &x->len);
		if (p11_rv_rc(rv) == CMK_E_P11) {
			/* destroyed by another process since the find (or, among
			 * secret keys, not a record): skip it */
			if (rv == CKR_OBJECT_HANDLE_INVALID)
				*gone = 1;
			free(x->app);
			free(x->value);
			memset(x, 0, sizeof *x);
			rv = CKR_OK;
			continue;
		}
		if (rv != CKR_OK)
			break;
		used++;
	}
	p11_sess_put(t, s, rv);
	free(h);
	*last = rv;
	if (rv != CKR_OK) {
		p11_data_free(d, used + 1);
		return p11_fail(rv, t->what, "C_GetAttributeValue");
	}
	*out = d;
	*n = used;
	return CMK_OK;
}

/* Names no handle of its own: when the connection turns out lost (a pooled
 * session of a p11-kit server that went away), it runs again once on the
 * module initialised again, as p11_find() does.
 *
 * A record destroyed between the search and its read was superseded: a
 * change writes its new record first, then destroys the old one, so the
 * new one exists but may have been made after the search.  The records
 * read are then no state of the vault at all (a key without its record
 * "does not exist", an identity without its policy is denied): search
 * again.  Every retry means another change finished meanwhile, so a few
 * suffice; what is left after them is returned as found. */
static cmk_rc rec_find(p11_tok *t, int form, const char *app, p11_data **out, size_t *n)
{
	CK_RV last = CKR_OK;
	int lost_retried = 0;
	for (int attempt = 0;; attempt++) {
		int gone = 0;
		cmk_rc rc = rec_find_once(t, form, app, out, n, &last, &gone);
		if (rc != CMK_OK && p11_rv_lost(last) && !lost_retried) {
			lost_retried = 1;
			continue;
		}
		if (rc != CMK_OK || !gone || attempt >= 7)
			return rc;
		p11_data_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
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
