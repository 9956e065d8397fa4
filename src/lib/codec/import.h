/* import.h - bring your own key (import.c): an RSA private key in PEM or
 * DER split into the components C_CreateObject takes. */
#ifndef CMK_CODEC_IMPORT_H
#define CMK_CODEC_IMPORT_H

#include "p11/p11.h"

/* Fill parts from the key in pem (len bytes; propq: OpenSSL property
 * query), the components in locked memory *mem of *memlen bytes (wipe and
 * free with cmk_secure_free); *bits the modulus size. */
cmk_rc import_parse(const char *propq, const uint8_t *pem, size_t len, p11_rsa_parts *parts,
		    unsigned *bits, uint8_t **mem, size_t *memlen);

#endif
