/* hex.h - bytes as lowercase hex (OpenSSL's OPENSSL_buf2hexstr_ex writes
 * uppercase; the record, audit and version-id formats are lowercase). */
#ifndef CMK_UTIL_HEX_H
#define CMK_UTIL_HEX_H

#include <stddef.h>
#include <stdint.h>

/* n bytes as 2n lowercase hex digits and a NUL (out: 2n + 1 bytes). */
void hex_encode(const uint8_t *in, size_t n, char *out);

#endif
