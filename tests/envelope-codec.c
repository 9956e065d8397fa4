/*
 * envelope-codec.c - the envelope format without a token: round trips at
 * every frame boundary and chunking, the documented test vectors, and every
 * kind of bad input (each bit flipped, each truncation, frames swapped,
 * duplicated, dropped or taken from another message, wrong context, wrong
 * key, unknown version or suite, absurd lengths).  Data keys are wrapped
 * with AES-KW here; tests/envelope-*.sh cover vault keys.
 *
 * Usage: envelope-codec [VECTOR-DIR]   (TAP on stdout)
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope/envelope.h"

static int n_test, n_fail;

static void ok(int cond, const char *fmt, ...)
{
	va_list ap;
	n_test++;
	if (!cond)
		n_fail++;
	printf("%s %d - ", cond ? "ok" : "not ok", n_test);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (!cond)
		printf("\n# last error: %s", cmk_last_error());
	putchar('\n');
	fflush(stdout);
}

static uint8_t kek[32], kek2[32], fixed_dek[32], fixed_msgid[32];
static const cmk_kv ctx2[] = { { "tenant", "42" }, { "purpose", "example" } };
static const cmk_kv ctx2_reordered[] = { { "purpose", "example" }, { "tenant", "42" } };

static cmk_rc seal(const uint8_t *k, const cmk_kv *kv, size_t nkv, unsigned frame,
		   const uint8_t *msgid, const uint8_t *dek, const uint8_t *in, size_t len,
		   uint8_t **out, size_t *outlen)
{
	env_kw_params p = { .kek = k,
			    .id = "test-kek",
			    .context = kv,
			    .ncontext = nkv,
			    .frame_size = frame,
			    .msgid = msgid,
			    .dek = dek };
	cmk_sealer *s;
	cmk_rc rc = env_kw_sealer(&p, &s);
	if (rc != CMK_OK)
		return rc;
	rc = env_seal_buf(s, in, len, out, outlen);
	cmk_seal_free(s);
	return rc;
}

static cmk_rc unseal(const uint8_t *k, const cmk_kv *kv, size_t nkv, const uint8_t *in, size_t len,
		     uint8_t **out, size_t *outlen)
{
	env_kw_params p = { .kek = k, .id = "test-kek", .context = kv, .ncontext = nkv };
	cmk_unsealer *u;
	*out = NULL;
	cmk_rc rc = env_kw_unsealer(&p, 0, &u);
	if (rc != CMK_OK)
		return rc;
	rc = env_unseal_buf(u, in, len, out, outlen);
	cmk_unseal_free(u);
	return rc;
}

/* Open in chunks of `chunk` bytes through the streaming API. */
static cmk_rc unseal_chunked(const uint8_t *in, size_t len, size_t chunk, uint8_t *out,
			     size_t *outlen)
{
	env_kw_params p = { .kek = kek, .id = "test-kek", .context = ctx2, .ncontext = 2 };
	cmk_unsealer *u;
	size_t total = 0;
	cmk_rc rc = env_kw_unsealer(&p, 0, &u);
	for (size_t off = 0; rc == CMK_OK && off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		size_t o = cmk_unseal_out_max(u, n);
		rc = cmk_unseal_update(u, in + off, n, out + total, &o);
		if (rc == CMK_OK)
			total += o;
	}
	if (rc == CMK_OK)
		rc = cmk_unseal_final(u);
	cmk_unseal_free(u);
	*outlen = total;
	return rc;
}

/* Seal in chunks through the streaming API (fixed msgid and dek). */
static cmk_rc seal_chunked(const uint8_t *in, size_t len, size_t chunk, unsigned frame,
			   uint8_t **out, size_t *outlen)
{
	env_kw_params p = { .kek = kek,
			    .id = "test-kek",
			    .context = ctx2,
			    .ncontext = 2,
			    .frame_size = frame,
			    .msgid = fixed_msgid,
			    .dek = fixed_dek };
	cmk_sealer *s;
	cmk_rc rc = env_kw_sealer(&p, &s);
	if (rc != CMK_OK)
		return rc;
	size_t cap = cmk_seal_out_max(s, len) + len / chunk * 64 + 4096;
	uint8_t *b = malloc(cap);
	size_t total = 0;
	for (size_t off = 0; rc == CMK_OK && off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		size_t o = cap - total;
		rc = cmk_seal_update(s, in + off, n, b + total, &o);
		total += rc == CMK_OK ? o : 0;
	}
	size_t o = cap - total;
	if (rc == CMK_OK && (rc = cmk_seal_final(s, b + total, &o)) == CMK_OK)
		total += o;
	cmk_seal_free(s);
	*out = b;
	*outlen = total;
	return rc;
}

