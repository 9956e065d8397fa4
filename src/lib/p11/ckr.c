/* ckr.c - PKCS#11 return values as names, sentences and cmk_rc codes. */
#include "config.h"
#include <stdio.h>
#include <p11-kit/p11-kit.h>
#include "p11/p11_int.h"
#include "util/err.h"

#define R(x)          \
	{             \
		x, #x \
	}
static const struct {
	CK_RV rv;
	const char *name;
} rv_names[] = {
	R(CKR_OK),
	R(CKR_CANCEL),
	R(CKR_HOST_MEMORY),
	R(CKR_SLOT_ID_INVALID),
	R(CKR_GENERAL_ERROR),
	R(CKR_FUNCTION_FAILED),
	R(CKR_ARGUMENTS_BAD),
	R(CKR_ATTRIBUTE_READ_ONLY),
	R(CKR_ATTRIBUTE_SENSITIVE),
	R(CKR_ATTRIBUTE_TYPE_INVALID),
	R(CKR_ATTRIBUTE_VALUE_INVALID),
	R(CKR_ACTION_PROHIBITED),
	R(CKR_DATA_INVALID),
	R(CKR_DATA_LEN_RANGE),
	R(CKR_DEVICE_ERROR),
	R(CKR_DEVICE_MEMORY),
	R(CKR_DEVICE_REMOVED),
	R(CKR_ENCRYPTED_DATA_INVALID),
	R(CKR_ENCRYPTED_DATA_LEN_RANGE),
	R(CKR_FUNCTION_CANCELED),
	R(CKR_FUNCTION_NOT_SUPPORTED),
	R(CKR_KEY_HANDLE_INVALID),
	R(CKR_KEY_SIZE_RANGE),
	R(CKR_KEY_TYPE_INCONSISTENT),
	R(CKR_KEY_FUNCTION_NOT_PERMITTED),
	R(CKR_MECHANISM_INVALID),
	R(CKR_MECHANISM_PARAM_INVALID),
	R(CKR_OBJECT_HANDLE_INVALID),
	R(CKR_OPERATION_ACTIVE),
	R(CKR_OPERATION_NOT_INITIALIZED),
	R(CKR_PIN_INCORRECT),
	R(CKR_PIN_INVALID),
	R(CKR_PIN_LEN_RANGE),
	R(CKR_PIN_EXPIRED),
	R(CKR_PIN_LOCKED),
	R(CKR_SESSION_CLOSED),
	R(CKR_SESSION_COUNT),
	R(CKR_SESSION_HANDLE_INVALID),
	R(CKR_SESSION_READ_ONLY),
	R(CKR_SESSION_EXISTS),
	R(CKR_SIGNATURE_INVALID),
	R(CKR_SIGNATURE_LEN_RANGE),
	R(CKR_TEMPLATE_INCOMPLETE),
	R(CKR_TEMPLATE_INCONSISTENT),
	R(CKR_TOKEN_NOT_PRESENT),
	R(CKR_TOKEN_NOT_RECOGNIZED),
	R(CKR_TOKEN_WRITE_PROTECTED),
	R(CKR_USER_ALREADY_LOGGED_IN),
	R(CKR_USER_NOT_LOGGED_IN),
	R(CKR_USER_PIN_NOT_INITIALIZED),
	R(CKR_USER_TYPE_INVALID),
	R(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
	R(CKR_WRAPPED_KEY_INVALID),
	R(CKR_WRAPPED_KEY_LEN_RANGE),
	R(CKR_BUFFER_TOO_SMALL),
	R(CKR_CRYPTOKI_NOT_INITIALIZED),
	R(CKR_CRYPTOKI_ALREADY_INITIALIZED),
	R(CKR_MUTEX_BAD),
	R(CKR_FUNCTION_REJECTED),
};
#undef R

const char *p11_rv_name(CK_RV rv)
{
	static _Thread_local char hex[32];
	for (size_t i = 0; i < sizeof rv_names / sizeof rv_names[0]; i++)
		if (rv_names[i].rv == rv)
			return rv_names[i].name;
	snprintf(hex, sizeof hex, "CKR_0x%08lx", (unsigned long)rv);
	return hex;
}

cmk_rc p11_rv_rc(CK_RV rv)
{
	switch (rv) {
	case CKR_OK: return CMK_OK;
	case CKR_PIN_INCORRECT:
	case CKR_PIN_INVALID:
	case CKR_PIN_LEN_RANGE:
	case CKR_PIN_EXPIRED:
	case CKR_PIN_LOCKED:
	case CKR_USER_PIN_NOT_INITIALIZED:
	case CKR_USER_NOT_LOGGED_IN: return CMK_E_PIN;
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_TOKEN_NOT_RECOGNIZED:
	case CKR_DEVICE_REMOVED:
	case CKR_SLOT_ID_INVALID:
	case CKR_DEVICE_ERROR:
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
	case CKR_CRYPTOKI_NOT_INITIALIZED: return CMK_E_TOKEN;
	/* A private key whose CKA_DECRYPT/CKA_SIGN is false: tokens differ in
	 * the code (NSS softokn says KEY_TYPE_INCONSISTENT). */
	case CKR_KEY_FUNCTION_NOT_PERMITTED:
	case CKR_KEY_TYPE_INCONSISTENT: return CMK_E_DISABLED;
	case CKR_ENCRYPTED_DATA_INVALID:
	case CKR_ENCRYPTED_DATA_LEN_RANGE:
	case CKR_WRAPPED_KEY_INVALID:
	case CKR_WRAPPED_KEY_LEN_RANGE: return CMK_E_DECRYPT;
	case CKR_DATA_LEN_RANGE: return CMK_E_TOO_LARGE;
	case CKR_HOST_MEMORY:
	case CKR_DEVICE_MEMORY: return CMK_E_NOMEM;
	case CKR_BUFFER_TOO_SMALL: return CMK_E_BUFFER;
	default: return CMK_E_P11;
	}
}

int p11_rv_dead(CK_RV rv)
{
	switch (rv) {
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
	case CKR_DEVICE_REMOVED:
	case CKR_DEVICE_ERROR:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_CRYPTOKI_NOT_INITIALIZED: return 1;
	default: return 0;
	}
}

int p11_rv_lost(CK_RV rv)
{
	return rv == CKR_DEVICE_ERROR || rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT ||
	       rv == CKR_CRYPTOKI_NOT_INITIALIZED;
}

cmk_rc p11_fail(CK_RV rv, const char *what, const char *call)
{
	return cmk_err(
		p11_rv_rc(rv), "%s: %s failed: %s (%s)%s", what, call, p11_rv_name(rv),
		p11_kit_strerror(rv),
		p11_rv_lost(rv)
			? "; the token or the connection to it is lost, the next call reconnects"
			: "");
}
