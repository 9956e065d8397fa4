/* rotation.c - rotation policies of keys, and the sweep that applies them
 * (docs/resources.md, "Rotation policies").
 *
 * One record per key: CKA_APPLICATION "cmk/rotation", value
 *   {"t":"rotation","key":NAME,"rotate_after":S,"expire_after":S,
 *    "notify_before":S,"gen":N,"updated":T}
 * written like policies (a new generation, then the old one destroyed).
 * The sweep rotates every key whose newest version is older than
 * rotate_after, gives a version made under the policy the policy's expiry
 * (also one left without it by a kill between the two steps), and reports
 * keys whose current version expires within notify_before (audited as
 * "near-expiry").  Keys that belong to a resource and deleted keys are
 * left alone. */
#include "config.h"
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>
#include "vault/audit.h"
#include "vault/keys.h"
#include "vault/meta.h"
#include "vault/op.h"
#include "vault/owner.h"
#include "vault/policy.h"
#include "vault/records.h"
#include "util/err.h"

#define META_APP_ROTATION "cmk/rotation"
#define DAY		  86400

typedef struct rot_rec {
	rec_hdr hdr;
	char name[CMK_NAME_MAX];
	cmk_rotation_policy p;
} rot_rec;

static int rot_parse(json_object *o, void *rec)
{
	rot_rec *r = rec;
	if (!names_key_valid(r->name))
		return 0;
	r->p.rotate_after = recs_int(o, "rotate_after");
	r->p.expire_after = recs_int(o, "expire_after");
	r->p.notify_before = recs_int(o, "notify_before");
	r->p.updated = recs_int(o, "updated");
	return 1;
}

static const rec_kind rot_kind = {
	.app = META_APP_ROTATION,
	.what = "rotation",
	.name_key = "key",
	.size = sizeof(rot_rec),
	.name_off = offsetof(rot_rec, name),
	.parse = rot_parse,
};

/* Every record, newest generation per key. */
static cmk_rc read_recs(cmk_ctx *ctx, rot_rec **out, size_t *n)
{
	return recs_read(ctx, &rot_kind, (void **)out, n, NULL, NULL);
}

cmk_rc rotation_policies(cmk_ctx *ctx, struct rot_rec **r, size_t *n)
{
	return read_recs(ctx, r, n);
}

int64_t rotation_next_of(const struct rot_rec *r, size_t n, const key_state *st)
{
	int64_t next = 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(r[i].name, st->name) == 0 && r[i].p.rotate_after)
			next = st->v[st->nv - 1].created / 1000000 + r[i].p.rotate_after;
	return next;
}

int64_t rotation_next(cmk_ctx *ctx, const key_state *st)
{
	rot_rec *r;
	size_t n;
	if (read_recs(ctx, &r, &n) != CMK_OK)
		return 0;
	int64_t next = rotation_next_of(r, n, st);
	free(r);
	return next;
}

static cmk_rc check_period(const char *what, int64_t s)
{
	if (s < DAY)
		return cmk_err(CMK_E_USAGE, "%s must be at least a day (got %lld seconds)", what,
			       (long long)s);
	return CMK_OK;
}

static cmk_rc set_impl(cmk_ctx *ctx, const char *id, const cmk_rotation_policy *p)
{
	char name[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1];
	key_state st;
	CMK_TRY(names_resolve(ctx, id, name, ver));
	CMK_TRY(keys_load_live(ctx, name, &st));
	key_state_free(&st);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "t", json_object_new_string("rotation"));
	json_object_object_add(o, "key", json_object_new_string(name));
	json_object_object_add(o, "rotate_after", json_object_new_int64(p->rotate_after));
	json_object_object_add(o, "expire_after", json_object_new_int64(p->expire_after));
	json_object_object_add(o, "notify_before", json_object_new_int64(p->notify_before));
	json_object_object_add(o, "updated", json_object_new_int64((int64_t)time(NULL)));
	return recs_write(ctx, &rot_kind, name, o, NULL);
}

cmk_rc cmk_rotation_policy_set(cmk_ctx *ctx, const char *name, const cmk_rotation_policy *p)
{
	return_if_fail(ctx && name && p);
	if (!p->rotate_after && !p->expire_after && !p->notify_before)
		return cmk_err(CMK_E_USAGE, "a rotation policy needs --rotate-after, "
					    "--expire-after or --notify-before");
	if (p->rotate_after || p->rotate_after < 0)
		CMK_TRY(check_period("--rotate-after", p->rotate_after));
	if (p->expire_after || p->expire_after < 0)
		CMK_TRY(check_period("--expire-after", p->expire_after));
	if (p->notify_before || p->notify_before < 0)
		CMK_TRY(check_period("--notify-before", p->notify_before));
	if (p->expire_after && p->rotate_after && p->expire_after < p->rotate_after)
		return cmk_err(CMK_E_USAGE,
			       "--expire-after (%lld days) is shorter than --rotate-after "
			       "(%lld days): versions would expire before the next one is made",
			       (long long)(p->expire_after / DAY),
			       (long long)(p->rotate_after / DAY));
	char kid[CMK_KID_MAX], n[CMK_NAME_MAX], v[CMK_VERSION_LEN + 1];
	if (names_resolve(ctx, name, n, v) == CMK_OK)
		names_kid(cmk_ctx_vault(ctx), n, NULL, kid);
	else
		snprintf(kid, sizeof kid, "%s", name);
	vault_op o = { .ctx = ctx,
		       .op = "rotation-policy",
		       .perm = CMK_PERM_UPDATE,
		       .key = kid,
		       .owned = name,
		       .verb = "set a rotation policy on",
		       .change = 1 };
	cmk_rc rc = vault_op_begin(&o);
	if (rc == CMK_OK)
		rc = set_impl(ctx, name, p);
	return vault_op_end(&o, rc);
}

