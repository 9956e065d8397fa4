/*
 * fuzz/wrapped.c - libFuzzer target for the wrapped-key record parser
 * (cmk_wrapped_parse, docs/wrapped-key-format.md).  A record that parses
 * must encode back to the same bytes.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cmk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cmk_wrapped w;
	if (cmk_wrapped_parse(data, size, &w) != CMK_OK)
		return 0;
	if (strlen(w.kid) != w.kid_len || w.ct < data || w.ct + w.ct_len > data + size)
		abort();
	uint8_t *back = malloc(size);
	size_t n = size;
	if (cmk_wrapped_encode(w.alg, w.kid, w.ct, w.ct_len, back, &n) != CMK_OK || n != size ||
	    memcmp(back, data, size) != 0)
		abort();
	free(back);
	return 0;
}
