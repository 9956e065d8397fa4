/* owner.h - keys that belong to a resource, and the resource a thread is
 * acting for (docs/resources.md, "The service-managed key belongs to its
 * resource").
 *
 * A resource's service-managed key carries the tag OWNER_TAG = resource
 * name on its versions (authenticated metadata like every tag).  The key
 * calls that could strand the resource (disable/enable, set, delete,
 * recover, purge, rotate, import) refuse such a key unless the calling
 * thread is acting for that resource, which only the resource code does. */
#ifndef CMK_OWNER_H
#define CMK_OWNER_H

#include "ctx.h"
#include "vault/audit.h"

#define OWNER_TAG "cmk-managed-by"

/* The resource code, around its own key calls on this thread.  `object`
 * (an object id, never a name) may be NULL.  Audit records written
 * meanwhile carry the resource (and object id). */
void owner_act_begin(const char *resource, const char *object);
void owner_act_end(void);
const char *owner_acting(void); /* NULL when not acting */
/* The resource's identity, when it has one, for this thread's key calls. */
void owner_act_identity(const char *identity);
/* The identity this thread acts as on ctx: the resource's, else ctx's. */
const char *owner_identity(const cmk_ctx *ctx);
const char *owner_acting_object(void);

/* The resource that owns a loaded key, or NULL. */
struct key_state;
const char *owner_of(const struct key_state *st);
/* rotation.c: when the key's rotation policy next rotates it (0: none);
 * for many keys, the policies read once (free()) and looked up in. */
int64_t rotation_next(cmk_ctx *ctx, const struct key_state *st);
struct rot_rec;
cmk_rc rotation_policies(cmk_ctx *ctx, struct rot_rec **r, size_t *n);
int64_t rotation_next_of(const struct rot_rec *r, size_t n, const struct key_state *st);
/* CMK_E_OP_NOT_ALLOWED when key `id` belongs to a resource and this
 * thread is not acting for it; CMK_OK otherwise (unknown keys too: the
 * operation itself reports them).  `op` is the operation, for the message. */
cmk_rc owner_check(cmk_ctx *ctx, const char *id, const char *op);
/* Whether tags hold a reserved owner tag (key create/import refuse it
 * unless acting for that resource). */
cmk_rc owner_check_tags(const cmk_tag *tags, size_t ntags);

#endif