static uint8_t *pattern(size_t n, unsigned seed)
{
	uint8_t *p = malloc(n ? n : 1);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + seed + (i >> 8));
	return p;
}

static void test_round_trips(void)
{
	const unsigned F = 1024;
	const size_t sizes[] = { 0, 1, F - 1, F, F + 1, 2 * F, 3 * F + 5 };
	const size_t chunks[] = { 1, 7, F - 1, F, F + 17, 100000 };
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		uint8_t *pt = pattern(sizes[i], (unsigned)i), *ct = NULL, *back;
		size_t ctlen, backlen;
		cmk_rc rc = seal(kek, ctx2, 2, F, NULL, NULL, pt, sizes[i], &ct, &ctlen);
		ok(rc == CMK_OK, "seal %zu bytes in %u-byte frames", sizes[i], F);
		size_t frames = sizes[i] / F;
		size_t expect = ctlen - frames * (F + 17) - (sizes[i] % F) - 21;
		ok(rc == CMK_OK && expect < 400,
		   "%zu bytes: %zu regular frames "
		   "and a final frame of %zu",
		   sizes[i], frames, sizes[i] % F);
		rc = unseal(kek, ctx2_reordered, 2, ct, ctlen, &back, &backlen);
		ok(rc == CMK_OK && backlen == sizes[i] && memcmp(back, pt, backlen) == 0,
		   "open %zu bytes (context given in another order)", sizes[i]);
		free(back);
		uint8_t *out = malloc(ctlen + 1);
		int all = 1;
		for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
			rc = unseal_chunked(ct, ctlen, chunks[c], out, &backlen);
			all &= rc == CMK_OK && backlen == sizes[i] && memcmp(out, pt, backlen) == 0;
		}
		ok(all, "open %zu bytes fed in pieces of 1, 7, F-1, F, F+17, all", sizes[i]);
		/* Streaming seal in any chunking gives the same bytes. */
		uint8_t *ref, *alt = NULL;
		size_t reflen, altlen;
		seal(kek, ctx2, 2, F, fixed_msgid, fixed_dek, pt, sizes[i], &ref, &reflen);
		all = 1;
		for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
			alt = NULL;
			rc = seal_chunked(pt, sizes[i], chunks[c], F, &alt, &altlen);
			all &= rc == CMK_OK && altlen == reflen && memcmp(alt, ref, reflen) == 0;
			free(alt);
		}
		ok(all, "seal %zu bytes in any chunking gives the same envelope", sizes[i]);
		free(ref);
		free(out);
		free(ct);
		free(pt);
	}
	/* Default frame size and a large input. */
	size_t big = 3 * 65536 + 999;
	uint8_t *pt = pattern(big, 3), *ct, *back;
	size_t ctlen, backlen;
	cmk_rc rc = seal(kek, NULL, 0, 0, NULL, NULL, pt, big, &ct, &ctlen);
	ok(rc == CMK_OK && ct[6] == 16, "default frame size is 2^16");
	rc = unseal(kek, NULL, 0, ct, ctlen, &back, &backlen);
	ok(rc == CMK_OK && backlen == big && !memcmp(back, pt, big),
	   "open %zu bytes in 64 KiB frames", big);
	free(pt);
	free(ct);
	free(back);
}

/* An envelope used by the tampering tests: 2 regular frames and a final. */
static uint8_t *T;
static size_t TLEN, HLEN;
static uint8_t *TPT;
static const size_t TPTLEN = 2 * 1024 + 100;

