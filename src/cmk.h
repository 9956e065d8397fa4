/*
 * cmk.h - customer-managed keys on PKCS#11 tokens.
 *
 * The public API of libcmk.  It holds no PKCS#11 and no OpenSSL types: a
 * context is opened for one vault (one token) under one caller identity;
 * keys are named, versioned RSA key pairs whose private halves never leave
 * the token.
 *
 * Conventions
 *  - Every function returns a cmk_rc; CMK_OK (0) is success.
 *  - On failure, cmk_last_error() gives a sentence naming the object and
 *    the reason ("key cmk://lab/keys/db-kek/... is disabled").  It is kept
 *    per thread and stays valid until the next libcmk call on that thread.
 *  - Output buffers: the caller passes a buffer and its size in *len; on
 *    success *len is the number of bytes written.  When the buffer is too
 *    small the call returns CMK_E_BUFFER and sets *len to the size needed.
 *  - A cmk_ctx and the cmk_key handles opened from it may be used from many
 *    threads at once, and keep working in a child after fork().
 *  - Memory returned through a pointer-to-pointer is freed with cmk_free().
 */
#ifndef CMK_H
#define CMK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Everything declared here is libcmk's exported API: libcmk is built with
 * -fvisibility=hidden, and src/lib/libcmk.map versions what this exports
 * (tests/exports.sh checks the two agree). */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

#define CMK_VERSION_STRING "0.1.0"

/* A result that is a verdict (authentic, unwrapped, verified): ignoring it
 * is a bug the compiler reports. */
#if defined(__GNUC__) || defined(__clang__)
#define CMK_MUST_CHECK __attribute__((warn_unused_result))
#else
#define CMK_MUST_CHECK
#endif

/* Return codes.  The `cmk` command exits with the same number (see cmk(1)). */
typedef enum cmk_rc {
	CMK_OK = 0,
	CMK_E_INTERNAL = 1,	    /* a bug or an unexpected failure */
	CMK_E_USAGE = 2,	    /* bad argument or malformed input */
	CMK_E_CONFIG = 3,	    /* configuration missing or malformed */
	CMK_E_NOT_FOUND = 4,	    /* unknown vault, key or version */
	CMK_E_EXISTS = 5,	    /* name already taken (also by a deleted key) */
	CMK_E_DISABLED = 6,	    /* key or version disabled */
	CMK_E_NOT_VALID = 7,	    /* before not-before or after expires */
	CMK_E_OP_NOT_ALLOWED = 8,   /* the key's key-ops lack the operation; the
	                             key is a resource's own (managed by it);
	                             a resource's key management is fixed */
	CMK_E_ACCESS_DENIED = 9,    /* the identity lacks the permission */
	CMK_E_DELETED = 10,	    /* key is soft-deleted */
	CMK_E_PIN = 11,		    /* wrong PIN, PIN source unreadable, PIN locked */
	CMK_E_TOKEN = 12,	    /* token absent or not usable */
	CMK_E_MODULE = 13,	    /* PKCS#11 module cannot be loaded */
	CMK_E_DECRYPT = 14,	    /* ciphertext does not open with this key */
	CMK_E_TOO_LARGE = 15,	    /* input larger than the operation allows */
	CMK_E_BUFFER = 16,	    /* output buffer too small; *len is set */
	CMK_E_PURGE_PROTECTED = 17, /* purge refused by purge protection */
	CMK_E_AUDIT = 18,	    /* audit record cannot be written (fail-closed) */
	CMK_E_IO = 19,		    /* file read or write failed */
	CMK_E_P11 = 20,		    /* other PKCS#11 failure */
	CMK_E_NOMEM = 21,
	CMK_E_CONFLICT = 22,  /* concurrent change; retry */
	CMK_E_INTEGRITY = 23, /* metadata or log fails authentication */
	CMK_E_FORMAT = 24,    /* malformed wrapped key or envelope */
} cmk_rc;

const char *cmk_rc_name(cmk_rc rc); /* "CMK_E_DISABLED" */
const char *cmk_last_error(void);   /* this thread's last error text */
void cmk_free(void *p);

/* ---------------------------------------------------------------- context */

typedef struct cmk_ctx cmk_ctx;

