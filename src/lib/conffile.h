/* conffile.h - cmk.conf (OpenSSL NCONF syntax), see cmk.conf(5). */
#ifndef CMK_CONFFILE_H
#define CMK_CONFFILE_H

#include "cmk.h"

typedef struct cmk_vault_conf {
	char name[64];
	char module[512];     /* path or p11-kit module name */
	char token[512];      /* label or pkcs11: URI */
	char pin_source[512]; /* file:PATH | env:VAR | prompt */
	char init_reserved[1024];
	char server[512]; /* p11-kit server address, "" for a local module */
	char identity[CMK_IDENTITY_MAX];
	unsigned metadata_cache_ms;
	unsigned policy_cache_ms;
	char propquery[256];		      /* OpenSSL property query, with provider!=cmk */
	char lock_file[1024];		      /* default: <config dir>/<vault>.lock */
	char audit_log[1024];		      /* default: the vault's (docs/audit.md), else
	                            <config dir>/<vault>.audit.log */
	int audit_log_set;		      /* audit_log was given in the configuration */
	unsigned long long audit_rotate_size; /* bytes, 0: never */
	unsigned long audit_rotate_secs;      /* seconds, 0: never */
	int audit_syslog;		      /* forward every record to syslog */
	char path[1024];		      /* the file it came from */
} cmk_vault_conf;

/* Path of the configuration: explicit, $CMK_CONF, or the system one. */
const char *cmk_config_path(const char *explicit_path);
/* Read vault `vault` (NULL: $CMK_VAULT, then [cmk] default_vault). */
cmk_rc cmk_config_load_vault(const char *path, const char *vault, cmk_vault_conf *out);

#endif
