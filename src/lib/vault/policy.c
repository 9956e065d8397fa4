/* policy.c - access policies kept on the token, one record per identity:
 *   CKA_APPLICATION "cmk/policy", value {"t":"policy","identity":..,"perms":..}
 * A grant writes the new record, then destroys the old ones; a removal
 * destroys them.  Reads are cached per context for policy_cache_ms, which
 * is the documented revocation delay; a change made through this context
 * drops its cache at once. */
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
#include "vault/keys.h"
#include "vault/meta.h"
#include "vault/owner.h"
#include "vault/policy.h"
#include "vault/records.h"
#include "util/err.h"
#include "util/clock.h"

struct ctx_policy_cache {
	int64_t loaded_ms;
	cmk_policy *v;
	size_t n;
	cmk_identity_info *ids; /* identity objects (identity.c) */
	size_t nids;
	int valid;
};

static const char *const perm_names[] = {
	"get",	  "list",    "create",	  "update",  "delete",	"recover", "purge",
	"rotate", "wrapKey", "unwrapKey", "encrypt", "decrypt", "sign",	   "verify",
};
#define NPERMS (sizeof perm_names / sizeof perm_names[0])

const char *cmk_perm_name(unsigned perm)
{
	for (unsigned i = 0; i < NPERMS; i++)
		if (perm == 1u << i)
			return perm_names[i];
	return "unknown";
}

cmk_rc cmk_perms_parse(const char *s, unsigned *perms)
{
	return_if_fail(s && perms);
	unsigned m = 0;
	while (*s) {
		size_t n = strcspn(s, ", ");
		if (n == 3 && strncmp(s, "all", 3) == 0) {
			m |= CMK_PERM_DEFAULT;
		} else if (n) {
			unsigned bit = 0;
			for (unsigned i = 0; i < NPERMS; i++)
				if (strlen(perm_names[i]) == n && strncmp(s, perm_names[i], n) == 0)
					bit = 1u << i;
			if (!bit)
				return cmk_err(CMK_E_USAGE,
					       "unknown permission '%.*s' (known: all get list "
					       "create update delete recover purge rotate wrapKey "
					       "unwrapKey encrypt decrypt sign verify)",
					       (int)n, s);
			m |= bit;
		}
		s += n;
		if (*s)
			s++;
	}
	*perms = m;
	return CMK_OK;
}

void cmk_perms_format(unsigned perms, char *buf, size_t len)
{
	size_t used = 0;
	if (len)
		buf[0] = '\0';
	for (unsigned i = 0; i < NPERMS; i++)
		if (perms & (1u << i))
			used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%s",
						 used ? "," : "", perm_names[i]);
}

/* Every policy record on the token, newest generation per identity. */
typedef struct pol_rec {
	rec_hdr hdr;
	cmk_policy p;
} pol_rec;

static int pol_parse(json_object *o, void *rec)
{
	pol_rec *r = rec;
	json_object *v;
	if (!json_object_object_get_ex(o, "perms", &v) ||
	    !json_object_object_get_ex(o, "updated", &v))
		return 0;
	r->p.perms = (unsigned)recs_int(o, "perms") & CMK_PERM_ALL;
	r->p.updated = recs_int(o, "updated");
	return 1;
}

static const rec_kind pol_kind = {
	.app = META_APP_POLICY,
	.what = "policy",
	.name_key = "identity",
	.size = sizeof(pol_rec),
	.name_off = offsetof(pol_rec, p.identity),
	.parse = pol_parse,
};

static cmk_rc policy_read(cmk_ctx *ctx, pol_rec **out, size_t *n, CK_OBJECT_HANDLE **stale,
			  size_t *nstale)
{
	return recs_read(ctx, &pol_kind, (void **)out, n, stale, nstale);
}

static void policy_cache_free(cmk_ctx *ctx)
{
	if (!ctx->policies)
		return;
	free(ctx->policies->v);
	free(ctx->policies->ids);
	free(ctx->policies);
	ctx->policies = NULL;
}

