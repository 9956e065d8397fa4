/* identity.c - identities as vault objects: one record per identity,
 *   CKA_APPLICATION "cmk/identity", value {"t":"identity","name":..,
 *   "state":"enabled|disabled|deleted","resource":..,"gen":..,...}
 * written like policies (a new generation, then the old one destroyed).
 *
 * A vault without user identity records works as before: policies name
 * identities freely.  The first `cmk identity create` turns identities on:
 * every identity named by a policy (and the administrator) gets a record
 * at that moment, and from then on `policy set` needs an existing identity.
 * A disabled or deleted identity is refused by policy_check (policy.c) for
 * every operation (CMK_E_ACCESS_DENIED).  System-assigned identities of
 * resources ("resource" set) do not turn identities on. */
#include "config.h"
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>
#include "vault/lock.h"
#include "vault/audit.h"
#include "vault/identity.h"
#include "vault/meta.h"
#include "vault/policy.h"
#include "vault/records.h"
#include "util/err.h"

cmk_rc identity_name_check(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n < 1 || n >= CMK_IDENTITY_MAX)
		return cmk_err(CMK_E_USAGE,
			       "identity name must be 1-%d characters of A-Z a-z 0-9 and '-'",
			       CMK_IDENTITY_MAX - 1);
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return cmk_err(CMK_E_USAGE,
				       "identity name '%.64s' may only hold A-Z a-z 0-9 and '-'",
				       name);
	}
	return CMK_OK;
}

typedef struct id_rec {
	rec_hdr hdr;
	cmk_identity_info i;
} id_rec;

static int id_parse(json_object *o, void *rec)
{
	id_rec *r = rec;
	if (identity_name_check(r->i.name) != CMK_OK)
		return 0;
	const char *state = recs_str(o, "state");
	r->i.enabled = strcmp(state, "enabled") == 0;
	r->i.deleted = strcmp(state, "deleted") == 0;
	snprintf(r->i.resource, sizeof r->i.resource, "%s", recs_str(o, "resource"));
	r->i.created = recs_int(o, "created");
	r->i.updated = recs_int(o, "updated");
	return 1;
}

static const rec_kind id_kind = {
	.app = META_APP_IDENTITY,
	.what = "identity",
	.name_key = "name",
	.size = sizeof(id_rec),
	.name_off = offsetof(id_rec, i.name),
	.parse = id_parse,
};

static cmk_rc read_recs(cmk_ctx *ctx, id_rec **out, size_t *n, CK_OBJECT_HANDLE **stale,
			size_t *nstale)
{
	return recs_read(ctx, &id_kind, (void **)out, n, stale, nstale);
}

cmk_rc identity_read(cmk_ctx *ctx, cmk_identity_info **out, size_t *n, CK_OBJECT_HANDLE **stale,
		     size_t *nstale)
{
	id_rec *r;
	CMK_TRY(read_recs(ctx, &r, n, stale, nstale));
	cmk_identity_info *v = calloc(*n ? *n : 1, sizeof *v);
	if (!v) {
		free(r);
		if (stale)
			free(*stale);
		return cmk_err(CMK_E_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < *n; i++)
		v[i] = r[i].i;
	free(r);
	*out = v;
	return CMK_OK;
}

/* An identity keeps the time it was made, unless it was deleted. */
static void keep_created(json_object *o, const void *cur)
{
	const id_rec *r = cur;
	int64_t created = r && !r->i.deleted && r->i.created ? r->i.created : (int64_t)time(NULL);
	json_object_object_add(o, "created", json_object_new_int64(created));
}

cmk_rc identity_write(cmk_ctx *ctx, const cmk_identity_info *in)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "t", json_object_new_string("identity"));
	json_object_object_add(o, "name", json_object_new_string(in->name));
	json_object_object_add(o, "state",
			       json_object_new_string(in->deleted   ? "deleted"
						      : in->enabled ? "enabled"
								    : "disabled"));
	if (in->resource[0])
		json_object_object_add(o, "resource", json_object_new_string(in->resource));
	json_object_object_add(o, "updated", json_object_new_int64((int64_t)time(NULL)));
	cmk_rc rc = recs_write(ctx, &id_kind, in->name, o, keep_created);
	policy_cache_invalidate(ctx);
	atomic_fetch_add(&ctx->changes, 1);
	return rc;
}

