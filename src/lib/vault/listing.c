/* listing.c - key list, key info and version lists for callers. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "vault/audit.h"
#include "vault/keys.h"
#include "vault/op.h"
#include "vault/owner.h"
#include "vault/policy.h"
#include "util/err.h"

/* rot: the rotation policies read once (key list), or NULL: read now */
static void fill_key_info(cmk_ctx *ctx, key_state *st, const struct rot_rec *rot, size_t nrot,
			  cmk_key_info *out)
{
	memset(out, 0, sizeof *out);
	strcpy(out->name, st->name);
	names_kid(cmk_ctx_vault(ctx), st->name, NULL, out->kid);
	meta_version *cur = keys_current(st, (int64_t)time(NULL));
	if (cur)
		strcpy(out->current, cur->ver);
	out->enabled = st->ks.enabled;
	out->deleted = st->ks.deleted_on != 0;
	out->created = st->v[0].created;
	out->deleted_on = st->ks.deleted_on;
	out->purge_on = st->ks.purge_on;
	out->nversions = st->nv;
	out->bits = st->v[st->nv - 1].bits;
	if (owner_of(st))
		snprintf(out->managed_by, sizeof out->managed_by, "%s", owner_of(st));
	out->expires = cur ? cur->expires : 0;
	out->next_rotation = rot ? rotation_next_of(rot, nrot, st) : rotation_next(ctx, st);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const cmk_key_info *)a)->name, ((const cmk_key_info *)b)->name);
}

static int by_app(const void *a, const void *b)
{
	return strcmp(((const p11_data *)a)->app, ((const p11_data *)b)->app);
}

cmk_rc keys_list_all(cmk_ctx *ctx, int deleted, cmk_key_info **keys, size_t *n)
{
	p11_data *d;
	size_t count, nrot = 0;
	struct rot_rec *rot = NULL;
	/* the rotation policies once, not once per key */
	CMK_TRY(rotation_policies(ctx, &rot, &nrot));
	cmk_rc frc = p11_data_find(ctx->tok, NULL, &d, &count);
	if (frc != CMK_OK) {
		free(rot);
		return frc;
	}
	cmk_key_info *out = calloc(count ? count : 1, sizeof *out);
	if (!out) {
		free(rot);
		p11_data_free(d, count);
		return cmk_err(CMK_E_NOMEM, "out of memory");
	}
	size_t used = 0;
	size_t plen = strlen(META_APP_KEY_PREFIX);
	cmk_rc rc = CMK_OK;
	/* every record was read once: a key's records are next to each other
	 * once sorted by CKA_APPLICATION (one search, not one per key) */
	qsort(d, count, sizeof *d, by_app);
	for (size_t i = 0, next; i < count && rc == CMK_OK; i = next) {
		for (next = i + 1; next < count && strcmp(d[next].app, d[i].app) == 0; next++)
			;
		if (strncmp(d[i].app, META_APP_KEY_PREFIX, plen) != 0)
			continue;
		const char *name = d[i].app + plen;
		key_state st;
		rc = keys_load_from(ctx, name, &d[i], next - i, &st);
		if (rc == CMK_E_NOT_FOUND) { /* purged meanwhile, or only orphans */
			rc = CMK_OK;
			continue;
		}
		if (rc != CMK_OK)
			break;
		if ((st.ks.deleted_on != 0) == (deleted != 0))
			fill_key_info(ctx, &st, rot, nrot, &out[used++]);
		key_state_free(&st);
	}
	p11_data_free(d, count);
	free(rot);
	if (rc != CMK_OK) {
		free(out);
		return rc;
	}
	qsort(out, used, sizeof *out, by_name);
	*keys = out;
	*n = used;
	return CMK_OK;
}

static cmk_rc load_for_show(cmk_ctx *ctx, const char *id, int deleted, key_state *st)
{
	char name[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1];
	CMK_TRY(names_resolve(ctx, id, name, ver));
	if (!deleted)
		return keys_load_live(ctx, name, st);
	CMK_TRY(keys_load(ctx, name, st));
	if (!st->ks.deleted_on) {
		key_state_free(st);
		return cmk_err(CMK_E_NOT_FOUND, "key cmk://%s/keys/%s is not deleted",
			       cmk_ctx_vault(ctx), name);
	}
	return CMK_OK;
}

static cmk_rc cmk_key_info_get_impl(cmk_ctx *ctx, const char *name, int deleted, cmk_key_info *out)
{
	return_if_fail(ctx && name && out);
	key_state st;
	CMK_TRY(load_for_show(ctx, name, deleted, &st));
	fill_key_info(ctx, &st, NULL, 0, out);
	key_state_free(&st);
	return CMK_OK;
}

static cmk_rc cmk_key_versions_impl(cmk_ctx *ctx, const char *name, int deleted,
				    cmk_version_info **v, size_t *n)
{
	return_if_fail(ctx && name && v && n);
	key_state st;
	CMK_TRY(load_for_show(ctx, name, deleted, &st));
	cmk_version_info *out = calloc(st.nv, sizeof *out);
	if (!out) {
		key_state_free(&st);
		return cmk_err(CMK_E_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < st.nv; i++)
		keys_fill_version_info(ctx, &st, &st.v[i], &out[i]);
	*n = st.nv;
	*v = out;
	key_state_free(&st);
	return CMK_OK;
}

/* ---------------------------------------------------------- public calls */

cmk_rc cmk_key_list(cmk_ctx *ctx, int deleted, cmk_key_info **keys, size_t *n)
{
	return_if_fail(ctx && keys && n);
	vault_op o = { .ctx = ctx, .op = deleted ? "list-deleted" : "list", .perm = CMK_PERM_LIST };
	cmk_rc rc = vault_op_begin(&o);
	if (rc == CMK_OK)
		rc = keys_list_all(ctx, deleted, keys, n);
	return vault_op_end(&o, rc);
}

cmk_rc cmk_key_info_get(cmk_ctx *ctx, const char *name, int deleted, cmk_key_info *out)
{
	return_if_fail(ctx && name && out);
	vault_op o = { .ctx = ctx, .op = "get", .perm = CMK_PERM_GET, .key = name };
	cmk_rc rc = vault_op_begin(&o);
	if (rc == CMK_OK)
		rc = cmk_key_info_get_impl(ctx, name, deleted, out);
	return vault_op_end(&o, rc);
}

cmk_rc cmk_key_versions(cmk_ctx *ctx, const char *name, int deleted, cmk_version_info **v,
			size_t *n)
{
	return_if_fail(ctx && name && v && n);
	vault_op o = { .ctx = ctx, .op = "get-versions", .perm = CMK_PERM_GET, .key = name };
	cmk_rc rc = vault_op_begin(&o);
	if (rc == CMK_OK)
		rc = cmk_key_versions_impl(ctx, name, deleted, v, n);
	return vault_op_end(&o, rc);
}
