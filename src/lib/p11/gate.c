/* gate.c - every PKCS#11 call cmk makes goes through its module's gate.
 *
 * A loaded module's function list is replaced by a copy whose functions
 * enter the gate (p11_mod_enter), call the module and leave it, so that
 *  - a re-initialisation (after fork, a lost connection, a token another
 *    process confused) runs with no call of any thread in flight:
 *    C_Finalize under a call in flight is undefined (PKCS#11 3.0 section
 *    5.4) and p11-kit's client then hangs in the other thread's call;
 *  - on a remote module one call runs at a time (see module.c).
 * The gate is per call, not per borrowed session, so code may hold a
 * session for long (the benchmarks do) and borrow a second one.
 *
 * C has no closures, so each wrapped module takes one of GATE_SLOTS sets of
 * wrapper functions.  C_Initialize and C_Finalize are not wrapped: module.c
 * calls them itself, exclusively.  Functions cmk never calls pass through. */
#include "config.h"
#include <string.h>
#include "p11/p11_int.h"
#include "util/err.h"

#define GATE_SLOTS 8

static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static p11_mod *slot_mod[GATE_SLOTS];
static CK_FUNCTION_LIST *slot_real[GATE_SLOTS];
static CK_FUNCTION_LIST slot_list[GATE_SLOTS];

/* W: the calls that write the token run with the termination signals
 * blocked (signals.c). */
#define GATED(X, W, S) \
	X(S, C_GetInfo, (CK_INFO_PTR a), (a)) \
	X(S, C_GetSlotList, (CK_BBOOL a, CK_SLOT_ID_PTR b, CK_ULONG_PTR c), (a, b, c)) \
	X(S, C_GetSlotInfo, (CK_SLOT_ID a, CK_SLOT_INFO_PTR b), (a, b)) \
	X(S, C_GetTokenInfo, (CK_SLOT_ID a, CK_TOKEN_INFO_PTR b), (a, b)) \
	X(S, C_GetMechanismList, (CK_SLOT_ID a, CK_MECHANISM_TYPE_PTR b, CK_ULONG_PTR c), (a, b, c)) \
	X(S, C_GetMechanismInfo, (CK_SLOT_ID a, CK_MECHANISM_TYPE b, CK_MECHANISM_INFO_PTR c), (a, b, c)) \
	W(S, C_InitToken, (CK_SLOT_ID a, CK_UTF8CHAR_PTR b, CK_ULONG c, CK_UTF8CHAR_PTR d), (a, b, c, d)) \
	W(S, C_InitPIN, (CK_SESSION_HANDLE a, CK_UTF8CHAR_PTR b, CK_ULONG c), (a, b, c)) \
	W(S, C_SetPIN, (CK_SESSION_HANDLE a, CK_UTF8CHAR_PTR b, CK_ULONG c, CK_UTF8CHAR_PTR d, CK_ULONG e), \
	  (a, b, c, d, e)) \
	X(S, C_OpenSession, (CK_SLOT_ID a, CK_FLAGS b, CK_VOID_PTR c, CK_NOTIFY d, CK_SESSION_HANDLE_PTR e), \
	  (a, b, c, d, e)) \
	X(S, C_CloseSession, (CK_SESSION_HANDLE a), (a)) \
	X(S, C_CloseAllSessions, (CK_SLOT_ID a), (a)) \
	X(S, C_GetSessionInfo, (CK_SESSION_HANDLE a, CK_SESSION_INFO_PTR b), (a, b)) \
	W(S, C_Login, (CK_SESSION_HANDLE a, CK_USER_TYPE b, CK_UTF8CHAR_PTR c, CK_ULONG d), (a, b, c, d)) \
	X(S, C_Logout, (CK_SESSION_HANDLE a), (a)) \
	W(S, C_CreateObject, (CK_SESSION_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c, CK_OBJECT_HANDLE_PTR d), \
	  (a, b, c, d)) \
	W(S, C_CopyObject, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c, CK_ULONG d, \
	  CK_OBJECT_HANDLE_PTR e), (a, b, c, d, e)) \
	W(S, C_DestroyObject, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b), (a, b)) \
	X(S, C_GetObjectSize, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ULONG_PTR c), (a, b, c)) \
	X(S, C_GetAttributeValue, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c, CK_ULONG d), \
	  (a, b, c, d)) \
	W(S, C_SetAttributeValue, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c, CK_ULONG d), \
	  (a, b, c, d)) \
	X(S, C_FindObjectsInit, (CK_SESSION_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c), (a, b, c)) \
	X(S, C_FindObjects, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE_PTR b, CK_ULONG c, CK_ULONG_PTR d), \
	  (a, b, c, d)) \
	X(S, C_FindObjectsFinal, (CK_SESSION_HANDLE a), (a)) \
	X(S, C_EncryptInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c), (a, b, c)) \
	X(S, C_Encrypt, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e), \
	  (a, b, c, d, e)) \
	X(S, C_EncryptUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e), \
	  (a, b, c, d, e)) \
	X(S, C_EncryptFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c), (a, b, c)) \
	X(S, C_DecryptInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c), (a, b, c)) \
	X(S, C_Decrypt, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e), \
	  (a, b, c, d, e)) \
	X(S, C_DecryptUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e), \
	  (a, b, c, d, e)) \
	X(S, C_DecryptFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c), (a, b, c)) \
	X(S, C_DigestInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b), (a, b)) \
	X(S, C_Digest, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e), \
	  (a, b, c, d, e)) \
	X(S, C_DigestUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c), (a, b, c)) \
	X(S, C_DigestFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c), (a, b, c)) \
	X(S, C_SignInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c), (a, b, c)) \
	X(S, C_Sign, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e), \
	  (a, b, c, d, e)) \
	X(S, C_SignUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c), (a, b, c)) \
	X(S, C_SignFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c), (a, b, c)) \
	X(S, C_VerifyInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c), (a, b, c)) \
	X(S, C_Verify, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG e), \
	  (a, b, c, d, e)) \
	X(S, C_VerifyUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c), (a, b, c)) \
	X(S, C_VerifyFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c), (a, b, c)) \
	W(S, C_GenerateKey, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_ATTRIBUTE_PTR c, CK_ULONG d, \
	  CK_OBJECT_HANDLE_PTR e), (a, b, c, d, e)) \
	W(S, C_GenerateKeyPair, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_ATTRIBUTE_PTR c, CK_ULONG d, \
	  CK_ATTRIBUTE_PTR e, CK_ULONG f, CK_OBJECT_HANDLE_PTR g, CK_OBJECT_HANDLE_PTR h), \
	  (a, b, c, d, e, f, g, h)) \
	X(S, C_WrapKey, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c, CK_OBJECT_HANDLE d, \
	  CK_BYTE_PTR e, CK_ULONG_PTR f), (a, b, c, d, e, f)) \
	X(S, C_UnwrapKey, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c, CK_BYTE_PTR d, \
	  CK_ULONG e, CK_ATTRIBUTE_PTR f, CK_ULONG g, CK_OBJECT_HANDLE_PTR h), (a, b, c, d, e, f, g, h)) \
	X(S, C_DeriveKey, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c, CK_ATTRIBUTE_PTR d, \
	  CK_ULONG e, CK_OBJECT_HANDLE_PTR f), (a, b, c, d, e, f)) \
	X(S, C_SeedRandom, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c), (a, b, c)) \
	X(S, C_GenerateRandom, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c), (a, b, c))

