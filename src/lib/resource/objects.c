/*
 * objects.c - creating and opening resources, and their objects.
 *
 * An object is the file objects/ID, ID = hex of the first 16 bytes of
 * HMAC-SHA256(K_names, name) with K_names = HKDF-SHA256(root key, info
 * "cmk resource names"): the name is not visible, and lookups need no
 * index.  The file is an envelope (docs/envelope-format.md) whose DEK is
 * AES-KW-wrapped by the root key (id "root:ROOTID"), context cmk-object=ID
 * and cmk-resource=NAME (so files cannot be swapped), and whose plaintext
 * is: name length (2) || name || modification time (8) || data.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "envelope/envelope.h"
#include "resource/resource.h"
#include "vault/identity.h"
#include "util/err.h"

#define OBJECT_MAX ((size_t)1 << 36)
#define PREFIX_MAX (2 + CMK_OBJECT_NAME_MAX + 8)

static cmk_rc name_check(const cmk_resource *r, const char *object)
{
	size_t n = object ? strlen(object) : 0;
	if (n < 1 || n >= CMK_OBJECT_NAME_MAX)
		return cmk_err(CMK_E_USAGE,
			       "resource %s: object name must be "
			       "1-%d bytes",
			       r->st.name, CMK_OBJECT_NAME_MAX - 1);
	return CMK_OK;
}

cmk_rc res_object_id(const char *propq, const uint8_t root[RES_ROOT_LEN], const char *name,
		     char id[33])
{
	uint8_t k[32], mac[32];
	size_t maclen = 0;
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", propq);
	EVP_KDF_CTX *kc = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM p[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)root, RES_ROOT_LEN),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, "cmk resource names", 18),
		OSSL_PARAM_construct_end(),
	};
	int ok = kc && EVP_KDF_derive(kc, k, sizeof k, p) == 1 &&
		 EVP_Q_mac(NULL, "HMAC", propq, "SHA256", NULL, k, sizeof k, (const uint8_t *)name,
			   strlen(name), mac, sizeof mac, &maclen) != NULL;
	EVP_KDF_CTX_free(kc);
	EVP_KDF_free(kdf);
	cmk_wipe(k, sizeof k);
	if (!ok)
		return env_ossl_err(CMK_E_INTERNAL, "object name HMAC");
	for (int i = 0; i < 16; i++)
		sprintf(id + 2 * i, "%02x", mac[i]);
	return CMK_OK;
}

/* ------------------------------------------------------------ lifecycle */

static cmk_rc resource_new(cmk_ctx *ctx, const cmk_resource_params *p, const char *name,
			   cmk_resource **out)
{
	char base[3800];
	CMK_TRY(res_name_check(name));
	CMK_TRY(res_base_dir(p ? p->dir : NULL, base, sizeof base));
	cmk_resource *r = calloc(1, sizeof *r);
	if (!r)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	r->ctx = ctx;
	r->lockfd = -1;
	r->cache = p ? p->cache : NULL;
	const char *q = p && p->propq ? p->propq : cmk_ctx_propquery(ctx);
	if ((p && p->config && !(r->config = strdup(p->config))) ||
	    (q && !(r->propq = strdup(q)))) {
		cmk_resource_close(r);
		return cmk_err(CMK_E_NOMEM, "out of memory");
	}
	snprintf(r->dir, sizeof r->dir, "%s/%s", base, name);
	*out = r;
	return CMK_OK;
}

cmk_rc cmk_resource_create(cmk_ctx *ctx, const cmk_resource_params *p, const char *name)
{
	return cmk_resource_create2(ctx, p, name, NULL);
}

