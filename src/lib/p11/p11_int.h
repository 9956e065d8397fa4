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
	char what[160];          /* "vault lab", for error messages */
	pthread_mutex_t lock;    /* guards everything below */
	p11_sess *pool;          /* idle sessions */
	unsigned nopen;
	unsigned gen;            /* bumped when sessions/handles became invalid */
	unsigned mod_gen;
	char *pin;               /* locked copy, for re-login after re-init */
	pid_t pid;
};

#endif