static int fails(const uint8_t *in, size_t len, cmk_rc *rcp)
{
	uint8_t *out = (uint8_t *)1;
	size_t outlen = 12345;
	cmk_rc rc = unseal(kek, ctx2, 2, in, len, &out, &outlen);
	if (rcp)
		*rcp = rc;
	return rc != CMK_OK && out == NULL;
}

static void test_bit_flips(void)
{
	uint8_t *c = malloc(TLEN);
	size_t bad = 0, total = 0;
	memcpy(c, T, TLEN);
	for (size_t i = 0; i < TLEN; i++)
		for (int b = 0; b < 8; b++) {
			c[i] ^= (uint8_t)(1 << b);
			total++;
			if (!fails(c, TLEN, NULL)) {
				if (bad++ < 5)
					printf("# flip of bit %d of byte %zu was accepted\n", b, i);
			}
			c[i] ^= (uint8_t)(1 << b);
		}
	ok(bad == 0,
	   "each of the %zu single-bit flips (header and body) is "
	   "refused with no plaintext",
	   total);
	free(c);
}

static void test_truncation(void)
{
	size_t bad = 0;
	for (size_t n = 0; n < TLEN; n++)
		if (!fails(T, n, NULL))
			bad++;
	ok(bad == 0, "each of the %zu truncations is refused", TLEN);
	cmk_rc rc;
	fails(T, TLEN - 21 - 100, &rc);
	ok(rc == CMK_E_FORMAT && strstr(cmk_last_error(), "truncated"),
	   "dropping the final frame says 'truncated': %s", cmk_last_error());
	uint8_t *c = malloc(TLEN + 1);
	memcpy(c, T, TLEN);
	c[TLEN] = 0;
	ok(fails(c, TLEN + 1, &rc) && strstr(cmk_last_error(), "trailing"),
	   "a byte after the final frame is refused: %s", cmk_last_error());
	free(c);
}

static void test_frames(void)
{
	const size_t R = 1024 + 17;
	uint8_t *c = malloc(TLEN * 2 + R);
	cmk_rc rc;
	/* swap frames 1 and 2 */
	memcpy(c, T, TLEN);
	memcpy(c + HLEN, T + HLEN + R, R);
	memcpy(c + HLEN + R, T + HLEN, R);
	ok(fails(c, TLEN, &rc) && rc == CMK_E_DECRYPT && strstr(cmk_last_error(), "frame 1"),
	   "swapped frames are refused: %s", cmk_last_error());
	/* duplicate frame 1 in place of frame 2 */
	memcpy(c, T, TLEN);
	memcpy(c + HLEN + R, T + HLEN, R);
	ok(fails(c, TLEN, &rc) && rc == CMK_E_DECRYPT, "a duplicated frame is refused: %s",
	   cmk_last_error());
	/* duplicate frame 1 inserted (one frame more) */
	memcpy(c, T, HLEN + R);
	memcpy(c + HLEN + R, T + HLEN, TLEN - HLEN);
	ok(fails(c, TLEN + R, &rc) && rc == CMK_E_DECRYPT,
	   "an inserted copy of a frame is refused");
	/* drop frame 2 */
	memcpy(c, T, HLEN + R);
	memcpy(c + HLEN + R, T + HLEN + 2 * R, TLEN - HLEN - 2 * R);
	ok(fails(c, TLEN - R, &rc) && rc == CMK_E_DECRYPT, "a dropped frame is refused");
	/* turn the final frame into a regular one: length fields change */
	memcpy(c, T, TLEN);
	c[HLEN + 2 * R] = 0;
	ok(fails(c, TLEN, &rc), "a final frame retyped as regular is refused");
	/* a frame from another message under the same key and data key */
	uint8_t other_id[32], *o;
	size_t olen;
	memcpy(other_id, fixed_msgid, 32);
	other_id[0] ^= 1;
	seal(kek, ctx2, 2, 1024, other_id, fixed_dek, TPT, TPTLEN, &o, &olen);
	memcpy(c, T, TLEN);
	memcpy(c + HLEN + R, o + HLEN + R, R);
	ok(fails(c, TLEN, &rc) && rc == CMK_E_DECRYPT,
	   "a frame from another message (same data key) is refused");
	/* the header of one message with the body of the other */
	memcpy(c, T, TLEN);
	memcpy(c + HLEN, o + HLEN, TLEN - HLEN);
	ok(fails(c, TLEN, &rc) && rc == CMK_E_DECRYPT,
	   "another message's body under this header is refused");
	free(o);
	/* unknown frame type */
	memcpy(c, T, TLEN);
	c[HLEN] = 7;
	ok(fails(c, TLEN, &rc) && rc == CMK_E_FORMAT && strstr(cmk_last_error(), "unknown type"),
	   "an unknown frame type is refused: %s", cmk_last_error());
	/* final length >= frame size */
	memcpy(c, T, TLEN);
	c[HLEN + 2 * R + 1] = 0x7f;
	ok(fails(c, TLEN, &rc) && rc == CMK_E_FORMAT, "an absurd final-frame length is refused: %s",
	   cmk_last_error());
	free(c);
}

