/*
 * resource.h - internals of resources (docs/resources.md).
 *
 *   store.c    the directory: resource.json, locking, atomic replace
 *   keyring.c  the root key: wrap under svc-NAME (and a CMK), unwrap,
 *              re-wrap, key changes, the root-key cache
 *   objects.c  objects: sealed with their own DEK under the root key
 */
#ifndef CMK_RESOURCE_INT_H
#define CMK_RESOURCE_INT_H

#include <stdint.h>

#include "cmk.h"
#include "vault/owner.h"

#define RES_FORMAT     1
#define RES_ROOT_LEN   32
#define RES_ROOTID_LEN 16

/* What resource.json holds (no secrets: the root key only wrapped). */
typedef struct res_state {
	char name[CMK_RESOURCE_NAME_MAX];
	char vault[64];
	char root_id[2 * RES_ROOTID_LEN + 1]; /* hex */
	char service_kid[CMK_KID_MAX];
	char customer_key[CMK_KID_MAX]; /* as set; "" service-managed */
	char customer_kid[CMK_KID_MAX];
	char cmk_vault[64];
	int64_t created, rewrapped;
	int svc_retire;			 /* older svc-NAME versions still to disable */
	int key_fixed;			 /* no switch service <-> customer-managed */
	char identity[CMK_IDENTITY_MAX]; /* acts as it; "" (older): the caller */
	int64_t deleted_on, purge_on;
	uint8_t *keyring; /* wrapped record, or an envelope under the CMK */
	size_t keyring_len;
} res_state;

struct cmk_resource {
	cmk_ctx *ctx;  /* the resource's vault (the caller's) */
	cmk_ctx *kctx; /* the CMK's vault when it is another one */
	char *config;
	char *propq;
	cmk_dekcache *cache;
	char dir[4096]; /* .../NAME */
	res_state st;
	int lockfd;
	int creating; /* create --key: the first set-key */
};

/* store.c */
cmk_rc res_base_dir(const char *dir, char *out, size_t len);
cmk_rc res_name_check(const char *name);
cmk_rc res_state_load(const char *dir, res_state *st);
cmk_rc res_state_save(const char *dir, const res_state *st);
void res_state_clear(res_state *st);
cmk_rc res_lock(cmk_resource *r);
void res_unlock(cmk_resource *r);
/* Write `len` bytes to dir/name through a temp file + fsync + rename. */
/* Remove the temporary files res_write_atomic left in dir (a process
 * killed inside a write); only for a directory no state names. */
void res_remove_temporaries(const char *dir);
cmk_rc res_write_atomic(const char *dir, const char *name, const uint8_t *p, size_t len, int mode);
cmk_rc res_read_file(const char *path, size_t max, uint8_t **p, size_t *len);
/* The first `head` bytes of a file; *total gets its size. */
cmk_rc res_read_head(const char *path, size_t max, size_t head, uint8_t **p, size_t *len,
		     size_t *total);

/* keyring.c */
cmk_rc res_keyring_new(cmk_ctx *ctx, res_state *st, const uint8_t *root);
/* The root key (from the cache, else unwrapped), in secure memory. */
cmk_rc res_root_key(cmk_resource *r, uint8_t root[RES_ROOT_LEN]);
cmk_rc res_kctx(cmk_resource *r, const char *vault, cmk_ctx **kctx);
/* Every public resource call acts for its resource (vault/owner.h) from
 * RES_ACT on, and ends through res_audit: one audit record of `op`
 * carrying the resource name (and the object id set by RES_ACT_OBJECT). */
#define RES_ACT(r) (owner_act_begin((r)->st.name, NULL), owner_act_identity((r)->st.identity))
#define RES_ACT_OBJECT(r, id) \
	(owner_act_begin((r)->st.name, (id)), owner_act_identity((r)->st.identity))
cmk_rc res_audit(cmk_resource *r, const char *op, cmk_rc rc);

cmk_rc res_precheck_cmk(cmk_resource *r, const char *keyid);
/* A key argument as a full id: NAME and NAME/VERSION are taken in `vault`. */
cmk_rc res_full_keyid(const cmk_resource *r, const char *keyid, char out[CMK_KID_MAX]);

/* objects.c */
size_t res_count_objects(const char *dir);
cmk_rc res_object_id(const char *propq, const uint8_t root[RES_ROOT_LEN], const char *name,
		     char id[33]);

#endif
