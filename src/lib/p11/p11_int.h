/* p11_int.h - what the files of the PKCS#11 layer share among themselves. */
#ifndef CMK_P11_INT_H
#define CMK_P11_INT_H

#include <signal.h>
#include <stdatomic.h>
#include "p11/p11.h"

struct p11_tok {
	p11_mod *mod;
	CK_SLOT_ID slot;
	char spec[512]; /* label or pkcs11: URI from the configuration */
	char label[33];
	char what[256];	      /* PKCS#11-level messages: "vault lab", and for a
	                          * remote vault "vault lab (p11-kit server ADDR)" */
	char name[160];	      /* "vault lab" (p11_tok_what) */
	pthread_mutex_t lock; /* guards everything below */
	p11_sess *pool;	      /* idle sessions */
	unsigned nopen;
	unsigned gen; /* bumped when sessions/handles became invalid */
	unsigned mod_gen;
	char *pin;		/* locked copy, for re-login after re-init */
	_Atomic unsigned forks; /* fork generation (fork.c) the sessions belong to */
	p11_tok *mod_next;	/* the module's token list (modules lock) */
	p11_fork_hooks hooks;	/* the owner's locks around fork() (modules lock) */
	int lost;		/* a call said the module lost the token or connection */
	unsigned lost_gen;	/* ... under this generation: recover before the next call */
	int records;		/* object.c: how records are kept, learnt from the token */
	atomic_int wide;	/* object.c: the module's handles need all their bits */
};

/* module.c: the modules lock guards the list of modules and each module's
 * token list (fork.c walks them). */
void p11_modules_lock(void);
void p11_modules_unlock(void);
/* Walk the registry under the modules lock: p11_mod_next(NULL) is the first. */
p11_mod *p11_mod_next(p11_mod *m);
p11_tok **p11_mod_toks(p11_mod *m);
/* fork.c's child handler: an open, empty gate. */
void p11_mod_fork_child(p11_mod *m);
/* With the module exclusive: C_Initialize again in a child after fork(). */
cmk_rc p11_mod_fork_check_excl(p11_mod *m);

/* slots.c: the slots with a token, in malloc'd memory.  The list may change
 * between C_GetSlotList's size query and the fetch (PKCS#11 3.0 section
 * 5.5: CKR_BUFFER_TOO_SMALL then): asked again until the two agree. */
CK_RV p11_slot_list(p11_mod *m, CK_SLOT_ID **slots, CK_ULONG *n);

/* fork.c: registers the pthread_atfork handlers (once per process). */
void p11_fork_register(void);

/* signals.c: block SIGINT, SIGTERM, SIGHUP and SIGQUIT in the calling
 * thread around a call that writes the token; restore delivers any that
 * arrived meanwhile. */
void p11_sig_block(void);
void p11_sig_restore(void);

/* module.c: the gate.  Every PKCS#11 call runs entered (gate.c wraps each
 * module's function list); a re-initialisation runs exclusive, with no call
 * of another thread in flight.  Never wait for exclusive holding a token
 * lock. */
int p11_mod_enter(p11_mod *m);
void p11_mod_leave(p11_mod *m, int how);
/* Creating token objects and searching them, on a module that needs them
 * apart (SoftHSM, module.c): a creation runs alone, searches together.
 * Taken inside the gate (between p11_mod_enter and p11_mod_leave) for the
 * one call only; 1 when taken (then p11_mod_objects_unlock), 0 on other
 * modules. */
enum { P11_OBJS_SEARCH = 1, P11_OBJS_CREATE = 2 };
int p11_mod_objects_lock(p11_mod *m, int how);
void p11_mod_objects_unlock(p11_mod *m);
/* A borrowed session holds the gate until it is given back (session.c);
 * 0 when the thread borrows on too many modules at once to keep count. */
int p11_mod_borrow(p11_mod *m);
void p11_mod_unborrow(p11_mod *m);
/* This thread holds a borrowed session of m. */
int p11_mod_borrowed(p11_mod *m);
void p11_mod_exclusive_begin(p11_mod *m);
void p11_mod_exclusive_end(p11_mod *m);
/* p11_mod_reinit() for a caller that holds the module exclusive. */
cmk_rc p11_mod_reinit_excl(p11_mod *m, unsigned seen);

/* module.c: the module's own function list, for gate.c only. */
CK_FUNCTION_LIST *p11_mod_real(p11_mod *m);
/* gate.c: CMK_DEBUG=p11 tracing of each call and its return value
 * (ms < 0: no duration). */
int p11_tracing(void);
void p11_trace(p11_mod *m, const char *call, CK_RV rv, double ms);

/* object.c: object handles tagged with the module's generation (see
 * there).  p11_h_raw() is the module's number for a call (CK_INVALID_HANDLE
 * for a handle of another generation); call both with a borrowed session,
 * so that the generation cannot change before the call. */
CK_OBJECT_HANDLE p11_h_tag(p11_tok *t, CK_OBJECT_HANDLE raw);
CK_OBJECT_HANDLE p11_h_raw(p11_tok *t, CK_OBJECT_HANDLE h);
int p11_h_stale(p11_tok *t, CK_OBJECT_HANDLE h);
/* A search on a borrowed session (tagged handles, malloc'd). */
CK_RV p11_find_in(p11_tok *t, p11_sess *s, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE **objs,
		  size_t *count);

/* One attribute's value (malloc'd, NUL-terminated), on a borrowed session. */
CK_RV p11_get_bytes_in(p11_tok *t, p11_sess *s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type,
		       uint8_t **val, size_t *len);

/* ckr.c: the module lost the token or its connection (a p11-kit server that
 * went away gives CKR_DEVICE_ERROR): only C_Finalize + C_Initialize helps. */
int p11_rv_lost(CK_RV rv);

#endif
