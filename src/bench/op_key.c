/* op_key.c - wrap and unwrap through a key handle (the fast path): one
 * cmk_key shared by every thread, opened once for the run. */
#include "config.h"
#include "bench/bench_int.h"

static cmk_rc wrap_one(bench_case *c, void *t)
{
	bench_env *e = c->env;
	uint8_t out[1024];
	size_t len = sizeof out;
	return bench_lib(cmk_key_encrypt(e->key, CMK_PURPOSE_KEY, e->alg, NULL, e->dek,
					 sizeof e->dek, out, &len));
}

static cmk_rc unwrap_one(bench_case *c, void *t)
{
	bench_env *e = c->env;
	uint8_t out[1024];
	size_t len = sizeof out;
	cmk_rc rc = bench_lib(
		cmk_key_decrypt(e->key, CMK_PURPOSE_KEY, e->alg, NULL, e->ct, e->ctlen, out, &len));
	if (rc == CMK_OK)
		rc = bench_check_dek(e, out, len, "unwrap");
	cmk_wipe(out, sizeof out);
	return rc;
}

const bench_kind bench_kind_wrap = {
	.name = "wrap",
	.group = "key",
	.cls = BENCH_CMK,
	.what = "cmk_key_encrypt of a 32-byte key (RSA-OAEP public op, in OpenSSL)",
	.hsm_limit = "p11-encrypt",
	.cpu_limit = "ossl-encrypt",
	.one = wrap_one,
};

const bench_kind bench_kind_unwrap = {
	.name = "unwrap",
	.group = "key",
	.cls = BENCH_CMK,
	.what = "cmk_key_decrypt of a wrapped 32-byte key (private op on the token)",
	.hsm_limit = "p11-decrypt",
	.cpu_limit = "ossl-decrypt",
	.one = unwrap_one,
};