/*
 * Open the vault `vault` (NULL: the configuration's default vault) described
 * by the configuration file `config` (NULL: $CMK_CONF, then
 * SYSCONFDIR/cmk/cmk.conf).  `identity` is the caller's name for access
 * policies and audit (NULL: the configuration's identity, else $USER).
 * Loads the module, finds the token, logs in with the vault's PIN source.
 */
cmk_rc cmk_open(cmk_ctx **ctx, const char *config, const char *vault, const char *identity);
void cmk_close(cmk_ctx *ctx);

/* Names of the vaults in a configuration file, in file order. */
cmk_rc cmk_config_vaults(const char *config, char ***names, size_t *n);

/* What the configuration says of one vault (no token is touched). */
typedef struct cmk_vault_conf_info {
	char name[64];
	char module[512];	  /* path or p11-kit module name */
	char token[512];	  /* label or pkcs11: URI */
	int is_default;		  /* [cmk] default_vault */
	char pin_source[512];	  /* file:PATH, env:VAR or prompt */
	char server[512];	  /* p11-kit server address, "" for a local module */
	char init_reserved[1024]; /* the module's C_Initialize string, "" for none */
} cmk_vault_conf_info;
cmk_rc cmk_config_vault_get(const char *config, const char *name, cmk_vault_conf_info *out);
void cmk_strv_free(char **v, size_t n);

#define CMK_NAME_MAX	 128 /* key name: 1-127 of [A-Za-z0-9-] */
#define CMK_VERSION_LEN	 32  /* version id: 32 lowercase hex */
#define CMK_KID_MAX	 320 /* "cmk://VAULT/keys/NAME/VERSION" */
#define CMK_TAGS_MAX	 15
#define CMK_IDENTITY_MAX 128

typedef struct cmk_vault_info {
	char name[64];
	char token_label[33];
	char token_model[17];
	char token_manufacturer[33];
	char token_serial[17]; /* CK_TOKEN_INFO serialNumber, blanks trimmed */
	char module[256];
	char admin[CMK_IDENTITY_MAX];
	unsigned retention_days;
	int purge_protection;
	int64_t created;	  /* unix seconds */
	int oaep256_native;	  /* token does OAEP-SHA256 itself */
	int oaep1_native;	  /* token does OAEP-SHA1 itself */
	int raw_rsa;		  /* token offers CKM_RSA_X_509 */
	char unwrap_path[96];	  /* how OAEP-256 unwrap is done, in words */
	char recovery_level[40];  /* "Recoverable+Purgeable", "Recoverable", ... */
	int audit_fail_closed;	  /* operations refused when audit cannot be written */
	char audit_log[512];	  /* path of the vault's audit log */
	unsigned policy_cache_ms; /* the revocation delay bound */
	unsigned metadata_cache_ms;
	char audit_problem[400]; /* why records cannot be written now, "" if they can */
	uint64_t audit_lost;	 /* records the token counts as never written */
	int audit_log_from;	 /* 0 configuration, 1 vault settings, 2 default */
} cmk_vault_info;

/* Write the vault's settings to the token (once; CMK_E_EXISTS after). */
typedef struct cmk_vault_params {
	unsigned retention_days; /* 7-90; 0 means 90 */
	int purge_protection;
	const char *admin; /* NULL: the context's identity */
} cmk_vault_params;

cmk_rc cmk_vault_init(cmk_ctx *ctx, const cmk_vault_params *p);
/* Purge protection can be turned on, never off (CMK_E_USAGE for off). */
cmk_rc cmk_vault_set_purge_protection(cmk_ctx *ctx, int on);
/* Fail closed: refuse every operation whose audit record cannot be written. */
cmk_rc cmk_vault_set_audit_fail_closed(cmk_ctx *ctx, int on);
/* Record the audit log's path in the vault's settings: every configuration
 * without its own audit_log then writes there (docs/audit.md). */
cmk_rc cmk_vault_set_audit_log(cmk_ctx *ctx, const char *path);
/* Purge every deleted key past its scheduled purge date, and finish
 * interrupted purges.  Idempotent; safe from cron. */
cmk_rc cmk_vault_sweep(cmk_ctx *ctx, size_t *purged);
cmk_rc cmk_vault_info_get(cmk_ctx *ctx, cmk_vault_info *out);