cmk_rc cmk_resource_create2(cmk_ctx *ctx, const cmk_resource_params *p, const char *name,
			    const cmk_resource_create_params *cp)
{
	char svc[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1], objs[4200];
	uint8_t *root = NULL, rid[RES_ROOTID_LEN];
	cmk_resource *r;
	cmk_rc rc;

	char keyid[CMK_KID_MAX] = "";

	return_if_fail(ctx);
	CMK_TRY(resource_new(ctx, p, name, &r));
	snprintf(r->st.name, sizeof r->st.name, "%s", name);
	snprintf(r->st.vault, sizeof r->st.vault, "%s", cmk_ctx_vault(ctx));
	r->st.key_fixed = cp && cp->key_fixed;
	if (cp && cp->identity) {
		cmk_identity_info ii;
		if ((rc = cmk_identity_get(ctx, cp->identity, &ii)) == CMK_OK && ii.deleted)
			rc = cmk_err(CMK_E_NOT_FOUND, "identity '%s' is deleted", cp->identity);
		if (rc != CMK_OK) {
			rc = cmk_err_prefix(rc, "resource %s", name);
			cmk_resource_close(r);
			return rc;
		}
		snprintf(r->st.identity, sizeof r->st.identity, "%s", cp->identity);
	} else {
		snprintf(r->st.identity, sizeof r->st.identity, "res-%s", name);
	}
	if (access(r->dir, F_OK) == 0) {
		/* a directory without a state file is no resource: what a killed
		 * create left (an empty objects/ at most, and the temporary file
		 * of a first save cut short), taken over here */
		char leftover[4200];
		res_state old;
		snprintf(leftover, sizeof leftover, "%s/objects", r->dir);
		cmk_rc lrc = res_state_load(r->dir, &old);
		if (lrc == CMK_OK)
			res_state_clear(&old);
		if (lrc == CMK_E_NOT_FOUND)
			res_remove_temporaries(r->dir);
		if (lrc != CMK_E_NOT_FOUND || (rmdir(leftover) != 0 && errno != ENOENT) ||
		    rmdir(r->dir) != 0) {
			rc = cmk_err(CMK_E_EXISTS,
				     "resource %s: cannot create %s: it "
				     "already exists",
				     name, r->dir);
			cmk_resource_close(r);
			return rc;
		}
	}
	/* --key: set-key's checks before anything is made */
	if (cp && cp->keyid) {
		RES_ACT(r);
		if ((rc = res_full_keyid(r, cp->keyid, keyid)) != CMK_OK ||
		    (rc = res_precheck_cmk(r, keyid)) != CMK_OK) {
			rc = res_audit(r, "resource-create", rc);
			cmk_resource_close(r);
			return rc;
		}
		owner_act_end();
	}
	if (mkdir(r->dir, 0700) != 0) {
		rc = cmk_err(errno == EEXIST ? CMK_E_EXISTS : CMK_E_IO,
			     "resource %s: cannot create %s: %s", name, r->dir,
			     errno == EEXIST ? "it already exists" : strerror(errno));
		cmk_resource_close(r);
		return rc;
	}
	snprintf(objs, sizeof objs, "%s/objects", r->dir);
	snprintf(svc, sizeof svc, "svc-%s", name);
	cmk_tag owner;
	snprintf(owner.key, sizeof owner.key, "%s", OWNER_TAG);
	snprintf(owner.value, sizeof owner.value, "%s", name);
	cmk_key_params kp = {
		.bits = 2048, .ops = CMK_OP_WRAP | CMK_OP_UNWRAP, .tags = &owner, .ntags = 1
	};
	/* the caller creates svc-NAME (needs `create`) and the system-assigned
	 * identity; from then on the resource acts as its identity */
	owner_act_begin(name, NULL);
	if (!(cp && cp->identity) &&
	    (rc = identity_create_system(ctx, r->st.identity, name)) != CMK_OK) {
		rc = cmk_err_prefix(rc, "resource %s: its identity %s", name, r->st.identity);
		goto fail;
	}
	if (mkdir(objs, 0700) != 0) {
		rc = cmk_err(CMK_E_IO, "cannot create %s: %s", objs, strerror(errno));
		goto fail;
	}
	rc = cmk_key_create(ctx, svc, &kp, ver);
	if (rc == CMK_E_EXISTS) {
		/* a killed create of this resource made it (it is tagged as this
		 * resource's, and no resource state names it): taken over */
		cmk_key_info ki;
		if (cmk_key_info_get(ctx, svc, 0, &ki) == CMK_OK &&
		    strcmp(ki.managed_by, name) == 0 && ki.current[0])
			rc = CMK_OK;
	}
	if (rc != CMK_OK) {
		rc = cmk_err_prefix(rc,
				    "resource %s: creating its service-managed "
				    "key %s",
				    name, svc);
		goto fail;
	}
	RES_ACT(r);
	if (!(root = cmk_secure_alloc(RES_ROOT_LEN))) {
		rc = cmk_err(CMK_E_NOMEM, "out of memory");
		goto fail;
	}
	if ((rc = env_random(root, RES_ROOT_LEN, 1)) != CMK_OK ||
	    (rc = env_random(rid, sizeof rid, 0)) != CMK_OK)
		goto fail;
	for (int i = 0; i < RES_ROOTID_LEN; i++)
		sprintf(r->st.root_id + 2 * i, "%02x", rid[i]);
	r->st.created = (int64_t)time(NULL);
	if ((rc = res_keyring_new(ctx, &r->st, root)) != CMK_OK ||
	    (rc = res_state_save(r->dir, &r->st)) != CMK_OK)
		goto fail;
	cmk_secure_free(root, RES_ROOT_LEN);
	rc = res_audit(r, "resource-create", CMK_OK);
	if (rc == CMK_OK && keyid[0]) {
		/* checked above; a failure now leaves a service-managed resource */
		r->creating = 1;
		if ((rc = cmk_resource_set_key(r, keyid)) != CMK_OK)
			rc = cmk_err_prefix(rc,
					    "resource %s was created service-managed, "
					    "but setting its customer-managed key failed",
					    name);
	}
	cmk_resource_close(r);
	return rc;
fail:
	/* Leave nothing half-made: no state file means no resource. */
	cmk_secure_free(root, RES_ROOT_LEN);
	rmdir(objs);
	rmdir(r->dir);
	rc = res_audit(r, "resource-create", rc);
	cmk_resource_close(r);
	return rc;
}

