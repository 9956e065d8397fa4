/*
 * keyshow.c - `cmk key list` and `cmk key show`.
 */
#include "config.h"

#include <string.h>

#include <json-c/json.h>

#include "cli/cli.h"

#define OPT_DELETED 256

static void usec_format(int64_t usec, char buf[32])
{
	cli_time_format(usec / 1000000, buf);
}

static struct json_object *json_time(int64_t secs)
{
	char buf[32];

	if (secs == 0)
		return NULL;
	cli_time_format(secs, buf);
	return json_object_new_string(buf);
}

static const char *yes_no(int v)
{
	return v ? "yes" : "no";
}

/* ---------------------------------------------------------------- list */

static struct json_object *key_json(const cmk_key_info *k)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(k->name));
	json_object_object_add(o, "kid", json_object_new_string(k->kid));
	json_object_object_add(o, "current",
			       *k->current ? json_object_new_string(k->current) : NULL);
	json_object_object_add(o, "enabled", json_object_new_boolean(k->enabled));
	json_object_object_add(o, "deleted", json_object_new_boolean(k->deleted));
	json_object_object_add(o, "versions", json_object_new_int64((int64_t)k->nversions));
	json_object_object_add(o, "size", json_object_new_int64(k->bits));
	json_object_object_add(o, "expires", json_time(k->expires));
	json_object_object_add(o, "next_rotation", json_time(k->next_rotation));
	json_object_object_add(o, "managed_by",
			       *k->managed_by ? json_object_new_string(k->managed_by) : NULL);
	json_object_object_add(o, "created", json_time(k->created / 1000000));
	if (k->deleted) {
		json_object_object_add(o, "deleted_on", json_time(k->deleted_on));
		json_object_object_add(o, "scheduled_purge_on", json_time(k->purge_on));
	}
	return o;
}

int cli_key_list(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "deleted", no_argument, NULL, OPT_DELETED },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	struct json_object *arr;
	cmk_key_info *keys = NULL;
	char d[32], p[32];
	size_t n = 0, i;
	cmk_ctx *ctx;
	int o, rc, deleted = 0;

	while ((o = cli_next_opt(c, argc, argv, opts)) != -1) {
		if (o == CLI_OPT_STOP)
			return c->rc;
		deleted = 1;
	}
	if ((rc = cli_operands(c, argc, argv, 0, 0, "")) != CMK_OK)
		return rc;
	if ((rc = cli_open(c, NULL, &ctx)) != CMK_OK)
		return rc;
	if ((rc = cmk_key_list(ctx, deleted, &keys, &n)) != CMK_OK) {
		rc = cli_lib_fail(rc);
		cmk_close(ctx);
		return rc;
	}
	if (c->json) {
		arr = json_object_new_array();
		for (i = 0; i < n; i++)
			json_object_array_add(arr, key_json(&keys[i]));
		rc = cli_json_print(arr);
	}
	for (i = 0; !c->json && i < n; i++) {
		printf("%-20s %-32s %-8s %zu", keys[i].name,
		       *keys[i].current ? keys[i].current : "-",
		       keys[i].enabled ? "enabled" : "disabled", keys[i].nversions);
		if (deleted) {
			cli_time_format(keys[i].deleted_on, d);
			cli_time_format(keys[i].purge_on, p);
			printf(" %s %s", d, p);
		}
		if (keys[i].expires) {
			cli_time_format(keys[i].expires, d);
			printf(" expires %s", d);
		}
		if (keys[i].next_rotation) {
			cli_time_format(keys[i].next_rotation, d);
			printf(" next-rotation %s", d);
		}
		if (*keys[i].managed_by)
			printf(" (managed by resource %s)", keys[i].managed_by);
		putchar('\n');
	}
	cmk_free(keys);
	cmk_close(ctx);
	return rc;
}

/* ---------------------------------------------------------------- show */

static void tags_text(const cmk_tag *t, size_t n, char *buf, size_t len)
{
	size_t i, off = 0;

	strcpy(buf, "-");
	for (i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s=%s", i ? ", " : "", t[i].key,
					t[i].value);
}

