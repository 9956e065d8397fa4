/* lifecycle.c - enable, disable, attribute changes, soft delete, recover
 * and purge, each committed by writing exactly one record.
 *
 * The token's usages follow the metadata through each version's copies:
 * an archive copy that is never changed, and a working copy with the
 * usages allowed.  Working copies that allow too much are destroyed before
 * the commit and the new one is made after it, so a kill at any point
 * leaves the token at least as strict as the metadata before or after, and
 * never without a complete copy of the key; the next change of the key (or
 * `cmk vault check --repair`) finishes an interrupted one (docs/design.md). */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "vault/lock.h"
#include "vault/audit.h"
#include "vault/keys.h"
#include "vault/op.h"
#include "vault/owner.h"
#include "vault/policy.h"
#include "util/err.h"

/* ------------------------------------------- a version's copies on the token
 *
 * Every function here runs under the vault lock, on copies listed after
 * taking it (docs/design.md, "Key versions on the token"). */

typedef struct copies {
	p11_rsa_copy_t *c;
	size_t n;
	const meta_version *v;
	uint8_t id[P11_ID_LEN];
} copies;

static cmk_rc copies_load(cmk_ctx *ctx, const meta_version *v, copies *cs)
{
	cs->v = v;
	names_unhex(v->ver, cs->id, sizeof cs->id);
	return p11_rsa_copies(ctx->tok, cs->id, &cs->c, &cs->n);
}

static void copies_free(copies *cs)
{
	free(cs->c);
	cs->c = NULL;
	cs->n = 0;
}

static int is_working(const p11_rsa_copy_t *c)
{
	return !c->archive && (c->dec || c->unw || c->sig);
}

/* The one complete archive copy that stays, or NULL. */
static const p11_rsa_copy_t *the_archive(const copies *cs)
{
	for (size_t i = 0; i < cs->n; i++)
		if (cs->c[i].archive && cs->c[i].complete && !cs->c[i].dec && !cs->c[i].unw &&
		    !cs->c[i].sig)
			return &cs->c[i];
	return NULL;
}

static cmk_rc no_key(cmk_ctx *ctx, const meta_version *v)
{
	return cmk_err(CMK_E_INTEGRITY,
		       "%s: version %s/%s has a record but no complete private key on the token",
		       CTX_WHAT(ctx), v->name, v->ver);
}

/* Make sure a complete archive copy exists: a vault made by an older cmk
 * has single copies, and a kill can interrupt the copy.  Copies one from
 * any complete copy; destroys nothing. */
static cmk_rc ensure_archive(cmk_ctx *ctx, copies *cs, int *made)
{
	if (the_archive(cs))
		return CMK_OK;
	const p11_rsa_copy_t *from = NULL;
	for (size_t i = 0; i < cs->n && !from; i++)
		if (cs->c[i].complete)
			from = &cs->c[i];
	if (!from)
		return no_key(ctx, cs->v);
	p11_rsa_flags none = { 0, 0 };
	CMK_TRY(p11_rsa_copy(ctx->tok, from->h, cs->id, 1, none, NULL));
	if (made)
		*made = 1;
	const meta_version *v = cs->v;
	copies_free(cs);
	CMK_TRY(copies_load(ctx, v, cs));
	if (!the_archive(cs))
		return cmk_err(
			CMK_E_INTEGRITY,
			"%s: the archive copy of version %s/%s is not complete after C_CopyObject",
			CTX_WHAT(ctx), v->name, v->ver);
	return CMK_OK;
}

static int within(const p11_rsa_copy_t *c, p11_rsa_flags f)
{
	return (!c->dec || f.decrypt) && (!c->unw || f.decrypt) && (!c->sig || f.sign);
}

static int exactly(const p11_rsa_copy_t *c, p11_rsa_flags f)
{
	return c->dec == f.decrypt && c->unw == f.decrypt && c->sig == f.sign;
}

/* Destroy what must go, keeping the complete archive: incomplete copies,
 * surplus archives, and working copies beyond `keep` (exact: every working
 * copy but one with exactly `keep`).  A copy is destroyed only while the
 * archive is verified present. */
