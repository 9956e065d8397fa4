/* config.c - reading cmk.conf with OpenSSL's NCONF. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/conf.h>
#include <openssl/err.h>
#include "conffile.h"
#include "util/err.h"

#define CMK_DEFAULT_CONF SYSCONFDIR "/cmk/cmk.conf"

const char *cmk_config_path(const char *explicit_path)
{
	if (explicit_path && *explicit_path)
		return explicit_path;
	const char *env = getenv("CMK_CONF");
	if (env && *env)
		return env;
	return CMK_DEFAULT_CONF;
}

static cmk_rc conf_open(const char *path, CONF **out)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return cmk_err(CMK_E_CONFIG, "configuration %s: %s", path, strerror(errno));
	fclose(f);
	ERR_set_mark();
	CONF *conf = NCONF_new(NULL);
	long eline = 0;
	if (!conf)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	if (NCONF_load(conf, path, &eline) <= 0) {
		unsigned long e = ERR_peek_last_error();
		const char *why = ERR_reason_error_string(e);
		ERR_pop_to_mark();
		NCONF_free(conf);
		return cmk_err(CMK_E_CONFIG, "configuration %s is malformed at line %ld: %s", path,
			       eline, why ? why : "syntax error");
	}
	ERR_pop_to_mark();
	*out = conf;
	return CMK_OK;
}

static const char *conf_str(CONF *conf, const char *section, const char *name)
{
	ERR_set_mark();
	const char *v = NCONF_get_string(conf, section, name);
	ERR_pop_to_mark(); /* a missing key is not an error here */
	return v;
}

static cmk_rc copy_value(char *dst, size_t cap, const char *v, const char *path,
			 const char *section, const char *name)
{
	if (strlen(v) >= cap)
		return cmk_err(CMK_E_CONFIG, "configuration %s: [%s] %s is too long", path, section,
			       name);
	strcpy(dst, v);
	return CMK_OK;
}

cmk_rc cmk_config_vaults(const char *config, char ***names, size_t *n)
{
	return_if_fail(names && n);
	const char *path = cmk_config_path(config);
	CONF *conf;
	CMK_TRY(conf_open(path, &conf));
	ERR_set_mark();
	STACK_OF(CONF_VALUE) *sec = NCONF_get_section(conf, "vaults");
	ERR_pop_to_mark();
	int count = sec ? sk_CONF_VALUE_num(sec) : 0;
	char **v = calloc((size_t)count + 1, sizeof *v);
	if (!v) {
		NCONF_free(conf);
		return cmk_err(CMK_E_NOMEM, "out of memory");
	}
	for (int i = 0; i < count; i++) {
		v[i] = strdup(sk_CONF_VALUE_value(sec, i)->name);
		if (!v[i]) {
			cmk_strv_free(v, (size_t)i);
			NCONF_free(conf);
			return cmk_err(CMK_E_NOMEM, "out of memory");
		}
	}
	NCONF_free(conf);
	*names = v;
	*n = (size_t)count;
	return CMK_OK;
}

static cmk_rc conf_ms(CONF *conf, const char *path, const char *name, unsigned dflt, unsigned *out)
{
	const char *v = conf_str(conf, "cmk", name);
	*out = dflt;
	if (!v)
		return CMK_OK;
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (errno || end == v || *end || n > 300000)
		return cmk_err(CMK_E_CONFIG,
			       "configuration %s: %s '%s' is not a number of milliseconds up to "
			       "300000 (5 minutes)",
			       path, name, v);
	*out = (unsigned)n;
	return CMK_OK;
}

/* A number with an optional unit: units[i] multiplies by mul[i]. */
static int parse_unit(const char *v, const char *const *units, const unsigned long long *mul,
		      unsigned long long max, unsigned long long *out)
{
	char *end;
	errno = 0;
	if (*v < '0' || *v > '9')
		return 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno)
		return 0;
	unsigned long long m = 1;
	if (*end) {
		size_t i;
		for (i = 0; units[i] && strcmp(end, units[i]) != 0; i++)
			;
		if (!units[i])
			return 0;
		m = mul[i];
	}
	if (n > max / m)
		return 0;
	*out = n * m;
	return 1;
}

