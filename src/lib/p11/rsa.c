/* rsa.c - RSA key pairs on the token: generation, import, lookup, flags,
 * and the private-key operations. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "p11/p11_int.h"
#include "util/err.h"

#define N_ELEMS(a) (sizeof (a) / sizeof (a)[0])

static CK_BBOOL b(int v) { return v ? CK_TRUE : CK_FALSE; }

cmk_rc p11_rsa_generate(p11_tok *t, unsigned bits, const uint8_t id[P11_ID_LEN],
                        const char *label, p11_rsa_flags f,
                        CK_OBJECT_HANDLE *priv, CK_OBJECT_HANDLE *pub)
{
	CK_MECHANISM mech = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE, dec = b(f.decrypt), sig = b(f.sign);
	CK_ULONG mbits = bits;
	CK_BYTE exp[] = { 0x01, 0x00, 0x01 };
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
		{ CKA_ID, (void *)id, P11_ID_LEN },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	p11_sess *s;
	CMK_TRY(p11_sess_get(t, &s));
	CK_RV rv = p11_C_GenerateKeyPair(t->mod, s->h, &mech, pubt, N_ELEMS(pubt),
	                                    privt, N_ELEMS(privt), pub, priv);
	p11_sess_put(t, s, rv);
	if (rv != CKR_OK)
		return p11_fail(rv, t->what, "C_GenerateKeyPair");
	return CMK_OK;
}

cmk_rc p11_rsa_import(p11_tok *t, const p11_rsa_parts *k, const uint8_t id[P11_ID_LEN],
                      const char *label, p11_rsa_flags f,
                      CK_OBJECT_HANDLE *priv, CK_OBJECT_HANDLE *pub)
{
	CK_OBJECT_CLASS pcls = CKO_PRIVATE_KEY, ucls = CKO_PUBLIC_KEY;
	CK_KEY_TYPE kt = CKK_RSA;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE, dec = b(f.decrypt), sig = b(f.sign);
	CK_ATTRIBUTE privt[] = {
		{ CKA_CLASS, &pcls, sizeof pcls },
		{ CKA_KEY_TYPE, &kt, sizeof kt },
		{ CKA_TOKEN, &yes, sizeof yes },
		{ CKA_PRIVATE, &yes, sizeof yes },
		{ CKA_SENSITIVE, &yes, sizeof yes },
		{ CKA_EXTRACTABLE, &no, sizeof no },
		{ CKA_MODIFIABLE, &yes, sizeof yes },
		{ CKA_DECRYPT, &dec, sizeof dec },
		{ CKA_UNWRAP, &dec, sizeof dec },
		{ CKA_SIGN, &sig, sizeof sig },
		{ CKA_ID, (void *)id, P11_ID_LEN },
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

static cmk_rc find_one(p11_tok *t, CK_OBJECT_CLASS cls, const uint8_t id[P11_ID_LEN],
                       CK_OBJECT_HANDLE *out)
{
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof cls },
		{ CKA_ID, (void *)id, P11_ID_LEN },
	};
	CK_OBJECT_HANDLE *h;
	size_t n;
	CMK_TRY(p11_find(t, tmpl, N_ELEMS(tmpl), &h, &n));
	*out = n ? h[0] : CK_INVALID_HANDLE;
	free(h);
	return CMK_OK;
}

cmk_rc p11_rsa_find(p11_tok *t, const uint8_t id[P11_ID_LEN],
                    CK_OBJECT_HANDLE *priv, CK_OBJECT_HANDLE *pub)
{
	if (priv)
		CMK_TRY(find_one(t, CKO_PRIVATE_KEY, id, priv));
	if (pub)
		CMK_TRY(find_one(t, CKO_PUBLIC_KEY, id, pub));
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

cmk_rc p11_rsa_get_flags(p11_tok *t, CK_OBJECT_HANDLE priv, p11_rsa_flags *f)
{
	CK_BBOOL dec = CK_FALSE, unw = CK_FALSE, sig = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_DECRYPT, &dec, sizeof dec },
		{ CKA_UNWRAP, &unw, sizeof unw },
		{ CKA_SIGN, &sig, sizeof sig },
	};
	CMK_TRY(p11_get_attrs(t, priv, tmpl, N_ELEMS(tmpl)));
	f->decrypt = dec == CK_TRUE && unw == CK_TRUE;
	f->sign = sig == CK_TRUE;
	return CMK_OK;
}

/*
 * Never change a private key in place: SoftHSM 2.6 rewrites the object's
 * file on C_SetAttributeValue, and a kill (or power loss) in the middle
 * leaves it empty -- the key is gone.  Instead the key is copied with the
 * new flags (C_CopyObject writes a new file) and then the old copy is
 * destroyed, so some copy of the key survives any interruption.  Two copies
 * with one CKA_ID can therefore exist for a moment; this function settles
 * any number of them: it keeps one copy with the wanted flags and destroys
 * the rest.  Idempotent.
 */
