/* rsa.c - RSA key pairs on the token: generation, import, lookup, flags,
 * and the private-key operations. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "p11/p11_int.h"
#include "util/err.h"

#define N_ELEMS(a) (sizeof(a) / sizeof(a)[0])

static CK_BBOOL b(int v)
{
	return v ? CK_TRUE : CK_FALSE;
}

void p11_rsa_archive_id(const uint8_t id[P11_ID_LEN], uint8_t out[P11_ARCHIVE_ID_LEN])
{
	memcpy(out, id, P11_ID_LEN);
	out[P11_ID_LEN] = P11_ARCHIVE_SUFFIX;
}

static cmk_rc generate(p11_tok *t, unsigned bits, const uint8_t id[P11_ID_LEN], const char *label,
		       int archive, p11_rsa_flags f, CK_OBJECT_HANDLE *priv, CK_OBJECT_HANDLE *pub)
{
	CK_MECHANISM mech = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE, dec = b(f.decrypt && !archive),
		 sig = b(f.sign && !archive);
	CK_ULONG mbits = bits;
	CK_BYTE exp[] = { 0x01, 0x00, 0x01 };
	uint8_t aid[P11_ARCHIVE_ID_LEN];
	p11_rsa_archive_id(id, aid);
	CK_ATTRIBUTE pubt[] = {
		{ CKA_TOKEN, &yes, sizeof yes },
		{ CKA_PRIVATE, &no, sizeof no },
		{ CKA_ENCRYPT, &yes, sizeof yes },
		{ CKA_WRAP, &yes, sizeof yes },
		{ CKA_VERIFY, &yes, sizeof yes },
		{ CKA_MODULUS_BITS, &mbits, sizeof mbits },
		{ CKA_PUBLIC_EXPONENT, exp, sizeof exp },
		{ CKA_ID, (void *)id, P11_ID_LEN },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	CK_ATTRIBUTE privt[] = {
		{ CKA_TOKEN, &yes, sizeof yes },
		{ CKA_PRIVATE, &yes, sizeof yes },
		{ CKA_SENSITIVE, &yes, sizeof yes },
		{ CKA_EXTRACTABLE, &no, sizeof no },
		{ CKA_MODIFIABLE, &yes, sizeof yes },
		{ CKA_DECRYPT, &dec, sizeof dec },
		{ CKA_UNWRAP, &dec, sizeof dec },
		{ CKA_SIGN, &sig, sizeof sig },
		{ CKA_ID, archive ? aid : (uint8_t *)id, archive ? sizeof aid : P11_ID_LEN },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	p11_sess *s;
	CMK_TRY(p11_sess_get(t, &s));
	p11_note_write();
	CK_RV rv = p11_C_GenerateKeyPair(t->mod, s->h, &mech, pubt, N_ELEMS(pubt), privt,
					 N_ELEMS(privt), pub, priv);
	if (rv == CKR_OK) {
		*pub = p11_h_tag(t, *pub);
		*priv = p11_h_tag(t, *priv);
	}
	p11_sess_put(t, s, rv);
	if (rv != CKR_OK)
		return p11_fail(rv, t->what, "C_GenerateKeyPair");
	return CMK_OK;
}

cmk_rc p11_rsa_generate(p11_tok *t, unsigned bits, const uint8_t id[P11_ID_LEN], const char *label,
			p11_rsa_flags f, CK_OBJECT_HANDLE *priv, CK_OBJECT_HANDLE *pub)
{
	return generate(t, bits, id, label, 0, f, priv, pub);
}

/* The private half is made as the version's archive copy: CKA_ID is the
 * archive id, every usage false.  Working copies are made from it
 * (p11_rsa_copy). */
cmk_rc p11_rsa_generate_archived(p11_tok *t, unsigned bits, const uint8_t id[P11_ID_LEN],
				 const char *label, CK_OBJECT_HANDLE *priv, CK_OBJECT_HANDLE *pub)
{
	p11_rsa_flags none = { 0, 0 };
	return generate(t, bits, id, label, 1, none, priv, pub);
}