/* the context's part (ctx.h): no lock of its own (ctx->lock guards it) */
static const ctx_part policy_part = { .free = policy_cache_free };

void policy_cache_invalidate(cmk_ctx *ctx)
{
	pthread_mutex_lock(&ctx->lock);
	if (ctx->policies)
		ctx->policies->valid = 0;
	pthread_mutex_unlock(&ctx->lock);
}

/* perms and identity state of `who`, through the cache; *state: 0 no
 * identity object, 1 enabled, 2 disabled, 3 deleted */
static void lookup(const struct ctx_policy_cache *c, const char *who, unsigned *perms, int *state)
{
	*perms = 0;
	*state = 0;
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->v[i].identity, who) == 0)
			*perms = c->v[i].perms;
	for (size_t i = 0; i < c->nids; i++)
		if (strcmp(c->ids[i].name, who) == 0)
			*state = c->ids[i].deleted ? 3 : c->ids[i].enabled ? 1 : 2;
}

static cmk_rc own_perms(cmk_ctx *ctx, const char *who, unsigned *perms, int *state)
{
	int64_t now = mono_ms();
	pthread_mutex_lock(&ctx->lock);
	struct ctx_policy_cache *c = ctx->policies;
	int fresh = c && c->valid && now - c->loaded_ms < (int64_t)ctx->conf.policy_cache_ms;
	if (fresh)
		lookup(c, who, perms, state);
	pthread_mutex_unlock(&ctx->lock);
	if (fresh)
		return CMK_OK;
	pol_rec *r;
	size_t n, nids;
	cmk_identity_info *ids;
	CMK_TRY(policy_read(ctx, &r, &n, NULL, NULL));
	cmk_rc rc = identity_read(ctx, &ids, &nids, NULL, NULL);
	if (rc != CMK_OK) {
		free(r);
		return rc;
	}
	cmk_policy *v = calloc(n ? n : 1, sizeof *v);
	if (!v) {
		free(r);
		free(ids);
		return cmk_err(CMK_E_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++)
		v[i] = r[i].p;
	free(r);
	struct ctx_policy_cache tmp = { .v = v, .n = n, .ids = ids, .nids = nids };
	lookup(&tmp, who, perms, state);
	pthread_mutex_lock(&ctx->lock);
	if (!ctx->policies && (ctx->policies = calloc(1, sizeof *ctx->policies)))
		ctx_part_add(ctx, CTX_PART_POLICY, &policy_part);
	if (ctx->policies) {
		free(ctx->policies->v);
		free(ctx->policies->ids);
		ctx->policies->v = v;
		ctx->policies->n = n;
		ctx->policies->ids = ids;
		ctx->policies->nids = nids;
		ctx->policies->loaded_ms = now;
		ctx->policies->valid = 1;
		v = NULL;
		ids = NULL;
	}
	pthread_mutex_unlock(&ctx->lock);
	free(v);
	free(ids);
	return CMK_OK;
}

/* A resource acting as its identity has its own service-managed key's
 * permissions without a policy (like a cloud service's platform key). */
static int owned_by_acting(cmk_ctx *ctx, const char *key)
{
	char name[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1];
	key_state st;
	if (!key || !owner_acting() || names_resolve(ctx, key, name, ver) != CMK_OK)
		return 0;
	cmk_rc rc = keys_load(ctx, name, &st);
	/* its own service-managed key, gone (purged): let the operation say so */
	if (rc == CMK_E_NOT_FOUND)
		return strncmp(name, "svc-", 4) == 0 && strcmp(name + 4, owner_acting()) == 0;
	if (rc != CMK_OK)
		return 0;
	const char *o = owner_of(&st);
	int mine = o && strcmp(o, owner_acting()) == 0;
	key_state_free(&st);
	return mine;
}

cmk_rc policy_check(cmk_ctx *ctx, unsigned perm, const char *key)
{
	unsigned perms = 0;
	int state = 0;
	const char *who = owner_identity(ctx);
	CMK_TRY(own_perms(ctx, who, &perms, &state));
	if (state == 2 || state == 3)
		return cmk_err(CMK_E_ACCESS_DENIED, "access denied: identity '%s' is %s in %s%s",
			       who, state == 2 ? "disabled" : "deleted", CTX_WHAT(ctx),
			       state == 2 ? " (cmk identity enable)" : "");
	if (perms & perm)
		return CMK_OK;
	if (who != ctx->identity && owned_by_acting(ctx, key))
		return CMK_OK;
	char kid[CMK_KID_MAX];
	if (key && strncmp(key, "cmk://", 6) != 0)
		snprintf(kid, sizeof kid, "cmk://%s/keys/%s", ctx->conf.name, key);
	else
		snprintf(kid, sizeof kid, "%s", key ? key : "");
	if (key)
		return cmk_err(CMK_E_ACCESS_DENIED,
			       "access denied: identity '%s' lacks permission '%s' on key %s", who,
			       cmk_perm_name(perm), kid);
	return cmk_err(CMK_E_ACCESS_DENIED,
		       "access denied: identity '%s' lacks permission '%s' in %s", who,
		       cmk_perm_name(perm), CTX_WHAT(ctx));
}

cmk_rc policy_write(cmk_ctx *ctx, const char *identity, unsigned perms)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "t", json_object_new_string("policy"));
	json_object_object_add(o, "identity", json_object_new_string(identity));
	json_object_object_add(o, "perms", json_object_new_int64(perms));
	json_object_object_add(o, "updated", json_object_new_int64((int64_t)time(NULL)));
	cmk_rc rc = recs_write(ctx, &pol_kind, identity, o, NULL);
	policy_cache_invalidate(ctx);
	return rc;
}

