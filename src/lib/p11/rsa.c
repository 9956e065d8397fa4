/* rsa.c - RSA key pairs on the token: generation, import, lookup, flags,
 * and the private-key operations. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "p11/p11_int.h"
#include "util/err.h"

#define N_ELEMS(a) (sizeof (a) / sizeof (a)[0])

static CK_BBOOL b(int v) { return v ? CK_TRUE : CK_FALSE; }

void p11_rsa_archive_id(const uint8_t id[P11_ID_LEN], uint8_t out[P11_ARCHIVE_ID_LEN])
{
	memcpy(out, id, P11_ID_LEN);
	out[P11_ID_LEN] = P11_ARCHIVE_SUFFIX;
}

static cmk_rc generate(p11_tok *t, unsigned bits, const uint8_t id[P11_ID_LEN],
                       const char *label, int archive, p11_rsa_flags f,
                       CK_OBJECT_HANDLE *priv, CK_OBJECT_HANDLE *pub)
{
	CK_MECHANISM mech = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE, dec = b(f.decrypt && !archive), sig = b(f.sign && !archive);
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
	CK_RV rv = t->fn->C_GenerateKeyPair(s->h, &mech, pubt, N_ELEMS(pubt),
	                                    privt, N_ELEMS(privt), pub, priv);
	p11_sess_put(t, s, rv);
	if (rv != CKR_OK)
		return p11_fail(rv, t->what, "C_GenerateKeyPair");
	return CMK_OK;
}

cmk_rc p11_rsa_generate(p11_tok *t, unsigned bits, const uint8_t id[P11_ID_LEN],
                        const char *label, p11_rsa_flags f,
                        CK_OBJECT_HANDLE *priv, CK_OBJECT_HANDLE *pub)
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
		p11_destroy(t, *pub);
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

/* priv: a working copy that may decrypt if there is one, else any copy
 * (working or archive), for callers that only ask "is the key here". */
cmk_rc p11_rsa_find(p11_tok *t, const uint8_t id[P11_ID_LEN],
                    CK_OBJECT_HANDLE *priv, CK_OBJECT_HANDLE *pub)
{
	if (priv) {
		CK_BBOOL yes = CK_TRUE;
		CK_ATTRIBUTE dec = { CKA_DECRYPT, &yes, sizeof yes };
		uint8_t aid[P11_ARCHIVE_ID_LEN];
		p11_rsa_archive_id(id, aid);
		CMK_TRY(find_one(t, CKO_PRIVATE_KEY, id, P11_ID_LEN, &dec, priv));
		if (*priv == CK_INVALID_HANDLE)
			CMK_TRY(find_one(t, CKO_PRIVATE_KEY, id, P11_ID_LEN, NULL, priv));
		if (*priv == CK_INVALID_HANDLE)
			CMK_TRY(find_one(t, CKO_PRIVATE_KEY, aid, sizeof aid, NULL, priv));
	}
	if (pub)
		CMK_TRY(find_one(t, CKO_PUBLIC_KEY, id, P11_ID_LEN, NULL, pub));
	return CMK_OK;
}