cmk_rc p11_rsa_import(p11_tok *t, const p11_rsa_parts *k, const uint8_t id[P11_ID_LEN],
		      const char *label, CK_OBJECT_HANDLE *priv, CK_OBJECT_HANDLE *pub)
{
	CK_OBJECT_CLASS pcls = CKO_PRIVATE_KEY, ucls = CKO_PUBLIC_KEY;
	CK_KEY_TYPE kt = CKK_RSA;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	uint8_t aid[P11_ARCHIVE_ID_LEN];
	p11_rsa_archive_id(id, aid);
	CK_ATTRIBUTE privt[] = {
		{ CKA_CLASS, &pcls, sizeof pcls },
		{ CKA_KEY_TYPE, &kt, sizeof kt },
		{ CKA_TOKEN, &yes, sizeof yes },
		{ CKA_PRIVATE, &yes, sizeof yes },
		{ CKA_SENSITIVE, &yes, sizeof yes },
		{ CKA_EXTRACTABLE, &no, sizeof no },
		{ CKA_MODIFIABLE, &yes, sizeof yes },
		{ CKA_DECRYPT, &no, sizeof no },
		{ CKA_UNWRAP, &no, sizeof no },
		{ CKA_SIGN, &no, sizeof no },
		{ CKA_ID, aid, sizeof aid },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_MODULUS, (void *)k->n, k->n_len },
		{ CKA_PUBLIC_EXPONENT, (void *)k->e, k->e_len },
		{ CKA_PRIVATE_EXPONENT, (void *)k->d, k->d_len },
		{ CKA_PRIME_1, (void *)k->p, k->p_len },
		{ CKA_PRIME_2, (void *)k->q, k->q_len },
		{ CKA_EXPONENT_1, (void *)k->dp, k->dp_len },
		{ CKA_EXPONENT_2, (void *)k->dq, k->dq_len },
		{ CKA_COEFFICIENT, (void *)k->qinv, k->qinv_len },
	};
	CK_ATTRIBUTE pubt[] = {
		{ CKA_CLASS, &ucls, sizeof ucls },
		{ CKA_KEY_TYPE, &kt, sizeof kt },
		{ CKA_TOKEN, &yes, sizeof yes },
		{ CKA_PRIVATE, &no, sizeof no },
		{ CKA_ENCRYPT, &yes, sizeof yes },
		{ CKA_WRAP, &yes, sizeof yes },
		{ CKA_VERIFY, &yes, sizeof yes },
		{ CKA_ID, (void *)id, P11_ID_LEN },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_MODULUS, (void *)k->n, k->n_len },
		{ CKA_PUBLIC_EXPONENT, (void *)k->e, k->e_len },
	};
	/* Public half first: a kill between the two leaves only a public key,
	 * which is never taken for a version. */
	CMK_TRY(p11_create(t, pubt, N_ELEMS(pubt), pub));
	cmk_rc rc = p11_create(t, privt, N_ELEMS(privt), priv);
	if (rc != CMK_OK)
		p11_destroy_undo(t, *pub);
	return rc;
}

static cmk_rc find_all(p11_tok *t, CK_OBJECT_CLASS cls, const uint8_t *id, size_t idlen,
		       const CK_ATTRIBUTE *extra, CK_OBJECT_HANDLE **h, size_t *n)
{
	CK_ATTRIBUTE tmpl[3] = {
		{ CKA_CLASS, &cls, sizeof cls },
		{ CKA_ID, (void *)id, idlen },
	};
	if (extra)
		tmpl[2] = *extra;
	return p11_find(t, tmpl, extra ? 3 : 2, h, n);
}

static cmk_rc find_one(p11_tok *t, CK_OBJECT_CLASS cls, const uint8_t *id, size_t idlen,
		       const CK_ATTRIBUTE *extra, CK_OBJECT_HANDLE *out)
{
	CK_OBJECT_HANDLE *h;
	size_t n;
	CMK_TRY(find_all(t, cls, id, idlen, extra, &h, &n));
	*out = n ? h[0] : CK_INVALID_HANDLE;
	free(h);
	return CMK_OK;
}

/* The key objects with this CKA_ID (public and private keys), in one
 * search: a token's search may cost time in proportion to every object on
 * it (SoftHSM's file store reads them all), so a key's objects are found
 * together and told apart by their attributes.  An object destroyed by
 * another process since the search is left out. */
typedef struct id_obj {
	CK_OBJECT_HANDLE h;
	CK_OBJECT_CLASS cls;
	CK_BBOOL dec, sig; /* private keys */
} id_obj;

/* An object's attributes: CKR_OK, CKR_OBJECT_HANDLE_INVALID when it was
 * destroyed since it was found (then it is left out), or the token's
 * failure -- never taken for "not there", which would call a key missing
 * when the token only failed to answer. */
static CK_RV attrs(p11_tok *t, p11_sess *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
	return p11_C_GetAttributeValue(t->mod, s->h, p11_h_raw(t, h), tmpl, n);
}

