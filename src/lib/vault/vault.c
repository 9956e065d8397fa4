/* vault.c - the vault's settings record, its one-way switches, the sweep,
 * and what `vault show` tells. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <unistd.h>
#include <sys/stat.h>
#include "ctx.h"
#include "vault/lock.h"
#include "vault/audit.h"
#include "vault/audit_int.h"
#include "vault/keys.h"
#include "vault/meta.h"
#include "vault/policy.h"
#include "vault/owner.h"
#include "util/err.h"

static void absolute_path(const char *path, char *out, size_t cap);

cmk_rc vault_record(cmk_ctx *ctx, meta_vault *out)
{
	p11_data *d;
	size_t n;
	CMK_TRY(p11_data_find(ctx->tok, META_APP_VAULT, &d, &n));
	int found = 0;
	cmk_rc rc = CMK_OK;
	for (size_t i = 0; i < n; i++) {
		meta_kind kind;
		meta_vault v;
		const uint8_t *json;
		size_t jlen;
		if ((rc = meta_open_or_skip(ctx, &d[i], &json, &jlen)) == CMK_E_NOT_FOUND) {
			rc = CMK_OK; /* not cmk's: reported, ignored */
			continue;
		}
		if (rc != CMK_OK)
			break;
		if (meta_decode(json, jlen, &kind, &v, NULL, NULL) != CMK_OK ||
		    kind != META_VAULT) {
			cmk_err_clear();
			meta_report_bad(ctx, &d[i], "is malformed");
			continue;
		}
		v.h = d[i].h;
		if (!found || v.gen > out->gen)
			*out = v;
		found = 1;
	}
	p11_data_free(d, n);
	if (rc == CMK_OK && !found)
		rc = cmk_err(CMK_E_NOT_FOUND,
			     "%s is not initialised on token '%s': run `cmk vault init`",
			     CTX_WHAT(ctx), p11_tok_label(ctx->tok));
	return rc;
}

/* The MAC keys first, then the settings record (the commit), then the
 * admin's grant: a kill before the record leaves an uninitialised vault
 * whose keys the next init reuses. */
static cmk_rc vault_init_locked(cmk_ctx *ctx, const cmk_vault_params *p)
{
	meta_vault v;
	CK_OBJECT_HANDLE h;
	CMK_TRY(p11_hmac_key_find(ctx->tok, CTX_MAC_META_LABEL, &h));
	if (h != CK_INVALID_HANDLE) {
		cmk_rc rc = vault_record(ctx, &v);
		if (rc == CMK_OK)
			return cmk_err(CMK_E_EXISTS, "%s is already initialised on token '%s'",
				       CTX_WHAT(ctx), p11_tok_label(ctx->tok));
		if (rc != CMK_E_NOT_FOUND)
			return rc;
	} else {
		CMK_TRY(p11_hmac_key_create(ctx->tok, CTX_MAC_META_LABEL, &h));
	}
	CMK_TRY(p11_hmac_key_find(ctx->tok, CTX_MAC_AUDIT_LABEL, &h));
	if (h == CK_INVALID_HANDLE)
		CMK_TRY(p11_hmac_key_create(ctx->tok, CTX_MAC_AUDIT_LABEL, &h));

	unsigned days = p->retention_days ? p->retention_days : 90;
	const char *admin = p->admin && *p->admin ? p->admin : ctx->identity;
	memset(&v, 0, sizeof v);
	v.gen = 1;
	v.retention_days = days;
	v.purge_protection = p->purge_protection != 0;
	snprintf(v.admin, sizeof v.admin, "%s", admin);
	v.created = (int64_t)time(NULL);
	/* the log's place is the vault's, whichever configuration opens it */
	absolute_path(audit_path(ctx), v.audit_log, sizeof v.audit_log);
	CMK_TRY(meta_write(ctx, META_APP_VAULT, "cmk vault #1", meta_encode_vault(&v), NULL));
	return policy_write(ctx, admin, CMK_PERM_DEFAULT);
}

cmk_rc cmk_vault_init(cmk_ctx *ctx, const cmk_vault_params *p)
{
	return_if_fail(ctx);
	cmk_vault_params defaults = { 0 };
	if (!p)
		p = &defaults;
	unsigned days = p->retention_days ? p->retention_days : 90;
	if (days < 7 || days > 90)
		return cmk_err(CMK_E_USAGE, "retention must be 7 to 90 days, not %u", days);
	if (p->admin && (strlen(p->admin) >= CMK_IDENTITY_MAX || !*p->admin))
		return cmk_err(CMK_E_USAGE, "admin identity must be 1-%d characters",
			       CMK_IDENTITY_MAX - 1);
	CMK_TRY(vault_write_begin(ctx));
	cmk_rc rc = vault_init_locked(ctx, p);
	return audit_write_end(ctx, "vault-init", NULL, rc);
}

