/* p11_int.h - what the files of the PKCS#11 layer share among themselves. */
#ifndef CMK_P11_INT_H
#define CMK_P11_INT_H

#include "p11/p11.h"

struct p11_tok {
	p11_mod *mod;
	CK_FUNCTION_LIST *fn;
	CK_SLOT_ID slot;
	char spec[512];          /* label or pkcs11: URI from the configuration */
	char label[33];
	char what[256];          /* PKCS#11-level messages: "vault lab", and for a
	                          * remote vault "vault lab (p11-kit server ADDR)" */
	char name[160];          /* "vault lab" (p11_tok_what) */
	pthread_mutex_t lock;    /* guards everything below */
	p11_sess *pool;          /* idle sessions */
	unsigned nopen;
	unsigned gen;            /* bumped when sessions/handles became invalid */
	unsigned mod_gen;
	char *pin;               /* locked copy, for re-login after re-init */
	pid_t pid;
	int lost;                /* a call said the module lost the token or connection */
	unsigned lost_gen;       /* ... under this generation: recover before the next call */
	int records;             /* object.c: how records are kept, learnt from the token */
};

/* module.c: the gate.  Every PKCS#11 call runs entered (gate.c wraps each
 * module's function list); a re-initialisation runs exclusive, with no call
 * of another thread in flight.  Never wait for exclusive holding a token
 * lock. */
int p11_mod_enter(p11_mod *m);
void p11_mod_leave(p11_mod *m, int counted);
void p11_mod_exclusive_begin(p11_mod *m);
void p11_mod_exclusive_end(p11_mod *m);
/* p11_mod_reinit() for a caller that holds the module exclusive. */
cmk_rc p11_mod_reinit_excl(p11_mod *m, unsigned seen);

/* gate.c: the gated copy of a module's function list, in wrapper set *slot. */
cmk_rc p11_gate_wrap(p11_mod *m, CK_FUNCTION_LIST *real, CK_FUNCTION_LIST **out, int *slot);
void p11_gate_unwrap(int slot);

/* ckr.c: the module lost the token or its connection (a p11-kit server that
 * went away gives CKR_DEVICE_ERROR): only C_Finalize + C_Initialize helps. */
int p11_rv_lost(CK_RV rv);

#endif