#define WRAPPER(S, name, params, args) \
	static CK_RV w##S##_##name params \
	{ \
		p11_mod *m = slot_mod[S]; \
		int counted = p11_mod_enter(m); \
		CK_RV rv = slot_real[S]->name args; \
		p11_mod_leave(m, counted); \
		return rv; \
	}
#define WRAPPER_W(S, name, params, args) \
	static CK_RV w##S##_##name params \
	{ \
		p11_mod *m = slot_mod[S]; \
		int counted = p11_mod_enter(m); \
		sigset_t old; \
		p11_sig_block(&old); \
		CK_RV rv = slot_real[S]->name args; \
		p11_sig_restore(&old); \
		p11_mod_leave(m, counted); \
		return rv; \
	}
#define INSTALL(S, name, params, args) slot_list[S].name = w##S##_##name;

GATED(WRAPPER, WRAPPER_W, 0)
GATED(WRAPPER, WRAPPER_W, 1)
GATED(WRAPPER, WRAPPER_W, 2)
GATED(WRAPPER, WRAPPER_W, 3)
GATED(WRAPPER, WRAPPER_W, 4)
GATED(WRAPPER, WRAPPER_W, 5)
GATED(WRAPPER, WRAPPER_W, 6)
GATED(WRAPPER, WRAPPER_W, 7)

static void install(int s)
{
	switch (s) {
	case 0: GATED(INSTALL, INSTALL, 0) break;
	case 1: GATED(INSTALL, INSTALL, 1) break;
	case 2: GATED(INSTALL, INSTALL, 2) break;
	case 3: GATED(INSTALL, INSTALL, 3) break;
	case 4: GATED(INSTALL, INSTALL, 4) break;
	case 5: GATED(INSTALL, INSTALL, 5) break;
	case 6: GATED(INSTALL, INSTALL, 6) break;
	default: GATED(INSTALL, INSTALL, 7) break;
	}
}

cmk_rc p11_gate_wrap(p11_mod *m, CK_FUNCTION_LIST *real, CK_FUNCTION_LIST **out, int *slot)
{
	pthread_mutex_lock(&slots_lock);
	int s;
	for (s = 0; s < GATE_SLOTS && slot_mod[s]; s++)
		;
	if (s == GATE_SLOTS) {
		pthread_mutex_unlock(&slots_lock);
		return cmk_err(CMK_E_MODULE, "PKCS#11 module %s: one process can use at most %d modules at once",
		               p11_mod_name(m), GATE_SLOTS);
	}
	slot_list[s] = *real;
	install(s);
	slot_real[s] = real;
	slot_mod[s] = m;
	pthread_mutex_unlock(&slots_lock);
	*out = &slot_list[s];
	*slot = s;
	return CMK_OK;
}

void p11_gate_unwrap(int slot)
{
	if (slot < 0 || slot >= GATE_SLOTS)
		return;
	pthread_mutex_lock(&slots_lock);
	slot_mod[slot] = NULL;
	slot_real[slot] = NULL;
	pthread_mutex_unlock(&slots_lock);
}
