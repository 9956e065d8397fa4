/* slots.c - listing the slots that hold a token.
 *
 * C_GetSlotList is a two-call function: the size, then the list.  A slot
 * can appear between the two (SoftHSM adds one after C_InitToken; a p11-kit
 * server forwards whatever its module says at each call), and the second
 * call then answers CKR_BUFFER_TOO_SMALL with the new count.  That is not
 * an error: ask again with the new size.
 */
#include "config.h"
#include <stdlib.h>
#include "p11/p11_int.h"

#define TRIES 8

CK_RV p11_slot_list(p11_mod *m, CK_SLOT_ID **slots, CK_ULONG *n)
{
	CK_SLOT_ID *v = NULL;
	CK_ULONG cap = 0;
	CK_RV rv = p11_C_GetSlotList(m, CK_TRUE, NULL, &cap);
	for (int i = 0; rv == CKR_OK && i < TRIES; i++) {
		CK_SLOT_ID *nv = realloc(v, (cap ? cap : 1) * sizeof *v);
		if (!nv) {
			rv = CKR_HOST_MEMORY;
			break;
		}
		v = nv;
		CK_ULONG got = cap;
		rv = p11_C_GetSlotList(m, CK_TRUE, v, &got);
		if (rv == CKR_OK) {
			*slots = v;
			*n = got;
			return CKR_OK;
		}
		if (rv != CKR_BUFFER_TOO_SMALL)
			break;
		/* the list grew since the size query: the module said by how
		 * much (or ask it again), and one spare slot */
		if (got > cap)
			cap = got;
		else if ((rv = p11_C_GetSlotList(m, CK_TRUE, NULL, &cap)) != CKR_OK)
			break;
		cap++;
		rv = CKR_OK;
	}
	if (rv == CKR_OK) /* still changing after TRIES rounds */
		rv = CKR_BUFFER_TOO_SMALL;
	free(v);
	return rv;
}
