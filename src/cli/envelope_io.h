/*
 * envelope_io.h - streaming file helpers shared by encrypt.c and
 * resource.c: inputs by fd, outputs that appear only when complete.
 */
#ifndef CMK_CLI_ENVELOPE_IO_H
#define CMK_CLI_ENVELOPE_IO_H

#include <sys/types.h>

#include "cli/cli.h"

/* An output: stdout, or a temporary file renamed over `path` at the end. */
struct cli_out {
	int fd;
	const char *path;         /* NULL: standard output */
	char *tmp;
	const char *what;
	size_t written;
};

int cli_out_begin(struct cli_out *o, const char *path, const char *what,
                  int secret);
int cli_out_write(struct cli_out *o, const uint8_t *p, size_t len);
/* ok: fsync and rename into place; else remove the temporary file. */
int cli_out_end(struct cli_out *o, int ok);

int cli_in_open(const char *path, const char *what, int *fd);
ssize_t cli_read_fd(int fd, uint8_t *p, size_t len);
int cli_write_fd(int fd, const uint8_t *p, size_t len);

/* --context KEY=VALUE: kv[*n] points into arg and a strdup in store. */
int cli_context_add(struct cli *c, const char *arg, cmk_kv *kv, size_t *n,
                    char **store);
void cli_context_free(char **store, size_t n);

/* Read a whole envelope header from fd (malloc'd). */
int cli_envelope_header(int fd, uint8_t **hdr, size_t *len);

#endif