static void test_header_fields(void)
{
	uint8_t *c = malloc(TLEN + 70000);
	cmk_rc rc;
	struct {
		size_t off;
		uint8_t val;
		const char *what, *msg;
	} f[] = {
		{ 0, 'X', "magic", "magic" },
		{ 4, 2, "format version 2", "version 2 is not supported" },
		{ 4, 0, "format version 0", "version 0" },
		{ 5, 9, "algorithm suite 9", "suite 9 is unknown" },
		{ 6, 9, "frame size 2^9", "frame size" },
		{ 6, 40, "frame size 2^40", "frame size" },
		{ 7, 1, "reserved byte", "reserved" },
		{ 8, 0xff, "header length 4 GiB", "header length" },
		{ 11, 0, "header length wrong", "header" },
		{ 44, 0, "zero wrapped keys", "wrapped data keys" },
		{ 44, 200, "200 wrapped keys", "wrapped data keys" },
		{ 45, 9, "unknown wrapped-key type", "unknown type" },
		{ 46, 0xff, "absurd wrapped-key length", "length" },
	};
	for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
		memcpy(c, T, TLEN);
		c[f[i].off] = f[i].val;
		ok(fails(c, TLEN, &rc) && rc == CMK_E_FORMAT && strstr(cmk_last_error(), f[i].msg),
		   "%s is refused: %s", f[i].what, cmk_last_error());
	}
	/* no input at all, and a non-envelope */
	ok(fails(T, 0, &rc) && rc == CMK_E_FORMAT, "empty input is refused");
	ok(fails((const uint8_t *)"hello world, not an envelope", 28, &rc) &&
		   strstr(cmk_last_error(), "not a cmk envelope"),
	   "a non-envelope is refused: %s", cmk_last_error());
	free(c);
}

