/* provision.c - initialising a fresh token (C_InitToken, C_InitPIN). */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "p11/p11_int.h"
#include "util/err.h"

static cmk_rc first_free_slot(p11_mod *m, const char *module, CK_SLOT_ID *slot)
{
	CK_SLOT_ID *slots;
	CK_ULONG n;
	CK_RV rv = p11_slot_list(m, &slots, &n);
	if (rv == CKR_HOST_MEMORY)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	if (rv != CKR_OK)
		return p11_fail(rv, module, "C_GetSlotList");
	cmk_rc rc =
		cmk_err(CMK_E_TOKEN, "module %s has no slot with an uninitialised token", module);
	for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++) {
		CK_TOKEN_INFO info;
		if (p11_C_GetTokenInfo(m, slots[i], &info) == CKR_OK &&
		    !(info.flags & CKF_TOKEN_INITIALIZED)) {
			*slot = slots[i];
			rc = CMK_OK;
			break;
		}
	}
	free(slots);
	return rc;
}

cmk_rc cmk_token_init(const char *module, const char *label, const char *so_pin,
		      const char *user_pin)
{
	return_if_fail(module && label && so_pin && user_pin);
	if (strlen(label) > 32)
		return cmk_err(CMK_E_USAGE, "token label '%s' is longer than 32 bytes", label);
	p11_mod *m;
	CMK_TRY(p11_mod_load(module, NULL, &m));
	CK_SLOT_ID slot = 0;
	cmk_rc rc = first_free_slot(m, module, &slot);
	if (rc != CMK_OK)
		goto out;
	CK_UTF8CHAR padded[32];
	memset(padded, ' ', sizeof padded);
	memcpy(padded, label, strlen(label));
	CK_RV rv = p11_C_InitToken(m, slot, (CK_UTF8CHAR *)so_pin, strlen(so_pin), padded);
	if (rv != CKR_OK) {
		rc = p11_fail(rv, module, "C_InitToken");
		goto out;
	}
	/* SoftHSM moves the new token to a new slot: find it by label. */
	p11_tok *t;
	char what[64];
	snprintf(what, sizeof what, "token %s", label);
	rc = p11_tok_open(m, label, what, &t);
	if (rc != CMK_OK)
		goto out;
	CK_SESSION_HANDLE h;
	rv = p11_C_OpenSession(m, t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h);
	if (rv == CKR_OK) {
		rv = p11_C_Login(m, h, CKU_SO, (CK_UTF8CHAR *)so_pin, strlen(so_pin));
		if (rv == CKR_OK) {
			rv = p11_C_InitPIN(m, h, (CK_UTF8CHAR *)user_pin, strlen(user_pin));
			p11_C_Logout(m, h);
		}
		p11_C_CloseSession(m, h);
	}
	if (rv != CKR_OK)
		rc = p11_fail(rv, what, "C_InitPIN");
	p11_tok_close(t);
out:
	p11_mod_unref(m);
	return rc;
}
