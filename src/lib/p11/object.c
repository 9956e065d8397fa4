/* object.c - finding, reading, writing and destroying token objects. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "p11/p11_int.h"
#include "util/err.h"

/* Borrow a session, run one call, give the session back. */
#define WITH_SESSION(t, s, rv, body) do { \
	p11_sess *s; \
	CMK_TRY(p11_sess_get((t), &s)); \
	body; \
	p11_sess_put((t), s, (rv)); \
} while (0)

cmk_rc p11_find(p11_tok *t, CK_ATTRIBUTE *tmpl, CK_ULONG n,
                CK_OBJECT_HANDLE **objs, size_t *count)
{
	CK_RV rv = CKR_OK;
	size_t cap = 16, used = 0;
	CK_OBJECT_HANDLE *v = malloc(cap * sizeof *v);
	if (!v)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	WITH_SESSION(t, s, rv, {
		rv = t->fn->C_FindObjectsInit(s->h, tmpl, n);
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
			rv = t->fn->C_FindObjects(s->h, v + used, cap - used, &got);
			if (rv != CKR_OK || got == 0)
				break;
			used += got;
		}
		CK_RV frv = t->fn->C_FindObjectsFinal(s->h);
		if (rv == CKR_OK)
			rv = frv == CKR_OPERATION_NOT_INITIALIZED ? CKR_OK : frv;
	});
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
	CK_RV rv = CKR_OK;
	WITH_SESSION(t, s, rv, { rv = t->fn->C_GetAttributeValue(s->h, o, tmpl, n); });
	if (rv != CKR_OK)
		return p11_fail(rv, t->what, "C_GetAttributeValue");
	return CMK_OK;
}

cmk_rc p11_get_bytes(p11_tok *t, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type,
                     uint8_t **val, size_t *len)
{
	CK_RV rv = CKR_OK;
	uint8_t *buf = NULL;
	CK_ATTRIBUTE a = { type, NULL, 0 };
	WITH_SESSION(t, s, rv, {
		rv = t->fn->C_GetAttributeValue(s->h, o, &a, 1);
		if (rv == CKR_OK && a.ulValueLen != CK_UNAVAILABLE_INFORMATION) {
			buf = malloc(a.ulValueLen + 1);
			if (!buf)
				rv = CKR_HOST_MEMORY;
			else {
				a.pValue = buf;
				rv = t->fn->C_GetAttributeValue(s->h, o, &a, 1);
			}
		}
	});
	if (rv != CKR_OK || a.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
		free(buf);
		return p11_fail(rv, t->what, "C_GetAttributeValue");
	}
	buf[a.ulValueLen] = 0;
	*val = buf;
	*len = a.ulValueLen;
	return CMK_OK;
}

cmk_rc p11_set_attrs(p11_tok *t, CK_OBJECT_HANDLE o, CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
	CK_RV rv = CKR_OK;
	WITH_SESSION(t, s, rv, { rv = t->fn->C_SetAttributeValue(s->h, o, tmpl, n); });
	if (rv != CKR_OK)
		return p11_fail(rv, t->what, "C_SetAttributeValue");
	return CMK_OK;
}

cmk_rc p11_create(p11_tok *t, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *o)
{
	CK_RV rv = CKR_OK;
	WITH_SESSION(t, s, rv, { rv = t->fn->C_CreateObject(s->h, tmpl, n, o); });
	if (rv != CKR_OK)
		return p11_fail(rv, t->what, "C_CreateObject");
	return CMK_OK;
}

cmk_rc p11_destroy(p11_tok *t, CK_OBJECT_HANDLE o)
{
	CK_RV rv = CKR_OK;
	WITH_SESSION(t, s, rv, { rv = t->fn->C_DestroyObject(s->h, o); });
	if (rv == CKR_OBJECT_HANDLE_INVALID)
		return CMK_OK;     /* already gone: destroying is idempotent */
	if (rv != CKR_OK)
		return p11_fail(rv, t->what, "C_DestroyObject");
	return CMK_OK;
}

cmk_rc p11_data_create(p11_tok *t, const char *app, const char *label,
                       const uint8_t *value, size_t len, int modifiable,
                       CK_OBJECT_HANDLE *o)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof cls },
		{ CKA_TOKEN, &yes, sizeof yes },
		{ CKA_PRIVATE, &yes, sizeof yes },
		{ CKA_MODIFIABLE, modifiable ? &yes : &no, sizeof no },
		{ CKA_APPLICATION, (void *)app, strlen(app) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_VALUE, (void *)value, len },
	};
	CK_OBJECT_HANDLE h;
	cmk_rc rc = p11_create(t, tmpl, sizeof tmpl / sizeof tmpl[0], &h);
	if (rc == CMK_OK && o)
		*o = h;
	return rc;
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

cmk_rc p11_data_find(p11_tok *t, const char *app, p11_data **out, size_t *n)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
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
			rc = p11_get_bytes(t, h[i], CKA_VALUE, &x->value, &x->len);
		if (rc == CMK_E_P11) {
			/* destroyed by another process since the find: skip it */
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
