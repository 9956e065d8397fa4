/* vault.c - the vault's settings record, and what `vault show` tells. */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "ctx.h"
#include "vault/meta.h"
#include "util/err.h"

cmk_rc ctx_vault_record(cmk_ctx *ctx, meta_vault *out)
{
	p11_data *d;
	size_t n;
	CMK_TRY(p11_data_find(ctx->tok, META_APP_VAULT, &d, &n));
	int found = 0;
	cmk_rc rc = CMK_OK;
	for (size_t i = 0; i < n; i++) {
		meta_kind kind;
		meta_vault v;
		if (meta_decode(d[i].value, d[i].len, &kind, &v, NULL, NULL) != CMK_OK || kind != META_VAULT) {
			rc = cmk_err(CMK_E_INTEGRITY, "%s: the vault settings record is malformed", CTX_WHAT(ctx));
			break;
		}
		v.h = d[i].h;
		if (!found || v.gen > out->gen)
			*out = v;
		found = 1;
	}
	p11_data_free(d, n);
	if (rc == CMK_OK && !found)
		rc = cmk_err(CMK_E_NOT_FOUND, "%s is not initialised on token '%s': run `cmk vault init`",
		             CTX_WHAT(ctx), p11_tok_label(ctx->tok));
	return rc;
}

cmk_rc cmk_vault_init(cmk_ctx *ctx, const cmk_vault_params *p)
{
	return_if_fail(ctx);
	cmk_vault_params defaults = { 0 };
	if (!p)
		p = &defaults;
	meta_vault v;
	cmk_rc rc = ctx_vault_record(ctx, &v);
	if (rc == CMK_OK)
		return cmk_err(CMK_E_EXISTS, "%s is already initialised on token '%s'", CTX_WHAT(ctx),
		               p11_tok_label(ctx->tok));
	if (rc != CMK_E_NOT_FOUND)
		return rc;
	unsigned days = p->retention_days ? p->retention_days : 90;
	if (days < 7 || days > 90)
		return cmk_err(CMK_E_USAGE, "retention must be 7 to 90 days, not %u", days);
	const char *admin = p->admin && *p->admin ? p->admin : ctx->identity;
	if (strlen(admin) >= sizeof v.admin)
		return cmk_err(CMK_E_USAGE, "admin identity is too long");
	memset(&v, 0, sizeof v);
	v.gen = 1;
	v.retention_days = days;
	v.purge_protection = p->purge_protection != 0;
	strcpy(v.admin, admin);
	v.created = (int64_t)time(NULL);
	return meta_write(ctx->tok, META_APP_VAULT, "cmk vault #1", meta_encode_vault(&v), NULL);
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

cmk_rc cmk_vault_info_get(cmk_ctx *ctx, cmk_vault_info *out)
{
	return_if_fail(ctx && out);
	memset(out, 0, sizeof *out);
	meta_vault v;
	CMK_TRY(ctx_vault_record(ctx, &v));
	snprintf(out->name, sizeof out->name, "%s", ctx->conf.name);
	snprintf(out->module, sizeof out->module, "%s", ctx->conf.module);
	snprintf(out->admin, sizeof out->admin, "%s", v.admin);
	out->retention_days = v.retention_days;
	out->purge_protection = v.purge_protection;
	out->created = v.created;
	CK_TOKEN_INFO ti;
	CMK_TRY(p11_tok_info(ctx->tok, &ti));
	padded(out->token_label, sizeof out->token_label, ti.label, sizeof ti.label);
	padded(out->token_model, sizeof out->token_model, ti.model, sizeof ti.model);
	padded(out->token_manufacturer, sizeof out->token_manufacturer, ti.manufacturerID,
	       sizeof ti.manufacturerID);
	p11_mechs m;
	CMK_TRY(ctx_mechs(ctx, &m));
	out->oaep256_native = m.oaep256;
	out->oaep1_native = m.oaep1;
	out->raw_rsa = m.x509;
	snprintf(out->unwrap_path, sizeof out->unwrap_path, "%s",
	         m.oaep256 ? "native CKM_RSA_PKCS_OAEP (SHA-256) on the token"
	         : m.x509 ? "CKM_RSA_X_509 on the token + OAEP decoding in OpenSSL"
	                  : "unavailable: the token has neither OAEP-256 nor raw RSA");
	return CMK_OK;
}
