/*
 * lifecycle.c - a resource's lifecycle, like a key's (docs/resources.md):
 * list, soft delete with the vault's retention, recover, purge, sweep.
 *
 * Delete: the state is marked deleted first (every data operation then
 * refuses, CMK_E_DELETED), then svc-NAME is soft-deleted (the token
 * refuses it too).  Recover undoes both, in the other order.  Purge
 * destroys svc-NAME through cmk_key_purge (so purge protection applies)
 * and then the files.  Each step is idempotent: a kill between two steps
 * is finished by running the same command again.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "resource/resource.h"
#include "vault/identity.h"
#include "util/err.h"

static void svc_of(const cmk_resource *r, char out[CMK_NAME_MAX])
{
	snprintf(out, CMK_NAME_MAX, "svc-%s", r->st.name);
}

cmk_rc cmk_resource_delete(cmk_resource *r)
{
	char svc[CMK_NAME_MAX];
	cmk_key_info ki;
	return_if_fail(r);
	RES_ACT(r);
	cmk_rc rc = res_lock(r);
	if (rc != CMK_OK)
		return res_audit(r, "resource-delete", rc);
	svc_of(r, svc);
	if (r->st.deleted_on) {
		rc = cmk_err(CMK_E_DELETED, "resource %s is already deleted", r->st.name);
		goto out;
	}
	cmk_vault_info vi;
	if ((rc = cmk_vault_info_get(r->ctx, &vi)) != CMK_OK)
		goto out;
	r->st.deleted_on = (int64_t)time(NULL);
	r->st.purge_on = r->st.deleted_on + (int64_t)vi.retention_days * 86400;
	if ((rc = res_state_save(r->dir, &r->st)) != CMK_OK)
		goto out;
	rc = cmk_key_delete(r->ctx, svc);
	if (rc == CMK_E_DELETED || rc == CMK_E_NOT_FOUND)
		rc = CMK_OK;
	/* the key's own schedule is the one the vault enforces */
	if (rc == CMK_OK && cmk_key_info_get(r->ctx, svc, 1, &ki) == CMK_OK &&
	    ki.purge_on != r->st.purge_on) {
		r->st.purge_on = ki.purge_on;
		rc = res_state_save(r->dir, &r->st);
	}
	if (r->cache)
		cmk_dekcache_flush(r->cache);
out:
	res_unlock(r);
	return res_audit(r, "resource-delete", rc);
}

cmk_rc cmk_resource_recover(cmk_resource *r)
{
	char svc[CMK_NAME_MAX];
	cmk_key_info ki;
	return_if_fail(r);
	RES_ACT(r);
	cmk_rc rc = res_lock(r);
	if (rc != CMK_OK)
		return res_audit(r, "resource-recover", rc);
	svc_of(r, svc);
	if (!r->st.deleted_on) {
		rc = cmk_err(CMK_E_NOT_FOUND, "resource %s is not deleted", r->st.name);
		goto out;
	}
	rc = cmk_key_info_get(r->ctx, svc, 1, &ki);
	if (rc == CMK_OK)
		rc = cmk_key_recover(r->ctx, svc);
	else if (rc == CMK_E_NOT_FOUND && cmk_key_info_get(r->ctx, svc, 0, &ki) == CMK_OK)
		rc = CMK_OK; /* a delete killed before the key's step */
	else if (rc == CMK_E_NOT_FOUND)
		rc = cmk_err(CMK_E_NOT_FOUND,
			     "resource %s cannot be recovered: its "
			     "service-managed key cmk://%s/keys/%s was purged, so "
			     "its data is lost; `cmk resource purge %s` removes "
			     "what is left",
			     r->st.name, r->st.vault, svc, r->st.name);
	if (rc != CMK_OK)
		goto out;
	r->st.deleted_on = r->st.purge_on = 0;
	rc = res_state_save(r->dir, &r->st);
out:
	res_unlock(r);
	return res_audit(r, "resource-recover", rc);
}

static cmk_rc rm_tree(const char *dir)
{
	char objs[4200], path[4400];
	snprintf(objs, sizeof objs, "%s/objects", dir);
	DIR *d = opendir(objs);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof path, "%s/%s", objs, e->d_name);
		if (unlink(path) != 0 && errno != ENOENT) {
			closedir(d);
			return cmk_err(CMK_E_IO, "cannot remove %s: %s", path, strerror(errno));
		}
	}
	if (d)
		closedir(d);
	rmdir(objs);
	/* the state last but one: until it goes, the resource is listed */
	d = opendir(dir);
	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    !strcmp(e->d_name, "resource.json"))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	snprintf(path, sizeof path, "%s/resource.json", dir);
	if (unlink(path) != 0 && errno != ENOENT)
		return cmk_err(CMK_E_IO, "cannot remove %s: %s", path, strerror(errno));
	if (rmdir(dir) != 0 && errno != ENOENT)
		return cmk_err(CMK_E_IO, "cannot remove %s: %s", dir, strerror(errno));
	return CMK_OK;
}