/* audit_rotate_size, audit_rotate_interval, audit_syslog (cmk.conf(5)) */
static cmk_rc conf_audit(CONF *conf, const char *path, const char *section, cmk_vault_conf *out)
{
	static const char *const sizes[] = { "K", "M", "G", "k", "m", "g", NULL };
	static const unsigned long long size_mul[] = { 1ULL << 10, 1ULL << 20, 1ULL << 30,
						       1ULL << 10, 1ULL << 20, 1ULL << 30 };
	static const char *const times[] = { "s", "m", "h", "d", NULL };
	static const unsigned long long time_mul[] = { 1, 60, 3600, 86400 };
	const char *v = conf_str(conf, section, "audit_rotate_size");
	unsigned long long n;
	if (v && !(parse_unit(v, sizes, size_mul, 1ULL << 40, &n) && (n == 0 || n >= 4096)))
		return cmk_err(CMK_E_CONFIG,
			       "configuration %s: [%s] audit_rotate_size '%s' is not a size from "
			       "4K to 1024G (like 10M), or 0",
			       path, section, v);
	out->audit_rotate_size = v ? n : 0;
	v = conf_str(conf, section, "audit_rotate_interval");
	if (v && !parse_unit(v, times, time_mul, 10ULL * 366 * 86400, &n))
		return cmk_err(CMK_E_CONFIG,
			       "configuration %s: [%s] audit_rotate_interval '%s' is not a time "
			       "(like 3600, 12h or 1d), or 0",
			       path, section, v);
	out->audit_rotate_secs = v ? (unsigned long)n : 0;
	v = conf_str(conf, section, "audit_syslog");
	if (v && strcmp(v, "yes") && strcmp(v, "no"))
		return cmk_err(CMK_E_CONFIG,
			       "configuration %s: [%s] audit_syslog '%s' is not yes or no", path,
			       section, v);
	out->audit_syslog = v && !strcmp(v, "yes");
	return CMK_OK;
}

/* `server`: the p11-kit server address p11-kit-client.so connects to
 * (unix:path=SOCKET or vsock:cid=N;port=N, as p11-kit server prints it). */
static cmk_rc check_server(const char *path, const char *section, const char *module,
			   const char *server, char *dst, size_t cap)
{
	const char *base = strrchr(module, '/');
	base = base ? base + 1 : module;
	if (strncmp(base, "p11-kit-client", 14) != 0)
		return cmk_err(CMK_E_CONFIG,
			       "configuration %s: [%s] server is only for module "
			       "p11-kit-client.so, not %s",
			       path, section, module);
	if ((strncmp(server, "unix:path=", 10) != 0 || !server[10]) &&
	    strncmp(server, "vsock:", 6) != 0)
		return cmk_err(CMK_E_CONFIG,
			       "configuration %s: [%s] server '%s' is not a p11-kit server address "
			       "(unix:path=SOCKET or vsock:cid=N;port=N)",
			       path, section, server);
	return copy_value(dst, cap, server, path, section, "server");
}