static cmk_rc prune(cmk_ctx *ctx, copies *cs, p11_rsa_flags keep, int exact, size_t *destroyed)
{
	const p11_rsa_copy_t *a = the_archive(cs);
	if (!a)
		return no_key(ctx, cs->v);
	int kept = 0;
	for (size_t i = 0; i < cs->n; i++) {
		const p11_rsa_copy_t *c = &cs->c[i];
		int go;
		if (c == a)
			continue;
		if (!c->complete || !is_working(c))
			go = 1; /* half-written, or a surplus archive */
		else if (exact)
			go = !exactly(c, keep) || kept++;
		else
			go = !within(c, keep);
		if (go) {
			CMK_TRY(p11_destroy(ctx->tok, c->h));
			if (destroyed)
				(*destroyed)++;
		}
	}
	return CMK_OK;
}

/* Make the working copy with usages f from the archive, unless a complete
 * one is there. */
static cmk_rc raise_copies(cmk_ctx *ctx, copies *cs, p11_rsa_flags f, int *made)
{
	if (!f.decrypt && !f.sign)
		return CMK_OK;
	for (size_t i = 0; i < cs->n; i++)
		if (cs->c[i].complete && is_working(&cs->c[i]) && exactly(&cs->c[i], f))
			return CMK_OK;
	const p11_rsa_copy_t *a = the_archive(cs);
	if (!a)
		return no_key(ctx, cs->v);
	if (made)
		*made = 1;
	return p11_rsa_copy(ctx->tok, a->h, cs->id, 0, f, NULL);
}

/* Before a commit: every copy of v no more permissive than f. */
static cmk_rc lower_version(cmk_ctx *ctx, const meta_version *v, p11_rsa_flags f)
{
	copies cs;
	CMK_TRY(copies_load(ctx, v, &cs));
	cmk_rc rc = ensure_archive(ctx, &cs, NULL);
	if (rc == CMK_OK)
		rc = prune(ctx, &cs, f, 0, NULL);
	copies_free(&cs);
	return rc;
}

cmk_rc keys_settle_version(cmk_ctx *ctx, const meta_version *v, p11_rsa_flags f, keys_settled *out)
{
	copies cs;
	int made_archive = 0, made_working = 0;
	size_t destroyed = 0;
	CMK_TRY(copies_load(ctx, v, &cs));
	cmk_rc rc = ensure_archive(ctx, &cs, &made_archive);
	if (rc == CMK_OK)
		rc = prune(ctx, &cs, f, 1, &destroyed);
	if (rc == CMK_OK && destroyed) {
		const meta_version *vv = cs.v;
		copies_free(&cs);
		rc = copies_load(ctx, vv, &cs);
	}
	if (rc == CMK_OK)
		rc = raise_copies(ctx, &cs, f, &made_working);
	copies_free(&cs);
	if (out) {
		out->made_archive += made_archive;
		out->made_working += made_working;
		out->destroyed += destroyed;
	}
	return rc;
}

cmk_rc keys_examine_version(cmk_ctx *ctx, const meta_version *v, p11_rsa_flags f, keys_exam *out)
{
	copies cs;
	memset(out, 0, sizeof *out);
	CMK_TRY(copies_load(ctx, v, &cs));
	for (size_t i = 0; i < cs.n; i++) {
		const p11_rsa_copy_t *c = &cs.c[i];
		if (!c->complete)
			out->incomplete++;
		else if (is_working(c)) {
			out->working++;
			if (exactly(c, f))
				out->exact++;
			else if (!within(c, f))
				out->looser++;
		} else {
			out->archives++;
		}
	}
	copies_free(&cs);
	return CMK_OK;
}

cmk_rc keys_settle(cmk_ctx *ctx, key_state *st, keys_settled *out)
{
	for (size_t i = 0; i < st->nv; i++)
		CMK_TRY(keys_settle_version(ctx, &st->v[i], keys_token_flags(st, &st->v[i]), out));
	return CMK_OK;
}

static p11_rsa_flags flags_and(p11_rsa_flags a, p11_rsa_flags b)
{
	p11_rsa_flags f = { a.decrypt && b.decrypt, a.sign && b.sign };
	return f;
}