/* path with its directory made absolute (it may not exist yet) */
static void absolute_path(const char *path, char *out, size_t cap)
{
	char d[1024], b[1024], real[PATH_MAX];
	snprintf(d, sizeof d, "%s", path);
	snprintf(b, sizeof b, "%s", path);
	if (path[0] != '/' && realpath(dirname(d), real))
		snprintf(out, cap, "%s/%s", real, basename(b));
	else
		snprintf(out, cap, "%s", path);
}

/* New settings record, then the old one goes. */
static cmk_rc vault_update(cmk_ctx *ctx, int purge_protection, int fail_closed, const char *log)
{
	meta_vault v;
	CMK_TRY(vault_record(ctx, &v));
	if (strcmp(ctx->identity, v.admin) != 0)
		return cmk_err(CMK_E_ACCESS_DENIED,
			       "access denied: only the administrator of %s (%s) changes its "
			       "settings, not '%s'",
			       CTX_WHAT(ctx), v.admin, ctx->identity);
	if (v.purge_protection && !purge_protection)
		return cmk_err(CMK_E_USAGE, "purge protection of %s cannot be turned off once on",
			       CTX_WHAT(ctx));
	if (v.purge_protection == purge_protection && v.audit_fail_closed == fail_closed &&
	    (!log || strcmp(log, v.audit_log) == 0))
		return CMK_OK;
	CK_OBJECT_HANDLE old = v.h;
	v.purge_protection = purge_protection;
	v.audit_fail_closed = fail_closed;
	if (log)
		snprintf(v.audit_log, sizeof v.audit_log, "%s", log);
	v.gen++;
	char label[64];
	snprintf(label, sizeof label, "cmk vault #%llu", (unsigned long long)v.gen);
	CMK_TRY(meta_write(ctx, META_APP_VAULT, label, meta_encode_vault(&v), NULL));
	p11_destroy(ctx->tok, old);
	audit_settings_changed(ctx, fail_closed);
	return CMK_OK;
}

static cmk_rc vault_set(cmk_ctx *ctx, const char *op, int which, int on, const char *log)
{
	CMK_TRY(audit_check_writable(ctx));
	CMK_TRY(vault_write_begin(ctx));
	meta_vault v;
	cmk_rc rc = vault_record(ctx, &v);
	if (rc == CMK_OK)
		rc = vault_update(ctx, which == 0 ? on != 0 : v.purge_protection,
				  which == 1 ? on != 0 : v.audit_fail_closed, log);
	return audit_write_end(ctx, op, log, rc);
}

cmk_rc cmk_vault_set_audit_log(cmk_ctx *ctx, const char *path)
{
	return_if_fail(ctx && path);
	char abs[1024];
	if (!*path || strlen(path) >= 1000)
		return cmk_err(CMK_E_USAGE, "audit log path '%.40s' must be 1-999 characters",
			       path);
	absolute_path(path, abs, sizeof abs);
	/* this change is recorded in the old log (its last record then, and
	 * anchored: the new log continues the chain from the anchor); contexts
	 * opened from now on write to the new one */
	audit_path(ctx);
	return vault_set(ctx, "vault-set-audit-log", 2, 0, abs);
}

cmk_rc cmk_vault_set_purge_protection(cmk_ctx *ctx, int on)
{
	return_if_fail(ctx);
	return vault_set(ctx, "vault-set-purge-protection", 0, on, NULL);
}

cmk_rc cmk_vault_set_audit_fail_closed(cmk_ctx *ctx, int on)
{
	return_if_fail(ctx);
	return vault_set(ctx, "vault-set-audit-fail-closed", 1, on, NULL);
}