/* On a borrowed session: the search and the reads in one generation. */
static cmk_rc find_id_in(p11_tok *t, p11_sess *s, const uint8_t *id, size_t idlen, id_obj **out,
			 size_t *n, CK_RV *last)
{
	CK_ATTRIBUTE tmpl[] = { { CKA_ID, (void *)id, idlen } };
	CK_OBJECT_HANDLE *h;
	size_t count, used = 0;
	CK_RV rv = p11_find_in(t, s, tmpl, 1, &h, &count);
	*last = rv;
	if (rv != CKR_OK)
		return p11_fail(rv, t->what, "C_FindObjects");
	id_obj *v = calloc(count ? count : 1, sizeof *v);
	cmk_rc rc = v ? CMK_OK : cmk_err(CMK_E_NOMEM, "out of memory");
	for (size_t i = 0; rc == CMK_OK && i < count; i++) {
		id_obj o = { .h = h[i] };
		CK_ATTRIBUTE c = { CKA_CLASS, &o.cls, sizeof o.cls };
		CK_ATTRIBUTE use[] = { { CKA_DECRYPT, &o.dec, sizeof o.dec },
				       { CKA_SIGN, &o.sig, sizeof o.sig } };
		rv = attrs(t, s, h[i], &c, 1);
		if (rv == CKR_OK && o.cls == CKO_PRIVATE_KEY)
			rv = attrs(t, s, h[i], use, 2);
		if (rv == CKR_OBJECT_HANDLE_INVALID) {
			rv = CKR_OK; /* destroyed since the search */
			continue;
		}
		*last = rv;
		if (rv != CKR_OK)
			rc = p11_fail(rv, t->what, "C_GetAttributeValue");
		else if (o.cls == CKO_PUBLIC_KEY || o.cls == CKO_PRIVATE_KEY)
			v[used++] = o;
	}
	free(h);
	if (rc != CMK_OK) {
		free(v);
		return rc;
	}
	*out = v;
	*n = used;
	return CMK_OK;
}

/* A search and its reads, once more on the module initialised again when
 * the connection turned out lost (as p11_find()). */
#define ON_SESSION(t, call)                                                  \
	do {                                                                 \
		for (int attempt_ = 0; attempt_ < 2; attempt_++) {           \
			p11_sess *s;                                         \
			CK_RV last = CKR_OK;                                 \
			cmk_rc rc_ = p11_sess_get((t), &s);                  \
			if (rc_ != CMK_OK)                                   \
				return rc_;                                  \
			rc_ = (call);                                        \
			p11_sess_put((t), s, last);                          \
			if (rc_ == CMK_OK || !p11_rv_lost(last) || attempt_) \
				return rc_;                                  \
		}                                                            \
		return CMK_E_INTERNAL;                                       \
	} while (0)

static cmk_rc find_id(p11_tok *t, const uint8_t *id, size_t idlen, id_obj **out, size_t *n)
{
	ON_SESSION(t, find_id_in(t, s, id, idlen, out, n, &last));
}

/* The first object of class cls (and, when use is set, that may decrypt or
 * sign), or CK_INVALID_HANDLE. */
static CK_OBJECT_HANDLE first(const id_obj *v, size_t n, CK_OBJECT_CLASS cls, int dec, int sig)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].cls == cls && (!dec || v[i].dec) && (!sig || v[i].sig))
			return v[i].h;
	return CK_INVALID_HANDLE;
}

/* priv: a working copy that may decrypt if there is one, else any copy
 * (working or archive), for callers that only ask "is the key here". */
cmk_rc p11_rsa_find(p11_tok *t, const uint8_t id[P11_ID_LEN], CK_OBJECT_HANDLE *priv,
		    CK_OBJECT_HANDLE *pub)
{
	id_obj *v;
	size_t n;
	CMK_TRY(find_id(t, id, P11_ID_LEN, &v, &n));
	if (priv) {
		*priv = first(v, n, CKO_PRIVATE_KEY, 1, 0);
		if (*priv == CK_INVALID_HANDLE)
			*priv = first(v, n, CKO_PRIVATE_KEY, 0, 0);
	}
	if (pub)
		*pub = first(v, n, CKO_PUBLIC_KEY, 0, 0);
	free(v);
	if (priv && *priv == CK_INVALID_HANDLE) {
		uint8_t aid[P11_ARCHIVE_ID_LEN];
		p11_rsa_archive_id(id, aid);
		CMK_TRY(find_one(t, CKO_PRIVATE_KEY, aid, sizeof aid, NULL, priv));
	}
	return CMK_OK;
}

cmk_rc p11_rsa_public(p11_tok *t, CK_OBJECT_HANDLE pub, uint8_t **n, size_t *nlen, uint8_t **e,
		      size_t *elen)
{
	CMK_TRY(p11_get_bytes(t, pub, CKA_MODULUS, n, nlen));
	cmk_rc rc = p11_get_bytes(t, pub, CKA_PUBLIC_EXPONENT, e, elen);
	if (rc != CMK_OK) {
		free(*n);
		*n = NULL; /* callers free both on failure too */
	}
	return rc;
}