cmk_rc keys_commit(cmk_ctx *ctx, key_state *st, const meta_keystate *ks, const meta_version *v)
{
	key_state after = *st;
	meta_version *vs = malloc(st->nv * sizeof *vs);
	if (!vs)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	memcpy(vs, st->v, st->nv * sizeof *vs);
	after.v = vs;
	if (ks)
		after.ks = *ks;
	meta_version *target = v ? keys_find_version(&after, v->ver) : NULL;
	if (target)
		*target = *v;

	cmk_rc rc = CMK_OK;
	/* 1. lower: every version's copies no more permissive than both the
	 * metadata before and after (this also makes a missing archive) */
	for (size_t i = 0; i < st->nv && rc == CMK_OK; i++)
		rc = lower_version(ctx, &st->v[i],
				   flags_and(keys_token_flags(st, &st->v[i]),
					     keys_token_flags(&after, &vs[i])));
	/* 2. commit: one new record */
	char app[CMK_NAME_MAX + 16], label[CMK_NAME_MAX + 80];
	snprintf(app, sizeof app, META_APP_KEY_PREFIX "%s", st->name);
	CK_OBJECT_HANDLE old = CK_INVALID_HANDLE;
	if (rc == CMK_OK && ks) {
		meta_keystate n = *ks;
		snprintf(n.name, sizeof n.name, "%s", st->name);
		n.gen = st->ks.gen + 1;
		old = st->ks.gen ? st->ks.h : CK_INVALID_HANDLE;
		snprintf(label, sizeof label, "cmk %s #%llu", st->name, (unsigned long long)n.gen);
		rc = meta_write(ctx, app, label, meta_encode_keystate(&n), NULL);
	} else if (rc == CMK_OK && target) {
		meta_version n = *v;
		const meta_version *prev = keys_find_version(st, v->ver);
		n.gen = prev->gen + 1;
		n.updated = meta_now_us();
		old = prev->h;
		snprintf(label, sizeof label, "cmk %s/%s #%llu", st->name, n.ver,
			 (unsigned long long)n.gen);
		rc = meta_write(ctx, app, label, meta_encode_version(&n), NULL);
	}
	/* 3. raise: exactly the working copy the new metadata allows (this
	 * also finishes what an interrupted change left) */
	for (size_t i = 0; i < st->nv && rc == CMK_OK; i++)
		rc = keys_settle_version(ctx, &vs[i], keys_token_flags(&after, &vs[i]), NULL);
	/* 4. clean up what the new record superseded (best effort: readers
	 * ignore lower generations anyway) */
	if (rc == CMK_OK) {
		if (old != CK_INVALID_HANDLE)
			p11_destroy(ctx->tok, old);
		for (size_t i = 0; i < st->nstale; i++)
			p11_destroy(ctx->tok, st->stale[i]);
	}
	free(vs);
	return rc;
}

/* Load a live key and, for NAME/VERSION, the version. */
static cmk_rc load_target(cmk_ctx *ctx, const char *id, const char *version, key_state *st,
			  meta_version **v)
{
	char name[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1];
	CMK_TRY(names_resolve(ctx, id, name, ver));
	if (version && *version) {
		if (!names_version_valid(version))
			return cmk_err(CMK_E_USAGE,
				       "version '%s' is not 32 lowercase hex characters", version);
		snprintf(ver, sizeof ver, "%s", version);
	}
	CMK_TRY(keys_load_live(ctx, name, st));
	*v = NULL;
	if (ver[0] && !(*v = keys_find_version(st, ver))) {
		key_state_free(st);
		return cmk_err(CMK_E_NOT_FOUND, "key cmk://%s/keys/%s has no version %s",
			       cmk_ctx_vault(ctx), name, ver);
	}
	return CMK_OK;
}

static cmk_rc cmk_key_set_enabled_impl(cmk_ctx *ctx, const char *name, const char *version,
				       int enabled)
{
	return_if_fail(ctx && name);
	key_state st;
	meta_version *v;
	CMK_TRY(load_target(ctx, name, version, &st, &v));
	cmk_rc rc;
	if (v) {
		meta_version n = *v;
		n.enabled = enabled != 0;
		rc = keys_commit(ctx, &st, NULL, &n);
	} else {
		meta_keystate ks = st.ks;
		ks.enabled = enabled != 0;
		rc = keys_commit(ctx, &st, &ks, NULL);
	}
	key_state_free(&st);
	return rc;
}