static void test_context_and_keys(void)
{
	uint8_t *out;
	size_t outlen;
	cmk_rc rc;
	const cmk_kv wrong_val[] = { { "tenant", "43" }, { "purpose", "example" } };
	const cmk_kv extra[] = { { "tenant", "42" }, { "purpose", "example" }, { "x", "y" } };
	rc = unseal(kek, wrong_val, 2, T, TLEN, &out, &outlen);
	ok(rc == CMK_E_DECRYPT && !out && strstr(cmk_last_error(), "tenant"),
	   "a wrong context value is refused: %s", cmk_last_error());
	rc = unseal(kek, ctx2, 1, T, TLEN, &out, &outlen);
	ok(rc == CMK_E_DECRYPT && !out, "a missing context pair is refused: %s", cmk_last_error());
	rc = unseal(kek, extra, 3, T, TLEN, &out, &outlen);
	ok(rc == CMK_E_DECRYPT && !out, "an extra context pair is refused: %s", cmk_last_error());
	rc = unseal(kek, NULL, 0, T, TLEN, &out, &outlen);
	ok(rc == CMK_E_DECRYPT && !out, "no context is refused: %s", cmk_last_error());
	rc = unseal(kek2, ctx2, 2, T, TLEN, &out, &outlen);
	ok(rc == CMK_E_DECRYPT && !out, "the wrong key is refused: %s", cmk_last_error());
	const cmk_kv dup[] = { { "a", "1" }, { "a", "2" } };
	const cmk_kv badkey[] = { { "a=b", "1" } };
	uint8_t *ct;
	size_t ctlen;
	ok(seal(kek, dup, 2, 0, NULL, NULL, T, 10, &ct, &ctlen) == CMK_E_USAGE,
	   "sealing with a key given twice is refused: %s", cmk_last_error());
	ok(seal(kek, badkey, 1, 0, NULL, NULL, T, 10, &ct, &ctlen) == CMK_E_USAGE,
	   "sealing with '=' in a key is refused: %s", cmk_last_error());
	ok(seal(kek, NULL, 0, 3000, NULL, NULL, T, 10, &ct, &ctlen) == CMK_E_USAGE,
	   "a frame size that is no power of two is refused");
	/* The property query reaches OpenSSL: nothing matches this one. */
	env_kw_params pq = { .kek = kek, .id = "test-kek", .propq = "provider=no-such-provider" };
	cmk_sealer *s;
	ok(env_kw_sealer(&pq, &s) == CMK_E_CONFIG && strstr(cmk_last_error(), "no-such-provider"),
	   "a property query no provider meets is refused: %s", cmk_last_error());

	/* Commitment: a header whose wrapped key gives another data key. */
	uint8_t dek2[32], *rec;
	size_t rlen;
	memcpy(dek2, fixed_dek, 32);
	dek2[5] ^= 0x40;
	env_aeskw_wrap(NULL, kek, "test-kek", dek2, &rec, &rlen);
	uint8_t *c = malloc(TLEN);
	memcpy(c, T, TLEN);
	memcpy(c + 45 + 3, rec, rlen); /* the record after type and length */
	ok(fails(c, TLEN, &rc) && rc == CMK_E_DECRYPT && strstr(cmk_last_error(), "commitment"),
	   "a data key that is not the committed one is refused: %s", cmk_last_error());
	free(rec);
	free(c);
}

/* Vectors: tests/data/envelope-v1-N.{hex} must be what sealing gives. */
static char *hex(const uint8_t *p, size_t n)
{
	char *s = malloc(2 * n + 1);
	for (size_t i = 0; i < n; i++)
		sprintf(s + 2 * i, "%02x", p[i]);
	return s;
}

static void test_vectors(const char *dir, int write)
{
	struct {
		size_t len;
		size_t nkv;
	} v[] = { { 0, 0 }, { 5, 2 }, { 2500, 2 } };
	for (size_t i = 0; i < 3; i++) {
		uint8_t *pt = pattern(v[i].len, 0), *ct;
		size_t ctlen;
		if (i == 1)
			memcpy(pt, "hello", 5);
		cmk_rc rc = seal(kek, ctx2, v[i].nkv, 1024, fixed_msgid, fixed_dek, pt, v[i].len,
				 &ct, &ctlen);
		char *h = hex(ct, ctlen), path[4096];
		snprintf(path, sizeof path, "%s/envelope-v1-%zu.hex", dir, i + 1);
		if (write) {
			FILE *f = fopen(path, "w");
			fprintf(f, "%s\n", h);
			fclose(f);
		}
		FILE *f = fopen(path, "r");
		char *want = calloc(1, 2 * ctlen + 16);
		if (f) {
			if (!fgets(want, (int)(2 * ctlen + 16), f))
				want[0] = 0;
			fclose(f);
		}
		want[strcspn(want, "\n")] = 0;
		ok(rc == CMK_OK && strcmp(h, want) == 0, "test vector %zu (%zu bytes) matches %s",
		   i + 1, v[i].len, path);
		free(want);
		free(h);
		free(ct);
		free(pt);
	}
}

static void write_file(const char *dir, const char *name, const uint8_t *p, size_t n)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(1);
	}
}