cmk_rc policy_check_admin(cmk_ctx *ctx, const char *what)
{
	meta_vault v;
	CMK_TRY(vault_record(ctx, &v));
	if (strcmp(v.admin, ctx->identity) != 0)
		return cmk_err(
			CMK_E_ACCESS_DENIED,
			"access denied: only the administrator of %s ('%s') edits %s, not '%s'",
			CTX_WHAT(ctx), v.admin, what, ctx->identity);
	return CMK_OK;
}

static cmk_rc check_admin(cmk_ctx *ctx)
{
	return policy_check_admin(ctx, "access policies");
}

/* Once the vault has identity objects, a policy names an existing one. */
static cmk_rc check_exists(cmk_ctx *ctx, const char *identity)
{
	cmk_identity_info *v;
	size_t n, users = 0;
	int found = 0;
	CMK_TRY(identity_read(ctx, &v, &n, NULL, NULL));
	for (size_t i = 0; i < n; i++) {
		users += !v[i].resource[0];
		found |= strcmp(v[i].name, identity) == 0 && !v[i].deleted;
	}
	free(v);
	if (users && !found)
		return cmk_err(CMK_E_NOT_FOUND,
			       "%s has no identity '%s': create it first (cmk identity create %s)",
			       CTX_WHAT(ctx), identity, identity);
	return CMK_OK;
}

static cmk_rc check_identity(const char *identity)
{
	if (!identity || !*identity || strlen(identity) >= CMK_IDENTITY_MAX)
		return cmk_err(CMK_E_USAGE, "identity must be 1-%d characters",
			       CMK_IDENTITY_MAX - 1);
	for (const char *p = identity; *p; p++)
		if ((unsigned char)*p < 0x21 || *p == 0x7f)
			return cmk_err(CMK_E_USAGE,
				       "identity '%s' has spaces or control characters", identity);
	return CMK_OK;
}

