/* clock.h - the monotonic clock the caches and timeouts count in. */
#ifndef CMK_UTIL_CLOCK_H
#define CMK_UTIL_CLOCK_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t mono_ms(void);

#endif