/* What cmk_vault_check() finds. */
typedef enum cmk_check_kind {
	CMK_CHECK_UNAUTHENTICATED = 1, /* a record fails its MAC or does not decode:
	                                  written behind cmk's back; ignored by cmk */
	CMK_CHECK_STALE_RECORD = 2,    /* a superseded record left by an interrupted change */
	CMK_CHECK_STRICTER = 3,	       /* the token refuses what the metadata allows:
	                                an interrupted enable or key-ops change */
	CMK_CHECK_LOOSER = 4,	       /* the token allows what the metadata refuses */
	CMK_CHECK_NO_ARCHIVE = 5,      /* a version has no archive copy (made by an
	                                older cmk, or an interrupted change) */
	CMK_CHECK_DUPLICATE = 6,       /* surplus copies of a version's private key */
	CMK_CHECK_INCOMPLETE = 7,      /* a half-written copy left by a kill */
	CMK_CHECK_MISSING = 8,	       /* a version has a record but no complete private
	                                key: cannot be repaired */
	CMK_CHECK_PURGE = 9,	       /* an interrupted purge */
} cmk_check_kind;
typedef struct cmk_check_item {
	cmk_check_kind kind;
	char object[CMK_KID_MAX]; /* the record ("record 'APP' (label 'L')") or key id */
	char detail[256];	  /* what is wrong, in words */
	int repaired;		  /* set by a repair that fixed it */
} cmk_check_item;
/*
 * Check the vault's records and key copies on the token; with `repair`
 * (the vault's administrator only; under the vault lock) also fix what can
 * be fixed: remove unauthenticated and superseded records, settle every
 * version's copies to its metadata, finish interrupted purges.  *items
 * (cmk_free) lists what was found; CMK_OK even when problems are found.
 * Permission: list (check), the administrator (repair).
 */
cmk_rc cmk_vault_check(cmk_ctx *ctx, int repair, cmk_check_item **items, size_t *n);
const char *cmk_check_kind_name(cmk_check_kind kind); /* "unauthenticated-record", ... */
const char *cmk_ctx_vault(const cmk_ctx *ctx);
const char *cmk_ctx_identity(const cmk_ctx *ctx);
/* The OpenSSL property query libcmk fetches with: cmk.conf's propquery
 * plus "provider!=cmk" (so libcmk never recurses into the provider). */
const char *cmk_ctx_propquery(const cmk_ctx *ctx);
/* A counter that grows each time this context changes a key or version
 * (enable/disable, delete, recover, purge, rotate, attribute update), a
 * policy, or the vault settings.  Caches of secrets drop everything when
 * it moves. */
uint64_t cmk_ctx_changes(const cmk_ctx *ctx);

/* ------------------------------------------------------------------- keys */

/* Key operations (the JSON Web Key "key_ops" words). */
enum {
	CMK_OP_WRAP = 1 << 0,	 /* wrapKey */
	CMK_OP_UNWRAP = 1 << 1,	 /* unwrapKey */
	CMK_OP_ENCRYPT = 1 << 2, /* encrypt */
	CMK_OP_DECRYPT = 1 << 3, /* decrypt */
	CMK_OP_SIGN = 1 << 4,	 /* sign */
	CMK_OP_VERIFY = 1 << 5,	 /* verify */
	CMK_OP_ALL = 0x3f,
};
/* "wrapKey,unwrapKey" <-> mask; separators: comma or space. */
cmk_rc cmk_ops_parse(const char *s, unsigned *ops);
void cmk_ops_format(unsigned ops, char *buf, size_t len);

typedef struct cmk_tag {
	char key[64];
	char value[256];
} cmk_tag;

typedef struct cmk_key_params {
	unsigned bits;	    /* 2048, 3072 or 4096; 0 means 2048 */
	unsigned ops;	    /* 0 means all: CMK_OP_ALL */
	int64_t not_before; /* unix seconds, 0: none */
	int64_t expires;    /* unix seconds, 0: none */
	const cmk_tag *tags;
	size_t ntags;
} cmk_key_params;

typedef struct cmk_version_info {
	char name[CMK_NAME_MAX];
	char version[CMK_VERSION_LEN + 1];
	char kid[CMK_KID_MAX];
	unsigned bits;
	unsigned ops;
	int enabled;	    /* the version's own flag */
	int usable;	    /* enabled, key enabled, not deleted */
	int current;	    /* the key's current version */
	int token_enforced; /* private key refuses decrypt on the token */
	int imported;	    /* brought in with key import */
	int64_t created;    /* unix microseconds */
	int64_t updated;    /* unix microseconds */
	int64_t not_before; /* 0: none */
	int64_t expires;    /* 0: none */
	cmk_tag tags[CMK_TAGS_MAX];
	size_t ntags;
} cmk_version_info;

