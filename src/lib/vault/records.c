/* records.c - named records kept in generations (records.h). */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vault/meta.h"
#include "vault/records.h"
#include "util/err.h"

const char *recs_str(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : "";
}

int64_t recs_int(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

#define REC(k, base, i) ((char *)(base) + (i) * (k)->size)
#define NAME(k, rec)	((char *)(rec) + (k)->name_off)

void *recs_find(const rec_kind *k, void *recs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(NAME(k, REC(k, recs, i)), name) == 0)
			return REC(k, recs, i);
	return NULL;
}

/* One record into r; CMK_E_NOT_FOUND: not one to keep (reported). */
static cmk_rc one(cmk_ctx *ctx, const rec_kind *k, const p11_data *d, void *r)
{
	const uint8_t *json;
	size_t len;
	CMK_TRY(meta_open_or_skip(ctx, d, &json, &len));
	json_object *o = json_tokener_parse((const char *)json);
	const char *name = o ? recs_str(o, k->name_key) : "";
	memset(r, 0, k->size);
	rec_hdr *h = r;
	h->gen = (uint64_t)recs_int(o, "gen");
	h->h = d->h;
	int ok = o && *name && strlen(name) < CMK_NAME_MAX && h->gen;
	if (ok) {
		strcpy(NAME(k, r), name);
		ok = k->parse(o, r);
	}
	json_object_put(o);
	if (!ok) {
		meta_report_bad(ctx, d, "is malformed");
		return CMK_E_NOT_FOUND;
	}
	return CMK_OK;
}

cmk_rc recs_read(cmk_ctx *ctx, const rec_kind *k, void **out, size_t *n, CK_OBJECT_HANDLE **stale,
		 size_t *nstale)
{
	p11_data *d;
	size_t count;
	CMK_TRY(p11_data_find(ctx->tok, k->app, &d, &count));
	char *v = calloc(count + 1, k->size);
	CK_OBJECT_HANDLE *st = calloc(count + 1, sizeof *st);
	size_t used = 0, ns = 0;
	cmk_rc rc = v && st ? CMK_OK : cmk_err(CMK_E_NOMEM, "out of memory");
	for (size_t i = 0; i < count && rc == CMK_OK; i++) {
		char *r = REC(k, v, used);
		if ((rc = one(ctx, k, &d[i], r)) == CMK_E_NOT_FOUND) {
			rc = CMK_OK;
			continue;
		}
		if (rc != CMK_OK)
			break;
		rec_hdr *have = recs_find(k, v, used, NAME(k, r));
		if (!have) {
			used++;
		} else if (((rec_hdr *)r)->gen > have->gen) {
			st[ns++] = have->h;
			memcpy(have, r, k->size);
		} else {
			st[ns++] = ((rec_hdr *)r)->h;
		}
	}
	p11_data_free(d, count);
	if (rc != CMK_OK) {
		free(v);
		free(st);
		return rc;
	}
	*out = v;
	*n = used;
	if (stale) {
		*stale = st;
		*nstale = ns;
	} else {
		free(st);
	}
	return CMK_OK;
}

cmk_rc recs_write(cmk_ctx *ctx, const rec_kind *k, const char *name, json_object *o,
		  void (*amend)(json_object *o, const void *cur))
{
	void *r;
	size_t n, ns;
	CK_OBJECT_HANDLE *stale;
	cmk_rc rc = recs_read(ctx, k, &r, &n, &stale, &ns);
	if (rc != CMK_OK) {
		json_object_put(o);
		return rc;
	}
	const rec_hdr *cur = recs_find(k, r, n, name);
	uint64_t gen = cur ? cur->gen + 1 : 1;
	CK_OBJECT_HANDLE old = cur ? cur->h : CK_INVALID_HANDLE;
	if (amend)
		amend(o, cur);
	free(r);
	json_object_object_add(o, "gen", json_object_new_int64((int64_t)gen));
	char *json = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	char label[CMK_NAME_MAX + 48];
	snprintf(label, sizeof label, "cmk %s %s #%llu", k->what, name, (unsigned long long)gen);
	rc = json ? meta_write(ctx, k->app, label, json, NULL)
		  : cmk_err(CMK_E_NOMEM, "out of memory");
	if (rc == CMK_OK && old != CK_INVALID_HANDLE)
		p11_destroy(ctx->tok, old);
	for (size_t i = 0; rc == CMK_OK && i < ns; i++)
		p11_destroy(ctx->tok, stale[i]);
	free(stale);
	return rc;
}
