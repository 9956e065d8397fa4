/* check.c - `cmk vault check`: what a kill, a crash or an edit behind
 * cmk's back left on the token, and (with repair) putting it right, under
 * the vault lock (docs/design.md, "Checking and repairing"). */
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vault/lock.h"
#include "vault/audit.h"
#include "vault/check.h"
#include "vault/keys.h"
#include "vault/meta.h"
#include "vault/policy.h"
#include "util/err.h"

/* what check_run puts right: nothing, everything (`vault check
 * --repair`), or all but records cmk did not write (vault_heal) */
enum { REPAIR_NONE = 0, REPAIR_ALL = 1, REPAIR_HEAL = 2 };

typedef struct found {
	cmk_check_item *v;
	size_t n, cap;
} found;

static cmk_check_item *add(found *f, cmk_check_kind kind, const char *object, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static cmk_check_item *add(found *f, cmk_check_kind kind, const char *object, const char *fmt, ...)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 8;
		cmk_check_item *v = realloc(f->v, cap * sizeof *v);
		if (!v)
			return NULL;
		f->v = v;
		f->cap = cap;
	}
	cmk_check_item *it = &f->v[f->n++];
	memset(it, 0, sizeof *it);
	it->kind = kind;
	snprintf(it->object, sizeof it->object, "%s", object);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(it->detail, sizeof it->detail, fmt, ap);
	va_end(ap);
	return it;
}

const char *cmk_check_kind_name(cmk_check_kind kind)
{
	switch (kind) {
	case CMK_CHECK_UNAUTHENTICATED: return "unauthenticated-record";
	case CMK_CHECK_STALE_RECORD: return "stale-record";
	case CMK_CHECK_STRICTER: return "token-stricter";
	case CMK_CHECK_LOOSER: return "token-looser";
	case CMK_CHECK_NO_ARCHIVE: return "no-archive-copy";
	case CMK_CHECK_DUPLICATE: return "duplicate-copies";
	case CMK_CHECK_INCOMPLETE: return "incomplete-copy";
	case CMK_CHECK_MISSING: return "missing-private-key";
	case CMK_CHECK_PURGE: return "interrupted-purge";
	}
	return "unknown";
}

/* The records cmk writes and MACs; others (the audit anchor, objects of
 * other applications) are not judged here. */
static int is_record(const char *app)
{
	return !strcmp(app, META_APP_VAULT) || !strcmp(app, META_APP_POLICY) ||
	       !strncmp(app, META_APP_KEY_PREFIX, strlen(META_APP_KEY_PREFIX));
}

/* A record that authenticates: does it decode as what its application holds? */
static int decodes(const char *app, const uint8_t *json, size_t len)
{
	meta_kind kind;
	meta_vault v;
	meta_version ver;
	meta_keystate ks;
	if (!strcmp(app, META_APP_POLICY))
		return 1; /* policy.c reads them; a MAC made by cmk is enough here */
	if (meta_decode(json, len, &kind, &v, &ver, &ks) != CMK_OK) {
		cmk_err_clear();
		return 0;
	}
	if (!strcmp(app, META_APP_VAULT))
		return kind == META_VAULT;
	const char *name = app + strlen(META_APP_KEY_PREFIX);
	return (kind == META_VERSION && !strcmp(ver.name, name)) ||
	       (kind == META_KEYSTATE && !strcmp(ks.name, name));
}

static int purging_record(const char *app, const uint8_t *json, size_t len)
{
	meta_kind kind;
	meta_keystate ks;
	meta_version ver;
	if (strncmp(app, META_APP_KEY_PREFIX, strlen(META_APP_KEY_PREFIX)) != 0 ||
	    meta_decode(json, len, &kind, NULL, &ver, &ks) != CMK_OK) {
		cmk_err_clear();
		return 0;
	}
	return kind == META_KEYSTATE && ks.purging;
}

static int seen_name(char **names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return 1;
	return 0;
}

