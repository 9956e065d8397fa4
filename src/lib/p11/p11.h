/*
 * p11.h - the PKCS#11 layer: the only part of cmk that talks PKCS#11.
 *
 * p11_mod   a loaded, initialised module (through p11-kit)
 * p11_tok   one token of a module: slot, login, a pool of sessions
 * p11_sess  a session borrowed from the pool for one operation
 *
 * Ownership: a p11_tok holds a reference on its p11_mod.  Sessions are
 * borrowed with p11_sess_get() and given back with p11_sess_put(), which
 * closes them when the last return value says the session is dead.
 * Object handles stay valid while p11_tok_gen() is unchanged; after a
 * re-initialisation (fork, lost connection) they must be looked up again.
 */
#ifndef CMK_P11_H
#define CMK_P11_H

#include <stdint.h>
#include <pthread.h>
#include <sys/types.h>
#include <p11-kit/pkcs11.h>
#include "cmk.h"

typedef struct p11_mod p11_mod;
typedef struct p11_tok p11_tok;

typedef struct p11_sess {
	CK_SESSION_HANDLE h;
	unsigned gen;
	int borrowed; /* holds the module's gate while lent (session.c) */
	struct p11_sess *next;
} p11_sess;

/* Every PKCS#11 call: p11_C_X(module, args...) (gate.c). */
#include "p11/calls.h"

/* ckr.c */
const char *p11_rv_name(CK_RV rv);
/* Map by meaning: wrong PIN, token gone, key refuses the function, ... */
cmk_rc p11_rv_rc(CK_RV rv);
/* Set the error text "<what>: <call> failed: CKR_X" and return its cmk_rc. */
cmk_rc p11_fail(CK_RV rv, const char *what, const char *call);
/* True when a return value means the session or connection is gone. */
int p11_rv_dead(CK_RV rv);

/* module.c */
cmk_rc p11_mod_load(const char *spec, const char *init_reserved, p11_mod **out);
/* The same for a remote token: `server` is the p11-kit server address the
 * client module (p11-kit-client.so) connects to; NULL or "" for none. */
cmk_rc p11_mod_load_at(const char *spec, const char *init_reserved, const char *server,
		       p11_mod **out);
/* The p11-kit server address of a remote module ("" for a local one). */
const char *p11_mod_server(const p11_mod *m);
void p11_mod_unref(p11_mod *m);
const char *p11_mod_name(const p11_mod *m);
/* softhsm_diag.c: when `module` is SoftHSMv2 with its file store, why its
 * token directory shows no token ("; PATH is empty (...); restore ..."), or
 * "" when nothing is wrong there.  Diagnostics only. */
void p11_softhsm_diag(const char *module, char *out, size_t cap);
/* Finalize and initialise again, unless another user of the module already
 * did since generation `seen` (after a dead connection). */
cmk_rc p11_mod_reinit(p11_mod *m, unsigned seen);
unsigned p11_mod_gen(p11_mod *m);
/* The process is exiting: close paths make no PKCS#11 call. */
int p11_exiting(void);

/* token.c */
cmk_rc p11_tok_open(p11_mod *m, const char *token, const char *what, p11_tok **out);
/* Log in as user.  The PIN is kept in locked memory for re-login after a
 * re-initialisation; a wrong PIN is never retried. */
cmk_rc p11_tok_login(p11_tok *t, const char *pin);
void p11_tok_close(p11_tok *t);
/* The token's module, for p11_C_X() calls (calls.h). */
p11_mod *p11_tok_mod(p11_tok *t);
unsigned p11_tok_gen(p11_tok *t);
const char *p11_tok_what(const p11_tok *t);
/* The same, and for a remote vault its p11-kit server: "vault lab
 * (p11-kit server unix:path=...)", for errors of the token or connection. */
const char *p11_tok_where(const p11_tok *t);
cmk_rc p11_tok_info(p11_tok *t, CK_TOKEN_INFO *info);
/* In a child after fork(): initialise the module again and log in again,
 * once, on first use.  Called by p11_sess_get() and p11_tok_gen(). */
cmk_rc p11_tok_check_fork(p11_tok *t);

