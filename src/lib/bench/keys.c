/* keys.c - the run's key, and what the run leaves on the vault.
 *
 * Unless --key names an existing key, the run makes a temporary key
 * (bench-XXXXXXXX) and purges it, and everything else it made, at the end;
 * on a vault where that purge is not possible (purge protection, or no
 * purge permission) it needs --key and skips what would make keys. */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include "bench/bench.h"
#include "util/err.h"

cmk_rc bench_check_dek(bench_env *e, const uint8_t *got, size_t len, const char *what)
{
	if (len != sizeof e->dek || CRYPTO_memcmp(got, e->dek, len) != 0)
		return cmk_err(CMK_E_INTERNAL, "%s gave back a different key (%zu bytes)", what, len);
	return CMK_OK;
}

cmk_rc bench_key_create(bench_env *e, const char *name, unsigned bits,
                        char version[CMK_VERSION_LEN + 1])
{
	cmk_key_params p = { .bits = bits };
	cmk_rc rc;
	for (int i = 0; i < 10; i++)
		if ((rc = cmk_key_create(e->ctx, name, &p, version)) != CMK_E_CONFLICT)
			break;
	return rc;
}

cmk_rc bench_open_key(bench_env *e)
{
	const cmk_bench_opts *o = e->o;
	cmk_bench_report *rep = e->rep;
	if (o->key)
		CMK_TRY(cmk_key_open(e->ctx, o->key, &e->key));
	else {
		char ver[CMK_VERSION_LEN + 1];
		if (!e->can_make_keys)
			return cmk_err(CMK_E_USAGE, "%s: a temporary key could not be removed "
			               "after the run; give an existing key with --key",
			               e->cannot_make_keys);
		bench_progress(e, "making the key %s", e->tag);
		CMK_TRY(bench_key_create(e, e->tag, o->key_bits, ver));
		rep->temporary_key = 1;
		CMK_TRY(cmk_key_open(e->ctx, e->tag, &e->key));
	}
	snprintf(rep->key, sizeof rep->key, "%s", cmk_key_kid(e->key));
	rep->key_bits = cmk_key_bits(e->key);
	e->k = (rep->key_bits + 7) / 8;
	if (RAND_bytes(e->dek, sizeof e->dek) != 1)
		return cmk_err(CMK_E_INTERNAL, "no random bytes");
	e->ctlen = sizeof e->ct;
	CMK_TRY(cmk_key_encrypt(e->key, CMK_PURPOSE_KEY, e->alg, NULL, e->dek, sizeof e->dek,
	                        e->ct, &e->ctlen));
	uint8_t back[1024];
	size_t len = sizeof back;
	CMK_TRY(cmk_key_decrypt(e->key, CMK_PURPOSE_KEY, e->alg, NULL, e->ct, e->ctlen,
	                        back, &len));
	cmk_rc rc = bench_check_dek(e, back, len, "unwrap");
	cmk_wipe(back, sizeof back);
	return rc;
}

static void left_over(bench_env *e, const char *name)
{
	size_t used = strlen(e->rep->leftover);
	if (strstr(e->rep->leftover, name))
		return;
	snprintf(e->rep->leftover + used, sizeof e->rep->leftover - used, "%s%s",
	         used ? ", " : "", name);
}

void bench_purge_prefix(bench_env *e, const char *prefix)
{
	size_t plen = strlen(prefix);
	for (int deleted = 0; deleted < 2; deleted++) {
		cmk_key_info *keys = NULL;
		size_t n = 0;
		if (cmk_key_list(e->ctx, deleted, &keys, &n) != CMK_OK) {
			left_over(e, deleted ? "(cannot list deleted keys)" : "(cannot list keys)");
			continue;
		}
		for (size_t i = 0; i < n; i++)
			if (!strncmp(keys[i].name, prefix, plen) &&
			    (deleted ? cmk_key_purge(e->ctx, keys[i].name)
			             : cmk_key_delete(e->ctx, keys[i].name)) != CMK_OK)
				left_over(e, keys[i].name);
		cmk_free(keys);
	}
	cmk_err_clear();
}

/* Everything the run made: keys named after its tag, and the resource's
 * service key svc-TAG. */
void bench_clean_up(bench_env *e)
{
	char svc[64];
	snprintf(svc, sizeof svc, "svc-%s", e->tag);
	bench_purge_prefix(e, e->tag);
	bench_purge_prefix(e, svc);
}

/* The run may make keys when it can purge them afterwards. */
void bench_may_make_keys(bench_env *e, const cmk_vault_info *vi, char *why, size_t len)
{
	cmk_policy pol;
	const char *id = cmk_ctx_identity(e->ctx);
	if (vi->purge_protection) {
		snprintf(why, len, "vault %s has purge protection", vi->name);
	} else if (cmk_policy_get(e->ctx, id, &pol) != CMK_OK || !(pol.perms & CMK_PERM_PURGE)) {
		snprintf(why, len, "identity %s may not purge keys in vault %s (cmk policy set "
		         "%s all,purge)", id, vi->name, id);
	} else {
		e->can_make_keys = 1;
		return;
	}
	snprintf(e->cannot_make_keys, sizeof e->cannot_make_keys, "%s", why);
	cmk_err_clear();
}
