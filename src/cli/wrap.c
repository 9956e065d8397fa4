/*
 * wrap.c - `cmk wrap` and `cmk unwrap`: a data encryption key (DEK) in,
 * its wrapped form out, and back.
 *
 * The DEK is held in cmk_secure_alloc() memory and wiped after use.  With
 * --base64 the wrapped side (wrap's output, unwrap's input) is base64 text.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

enum { OPT_RAW = 256, OPT_BASE64 };

#define INPUT_MAX (64 * 1024)
#define DEK_CAP	  1024 /* more than the largest RSA modulus cmk makes */

struct wrap_opts {
	cmk_alg alg;
	int has_alg;
	int raw;
	int base64;
	const char *in;
	const char *out;
};

static const struct option wrap_options[] = {
	{ "alg", required_argument, NULL, 'a' },
	{ "raw", no_argument, NULL, OPT_RAW },
	{ "base64", no_argument, NULL, OPT_BASE64 },
	{ "in", required_argument, NULL, 'i' },
	{ "out", required_argument, NULL, 'o' },
	CLI_OPT_HELP,
	CLI_OPT_END,
};

/* 0 to go on; else the command is done and returns c->rc (after --help
 * or an error). */
static int parse_wrap_opts(struct cli *c, int argc, char **argv, struct wrap_opts *w)
{
	cmk_rc rc;
	int o;

	memset(w, 0, sizeof(*w));
	w->alg = CMK_ALG_RSA_OAEP_256;
	while ((o = cli_next_opt(c, argc, argv, wrap_options)) != -1) {
		switch (o) {
		case CLI_OPT_STOP: return 1;
		case 'a':
			if ((rc = cmk_alg_parse(optarg, &w->alg)) != CMK_OK) {
				c->rc = cli_lib_fail(rc);
				return 1;
			}
			w->has_alg = 1;
			break;
		case OPT_RAW: w->raw = 1; break;
		case OPT_BASE64: w->base64 = 1; break;
		case 'i': w->in = optarg; break;
		case 'o': w->out = optarg; break;
		}
	}
	return 0;
}

static const char *in_name(const char *path)
{
	return path == NULL || strcmp(path, "-") == 0 ? "standard input" : path;
}

/* --------------------------------------------------------------- wrap */

static int do_wrap(cmk_ctx *ctx, const struct wrap_opts *w, const char *keyid,
		   const struct cli_buf *dek, uint8_t **out, size_t *outlen, char kid[CMK_KID_MAX])
{
	size_t cap = 4096;
	uint8_t *buf;
	cmk_rc rc;

	for (;;) {
		if ((buf = malloc(cap)) == NULL)
			return cli_fail(CMK_E_NOMEM, "out of memory");
		*outlen = cap;
		if (w->raw)
			rc = cmk_wrap_raw(ctx, keyid, w->alg, dek->p, dek->len, buf, outlen, kid);
		else
			rc = cmk_wrap(ctx, keyid, w->alg, dek->p, dek->len, buf, outlen);
		if (rc == CMK_E_BUFFER && *outlen > cap) {
			free(buf);
			cap = *outlen;
			continue;
		}
		if (rc != CMK_OK) {
			free(buf);
			return cli_lib_fail(rc);
		}
		*out = buf;
		return CMK_OK;
	}
}

static int run_wrap(struct cli *c, int argc, char **argv)
{
	struct wrap_opts w;
	struct cli_buf dek = { 0 };
	char kid[CMK_KID_MAX] = "";
	uint8_t *out = NULL;
	char *b64 = NULL;
	size_t outlen = 0, b64len = 0;
	cmk_ctx *ctx;
	int rc;

	if (parse_wrap_opts(c, argc, argv, &w) != 0)
		return c->rc;
	if ((rc = cli_operands(c, argc, argv, 1, 1, "KEYID")) != CMK_OK)
		return rc;
	if ((rc = cli_read(w.in, "key to wrap", INPUT_MAX, 1, &dek)) != CMK_OK)
		return rc;
	if (dek.len == 0) {
		cli_buf_free(&dek);
		return cli_usage_fail(c, "the key to wrap (%s) is empty", in_name(w.in));
	}
	if ((rc = cli_open(c, argv[optind], &ctx)) != CMK_OK) {
		cli_buf_free(&dek);
		return rc;
	}
	rc = do_wrap(ctx, &w, argv[optind], &dek, &out, &outlen, kid);
	cli_buf_free(&dek);
	cmk_close(ctx);
	if (rc == CMK_OK && w.base64)
		rc = cli_base64_encode(out, outlen, &b64, &b64len);
	if (rc == CMK_OK)
		rc = b64 != NULL ? cli_write(w.out, "wrapped key", b64, b64len, 0)
				 : cli_write(w.out, "wrapped key", out, outlen, 0);
	if (rc == CMK_OK && w.raw)
		fprintf(stderr, "kid: %s\n", kid);
	free(out);
	free(b64);
	return rc;
}