static cmk_rc find_public_in(p11_tok *t, p11_sess *s, const uint8_t *id, int *has_priv, uint8_t **n,
			     size_t *nlen, uint8_t **e, size_t *elen, CK_RV *last)
{
	id_obj *v;
	size_t count;
	*n = *e = NULL;
	CMK_TRY(find_id_in(t, s, id, P11_ID_LEN, &v, &count, last));
	*has_priv = first(v, count, CKO_PRIVATE_KEY, 0, 0) != CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE pub = first(v, count, CKO_PUBLIC_KEY, 0, 0);
	free(v);
	if (pub == CK_INVALID_HANDLE)
		return CMK_OK;
	CK_RV rv = p11_get_bytes_in(t, s, pub, CKA_MODULUS, n, nlen);
	if (rv == CKR_OK)
		rv = p11_get_bytes_in(t, s, pub, CKA_PUBLIC_EXPONENT, e, elen);
	*last = rv;
	if (rv != CKR_OK) {
		free(*n);
		*n = NULL;
		return p11_fail(rv, t->what, "C_GetAttributeValue (public key)");
	}
	return CMK_OK;
}

static cmk_rc find_public(p11_tok *t, const uint8_t *id, int *has_priv, uint8_t **n, size_t *nlen,
			  uint8_t **e, size_t *elen)
{
	ON_SESSION(t, find_public_in(t, s, id, has_priv, n, nlen, e, elen, &last));
}

cmk_rc p11_rsa_find_public(p11_tok *t, const uint8_t id[P11_ID_LEN], int *has_priv, uint8_t **n,
			   size_t *nlen, uint8_t **e, size_t *elen)
{
	CMK_TRY(find_public(t, id, has_priv, n, nlen, e, elen));
	if (*has_priv)
		return CMK_OK;
	/* a disabled version has its archive copy only (a presence, no
	 * handle kept: any later session may look) */
	uint8_t aid[P11_ARCHIVE_ID_LEN];
	CK_OBJECT_HANDLE a;
	p11_rsa_archive_id(id, aid);
	cmk_rc rc = find_one(t, CKO_PRIVATE_KEY, aid, sizeof aid, NULL, &a);
	if (rc != CMK_OK) {
		free(*n);
		free(*e);
		*n = *e = NULL;
		return rc;
	}
	*has_priv = a != CK_INVALID_HANDLE;
	return CMK_OK;
}

/*
 * Is a private-key object a complete copy of the key?  SoftHSM 2.6 writes
 * a new object's file in place, attributes in ascending CKA_ type order,
 * and C_CopyObject writes it twice (the source's attributes, then again
 * with the template applied).  A kill mid-write leaves a prefix; when the
 * file is cut between two attributes it still loads (one cut inside an
 * attribute does not load at all), and the first use of the object fills
 * every missing attribute with its default (P11Attribute::init) -- the
 * private components become empty, CKA_ALLOWED_MECHANISMS the empty set.
 * So this reads every non-sensitive attribute a private RSA key has,
 * compares the modulus with the public key's, asks for the sensitive
 * components (CKR_ATTRIBUTE_SENSITIVE, not CKR_ATTRIBUTE_TYPE_INVALID),
 * and then copy_works() checks the key still does RSA.  A token that does
 * not know CKA_ALLOWED_MECHANISMS may answer CKR_ATTRIBUTE_TYPE_INVALID.
 */
