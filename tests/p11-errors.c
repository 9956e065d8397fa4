/*
 * p11-errors.c - private-key results that must not depend on the token:
 * a buffer too small after the token decrypted (CMK_E_BUFFER with the
 * length, and an audit record, on the native OAEP path and on the raw
 * one), and PKCS#1 v1.5 decryption with implicit rejection (a bad padding
 * gives a deterministic synthetic message, never an error).  Prints TAP.
 *
 * usage: p11-errors KEYNAME     (CMK_CONF names the lab)
 */
#include <cmk.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

static cmk_ctx *ctx;

static long audit_lines(void)
{
	FILE *f = fopen(cmk_audit_log_path(ctx), "r");
	long n = 0;
	int c;

	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	cmk_key *key = NULL;
	uint8_t dek[32], ct[512], out[512], out2[512];
	size_t ctlen, len, len2;
	const cmk_alg algs[] = { CMK_ALG_RSA_OAEP, CMK_ALG_RSA_OAEP_256 };

	if (argc != 2) {
		fprintf(stderr, "usage: %s KEYNAME\n", argv[0]);
		return 2;
	}
	printf("1..12\n");
	is_rc(cmk_open(&ctx, NULL, NULL, NULL), CMK_OK, "cmk_open");
	if (!ctx)
		return 1;
	is_rc(cmk_key_open(ctx, argv[1], &key), CMK_OK, "cmk_key_open");
	if (!key)
		return 1;
	for (size_t i = 0; i < sizeof dek; i++)
		dek[i] = (uint8_t)(i * 7 + 1);

	/* a buffer too small, after the token decrypted */
	for (size_t a = 0; a < 2; a++) {
		ctlen = sizeof ct;
		cmk_rc rc = cmk_key_encrypt(key, CMK_PURPOSE_KEY, algs[a], NULL, dek, sizeof dek,
					    ct, &ctlen);
		long before = audit_lines();
		len = 16;
		cmk_rc drc = rc == CMK_OK ? cmk_key_decrypt(key, CMK_PURPOSE_KEY, algs[a], NULL, ct,
							    ctlen, out, &len)
					  : rc;
		ok(drc == CMK_E_BUFFER && len == sizeof dek,
		   "%s: a 16-byte buffer gets CMK_E_BUFFER and the length 32 (got %s, %zu)",
		   cmk_alg_name(algs[a]), cmk_rc_name(drc), len);
		ok(before >= 0 && audit_lines() == before + 1,
		   "%s: ... and the token's decryption is audited", cmk_alg_name(algs[a]));
	}

	/* PKCS#1 v1.5: the right plaintext, and implicit rejection */
	ctlen = sizeof ct;
	is_rc(cmk_key_encrypt(key, CMK_PURPOSE_DATA, CMK_ALG_RSA1_5, NULL, dek, sizeof dek, ct,
			      &ctlen),
	      CMK_OK, "RSA1_5 encryption");
	len = sizeof out;
	ok(cmk_key_decrypt(key, CMK_PURPOSE_DATA, CMK_ALG_RSA1_5, NULL, ct, ctlen, out, &len) ==
			   CMK_OK &&
		   len == sizeof dek && memcmp(out, dek, len) == 0,
	   "RSA1_5 decryption gives the plaintext back");
	ct[ctlen - 1] ^= 0x5a; /* still below the modulus: same top bytes */
	len = sizeof out;
	cmk_rc r1 =
		cmk_key_decrypt(key, CMK_PURPOSE_DATA, CMK_ALG_RSA1_5, NULL, ct, ctlen, out, &len);
	ok(r1 == CMK_OK, "a bad padding is no error (implicit rejection): %s", cmk_rc_name(r1));
	ok(r1 == CMK_OK && len <= ctlen - 11 && !(len == sizeof dek && memcmp(out, dek, len) == 0),
	   "... but a synthetic message (%zu bytes), not the plaintext", len);
	len2 = sizeof out2;
	cmk_rc r2 = cmk_key_decrypt(key, CMK_PURPOSE_DATA, CMK_ALG_RSA1_5, NULL, ct, ctlen, out2,
				    &len2);
	ok(r2 == CMK_OK && len2 == len && memcmp(out, out2, len) == 0,
	   "... the same one for the same ciphertext");
	ct[ctlen - 2] ^= 0x33;
	len2 = sizeof out2;
	r2 = cmk_key_decrypt(key, CMK_PURPOSE_DATA, CMK_ALG_RSA1_5, NULL, ct, ctlen, out2, &len2);
	ok(r2 == CMK_OK && !(len2 == len && memcmp(out, out2, len) == 0),
	   "... and another one for another ciphertext");
	cmk_key_close(key);
	cmk_close(ctx);
	return test_failed != 0;
}