/* ------------------------------------------------------------- unwrap */

/* Without --raw a KEYID given must name the key the record names. */
static int check_record_key(struct cli *c, const char *keyid, const char *recorded)
{
	char v1[64], n1[CMK_NAME_MAX], ver1[CMK_VERSION_LEN + 1];
	char v2[64], n2[CMK_NAME_MAX], ver2[CMK_VERSION_LEN + 1];
	int rc;

	if ((rc = cli_split_id(c, keyid, v1, n1, ver1)) != CMK_OK ||
	    (rc = cli_split_id(c, recorded, v2, n2, ver2)) != CMK_OK)
		return rc;
	if ((*v1 && strcmp(v1, v2) != 0) || strcmp(n1, n2) != 0 ||
	    (*ver1 && strcmp(ver1, ver2) != 0))
		return cli_fail(CMK_E_USAGE,
				"the wrapped key was wrapped by %s, "
				"not by %s",
				recorded, keyid);
	return CMK_OK;
}

/* The versioned id of `keyid` (a versionless one picks the current). */
static int resolve_version(cmk_ctx *ctx, const char *keyid, char kid[CMK_KID_MAX])
{
	cmk_key *key;
	cmk_rc rc;

	if ((rc = cmk_key_open(ctx, keyid, &key)) != CMK_OK)
		return cli_lib_fail(rc);
	snprintf(kid, CMK_KID_MAX, "%s", cmk_key_kid(key));
	cmk_key_close(key);
	return CMK_OK;
}

static int do_unwrap(cmk_ctx *ctx, const struct wrap_opts *w, const char *kid,
		     const struct cli_buf *in, struct cli_buf *dek)
{
	char used[CMK_KID_MAX];
	cmk_rc rc;

	dek->secret = 1;
	dek->cap = DEK_CAP;
	for (;;) {
		if ((dek->p = cmk_secure_alloc(dek->cap)) == NULL)
			return cli_fail(CMK_E_NOMEM, "out of secure memory");
		dek->len = dek->cap;
		if (w->raw)
			rc = cmk_unwrap_raw(ctx, kid, w->alg, in->p, in->len, dek->p, &dek->len);
		else
			rc = cmk_unwrap(ctx, in->p, in->len, dek->p, &dek->len, used);
		if (rc == CMK_E_BUFFER && dek->len > dek->cap) {
			size_t need = dek->len;

			cli_buf_free(dek);
			dek->secret = 1;
			dek->cap = need;
			continue;
		}
		if (rc != CMK_OK) {
			rc = cli_lib_fail(rc);
			cli_buf_free(dek);
		}
		return rc;
	}
}

