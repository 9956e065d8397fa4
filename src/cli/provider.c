/*
 * provider.c - `cmk provider check`: does an OpenSSL configuration load the
 * cmk provider, and if not, why.
 *
 * OpenSSL 3.0 drops a provider that fails to load from a configuration
 * without a word: `module =` naming a missing file leaves cmk absent from
 * `openssl list -providers`, with nothing on stderr or in the error queue,
 * even with config_diagnostics = 1.  cmk.so cannot report it, as it never
 * runs.  This command reads the configuration the way OpenSSL does
 * (openssl_conf -> providers -> the provider's section), resolves the
 * module's path as OpenSSL's provider loader does, loads it, and then loads
 * the whole configuration into a library context of its own, so that
 * every reason (the file, the section, the module, cmk's own refusal of an
 * option) is named.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/conf.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include "cli/cli.h"

enum { OPT_OPENSSL_CONF = 1000, OPT_NAME };

struct check {
	const char *file, *from; /* the configuration, and where its name came from */
	const char *name;	 /* the provider's name in the providers section */
	const char *section;	 /* its section */
	char path[4096];	 /* the module, resolved */
	const char *path_from;
	char activate[64]; /* the section's activate value */
};

/* The first reason of the error queue, emptied ("" when none). */
static const char *first_error(char *buf, size_t cap)
{
	unsigned long e;
	const char *data = NULL;
	int flags = 0;

	buf[0] = '\0';
	if ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		const char *r = ERR_reason_error_string(e);
		snprintf(buf, cap, "%s%s%s", r ? r : "unknown reason",
			 (flags & ERR_TXT_STRING) && data && *data ? ": " : "",
			 (flags & ERR_TXT_STRING) && data ? data : "");
	}
	ERR_clear_error();
	return buf;
}

static int is_on(const char *v)
{
	return v && (strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0 ||
		     strcasecmp(v, "true") == 0 || strcasecmp(v, "on") == 0);
}

/* The provider's section in the file, and its module's path. */
static int read_conf(struct check *k)
{
	CONF *conf = NCONF_new(NULL);
	long line = 0;
	char why[256];
	int rc = CMK_OK;

	if (conf == NULL)
		return cli_fail(CMK_E_NOMEM, "out of memory");
	FILE *f = fopen(k->file, "r");
	if (f == NULL) {
		rc = cli_fail(CMK_E_CONFIG, "OpenSSL configuration %s (%s) cannot be read: %s",
			      k->file, k->from, strerror(errno));
		goto done;
	}
	fclose(f);
	if (NCONF_load(conf, k->file, &line) <= 0) {
		first_error(why, sizeof why);
		rc = line > 0
			     ? cli_fail(CMK_E_CONFIG, "OpenSSL configuration %s (%s): line %ld: %s",
					k->file, k->from, line, why)
			     : cli_fail(CMK_E_CONFIG,
					"OpenSSL configuration %s (%s) cannot be read: %s", k->file,
					k->from, why);
		goto done;
	}
	ERR_set_mark();
	const char *init = NCONF_get_string(conf, NULL, "openssl_conf");
	const char *provs = init ? NCONF_get_string(conf, init, "providers") : NULL;
	const char *sect = provs ? NCONF_get_string(conf, provs, k->name) : NULL;
	STACK_OF(CONF_VALUE) *vals = sect ? NCONF_get_section(conf, sect) : NULL;
	ERR_pop_to_mark();
	if (init == NULL) {
		rc = cli_fail(CMK_E_CONFIG,
			      "OpenSSL configuration %s (%s) loads no provider: it has no "
			      "'openssl_conf' line (cmk-provider(7) shows one)",
			      k->file, k->from);
		goto done;
	}
	if (provs == NULL) {
		rc = cli_fail(CMK_E_CONFIG,
			      "OpenSSL configuration %s (%s) loads no provider: its section [%s] "
			      "has no 'providers' line",
			      k->file, k->from, init);
		goto done;
	}
	if (sect == NULL || vals == NULL) {
		rc = cli_fail(CMK_E_CONFIG,
			      "OpenSSL configuration %s (%s) does not load a provider named %s: "
			      "%s",
			      k->file, k->from, k->name,
			      sect == NULL ? "its providers section has no line for it"
					   : "the section its providers line names does not exist");
		goto done;
	}
	const char *module = NULL, *activate = NULL;
	for (int i = 0; i < sk_CONF_VALUE_num(vals); i++) {
		CONF_VALUE *v = sk_CONF_VALUE_value(vals, i);
		const char *n = strchr(v->name, '.') ? strchr(v->name, '.') + 1 : v->name;
		if (strcmp(n, "module") == 0)
			module = v->value;
		else if (strcmp(n, "activate") == 0)
			activate = v->value;
	}
	k->section = OPENSSL_strdup(sect);
	/* what a value means is the library's to say (OpenSSL 3.0 activates
	 * on the line whatever its value, later versions read a boolean):
	 * check_load() sees what this one did */
	if (activate == NULL) {
		rc = cli_fail(CMK_E_CONFIG,
			      "provider %s in %s is not activated: its section [%s] has no "
			      "'activate = 1' (applications that only read the configuration "
			      "will not load it)",
			      k->name, k->file, sect);
		goto done;
	}
	snprintf(k->activate, sizeof k->activate, "%s", activate);
	/* OpenSSL's provider loader: "module", else NAME.so; a relative one
	 * under $OPENSSL_MODULES, else OpenSSL's modules directory. */
	const char *dir = getenv("OPENSSL_MODULES");
	const char *dir_from = "OPENSSL_MODULES";
	if (dir == NULL || *dir == '\0') {
		dir = OPENSSL_info(OPENSSL_INFO_MODULES_DIR);
		dir_from = "OpenSSL's modules directory";
	}
	if (module != NULL && module[0] == '/') {
		snprintf(k->path, sizeof k->path, "%s", module);
		k->path_from = "module =";
	} else {
		snprintf(k->path, sizeof k->path, "%s/%s%s", dir ? dir : ".",
			 module ? module : k->name, module ? "" : ".so");
		k->path_from = dir_from;
	}
done:
	NCONF_free(conf);
	return rc;
}