cmk_rc p11_rsa_public(p11_tok *t, CK_OBJECT_HANDLE pub, uint8_t **n, size_t *nlen,
                      uint8_t **e, size_t *elen)
{
	CMK_TRY(p11_get_bytes(t, pub, CKA_MODULUS, n, nlen));
	cmk_rc rc = p11_get_bytes(t, pub, CKA_PUBLIC_EXPONENT, e, elen);
	if (rc != CMK_OK) {
		free(*n);
		*n = NULL;      /* callers free both on failure too */
	}
	return rc;
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
static int copy_complete(p11_tok *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                         const uint8_t *mod, size_t modlen, p11_rsa_copy_t *c)
{
	CK_OBJECT_CLASS cls = 0;
	CK_KEY_TYPE kt = 0;
	CK_BBOOL tok = 0, priv = 0, sens = 0, ext = 1, dec = 0, unw = 0, sig = 0;
	CK_ATTRIBUTE one[] = {
		{ CKA_CLASS, &cls, sizeof cls },
		{ CKA_TOKEN, &tok, sizeof tok },
		{ CKA_PRIVATE, &priv, sizeof priv },
		{ CKA_KEY_TYPE, &kt, sizeof kt },
		{ CKA_SENSITIVE, &sens, sizeof sens },
		{ CKA_DECRYPT, &dec, sizeof dec },
		{ CKA_UNWRAP, &unw, sizeof unw },
		{ CKA_SIGN, &sig, sizeof sig },
		{ CKA_EXTRACTABLE, &ext, sizeof ext },
	};
	int ok = 1;
	for (size_t i = 0; i < N_ELEMS(one); i++)
		if (t->fn->C_GetAttributeValue(s, h, &one[i], 1) != CKR_OK)
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
	if (!mod || t->fn->C_GetAttributeValue(s, h, &m, 1) != CKR_OK || m.ulValueLen != modlen ||
	    memcmp(buf, mod, modlen) != 0)
		return 0;
	CK_ATTRIBUTE e = { CKA_PUBLIC_EXPONENT, buf, sizeof buf };
	if (t->fn->C_GetAttributeValue(s, h, &e, 1) != CKR_OK || e.ulValueLen == 0)
		return 0;
	static const CK_ATTRIBUTE_TYPE secret[] = {
		CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2,
		CKA_EXPONENT_1, CKA_EXPONENT_2, CKA_COEFFICIENT,
	};
	for (size_t i = 0; i < N_ELEMS(secret); i++) {
		CK_ATTRIBUTE a = { secret[i], NULL, 0 };
		CK_RV rv = t->fn->C_GetAttributeValue(s, h, &a, 1);
		if (rv != CKR_ATTRIBUTE_SENSITIVE &&
		    !(rv == CKR_OK && a.ulValueLen == CK_UNAVAILABLE_INFORMATION))
			return 0;
	}
	CK_ATTRIBUTE last = { CKA_ALLOWED_MECHANISMS, NULL, 0 };
	CK_RV rv = t->fn->C_GetAttributeValue(s, h, &last, 1);
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
                      size_t modlen)
{
	if (pub == CK_INVALID_HANDLE || modlen < 64 || modlen > 512)
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
	CK_RV rv = t->fn->C_EncryptInit(s, &x509, pub);
	if (rv == CKR_OK)
		rv = t->fn->C_Encrypt(s, m, modlen, c, &clen);
	if (rv != CKR_OK)
		return -1;
	CK_OBJECT_HANDLE tmp;
	if (t->fn->C_CopyObject(s, h, tmpl, N_ELEMS(tmpl), &tmp) != CKR_OK)
		return -1;
	rv = t->fn->C_DecryptInit(s, &x509, tmp);
	if (rv == CKR_OK)
		rv = t->fn->C_Decrypt(s, c, clen, out, &olen);
	t->fn->C_DestroyObject(s, tmp);
	int ok = rv == CKR_OK && olen <= modlen &&
	         memcmp(out, m + (modlen - olen), olen) == 0 &&
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
static uint8_t *pub_modulus(p11_tok *t, const uint8_t id[P11_ID_LEN], CK_OBJECT_HANDLE *pub,
                            size_t *len, cmk_rc *rc)
{
	uint8_t *n = NULL;
	*rc = find_one(t, CKO_PUBLIC_KEY, id, P11_ID_LEN, NULL, pub);
	if (*rc == CMK_OK && *pub != CK_INVALID_HANDLE &&
	    p11_get_bytes(t, *pub, CKA_MODULUS, &n, len) != CMK_OK)
		n = NULL;
	return n;
}

static cmk_rc check_copies(p11_tok *t, CK_OBJECT_HANDLE pub, const uint8_t *mod, size_t modlen,
                           p11_rsa_copy_t *c, size_t n)
{
	p11_sess *s;
	CMK_TRY(p11_sess_get(t, &s));
	for (size_t i = 0; i < n; i++) {
		c[i].complete = copy_complete(t, s->h, c[i].h, mod, modlen, &c[i]);
		if (c[i].complete)
			c[i].complete = copy_works(t, s->h, c[i].h, pub, modlen) != 0;
	}
	p11_sess_put(t, s, CKR_OK);
	return CMK_OK;
}

cmk_rc p11_rsa_copies(p11_tok *t, const uint8_t id[P11_ID_LEN], p11_rsa_copy_t **out, size_t *n)
{
	uint8_t aid[P11_ARCHIVE_ID_LEN];
	p11_rsa_archive_id(id, aid);
	CK_OBJECT_HANDLE *w, *a;
	size_t nw, na;
	CMK_TRY(find_all(t, CKO_PRIVATE_KEY, id, P11_ID_LEN, NULL, &w, &nw));
	cmk_rc rc = find_all(t, CKO_PRIVATE_KEY, aid, sizeof aid, NULL, &a, &na);
	if (rc != CMK_OK) {
		free(w);
		return rc;
	}
	p11_rsa_copy_t *c = calloc(nw + na ? nw + na : 1, sizeof *c);
	size_t modlen = 0;
	CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE;
	uint8_t *mod = c ? pub_modulus(t, id, &pub, &modlen, &rc) : NULL;
	if (!c)
		rc = cmk_err(CMK_E_NOMEM, "out of memory");
	for (size_t i = 0; c && i < nw; i++)
		c[i].h = w[i];
	for (size_t i = 0; c && i < na; i++) {
		c[nw + i].h = a[i];
		c[nw + i].archive = 1;
	}
	free(w);
	free(a);
	if (rc == CMK_OK)
		rc = check_copies(t, pub, mod, modlen, c, nw + na);
	free(mod);
	if (rc != CMK_OK) {
		free(c);
		return rc;
	}
	*out = c;
	*n = nw + na;
	return CMK_OK;
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
	CK_RV rv = t->fn->C_CopyObject(s->h, from, tmpl, N_ELEMS(tmpl), &h);
	p11_sess_put(t, s, rv);
	if (rv != CKR_OK)
		return p11_fail(rv, t->what, archive ? "C_CopyObject (archive copy of a private key)"
		                                     : "C_CopyObject (working copy of a private key)");
	if (out)
		*out = h;
	return CMK_OK;
}

cmk_rc p11_rsa_find_usable(p11_tok *t, const uint8_t id[P11_ID_LEN], int sign,
                           CK_OBJECT_HANDLE *out)
{
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE use = { sign ? CKA_SIGN : CKA_DECRYPT, &yes, sizeof yes };
	CK_OBJECT_HANDLE *h;
	size_t n;
	*out = CK_INVALID_HANDLE;
	CMK_TRY(find_all(t, CKO_PRIVATE_KEY, id, P11_ID_LEN, &use, &h, &n));
	if (n == 0) {
		free(h);
		return CMK_OK;
	}
	cmk_rc rc;
	size_t modlen = 0;
	CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE;
	uint8_t *mod = pub_modulus(t, id, &pub, &modlen, &rc);
	p11_rsa_copy_t *c = calloc(n, sizeof *c);
	if (rc == CMK_OK && !c)
		rc = cmk_err(CMK_E_NOMEM, "out of memory");
	for (size_t i = 0; rc == CMK_OK && i < n; i++)
		c[i].h = h[i];
	if (rc == CMK_OK)
		rc = check_copies(t, pub, mod, modlen, c, n);
	for (size_t i = 0; rc == CMK_OK && i < n && *out == CK_INVALID_HANDLE; i++)
		if (c[i].complete && (sign ? c[i].sig : c[i].dec && c[i].unw))
			*out = c[i].h;
	free(c);
	free(mod);
	free(h);
	return rc;
}

static void hash_mech(p11_hash h, CK_MECHANISM_TYPE *hm, CK_RSA_PKCS_MGF_TYPE *mgf)
{
	switch (h) {
	case P11_SHA1: *hm = CKM_SHA_1; *mgf = CKG_MGF1_SHA1; break;
	case P11_SHA256: *hm = CKM_SHA256; *mgf = CKG_MGF1_SHA256; break;
	case P11_SHA384: *hm = CKM_SHA384; *mgf = CKG_MGF1_SHA384; break;
	default: *hm = CKM_SHA512; *mgf = CKG_MGF1_SHA512; break;
	}
}

/* One Init + one-part call on a borrowed session. */
typedef CK_RV (*init_fn)(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE);
typedef CK_RV (*op_fn)(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR);

static CK_RV one_shot(p11_tok *t, init_fn init, op_fn op, CK_MECHANISM *mech,
                      CK_OBJECT_HANDLE key, const uint8_t *in, size_t inlen,
                      uint8_t *out, size_t *outlen)
{
	p11_sess *s;
	if (p11_sess_get(t, &s) != CMK_OK)
		return CKR_GENERAL_ERROR;
	CK_RV rv = init(s->h, mech, key);
	if (rv == CKR_OK) {
		CK_ULONG len = *outlen;
		rv = op(s->h, (CK_BYTE_PTR)in, inlen, out, &len);
		*outlen = len;
		if (rv == CKR_BUFFER_TOO_SMALL) {
			/* the operation stays active: finish it to free the session */
			uint8_t tmp[1024];
			CK_ULONG tl = sizeof tmp;
			if (len <= sizeof tmp)
				op(s->h, (CK_BYTE_PTR)in, inlen, tmp, &tl);
			cmk_wipe(tmp, sizeof tmp);
		}
	}
	p11_sess_put(t, s, rv);
	return rv;
}

CK_RV p11_rsa_decrypt_oaep(p11_tok *t, CK_OBJECT_HANDLE priv, p11_hash h,
                           const uint8_t *label, size_t label_len,
                           const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen)
{
	CK_RSA_PKCS_OAEP_PARAMS p;
	memset(&p, 0, sizeof p);
	hash_mech(h, &p.hashAlg, &p.mgf);
	p.source = CKZ_DATA_SPECIFIED;
	p.pSourceData = (void *)label;
	p.ulSourceDataLen = label_len;
	CK_MECHANISM mech = { CKM_RSA_PKCS_OAEP, &p, sizeof p };
	return one_shot(t, t->fn->C_DecryptInit, t->fn->C_Decrypt, &mech, priv, in, inlen, out, outlen);
}

CK_RV p11_rsa_decrypt_raw(p11_tok *t, CK_OBJECT_HANDLE priv, CK_MECHANISM_TYPE m,
                          const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen)
{
	CK_MECHANISM mech = { m, NULL, 0 };
	return one_shot(t, t->fn->C_DecryptInit, t->fn->C_Decrypt, &mech, priv, in, inlen, out, outlen);
}

CK_RV p11_rsa_sign_raw(p11_tok *t, CK_OBJECT_HANDLE priv, CK_MECHANISM_TYPE m,
                       const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen)
{
	CK_MECHANISM mech = { m, NULL, 0 };
	return one_shot(t, t->fn->C_SignInit, t->fn->C_Sign, &mech, priv, in, inlen, out, outlen);
}

CK_RV p11_rsa_sign_pss(p11_tok *t, CK_OBJECT_HANDLE priv, p11_hash h, p11_hash mgf,
                       unsigned long salt, const uint8_t *dig, size_t dlen,
                       uint8_t *out, size_t *outlen)
{
	CK_RSA_PKCS_PSS_PARAMS p;
	CK_RSA_PKCS_MGF_TYPE unused;
	CK_MECHANISM_TYPE unused_h;
	hash_mech(h, &p.hashAlg, &unused);
	hash_mech(mgf, &unused_h, &p.mgf);
	p.sLen = salt;
	CK_MECHANISM mech = { CKM_RSA_PKCS_PSS, &p, sizeof p };
	return one_shot(t, t->fn->C_SignInit, t->fn->C_Sign, &mech, priv, dig, dlen, out, outlen);
}

CK_RV p11_rsa_encrypt_oaep(p11_tok *t, CK_OBJECT_HANDLE pub, p11_hash h,
                           const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen)
{
	CK_RSA_PKCS_OAEP_PARAMS p;
	memset(&p, 0, sizeof p);
	hash_mech(h, &p.hashAlg, &p.mgf);
	p.source = CKZ_DATA_SPECIFIED;
	CK_MECHANISM mech = { CKM_RSA_PKCS_OAEP, &p, sizeof p };
	return one_shot(t, t->fn->C_EncryptInit, t->fn->C_Encrypt, &mech, pub, in, inlen, out, outlen);
}
