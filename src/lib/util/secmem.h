/* secmem.h - memory for secrets. */
#ifndef CMK_SECMEM_H
#define CMK_SECMEM_H
#include "cmk.h"
#endif