typedef struct cmk_key_info {
	char name[CMK_NAME_MAX];
	char kid[CMK_KID_MAX];		   /* versionless id */
	char current[CMK_VERSION_LEN + 1]; /* "" when no version is current */
	int enabled;			   /* key-level flag */
	int deleted;
	int64_t created;    /* unix microseconds */
	int64_t deleted_on; /* unix seconds, 0 unless deleted */
	int64_t purge_on;   /* unix seconds, 0 unless deleted */
	size_t nversions;
	unsigned bits;	       /* of the newest version */
	char managed_by[128];  /* the resource whose service-managed key this
	                             is ("" none): cmk_key_* refuse to change it
	                             (CMK_E_OP_NOT_ALLOWED); its resource does */
	int64_t expires;       /* the current version's, unix seconds; 0 none */
	int64_t next_rotation; /* by its rotation policy; 0: none */
} cmk_key_info;

/* Names: NAME for a key, NAME/VERSION or a full cmk:// id for a version. */
cmk_rc cmk_key_create(cmk_ctx *ctx, const char *name, const cmk_key_params *p,
		      char version[CMK_VERSION_LEN + 1]);
/* Bring your own key: PEM or DER RSA private key.  Creates the key, or a
 * new version of an existing key.  The key is stored sensitive and
 * non-extractable; the caller's buffer is not modified. */
cmk_rc cmk_key_import(cmk_ctx *ctx, const char *name, const uint8_t *pem, size_t len,
		      const cmk_key_params *p, char version[CMK_VERSION_LEN + 1]);
/* Adopt an RSA key pair made on the vault's token by another tool
 * (pkcs11-tool, a vendor's CLI), found by its CKA_ID (id, idlen) or, with id
 * NULL, its CKA_LABEL: it becomes key `name` (or a new version of it) with
 * the vault's lifecycle; the tool's objects are replaced by the vault's
 * copies.  Refused (CMK_E_USAGE) unless the private key is sensitive and
 * non-extractable and 2048, 3072 or 4096 bits; CMK_E_NOT_FOUND when no
 * pair matches, CMK_E_EXISTS when it is a vault key already.  p->bits is
 * ignored.  Needs the 'create' permission; audited as "adopt". */
cmk_rc cmk_key_adopt(cmk_ctx *ctx, const char *name, const uint8_t *id, size_t idlen,
		     const char *label, const cmk_key_params *p, char version[CMK_VERSION_LEN + 1]);
/* New version; p NULL: inherit bits, ops and tags from the newest version. */
cmk_rc cmk_key_rotate(cmk_ctx *ctx, const char *name, const cmk_key_params *p,
		      char version[CMK_VERSION_LEN + 1]);
/* Enable or disable a key (version NULL) or one version. */
cmk_rc cmk_key_set_enabled(cmk_ctx *ctx, const char *name, const char *version, int enabled);

/* Attribute changes for `key set`; a field applies when its flag is set. */
typedef struct cmk_key_update {
	int set_ops;
	unsigned ops;
	int set_not_before;
	int64_t not_before; /* 0 clears */
	int set_expires;
	int64_t expires; /* 0 clears */
	int set_tags;
	const cmk_tag *tags;
	size_t ntags; /* replaces all */
} cmk_key_update;
cmk_rc cmk_key_update_attrs(cmk_ctx *ctx, const char *name, const char *version,
			    const cmk_key_update *u);

cmk_rc cmk_key_list(cmk_ctx *ctx, int deleted, cmk_key_info **keys, size_t *n);
cmk_rc cmk_key_info_get(cmk_ctx *ctx, const char *name, int deleted, cmk_key_info *out);
/* Versions, oldest first. */
cmk_rc cmk_key_versions(cmk_ctx *ctx, const char *name, int deleted, cmk_version_info **v,
			size_t *n);

/* Soft delete, recover, purge (docs/semantics.md §2). */
cmk_rc cmk_key_delete(cmk_ctx *ctx, const char *name);
cmk_rc cmk_key_recover(cmk_ctx *ctx, const char *name);
cmk_rc cmk_key_purge(cmk_ctx *ctx, const char *name);