cmk_rc cmk_policy_set(cmk_ctx *ctx, const char *identity, unsigned perms)
{
	return_if_fail(ctx);
	CMK_TRY(check_identity(identity));
	if (perms & ~(unsigned)CMK_PERM_ALL)
		return cmk_err(CMK_E_USAGE, "unknown permission bits 0x%x", perms);
	CMK_TRY(audit_check_writable(ctx));
	cmk_rc rc = check_admin(ctx);
	if (rc == CMK_OK)
		rc = check_exists(ctx, identity);
	char what[CMK_IDENTITY_MAX + 16];
	snprintf(what, sizeof what, "identity:%s", identity);
	if (rc == CMK_OK && (rc = vault_write_begin(ctx)) == CMK_OK)
		return audit_write_end(ctx, "policy-set", what, policy_write(ctx, identity, perms));
	return audit_op(ctx, "policy-set", what, rc);
}

cmk_rc policy_erase(cmk_ctx *ctx, const char *identity)
{
	pol_rec *r;
	size_t n, ns;
	CK_OBJECT_HANDLE *stale;
	CMK_TRY(policy_read(ctx, &r, &n, &stale, &ns));
	cmk_rc rc = CMK_OK;
	for (size_t i = 0; i < n && rc == CMK_OK; i++)
		if (strcmp(r[i].p.identity, identity) == 0)
			rc = p11_destroy(ctx->tok, r[i].hdr.h);
	free(r);
	free(stale);
	policy_cache_invalidate(ctx);
	return rc;
}

cmk_rc cmk_policy_remove(cmk_ctx *ctx, const char *identity)
{
	return_if_fail(ctx);
	CMK_TRY(check_identity(identity));
	CMK_TRY(audit_check_writable(ctx));
	cmk_rc rc = check_admin(ctx);
	int held = 0;
	if (rc == CMK_OK && (held = (rc = vault_write_begin(ctx)) == CMK_OK)) {
		pol_rec *r;
		size_t n, ns;
		CK_OBJECT_HANDLE *stale;
		rc = policy_read(ctx, &r, &n, &stale, &ns);
		if (rc == CMK_OK) {
			int found = 0;
			for (size_t i = 0; i < n && rc == CMK_OK; i++)
				if (strcmp(r[i].p.identity, identity) == 0) {
					found = 1;
					rc = p11_destroy(ctx->tok, r[i].hdr.h);
				}
			for (size_t i = 0; i < ns && rc == CMK_OK; i++)
				p11_destroy(ctx->tok, stale[i]);
			if (rc == CMK_OK && !found)
				rc = cmk_err(CMK_E_NOT_FOUND,
					     "%s has no access policy for identity '%s'",
					     CTX_WHAT(ctx), identity);
			free(r);
			free(stale);
		}
		policy_cache_invalidate(ctx);
		sig_defer_begin(); /* until the audit record is written */
		vault_write_end(ctx);
	}
	char what[CMK_IDENTITY_MAX + 16];
	snprintf(what, sizeof what, "identity:%s", identity);
	if (held) {
		rc = audit_op(ctx, "policy-remove", what, rc);
		sig_defer_end();
		return rc;
	}
	return audit_op(ctx, "policy-remove", what, rc);
}

cmk_rc cmk_policy_list(cmk_ctx *ctx, cmk_policy **out, size_t *n)
{
	return_if_fail(ctx && out && n);
	pol_rec *r;
	size_t count;
	CMK_TRY(policy_read(ctx, &r, &count, NULL, NULL));
	cmk_policy *v = calloc(count ? count : 1, sizeof *v);
	if (!v) {
		free(r);
		return cmk_err(CMK_E_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < count; i++)
		v[i] = r[i].p;
	free(r);
	*out = v;
	*n = count;
	return CMK_OK;
}

cmk_rc cmk_policy_get(cmk_ctx *ctx, const char *identity, cmk_policy *out)
{
	return_if_fail(ctx && identity && out);
	cmk_policy *v;
	size_t n;
	CMK_TRY(cmk_policy_list(ctx, &v, &n));
	cmk_rc rc = cmk_err(CMK_E_NOT_FOUND, "%s has no access policy for identity '%s'",
			    CTX_WHAT(ctx), identity);
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].identity, identity) == 0) {
			*out = v[i];
			rc = CMK_OK;
		}
	free(v);
	return rc;
}