/* The module loads and is a provider. */
static int check_module(const struct check *k)
{
	struct stat st;
	const char *hint = strcmp(k->path, CMK_OSSL_MODULE) == 0
				   ? ""
				   : " (this cmk installs its provider as " CMK_OSSL_MODULE
				     ": give that path with 'module =')";

	if (stat(k->path, &st) != 0)
		return cli_fail(CMK_E_CONFIG,
				"module %s of provider %s (section [%s] of %s, path from %s) "
				"does not exist%s",
				k->path, k->name, k->section, k->file, k->path_from, hint);
	void *h = dlopen(k->path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		return cli_fail(
			CMK_E_CONFIG,
			"module %s of provider %s (section [%s] of %s) cannot be loaded: %s",
			k->path, k->name, k->section, k->file, e ? e : "unknown reason");
	}
	int is_provider = dlsym(h, "OSSL_provider_init") != NULL;
	dlclose(h);
	if (!is_provider)
		return cli_fail(CMK_E_CONFIG,
				"module %s of provider %s (section [%s] of %s) is not an OpenSSL "
				"provider (no OSSL_provider_init)%s",
				k->path, k->name, k->section, k->file, hint);
	return CMK_OK;
}

static int print_param(OSSL_PROVIDER *prov, const char *key, char *out, size_t cap)
{
	char *v = NULL;
	OSSL_PARAM p[] = { OSSL_PARAM_utf8_ptr(key, &v, 0), OSSL_PARAM_END };

	out[0] = '\0';
	if (OSSL_PROVIDER_get_params(prov, p) && v != NULL)
		snprintf(out, cap, "%s", v);
	return out[0] != '\0';
}

/* The whole configuration, in a library context of its own, as an
 * application loads it. */