static cmk_rc cmk_key_update_attrs_impl(cmk_ctx *ctx, const char *name, const char *version,
					const cmk_key_update *u)
{
	return_if_fail(ctx && name && u);
	if (u->set_ops && (!u->ops || (u->ops & ~(unsigned)CMK_OP_ALL)))
		return cmk_err(CMK_E_USAGE, "key-ops must name at least one known operation");
	if (u->set_tags && u->ntags > CMK_TAGS_MAX)
		return cmk_err(CMK_E_USAGE, "at most %d tags", CMK_TAGS_MAX);
	key_state st;
	meta_version *v;
	CMK_TRY(load_target(ctx, name, version, &st, &v));
	/* NAME alone changes its newest version */
	if (!v)
		v = &st.v[st.nv - 1];
	meta_version n = *v;
	if (u->set_ops)
		n.ops = u->ops;
	if (u->set_not_before)
		n.not_before = u->not_before;
	if (u->set_expires)
		n.expires = u->expires;
	if (u->set_tags) {
		n.ntags = u->ntags;
		for (size_t i = 0; i < u->ntags; i++)
			n.tags[i] = u->tags[i];
	}
	cmk_rc rc = CMK_OK;
	if (n.not_before && n.expires && n.expires <= n.not_before)
		rc = cmk_err(CMK_E_USAGE, "expires must be later than not-before");
	if (rc == CMK_OK)
		rc = keys_commit(ctx, &st, NULL, &n);
	key_state_free(&st);
	return rc;
}

/* ------------------------------------------------ soft delete and purge */

static cmk_rc cmk_key_delete_impl(cmk_ctx *ctx, const char *name)
{
	return_if_fail(ctx && name);
	meta_vault vr;
	CMK_TRY(vault_record(ctx, &vr));
	key_state st;
	meta_version *v;
	CMK_TRY(load_target(ctx, name, NULL, &st, &v));
	meta_keystate ks = st.ks;
	ks.deleted_on = (int64_t)time(NULL);
	ks.purge_on = ks.deleted_on + (int64_t)vr.retention_days * 86400;
	cmk_rc rc = keys_commit(ctx, &st, &ks, NULL);
	key_state_free(&st);
	return rc;
}

static cmk_rc load_deleted(cmk_ctx *ctx, const char *id, key_state *st)
{
	char name[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1];
	CMK_TRY(names_resolve(ctx, id, name, ver));
	CMK_TRY(keys_load(ctx, name, st));
	if (!st->ks.deleted_on) {
		key_state_free(st);
		return cmk_err(CMK_E_NOT_FOUND, "key cmk://%s/keys/%s is not deleted",
			       cmk_ctx_vault(ctx), name);
	}
	return CMK_OK;
}

static cmk_rc cmk_key_recover_impl(cmk_ctx *ctx, const char *name)
{
	return_if_fail(ctx && name);
	key_state st;
	CMK_TRY(load_deleted(ctx, name, &st));
	meta_keystate ks = st.ks;
	ks.deleted_on = ks.purge_on = 0;
	cmk_rc rc = keys_commit(ctx, &st, &ks, NULL);
	key_state_free(&st);
	return rc;
}

/* Destroy every private-key copy and the public key of version `ver`. */
static cmk_rc destroy_pair(cmk_ctx *ctx, const char *ver)
{
	uint8_t id[P11_ID_LEN];
	names_unhex(ver, id, sizeof id);
	p11_rsa_copy_t *c;
	size_t n;
	CMK_TRY(p11_rsa_copies(ctx->tok, id, &c, &n));
	cmk_rc rc = CMK_OK;
	for (size_t i = 0; i < n && rc == CMK_OK; i++)
		rc = p11_destroy(ctx->tok, c[i].h);
	free(c);
	CK_OBJECT_HANDLE pub;
	while (rc == CMK_OK && (rc = p11_rsa_find(ctx->tok, id, NULL, &pub)) == CMK_OK &&
	       pub != CK_INVALID_HANDLE)
		rc = p11_destroy(ctx->tok, pub);
	return rc;
}

/* Destroy every object of a key whose purge is committed (an authentic
 * key state record says `purging`): key pairs first, then the version
 * records, the key state record last, so an interrupted purge is found
 * and finished, and never leaves versions that look live.  Does nothing
 * when no authentic record says so.  Under the vault lock. */