/* fuzz/corpus/{envelope,wrapped}: valid inputs for the fuzzers to mutate. */
static void write_corpus(const char *dir)
{
	char d[4096];
	uint8_t *ct, *pt = pattern(5000, 1);
	size_t len;
	snprintf(d, sizeof d, "%s/envelope", dir);
	const size_t vl[] = { 0, 5, 2500 };
	for (int i = 0; i < 3; i++) {
		char name[32];
		seal(kek, ctx2, i ? 2 : 0, 1024, fixed_msgid, fixed_dek, pt, vl[i], &ct, &len);
		snprintf(name, sizeof name, "vector-%d", i + 1);
		write_file(d, name, ct, len);
		free(ct);
	}
	seal(kek, NULL, 0, 1024, NULL, NULL, pt, 4096, &ct, &len);
	write_file(d, "frames-4", ct, len);
	free(ct);
	seal(kek, ctx2, 2, 4096, NULL, NULL, pt, 5000, &ct, &len);
	write_file(d, "big-frame", ct, len);
	free(ct);
	/* three recipients, the test key last */
	uint8_t *rec[3];
	size_t rlen[3];
	env_recip r[3];
	for (int i = 0; i < 3; i++) {
		env_aeskw_wrap(NULL, i == 2 ? kek : kek2,
			       i == 2 ? "test-kek"
			       : i    ? "other-2"
				      : "other-1",
			       fixed_dek, &rec[i], &rlen[i]);
		r[i] = (env_recip){ ENV_RECIP_AESKW, rec[i], rlen[i] };
	}
	env_seal_cfg cfg = {
		.recip = r, .nrecip = 3, .context = ctx2, .ncontext = 2, .frame_size = 1024
	};
	cmk_sealer *s;
	env_seal_init(&cfg, fixed_dek, &s);
	env_seal_buf(s, pt, 1500, &ct, &len);
	cmk_seal_free(s);
	write_file(d, "many-keys", ct, len);
	free(ct);
	for (int i = 0; i < 3; i++)
		free(rec[i]);

	snprintf(d, sizeof d, "%s/wrapped", dir);
	struct {
		const char *name;
		cmk_alg alg;
		size_t ctlen;
	} w[] = {
		{ "oaep256", CMK_ALG_RSA_OAEP_256, 256 },
		{ "oaep1", CMK_ALG_RSA_OAEP, 256 },
		{ "rsa4096", CMK_ALG_RSA_OAEP_256, 512 },
	};
	for (int i = 0; i < 3; i++) {
		uint8_t out[2048];
		size_t n = sizeof out;
		if (cmk_wrapped_encode(w[i].alg,
				       "cmk://lab/keys/db-kek/"
				       "0123456789abcdef0123456789abcdef",
				       pt, w[i].ctlen, out, &n) != CMK_OK) {
			fprintf(stderr, "encode: %s\n", cmk_last_error());
			exit(1);
		}
		write_file(d, w[i].name, out, n);
	}
	free(pt);
}

int main(int argc, char **argv)
{
	for (int i = 0; i < 32; i++) {
		kek[i] = (uint8_t)i;
		kek2[i] = (uint8_t)(i + 1);
		fixed_dek[i] = (uint8_t)(0x20 + i);
		fixed_msgid[i] = (uint8_t)(0x40 + i);
	}
	const char *dir = argc > 1 ? argv[1] : "tests/data";
	if (argc > 2 && strcmp(argv[2], "--write-vectors") == 0) {
		test_vectors(dir, 1);
		return 0;
	}
	if (argc > 2 && strcmp(argv[2], "--write-corpus") == 0) {
		write_corpus(dir);
		return 0;
	}
	TPT = pattern(TPTLEN, 9);
	if (seal(kek, ctx2, 2, 1024, fixed_msgid, fixed_dek, TPT, TPTLEN, &T, &TLEN) != CMK_OK) {
		printf("Bail out! cannot seal: %s\n", cmk_last_error());
		return 1;
	}
	uint32_t h;
	env_prefix_parse(T, TLEN, &h);
	HLEN = h;
	test_round_trips();
	test_bit_flips();
	test_truncation();
	test_frames();
	test_header_fields();
	test_context_and_keys();
	test_vectors(dir, 0);
	printf("1..%d\n", n_test);
	free(T);
	free(TPT);
	return n_fail ? 1 : 0;
}