static int run_unwrap(struct cli *c, int argc, char **argv)
{
	struct wrap_opts w;
	struct cli_buf raw = { 0 }, dec = { 0 }, dek = { 0 }, *in;
	char kid[CMK_KID_MAX];
	const char *keyid;
	cmk_wrapped rec;
	cmk_ctx *ctx = NULL;
	int rc;

	if (parse_wrap_opts(c, argc, argv, &w) != 0)
		return c->rc;
	if ((rc = cli_operands(c, argc, argv, w.raw ? 1 : 0, 1, "KEYID (needed with --raw)")) !=
	    CMK_OK)
		return rc;
	keyid = optind < argc ? argv[optind] : NULL;
	if ((rc = cli_read(w.in, "wrapped key", INPUT_MAX, 0, &raw)) != CMK_OK)
		return rc;
	in = &raw;
	if (w.base64) {
		rc = cli_base64_decode(in_name(w.in), raw.p, raw.len, 0, &dec);
		if (rc != CMK_OK)
			goto out;
		in = &dec;
	}
	if (in->len == 0) {
		rc = cli_usage_fail(c, "the wrapped key (%s) is empty", in_name(w.in));
		goto out;
	}
	if (w.raw) {
		if ((rc = cli_open(c, keyid, &ctx)) != CMK_OK ||
		    (rc = resolve_version(ctx, keyid, kid)) != CMK_OK)
			goto out;
	} else {
		if ((rc = cmk_wrapped_parse(in->p, in->len, &rec)) != CMK_OK) {
			rc = cli_lib_fail(rc);
			goto out;
		}
		if (w.has_alg && w.alg != rec.alg) {
			rc = cli_fail(CMK_E_USAGE,
				      "the wrapped key uses %s, not "
				      "%s (--alg)",
				      cmk_alg_name(rec.alg), cmk_alg_name(w.alg));
			goto out;
		}
		if (keyid != NULL && (rc = check_record_key(c, keyid, rec.kid)) != CMK_OK)
			goto out;
		snprintf(kid, sizeof(kid), "%s", rec.kid);
		if ((rc = cli_open(c, kid, &ctx)) != CMK_OK)
			goto out;
	}
	if ((rc = do_unwrap(ctx, &w, kid, in, &dek)) != CMK_OK)
		goto out;
	cmk_close(ctx);
	ctx = NULL;
	rc = cli_write(w.out, "unwrapped key", dek.p, dek.len, 1);
out:
	if (ctx != NULL)
		cmk_close(ctx);
	cli_buf_free(&dek);
	cli_buf_free(&dec);
	cli_buf_free(&raw);
	return rc;
}

/* -------------------------------------------------------------- groups */

#define IO_HELP                                                              \
	"  --alg ALG, -a ALG  RSA-OAEP-256 (default), RSA-OAEP (SHA-1), "    \
	"RSA-OAEP-384,\n"                                                    \
	"                     RSA-OAEP-512, or RSA1_5 (PKCS#1 v1.5, only "   \
	"by name)\n"                                                         \
	"  --raw              the bare RSA ciphertext instead of the "       \
	"wrapped-key format\n"                                               \
	"  --base64           the wrapped key is base64 text\n"              \
	"  --in FILE, -i FILE input (default: standard input, also -)\n"     \
	"  --out FILE, -o FILE\n"                                            \
	"                     output (default: standard output, also -); a " \
	"file is\n"                                                          \
	"                     replaced only once the operation succeeded\n"

const struct cli_group cli_group_wrap = {
	"wrap",
	"wrap a data encryption key with a vault key",
	(const struct cli_cmd[]){
		{ NULL, run_wrap, "KEYID [--alg ALG] [--raw] [--base64] [--in FILE] [--out FILE]",
		  "Wrap the key read from --in with KEYID (NAME, NAME/VERSION "
		  "or\ncmk://VAULT/keys/NAME[/VERSION]; a versionless id uses "
		  "the current version).\nThe output records the algorithm and "
		  "the versioned key id; with --raw it is\nthe bare RSA "
		  "ciphertext and the versioned id is printed on standard "
		  "error\nas 'kid: ...'.",
		  IO_HELP },
		{ NULL, NULL, NULL, NULL, NULL },
	},
};

const struct cli_group cli_group_unwrap = {
	"unwrap",
	"unwrap a wrapped data encryption key",
	(const struct cli_cmd[]){
		{ NULL, run_unwrap,
		  "[KEYID] [--alg ALG] [--raw] [--base64] [--in FILE] "
		  "[--out FILE]",
		  "Unwrap a wrapped key read from --in and write the key.  The "
		  "wrapped-key\nformat names its key; a KEYID given must agree "
		  "with it.  With --raw the input\nis a bare RSA ciphertext and "
		  "KEYID is required (versionless: the current\nversion).",
		  IO_HELP },
		{ NULL, NULL, NULL, NULL, NULL },
	},
};