cmk_rc keys_purge_objects(cmk_ctx *ctx, const char *name)
{
	char app[CMK_NAME_MAX + 16];
	snprintf(app, sizeof app, META_APP_KEY_PREFIX "%s", name);
	p11_data *d;
	size_t n;
	CMK_TRY(p11_data_find(ctx->tok, app, &d, &n));
	meta_kind *kind = calloc(n ? n : 1, sizeof *kind);
	meta_version *ver = calloc(n ? n : 1, sizeof *ver);
	cmk_rc rc = kind && ver ? CMK_OK : cmk_err(CMK_E_NOMEM, "out of memory");
	int purging = 0;
	for (size_t i = 0; i < n && rc == CMK_OK; i++) {
		meta_keystate ks;
		const uint8_t *json;
		size_t jlen;
		rc = meta_open_or_skip(ctx, &d[i], &json, &jlen);
		if (rc == CMK_E_NOT_FOUND) {
			rc = CMK_OK;
			continue;
		}
		if (rc == CMK_OK &&
		    meta_decode(json, jlen, &kind[i], NULL, &ver[i], &ks) != CMK_OK) {
			cmk_err_clear();
			kind[i] = META_NONE;
		}
		if (kind[i] == META_VERSION && strcmp(ver[i].name, name) != 0)
			kind[i] = META_NONE;
		if (kind[i] == META_KEYSTATE && strcmp(ks.name, name) == 0 && ks.purging)
			purging = 1;
	}
	for (size_t i = 0; purging && i < n && rc == CMK_OK; i++)
		if (kind[i] == META_VERSION)
			rc = destroy_pair(ctx, ver[i].ver);
	for (size_t i = 0; purging && i < n && rc == CMK_OK; i++)
		if (kind[i] == META_VERSION)
			rc = p11_destroy(ctx->tok, d[i].h);
	for (size_t i = 0; purging && i < n && rc == CMK_OK; i++)
		if (kind[i] == META_KEYSTATE)
			rc = p11_destroy(ctx->tok, d[i].h);
	free(kind);
	free(ver);
	p11_data_free(d, n);
	return rc;
}

static cmk_rc cmk_key_purge_impl(cmk_ctx *ctx, const char *name)
{
	return_if_fail(ctx && name);
	meta_vault vr;
	CMK_TRY(vault_record(ctx, &vr));
	key_state st;
	CMK_TRY(load_deleted(ctx, name, &st));
	int64_t now = (int64_t)time(NULL);
	cmk_rc rc = CMK_OK;
	if (vr.purge_protection && now < st.ks.purge_on) {
		char when[32];
		time_t t = (time_t)st.ks.purge_on;
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
		rc = cmk_err(CMK_E_PURGE_PROTECTED,
			     "key cmk://%s/keys/%s cannot be purged before %s: the vault has purge "
			     "protection on",
			     cmk_ctx_vault(ctx), st.name, when);
	}
	if (rc == CMK_OK) {
		meta_keystate ks = st.ks;
		ks.purging = 1;
		rc = keys_commit(ctx, &st, &ks, NULL);
	}
	char kname[CMK_NAME_MAX];
	snprintf(kname, sizeof kname, "%s", st.name);
	key_state_free(&st);
	if (rc == CMK_OK)
		rc = keys_purge_objects(ctx, kname);
	return rc;
}

/* ---------------------------------------------------------- public calls */

static const char *audit_name(cmk_ctx *ctx, const char *name, const char *version,
			      char out[CMK_KID_MAX])
{
	char n[CMK_NAME_MAX], v[CMK_VERSION_LEN + 1];
	if (names_resolve(ctx, name, n, v) != CMK_OK)
		snprintf(out, CMK_KID_MAX, "%s", name);
	else
		names_kid(cmk_ctx_vault(ctx), n, version && *version ? version : v, out);
	return out;
}

cmk_rc cmk_key_set_enabled(cmk_ctx *ctx, const char *name, const char *version, int enabled)
{
	return_if_fail(ctx && name);
	char kid[CMK_KID_MAX];
	vault_op o = { .ctx = ctx,
		       .op = enabled ? "enable" : "disable",
		       .perm = CMK_PERM_UPDATE,
		       .key = audit_name(ctx, name, version, kid),
		       .owned = name,
		       .change = 1 };
	cmk_rc rc = vault_op_begin(&o);
	if (rc == CMK_OK)
		rc = cmk_key_set_enabled_impl(ctx, name, version, enabled);
	return vault_op_end(&o, rc);
}