static void print_version(const cmk_version_info *v)
{
	char ops[128], t1[32], t2[32], tags[CMK_TAGS_MAX * 330];

	cmk_ops_format(v->ops, ops, sizeof(ops));
	tags_text(v->tags, v->ntags, tags, sizeof(tags));
	printf("\nversion %s%s\n", v->version, v->current ? " (current)" : "");
	printf("  kid:            %s\n", v->kid);
	printf("  enabled:        %s\n", yes_no(v->enabled));
	printf("  usable:         %s\n", yes_no(v->usable));
	printf("  size:           %u\n", v->bits);
	printf("  key-ops:        %s\n", *ops ? ops : "-");
	cli_time_format(v->not_before, t1);
	cli_time_format(v->expires, t2);
	printf("  not-before:     %s\n", t1);
	printf("  expires:        %s\n", t2);
	usec_format(v->created, t1);
	usec_format(v->updated, t2);
	printf("  created:        %s\n", t1);
	printf("  updated:        %s\n", t2);
	printf("  token-enforced: %s\n", yes_no(v->token_enforced));
	printf("  imported:       %s\n", yes_no(v->imported));
	printf("  tags:           %s\n", tags);
}

static struct json_object *version_json(const cmk_version_info *v)
{
	struct json_object *o = json_object_new_object(), *t;
	char ops[128];
	size_t i;

	cmk_ops_format(v->ops, ops, sizeof(ops));
	json_object_object_add(o, "version", json_object_new_string(v->version));
	json_object_object_add(o, "kid", json_object_new_string(v->kid));
	json_object_object_add(o, "current", json_object_new_boolean(v->current));
	json_object_object_add(o, "enabled", json_object_new_boolean(v->enabled));
	json_object_object_add(o, "usable", json_object_new_boolean(v->usable));
	json_object_object_add(o, "size", json_object_new_int64(v->bits));
	json_object_object_add(o, "key_ops", json_object_new_string(ops));
	json_object_object_add(o, "not_before", json_time(v->not_before));
	json_object_object_add(o, "expires", json_time(v->expires));
	json_object_object_add(o, "created", json_time(v->created / 1000000));
	json_object_object_add(o, "updated", json_time(v->updated / 1000000));
	json_object_object_add(o, "token_enforced", json_object_new_boolean(v->token_enforced));
	json_object_object_add(o, "imported", json_object_new_boolean(v->imported));
	t = json_object_new_object();
	for (i = 0; i < v->ntags; i++)
		json_object_object_add(t, v->tags[i].key, json_object_new_string(v->tags[i].value));
	json_object_object_add(o, "tags", t);
	return o;
}

/* The public key of `id` (NAME or NAME/VERSION).  A version that cannot be
 * used now (disabled, not valid, no current version) is no error here:
 * `why` gets the reason and *pem stays NULL. */
static int public_pem(cmk_ctx *ctx, const char *id, char **pem, char *kid, char why[256])
{
	cmk_key *key;
	size_t len;
	cmk_rc rc;

	*pem = NULL;
	rc = cmk_key_open(ctx, id, &key);
	if (rc == CMK_E_DISABLED || rc == CMK_E_NOT_VALID ||
	    (rc == CMK_E_NOT_FOUND && strchr(id, '/') == NULL)) {
		snprintf(why, 256, "%s", cmk_last_error());
		return CMK_OK;
	}
	if (rc != CMK_OK)
		return cli_lib_fail(rc);
	snprintf(kid, CMK_KID_MAX, "%s", cmk_key_kid(key));
	rc = cmk_key_public_pem(key, pem, &len);
	cmk_key_close(key);
	if (rc != CMK_OK)
		return cli_lib_fail(rc);
	return CMK_OK;
}