static cmk_rc check_version(cmk_ctx *ctx, key_state *st, meta_version *v, int repair, found *f)
{
	char kid[CMK_KID_MAX];
	names_kid(cmk_ctx_vault(ctx), st->name, v->ver, kid);
	p11_rsa_flags want = keys_token_flags(st, v);
	keys_exam e;
	CMK_TRY(keys_examine_version(ctx, v, want, &e));
	size_t first = f->n;
	int broken = 0;
	if (e.archives == 0 && e.working == 0) {
		add(f, CMK_CHECK_MISSING, kid,
		    "the version has a record but no complete private key on the token");
		broken = 1;
	} else if (e.archives == 0) {
		add(f, CMK_CHECK_NO_ARCHIVE, kid,
		    "no archive copy of the private key (made by an older cmk, or an interrupted "
		    "change)");
	}
	if (e.archives > 1)
		add(f, CMK_CHECK_DUPLICATE, kid, "%zu archive copies of the private key (1 wanted)",
		    e.archives);
	if (e.exact > 1 || e.working > e.exact + e.looser)
		add(f, CMK_CHECK_DUPLICATE, kid,
		    "%zu working copies of the private key, %zu with the usages wanted", e.working,
		    e.exact);
	if (e.looser)
		add(f, CMK_CHECK_LOOSER, kid,
		    "the token allows operations the metadata does not (%zu copies)", e.looser);
	if ((want.decrypt || want.sign) && !e.exact && !broken)
		add(f, CMK_CHECK_STRICTER, kid,
		    "the metadata allows %s%s%s but the token has no copy that does: an "
		    "interrupted change",
		    want.decrypt ? "decrypt/unwrap" : "", want.decrypt && want.sign ? " and " : "",
		    want.sign ? "sign" : "");
	if (e.incomplete)
		add(f, CMK_CHECK_INCOMPLETE, kid,
		    "%zu half-written copies of the private key (a kill during a copy)",
		    e.incomplete);
	if (f->n > first && !broken && repair) {
		CMK_TRY(keys_settle_version(ctx, v, want, NULL));
		for (size_t i = first; i < f->n; i++)
			f->v[i].repaired = 1;
	}
	return CMK_OK;
}

static cmk_rc check_key(cmk_ctx *ctx, const char *name, int purging, int repair, found *f)
{
	char kid[CMK_KID_MAX];
	names_kid(cmk_ctx_vault(ctx), name, NULL, kid);
	if (purging) {
		cmk_check_item *it =
			add(f, CMK_CHECK_PURGE, kid, "a purge was committed but not finished");
		if (repair) {
			CMK_TRY(keys_purge_objects(ctx, name));
			if (it)
				f->v[f->n - 1].repaired = 1;
		}
		return CMK_OK;
	}
	key_state st;
	cmk_rc rc = keys_load(ctx, name, &st);
	if (rc == CMK_E_NOT_FOUND) { /* only unauthenticated records: listed above */
		cmk_err_clear();
		return CMK_OK;
	}
	CMK_TRY(rc);
	if (st.nstale) {
		add(f, CMK_CHECK_STALE_RECORD, kid,
		    "%zu superseded records left by an interrupted change", st.nstale);
		if (repair) {
			for (size_t i = 0; i < st.nstale && rc == CMK_OK; i++)
				rc = p11_destroy(ctx->tok, st.stale[i]);
			if (rc == CMK_OK)
				f->v[f->n - 1].repaired = 1;
		}
	}
	for (size_t i = 0; i < st.nv && rc == CMK_OK; i++)
		rc = check_version(ctx, &st, &st.v[i], repair, f);
	key_state_free(&st);
	return rc;
}