cmk_rc cmk_resource_vault(const cmk_resource_params *p, const char *name, char vault[64])
{
	char base[3800], dir[4096];
	res_state st;
	CMK_TRY(res_name_check(name));
	CMK_TRY(res_base_dir(p ? p->dir : NULL, base, sizeof base));
	snprintf(dir, sizeof dir, "%s/%s", base, name);
	cmk_rc rc = res_state_load(dir, &st);
	if (rc == CMK_E_NOT_FOUND)
		return cmk_err(rc, "resource %s does not exist (in %s)", name, base);
	if (rc != CMK_OK)
		return rc;
	snprintf(vault, 64, "%s", st.vault);
	res_state_clear(&st);
	return CMK_OK;
}

cmk_rc cmk_resource_open(cmk_ctx *ctx, const cmk_resource_params *p, const char *name,
			 cmk_resource **out)
{
	cmk_resource *r;
	return_if_fail(ctx && out);
	*out = NULL;
	CMK_TRY(resource_new(ctx, p, name, &r));
	cmk_rc rc = res_state_load(r->dir, &r->st);
	if (rc == CMK_E_NOT_FOUND)
		rc = cmk_err(rc, "resource %s does not exist (in %.*s)", name,
			     (int)(strlen(r->dir) - strlen(name) - 1), r->dir);
	else if (rc == CMK_OK && strcmp(r->st.name, name) != 0)
		rc = cmk_err(CMK_E_INTEGRITY,
			     "resource %s: its state names "
			     "resource %s",
			     name, r->st.name);
	else if (rc == CMK_OK && strcmp(r->st.vault, cmk_ctx_vault(ctx)) != 0)
		rc = cmk_err(CMK_E_USAGE, "resource %s is in vault %s, not %s", name, r->st.vault,
			     cmk_ctx_vault(ctx));
	if (rc != CMK_OK) {
		cmk_resource_close(r);
		return rc;
	}
	*out = r;
	return CMK_OK;
}

void cmk_resource_close(cmk_resource *r)
{
	if (!r)
		return;
	res_unlock(r);
	cmk_close(r->kctx);
	res_state_clear(&r->st);
	free(r->config);
	free(r->propq);
	free(r);
}

size_t res_count_objects(const char *dir)
{
	char objs[4200];
	size_t n = 0;
	snprintf(objs, sizeof objs, "%s/objects", dir);
	DIR *d = opendir(objs);
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += strlen(e->d_name) == 32;
	if (d)
		closedir(d);
	return n;
}