static void print_key(const cmk_key_info *k)
{
	char t[32];

	printf("key:              %s\n", k->kid);
	printf("enabled:          %s\n", yes_no(k->enabled));
	printf("current:          %s\n", *k->current ? k->current : "none");
	printf("versions:         %zu\n", k->nversions);
	usec_format(k->created, t);
	printf("created:          %s\n", t);
	if (k->deleted) {
		cli_time_format(k->deleted_on, t);
		printf("deleted-on:       %s\n", t);
		cli_time_format(k->purge_on, t);
		printf("scheduled-purge-on: %s\n", t);
	}
}

static int show_json(const cmk_key_info *k, const cmk_version_info *v, size_t n, const char *pem,
		     const char *pem_kid)
{
	struct json_object *o = key_json(k), *arr = json_object_new_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_object_array_add(arr, version_json(&v[i]));
	json_object_object_add(o, "version_list", arr);
	json_object_object_add(o, "public_key_kid", pem ? json_object_new_string(pem_kid) : NULL);
	json_object_object_add(o, "public_key_pem", pem ? json_object_new_string(pem) : NULL);
	arr = json_object_new_array();
	char vault[64], name[CMK_NAME_MAX], ver[CMK_VERSION_LEN + 1], users[8];
	if (cmk_kid_parse(k->kid, vault, name, ver) == CMK_OK)
		cli_key_users(vault, name, NULL, users, sizeof users, arr);
	json_object_object_add(o, "used_by", arr);
	return cli_json_print(o);
}

int cli_key_show(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "deleted", no_argument, NULL, OPT_DELETED },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	char vault[64], name[CMK_NAME_MAX], version[CMK_VERSION_LEN + 1];
	char id[CMK_NAME_MAX + CMK_VERSION_LEN + 2], kid[CMK_KID_MAX];
	cmk_version_info *v = NULL;
	cmk_key_info k;
	char *pem = NULL;
	char why[256] = "";
	size_t n = 0, i;
	cmk_ctx *ctx;
	int o, rc, deleted = 0;

	while ((o = cli_next_opt(c, argc, argv, opts)) != -1) {
		if (o == CLI_OPT_STOP)
			return c->rc;
		deleted = 1;
	}
	if ((rc = cli_operands(c, argc, argv, 1, 1, "NAME[/VERSION]")) != CMK_OK)
		return rc;
	if ((rc = cli_split_id(c, argv[optind], vault, name, version)) != CMK_OK)
		return rc;
	if ((rc = cli_open(c, argv[optind], &ctx)) != CMK_OK)
		return rc;
	if ((rc = cmk_key_info_get(ctx, name, deleted, &k)) != CMK_OK ||
	    (rc = cmk_key_versions(ctx, name, deleted, &v, &n)) != CMK_OK) {
		rc = cli_lib_fail(rc);
		goto out;
	}
	if (*version) {
		for (i = 0; i < n && strcmp(v[i].version, version) != 0; i++)
			;
		if (i == n) {
			rc = cli_fail(CMK_E_NOT_FOUND, "key %s has no version %s", k.kid, version);
			goto out;
		}
	}
	snprintf(id, sizeof(id), "%s%s%s", name, *version ? "/" : "", version);
	if (k.deleted)
		snprintf(why, sizeof(why), "the key is deleted");
	else if ((rc = public_pem(ctx, id, &pem, kid, why)) != CMK_OK)
		goto out;
	if (c->json) {
		rc = show_json(&k, v, n, pem, kid);
		goto out;
	}
	print_key(&k);
	{
		char users[2048];
		if (*k.managed_by)
			printf("managed by:       resource %s (cmk key cannot change "
			       "it; cmk resource does)\n",
			       k.managed_by);
		if (cli_key_users(cmk_ctx_vault(ctx), name, NULL, users, sizeof users, NULL))
			printf("used by:          %s\n", users);
	}
	for (i = 0; i < n; i++)
		print_version(&v[i]);
	if (pem != NULL)
		printf("\npublic key of %s:\n%s", kid, pem);
	else
		printf("\npublic key: none (%s)\n", *why ? why : "unavailable");
out:
	cmk_free(pem);
	cmk_free(v);
	cmk_close(ctx);
	return rc;
}
