/*
 * fuzz/keyref.c - libFuzzer target for the key reference parser that the
 * provider's decoder uses (cmk_keyref_decode, docs/pem-reference.md).  A body
 * that parses must encode back to the same bytes, and name a cmk:// id.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cmk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cmk_keyref r;
	uint8_t *der = NULL;
	size_t len = 0;

	if (cmk_keyref_decode(data, size, &r) != CMK_OK) {
		if (cmk_last_error()[0] == '\0')
			abort(); /* a refusal always says why */
		return 0;
	}
	if (strncmp(r.kid, "cmk://", 6) != 0 || strlen(r.token) >= sizeof r.token)
		abort();
	if (cmk_keyref_encode(&r, &der, &len) != CMK_OK || len != size ||
	    memcmp(der, data, size) != 0)
		abort();
	cmk_free(der);
	return 0;
}
