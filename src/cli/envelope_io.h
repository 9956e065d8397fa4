/*
 * envelope_io.h - streaming file helpers shared by encrypt.c and
 * resource.c: inputs by fd, outputs that appear only when complete.
 */
#ifndef CMK_CLI_ENVELOPE_IO_H
#define CMK_CLI_ENVELOPE_IO_H

#include <sys/types.h>

#include "cli/cli.h"

/* struct cli_out and cli_out_begin/write/end are in cli.h (io.c). */

int cli_in_open(const char *path, const char *what, int *fd);
ssize_t cli_read_fd(int fd, uint8_t *p, size_t len);
int cli_write_fd(int fd, const uint8_t *p, size_t len);

/* --context KEY=VALUE: kv[*n] points into arg and a strdup in store. */
int cli_context_add(struct cli *c, const char *arg, cmk_kv *kv, size_t *n, char **store);
void cli_context_free(char **store, size_t n);

/* Read a whole envelope header from fd (malloc'd). */
int cli_envelope_header(int fd, uint8_t **hdr, size_t *len);

#endif