static cmk_rc get_impl(cmk_ctx *ctx, const char *id, cmk_rotation_policy *out)
{
	char name[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1];
	rot_rec *r;
	size_t n;
	CMK_TRY(names_resolve(ctx, id, name, ver));
	CMK_TRY(read_recs(ctx, &r, &n));
	cmk_rc rc = cmk_err(CMK_E_NOT_FOUND, "key cmk://%s/keys/%s has no rotation policy",
			    cmk_ctx_vault(ctx), name);
	for (size_t i = 0; i < n; i++)
		if (strcmp(r[i].name, name) == 0) {
			*out = r[i].p;
			rc = CMK_OK;
		}
	free(r);
	return rc;
}

cmk_rc cmk_rotation_policy_get(cmk_ctx *ctx, const char *name, cmk_rotation_policy *out)
{
	return_if_fail(ctx && name && out);
	CMK_TRY(policy_check(ctx, CMK_PERM_GET, name));
	return get_impl(ctx, name, out);
}

/* One key: rotate when due, give the expiry, report a near expiry. */
static cmk_rc sweep_key(cmk_ctx *ctx, const rot_rec *r, cmk_rotation_event *ev, int64_t now)
{
	key_state st;
	cmk_rc rc = keys_load_live(ctx, r->name, &st);
	if (rc != CMK_OK)
		return rc;
	if (owner_of(&st)) {
		key_state_free(&st);
		return CMK_E_NOT_FOUND; /* a resource's own key: skipped */
	}
	meta_version newest = st.v[st.nv - 1];
	key_state_free(&st);
	memset(ev, 0, sizeof *ev);
	snprintf(ev->name, sizeof ev->name, "%s", r->name);
	int64_t created = newest.created / 1000000;
	char ver[CMK_VERSION_LEN + 1];
	snprintf(ver, sizeof ver, "%s", newest.ver);
	if (r->p.rotate_after && now >= created + r->p.rotate_after) {
		CMK_TRY(cmk_key_rotate(ctx, r->name, NULL, ver));
		ev->rotated = 1;
		created = now;
		newest.expires = 0;
	}
	/* a version made under the policy gets its expiry (also after a kill
	 * between the rotation and this step) */
	if (r->p.expire_after && !newest.expires && (ev->rotated || created >= r->p.updated)) {
		cmk_key_update u = { .set_expires = 1, .expires = created + r->p.expire_after };
		CMK_TRY(cmk_key_update_attrs(ctx, r->name, ver, &u));
	}
	ev->next_rotation = r->p.rotate_after ? created + r->p.rotate_after : 0;
	CMK_TRY(keys_load_live(ctx, r->name, &st));
	meta_version *cur = keys_current(&st, now);
	if (!cur) {
		/* no current version: report the newest one's expiry */
		cur = &st.v[st.nv - 1];
	}
	names_kid(cmk_ctx_vault(ctx), r->name, cur->ver, ev->kid);
	ev->expires = cur->expires;
	key_state_free(&st);
	if (r->p.notify_before && ev->expires && now >= ev->expires - r->p.notify_before) {
		ev->expiring = 1;
		(void)audit_op(ctx, "near-expiry", ev->kid, CMK_OK);
	}
	return CMK_OK;
}

cmk_rc cmk_rotation_sweep(cmk_ctx *ctx, cmk_rotation_event **out, size_t *n)
{
	return_if_fail(ctx && out && n);
	*out = NULL;
	*n = 0;
	rot_rec *r;
	size_t nr;
	CMK_TRY(read_recs(ctx, &r, &nr));
	cmk_rotation_event *ev = calloc(nr ? nr : 1, sizeof *ev);
	if (!ev) {
		free(r);
		return cmk_err(CMK_E_NOMEM, "out of memory");
	}
	int64_t now = (int64_t)time(NULL);
	size_t k = 0;
	cmk_rc rc = CMK_OK;
	for (size_t i = 0; i < nr && rc == CMK_OK; i++) {
		rc = sweep_key(ctx, &r[i], &ev[k], now);
		if (rc == CMK_OK)
			k++;
		else if (rc == CMK_E_NOT_FOUND || rc == CMK_E_DELETED)
			rc = CMK_OK; /* gone, deleted or a resource's */
	}
	free(r);
	if (rc != CMK_OK) {
		free(ev);
		return rc;
	}
	*out = ev;
	*n = k;
	return CMK_OK;
}
