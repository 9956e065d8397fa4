/*
 * fuzz/envelope.c - libFuzzer target for the envelope parser and opener.
 *
 * The input is an envelope.  It is parsed as a header, listed
 * (cmk_envelope_kids), and opened with the fixed test key of the test
 * vectors (tests/data), fed in two pieces split where the first byte says,
 * so both the direct and the buffered frame paths run.  Corpus entries made
 * with that key (fuzz/corpus/envelope) let mutations reach the frames.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "envelope/envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t kek[32];
	env_header h;
	char **kids;
	size_t n;

	for (int i = 0; i < 32; i++)
		kek[i] = (uint8_t)i;
	(void)env_header_parse(data, size, &h);
	if (cmk_envelope_kids(data, size, &kids, &n) == CMK_OK)
		cmk_strv_free(kids, n);

	env_kw_params p = { .kek = kek, .id = "test-kek" };
	cmk_unsealer *u;
	if (env_kw_unsealer(&p, 1, &u) != CMK_OK)
		return 0;
	size_t split = size ? data[0] % (size + 1) : 0;
	uint8_t *out = malloc(size + 1);
	size_t o1 = cmk_unseal_out_max(u, split), o2;
	cmk_rc rc = cmk_unseal_update(u, data, split, out, &o1);
	if (rc == CMK_OK) {
		o2 = cmk_unseal_out_max(u, size - split);
		if (o1 + o2 > size + 1)
			abort(); /* plaintext larger than its input */
		rc = cmk_unseal_update(u, data + split, size - split, out + o1, &o2);
	}
	if (rc == CMK_OK)
		rc = cmk_unseal_final(u); /* the verdict: any is fine here, a crash is not */
	(void)rc;
	cmk_unseal_free(u);
	free(out);
	return 0;
}