static cmk_rc find(cmk_ctx *ctx, const char *name, cmk_identity_info *out, int *user_ids)
{
	cmk_identity_info *v;
	size_t n;
	CMK_TRY(identity_read(ctx, &v, &n, NULL, NULL));
	cmk_rc rc = cmk_err(CMK_E_NOT_FOUND, "%s has no identity '%s' (cmk identity create %s)",
			    CTX_WHAT(ctx), name, name);
	if (user_ids)
		*user_ids = 0;
	for (size_t i = 0; i < n; i++) {
		if (user_ids && !v[i].resource[0])
			(*user_ids)++;
		if (strcmp(v[i].name, name) == 0) {
			if (out)
				*out = v[i];
			rc = CMK_OK;
		}
	}
	free(v);
	return rc;
}

cmk_rc identity_create_system(cmk_ctx *ctx, const char *name, const char *resource)
{
	cmk_identity_info cur;
	CMK_TRY(identity_name_check(name));
	cmk_rc rc = find(ctx, name, &cur, NULL);
	if (rc == CMK_OK && !cur.deleted)
		return CMK_OK; /* exists: kept as it is */
	if (rc != CMK_OK && rc != CMK_E_NOT_FOUND)
		return rc;
	cmk_identity_info in = { .enabled = 1 };
	snprintf(in.name, sizeof in.name, "%s", name);
	snprintf(in.resource, sizeof in.resource, "%s", resource);
	CMK_TRY(vault_write_begin(ctx));
	rc = identity_write(ctx, &in);
	char what[CMK_IDENTITY_MAX + 16];
	snprintf(what, sizeof what, "identity:%s", name);
	return audit_write_end(ctx, "identity-create", what, rc);
}

cmk_rc identity_erase_system(cmk_ctx *ctx, const char *name, const char *resource)
{
	id_rec *r = NULL;
	size_t n = 0, ns = 0;
	CK_OBJECT_HANDLE *stale = NULL;
	CMK_TRY(vault_write_begin(ctx));
	cmk_rc rc = read_recs(ctx, &r, &n, &stale, &ns);
	int have = rc == CMK_OK, mine = 0;
	for (size_t i = 0; rc == CMK_OK && i < n; i++)
		if (strcmp(r[i].i.name, name) == 0 && strcmp(r[i].i.resource, resource) == 0) {
			mine = 1;
			rc = p11_destroy(ctx->tok, r[i].hdr.h);
		}
	/* superseded records (of any identity) go too: readers ignore them */
	for (size_t i = 0; rc == CMK_OK && mine && i < ns; i++)
		p11_destroy(ctx->tok, stale[i]);
	if (rc == CMK_OK && mine)
		rc = policy_erase(ctx, name);
	if (have) {
		free(r);
		free(stale);
	}
	if (mine) {
		policy_cache_invalidate(ctx);
		atomic_fetch_add(&ctx->changes, 1);
	}
	if (!mine) {
		vault_write_end(ctx);
		return rc;
	}
	char what[CMK_IDENTITY_MAX + 16];
	snprintf(what, sizeof what, "identity:%s", name);
	return audit_write_end(ctx, "identity-purge", what, rc);
}

/* The first user identity: every identity a policy names, and the
 * administrator, become identity objects (write lock held). */
static cmk_rc migrate(cmk_ctx *ctx, const char *admin)
{
	cmk_policy *p;
	size_t n;
	CMK_TRY(cmk_policy_list(ctx, &p, &n));
	cmk_rc rc = CMK_OK;
	for (size_t i = 0; i <= n && rc == CMK_OK; i++) {
		const char *name = i < n ? p[i].identity : admin;
		if (identity_name_check(name) != CMK_OK)
			continue; /* a legacy name outside [A-Za-z0-9-]: stays legacy */
		if (find(ctx, name, NULL, NULL) == CMK_OK)
			continue;
		cmk_identity_info in = { .enabled = 1 };
		snprintf(in.name, sizeof in.name, "%s", name);
		rc = identity_write(ctx, &in);
	}
	free(p);
	return rc;
}