static cmk_rc check_run(cmk_ctx *ctx, int repair, found *f)
{
	/* a MAC key handle cached across a re-initialisation would call every
	 * record forged: find it again first */
	pthread_mutex_lock(&ctx->lock);
	ctx->mac_key[CTX_MAC_META].known = 0;
	pthread_mutex_unlock(&ctx->lock);
	p11_data *d;
	size_t n;
	CMK_TRY(p11_data_find(ctx->tok, NULL, &d, &n));
	char **names = calloc(n ? n : 1, sizeof *names);
	int *purging = calloc(n ? n : 1, sizeof *purging);
	size_t nn = 0;
	cmk_rc rc = names && purging ? CMK_OK : cmk_err(CMK_E_NOMEM, "out of memory");
	for (size_t i = 0; i < n && rc == CMK_OK; i++) {
		if (!is_record(d[i].app))
			continue;
		const uint8_t *json;
		size_t jlen;
		const char *why = NULL;
		rc = meta_open(ctx, &d[i], &json, &jlen);
		if (rc == CMK_E_INTEGRITY) {
			cmk_err_clear();
			rc = CMK_OK;
			why = d[i].len < 66 || d[i].value[64] != '\n'
				      ? "has no MAC: it was not written by cmk"
				      : "fails authentication: it was written or changed behind "
					"cmk's back";
		} else if (rc == CMK_OK && !decodes(d[i].app, json, jlen)) {
			why = "authenticates but does not decode";
		}
		if (rc != CMK_OK)
			break;
		if (why) {
			char what[256];
			meta_describe(ctx, &d[i], what, sizeof what);
			cmk_check_item *it =
				add(f, CMK_CHECK_UNAUTHENTICATED, what, "%s; cmk ignores it", why);
			if (it && repair == REPAIR_ALL &&
			    (rc = p11_destroy(ctx->tok, d[i].h)) == CMK_OK)
				it->repaired = 1;
			continue;
		}
		if (strncmp(d[i].app, META_APP_KEY_PREFIX, strlen(META_APP_KEY_PREFIX)) != 0)
			continue;
		const char *name = d[i].app + strlen(META_APP_KEY_PREFIX);
		size_t k = 0;
		while (k < nn && strcmp(names[k], name) != 0)
			k++;
		if (k == nn)
			names[nn++] = d[i].app + strlen(META_APP_KEY_PREFIX);
		purging[k] |= purging_record(d[i].app, json, jlen);
	}
	for (size_t k = 0; k < nn && rc == CMK_OK; k++)
		if (!seen_name(names, k, names[k]))
			rc = check_key(ctx, names[k], purging[k], repair, f);
	free(names);
	free(purging);
	p11_data_free(d, n);
	return rc;
}

static cmk_rc check_admin(cmk_ctx *ctx)
{
	meta_vault v;
	CMK_TRY(vault_record(ctx, &v));
	if (strcmp(v.admin, ctx->identity) != 0)
		return cmk_err(
			CMK_E_ACCESS_DENIED,
			"access denied: only the administrator of %s ('%s') repairs it, not '%s'",
			CTX_WHAT(ctx), v.admin, ctx->identity);
	return CMK_OK;
}

cmk_rc cmk_vault_check(cmk_ctx *ctx, int repair, cmk_check_item **items, size_t *n)
{
	return_if_fail(ctx && items && n);
	*items = NULL;
	*n = 0;
	found f = { 0 };
	cmk_rc rc = audit_check_writable(ctx);
	if (rc == CMK_OK)
		rc = repair ? check_admin(ctx) : policy_check(ctx, CMK_PERM_LIST, NULL);
	int held = 0;
	if (rc == CMK_OK && repair)
		held = (rc = vault_write_begin(ctx)) == CMK_OK;
	if (rc == CMK_OK) {
		meta_set_quiet(1);
		rc = check_run(ctx, repair, &f);
		meta_set_quiet(0);
		if (held) {
			sig_defer_begin(); /* until the audit record is written */
			vault_write_end(ctx);
		}
	}
	rc = audit_op(ctx, repair ? "vault-repair" : "vault-check", NULL, rc);
	if (held)
		sig_defer_end();
	if (rc != CMK_OK) {
		free(f.v);
		return rc;
	}
	*items = f.v;
	*n = f.n;
	return CMK_OK;
}

cmk_rc vault_heal(cmk_ctx *ctx, size_t *fixed)
{
	*fixed = 0;
	found f = { 0 };
	meta_set_quiet(1);
	cmk_rc rc = check_run(ctx, REPAIR_HEAL, &f);
	meta_set_quiet(0);
	for (size_t i = 0; i < f.n; i++)
		*fixed += f.v[i].repaired != 0;
	free(f.v);
	if (rc != CMK_OK)
		return rc;
	if (*fixed) {
		char what[64];
		snprintf(what, sizeof what, "%zu item(s) left by an interrupted change", *fixed);
		audit_op(ctx, "vault-heal", what, CMK_OK);
	}
	return CMK_OK;
}
