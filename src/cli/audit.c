/*
 * audit.c - `cmk audit`: read and verify the vault's audit log.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <libgen.h>

#include <json-c/json.h>

#include "cli/cli.h"

enum {
	OPT_SINCE = 256,
	OPT_KEY,
	OPT_IDENTITY,
	OPT_FILE,
	OPT_CHECKPOINT,
	OPT_ACCEPT_LOST,
	OPT_RESOURCE
};

static const char *field(json_object *o, const char *k)
{
	json_object *v;
	if (!json_object_object_get_ex(o, k, &v) || !v)
		return "";
	return json_object_get_string(v);
}

/* LOG.<digits...> next to LOG, sorted (the names sort in record order) */
static int seg_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int segments_of(const char *log, char ***out, size_t *n)
{
	char d[1024], b[1024];
	snprintf(d, sizeof d, "%s", log);
	snprintf(b, sizeof b, "%s", log);
	const char *dir = dirname(d), *base = basename(b);
	size_t bl = strlen(base), cap = 0;
	*out = NULL;
	*n = 0;
	DIR *dp = opendir(dir);
	if (!dp)
		return CMK_OK; /* no segments; the log itself says why */
	struct dirent *e;
	while ((e = readdir(dp))) {
		if (strncmp(e->d_name, base, bl) != 0 || e->d_name[bl] != '.' ||
		    e->d_name[bl + 1] < '0' || e->d_name[bl + 1] > '9')
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			char **v = realloc(*out, cap * sizeof *v);
			if (!v)
				break;
			*out = v;
		}
		if (asprintf(&(*out)[*n], "%s/%s", dir, e->d_name) < 0)
			break;
		(*n)++;
	}
	closedir(dp);
	if (*n)
		qsort(*out, *n, sizeof **out, seg_cmp);
	return CMK_OK;
}

static void show_file(struct cli *c, FILE *f, const char *identity, const char *resource,
		      const char *since, const char *kid, size_t klen)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) > 0) {
		json_object *rec = json_tokener_parse(line);
		if (!rec)
			continue;
		const char *k = field(rec, "key");
		int show = (!identity || strcmp(field(rec, "identity"), identity) == 0) &&
			   (!resource || strcmp(field(rec, "resource"), resource) == 0) &&
			   (!since[0] || strcmp(field(rec, "time"), since) >= 0) &&
			   (!klen ||
			    (strncmp(k, kid, klen) == 0 && (k[klen] == '\0' || k[klen] == '/')));
		if (show && c->json)
			fputs(line, stdout);
		else if (show)
			printf("%-6s %s %-12s %-20s %-7s %s%s%s%s%s%s%s\n", field(rec, "seq"),
			       field(rec, "time"), field(rec, "identity"), field(rec, "op"),
			       field(rec, "result"), k, *field(rec, "resource") ? " resource=" : "",
			       field(rec, "resource"), *field(rec, "object") ? " object=" : "",
			       field(rec, "object"), *field(rec, "error") ? "  " : "",
			       field(rec, "error"));
		json_object_put(rec);
	}
	free(line);
}

static int run_show(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "identity", required_argument, NULL, OPT_IDENTITY },
		{ "resource", required_argument, NULL, OPT_RESOURCE },
		{ "file", required_argument, NULL, OPT_FILE },
		{ "json", no_argument, NULL, 'j' },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	const char *key = NULL, *identity = NULL, *file = NULL, *resource = NULL;
	int explicit_file;
	char since[32] = "";
	int64_t t;
	cmk_ctx *ctx = NULL;
	int o, rc;

	while ((o = cli_next_opt(c, argc, argv, opts)) != -1) {
		switch (o) {
		case CLI_OPT_STOP: return c->rc;
		case OPT_SINCE:
			if ((rc = cli_time_parse(c, "--since", optarg, 0, &t)) != CMK_OK)
				return rc;
			cli_time_format(t, since);
			since[strlen(since) - 1] = '\0'; /* drop "Z": compare prefixes */
			break;
		case OPT_KEY: key = optarg; break;
		case OPT_IDENTITY: identity = optarg; break;
		case OPT_RESOURCE: resource = optarg; break;
		case OPT_FILE: file = optarg; break;
		case 'j': c->json = 1; break;
		}
	}
	if ((rc = cli_operands(c, argc, argv, 0, 0, "")) != CMK_OK)
		return rc;
	char kid[CMK_KID_MAX] = "";
	explicit_file = file != NULL;
	if (!file || key) {
		if ((rc = cli_open(c, key, &ctx)) != CMK_OK)
			return rc;
		if (!file)
			file = cmk_audit_log_path(ctx);
		if (key) {
			char vault[64], name[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1];
			if ((rc = cli_split_id(c, key, vault, name, ver)) != CMK_OK) {
				cmk_close(ctx);
				return rc;
			}
			cli_kid(kid, vault[0] ? vault : cmk_ctx_vault(ctx), name, ver);
		}
	}
	/* the vault's log: its rotated segments LOG.<seq> first, in order */
	char **segs = NULL;
	size_t nsegs = 0;
	if (!explicit_file && (rc = segments_of(file, &segs, &nsegs)) != CMK_OK) {
		cmk_close(ctx);
		return rc;
	}
	size_t klen = strlen(kid);
	for (size_t i = 0; i <= nsegs; i++) {
		const char *path = i < nsegs ? segs[i] : file;
		FILE *f = fopen(path, "r");
		if (!f) {
			rc = cli_fail(CMK_E_IO, "audit log %s: %s", path, strerror(errno));
			break;
		}
		show_file(c, f, identity, resource, since, kid, klen);
		fclose(f);
	}
	for (size_t i = 0; i < nsegs; i++)
		free(segs[i]);
	free(segs);
	if (rc != CMK_OK) {
		cmk_close(ctx);
		return rc;
	}
	cmk_close(ctx);
	return CMK_OK;
}