static int copy_complete(p11_tok *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, const uint8_t *mod,
			 size_t modlen, p11_rsa_copy_t *c)
{
	CK_OBJECT_CLASS cls = 0;
	CK_KEY_TYPE kt = 0;
	CK_BBOOL tok = 0, priv = 0, sens = 0, ext = 1, dec = 0, unw = 0, sig = 0;
	h = p11_h_raw(t, h);
	CK_ATTRIBUTE one[] = {
		{ CKA_CLASS, &cls, sizeof cls },       { CKA_TOKEN, &tok, sizeof tok },
		{ CKA_PRIVATE, &priv, sizeof priv },   { CKA_KEY_TYPE, &kt, sizeof kt },
		{ CKA_SENSITIVE, &sens, sizeof sens }, { CKA_DECRYPT, &dec, sizeof dec },
		{ CKA_UNWRAP, &unw, sizeof unw },      { CKA_SIGN, &sig, sizeof sig },
		{ CKA_EXTRACTABLE, &ext, sizeof ext },
	};
	int ok = 1;
	for (size_t i = 0; i < N_ELEMS(one); i++)
		if (p11_C_GetAttributeValue(t->mod, s, h, &one[i], 1) != CKR_OK)
			ok = 0;
	c->dec = dec == CK_TRUE;
	c->unw = unw == CK_TRUE;
	c->sig = sig == CK_TRUE;
	if (!ok || cls != CKO_PRIVATE_KEY || kt != CKK_RSA || tok != CK_TRUE || priv != CK_TRUE ||
	    sens != CK_TRUE || ext != CK_FALSE)
		return 0;
	/* the modulus, equal to the public key's */
	uint8_t buf[1024];
	CK_ATTRIBUTE m = { CKA_MODULUS, buf, sizeof buf };
	if (!mod || p11_C_GetAttributeValue(t->mod, s, h, &m, 1) != CKR_OK ||
	    m.ulValueLen != modlen || memcmp(buf, mod, modlen) != 0)
		return 0;
	CK_ATTRIBUTE e = { CKA_PUBLIC_EXPONENT, buf, sizeof buf };
	if (p11_C_GetAttributeValue(t->mod, s, h, &e, 1) != CKR_OK || e.ulValueLen == 0)
		return 0;
	static const CK_ATTRIBUTE_TYPE secret[] = {
		CKA_PRIVATE_EXPONENT, CKA_PRIME_1,    CKA_PRIME_2,
		CKA_EXPONENT_1,	      CKA_EXPONENT_2, CKA_COEFFICIENT,
	};
	for (size_t i = 0; i < N_ELEMS(secret); i++) {
		CK_ATTRIBUTE a = { secret[i], NULL, 0 };
		CK_RV rv = p11_C_GetAttributeValue(t->mod, s, h, &a, 1);
		if (rv != CKR_ATTRIBUTE_SENSITIVE &&
		    !(rv == CKR_OK && a.ulValueLen == CK_UNAVAILABLE_INFORMATION))
			return 0;
	}
	CK_ATTRIBUTE last = { CKA_ALLOWED_MECHANISMS, NULL, 0 };
	CK_RV rv = p11_C_GetAttributeValue(t->mod, s, h, &last, 1);
	return rv == CKR_OK || rv == CKR_ATTRIBUTE_TYPE_INVALID;
}

/*
 * Does the copy still do RSA?  SoftHSM fills an attribute missing from a
 * loaded object with its default the first time the object is used (a
 * private component becomes empty), so the attribute checks above cannot
 * see a file cut inside the private components.  This makes a session
 * copy of it (never on the token's storage, gone with this call) that may
 * decrypt, and checks it inverts a raw RSA encryption made with the
 * public key.  1 works, 0 does not, -1 the token cannot tell (no session
 * copy, no raw RSA): the attribute checks decide alone.
 */
static int copy_works(p11_tok *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_OBJECT_HANDLE pub,
		      size_t modlen, CK_RV *dead)
{
	h = p11_h_raw(t, h);
	pub = p11_h_raw(t, pub);
	if (h == CK_INVALID_HANDLE || pub == CK_INVALID_HANDLE || modlen < 64 || modlen > 512)
		return -1;
	CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_TOKEN, &no, sizeof no },
		{ CKA_DECRYPT, &yes, sizeof yes },
		{ CKA_UNWRAP, &no, sizeof no },
		{ CKA_SIGN, &no, sizeof no },
	};
	uint8_t m[512], c[512], out[512];
	m[0] = 0;
	for (size_t i = 1; i < modlen; i++)
		m[i] = (uint8_t)(i * 7 + 1);
	CK_MECHANISM x509 = { CKM_RSA_X_509, NULL, 0 };
	CK_ULONG clen = sizeof c, olen = sizeof out;
	CK_RV rv = p11_C_EncryptInit(t->mod, s, &x509, pub);
	if (rv == CKR_OK)
		rv = p11_C_Encrypt(t->mod, s, m, modlen, c, &clen);
	if (rv != CKR_OK)
		return -1;
	CK_OBJECT_HANDLE tmp;
	if (p11_C_CopyObject(t->mod, s, h, tmpl, N_ELEMS(tmpl), &tmp) != CKR_OK)
		return -1;
	rv = p11_C_DecryptInit(t->mod, s, &x509, tmp);
	if (rv == CKR_OK)
		rv = p11_C_Decrypt(t->mod, s, c, clen, out, &olen);
	p11_C_DestroyObject(t->mod, s, tmp);
	if (p11_rv_dead(rv)) {
		/* the session or the token is gone: that says nothing of the
		 * copy, and the session must not go back to the pool */
		*dead = rv;
		return -1;
	}
	int ok = rv == CKR_OK && olen <= modlen && memcmp(out, m + (modlen - olen), olen) == 0 &&
		 (olen == modlen || m[0] == 0);
	cmk_wipe(out, sizeof out);
	/* a token that will not do raw RSA with a private key (policy, FIPS
	 * mode) cannot tell; a key that fails the operation is broken */
	if (rv == CKR_MECHANISM_INVALID || rv == CKR_MECHANISM_PARAM_INVALID ||
	    rv == CKR_KEY_TYPE_INCONSISTENT || rv == CKR_KEY_FUNCTION_NOT_PERMITTED ||
	    rv == CKR_FUNCTION_NOT_SUPPORTED)
		return -1;
	return ok;
}

