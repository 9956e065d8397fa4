/*
 * fuzz/keyref.c - libFuzzer target for the key reference parser that the
 * provider's decoder uses (cmk_keyref_decode, docs/pem-reference.md).  A body
 * that parses must name a cmk:// id; one of version 2 (the one written) must
 * encode back to the same bytes, one of version 1 to a version 2 body that
 * parses to the same reference.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cmk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cmk_keyref r, r2;
	uint8_t *der = NULL;
	size_t len = 0;

	if (cmk_keyref_decode(data, size, &r) != CMK_OK) {
		if (cmk_last_error()[0] == '\0')
			abort(); /* a refusal always says why */
		return 0;
	}
	if (strncmp(r.kid, "cmk://", 6) != 0 || strlen(r.token) >= sizeof r.token)
		abort();
	if ((r.version != 1 && r.version != 2) || (r.version == 1 && r.serial[0] != '\0') ||
	    cmk_keyref_encode(&r, &der, &len) != CMK_OK)
		abort();
	if (r.version == 2 ? len != size || memcmp(der, data, size) != 0
			   : cmk_keyref_decode(der, len, &r2) != CMK_OK || r2.version != 2 ||
				     strcmp(r2.kid, r.kid) != 0 || strcmp(r2.token, r.token) != 0 ||
				     r2.serial[0] != '\0' || r2.created != r.created)
		abort();
	cmk_free(der);
	return 0;
}