static int run_verify(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "file", required_argument, NULL, OPT_FILE },
		{ "checkpoint", required_argument, NULL, OPT_CHECKPOINT },
		{ "accept-lost", no_argument, NULL, OPT_ACCEPT_LOST },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	const char *file = NULL, *checkpoint = NULL;
	int accept_lost = 0;
	cmk_ctx *ctx;
	int o, rc;

	while ((o = cli_next_opt(c, argc, argv, opts)) != -1) {
		if (o == CLI_OPT_STOP)
			return c->rc;
		if (o == OPT_FILE)
			file = optarg;
		else if (o == OPT_CHECKPOINT)
			checkpoint = optarg;
		else if (o == OPT_ACCEPT_LOST)
			accept_lost = 1;
	}
	if ((rc = cli_operands(c, argc, argv, 0, 1000, "[SEGMENT|DIR...]")) != CMK_OK)
		return rc;
	if (accept_lost && !checkpoint)
		return cli_usage_fail(c, "--accept-lost needs --checkpoint FILE (where the "
					 "acknowledgement is kept)");
	if (file && optind < argc)
		return cli_usage_fail(c, "give --file or segments, not both");
	/* the segments: --file, the operands, or the vault's log and its
	 * rotated segments */
	const char **paths = (const char **)argv + optind;
	size_t n = (size_t)(argc - optind);
	if (file) {
		paths = &file;
		n = 1;
	}
	if ((rc = cli_open(c, NULL, &ctx)) != CMK_OK)
		return rc;
	cmk_audit_check chk = { 0 };
	/* continue from the checkpoint when there is one, then move it on */
	if (checkpoint && access(checkpoint, F_OK) == 0)
		chk.checkpoint_in = checkpoint;
	chk.checkpoint_out = checkpoint;
	chk.accept_lost = accept_lost;
	rc = cmk_audit_verify_files(ctx, paths, n, &chk);
	if (rc == CMK_OK && chk.lost)
		fprintf(stderr,
			"cmk: warning: the token counts %llu audit records that could not be "
			"written; accepted in checkpoint %s\n",
			(unsigned long long)chk.lost, checkpoint);
	if (rc != CMK_OK)
		rc = cli_lib_fail(rc);
	else if (chk.segments <= 1 && !chk.checkpoint_in)
		printf("audit log %s: %llu records, chain intact\n",
		       n ? paths[0] : cmk_audit_log_path(ctx), (unsigned long long)chk.last_seq);
	else
		printf("audit log %s: %llu records, chain intact (%llu verified in %llu "
		       "segments%s)\n",
		       n == 1 ? paths[0]
		       : n    ? "segments"
			      : cmk_audit_log_path(ctx),
		       (unsigned long long)chk.last_seq, (unsigned long long)chk.records,
		       (unsigned long long)chk.segments,
		       chk.checkpoint_in ? ", from the checkpoint on" : "");
	cmk_close(ctx);
	return rc;
}

const struct cli_group cli_group_audit = {
	"audit",
	"show and verify the vault's audit log",
	(const struct cli_cmd[]){
		{ "show", run_show,
		  "[--since T] [--key KEYID] [--identity ID] [--resource NAME] [--json] [--file "
		  "PATH]",
		  "Print audit records (the log's rotated segments first): seq, "
		  "time, identity,\noperation, result, key, error.\nWith --json, "
		  "the records as stored (JSON lines).",
		  "  --since T        records from time T on (RFC 3339, a date, "
		  "or -2h)\n"
		  "  --key KEYID      records of one key (every version of a "
		  "versionless id)\n"
		  "  --identity ID    records of one identity\n"
		  "  --resource NAME  records of one resource (its operations and "
		  "the key\n                   operations made for it)\n"
		  "  --file PATH      another log than the vault's\n" },
		{ "verify", run_verify,
		  "[--checkpoint FILE [--accept-lost]] [--file PATH | SEGMENT|DIR...]",
		  "Check every record's MAC (chain keys derived with the token's "
		  "audit key), the\nsequence and the chain, across the log's "
		  "rotated segments; name the first\nrecord altered, removed, "
		  "reordered or inserted, a missing segment, records\ncut off "
		  "the end and records the token counts as never written.",
		  "  --checkpoint FILE  continue after the checkpoint in FILE (if it "
		  "exists), then\n                     write the new one there\n"
		  "  --accept-lost      acknowledge the records the token counts as "
		  "never written\n                     (kept in the checkpoint; "
		  "later losses are reported)\n"
		  "  --file PATH        one log file instead of the vault's\n"
		  "  SEGMENT|DIR        these files, or the logs in these "
		  "directories\n" },
		{ NULL, NULL, NULL, NULL, NULL },
	},
};
