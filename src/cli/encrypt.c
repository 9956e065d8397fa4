/*
 * encrypt.c - `cmk encrypt` and `cmk decrypt`: streaming envelopes
 * (docs/envelope-format.md) between files or pipes.
 *
 * Decrypt never writes to its destination before the whole message has
 * authenticated: a file is written to a temporary file and renamed; stdout
 * gets the plaintext from memory (bounded by --buffer-max) once the final
 * frame has been checked, unless --stream asks for frame-by-frame output.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/envelope_io.h"

#define CHUNK		   (1024 * 1024)
#define BUFFER_MAX_DEFAULT ((size_t)64 * 1024 * 1024)

enum { OPT_FRAME = 256, OPT_BUFFER_MAX, OPT_STREAM, OPT_BUFFER };

/* ------------------------------------------------------------ helpers */

int cli_context_add(struct cli *c, const char *arg, cmk_kv *kv, size_t *n, char **store)
{
	const char *eq = strchr(arg, '=');

	if (*n >= CMK_ENVELOPE_MAX_CONTEXT)
		return cli_usage_fail(c, "more than %d --context pairs", CMK_ENVELOPE_MAX_CONTEXT);
	if (eq == NULL || eq == arg)
		return cli_usage_fail(c, "--context '%s' is not KEY=VALUE", arg);
	char *k = strndup(arg, (size_t)(eq - arg));
	if (k == NULL)
		return cli_fail(CMK_E_NOMEM, "out of memory");
	store[*n] = k;
	kv[*n].key = k;
	kv[*n].value = eq + 1;
	(*n)++;
	return CMK_OK;
}

void cli_context_free(char **store, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(store[i]);
}

