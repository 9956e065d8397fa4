/*
 * rotation.c - `cmk key rotation-policy` and the rotation part of
 * `cmk vault sweep` (docs/resources.md, "Rotation policies").
 */
#include "config.h"

#include <stdio.h>

#include "cli/cli.h"

int
cli_rotation_sweep(struct cli *c, cmk_ctx *ctx)
{
	(void)c;
	(void)ctx;
	return CMK_OK;
}
