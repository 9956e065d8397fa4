/* errors.c - the provider's error reasons, raised through the core.
 *
 * A key operation refused by the vault (the key disabled, deleted, not
 * valid now, not allowed by its key-ops, access denied) is also written to
 * stderr, one line naming the key and the reason: OpenSSL's one-line error
 * text (ERR_error_string) shows the reason but not the error data that
 * names the key, and that line is all that stunnel, haproxy and PostgreSQL
 * log of a failed handshake.  A server's stderr is its log (journald, or
 * the file it was started with).  The same refusal is written at most once
 * every REFUSAL_QUIET_S seconds, so a client retrying against a disabled
 * key does not flood the log; the audit log has every one. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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

#define REFUSAL_QUIET_S 10

static int is_refusal(int reason)
{
	return reason == CMK_E_DISABLED || reason == CMK_E_DELETED || reason == CMK_E_NOT_VALID ||
	       reason == CMK_E_OP_NOT_ALLOWED || reason == CMK_E_ACCESS_DENIED;
}

static void log_refusal(const char *msg)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static char last[512];
	static time_t last_at;
	time_t now = time(NULL);
	pthread_mutex_lock(&lock);
	int quiet = strncmp(last, msg, sizeof last - 1) == 0 && now - last_at < REFUSAL_QUIET_S;
	if (!quiet) {
		snprintf(last, sizeof last, "%s", msg);
		last_at = now;
		fprintf(stderr, "cmk provider (cmk.so): refused: %s\n", msg);
	}
	pthread_mutex_unlock(&lock);
}

void cmkp_err_at(const cmkp_prov *p, const char *file, int line, const char *func, int reason,
		 const char *fmt, ...)
{
	va_list ap;

	if (p == NULL || p->new_error == NULL || p->vset_error == NULL)
		return;
	p->new_error(p->handle);
	if (p->set_error_debug != NULL)
		p->set_error_debug(p->handle, file, line, func);
	va_start(ap, fmt);
	if (is_refusal(reason)) {
		char msg[512];
		va_list copy;
		va_copy(copy, ap);
		vsnprintf(msg, sizeof msg, fmt, copy);
		va_end(copy);
		log_refusal(msg);
	}
	p->vset_error(p->handle, (uint32_t)reason, fmt, ap);
	va_end(ap);
}