int cli_write_fd(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Read up to len bytes (less only at end of input); -1 on error. */
ssize_t cli_read_fd(int fd, uint8_t *p, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t r = read(fd, p + got, len - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static int is_std(const char *path)
{
	return path == NULL || strcmp(path, "-") == 0;
}

int cli_in_open(const char *path, const char *what, int *fd)
{
	if (is_std(path)) {
		*fd = STDIN_FILENO;
		return CMK_OK;
	}
	if ((*fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return cli_fail(CMK_E_IO, "cannot open %s %s: %s", what, path, strerror(errno));
	return CMK_OK;
}

/* "64M", "1G", "4096": bytes. */
static int parse_size(struct cli *c, const char *opt, const char *s, size_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	unsigned shift = 0;
	if (end == s || errno != 0)
		return cli_usage_fail(c, "%s '%s' is not a size", opt, s);
	switch (*end) {
	case 'K':
	case 'k':
		shift = 10;
		end++;
		break;
	case 'M':
	case 'm':
		shift = 20;
		end++;
		break;
	case 'G':
	case 'g':
		shift = 30;
		end++;
		break;
	}
	if (*end != '\0' || v > (SIZE_MAX >> shift))
		return cli_usage_fail(c, "%s '%s' is not a size (N, NK, NM, NG)", opt, s);
	*out = (size_t)v << shift;
	return CMK_OK;
}

/* ------------------------------------------------------------ encrypt */

static const struct option encrypt_options[] = {
	{ "key", required_argument, NULL, 'k' },
	{ "context", required_argument, NULL, 'c' },
	{ "alg", required_argument, NULL, 'a' },
	{ "frame-size", required_argument, NULL, OPT_FRAME },
	{ "in", required_argument, NULL, 'i' },
	{ "out", required_argument, NULL, 'o' },
	CLI_OPT_HELP,
	CLI_OPT_END,
};

/* All keys of one envelope come from one vault (one context): explicit
 * cmk://VAULT/ ids must name the vault that was opened. */
static int same_vault(struct cli *c, const char *const *keys, size_t n, cmk_ctx *ctx)
{
	char v[64], name[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1];
	for (size_t i = 0; i < n; i++) {
		if (strncmp(keys[i], "cmk://", 6) != 0)
			continue;
		if (cli_split_id(c, keys[i], v, name, ver) != CMK_OK)
			return CMK_E_USAGE;
		if (strcmp(v, cmk_ctx_vault(ctx)) != 0)
			return cli_usage_fail(c,
					      "--key %s is not in vault %s of "
					      "--key %s: one envelope takes keys of "
					      "one vault",
					      keys[i], cmk_ctx_vault(ctx), keys[0]);
	}
	return CMK_OK;
}

static int seal_stream(cmk_sealer *s, int in, struct cli_out *out)
{
	size_t cap = cmk_seal_out_max(s, CHUNK) + CHUNK;
	uint8_t *ibuf = malloc(CHUNK), *obuf = malloc(cap);
	int rc = CMK_OK;
	cmk_rc r;

	if (ibuf == NULL || obuf == NULL) {
		rc = cli_fail(CMK_E_NOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t got = cli_read_fd(in, ibuf, CHUNK);
		size_t n = cap;
		if (got < 0) {
			rc = cli_fail(CMK_E_IO, "cannot read the input: %s", strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		if ((r = cmk_seal_update(s, ibuf, (size_t)got, obuf, &n)) != CMK_OK) {
			rc = cli_lib_fail(r);
			goto out;
		}
		if ((rc = cli_out_write(out, obuf, n)) != CMK_OK)
			goto out;
		if ((size_t)got < CHUNK)
			break;
	}
	size_t n = cap;
	if ((r = cmk_seal_final(s, obuf, &n)) != CMK_OK)
		rc = cli_lib_fail(r);
	else
		rc = cli_out_write(out, obuf, n);
out:
	if (ibuf) {
		cmk_wipe(ibuf, CHUNK);
		free(ibuf);
	}
	free(obuf);
	return rc;
}

static int run_encrypt(struct cli *c, int argc, char **argv)
{
	const char *keys[CMK_ENVELOPE_MAX_KEYS];
	cmk_kv kv[CMK_ENVELOPE_MAX_CONTEXT];
	char *kstore[CMK_ENVELOPE_MAX_CONTEXT];
	size_t nkeys = 0, nkv = 0;
	const char *in = NULL, *outp = NULL;
	cmk_seal_params p = { 0 };
	unsigned frame = 0;
	cmk_ctx *ctx = NULL;
	cmk_sealer *s = NULL;
	struct cli_out out = { .fd = -1 };
	int rc = CMK_OK, o, infd = -1;
	cmk_rc r;

	while ((o = cli_next_opt(c, argc, argv, encrypt_options)) != -1) {
		switch (o) {
		case CLI_OPT_STOP: rc = c->rc; goto done;
		case 'k':
			if (nkeys == CMK_ENVELOPE_MAX_KEYS) {
				rc = cli_usage_fail(c, "more than %d --key options",
						    CMK_ENVELOPE_MAX_KEYS);
				goto done;
			}
			keys[nkeys++] = optarg;
			break;
		case 'c':
			if ((rc = cli_context_add(c, optarg, kv, &nkv, kstore)))
				goto done;
			break;
		case 'a':
			if ((r = cmk_alg_parse(optarg, &p.alg)) != CMK_OK) {
				rc = cli_lib_fail(r);
				goto done;
			}
			break;
		case OPT_FRAME:
			if ((rc = cli_parse_uint(c, "--frame-size", optarg, &frame)))
				goto done;
			break;
		case 'i': in = optarg; break;
		case 'o': outp = optarg; break;
		}
	}
	if ((rc = cli_operands(c, argc, argv, 0, 0, "")) != CMK_OK)
		goto done;
	if (nkeys == 0) {
		rc = cli_usage_fail(c, "--key KEYID is required");
		goto done;
	}
	if ((rc = cli_in_open(in, "input", &infd)) != CMK_OK ||
	    (rc = cli_open(c, keys[0], &ctx)) != CMK_OK ||
	    (rc = same_vault(c, keys, nkeys, ctx)) != CMK_OK)
		goto done;
	p.keyids = keys;
	p.nkeys = nkeys;
	p.context = kv;
	p.ncontext = nkv;
	p.frame_size = frame;
	if ((r = cmk_seal_init(ctx, &p, &s)) != CMK_OK) {
		rc = cli_lib_fail(r);
		goto done;
	}
	if ((rc = cli_out_begin(&out, outp, "envelope", 0)) != CMK_OK)
		goto done;
	rc = seal_stream(s, infd, &out);
	int rc2 = cli_out_end(&out, rc == CMK_OK);
	if (rc == CMK_OK)
		rc = rc2;
done:
	cmk_seal_free(s);
	cmk_close(ctx);
	if (infd > STDIN_FILENO)
		close(infd);
	cli_context_free(kstore, nkv);
	return rc;
}

/* ------------------------------------------------------------ decrypt */

static const struct option decrypt_options[] = {
	{ "context", required_argument, NULL, 'c' },
	{ "in", required_argument, NULL, 'i' },
	{ "out", required_argument, NULL, 'o' },
	{ "buffer", no_argument, NULL, OPT_BUFFER },
	{ "buffer-max", required_argument, NULL, OPT_BUFFER_MAX },
	{ "stream", no_argument, NULL, OPT_STREAM },
	CLI_OPT_HELP,
	CLI_OPT_END,
};

int cli_envelope_header(int fd, uint8_t **hdr, size_t *len)
{
	uint8_t pre[CMK_ENVELOPE_PREFIX_LEN];
	size_t hlen;
	cmk_rc r;

	ssize_t got = cli_read_fd(fd, pre, sizeof(pre));
	if (got < 0)
		return cli_fail(CMK_E_IO, "cannot read the envelope: %s", strerror(errno));
	if ((r = cmk_envelope_header_len(pre, (size_t)got, &hlen)) != CMK_OK)
		return cli_lib_fail(r);
	if ((*hdr = malloc(hlen)) == NULL)
		return cli_fail(CMK_E_NOMEM, "out of memory");
	memcpy(*hdr, pre, sizeof(pre));
	got = cli_read_fd(fd, *hdr + sizeof(pre), hlen - sizeof(pre));
	if (got < 0 || (size_t)got != hlen - sizeof(pre)) {
		free(*hdr);
		*hdr = NULL;
		if (got < 0)
			return cli_fail(CMK_E_IO, "cannot read the envelope: %s", strerror(errno));
		return cli_fail(CMK_E_FORMAT,
				"envelope is truncated: the header "
				"needs %zu bytes, the input has %zu",
				hlen, sizeof(pre) + (size_t)got);
	}
	*len = hlen;
	return CMK_OK;
}

/* The vault to open: --vault, else that of the first key id whose vault
 * the configuration has. */
static int pick_vault(struct cli *c, const uint8_t *hdr, size_t len, char *kid, size_t kidlen)
{
	char **kids = NULL, **vaults = NULL;
	size_t n = 0, nv = 0;
	cmk_rc r;
	int rc = CMK_OK;

	kid[0] = '\0';
	if ((r = cmk_envelope_kids(hdr, len, &kids, &n)) != CMK_OK)
		return cli_lib_fail(r);
	if (n == 0) {
		cmk_strv_free(kids, n);
		return cli_fail(CMK_E_NOT_FOUND, "the envelope has no data key "
						 "wrapped by a vault key");
	}
	if (c->vault_explicit) {
		cmk_strv_free(kids, n);
		return CMK_OK;
	}
	if (cmk_config_vaults(c->config, &vaults, &nv) != CMK_OK)
		nv = 0;
	for (size_t i = 0; i < n && !kid[0]; i++) {
		char v[64], name[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1];
		if (cmk_kid_parse(kids[i], v, name, ver) != CMK_OK)
			continue;
		for (size_t j = 0; j < nv; j++)
			if (strcmp(vaults[j], v) == 0) {
				snprintf(kid, kidlen, "%s", kids[i]);
				break;
			}
	}
	if (!kid[0]) /* no known vault: let cmk_open say why */
		snprintf(kid, kidlen, "%s", kids[0]);
	cmk_strv_free(kids, n);
	cmk_strv_free(vaults, nv);
	return rc;
}

struct membuf {
	uint8_t *p;
	size_t len, cap, max;
};

static int membuf_reserve(struct membuf *m, size_t more)
{
	if (m->len + more <= m->cap)
		return CMK_OK;
	size_t cap = m->cap ? m->cap : CHUNK * 2;
	while (cap < m->len + more)
		cap *= 2;
	uint8_t *p = malloc(cap);
	if (p == NULL)
		return cli_fail(CMK_E_NOMEM,
				"out of memory for %zu bytes of "
				"plaintext",
				cap);
	if (m->p) {
		memcpy(p, m->p, m->len);
		cmk_wipe(m->p, m->cap);
		free(m->p);
	}
	m->p = p;
	m->cap = cap;
	return CMK_OK;
}

static void membuf_free(struct membuf *m)
{
	if (m->p) {
		cmk_wipe(m->p, m->cap);
		free(m->p);
	}
	memset(m, 0, sizeof(*m));
}

struct dec_opts {
	int stream;
	size_t buffer_max;
};

/* Feed in[0..n) to the unsealer; plaintext to the file/stream, or the
 * memory buffer when one is given. */
static int unseal_some(cmk_unsealer *u, const uint8_t *in, size_t n, uint8_t *obuf, size_t ocap,
		       struct membuf *m, struct cli_out *out)
{
	size_t need = cmk_unseal_out_max(u, n), olen;
	cmk_rc r;
	int rc;

	if (m != NULL) {
		if ((rc = membuf_reserve(m, need)) != CMK_OK)
			return rc;
		olen = m->cap - m->len;
		if ((r = cmk_unseal_update(u, in, n, m->p + m->len, &olen)) != CMK_OK)
			return cli_lib_fail(r);
		m->len += olen;
		if (m->len > m->max)
			return cli_fail(CMK_E_TOO_LARGE,
					"the plaintext is larger "
					"than --buffer-max (%zu bytes); nothing was "
					"written: use --out FILE or a larger "
					"--buffer-max",
					m->max);
		return CMK_OK;
	}
	olen = ocap;
	if ((r = cmk_unseal_update(u, in, n, obuf, &olen)) != CMK_OK)
		return cli_lib_fail(r);
	return cli_out_write(out, obuf, olen);
}

static int unseal_stream(cmk_unsealer *u, int in, const uint8_t *hdr, size_t hlen, struct membuf *m,
			 struct cli_out *out)
{
	uint8_t *ibuf = malloc(CHUNK), *obuf = NULL;
	size_t ocap = cmk_unseal_out_max(u, CHUNK) + CMK_ENVELOPE_FRAME_MAX + 64;
	int rc;
	cmk_rc r;

	if (ibuf == NULL || (m == NULL && (obuf = malloc(ocap)) == NULL)) {
		rc = cli_fail(CMK_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = unseal_some(u, hdr, hlen, obuf, ocap, m, out)) != CMK_OK)
		goto out;
	for (;;) {
		ssize_t got = cli_read_fd(in, ibuf, CHUNK);
		if (got < 0) {
			rc = cli_fail(CMK_E_IO, "cannot read the envelope: %s", strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		if ((rc = unseal_some(u, ibuf, (size_t)got, obuf, ocap, m, out)))
			goto out;
		if ((size_t)got < CHUNK)
			break;
	}
	if ((r = cmk_unseal_final(u)) != CMK_OK)
		rc = cli_lib_fail(r);
out:
	free(ibuf);
	if (obuf) {
		cmk_wipe(obuf, ocap);
		free(obuf);
	}
	return rc;
}

static int run_decrypt(struct cli *c, int argc, char **argv)
{
	cmk_kv kv[CMK_ENVELOPE_MAX_CONTEXT];
	char *kstore[CMK_ENVELOPE_MAX_CONTEXT];
	size_t nkv = 0, hlen = 0;
	const char *in = NULL, *outp = NULL;
	struct dec_opts d = { 0, BUFFER_MAX_DEFAULT };
	char kid[CMK_KID_MAX];
	uint8_t *hdr = NULL;
	cmk_ctx *ctx = NULL;
	cmk_unsealer *u = NULL;
	struct cli_out out = { .fd = -1 };
	struct membuf m = { 0 };
	int rc = CMK_OK, o, infd = -1, begun = 0;
	cmk_rc r;

	while ((o = cli_next_opt(c, argc, argv, decrypt_options)) != -1) {
		switch (o) {
		case CLI_OPT_STOP: rc = c->rc; goto done;
		case 'c':
			if ((rc = cli_context_add(c, optarg, kv, &nkv, kstore)))
				goto done;
			break;
		case 'i': in = optarg; break;
		case 'o': outp = optarg; break;
		case OPT_BUFFER: break; /* the default for stdout */
		case OPT_BUFFER_MAX:
			if ((rc = parse_size(c, "--buffer-max", optarg, &d.buffer_max)))
				goto done;
			break;
		case OPT_STREAM: d.stream = 1; break;
		}
	}
	if ((rc = cli_operands(c, argc, argv, 0, 0, "")) != CMK_OK)
		goto done;
	if (d.stream && !is_std(outp)) {
		rc = cli_usage_fail(c, "--stream is for standard output; with "
				       "--out the file appears only when complete");
		goto done;
	}
	if ((rc = cli_in_open(in, "envelope", &infd)) != CMK_OK ||
	    (rc = cli_envelope_header(infd, &hdr, &hlen)) != CMK_OK ||
	    (rc = pick_vault(c, hdr, hlen, kid, sizeof(kid))) != CMK_OK ||
	    (rc = cli_open(c, kid[0] ? kid : NULL, &ctx)) != CMK_OK)
		goto done;
	cmk_unseal_params p = { .context = kv, .ncontext = nkv };
	if ((r = cmk_unseal_init(ctx, &p, &u)) != CMK_OK) {
		rc = cli_lib_fail(r);
		goto done;
	}
	if ((rc = cli_out_begin(&out, outp, "plaintext", 1)) != CMK_OK)
		goto done;
	begun = 1;
	m.max = d.buffer_max;
	int buffered = (is_std(outp) || out.direct) && !d.stream;
	rc = unseal_stream(u, infd, hdr, hlen, buffered ? &m : NULL, &out);
	if (rc == CMK_OK && buffered)
		rc = cli_out_write(&out, m.p, m.len);
	if (rc != CMK_OK && d.stream && out.written > 0)
		cli_fail(rc,
			 "the %zu bytes written to standard output so far are "
			 "incomplete and must not be used",
			 out.written);
done:
	if (begun) {
		int rc2 = cli_out_end(&out, rc == CMK_OK);
		if (rc == CMK_OK)
			rc = rc2;
	}
	membuf_free(&m);
	cmk_unseal_free(u);
	cmk_close(ctx);
	free(hdr);
	if (infd > STDIN_FILENO)
		close(infd);
	cli_context_free(kstore, nkv);
	return rc;
}

const struct cli_group cli_group_encrypt = {
	"encrypt",
	"seal data in an envelope under vault keys",
	(const struct cli_cmd[]){
		{ NULL, run_encrypt,
		  "--key KEYID [--key KEYID...] [--context KEY=VALUE...] "
		  "[--in FILE] [--out FILE]",
		  "Encrypt --in (default: standard input) into an envelope "
		  "(docs/envelope-format.md)\nwritten to --out (default: "
		  "standard output), in bounded memory.  A fresh\ndata key is "
		  "wrapped by each --key; any one of them opens the envelope.\n"
		  "The context pairs are authenticated, not secret: decrypt must "
		  "give the same.",
		  "  --key KEYID         NAME, NAME/VERSION or "
		  "cmk://VAULT/keys/NAME[/VERSION] (repeatable)\n"
		  "  --context KEY=VALUE encryption context (repeatable)\n"
		  "  --alg ALG           RSA-OAEP-256 (default) or RSA-OAEP\n"
		  "  --frame-size N      bytes per frame, a power of two from "
		  "1024 to 1048576\n"
		  "                      (default 65536)\n"
		  "  --in FILE           input (default: standard input)\n"
		  "  --out FILE          output, written atomically (default: "
		  "standard output)\n" },
		{ NULL, NULL, NULL, NULL, NULL },
	},
};

const struct cli_group cli_group_decrypt = {
	"decrypt",
	"open an envelope made by cmk encrypt",
	(const struct cli_cmd[]){
		{ NULL, run_decrypt,
		  "[--context KEY=VALUE...] [--in FILE] [--out FILE] "
		  "[--buffer-max SIZE | --stream]",
		  "Decrypt an envelope.  The key comes from the envelope; the "
		  "context must be\nexactly the one it was sealed with.  Nothing "
		  "is written until the whole\nmessage has authenticated: --out "
		  "FILE is renamed into place at the end, and\nstandard output "
		  "gets the plaintext from memory (up to --buffer-max).",
		  "  --context KEY=VALUE the encryption context (repeatable)\n"
		  "  --in FILE           envelope (default: standard input)\n"
		  "  --out FILE          plaintext file, mode 0600, appears only "
		  "when complete\n"
		  "  --buffer-max SIZE   for standard output: largest plaintext "
		  "held before\n"
		  "                      writing (default 64M; K, M, G "
		  "suffixes)\n"
		  "  --buffer            hold the plaintext in memory until it "
		  "has authenticated\n"
		  "                      (the default for standard output)\n"
		  "  --stream            standard output: write each frame once "
		  "it has\n"
		  "                      authenticated; a later failure leaves "
		  "partial output\n"
		  "                      (the exit status is then non-zero)\n" },
		{ NULL, NULL, NULL, NULL, NULL },
	},
};
