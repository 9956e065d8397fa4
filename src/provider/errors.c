/* errors.c - the provider's error reasons, raised through the core. */
#include <stdarg.h>

#include "prov.h"

/* The reason names a kind of failure; the error data (cmk_last_error() for
 * libcmk failures) names the key and the cause. */
const OSSL_ITEM cmkp_reason_strings[] = {
	{ CMK_E_INTERNAL, "cmk internal error" },
	{ CMK_E_USAGE, "bad argument" },
	{ CMK_E_CONFIG, "cmk configuration error" },
	{ CMK_E_NOT_FOUND, "key not found" },
	{ CMK_E_EXISTS, "name already taken" },
	{ CMK_E_DISABLED, "key disabled" },
	{ CMK_E_NOT_VALID, "key not valid now" },
	{ CMK_E_OP_NOT_ALLOWED, "operation not allowed by the key's key-ops" },
	{ CMK_E_ACCESS_DENIED, "access denied" },
	{ CMK_E_DELETED, "key deleted" },
	{ CMK_E_PIN, "PIN error" },
	{ CMK_E_TOKEN, "token not usable" },
	{ CMK_E_MODULE, "PKCS#11 module cannot be loaded" },
	{ CMK_E_DECRYPT, "decryption failed" },
	{ CMK_E_TOO_LARGE, "input too large" },
	{ CMK_E_BUFFER, "output buffer too small" },
	{ CMK_E_PURGE_PROTECTED, "purge protected" },
	{ CMK_E_AUDIT, "audit record cannot be written" },
	{ CMK_E_IO, "I/O error" },
	{ CMK_E_P11, "PKCS#11 error" },
	{ CMK_E_NOMEM, "out of memory" },
	{ CMK_E_CONFLICT, "concurrent change" },
	{ CMK_E_INTEGRITY, "integrity check failed" },
	{ CMK_E_FORMAT, "malformed input" },
	{ CMKP_R_BAD_URI, "bad key URI" },
	{ CMKP_R_NO_PRIVATE_KEY, "no private key on a token" },
	{ CMKP_R_PADDING, "unsupported padding" },
	{ CMKP_R_PKCS1_DISABLED, "PKCS#1 v1.5 encryption disabled" },
	{ CMKP_R_DIGEST, "unsupported digest" },
	{ CMKP_R_BUFFER, "output buffer too small" },
	{ CMKP_R_SALT_LENGTH, "bad PSS salt length" },
	{ CMKP_R_INPUT_LENGTH, "bad input length" },
	{ CMKP_R_CONFIG, "bad provider configuration" },
	{ CMKP_R_OPENSSL, "OpenSSL operation failed" },
	{ CMKP_R_KEYREF, "bad key reference" },
	{ CMKP_R_EXPORT, "private key cannot leave the token" },
	{ 0, NULL },
};

void cmkp_err_at(const cmkp_prov *p, const char *file, int line,
                 const char *func, int reason, const char *fmt, ...)
{
	va_list ap;

	if (p == NULL || p->new_error == NULL || p->vset_error == NULL)
		return;
	p->new_error(p->handle);
	if (p->set_error_debug != NULL)
		p->set_error_debug(p->handle, file, line, func);
	va_start(ap, fmt);
	p->vset_error(p->handle, (uint32_t)reason, fmt, ap);
	va_end(ap);
}