/* --------------------------------------------------- key handles and crypto */

/*
 * A resolved key version: the id is looked up once (a versionless id picks
 * the current version now) and the handle can then be used from any thread.
 * Lifecycle state is checked on every operation: disable is enforced by the
 * token at once; the cached metadata is re-read after the context's
 * metadata_cache_ms (cmk.conf(5)).
 */
typedef struct cmk_key cmk_key;

/* keyid: NAME, NAME/VERSION, cmk://VAULT/keys/NAME[/VERSION], or an RFC 7512
 * URI of the key pair on the vault's token: pkcs11:object=NAME[;id=%..]
 * (CKA_LABEL is the key name, CKA_ID the 16 version bytes). */
cmk_rc cmk_key_open(cmk_ctx *ctx, const char *keyid, cmk_key **key);
void cmk_key_close(cmk_key *key);
const char *cmk_key_kid(const cmk_key *key); /* full versioned id */
unsigned cmk_key_bits(const cmk_key *key);
unsigned cmk_key_ops(const cmk_key *key);
/* SubjectPublicKeyInfo, DER or PEM (cmk_free the result). */
cmk_rc cmk_key_public_der(const cmk_key *key, uint8_t **der, size_t *len);
cmk_rc cmk_key_public_pem(const cmk_key *key, char **pem, size_t *len);

/* Key-wrapping algorithms (JWA names). */
typedef enum cmk_alg {
	CMK_ALG_RSA_OAEP_256 = 1, /* "RSA-OAEP-256": SHA-256, MGF1-SHA-256 (default) */
	CMK_ALG_RSA_OAEP = 2,	  /* "RSA-OAEP": SHA-1, MGF1-SHA-1 */
	CMK_ALG_RSA_OAEP_384 = 3,
	CMK_ALG_RSA_OAEP_512 = 4,
	CMK_ALG_RSA1_5 = 5, /* "RSA1_5": only when asked for by name */
} cmk_alg;
const char *cmk_alg_name(cmk_alg alg);
cmk_rc cmk_alg_parse(const char *name, cmk_alg *alg);

/* Full control over OAEP for the OpenSSL provider.  Digest names as OpenSSL
 * spells them ("SHA256"); label may be NULL. */
typedef struct cmk_oaep {
	const char *md;
	const char *mgf1_md; /* NULL: same as md */
	const uint8_t *label;
	size_t label_len;
} cmk_oaep;

/* Operation flags for audit and checks: wrap/unwrap vs encrypt/decrypt. */
typedef enum cmk_purpose { CMK_PURPOSE_KEY = 0, CMK_PURPOSE_DATA = 1 } cmk_purpose;

/* Public-key (software) and private-key (token) operations on a handle.
 * `out` for decrypt must hold at least the modulus size. */
cmk_rc cmk_key_encrypt(cmk_key *key, cmk_purpose purpose, cmk_alg alg, const cmk_oaep *oaep,
		       const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen);
CMK_MUST_CHECK cmk_rc cmk_key_decrypt(cmk_key *key, cmk_purpose purpose, cmk_alg alg,
				      const cmk_oaep *oaep, const uint8_t *in, size_t inlen,
				      uint8_t *out, size_t *outlen);

/* Signatures over a precomputed digest. */
typedef enum cmk_sig_pad { CMK_SIG_PKCS1 = 1, CMK_SIG_PSS = 2 } cmk_sig_pad;
typedef struct cmk_sig {
	cmk_sig_pad pad;
	const char *md;	     /* "SHA256", "SHA384", "SHA512" */
	const char *mgf1_md; /* PSS; NULL: md */
	int salt_len;	     /* PSS; -1: digest length */
} cmk_sig;
cmk_rc cmk_key_sign(cmk_key *key, const cmk_sig *sig, const uint8_t *digest, size_t dlen,
		    uint8_t *out, size_t *outlen);

/* Convenience: wrap with a (possibly versionless) id into the bare RSA
 * ciphertext; `kid` receives the exact versioned id used.  Unwrap takes a
 * versioned id. */
cmk_rc cmk_wrap_raw(cmk_ctx *ctx, const char *keyid, cmk_alg alg, const uint8_t *dek, size_t deklen,
		    uint8_t *out, size_t *outlen, char kid[CMK_KID_MAX]);