cmk_rc cmk_vault_sweep(cmk_ctx *ctx, size_t *purged)
{
	return_if_fail(ctx);
	CMK_TRY(policy_check(ctx, CMK_PERM_PURGE, NULL));
	size_t count = 0;
	cmk_key_info *keys;
	size_t n;
	CMK_TRY(keys_list_all(ctx, 1, &keys, &n));
	int64_t now = (int64_t)time(NULL);
	cmk_rc rc = CMK_OK;
	for (size_t i = 0; i < n && rc == CMK_OK; i++) {
		if (keys[i].purge_on > now)
			continue;
		/* a resource's deleted service-managed key: purged for it (the
		 * resource sweep then removes its files) */
		if (keys[i].managed_by[0])
			owner_act_begin(keys[i].managed_by, NULL);
		rc = cmk_key_purge(ctx, keys[i].name);
		if (keys[i].managed_by[0])
			owner_act_end();
		if (rc == CMK_OK)
			count++;
		else if (rc == CMK_E_NOT_FOUND) /* another sweep got there first */
			rc = CMK_OK;
	}
	free(keys);
	if (rc == CMK_OK)
		rc = keys_finish_purges(ctx, &count);
	if (purged)
		*purged = count;
	return rc;
}

/* Can records be written to the log now?  (Nothing is created.) */
static void audit_status(cmk_ctx *ctx, const char *log, char *why, size_t cap)
{
	char lost[300];
	why[0] = '\0';
	if (audit_lost_here(ctx, lost, sizeof lost) && lost[0]) {
		snprintf(why, cap, "%s", lost);
		return;
	}
	struct stat st;
	if (stat(log, &st) == 0) {
		if (!S_ISREG(st.st_mode))
			snprintf(why, cap, "%s is not a regular file", log);
		else if (access(log, W_OK) != 0)
			snprintf(why, cap, "%s: %s", log, strerror(errno));
		return;
	}
	char d[1024];
	snprintf(d, sizeof d, "%s", log);
	if (access(dirname(d), W_OK) != 0)
		snprintf(why, cap, "%s cannot be created: %s", log, strerror(errno));
}

static void padded(char *dst, size_t cap, const CK_UTF8CHAR *src, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	while (n && dst[n - 1] == ' ')
		dst[--n] = '\0';
}

/* Azure Key Vault's words for the recovery level. */
static const char *recovery_level(const meta_vault *v)
{
	if (v->retention_days == 90)
		return v->purge_protection ? "Recoverable" : "Recoverable+Purgeable";
	return v->purge_protection ? "CustomizedRecoverable" : "CustomizedRecoverable+Purgeable";
}

cmk_rc cmk_vault_info_get(cmk_ctx *ctx, cmk_vault_info *out)
{
	return_if_fail(ctx && out);
	memset(out, 0, sizeof *out);
	meta_vault v;
	CMK_TRY(vault_record(ctx, &v));
	snprintf(out->name, sizeof out->name, "%s", ctx->conf.name);
	snprintf(out->module, sizeof out->module, "%s", ctx->conf.module);
	snprintf(out->admin, sizeof out->admin, "%s", v.admin);
	snprintf(out->recovery_level, sizeof out->recovery_level, "%s", recovery_level(&v));
	snprintf(out->audit_log, sizeof out->audit_log, "%s", audit_path(ctx));
	out->audit_log_from = ctx->conf.audit_log_set ? 0 : v.audit_log[0] ? 1 : 2;
	audit_status(ctx, out->audit_log, out->audit_problem, sizeof out->audit_problem);
	audit_anchor an;
	if (audit_anchor_read(ctx, &an) == CMK_OK)
		out->audit_lost = an.lost;
	out->retention_days = v.retention_days;
	out->purge_protection = v.purge_protection;
	out->audit_fail_closed = v.audit_fail_closed;
	out->policy_cache_ms = ctx->conf.policy_cache_ms;
	out->metadata_cache_ms = ctx->conf.metadata_cache_ms;
	out->created = v.created;
	CK_TOKEN_INFO ti;
	CMK_TRY(p11_tok_info(ctx->tok, &ti));
	padded(out->token_label, sizeof out->token_label, ti.label, sizeof ti.label);
	padded(out->token_model, sizeof out->token_model, ti.model, sizeof ti.model);
	padded(out->token_manufacturer, sizeof out->token_manufacturer, ti.manufacturerID,
	       sizeof ti.manufacturerID);
	padded(out->token_serial, sizeof out->token_serial, ti.serialNumber,
	       sizeof ti.serialNumber);
	p11_mechs m;
	CMK_TRY(ctx_mechs(ctx, &m));
	out->oaep256_native = m.oaep256;
	out->oaep1_native = m.oaep1;
	out->raw_rsa = m.x509;
	snprintf(out->unwrap_path, sizeof out->unwrap_path, "%s",
		 m.oaep256 ? "native CKM_RSA_PKCS_OAEP (SHA-256) on the token"
		 : m.x509  ? "CKM_RSA_X_509 on the token + OAEP decoding in OpenSSL"
			   : "unavailable: the token has neither OAEP-256 nor raw RSA");
	return CMK_OK;
}