cmk_rc cmk_key_update_attrs(cmk_ctx *ctx, const char *name, const char *version,
			    const cmk_key_update *u)
{
	return_if_fail(ctx && name && u);
	char kid[CMK_KID_MAX];
	vault_op o = { .ctx = ctx,
		       .op = "update",
		       .perm = CMK_PERM_UPDATE,
		       .key = audit_name(ctx, name, version, kid),
		       .owned = name,
		       .change = 1 };
	cmk_rc rc = u->set_tags ? owner_check_tags(u->tags, u->ntags) : CMK_OK;
	if (rc == CMK_OK)
		rc = vault_op_begin(&o);
	if (rc == CMK_OK)
		rc = cmk_key_update_attrs_impl(ctx, name, version, u);
	return vault_op_end(&o, rc);
}

/* delete, recover, purge: a change of the whole key */
static cmk_rc key_change(cmk_ctx *ctx, const char *name, const char *op, unsigned perm,
			 cmk_rc (*impl)(cmk_ctx *, const char *))
{
	char kid[CMK_KID_MAX];
	vault_op o = { .ctx = ctx,
		       .op = op,
		       .perm = perm,
		       .key = audit_name(ctx, name, NULL, kid),
		       .owned = name,
		       .change = 1 };
	cmk_rc rc = vault_op_begin(&o);
	if (rc == CMK_OK)
		rc = impl(ctx, name);
	return vault_op_end(&o, rc);
}

cmk_rc cmk_key_delete(cmk_ctx *ctx, const char *name)
{
	return_if_fail(ctx && name);
	return key_change(ctx, name, "delete", CMK_PERM_DELETE, cmk_key_delete_impl);
}

cmk_rc cmk_key_recover(cmk_ctx *ctx, const char *name)
{
	return_if_fail(ctx && name);
	return key_change(ctx, name, "recover", CMK_PERM_RECOVER, cmk_key_recover_impl);
}

cmk_rc cmk_key_purge(cmk_ctx *ctx, const char *name)
{
	return_if_fail(ctx && name);
	return key_change(ctx, name, "purge", CMK_PERM_PURGE, cmk_key_purge_impl);
}

/* Purges whose records were committed but whose objects remain (a kill
 * during purge): finish them.  Called by the sweep. */
cmk_rc keys_finish_purges(cmk_ctx *ctx, size_t *count)
{
	p11_data *d;
	size_t n;
	CMK_TRY(p11_data_find(ctx->tok, NULL, &d, &n));
	size_t plen = strlen(META_APP_KEY_PREFIX);
	cmk_rc rc = CMK_OK;
	for (size_t i = 0; i < n && rc == CMK_OK; i++) {
		if (strncmp(d[i].app, META_APP_KEY_PREFIX, plen) != 0)
			continue;
		key_state st;
		const char *name = d[i].app + plen;
		cmk_rc lrc = keys_load(ctx, name, &st);
		if (lrc == CMK_OK) {
			key_state_free(&st);
			continue;
		}
		if (lrc != CMK_E_NOT_FOUND)
			continue;
		cmk_err_clear();
		/* records but no live view: a purge in progress, or orphans.
		 * Decide again under the lock: the purge may have finished and
		 * the name been taken by a new key meanwhile. */
		rc = vault_write_begin(ctx);
		int purged = 0;
		if (rc == CMK_OK) {
			lrc = keys_load(ctx, name, &st);
			if (lrc == CMK_OK)
				key_state_free(&st);
			else if (lrc == CMK_E_NOT_FOUND) {
				cmk_err_clear();
				rc = keys_purge_objects(ctx, name);
				purged = rc == CMK_OK;
			}
			vault_write_end(ctx);
		}
		if (!purged) {
			for (size_t j = i + 1; j < n; j++)
				if (strcmp(d[j].app, d[i].app) == 0)
					d[j].app[0] = '\0';
			continue;
		}
		if (rc == CMK_OK)
			(*count)++;
		/* later entries of the same key are gone now */
		for (size_t j = i + 1; j < n; j++)
			if (strcmp(d[j].app, d[i].app) == 0)
				d[j].app[0] = '\0';
	}
	p11_data_free(d, n);
	return rc;
}