/* The public key's modulus (malloc'd), or NULL when there is none. */
static uint8_t *pub_modulus(p11_tok *t, p11_sess *s, CK_OBJECT_HANDLE pub, size_t *len)
{
	uint8_t *n = NULL;
	if (pub != CK_INVALID_HANDLE && p11_get_bytes_in(t, s, pub, CKA_MODULUS, &n, len) != CKR_OK)
		n = NULL;
	return n;
}

/* dead: a session or token lost while checking (the session must not go
 * back to the pool) */
static void check_copies(p11_tok *t, p11_sess *s, CK_OBJECT_HANDLE pub, const uint8_t *mod,
			 size_t modlen, p11_rsa_copy_t *c, size_t n, CK_RV *dead)
{
	for (size_t i = 0; i < n && *dead == CKR_OK; i++) {
		c[i].complete = copy_complete(t, s->h, c[i].h, mod, modlen, &c[i]);
		if (c[i].complete)
			c[i].complete = copy_works(t, s->h, c[i].h, pub, modlen, dead) != 0;
	}
}

/* The search, the reads and the checks on one borrowed session: the
 * handles judged are those of one generation of the module. */
static cmk_rc copies_in(p11_tok *t, p11_sess *s, const uint8_t id[P11_ID_LEN], p11_rsa_copy_t **out,
			size_t *n, CK_RV *last)
{
	uint8_t aid[P11_ARCHIVE_ID_LEN];
	p11_rsa_archive_id(id, aid);
	id_obj *w;
	CK_OBJECT_HANDLE *a;
	size_t nw, na;
	CMK_TRY(find_id_in(t, s, id, P11_ID_LEN, &w, &nw, last));
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_ID, aid, sizeof aid } };
	*last = p11_find_in(t, s, tmpl, 2, &a, &na);
	if (*last != CKR_OK) {
		free(w);
		return p11_fail(*last, t->what, "C_FindObjects");
	}
	cmk_rc rc = CMK_OK;
	p11_rsa_copy_t *c = calloc(nw + na ? nw + na : 1, sizeof *c);
	size_t modlen = 0, used = 0;
	CK_OBJECT_HANDLE pub = first(w, nw, CKO_PUBLIC_KEY, 0, 0);
	uint8_t *mod = c ? pub_modulus(t, s, pub, &modlen) : NULL;
	if (!c)
		rc = cmk_err(CMK_E_NOMEM, "out of memory");
	for (size_t i = 0; c && i < nw; i++)
		if (w[i].cls == CKO_PRIVATE_KEY)
			c[used++].h = w[i].h;
	for (size_t i = 0; c && i < na; i++) {
		c[used].h = a[i];
		c[used++].archive = 1;
	}
	free(w);
	free(a);
	CK_RV dead = CKR_OK;
	if (rc == CMK_OK)
		check_copies(t, s, pub, mod, modlen, c, used, &dead);
	free(mod);
	if (rc == CMK_OK && dead != CKR_OK) {
		*last = dead;
		rc = p11_fail(dead, t->what, "C_Decrypt (checking a copy of a private key)");
	}
	if (rc != CMK_OK) {
		free(c);
		return rc;
	}
	*out = c;
	*n = used;
	return CMK_OK;
}

/* Not run again on a lost connection: a check that failed so says so. */
cmk_rc p11_rsa_copies(p11_tok *t, const uint8_t id[P11_ID_LEN], p11_rsa_copy_t **out, size_t *n)
{
	p11_sess *s;
	CK_RV last = CKR_OK;
	CMK_TRY(p11_sess_get(t, &s));
	cmk_rc rc = copies_in(t, s, id, out, n, &last);
	p11_sess_put(t, s, last);
	return rc;
}

cmk_rc p11_rsa_copy(p11_tok *t, CK_OBJECT_HANDLE from, const uint8_t id[P11_ID_LEN], int archive,
		    p11_rsa_flags f, CK_OBJECT_HANDLE *out)
{
	uint8_t aid[P11_ARCHIVE_ID_LEN];
	p11_rsa_archive_id(id, aid);
	CK_BBOOL dec = b(f.decrypt && !archive), sig = b(f.sign && !archive);
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_DECRYPT, &dec, sizeof dec },
		{ CKA_UNWRAP, &dec, sizeof dec },
		{ CKA_SIGN, &sig, sizeof sig },
		{ CKA_ID, archive ? aid : (uint8_t *)id, archive ? sizeof aid : P11_ID_LEN },
	};
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	p11_sess *s;
	CMK_TRY(p11_sess_get(t, &s));
	p11_note_write();
	CK_RV rv = p11_C_CopyObject(t->mod, s->h, p11_h_raw(t, from), tmpl, N_ELEMS(tmpl), &h);
	if (rv == CKR_OK)
		h = p11_h_tag(t, h);
	p11_sess_put(t, s, rv);
	if (rv != CKR_OK)
		return p11_fail(rv, t->what,
				archive ? "C_CopyObject (archive copy of a private key)"
					: "C_CopyObject (working copy of a private key)");
	if (out)
		*out = h;
	return CMK_OK;
}

