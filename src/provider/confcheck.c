/*
 * confcheck.c - options in cmk's section of openssl.cnf that cmk does not
 * know (a typo such as "cmk_identiy" would otherwise be ignored, and the
 * provider run under another identity or vault than meant).
 *
 * OpenSSL 3.0 gives a provider its section's values only by name
 * (core_get_params), never the list of names.  So the section is read here
 * from the configuration file OpenSSL reads by default ($OPENSSL_CONF, else
 * OPENSSLDIR/openssl.cnf), found the way OpenSSL finds it: openssl_conf ->
 * providers -> the provider's name -> its section.  A file that cannot be
 * read, or that names no section for this provider (an application that
 * loaded another file), is not checked: only a section that is there
 * can be wrong.
 */
#include <string.h>

#include <openssl/conf.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>

#include "prov.h"

/* What OpenSSL takes from a provider section itself, then cmk's options
 * (provider.c, cmk-provider(7)). */
static const char *const known[] = {
	"identity",	"module",    "activate",       "soft_load", "cmk_conf",
	"cmk_identity", "cmk_vault", "allow_pkcs1v15", "purpose",
};

/* OpenSSL ignores what comes before the first dot of a name ("1.activate"). */
static const char *skip_dot(const char *name)
{
	const char *dot = strchr(name, '.');
	return dot ? dot + 1 : name;
}

static int is_known(const char *name)
{
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strcmp(skip_dot(name), known[i]) == 0)
			return 1;
	return 0;
}

/* The name of the first unknown option of the provider's section, or NULL. */
static char *first_unknown(const char *file, const char *prov_name, char **section)
{
	char *bad = NULL;
	CONF *c = NCONF_new(NULL);
	long eline = 0;
	if (c == NULL || NCONF_load(c, file, &eline) <= 0)
		goto done;
	const char *init = NCONF_get_string(c, NULL, "openssl_conf");
	const char *provs = init ? NCONF_get_string(c, init, "providers") : NULL;
	const char *sect = provs ? NCONF_get_string(c, provs, prov_name) : NULL;
	STACK_OF(CONF_VALUE) *vals = sect ? NCONF_get_section(c, sect) : NULL;
	for (int i = 0; vals != NULL && i < sk_CONF_VALUE_num(vals); i++) {
		CONF_VALUE *v = sk_CONF_VALUE_value(vals, i);
		if (!is_known(v->name)) {
			bad = OPENSSL_strdup(v->name);
			*section = OPENSSL_strdup(sect);
			break;
		}
	}
done:
	NCONF_free(c);
	return bad;
}

int cmkp_conf_check(cmkp_prov *p, OSSL_FUNC_core_get_params_fn *get_params)
{
	const char *name = NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_CORE_PROV_NAME, &name, 0),
		OSSL_PARAM_END,
	};
	if (get_params == NULL || !get_params(p->handle, params) || name == NULL)
		return 1;
	char *file = CONF_get1_default_config_file();
	if (file == NULL)
		return 1;
	char *section = NULL;
	ERR_set_mark(); /* a missing file or name is no error of the provider's */
	char *bad = first_unknown(file, name, &section);
	ERR_pop_to_mark();
	if (bad != NULL)
		cmkp_config_error(p, file, section ? section : name, bad);
	OPENSSL_free(section);
	OPENSSL_free(file);
	int ok = bad == NULL;
	OPENSSL_free(bad);
	return ok;
}