/* fork.c: fork() while other threads use PKCS#11.  A pthread_atfork
 * handler waits until no thread is inside a call of any module and holds
 * every module's gate and token lock across fork(); the parent goes on, the
 * child re-initialises each module on first use.  The owner of a token
 * (the vault context) adds the locks it holds across PKCS#11 calls: prepare
 * takes them (before the gates close, so their holders can finish), parent
 * and child release them.  Lock order: modules lock, these locks, gates,
 * token locks. */
typedef struct p11_fork_hooks {
	void (*prepare)(void *arg);
	void (*parent)(void *arg);
	void (*child)(void *arg);
	void *arg;
} p11_fork_hooks;
void p11_tok_fork_hooks(p11_tok *t, const p11_fork_hooks *h);
/* Bumped in each child after fork(): "is this the same process" without
 * getpid().  For the layers above, e.g. to reopen a file whose flock must
 * not be shared with the parent. */
unsigned p11_fork_gen(void);
/* A call failed with a dead-session code under generation `seen_gen`:
 * re-initialise, re-login, bump the generation (once per failure). */
cmk_rc p11_tok_recover(p11_tok *t, unsigned seen_gen);
/* Reopen when another token sharing the module re-initialised it.  Called
 * by p11_tok_gen() and p11_sess_get(). */
cmk_rc p11_tok_check_module(p11_tok *t);
const char *p11_tok_label(const p11_tok *t);

/* session.c */
cmk_rc p11_sess_get(p11_tok *t, p11_sess **s);
/* The same for callers that map a CK_RV: the failure as the call's own
 * return value, or what the reason means (CKR_TOKEN_NOT_PRESENT,
 * CKR_DEVICE_ERROR when the module could not be initialised again,
 * CKR_HOST_MEMORY); the error text is set either way. */
CK_RV p11_sess_get_rv(p11_tok *t, p11_sess **s);
void p11_sess_put(p11_tok *t, p11_sess *s, CK_RV last);

/* object.c: each borrows a session for the call. */
cmk_rc p11_find(p11_tok *t, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE **objs, size_t *count);
cmk_rc p11_get_attrs(p11_tok *t, CK_OBJECT_HANDLE o, CK_ATTRIBUTE *tmpl, CK_ULONG n);
/* Read one variable-length attribute into malloc'd memory (NUL added). */
cmk_rc p11_get_bytes(p11_tok *t, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, uint8_t **val,
		     size_t *len);
cmk_rc p11_create(p11_tok *t, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *o);
cmk_rc p11_destroy(p11_tok *t, CK_OBJECT_HANDLE o);
/* The undo of an object a failed change just made: best effort, and the
 * error text stays the change's own.  An object found before the module
 * was initialised again stays (no record names it, as after a kill). */
void p11_destroy_undo(p11_tok *t, CK_OBJECT_HANDLE o);
/* Token objects created or destroyed by this process so far (SoftHSM 2.6
 * can miss other processes' new objects after a write of its own:
 * docs/design.md, "Several processes"). */
unsigned long p11_writes(void);
void p11_note_write(void);

/* Token data objects (CKO_DATA, token, private) grouped by application. */
typedef struct p11_data {
	CK_OBJECT_HANDLE h;
	char *app;	/* CKA_APPLICATION */
	uint8_t *value; /* CKA_VALUE, NUL-terminated */
	size_t len;
} p11_data;
cmk_rc p11_data_create(p11_tok *t, const char *app, const char *label, const uint8_t *value,
		       size_t len, int modifiable, CK_OBJECT_HANDLE *o);
/* app NULL: every data object; prefix match is done by the caller. */
cmk_rc p11_data_find(p11_tok *t, const char *app, p11_data **out, size_t *n);
void p11_data_free(p11_data *d, size_t n);

/* mech.c */
typedef struct p11_mechs {
	int oaep;    /* CKM_RSA_PKCS_OAEP listed */
	int x509;    /* CKM_RSA_X_509 */
	int pkcs;    /* CKM_RSA_PKCS */
	int pss;     /* CKM_RSA_PKCS_PSS */
	int keygen;  /* CKM_RSA_PKCS_KEY_PAIR_GEN */
	int oaep256; /* OAEP SHA-256/MGF1-SHA-256 works (probed) */
	int oaep1;   /* OAEP SHA-1 works (probed) */
} p11_mechs;
cmk_rc p11_mechs_probe(p11_tok *t, p11_mechs *m);