/* The usable copy on a borrowed session: CK_INVALID_HANDLE when there is
 * none; a token failure as its CKR, with the error set. */
static CK_RV usable_in(p11_tok *t, p11_sess *s, const uint8_t id[P11_ID_LEN], int sign,
		       CK_OBJECT_HANDLE *out)
{
	id_obj *v;
	size_t n, used = 0;
	CK_RV last = CKR_OK;
	*out = CK_INVALID_HANDLE;
	if (find_id_in(t, s, id, P11_ID_LEN, &v, &n, &last) != CMK_OK)
		return last != CKR_OK ? last : CKR_HOST_MEMORY;
	p11_rsa_copy_t *c = calloc(n ? n : 1, sizeof *c);
	if (!c) {
		free(v);
		cmk_err(CMK_E_NOMEM, "out of memory");
		return CKR_HOST_MEMORY;
	}
	for (size_t i = 0; i < n; i++)
		if (v[i].cls == CKO_PRIVATE_KEY && (sign ? v[i].sig : v[i].dec))
			c[used++].h = v[i].h;
	size_t modlen = 0;
	CK_OBJECT_HANDLE pub = first(v, n, CKO_PUBLIC_KEY, 0, 0);
	uint8_t *mod = used ? pub_modulus(t, s, pub, &modlen) : NULL;
	CK_RV dead = CKR_OK;
	if (used)
		check_copies(t, s, pub, mod, modlen, c, used, &dead);
	if (dead != CKR_OK)
		p11_fail(dead, t->what, "C_Decrypt (checking a copy of a private key)");
	for (size_t i = 0; dead == CKR_OK && i < used && *out == CK_INVALID_HANDLE; i++)
		if (c[i].complete && (sign ? c[i].sig : c[i].dec && c[i].unw))
			*out = c[i].h;
	free(c);
	free(mod);
	free(v);
	return dead;
}

/* usable_in() as a cmk_rc (its error text is set already) */
static cmk_rc usable_rc(p11_tok *t, p11_sess *s, const uint8_t id[P11_ID_LEN], int sign,
			CK_OBJECT_HANDLE *out, CK_RV *last)
{
	*last = usable_in(t, s, id, sign, out);
	if (*last == CKR_OK)
		return CMK_OK;
	return *last == CKR_HOST_MEMORY ? CMK_E_NOMEM : p11_rv_rc(*last);
}

/* Not run again on a lost connection, as p11_rsa_copies(). */
cmk_rc p11_rsa_find_usable(p11_tok *t, const uint8_t id[P11_ID_LEN], int sign,
			   CK_OBJECT_HANDLE *out)
{
	p11_sess *s;
	CK_RV last = CKR_OK;
	*out = CK_INVALID_HANDLE;
	CMK_TRY(p11_sess_get(t, &s));
	cmk_rc rc = usable_rc(t, s, id, sign, out, &last);
	p11_sess_put(t, s, last);
	return rc;
}

static void hash_mech(p11_hash h, CK_MECHANISM_TYPE *hm, CK_RSA_PKCS_MGF_TYPE *mgf)
{
	switch (h) {
	case P11_SHA1:
		*hm = CKM_SHA_1;
		*mgf = CKG_MGF1_SHA1;
		break;
	case P11_SHA256:
		*hm = CKM_SHA256;
		*mgf = CKG_MGF1_SHA256;
		break;
	case P11_SHA384:
		*hm = CKM_SHA384;
		*mgf = CKG_MGF1_SHA384;
		break;
	default:
		*hm = CKM_SHA512;
		*mgf = CKG_MGF1_SHA512;
		break;
	}
}

/* One Init + one-part call on a borrowed session. */
typedef CK_RV (*init_fn)(p11_mod *, CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE);
typedef CK_RV (*op_fn)(p11_mod *, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
		       CK_ULONG_PTR);

