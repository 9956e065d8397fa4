/* foreign.c - an RSA key pair made on the token by another tool (pkcs11-tool,
 * a vendor's CLI), taken into a vault: found by CKA_ID or CKA_LABEL, its
 * protection read, and copied under the vault's id and label (C_CopyObject:
 * the key material never leaves the token). */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "p11/p11_int.h"
#include "util/err.h"

#define N_ELEMS(a) (sizeof(a) / sizeof(a)[0])

/* The one object of class cls with this id or label. */
static cmk_rc find_by(p11_tok *t, CK_OBJECT_CLASS cls, const uint8_t *id, size_t idlen,
		      const char *label, const char *what, CK_OBJECT_HANDLE *out)
{
	CK_KEY_TYPE kt = CKK_RSA;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof cls },
		{ CKA_KEY_TYPE, &kt, sizeof kt },
		{ id ? CKA_ID : CKA_LABEL, id ? (void *)id : (void *)label,
		  id ? idlen : strlen(label) },
	};
	CK_OBJECT_HANDLE *h;
	size_t n;
	CMK_TRY(p11_find(t, tmpl, N_ELEMS(tmpl), &h, &n));
	*out = n == 1 ? h[0] : CK_INVALID_HANDLE;
	free(h);
	if (n == 0)
		return cmk_err(CMK_E_NOT_FOUND, "%s: no RSA %s with %s on the token", t->what,
			       cls == CKO_PRIVATE_KEY ? "private key" : "public key", what);
	if (n > 1)
		return cmk_err(CMK_E_USAGE,
			       "%s: %zu RSA %s objects have %s; name one by a unique id", t->what,
			       n, cls == CKO_PRIVATE_KEY ? "private key" : "public key", what);
	return CMK_OK;
}

cmk_rc p11_rsa_find_foreign(p11_tok *t, const uint8_t *id, size_t idlen, const char *label,
			    const char *what, p11_foreign *out)
{
	memset(out, 0, sizeof *out);
	CMK_TRY(find_by(t, CKO_PRIVATE_KEY, id, idlen, label, what, &out->priv));
	/* the public half: the same CKA_ID as the private key, else the label */
	uint8_t *pid = NULL;
	size_t pidlen = 0;
	CMK_TRY(p11_get_bytes(t, out->priv, CKA_ID, &pid, &pidlen));
	cmk_rc rc = pidlen ? find_by(t, CKO_PUBLIC_KEY, pid, pidlen, NULL, what, &out->pub)
			   : find_by(t, CKO_PUBLIC_KEY, id, idlen, label, what, &out->pub);
	free(pid);
	CMK_TRY(rc);
	CK_BBOOL sens = CK_FALSE, extr = CK_TRUE, asens = CK_FALSE, nextr = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_SENSITIVE, &sens, sizeof sens },
		{ CKA_EXTRACTABLE, &extr, sizeof extr },
		{ CKA_ALWAYS_SENSITIVE, &asens, sizeof asens },
		{ CKA_NEVER_EXTRACTABLE, &nextr, sizeof nextr },
	};
	CMK_TRY(p11_get_attrs(t, out->priv, tmpl, N_ELEMS(tmpl)));
	out->sensitive = sens == CK_TRUE;
	out->extractable = extr == CK_TRUE;
	out->always_sensitive = asens == CK_TRUE;
	out->never_extractable = nextr == CK_TRUE;
	return CMK_OK;
}

cmk_rc p11_rsa_adopt_copy(p11_tok *t, const p11_foreign *f, const uint8_t id[P11_ID_LEN],
			  const char *label, CK_OBJECT_HANDLE *priv, CK_OBJECT_HANDLE *pub)
{
	/* the private half becomes the version's archive copy: its own id,
	 * every usage false (docs/design.md); working copies are made from it */
	CK_BBOOL no = CK_FALSE;
	uint8_t aid[P11_ARCHIVE_ID_LEN];
	p11_rsa_archive_id(id, aid);
	CK_ATTRIBUTE pubt[] = {
		{ CKA_ID, (void *)id, P11_ID_LEN },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	CK_ATTRIBUTE privt[] = {
		{ CKA_ID, aid, sizeof aid },	 { CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_DECRYPT, &no, sizeof no }, { CKA_UNWRAP, &no, sizeof no },
		{ CKA_SIGN, &no, sizeof no },
	};
	p11_sess *s;
	/* public half first, as p11_rsa_import: a kill between the two leaves
	 * only a public key, never taken for a version */
	CMK_TRY(p11_sess_get(t, &s));
	CK_RV rv = p11_C_CopyObject(t->mod, s->h, p11_h_raw(t, f->pub), pubt, N_ELEMS(pubt), pub);
	if (rv == CKR_OK)
		*pub = p11_h_tag(t, *pub);
	p11_sess_put(t, s, rv);
	if (rv != CKR_OK)
		return p11_fail(rv, t->what, "C_CopyObject (public key of the adopted pair)");
	cmk_rc rc = p11_sess_get(t, &s);
	if (rc == CMK_OK) {
		rv = p11_C_CopyObject(t->mod, s->h, p11_h_raw(t, f->priv), privt, N_ELEMS(privt),
				      priv);
		if (rv == CKR_OK)
			*priv = p11_h_tag(t, *priv);
		p11_sess_put(t, s, rv);
		if (rv != CKR_OK)
			rc = p11_fail(rv, t->what,
				      "C_CopyObject (private key of the adopted pair)");
	}
	if (rc != CMK_OK)
		p11_destroy_undo(t, *pub);
	return rc;
}