cmk_rc cmk_resource_purge(cmk_resource *r)
{
	char svc[CMK_NAME_MAX];
	cmk_key_info ki;
	return_if_fail(r);
	RES_ACT(r);
	cmk_rc rc = res_lock(r);
	if (rc != CMK_OK)
		return res_audit(r, "resource-purge", rc);
	svc_of(r, svc);
	if (!r->st.deleted_on) {
		rc = cmk_err(CMK_E_USAGE,
			     "resource %s is not deleted: delete it "
			     "first (cmk resource delete %s)",
			     r->st.name, r->st.name);
		goto out;
	}
	rc = cmk_key_info_get(r->ctx, svc, 1, &ki);
	if (rc == CMK_E_NOT_FOUND && cmk_key_info_get(r->ctx, svc, 0, &ki) == CMK_OK) {
		/* a delete killed before the key's step: finish it */
		if ((rc = cmk_key_delete(r->ctx, svc)) == CMK_OK)
			rc = cmk_key_info_get(r->ctx, svc, 1, &ki);
	}
	if (rc == CMK_OK)
		rc = cmk_key_purge(r->ctx, svc);
	else if (rc == CMK_E_NOT_FOUND)
		rc = CMK_OK; /* purged already (a sweep, or a killed purge) */
	if (rc == CMK_E_PURGE_PROTECTED)
		rc = cmk_err_prefix(rc, "resource %s", r->st.name);
	if (rc != CMK_OK)
		goto out;
	if (r->cache)
		cmk_dekcache_flush(r->cache);
	rc = rm_tree(r->dir);
	/* its system-assigned identity goes with it, records and all (an
	 * identity it was given with --identity stays) */
	if (rc == CMK_OK && r->st.identity[0])
		rc = identity_erase_system(r->ctx, r->st.identity, r->st.name);
out:
	res_unlock(r);
	return res_audit(r, "resource-purge", rc);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const cmk_resource_info *)a)->name, ((const cmk_resource_info *)b)->name);
}

cmk_rc cmk_resource_list_all(const cmk_resource_params *p, int deleted, cmk_resource_info **out,
			     size_t *n)
{
	char base[3800], dir[4096];
	return_if_fail(out && n);
	*out = NULL;
	*n = 0;
	CMK_TRY(res_base_dir(p ? p->dir : NULL, base, sizeof base));
	DIR *d = opendir(base);
	if (!d)
		return cmk_err(CMK_E_IO, "cannot read %s: %s", base, strerror(errno));
	cmk_resource_info *v = NULL;
	size_t k = 0, cap = 0;
	struct dirent *e;
	cmk_rc rc = CMK_OK;
	while (rc == CMK_OK && (e = readdir(d))) {
		res_state st;
		if (e->d_name[0] == '.' || res_name_check(e->d_name) != CMK_OK)
			continue;
		snprintf(dir, sizeof dir, "%s/%s", base, e->d_name);
		if (res_state_load(dir, &st) != CMK_OK)
			continue; /* half-made (no state) or not a resource */
		if ((st.deleted_on != 0) != (deleted != 0)) {
			res_state_clear(&st);
			continue;
		}
		if (k == cap) {
			cmk_resource_info *nv = realloc(v, (cap = cap * 2 + 8) * sizeof *v);
			if (!nv) {
				res_state_clear(&st);
				rc = cmk_err(CMK_E_NOMEM, "out of memory");
				break;
			}
			v = nv;
		}
		cmk_resource_info *i = &v[k++];
		memset(i, 0, sizeof *i);
		snprintf(i->name, sizeof i->name, "%s", st.name);
		snprintf(i->path, sizeof i->path, "%s", dir);
		snprintf(i->vault, sizeof i->vault, "%s", st.vault);
		snprintf(i->service_kid, sizeof i->service_kid, "%s", st.service_kid);
		snprintf(i->customer_key, sizeof i->customer_key, "%s", st.customer_key);
		snprintf(i->customer_kid, sizeof i->customer_kid, "%s", st.customer_kid);
		snprintf(i->cmk_vault, sizeof i->cmk_vault, "%s", st.cmk_vault);
		i->created = st.created;
		i->rewrapped = st.rewrapped;
		i->objects = res_count_objects(dir);
		i->key_fixed = st.key_fixed;
		i->deleted_on = st.deleted_on;
		i->purge_on = st.purge_on;
		snprintf(i->identity, sizeof i->identity, "%s", st.identity);
		res_state_clear(&st);
	}
	closedir(d);
	if (rc != CMK_OK) {
		free(v);
		return rc;
	}
	if (k)
		qsort(v, k, sizeof *v, by_name);
	*out = v;
	*n = k;
	return CMK_OK;
}

cmk_rc cmk_resource_sweep(cmk_ctx *ctx, const cmk_resource_params *p, size_t *purged)
{
	cmk_resource_info *v;
	size_t n;
	return_if_fail(ctx);
	if (purged)
		*purged = 0;
	CMK_TRY(cmk_resource_list_all(p, 1, &v, &n));
	cmk_rc rc = CMK_OK;
	int64_t now = (int64_t)time(NULL);
	for (size_t i = 0; i < n && rc == CMK_OK; i++) {
		cmk_resource *r;
		if (strcmp(v[i].vault, cmk_ctx_vault(ctx)) != 0 || v[i].purge_on > now)
			continue;
		if ((rc = cmk_resource_open(ctx, p, v[i].name, &r)) != CMK_OK)
			break;
		rc = cmk_resource_purge(r);
		cmk_resource_close(r);
		if (rc == CMK_OK && purged)
			(*purged)++;
	}
	free(v);
	return rc;
}
