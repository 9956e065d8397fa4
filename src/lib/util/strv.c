/* strv.c - freeing what libcmk hands out. */
#include "config.h"
#include <stdlib.h>
#include "cmk.h"

void cmk_free(void *p)
{
	free(p);
}

void cmk_strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}