static CK_RV one_shot(p11_tok *t, init_fn init, op_fn op, CK_MECHANISM *mech, p11_key *k,
		      const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen)
{
	p11_sess *s;
	/* the real reason (a lost token or session): the caller recovers
	 * and retries on those, and never takes them for bad data */
	CK_RV rv = p11_sess_get_rv(t, &s);
	if (rv != CKR_OK)
		return rv;
	CK_OBJECT_HANDLE key = p11_h_raw(t, k->h);
	int looked = 0;
	for (;;) {
		if (key == CK_INVALID_HANDLE && k->id && !looked) {
			/* refused: looked up on this session (p11.h, p11_key) */
			looked = 1;
			rv = usable_in(t, s, k->id, k->sign, &k->h);
			if (rv != CKR_OK)
				break;
			key = p11_h_raw(t, k->h);
		}
		rv = key == CK_INVALID_HANDLE ? CKR_KEY_HANDLE_INVALID
					      : init(t->mod, s->h, mech, key);
		if ((rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID) && k->id &&
		    !looked) {
			key = CK_INVALID_HANDLE;
			continue;
		}
		break;
	}
	if (rv == CKR_OK) {
		CK_ULONG len = *outlen;
		rv = op(t->mod, s->h, (CK_BYTE_PTR)in, inlen, out, &len);
		*outlen = len;
		if (rv == CKR_BUFFER_TOO_SMALL) {
			/* the operation stays active: finish it to free the session */
			uint8_t tmp[1024];
			CK_ULONG tl = sizeof tmp;
			CK_RV frv = len <= sizeof tmp
					    ? op(t->mod, s->h, (CK_BYTE_PTR)in, inlen, tmp, &tl)
					    : CKR_BUFFER_TOO_SMALL;
			cmk_wipe(tmp, sizeof tmp);
			if (frv != CKR_OK) {
				/* still active: the session cannot be reused */
				p11_C_CloseSession(t->mod, s->h);
				p11_sess_put(t, s, CKR_SESSION_CLOSED);
				return rv;
			}
		}
	}
	p11_sess_put(t, s, rv);
	return rv;
}

CK_RV p11_rsa_decrypt_oaep(p11_tok *t, p11_key *k, p11_hash h, const uint8_t *label,
			   size_t label_len, const uint8_t *in, size_t inlen, uint8_t *out,
			   size_t *outlen)
{
	CK_RSA_PKCS_OAEP_PARAMS p;
	memset(&p, 0, sizeof p);
	hash_mech(h, &p.hashAlg, &p.mgf);
	p.source = CKZ_DATA_SPECIFIED;
	p.pSourceData = (void *)label;
	p.ulSourceDataLen = label_len;
	CK_MECHANISM mech = { CKM_RSA_PKCS_OAEP, &p, sizeof p };
	return one_shot(t, p11_C_DecryptInit, p11_C_Decrypt, &mech, k, in, inlen, out, outlen);
}

CK_RV p11_rsa_decrypt_raw(p11_tok *t, p11_key *k, CK_MECHANISM_TYPE m, const uint8_t *in,
			  size_t inlen, uint8_t *out, size_t *outlen)
{
	CK_MECHANISM mech = { m, NULL, 0 };
	return one_shot(t, p11_C_DecryptInit, p11_C_Decrypt, &mech, k, in, inlen, out, outlen);
}

CK_RV p11_rsa_sign_raw(p11_tok *t, p11_key *k, CK_MECHANISM_TYPE m, const uint8_t *in, size_t inlen,
		       uint8_t *out, size_t *outlen)
{
	CK_MECHANISM mech = { m, NULL, 0 };
	return one_shot(t, p11_C_SignInit, p11_C_Sign, &mech, k, in, inlen, out, outlen);
}

CK_RV p11_rsa_sign_pss(p11_tok *t, p11_key *k, p11_hash h, p11_hash mgf, unsigned long salt,
		       const uint8_t *dig, size_t dlen, uint8_t *out, size_t *outlen)
{
	CK_RSA_PKCS_PSS_PARAMS p;
	CK_RSA_PKCS_MGF_TYPE unused;
	CK_MECHANISM_TYPE unused_h;
	hash_mech(h, &p.hashAlg, &unused);
	hash_mech(mgf, &unused_h, &p.mgf);
	p.sLen = salt;
	CK_MECHANISM mech = { CKM_RSA_PKCS_PSS, &p, sizeof p };
	return one_shot(t, p11_C_SignInit, p11_C_Sign, &mech, k, dig, dlen, out, outlen);
}

CK_RV p11_rsa_encrypt_oaep(p11_tok *t, p11_key *k, p11_hash h, const uint8_t *in, size_t inlen,
			   uint8_t *out, size_t *outlen)
{
	CK_RSA_PKCS_OAEP_PARAMS p;
	memset(&p, 0, sizeof p);
	hash_mech(h, &p.hashAlg, &p.mgf);
	p.source = CKZ_DATA_SPECIFIED;
	CK_MECHANISM mech = { CKM_RSA_PKCS_OAEP, &p, sizeof p };
	return one_shot(t, p11_C_EncryptInit, p11_C_Encrypt, &mech, k, in, inlen, out, outlen);
}
