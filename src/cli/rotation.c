/*
 * rotation.c - `cmk key rotation-policy set|show` and the rotation part of
 * `cmk vault sweep` (docs/resources.md, "Rotation policies").
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli/cli.h"

enum { OPT_ROTATE = 256, OPT_EXPIRE, OPT_NOTIFY };

/* "90d", "12w", "2y", "36h": a period of at least a day. */
static int period(struct cli *c, const char *opt, const char *s, int64_t *out)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	int64_t unit = 0;

	if (end != s && end[0] && !end[1]) {
		switch (end[0]) {
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		case 'w': unit = 7 * 86400; break;
		case 'y': unit = 365 * 86400; break;
		}
	}
	if (!unit || v <= 0 || v > 1000000)
		return cli_usage_fail(c,
				      "%s '%s' is not a positive period like 90d, "
				      "12w, 2y or 36h",
				      opt, s);
	*out = v * unit;
	if (*out < 86400)
		return cli_usage_fail(c, "%s '%s' is shorter than a day", opt, s);
	return CMK_OK;
}

static void days(int64_t s, char *buf, size_t len)
{
	if (!s)
		snprintf(buf, len, "-");
	else if (s % 86400 == 0)
		snprintf(buf, len, "%lldd", (long long)(s / 86400));
	else
		snprintf(buf, len, "%lldh", (long long)(s / 3600));
}

static int show(struct cli *c, cmk_ctx *ctx, const char *name)
{
	cmk_rotation_policy p;
	char a[32], b[32], d[32], t[32];
	cmk_rc r = cmk_rotation_policy_get(ctx, name, &p);

	if (r != CMK_OK)
		return cli_lib_fail(r);
	days(p.rotate_after, a, sizeof a);
	days(p.expire_after, b, sizeof b);
	days(p.notify_before, d, sizeof d);
	cli_time_format(p.updated, t);
	if (c->json) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "key", json_object_new_string(name));
		json_object_object_add(o, "rotate_after", json_object_new_string(a));
		json_object_object_add(o, "expire_after", json_object_new_string(b));
		json_object_object_add(o, "notify_before", json_object_new_string(d));
		json_object_object_add(o, "updated", json_object_new_string(t));
		return cli_json_print(o);
	}
	printf("key:            %s\nrotate after:   %s\nexpire after:   %s\n"
	       "notify before:  %s\nupdated:        %s\n",
	       name, a, b, d, t);
	return CMK_OK;
}

int cli_key_rotation_policy(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rotate-after", required_argument, NULL, OPT_ROTATE },
		{ "expire-after", required_argument, NULL, OPT_EXPIRE },
		{ "notify-before", required_argument, NULL, OPT_NOTIFY },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	cmk_rotation_policy p = { 0 };
	cmk_ctx *ctx;
	int o, rc, any = 0;

	while ((o = cli_next_opt(c, argc, argv, opts)) != -1) {
		int64_t *dst = o == OPT_ROTATE	 ? &p.rotate_after
			       : o == OPT_EXPIRE ? &p.expire_after
			       : o == OPT_NOTIFY ? &p.notify_before
						 : NULL;
		if (o == CLI_OPT_STOP)
			return c->rc;
		if (dst && (rc = period(c,
					o == OPT_ROTATE	  ? "--rotate-after"
					: o == OPT_EXPIRE ? "--expire-after"
							  : "--notify-before",
					optarg, dst)) != CMK_OK)
			return rc;
		any = 1;
	}
	if ((rc = cli_operands(c, argc, argv, 2, 2, "set|show NAME")) != CMK_OK)
		return rc;
	const char *what = argv[optind], *name = argv[optind + 1];
	int set = strcmp(what, "set") == 0;
	if (!set && strcmp(what, "show") != 0)
		return cli_usage_fail(c, "'%s': give set or show", what);
	if (set && !any)
		return cli_usage_fail(c, "give --rotate-after, --expire-after or "
					 "--notify-before");
	if (!set && any)
		return cli_usage_fail(c, "show takes no period options");
	if ((rc = cli_open(c, name, &ctx)) != CMK_OK)
		return rc;
	char vault[64], kname[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1];
	if ((rc = cli_split_id(c, name, vault, kname, ver)) != CMK_OK) {
		cmk_close(ctx);
		return rc;
	}
	if (set) {
		cmk_rc r = cmk_rotation_policy_set(ctx, kname, &p);
		rc = r != CMK_OK ? cli_lib_fail(r) : show(c, ctx, kname);
	} else {
		rc = show(c, ctx, kname);
	}
	cmk_close(ctx);
	return rc;
}

int cli_rotation_sweep(struct cli *c, cmk_ctx *ctx, json_object **json)
{
	cmk_rotation_event *ev;
	size_t n;
	char t[32];
	cmk_rc r = cmk_rotation_sweep(ctx, &ev, &n);

	if (r != CMK_OK)
		return cli_lib_fail(r);
	json_object *arr = json ? json_object_new_array() : NULL;
	size_t rotated = 0;
	(void)c;
	for (size_t i = 0; i < n; i++) {
		rotated += ev[i].rotated;
		cli_time_format(ev[i].expires, t);
		if (ev[i].expiring)
			fprintf(stderr,
				"cmk: key %s expires on %s (within its rotation "
				"policy's notice)\n",
				ev[i].kid, t);
		if (arr) {
			char nr[32];
			cli_time_format(ev[i].next_rotation, nr);
			json_object *o = json_object_new_object();
			json_object_object_add(o, "key", json_object_new_string(ev[i].name));
			json_object_object_add(o, "kid", json_object_new_string(ev[i].kid));
			json_object_object_add(o, "rotated",
					       json_object_new_boolean(ev[i].rotated));
			json_object_object_add(o, "expires",
					       ev[i].expires ? json_object_new_string(t) : NULL);
			json_object_object_add(o, "expiring",
					       json_object_new_boolean(ev[i].expiring));
			json_object_object_add(o, "next_rotation",
					       ev[i].next_rotation ? json_object_new_string(nr)
								   : NULL);
			json_object_array_add(arr, o);
		} else if (ev[i].rotated) {
			printf("key %s rotated: %s\n", ev[i].name, ev[i].kid);
		}
	}
	cmk_free(ev);
	if (arr) {
		*json = arr;
		return CMK_OK;
	}
	printf("vault %s: %zu key%s rotated by policy\n", cmk_ctx_vault(ctx), rotated,
	       rotated == 1 ? "" : "s");
	return CMK_OK;
}
