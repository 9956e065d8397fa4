/*
 * fuzz/keyref.c - libFuzzer target for the key reference parser of the
 * provider's decoder (cmk_keyref_decode, docs/pem-reference.md).  A body
 * that parses must encode back to the same bytes, and name a cmk:// id.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "provider/keyref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cmk_keyref r;
	const char *why = NULL;
	unsigned char *der = NULL;
	size_t len = 0;

	if (!cmk_keyref_decode(NULL, data, size, &r, &why)) {
		if (why == NULL)
			abort();
		return 0;
	}
	if (strncmp(r.kid, "cmk://", 6) != 0 || strlen(r.token) >= sizeof r.token)
		abort();
	if (!cmk_keyref_encode(NULL, &r, &der, &len) || len != size
	    || memcmp(der, data, size) != 0)
		abort();
	OPENSSL_free(der);
	return 0;
}