static cmk_rc create_impl(cmk_ctx *ctx, const char *name)
{
	meta_vault vr;
	cmk_identity_info cur;
	int users;
	CMK_TRY(vault_record(ctx, &vr));
	cmk_rc rc = find(ctx, name, &cur, &users);
	if (rc == CMK_OK && !cur.deleted)
		return cmk_err(CMK_E_EXISTS, "%s already has identity '%s'", CTX_WHAT(ctx), name);
	if (rc != CMK_OK && rc != CMK_E_NOT_FOUND)
		return rc;
	if (!users)
		CMK_TRY(migrate(ctx, vr.admin));
	if (find(ctx, name, &cur, NULL) == CMK_OK && !cur.deleted)
		return CMK_OK; /* made by the migration */
	cmk_identity_info in = { .enabled = 1 };
	snprintf(in.name, sizeof in.name, "%s", name);
	return identity_write(ctx, &in);
}

static cmk_rc state_impl(cmk_ctx *ctx, const char *name, int what)
{
	meta_vault vr;
	cmk_identity_info cur;
	CMK_TRY(vault_record(ctx, &vr));
	CMK_TRY(find(ctx, name, &cur, NULL));
	if (cur.deleted)
		return cmk_err(CMK_E_NOT_FOUND,
			       "identity '%s' of %s is deleted (cmk identity create %s "
			       "makes it again)",
			       name, CTX_WHAT(ctx), name);
	if (what != 1 && strcmp(name, vr.admin) == 0)
		return cmk_err(CMK_E_USAGE,
			       "identity '%s' is the administrator of %s: it cannot be %s", name,
			       CTX_WHAT(ctx), what == 0 ? "disabled" : "deleted");
	cur.enabled = what == 1;
	cur.deleted = what == 2;
	CMK_TRY(identity_write(ctx, &cur));
	if (what == 2)
		CMK_TRY(policy_erase(ctx, name));
	return CMK_OK;
}

static cmk_rc admin_op(cmk_ctx *ctx, const char *name, const char *op, int what)
{
	return_if_fail(ctx);
	CMK_TRY(identity_name_check(name));
	CMK_TRY(audit_check_writable(ctx));
	cmk_rc rc = policy_check_admin(ctx, "identities");
	char what_s[CMK_IDENTITY_MAX + 16];
	snprintf(what_s, sizeof what_s, "identity:%s", name);
	if (rc == CMK_OK && (rc = vault_write_begin(ctx)) == CMK_OK)
		return audit_write_end(ctx, op, what_s,
				       what < 0 ? create_impl(ctx, name)
						: state_impl(ctx, name, what));
	return audit_op(ctx, op, what_s, rc);
}

cmk_rc cmk_identity_create(cmk_ctx *ctx, const char *name)
{
	return admin_op(ctx, name, "identity-create", -1);
}

cmk_rc cmk_identity_set_enabled(cmk_ctx *ctx, const char *name, int enabled)
{
	return admin_op(ctx, name, enabled ? "identity-enable" : "identity-disable",
			enabled ? 1 : 0);
}

cmk_rc cmk_identity_delete(cmk_ctx *ctx, const char *name)
{
	return admin_op(ctx, name, "identity-delete", 2);
}

cmk_rc cmk_identity_list(cmk_ctx *ctx, cmk_identity_info **out, size_t *n)
{
	return_if_fail(ctx && out && n);
	return identity_read(ctx, out, n, NULL, NULL);
}

cmk_rc cmk_identity_get(cmk_ctx *ctx, const char *name, cmk_identity_info *out)
{
	return_if_fail(ctx && name && out);
	return find(ctx, name, out, NULL);
}
