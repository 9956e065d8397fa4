/*
 * identity.c - `cmk identity`: the identities of a vault.
 */
#include "config.h"

#include "cli/cli.h"
