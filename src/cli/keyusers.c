/*
 * keyusers.c - which resources a key wraps the root key of (`key show`,
 * and the --force checks of `key disable` and `key delete`).  Resources
 * are looked for where `cmk resource` keeps them by default
 * ($CMK_RESOURCE_DIR, else $XDG_DATA_HOME/cmk/resources).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "cli/cli.h"

static int uses(const char *kid, const char *prefix, size_t plen, const char *exact)
{
	if (!*kid)
		return 0;
	return exact ? strcmp(kid, exact) == 0 : strncmp(kid, prefix, plen) == 0;
}

size_t cli_key_users(const char *vault, const char *name, const char *version, char *out,
		     size_t len, struct json_object *arr)
{
	cmk_resource_info *v;
	size_t n, found = 0, used = 0;
	char prefix[CMK_KID_MAX], exact[CMK_KID_MAX];

	if (len)
		out[0] = '\0';
	snprintf(prefix, sizeof prefix, "cmk://%s/keys/%s/", vault, name);
	snprintf(exact, sizeof exact, "%s%s", prefix, version ? version : "");
	for (int deleted = 0; deleted < 2; deleted++) {
		if (cmk_resource_list_all(NULL, deleted, &v, &n) != CMK_OK)
			continue;
		for (size_t i = 0; i < n; i++) {
			const char *kid = NULL;
			if (uses(v[i].customer_kid, prefix, strlen(prefix),
				 version && *version ? exact : NULL))
				kid = v[i].customer_kid;
			else if (uses(v[i].service_kid, prefix, strlen(prefix),
				      version && *version ? exact : NULL))
				kid = v[i].service_kid;
			if (!kid)
				continue;
			const char *ver = strrchr(kid, '/') + 1;
			found++;
			if (used < len)
				used += (size_t)snprintf(out + used, len - used,
							 "%s%s (version %s%s)", used ? ", " : "",
							 v[i].name, ver,
							 deleted ? ", deleted" : "");
			if (arr) {
				json_object *o = json_object_new_object();
				json_object_object_add(o, "resource",
						       json_object_new_string(v[i].name));
				json_object_object_add(o, "version", json_object_new_string(ver));
				json_object_object_add(
					o, "state",
					json_object_new_string(deleted ? "deleted" : "live"));
				json_object_array_add(arr, o);
			}
		}
		cmk_free(v);
	}
	return found;
}