CMK_MUST_CHECK cmk_rc cmk_unwrap_raw(cmk_ctx *ctx, const char *keyid, cmk_alg alg,
				     const uint8_t *in, size_t inlen, uint8_t *dek, size_t *deklen);

/*
 * The wrapped-key format (docs/wrapped-key-format.md): a small binary record
 * holding the algorithm, the versioned key id and the RSA ciphertext, so it
 * unwraps with no other input.
 */
typedef struct cmk_wrapped {
	cmk_alg alg;
	char kid[CMK_KID_MAX]; /* NUL-terminated; the struct is safe to copy */
	size_t kid_len;
	const uint8_t *ct; /* points into the parsed buffer */
	size_t ct_len;
} cmk_wrapped;

CMK_MUST_CHECK cmk_rc cmk_wrapped_parse(const uint8_t *buf, size_t len, cmk_wrapped *out);
cmk_rc cmk_wrapped_encode(cmk_alg alg, const char *kid, const uint8_t *ct, size_t ctlen,
			  uint8_t *out, size_t *outlen);
cmk_rc cmk_wrap(cmk_ctx *ctx, const char *keyid, cmk_alg alg, const uint8_t *dek, size_t deklen,
		uint8_t *out, size_t *outlen);
CMK_MUST_CHECK cmk_rc cmk_unwrap(cmk_ctx *ctx, const uint8_t *wrapped, size_t len, uint8_t *dek,
				 size_t *deklen, char kid[CMK_KID_MAX]);

/* Key ids: parse "cmk://VAULT/keys/NAME[/VERSION]" (version may be ""). */
cmk_rc cmk_kid_parse(const char *kid, char vault[64], char name[CMK_NAME_MAX],
		     char version[CMK_VERSION_LEN + 1]);

/* --------------------------------------------------- key reference files */
/* A key reference (docs/pem-reference.md): the PEM block "CMK KEY
 * REFERENCE" whose DER body names a vault key and its vault's token, for
 * programs that read a private key only from a file; cmk.so decodes it
 * into the vault key.  It holds no key material. */
#define CMK_KEYREF_PEM_LABEL "CMK KEY REFERENCE"
#define CMK_KEYREF_DER_MAX   4096
typedef struct cmk_keyref {
	char kid[CMK_KID_MAX]; /* cmk://VAULT/keys/NAME[/VERSION] */
	char token[33];	       /* label of the vault's token */
	char serial[17];       /* serial number of the vault's token */
	int64_t created;       /* the vault's creation time (unix seconds) */
	int version;	       /* of the block read: 1 has no serial (""); encode writes 2 */
} cmk_keyref;
/* The DER body of a reference (version 2); cmk_free() *der. */
cmk_rc cmk_keyref_encode(const cmk_keyref *r, uint8_t **der, size_t *len);
/* Parse and check a DER body: CMK_E_FORMAT with the reason (and r->kid
 * filled when it could be read) for a damaged, altered or unknown block. */
CMK_MUST_CHECK cmk_rc cmk_keyref_decode(const uint8_t *der, size_t len, cmk_keyref *r);

/* ----------------------------------------------------------------- secrets */

/* Wipe memory in a way the compiler keeps. */
void cmk_wipe(void *p, size_t len);
/* Locked, non-dumpable allocation for secrets; free wipes. */
void *cmk_secure_alloc(size_t len);
void cmk_secure_free(void *p, size_t len);

/* --------------------------------------------------------- access policies */

/* Key permissions of an identity (docs/semantics.md §3). */
enum {
	CMK_PERM_GET = 1 << 0,
	CMK_PERM_LIST = 1 << 1,
	CMK_PERM_CREATE = 1 << 2,
	CMK_PERM_UPDATE = 1 << 3,
	CMK_PERM_DELETE = 1 << 4,
	CMK_PERM_RECOVER = 1 << 5,
	CMK_PERM_PURGE = 1 << 6,
	CMK_PERM_ROTATE = 1 << 7,
	CMK_PERM_WRAP = 1 << 8,
	CMK_PERM_UNWRAP = 1 << 9,
	CMK_PERM_ENCRYPT = 1 << 10,
	CMK_PERM_DECRYPT = 1 << 11,
	CMK_PERM_SIGN = 1 << 12,
	CMK_PERM_VERIFY = 1 << 13,
	CMK_PERM_ALL = 0x3fff,
	/* what `vault init` grants the admin, and "all" without purge */
	CMK_PERM_DEFAULT = CMK_PERM_ALL & ~CMK_PERM_PURGE,
};
/* "get,list,wrapKey" (comma or space separated); "all" = every permission
 * but purge, which must always be named. */
