/* digest.c - digest names and reading back a shadow context's parameters. */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/params.h>

#include "prov.h"

const char *cmkp_md_name(cmkp_prov *p, const char *name, size_t *size)
{
	static const char *const names[] = { "SHA1", "SHA256", "SHA384", "SHA512" };
	const char *found = NULL;
	EVP_MD *md;

	if (name == NULL || *name == '\0')
		return NULL;
	md = EVP_MD_fetch(p->libctx, name, CMKP_PROPQ);
	if (md == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof names / sizeof names[0] && !found; i++)
		if (EVP_MD_is_a(md, names[i]))
			found = names[i];
	if (found != NULL && size != NULL)
		*size = (size_t)EVP_MD_get_size(md);
	EVP_MD_free(md);
	return found;
}

int cmkp_shadow_get_int(EVP_PKEY_CTX *c, const char *key, int *v)
{
	OSSL_PARAM p[2];

	p[0] = OSSL_PARAM_construct_int(key, v);
	p[1] = OSSL_PARAM_construct_end();
	return EVP_PKEY_CTX_get_params(c, p) > 0 && OSSL_PARAM_modified(&p[0]);
}

int cmkp_shadow_get_utf8(EVP_PKEY_CTX *c, const char *key, char *buf, size_t len)
{
	OSSL_PARAM p[2];

	buf[0] = '\0';
	p[0] = OSSL_PARAM_construct_utf8_string(key, buf, len);
	p[1] = OSSL_PARAM_construct_end();
	return EVP_PKEY_CTX_get_params(c, p) > 0 && OSSL_PARAM_modified(&p[0]);
}