static int check_load(const struct check *k)
{
	OSSL_LIB_CTX *lib = OSSL_LIB_CTX_new();
	OSSL_PROVIDER *prov = NULL;
	char why[512], name[128], version[64], status[8];
	int rc;

	if (lib == NULL)
		return cli_fail(CMK_E_NOMEM, "out of memory");
	ERR_clear_error();
	/* cmk.so checks its section in the file applications read: this one */
	if (setenv("OPENSSL_CONF", k->file, 1) != 0) {
		rc = cli_fail(CMK_E_NOMEM, "out of memory");
		goto done;
	}
	if (!OSSL_LIB_CTX_load_config(lib, k->file)) {
		rc = cli_fail(CMK_E_CONFIG, "OpenSSL cannot load %s: %s", k->file,
			      first_error(why, sizeof why));
		goto done;
	}
	/* a provider the configuration activated is loaded already; this
	 * takes a reference to it, or fails as it did */
	prov = OSSL_PROVIDER_available(lib, k->name) ? OSSL_PROVIDER_load(lib, k->name) : NULL;
	if (prov == NULL && !is_on(k->activate)) {
		rc = cli_fail(CMK_E_CONFIG,
			      "provider %s in %s is not activated: its section [%s] has "
			      "'activate = %s', which this OpenSSL takes as off",
			      k->name, k->file, k->section, k->activate);
		goto done;
	}
	if (prov == NULL) {
		first_error(why, sizeof why);
		rc = cli_fail(CMK_E_CONFIG,
			      "provider %s (module %s, section [%s] of %s) did not start%s%s%s",
			      k->name, k->path, k->section, k->file, *why ? ": " : "", why,
			      *why ? "" : " (its reason, if any, is on stderr above)");
		goto done;
	}
	print_param(prov, OSSL_PROV_PARAM_NAME, name, sizeof name);
	print_param(prov, OSSL_PROV_PARAM_VERSION, version, sizeof version);
	int active = 1; /* a provider without a status is as good as active */
	OSSL_PARAM st[] = { OSSL_PARAM_int(OSSL_PROV_PARAM_STATUS, &active), OSSL_PARAM_END };
	if (!OSSL_PROVIDER_get_params(prov, st))
		active = 1;
	snprintf(status, sizeof status, "%s", active ? "active" : "inactive");
	printf("configuration: %s (%s)\n"
	       "provider:      %s, section [%s]\n"
	       "module:        %s (%s)\n"
	       "loaded:        %s %s, %s\n",
	       k->file, k->from, k->name, k->section, k->path, k->path_from,
	       *name ? name : "(no name)", version, status);
	rc = strcmp(status, "active") == 0
		     ? CMK_OK
		     : cli_fail(CMK_E_CONFIG, "provider %s loaded from %s is not active", k->name,
				k->path);
done:
	OSSL_PROVIDER_unload(prov);
	OSSL_LIB_CTX_free(lib);
	return rc;
}

static int run_check(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "openssl-conf", required_argument, NULL, OPT_OPENSSL_CONF },
		{ "name", required_argument, NULL, OPT_NAME },
		CLI_OPT_HELP,
		CLI_OPT_END,
	};
	struct check k = { .name = "cmk" };
	char *deflt = NULL;
	int o, rc;

	while ((o = cli_next_opt(c, argc, argv, opts)) != -1) {
		if (o == CLI_OPT_STOP)
			return c->rc;
		if (o == OPT_OPENSSL_CONF)
			k.file = optarg, k.from = "--openssl-conf";
		else
			k.name = optarg;
	}
	if ((rc = cli_operands(c, argc, argv, 0, 0, "")) != CMK_OK)
		return rc;
	if (k.file == NULL && (k.file = getenv("OPENSSL_CONF")) != NULL && *k.file)
		k.from = "OPENSSL_CONF";
	if (k.from == NULL) {
		k.file = deflt = CONF_get1_default_config_file();
		k.from = "OpenSSL's default";
		if (k.file == NULL)
			return cli_fail(CMK_E_NOMEM, "out of memory");
	}
	if ((rc = read_conf(&k)) == CMK_OK && (rc = check_module(&k)) == CMK_OK)
		rc = check_load(&k);
	OPENSSL_free((char *)k.section);
	OPENSSL_free(deflt);
	return rc;
}

const struct cli_group cli_group_provider = {
	"provider",
	"check that an OpenSSL configuration loads the cmk provider",
	(const struct cli_cmd[]){
		{ "check", run_check, "[--openssl-conf FILE] [--name NAME]",
		  "Load the OpenSSL configuration as an application does and say\n"
		  "whether the cmk provider starts, and if not why: the file, its\n"
		  "openssl_conf and providers lines, the provider's section and\n"
		  "'activate', the module's path (as OpenSSL resolves it) and whether\n"
		  "it loads, and cmk.so's own refusal of its options.  OpenSSL 3.0\n"
		  "itself says nothing when a provider's module is missing.\n"
		  "Exit 0 when it starts, 3 with the reason when it does not.",
		  "  --openssl-conf FILE  the configuration (else $OPENSSL_CONF, else\n"
		  "                       OpenSSL's default openssl.cnf)\n"
		  "  --name NAME          the provider's name in the providers section\n"
		  "                       (default cmk)\n" },
		{ NULL, NULL, NULL, NULL, NULL },
	},
};
