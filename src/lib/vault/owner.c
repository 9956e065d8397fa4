/* owner.c - keys that belong to a resource (see owner.h). */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "vault/keys.h"
#include "vault/owner.h"
#include "util/err.h"

static _Thread_local char acting[CMK_RESOURCE_NAME_MAX];
static _Thread_local char acting_obj[40];
static _Thread_local char acting_id[CMK_IDENTITY_MAX];

void owner_act_identity(const char *identity)
{
	snprintf(acting_id, sizeof acting_id, "%s", identity ? identity : "");
}

const char *owner_identity(const cmk_ctx *ctx)
{
	return acting_id[0] ? acting_id : ctx->identity;
}

void owner_act_begin(const char *resource, const char *object)
{
	snprintf(acting, sizeof acting, "%s", resource ? resource : "");
	snprintf(acting_obj, sizeof acting_obj, "%s", object ? object : "");
}

void owner_act_end(void)
{
	acting[0] = '\0';
	acting_obj[0] = '\0';
	acting_id[0] = '\0';
}

const char *owner_acting(void)
{
	return acting[0] ? acting : NULL;
}

const char *owner_acting_object(void)
{
	return acting_obj[0] ? acting_obj : NULL;
}

const char *owner_of(const key_state *st)
{
	for (size_t i = st->nv; i-- > 0;)
		for (size_t t = 0; t < st->v[i].ntags; t++)
			if (strcmp(st->v[i].tags[t].key, OWNER_TAG) == 0)
				return st->v[i].tags[t].value;
	return NULL;
}

cmk_rc owner_check(cmk_ctx *ctx, const char *id, const char *op)
{
	char name[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1];
	key_state st;
	if (!id || names_resolve(ctx, id, name, ver) != CMK_OK ||
	    keys_load(ctx, name, &st) != CMK_OK)
		return CMK_OK;
	const char *owner = owner_of(&st);
	cmk_rc rc = CMK_OK;
	if (owner && strcmp(owner, acting) != 0)
		rc = cmk_err(
			CMK_E_OP_NOT_ALLOWED,
			"key cmk://%s/keys/%s is managed by resource %s: "
			"%s it through the resource's own commands (cmk resource ...), not cmk key",
			cmk_ctx_vault(ctx), name, owner, op);
	key_state_free(&st);
	return rc;
}

cmk_rc owner_check_tags(const cmk_tag *tags, size_t ntags)
{
	for (size_t i = 0; i < ntags; i++)
		if (strcmp(tags[i].key, OWNER_TAG) == 0 && strcmp(tags[i].value, acting) != 0)
			return cmk_err(CMK_E_USAGE,
				       "the tag %s is reserved: it marks the "
				       "service-managed key of a resource",
				       OWNER_TAG);
	return CMK_OK;
}
