/* mech.c - what the token can do, from what it reports.
 *
 * The mechanism list says whether CKM_RSA_PKCS_OAEP exists, not which
 * hashes it takes (SoftHSM 2.6 lists OAEP but refuses SHA-256 with
 * CKR_ARGUMENTS_BAD).  So OAEP-256 is probed for real: an encryption with a
 * throw-away session key pair, which touches no token object. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "p11/p11_int.h"
#include "util/err.h"

static int has(CK_MECHANISM_TYPE *list, CK_ULONG n, CK_MECHANISM_TYPE m)
{
	for (CK_ULONG i = 0; i < n; i++)
		if (list[i] == m)
			return 1;
	return 0;
}

/* Returns 1 if OAEP with `h` works on this token, 0 if refused. */
static int probe_oaep(p11_tok *t, p11_hash h)
{
	CK_MECHANISM gen = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG bits = 1024;
	CK_BYTE exp[] = { 1, 0, 1 };
	CK_ATTRIBUTE pubt[] = {
		{ CKA_TOKEN, &no, sizeof no },
		{ CKA_ENCRYPT, &yes, sizeof yes },
		{ CKA_MODULUS_BITS, &bits, sizeof bits },
		{ CKA_PUBLIC_EXPONENT, exp, sizeof exp },
	};
	CK_ATTRIBUTE privt[] = {
		{ CKA_TOKEN, &no, sizeof no },
		{ CKA_DECRYPT, &yes, sizeof yes },
		{ CKA_SENSITIVE, &yes, sizeof yes },
	};
	CK_OBJECT_HANDLE pub, priv;
	p11_sess *s;
	if (p11_sess_get(t, &s) != CMK_OK)
		return 0;
	CK_RV rv = p11_C_GenerateKeyPair(t->mod, s->h, &gen, pubt, 4, privt, 3, &pub, &priv);
	if (rv == CKR_OK) {
		pub = p11_h_tag(t, pub);
		priv = p11_h_tag(t, priv);
	}
	p11_sess_put(t, s, rv);
	if (rv != CKR_OK)
		return 0;
	uint8_t in[16] = { 0 }, ct[128], pt[128];
	size_t ctlen = sizeof ct, ptlen = sizeof pt;
	p11_key kpub = { pub, NULL, 0 }, kpriv = { priv, NULL, 0 };
	rv = p11_rsa_encrypt_oaep(t, &kpub, h, in, sizeof in, ct, &ctlen);
	if (rv == CKR_OK)
		rv = p11_rsa_decrypt_oaep(t, &kpriv, h, NULL, 0, ct, ctlen, pt, &ptlen);
	int ok = rv == CKR_OK && ptlen == sizeof in && memcmp(pt, in, sizeof in) == 0;
	p11_destroy(t, pub);
	p11_destroy(t, priv);
	return ok;
}

cmk_rc p11_mechs_probe(p11_tok *t, p11_mechs *m)
{
	memset(m, 0, sizeof *m);
	CK_ULONG n = 0;
	CK_RV rv = p11_C_GetMechanismList(t->mod, t->slot, NULL, &n);
	if (rv != CKR_OK)
		return p11_fail(rv, t->what, "C_GetMechanismList");
	/* one spare element: p11-kit 0.24's client, dropping mechanisms it
	 * cannot forward, reads one past the end of the list (memmove of
	 * n - i elements from i + 1) */
	CK_MECHANISM_TYPE *list = calloc(n + 1, sizeof *list);
	if (!list)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	rv = p11_C_GetMechanismList(t->mod, t->slot, list, &n);
	if (rv != CKR_OK) {
		free(list);
		return p11_fail(rv, t->what, "C_GetMechanismList");
	}
	m->oaep = has(list, n, CKM_RSA_PKCS_OAEP);
	m->x509 = has(list, n, CKM_RSA_X_509);
	m->pkcs = has(list, n, CKM_RSA_PKCS);
	m->pss = has(list, n, CKM_RSA_PKCS_PSS);
	m->keygen = has(list, n, CKM_RSA_PKCS_KEY_PAIR_GEN);
	free(list);
	m->oaep256 = m->oaep && m->keygen ? probe_oaep(t, P11_SHA256) : 0;
	m->oaep1 = m->oaep && m->keygen ? probe_oaep(t, P11_SHA1) : 0;
	return CMK_OK;
}