cmk_rc cmk_perms_parse(const char *s, unsigned *perms);
void cmk_perms_format(unsigned perms, char *buf, size_t len);
const char *cmk_perm_name(unsigned perm);

typedef struct cmk_policy {
	char identity[CMK_IDENTITY_MAX];
	unsigned perms;
	int64_t updated; /* unix seconds */
} cmk_policy;

/* Only the vault's admin identity may change policies. */
cmk_rc cmk_policy_set(cmk_ctx *ctx, const char *identity, unsigned perms);
cmk_rc cmk_policy_remove(cmk_ctx *ctx, const char *identity);
cmk_rc cmk_policy_list(cmk_ctx *ctx, cmk_policy **out, size_t *n);
cmk_rc cmk_policy_get(cmk_ctx *ctx, const char *identity, cmk_policy *out);

/* --------------------------------------------------------- rotation policy */

/* Periods in seconds; 0: not set.  Each set one is at least a day, and
 * expire_after is not shorter than rotate_after (CMK_E_USAGE). */
typedef struct cmk_rotation_policy {
	int64_t rotate_after;  /* rotate when the newest version is this old */
	int64_t expire_after;  /* versions made under the policy expire then */
	int64_t notify_before; /* report the current version's expiry this
	                             long before it */
	int64_t updated;       /* unix seconds (output) */
} cmk_rotation_policy;
/* Needs 'update'; refused for a resource's own key.  Replaces the old one. */
cmk_rc cmk_rotation_policy_set(cmk_ctx *ctx, const char *name, const cmk_rotation_policy *p);
/* CMK_E_NOT_FOUND when the key has none. */
cmk_rc cmk_rotation_policy_get(cmk_ctx *ctx, const char *name, cmk_rotation_policy *out);

/* One key seen by cmk_rotation_sweep. */
typedef struct cmk_rotation_event {
	char name[CMK_NAME_MAX];
	char kid[CMK_KID_MAX]; /* the current (else newest) version after it */
	int rotated;	       /* a new version was made now */
	int64_t expires;       /* that version's expiry, 0: none */
	int expiring;	       /* within notify_before (audited "near-expiry") */
	int64_t next_rotation; /* unix seconds, 0: no rotate_after */
} cmk_rotation_event;
/* Apply every key's rotation policy (for cron / a systemd timer: `cmk
 * vault sweep`): rotate the keys that are due, give their new versions the
 * policy's expiry, report those expiring within their notice.  *out has
 * one event per key with a policy (cmk_free). */
cmk_rc cmk_rotation_sweep(cmk_ctx *ctx, cmk_rotation_event **out, size_t *n);

/* -------------------------------------------------------------- identities */

/*
 * Identities as vault objects (docs/identities.md): created, enabled,
 * disabled and deleted by the vault's administrator, audited.  A disabled
 * or deleted identity is refused every operation (CMK_E_ACCESS_DENIED).
 * Names: 1-127 of [A-Za-z0-9-].  A vault without identity objects works as
 * before (policies name identities freely); the first cmk_identity_create
 * makes an identity object of every identity its policies name, and from
 * then on cmk_policy_set needs an existing identity (CMK_E_NOT_FOUND).
 * The trust boundary is the token's PIN: whoever holds it can act as any
 * identity or use the token directly.
 */
typedef struct cmk_identity_info {
	char name[CMK_IDENTITY_MAX];
	int enabled;
	int deleted;
	char resource[128]; /* system-assigned identity of this resource */
	int64_t created;    /* unix seconds */
	int64_t updated;
} cmk_identity_info;

cmk_rc cmk_identity_create(cmk_ctx *ctx, const char *name);
cmk_rc cmk_identity_set_enabled(cmk_ctx *ctx, const char *name, int enabled);
/* Also removes the identity's access policy; the administrator cannot be
 * disabled or deleted. */