cmk_rc cmk_config_load_vault(const char *path, const char *vault, cmk_vault_conf *out)
{
	CONF *conf;
	cmk_rc rc;
	memset(out, 0, sizeof *out);
	CMK_TRY(conf_open(path, &conf));
	snprintf(out->path, sizeof out->path, "%s", path);

	if (!vault || !*vault)
		vault = getenv("CMK_VAULT");
	if (!vault || !*vault)
		vault = conf_str(conf, "cmk", "default_vault");
	if (!vault || !*vault) {
		rc = cmk_err(
			CMK_E_CONFIG,
			"configuration %s names no vault: set [cmk] default_vault or give --vault",
			path);
		goto out;
	}
	if (strlen(vault) >= sizeof out->name) {
		rc = cmk_err(CMK_E_USAGE, "vault name '%s' is too long", vault);
		goto out;
	}
	strcpy(out->name, vault);

	const char *section = conf_str(conf, "vaults", vault);
	if (!section) {
		rc = cmk_err(CMK_E_NOT_FOUND,
			     "vault %s is not in configuration %s ([vaults] has no '%s')", vault,
			     path, vault);
		goto out;
	}
	const char *module = conf_str(conf, section, "module");
	const char *token = conf_str(conf, section, "token");
	const char *server = conf_str(conf, section, "server");
	if (!module && server)
		module = CMK_P11KIT_CLIENT; /* a remote vault: docs/remote.md */
	if (!module || !token) {
		rc = cmk_err(CMK_E_CONFIG,
			     "configuration %s: vault %s ([%s]) needs module and token", path,
			     vault, section);
		goto out;
	}
	if (server &&
	    (rc = check_server(path, section, module, server, out->server, sizeof out->server)))
		goto out;
	if ((rc = copy_value(out->module, sizeof out->module, module, path, section, "module")) ||
	    (rc = copy_value(out->token, sizeof out->token, token, path, section, "token")))
		goto out;
	const char *pin = conf_str(conf, section, "pin_source");
	if ((rc = copy_value(out->pin_source, sizeof out->pin_source, pin ? pin : "prompt", path,
			     section, "pin_source")))
		goto out;
	const char *ir = conf_str(conf, section, "init_reserved");
	if (ir && (rc = copy_value(out->init_reserved, sizeof out->init_reserved, ir, path, section,
				   "init_reserved")))
		goto out;
	const char *id = conf_str(conf, section, "identity");
	if (!id)
		id = conf_str(conf, "cmk", "identity");
	if (id &&
	    (rc = copy_value(out->identity, sizeof out->identity, id, path, "cmk", "identity")))
		goto out;

	if ((rc = conf_ms(conf, path, "metadata_cache_ms", 1000, &out->metadata_cache_ms)) ||
	    (rc = conf_ms(conf, path, "policy_cache_ms", 30000, &out->policy_cache_ms)))
		goto out;
	/* libcmk's own software crypto never goes back into the cmk provider */
	const char *pq = conf_str(conf, "cmk", "propquery");
	snprintf(out->propquery, sizeof out->propquery, "%s%sprovider!=cmk", pq && *pq ? pq : "",
		 pq && *pq ? "," : "");
	/* files of the vault default to the configuration's directory */
	char dir[1024];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	const char *lock = conf_str(conf, section, "lock_file");
	const char *audit = conf_str(conf, section, "audit_log");
	if (lock)
		rc = copy_value(out->lock_file, sizeof out->lock_file, lock, path, section,
				"lock_file");
	else
		snprintf(out->lock_file, sizeof out->lock_file, "%s/%s.lock", dir, out->name);
	if (rc == CMK_OK && audit) {
		rc = copy_value(out->audit_log, sizeof out->audit_log, audit, path, section,
				"audit_log");
		out->audit_log_set = 1;
	} else if (rc == CMK_OK)
		snprintf(out->audit_log, sizeof out->audit_log, "%s/%s.audit.log", dir, out->name);
	if (rc == CMK_OK)
		rc = conf_audit(conf, path, section, out);
	if (rc)
		goto out;
	rc = CMK_OK;
out:
	NCONF_free(conf);
	return rc;
}

cmk_rc cmk_config_vault_get(const char *config, const char *name, cmk_vault_conf_info *out)
{
	return_if_fail(name && *name && out);
	const char *path = cmk_config_path(config);
	cmk_vault_conf *vc = malloc(sizeof *vc);
	if (!vc)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	cmk_rc rc = cmk_config_load_vault(path, name, vc);
	if (rc == CMK_OK) {
		memset(out, 0, sizeof *out);
		snprintf(out->name, sizeof out->name, "%s", vc->name);
		snprintf(out->module, sizeof out->module, "%s", vc->module);
		snprintf(out->token, sizeof out->token, "%s", vc->token);
		snprintf(out->pin_source, sizeof out->pin_source, "%s", vc->pin_source);
		snprintf(out->server, sizeof out->server, "%s", vc->server);
		snprintf(out->init_reserved, sizeof out->init_reserved, "%s", vc->init_reserved);
		CONF *conf;
		if (conf_open(path, &conf) == CMK_OK) {
			const char *d = conf_str(conf, "cmk", "default_vault");
			out->is_default = d && strcmp(d, name) == 0;
			NCONF_free(conf);
		}
	}
	cmk_wipe(vc, sizeof *vc);
	free(vc);
	return rc;
}