/* rsa.c
 *
 * A key version's private key lives in copies (docs/design.md): one
 * ARCHIVE copy (CKA_ID = the version id followed by P11_ARCHIVE_SUFFIX,
 * every usage false), never changed and destroyed only by a purge, and at
 * most one WORKING copy (CKA_ID = the version id) with the usages the
 * metadata allows, made from the archive by C_CopyObject and destroyed to
 * take usages away.  The public key has the version id. */
#define P11_ID_LEN	   16
#define P11_ARCHIVE_ID_LEN (P11_ID_LEN + 1)
#define P11_ARCHIVE_SUFFIX 0x41 /* 'A' */
typedef struct p11_rsa_flags {
	int decrypt; /* CKA_DECRYPT and CKA_UNWRAP */
	int sign;    /* CKA_SIGN */
} p11_rsa_flags;

void p11_rsa_archive_id(const uint8_t id[P11_ID_LEN], uint8_t out[P11_ARCHIVE_ID_LEN]);
/* A new key pair, the private half with CKA_ID id and usages f. */
cmk_rc p11_rsa_generate(p11_tok *t, unsigned bits, const uint8_t id[P11_ID_LEN], const char *label,
			p11_rsa_flags f, CK_OBJECT_HANDLE *priv, CK_OBJECT_HANDLE *pub);
/* A new key pair of a key version: the private half is its archive copy. */
cmk_rc p11_rsa_generate_archived(p11_tok *t, unsigned bits, const uint8_t id[P11_ID_LEN],
				 const char *label, CK_OBJECT_HANDLE *priv, CK_OBJECT_HANDLE *pub);
/* Components big-endian; public key object made too; the private half is
 * the version's archive copy. */
typedef struct p11_rsa_parts {
	const uint8_t *n, *e, *d, *p, *q, *dp, *dq, *qinv;
	size_t n_len, e_len, d_len, p_len, q_len, dp_len, dq_len, qinv_len;
} p11_rsa_parts;
cmk_rc p11_rsa_import(p11_tok *t, const p11_rsa_parts *k, const uint8_t id[P11_ID_LEN],
		      const char *label, CK_OBJECT_HANDLE *priv, CK_OBJECT_HANDLE *pub);
/* Find the key pair with CKA_ID id: either handle may be 0 if absent.
 * priv is a working copy that may decrypt if there is one, else any copy. */
cmk_rc p11_rsa_find(p11_tok *t, const uint8_t id[P11_ID_LEN], CK_OBJECT_HANDLE *priv,
		    CK_OBJECT_HANDLE *pub);
cmk_rc p11_rsa_public(p11_tok *t, CK_OBJECT_HANDLE pub, uint8_t **n, size_t *nlen, uint8_t **e,
		      size_t *elen);
/* The key pair with CKA_ID id, for opening it: whether a private copy is
 * there, and the public key's modulus and exponent (*n and *e NULL when
 * there is no public key; free both).  The search and the reads run on one
 * session, in one generation of the module: a re-initialisation between
 * them would leave the found handle stale. */
cmk_rc p11_rsa_find_public(p11_tok *t, const uint8_t id[P11_ID_LEN], int *has_priv, uint8_t **n,
			   size_t *nlen, uint8_t **e, size_t *elen);
/* Every private-key object of a version, as found on the token. */
typedef struct p11_rsa_copy_t {
	CK_OBJECT_HANDLE h;
	int archive;	   /* CKA_ID is the archive id */
	int dec, unw, sig; /* CKA_DECRYPT, CKA_UNWRAP, CKA_SIGN */
	int complete;	   /* every attribute there, modulus = the public key's */
} p11_rsa_copy_t;
cmk_rc p11_rsa_copies(p11_tok *t, const uint8_t id[P11_ID_LEN], p11_rsa_copy_t **out, size_t *n);
/* C_CopyObject of private key `from`: an archive copy (every usage false),
 * or a working copy with usages f. */
cmk_rc p11_rsa_copy(p11_tok *t, CK_OBJECT_HANDLE from, const uint8_t id[P11_ID_LEN], int archive,
		    p11_rsa_flags f, CK_OBJECT_HANDLE *out);
/* A complete working copy that may decrypt+unwrap (sign 0) or sign
 * (sign 1); *out 0 when there is none. */
