/* audit_anchor.c - the audit anchor: a token data object whose value is
 * "seq N mac HEX lost L", the newest record the token has seen and how
 * many records could not be written.  Cutting records off the end of the
 * log, emptying it, or losing records while it was unwritable is told by
 * the anchor (docs/audit.md).
 *
 * Objects are never changed in place (SoftHSM rewrites files in place and
 * a kill can empty them): an update writes a new anchor, then destroys the
 * ones it supersedes, so at every instant one anchor at least is on the
 * token; readers take the highest seq.  Updates happen under the vault
 * lock, as every change of a token object does, and rarely: by management
 * operations, and by other operations at most once a second per host
 * (audit.c). */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "vault/lock.h"
#include "vault/audit_int.h"
#include "util/err.h"

#define META_APP_ANCHOR "cmk/audit-anchor"

static int parse(const p11_data *d, audit_anchor *a)
{
	unsigned long long s, l = 0;
	char m[65];
	int n = sscanf((const char *)d->value, "seq %llu mac %64s lost %llu", &s, m, &l);
	if (n < 2 || strlen(m) != 64)
		return 0;
	a->seq = s;
	memcpy(a->mac, m, sizeof m);
	a->lost = l;
	return 1;
}

static void newest(const p11_data *d, size_t nd, audit_anchor *out)
{
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < nd; i++) {
		audit_anchor a;
		if (parse(&d[i], &a) &&
		    (a.seq > out->seq || (a.seq == out->seq && a.lost > out->lost) || !out->mac[0]))
			*out = a;
	}
}

cmk_rc audit_anchor_read(cmk_ctx *ctx, audit_anchor *out)
{
	p11_data *d;
	size_t nd;
	CMK_TRY(p11_data_find(ctx->tok, META_APP_ANCHOR, &d, &nd));
	newest(d, nd, out);
	p11_data_free(d, nd);
	return CMK_OK;
}

cmk_rc audit_anchor_write(cmk_ctx *ctx, uint64_t seq, const char *mac, uint64_t lost_more,
			  int blocking)
{
	int got = 0, mine = vault_write_held(ctx); /* called inside a change */
	if (!mine)
		CMK_TRY(vault_write_try(ctx, blocking, &got));
	if (!mine && !got)
		return CMK_OK; /* the holder is changing the vault: it anchors */
	p11_data *d;
	size_t nd;
	cmk_rc rc = p11_data_find(ctx->tok, META_APP_ANCHOR, &d, &nd);
	if (rc != CMK_OK) {
		if (!mine)
			vault_write_release(ctx);
		return rc;
	}
	audit_anchor cur;
	newest(d, nd, &cur);
	audit_anchor next = cur;
	if (seq > cur.seq || !cur.mac[0]) {
		next.seq = seq;
		snprintf(next.mac, sizeof next.mac, "%s", mac);
	}
	next.lost = cur.lost + lost_more;
	if (cur.mac[0] && next.seq == cur.seq && next.lost == cur.lost && nd == 1) {
		p11_data_free(d, nd);
		if (!mine)
			vault_write_release(ctx);
		return CMK_OK;
	}
	char value[160];
	int n = snprintf(value, sizeof value, "seq %llu mac %s lost %llu",
			 (unsigned long long)next.seq, next.mac, (unsigned long long)next.lost);
	CK_OBJECT_HANDLE h;
	rc = p11_data_create(ctx->tok, META_APP_ANCHOR, "cmk audit anchor", (const uint8_t *)value,
			     (size_t)n, 0, &h);
	if (rc == CMK_OK)
		for (size_t i = 0; i < nd; i++)
			p11_destroy(ctx->tok, d[i].h);
	p11_data_free(d, nd);
	if (!mine)
		vault_write_release(ctx);
	return rc;
}