cmk_rc cmk_identity_delete(cmk_ctx *ctx, const char *name);
/* Every identity object, deleted ones included (cmk_free). */
cmk_rc cmk_identity_list(cmk_ctx *ctx, cmk_identity_info **out, size_t *n);
cmk_rc cmk_identity_get(cmk_ctx *ctx, const char *name, cmk_identity_info *out);

/* ------------------------------------------------------------------ audit */

/* Records are JSON lines (docs/audit.md).  cmk_audit_verify checks the MAC
 * chain with the token's audit key; on failure it returns CMK_E_INTEGRITY
 * and cmk_last_error() names the first bad record (line and sequence). */
CMK_MUST_CHECK cmk_rc cmk_audit_verify(cmk_ctx *ctx, const char *path, uint64_t *records);
/* Path of the vault's audit log. */
const char *cmk_audit_log_path(const cmk_ctx *ctx);

/* Verify a log across its segments (rotation, docs/audit.md).  paths:
 * files and directories (npaths 0: the vault's log and its rotated
 * segments LOG.<seq> next to it), ordered by their first record.  With
 * checkpoint_in, records up to the checkpoint are not read again (whole
 * segments are skipped); with checkpoint_out, a checkpoint of the last
 * record is written after a successful verify (tagged with the token's
 * audit key).  CMK_E_INTEGRITY names the first bad record, a missing
 * segment, records cut off the end, or records the token counts as lost
 * since the checkpoint. */
typedef struct cmk_audit_check {
	const char *checkpoint_in;  /* NULL: from record 1 */
	const char *checkpoint_out; /* NULL: none */
	int accept_lost;	    /* records counted as lost so far are
	                                 acknowledged: not an error (reported in
	                                 `lost`), and the checkpoint covers them */
	uint64_t records;	    /* out: records verified */
	uint64_t segments;	    /* out: files read */
	uint64_t last_seq;	    /* out: the last record's seq */
	uint64_t lost;		    /* out: records the token counts as lost */
} cmk_audit_check;
cmk_rc cmk_audit_verify_files(cmk_ctx *ctx, const char *const *paths, size_t npaths,
			      cmk_audit_check *c);

/* Reopen the audit log at its path before the next record: call it after
 * logrotate moved the file (SIGHUP in a long-running program; libcmk
 * installs no signal handlers).  Safe from any thread, not from a signal
 * handler: set a flag there and call it from your loop.  libcmk also
 * notices a moved log by itself within a second. */
void cmk_audit_reopen(cmk_ctx *ctx);

/* ------------------------------------------------------------ provisioning */

/*
 * Initialise a fresh token in the first uninitialised slot of `module` (a
 * module path or a p11-kit module name) with C_InitToken and C_InitPIN.
 * Used by `cmk lab init`; PINs are passed in memory, never on a command line.
 */
cmk_rc cmk_token_init(const char *module, const char *label, const char *so_pin,
		      const char *user_pin);

/*
 * 1 when the n bytes at p are a whole SoftHSM 2 token file (its
 * token.object: the generation, then well-formed records up to the end,
 * among them the token's label and flags), 0 when the file is cut short or
 * garbled, as a process killed inside SoftHSM's rewrite of it at C_Login
 * leaves it.  `cmk lab` checks its saved copy and the live file with it.
 */
int cmk_softhsm_token_file_ok(const uint8_t *p, size_t n);

/* Read a PIN from a source: "file:PATH", "env:VAR" or "prompt" (no echo, on
 * the controlling terminal).  The result is in cmk_secure_alloc() memory of
 * `*cap` bytes; free with cmk_secure_free(pin, cap). */
cmk_rc cmk_pin_read(const char *source, const char *what, char **pin, size_t *cap);

/*
 * A PIN supplier for the "prompt" PIN source, for the calling thread only
 * (the OpenSSL provider hands libcmk the application's passphrase callback
 * this way).  While set, cmk_open() and cmk_pin_read() call it instead of
 * reading the terminal: it writes the PIN, NUL-terminated, into buf (cap
 * bytes, secure memory) and returns 1, or returns 0 to refuse (CMK_E_PIN).
 * `what` names the vault ("vault lab").  cb NULL restores the terminal.
 */
typedef int cmk_pin_cb(char *buf, size_t cap, const char *what, void *arg);
void cmk_set_thread_pin_cb(cmk_pin_cb *cb, void *arg);

#include <cmk_envelope.h>

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* CMK_H */
