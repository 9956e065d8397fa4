/*
 * audit.c - `cmk audit`: read and verify the vault's audit log.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli/cli.h"

enum { OPT_SINCE = 256, OPT_KEY, OPT_IDENTITY, OPT_FILE, OPT_RESOURCE };

static const char *
field(json_object *o, const char *k)
{
	json_object *v;
	if (!json_object_object_get_ex(o, k, &v) || !v)
		return "";
	return json_object_get_string(v);
}

static int
run_show(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "identity", required_argument, NULL, OPT_IDENTITY },
		{ "resource", required_argument, NULL, OPT_RESOURCE },
		{ "file", required_argument, NULL, OPT_FILE },
		{ "json", no_argument, NULL, 'j' },
		CLI_OPT_HELP, CLI_OPT_END,
	};
	const char *key = NULL, *identity = NULL, *file = NULL, *resource = NULL;
	char since[32] = "";
	int64_t t;
	cmk_ctx *ctx = NULL;
	int o, rc;

	while ((o = cli_next_opt(c, argc, argv, opts)) != -1) {
		switch (o) {
		case CLI_OPT_STOP:
			return c->rc;
		case OPT_SINCE:
			if ((rc = cli_time_parse(c, "--since", optarg, 0, &t)) != CMK_OK)
				return rc;
			cli_time_format(t, since);
			since[strlen(since) - 1] = '\0';   /* drop "Z": compare prefixes */
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
	FILE *f = fopen(file, "r");
	if (!f) {
		rc = cli_fail(CMK_E_IO, "audit log %s: %s", file, strerror(errno));
		cmk_close(ctx);
		return rc;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	size_t klen = strlen(kid);
	while ((n = getline(&line, &cap, f)) > 0) {
		json_object *rec = json_tokener_parse(line);
		if (!rec)
			continue;
		const char *k = field(rec, "key");
		int show = (!identity || strcmp(field(rec, "identity"), identity) == 0) &&
		           (!resource || strcmp(field(rec, "resource"), resource) == 0) &&
		           (!since[0] || strcmp(field(rec, "time"), since) >= 0) &&
		           (!klen || (strncmp(k, kid, klen) == 0 && (k[klen] == '\0' || k[klen] == '/')));
		if (show && c->json)
			fputs(line, stdout);
		else if (show)
			printf("%-6s %s %-12s %-20s %-7s %s%s%s%s%s%s%s\n", field(rec, "seq"), field(rec, "time"),
			       field(rec, "identity"), field(rec, "op"), field(rec, "result"), k,
			       *field(rec, "resource") ? " resource=" : "", field(rec, "resource"),
			       *field(rec, "object") ? " object=" : "", field(rec, "object"),
			       *field(rec, "error") ? "  " : "", field(rec, "error"));
		json_object_put(rec);
	}
	free(line);
	fclose(f);
	cmk_close(ctx);
	return CMK_OK;
}

static int
run_verify(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "file", required_argument, NULL, OPT_FILE },
		CLI_OPT_HELP, CLI_OPT_END,
	};
	const char *file = NULL;
	cmk_ctx *ctx;
	int o, rc;

	while ((o = cli_next_opt(c, argc, argv, opts)) != -1) {
		if (o == CLI_OPT_STOP)
			return c->rc;
		if (o == OPT_FILE)
			file = optarg;
	}
	if ((rc = cli_operands(c, argc, argv, 0, 0, "")) != CMK_OK)
		return rc;
	if ((rc = cli_open(c, NULL, &ctx)) != CMK_OK)
		return rc;
	uint64_t records = 0;
	rc = cmk_audit_verify(ctx, file, &records);
	if (rc != CMK_OK)
		rc = cli_lib_fail(rc);
	else
		printf("audit log %s: %llu records, chain intact\n",
		       file ? file : cmk_audit_log_path(ctx), (unsigned long long)records);
	cmk_close(ctx);
	return rc;
}

const struct cli_group cli_group_audit = {
	"audit", "show and verify the vault's audit log",
	(const struct cli_cmd[]){
		{ "show", run_show,
		  "[--since T] [--key KEYID] [--identity ID] [--resource NAME] [--json] [--file PATH]",
		  "Print audit records: seq, time, identity, operation, result, "
		  "key, error.\nWith --json, the records as stored (JSON lines).",
		  "  --since T        records from time T on (RFC 3339, a date, "
		  "or -2h)\n"
		  "  --key KEYID      records of one key (every version of a "
		  "versionless id)\n"
		  "  --identity ID    records of one identity\n"
		  "  --resource NAME  records of one resource (its operations and "
		  "the key\n                   operations made for it)\n"
		  "  --file PATH      another log than the vault's\n" },
		{ "verify", run_verify, "[--file PATH]",
		  "Check every record's MAC (with the token's audit key), the "
		  "sequence and the\nchain; name the first record altered, "
		  "removed or reordered, and detect\nrecords cut off the end.",
		  NULL },
		{ NULL, NULL, NULL, NULL, NULL },
	},
};
