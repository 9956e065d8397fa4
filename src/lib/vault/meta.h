/* meta.h - vault metadata records kept as token data objects.
 *
 * Every record is one CKO_DATA object (token, private, not modifiable):
 *   CKA_APPLICATION "cmk/vault"        the vault's settings
 *                   "cmk/key/NAME"     a key's versions and state
 *   CKA_VALUE       the record as JSON
 * Data objects cannot be changed (SoftHSM refuses CKA_VALUE updates), so a
 * change writes a record with the next generation and then destroys the old
 * one; readers take the highest generation.  Writing one object is the
 * commit point of every change (see docs/design.md). */
#ifndef CMK_META_H
#define CMK_META_H

#include <stdint.h>
#include "p11/p11.h"

#define META_APP_VAULT	    "cmk/vault"
#define META_APP_KEY_PREFIX "cmk/key/"

typedef struct meta_vault {
	uint64_t gen;
	unsigned retention_days;
	int purge_protection;
	int audit_fail_closed;
	char audit_log[1024]; /* "" : none recorded (docs/audit.md) */
	char admin[CMK_IDENTITY_MAX];
	int64_t created; /* unix seconds */
	CK_OBJECT_HANDLE h;
} meta_vault;

typedef struct meta_version {
	char name[CMK_NAME_MAX];
	char ver[CMK_VERSION_LEN + 1];
	uint64_t gen;
	uint64_t seq;		  /* order of creation within the key */
	int64_t created, updated; /* unix microseconds */
	unsigned bits, ops;
	int enabled, imported;
	int64_t not_before, expires; /* unix seconds, 0 none */
	cmk_tag tags[CMK_TAGS_MAX];
	size_t ntags;
	CK_OBJECT_HANDLE h;
} meta_version;

typedef struct meta_keystate {
	char name[CMK_NAME_MAX];
	uint64_t gen; /* 0: no record yet (enabled, live) */
	int enabled;
	int64_t deleted_on; /* unix seconds, 0: live */
	int64_t purge_on;
	int purging; /* purge started: objects being destroyed */
	CK_OBJECT_HANDLE h;
} meta_keystate;

typedef enum meta_kind { META_NONE, META_VAULT, META_VERSION, META_KEYSTATE } meta_kind;

/* Decode a record; kind says which of the outputs was filled. */
cmk_rc meta_decode(const uint8_t *json, size_t len, meta_kind *kind, meta_vault *v,
		   meta_version *ver, meta_keystate *ks);
/* Encode into malloc'd JSON text. */
char *meta_encode_vault(const meta_vault *v);
char *meta_encode_version(const meta_version *v);
char *meta_encode_keystate(const meta_keystate *ks);

/* Write a record as a new token object: "<HMAC hex>\n<json>", the MAC by
 * the vault's token-held metadata key over app || NUL || json.  Takes
 * ownership of json. */
cmk_rc meta_write(cmk_ctx *ctx, const char *app, const char *label, char *json,
		  CK_OBJECT_HANDLE *h);
/* Authenticate a record read from the token; *json points into d->value.
 * A record edited or made behind cmk's back fails with CMK_E_INTEGRITY. */
cmk_rc meta_open(cmk_ctx *ctx, const p11_data *d, const uint8_t **json, size_t *len);

/* The same, for readers: a record that fails authentication is reported
 * (meta_report_bad) and CMK_E_NOT_FOUND returned: skip it.  Other errors
 * (the token failed) are returned as they are. */
cmk_rc meta_open_or_skip(cmk_ctx *ctx, const p11_data *d, const uint8_t **json, size_t *len);
/* A warning on stderr, once per object and process (none when the
 * environment has CMK_NO_RECORD_WARNINGS): "record 'APP' (label 'L') WHY
 * and is ignored". */
void meta_report_bad(cmk_ctx *ctx, const p11_data *d, const char *why);
/* No warnings while on (`vault check` lists the records itself). */
void meta_set_quiet(int on);
/* "record 'APP' (label 'L')" for messages. */
void meta_describe(cmk_ctx *ctx, const p11_data *d, char *out, size_t cap);
void meta_label(cmk_ctx *ctx, CK_OBJECT_HANDLE h, char *out, size_t cap);

int64_t meta_now_us(void);

/* The vault record (vault.c); CMK_E_NOT_FOUND if `vault init` was never
 * run. */
cmk_rc vault_record(cmk_ctx *ctx, meta_vault *out);

#endif