cmk_rc p11_rsa_set_flags(p11_tok *t, const uint8_t id[P11_ID_LEN], p11_rsa_flags f,
                         CK_OBJECT_HANDLE *out)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE find[] = {
		{ CKA_CLASS, &cls, sizeof cls },
		{ CKA_ID, (void *)id, P11_ID_LEN },
	};
	CK_OBJECT_HANDLE *h;
	size_t n;
	CMK_TRY(p11_find(t, find, N_ELEMS(find), &h, &n));
	if (n == 0) {
		free(h);
		return cmk_err(CMK_E_NOT_FOUND, "%s: no private key with this id on the token", t->what);
	}
	cmk_rc rc = CMK_OK;
	size_t keep = n;
	for (size_t i = 0; i < n && keep == n && rc == CMK_OK; i++) {
		p11_rsa_flags now;
		rc = p11_rsa_get_flags(t, h[i], &now);
		if (rc == CMK_OK && now.decrypt == f.decrypt && now.sign == f.sign)
			keep = i;
	}
	CK_OBJECT_HANDLE kept = keep < n ? h[keep] : CK_INVALID_HANDLE;
	if (rc == CMK_OK && keep == n) {
		CK_BBOOL dec = b(f.decrypt), sig = b(f.sign);
		CK_ATTRIBUTE tmpl[] = {
			{ CKA_DECRYPT, &dec, sizeof dec },
			{ CKA_UNWRAP, &dec, sizeof dec },
			{ CKA_SIGN, &sig, sizeof sig },
		};
		p11_sess *s;
		rc = p11_sess_get(t, &s);
		if (rc == CMK_OK) {
			CK_RV rv = p11_C_CopyObject(t->mod, s->h, h[0], tmpl, N_ELEMS(tmpl), &kept);
			p11_sess_put(t, s, rv);
			if (rv != CKR_OK)
				rc = p11_fail(rv, t->what, "C_CopyObject (private key with new flags)");
		}
	}
	for (size_t i = 0; i < n && rc == CMK_OK; i++)
		if (h[i] != kept)
			rc = p11_destroy(t, h[i]);
	free(h);
	if (rc == CMK_OK && out)
		*out = kept;
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
typedef CK_RV (*init_fn)(p11_mod *, CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE);
typedef CK_RV (*op_fn)(p11_mod *, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR);

static CK_RV one_shot(p11_tok *t, init_fn init, op_fn op, CK_MECHANISM *mech,
                      CK_OBJECT_HANDLE key, const uint8_t *in, size_t inlen,
                      uint8_t *out, size_t *outlen)
{
	p11_sess *s;
	/* the real reason (a lost token or session): the caller recovers
	 * and retries on those, and never takes them for bad data */
	CK_RV rv = p11_sess_get_rv(t, &s);
	if (rv != CKR_OK)
		return rv;
	rv = init(t->mod, s->h, mech, key);
	if (rv == CKR_OK) {
		CK_ULONG len = *outlen;
		rv = op(t->mod, s->h, (CK_BYTE_PTR)in, inlen, out, &len);
		*outlen = len;
		if (rv == CKR_BUFFER_TOO_SMALL) {
			/* the operation stays active: finish it to free the session */
			uint8_t tmp[1024];
			CK_ULONG tl = sizeof tmp;
			CK_RV frv = len <= sizeof tmp ? op(t->mod, s->h, (CK_BYTE_PTR)in, inlen, tmp, &tl)
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
	return one_shot(t, p11_C_DecryptInit, p11_C_Decrypt, &mech, priv, in, inlen, out, outlen);
}

CK_RV p11_rsa_decrypt_raw(p11_tok *t, CK_OBJECT_HANDLE priv, CK_MECHANISM_TYPE m,
                          const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen)
{
	CK_MECHANISM mech = { m, NULL, 0 };
	return one_shot(t, p11_C_DecryptInit, p11_C_Decrypt, &mech, priv, in, inlen, out, outlen);
}

CK_RV p11_rsa_sign_raw(p11_tok *t, CK_OBJECT_HANDLE priv, CK_MECHANISM_TYPE m,
                       const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen)
{
	CK_MECHANISM mech = { m, NULL, 0 };
	return one_shot(t, p11_C_SignInit, p11_C_Sign, &mech, priv, in, inlen, out, outlen);
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
	return one_shot(t, p11_C_SignInit, p11_C_Sign, &mech, priv, dig, dlen, out, outlen);
}

CK_RV p11_rsa_encrypt_oaep(p11_tok *t, CK_OBJECT_HANDLE pub, p11_hash h,
                           const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen)
{
	CK_RSA_PKCS_OAEP_PARAMS p;
	memset(&p, 0, sizeof p);
	hash_mech(h, &p.hashAlg, &p.mgf);
	p.source = CKZ_DATA_SPECIFIED;
	CK_MECHANISM mech = { CKM_RSA_PKCS_OAEP, &p, sizeof p };
	return one_shot(t, p11_C_EncryptInit, p11_C_Encrypt, &mech, pub, in, inlen, out, outlen);
}