cmk_rc cmk_resource_info_get(cmk_resource *r, cmk_resource_info *out)
{
	res_state st;
	return_if_fail(r && out);
	CMK_TRY(res_state_load(r->dir, &st));
	memset(out, 0, sizeof *out);
	snprintf(out->name, sizeof out->name, "%s", st.name);
	snprintf(out->path, sizeof out->path, "%s", r->dir);
	snprintf(out->vault, sizeof out->vault, "%s", st.vault);
	snprintf(out->service_kid, sizeof out->service_kid, "%s", st.service_kid);
	snprintf(out->customer_key, sizeof out->customer_key, "%s", st.customer_key);
	snprintf(out->customer_kid, sizeof out->customer_kid, "%s", st.customer_kid);
	snprintf(out->cmk_vault, sizeof out->cmk_vault, "%s", st.cmk_vault);
	out->created = st.created;
	out->rewrapped = st.rewrapped;
	out->objects = res_count_objects(r->dir);
	out->key_fixed = st.key_fixed;
	out->deleted_on = st.deleted_on;
	out->purge_on = st.purge_on;
	snprintf(out->identity, sizeof out->identity, "%s", st.identity);
	res_state_clear(&st);
	return CMK_OK;
}

/* -------------------------------------------------------------- objects */

static void kw_params(const cmk_resource *r, const uint8_t *root, const char *id, char kwid[64],
		      cmk_kv kv[2], env_kw_params *p)
{
	snprintf(kwid, 64, "root:%s", r->st.root_id);
	kv[0] = (cmk_kv){ "cmk-object", id };
	kv[1] = (cmk_kv){ "cmk-resource", r->st.name };
	*p = (env_kw_params){
		.kek = root, .id = kwid, .context = kv, .ncontext = 2, .propq = r->propq
	};
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

cmk_rc cmk_resource_put(cmk_resource *r, const char *object, const uint8_t *data, size_t len)
{
	uint8_t *root = NULL, prefix[PREFIX_MAX], *out = NULL;
	char id[33], kwid[64], objs[4200];
	cmk_kv kv[2];
	env_kw_params kp;
	cmk_sealer *s = NULL;
	cmk_rc rc;

	return_if_fail(r && (data || !len));
	CMK_TRY(name_check(r, object));
	if (len > OBJECT_MAX)
		return cmk_err(CMK_E_TOO_LARGE,
			       "resource %s: object larger than "
			       "%zu bytes",
			       r->st.name, OBJECT_MAX);
	if (!(root = cmk_secure_alloc(RES_ROOT_LEN)))
		return cmk_err(CMK_E_NOMEM, "out of memory");
	RES_ACT(r);
	if ((rc = res_root_key(r, root)) != CMK_OK ||
	    (rc = res_object_id(r->propq, root, object, id)) != CMK_OK)
		goto out;
	RES_ACT_OBJECT(r, id);
	size_t nl = strlen(object), pl = 2 + nl + 8;
	prefix[0] = (uint8_t)(nl >> 8);
	prefix[1] = (uint8_t)nl;
	memcpy(prefix + 2, object, nl);
	put64(prefix + 2 + nl, (uint64_t)time(NULL));
	kw_params(r, root, id, kwid, kv, &kp);
	if ((rc = env_kw_sealer(&kp, &s)) != CMK_OK)
		goto out;
	size_t cap = cmk_seal_out_max(s, pl + len), n1 = cap, n2, n3;
	if (!(out = malloc(cap))) {
		rc = cmk_err(CMK_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = cmk_seal_update(s, prefix, pl, out, &n1)) != CMK_OK)
		goto out;
	n2 = cap - n1;
	if ((rc = cmk_seal_update(s, data, len, out + n1, &n2)) != CMK_OK)
		goto out;
	n3 = cap - n1 - n2;
	if ((rc = cmk_seal_final(s, out + n1 + n2, &n3)) != CMK_OK)
		goto out;
	snprintf(objs, sizeof objs, "%s/objects", r->dir);
	rc = res_write_atomic(objs, id, out, n1 + n2 + n3, 0600);
out:
	cmk_seal_free(s);
	free(out);
	cmk_secure_free(root, RES_ROOT_LEN);
	return res_audit(r, "resource-put", rc);
}

/* Open the object file `id`; *plain is the whole plaintext (prefix too).
 * With `head`, stop once the prefix is in. */
static cmk_rc open_object(cmk_resource *r, const uint8_t *root, const char *id, int head,
			  uint8_t **plain, size_t *plen)
{
	char path[4300], kwid[64];
	cmk_kv kv[2];
	env_kw_params kp;
	cmk_unsealer *u;
	uint8_t *ct;
	size_t ctlen, total;
	const size_t head_max = CMK_ENVELOPE_HEADER_MAX + CMK_ENVELOPE_FRAME_MAX + 64;

	snprintf(path, sizeof path, "%s/objects/%s", r->dir, id);
	CMK_TRY(res_read_head(path, OBJECT_MAX + (OBJECT_MAX >> 10) + 65536,
			      head ? head_max : SIZE_MAX, &ct, &ctlen, &total));
	kw_params(r, root, id, kwid, kv, &kp);
	cmk_rc rc = env_kw_unsealer(&kp, 0, &u);
	if (rc == CMK_OK) {
		if (head) {
			/* Header and the first frame are enough for the name. */
			size_t n = ctlen;
			uint8_t *b = malloc(n + 1);
			size_t o = n;
			rc = b ? cmk_unseal_update(u, ct, n, b, &o)
			       : cmk_err(CMK_E_NOMEM, "out of memory");
			if (rc == CMK_OK && n == total)
				rc = cmk_unseal_final(u);
			if (rc == CMK_OK) {
				*plain = b;
				*plen = o;
			} else {
				free(b);
			}
		} else {
			rc = env_unseal_buf(u, ct, ctlen, plain, plen);
		}
		cmk_unseal_free(u);
	}
	free(ct);
	if (rc != CMK_OK && rc != CMK_E_NOT_FOUND)
		return cmk_err_prefix(rc, "resource %s: object file %s", r->st.name, id);
	return rc;
}

static cmk_rc parse_prefix(const cmk_resource *r, const char *id, const uint8_t *p, size_t len,
			   size_t *nl, size_t *pl)
{
	if (len < 2 || (*nl = (size_t)p[0] << 8 | p[1]) < 1 || *nl >= CMK_OBJECT_NAME_MAX ||
	    len < 2 + *nl + 8 || memchr(p + 2, 0, *nl))
		return cmk_err(CMK_E_FORMAT,
			       "resource %s: object file %s has a "
			       "malformed name record",
			       r->st.name, id);
	*pl = 2 + *nl + 8;
	return CMK_OK;
}

cmk_rc cmk_resource_get(cmk_resource *r, const char *object, uint8_t **data, size_t *len)
{
	uint8_t *root = NULL, *plain = NULL;
	size_t plen = 0, nl, pl;
	char id[33];
	cmk_rc rc;

	return_if_fail(r && data && len);
	*data = NULL;
	CMK_TRY(name_check(r, object));
	if (!(root = cmk_secure_alloc(RES_ROOT_LEN)))
		return cmk_err(CMK_E_NOMEM, "out of memory");
	RES_ACT(r);
	if ((rc = res_root_key(r, root)) != CMK_OK ||
	    (rc = res_object_id(r->propq, root, object, id)) != CMK_OK)
		goto out;
	RES_ACT_OBJECT(r, id);
	rc = open_object(r, root, id, 0, &plain, &plen);
	if (rc == CMK_E_NOT_FOUND) {
		rc = cmk_err(rc, "resource %s has no object '%s'", r->st.name, object);
		goto out;
	}
	if (rc != CMK_OK || (rc = parse_prefix(r, id, plain, plen, &nl, &pl)) != CMK_OK)
		goto out;
	if (nl != strlen(object) || memcmp(plain + 2, object, nl) != 0) {
		rc = cmk_err(CMK_E_INTEGRITY,
			     "resource %s: object file %s holds "
			     "another object than '%s'",
			     r->st.name, id, object);
		goto out;
	}
	memmove(plain, plain + pl, plen - pl);
	*data = plain;
	*len = plen - pl;
	plain = NULL;
out:
	if (plain) {
		cmk_wipe(plain, plen);
		free(plain);
	}
	cmk_secure_free(root, RES_ROOT_LEN);
	return res_audit(r, "resource-get", rc);
}

cmk_rc cmk_resource_rm(cmk_resource *r, const char *object)
{
	uint8_t *root;
	char id[33], path[4300];
	return_if_fail(r);
	CMK_TRY(name_check(r, object));
	if (!(root = cmk_secure_alloc(RES_ROOT_LEN)))
		return cmk_err(CMK_E_NOMEM, "out of memory");
	RES_ACT(r);
	cmk_rc rc = res_root_key(r, root);
	if (rc == CMK_OK)
		rc = res_object_id(r->propq, root, object, id);
	cmk_secure_free(root, RES_ROOT_LEN);
	if (rc != CMK_OK)
		return res_audit(r, "resource-rm", rc);
	RES_ACT_OBJECT(r, id);
	snprintf(path, sizeof path, "%s/objects/%s", r->dir, id);
	if (unlink(path) != 0)
		rc = cmk_err(errno == ENOENT ? CMK_E_NOT_FOUND : CMK_E_IO,
			     "resource %s: %s '%s'%s%s", r->st.name,
			     errno == ENOENT ? "no object" : "cannot remove", object,
			     errno == ENOENT ? "" : ": ", errno == ENOENT ? "" : strerror(errno));
	return res_audit(r, "resource-rm", rc);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

cmk_rc cmk_resource_list(cmk_resource *r, char ***names, size_t *n)
{
	uint8_t *root;
	char objs[4200];
	char **v = NULL;
	size_t k = 0, cap = 0;
	cmk_rc rc;

	return_if_fail(r && names && n);
	if (!(root = cmk_secure_alloc(RES_ROOT_LEN)))
		return cmk_err(CMK_E_NOMEM, "out of memory");
	RES_ACT(r);
	if ((rc = res_root_key(r, root)) != CMK_OK) {
		cmk_secure_free(root, RES_ROOT_LEN);
		return res_audit(r, "resource-list", rc);
	}
	snprintf(objs, sizeof objs, "%s/objects", r->dir);
	DIR *d = opendir(objs);
	if (!d)
		rc = cmk_err(CMK_E_IO, "resource %s: cannot read %s: %s", r->st.name, objs,
			     strerror(errno));
	struct dirent *e;
	while (rc == CMK_OK && (e = readdir(d))) {
		uint8_t *plain;
		size_t plen, nl, pl;
		char id[33];
		if (strlen(e->d_name) != 32 || e->d_name[0] == '.')
			continue;
		if ((rc = open_object(r, root, e->d_name, 1, &plain, &plen)) != CMK_OK)
			break;
		if ((rc = parse_prefix(r, e->d_name, plain, plen, &nl, &pl)) == CMK_OK) {
			char *s = strndup((char *)plain + 2, nl);
			if (!s ||
			    (k == cap && !(v = realloc(v, (cap = cap * 2 + 16) * sizeof *v)))) {
				free(s);
				rc = cmk_err(CMK_E_NOMEM, "out of memory");
			} else if ((rc = res_object_id(r->propq, root, s, id)) == CMK_OK &&
				   strcmp(id, e->d_name) != 0) {
				free(s);
				rc = cmk_err(CMK_E_INTEGRITY,
					     "resource %s: object file "
					     "%s holds an object of another name",
					     r->st.name, e->d_name);
			} else if (rc == CMK_OK) {
				v[k++] = s;
			} else {
				free(s);
			}
		}
		cmk_wipe(plain, plen);
		free(plain);
	}
	if (d)
		closedir(d);
	cmk_secure_free(root, RES_ROOT_LEN);
	if (rc != CMK_OK) {
		cmk_strv_free(v, k);
		return res_audit(r, "resource-list", rc);
	}
	if (k)
		qsort(v, k, sizeof *v, str_cmp);
	*names = v;
	*n = k;
	return res_audit(r, "resource-list", CMK_OK);
}