cmk_rc p11_rsa_find_usable(p11_tok *t, const uint8_t id[P11_ID_LEN], int sign,
			   CK_OBJECT_HANDLE *out);

/* foreign.c: a key pair made by another tool, taken into a vault. */
typedef struct p11_foreign {
	CK_OBJECT_HANDLE priv, pub;
	int sensitive, extractable, always_sensitive, never_extractable;
} p11_foreign;
/* Find it by CKA_ID (id, idlen) or, id NULL, CKA_LABEL; `what` names the
 * choice in messages ("id 0a0b", "label 'web'"). */
cmk_rc p11_rsa_find_foreign(p11_tok *t, const uint8_t *id, size_t idlen, const char *label,
			    const char *what, p11_foreign *out);
/* Copy both halves under a vault id and label: the private half as the
 * version's archive copy (then make its working copy with p11_rsa_copy). */
cmk_rc p11_rsa_adopt_copy(p11_tok *t, const p11_foreign *f, const uint8_t id[P11_ID_LEN],
			  const char *label, CK_OBJECT_HANDLE *priv, CK_OBJECT_HANDLE *pub);

typedef enum p11_hash { P11_SHA1 = 1, P11_SHA256, P11_SHA384, P11_SHA512 } p11_hash;
/* The key of an operation: the handle the caller keeps and, for a
 * version's private key, its CKA_ID.  When the handle is refused (of an
 * earlier generation of the module, or destroyed by a disable) the
 * version's usable copy (p11_rsa_find_usable) is looked up again on the
 * operation's own session, so that no re-initialisation comes between the
 * lookup and the use, and h is updated; CKR_KEY_HANDLE_INVALID when it
 * has none. */
typedef struct p11_key {
	CK_OBJECT_HANDLE h;
	const uint8_t *id; /* P11_ID_LEN bytes; NULL: the handle alone */
	int sign;	   /* the copy that may sign (else decrypt) */
} p11_key;
/* Private-key operations.  CKR returned for the caller's mapping. */
CK_RV p11_rsa_decrypt_oaep(p11_tok *t, p11_key *k, p11_hash h, const uint8_t *label,
			   size_t label_len, const uint8_t *in, size_t inlen, uint8_t *out,
			   size_t *outlen);
CK_RV p11_rsa_decrypt_raw(p11_tok *t, p11_key *k, CK_MECHANISM_TYPE mech, const uint8_t *in,
			  size_t inlen, uint8_t *out, size_t *outlen);
CK_RV p11_rsa_sign_raw(p11_tok *t, p11_key *k, CK_MECHANISM_TYPE mech, const uint8_t *in,
		       size_t inlen, uint8_t *out, size_t *outlen);
CK_RV p11_rsa_sign_pss(p11_tok *t, p11_key *k, p11_hash h, p11_hash mgf, unsigned long salt,
		       const uint8_t *dig, size_t dlen, uint8_t *out, size_t *outlen);
CK_RV p11_rsa_encrypt_oaep(p11_tok *t, p11_key *k, p11_hash h, const uint8_t *in, size_t inlen,
			   uint8_t *out, size_t *outlen);

/* hmac.c: HMAC-SHA-256 with a token key over a || b. */
cmk_rc p11_hmac_key_find(p11_tok *t, const char *label, CK_OBJECT_HANDLE *h);
/* The keys of n labels in one search; h[i] CK_INVALID_HANDLE when absent. */
cmk_rc p11_hmac_keys_find(p11_tok *t, const char *const *labels, size_t n, CK_OBJECT_HANDLE *h);
cmk_rc p11_hmac_key_create(p11_tok *t, const char *label, CK_OBJECT_HANDLE *h);
/* *key: the handle the caller keeps; when it is refused (another
 * generation of the module, a session copy gone with its session) the
 * token key labelled label is found on the same session and used, and
 * *key set to it. */
cmk_rc p11_hmac(p11_tok *t, CK_OBJECT_HANDLE *key, const char *label, const uint8_t *a, size_t alen,
		const uint8_t *b, size_t blen, uint8_t mac[32]);
cmk_rc p11_key_session_copy(p11_tok *t, CK_OBJECT_HANDLE key, CK_OBJECT_HANDLE *copy);

/* provision.c: see cmk_token_init() in cmk.h */

#endif
