/* secmem.h - memory for secrets. */
#ifndef CMK_SECMEM_H
#define CMK_SECMEM_H
#include "cmk.h"

/* The bytes of secure memory a PIN is read into, its NUL included: a PIN
 * source (pin.c) refuses a longer PIN, and the token keeps its copy for
 * re-login in as many (p11/token.c). */
#define SECMEM_PIN_CAP 256
#endif
