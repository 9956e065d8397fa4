/* session.c - the session pool.  Each operation borrows one session, so
 * threads decrypt in parallel on as many sessions as they need, and gives
 * it back; sessions the token declared dead are closed, not pooled. */
#include "config.h"
#include <stdlib.h>
#include "p11/p11_int.h"
#include "util/err.h"

#define POOL_IDLE_MAX 32

/* Why this thread's last p11_sess_get() failed, as a CK_RV. */
static _Thread_local CK_RV get_rv;

static cmk_rc get_fail(cmk_rc rc, CK_RV rv)
{
	if (!rv) {
		switch (rc) {
		case CMK_E_NOMEM: rv = CKR_HOST_MEMORY; break;
		case CMK_E_PIN: rv = CKR_USER_NOT_LOGGED_IN; break;
		case CMK_E_TOKEN: rv = CKR_TOKEN_NOT_PRESENT; break;
		/* the module could not be initialised again: lost */
		default: rv = CKR_DEVICE_ERROR; break;
		}
	}
	get_rv = rv;
	return rc;
}

CK_RV p11_sess_get_rv(p11_tok *t, p11_sess **out)
{
	get_rv = CKR_OK;
	if (p11_sess_get(t, out) == CMK_OK)
		return CKR_OK;
	return get_rv ? get_rv : CKR_DEVICE_ERROR;
}

/* Before a first session: a child after fork(), a lost connection, a
 * module another token re-initialised are dealt with (they re-initialise,
 * which waits for every borrowed session). */
static cmk_rc sess_checks(p11_tok *t)
{
	cmk_rc rc = p11_tok_check_fork(t);
	if (rc != CMK_OK)
		return rc;
	pthread_mutex_lock(&t->lock);
	int lost = t->lost;
	unsigned lost_gen = t->lost_gen;
	pthread_mutex_unlock(&t->lock);
	if (lost) /* an earlier call lost the connection: reconnect first */
		return p11_tok_recover(t, lost_gen);
	return p11_tok_check_module(t);
}

cmk_rc p11_sess_get(p11_tok *t, p11_sess **out)
{
	/* A thread that holds a session already takes a second one as it
	 * is: it cannot re-initialise the module under its own first. */
	int nested = p11_mod_borrowed(t->mod);
	cmk_rc rc;
	int borrowed = 0;
	for (int attempt = 0;; attempt++) {
		if (!nested && (rc = sess_checks(t)) != CMK_OK)
			return get_fail(rc, 0);
		borrowed = p11_mod_borrow(t->mod);
		/* held: no re-initialisation from here to p11_sess_put(); one
		 * that ran since the checks (another token of the module) is
		 * caught up with first: the pool holds sessions of the module
		 * as it was, whose numbers now name other sessions */
		pthread_mutex_lock(&t->lock);
		int behind = t->mod_gen != p11_mod_gen(t->mod) || t->lost ||
			     atomic_load(&t->forks) != p11_fork_gen();
		pthread_mutex_unlock(&t->lock);
		if (!behind || nested)
			break;
		if (borrowed)
			p11_mod_unborrow(t->mod);
		if (attempt == 7)
			return get_fail(cmk_err(CMK_E_TOKEN,
						"%s: the module was initialised again under "
						"each of 8 attempts to use it",
						t->what),
					CKR_DEVICE_ERROR);
	}
	pthread_mutex_lock(&t->lock);
	p11_sess *s = t->pool;
	if (s)
		t->pool = s->next;
	unsigned gen = t->gen;
	pthread_mutex_unlock(&t->lock);
	if (s) {
		s->borrowed = borrowed;
		*out = s;
		return CMK_OK;
	}
	s = calloc(1, sizeof *s);
	if (!s) {
		if (borrowed)
			p11_mod_unborrow(t->mod);
		return get_fail(cmk_err(CMK_E_NOMEM, "out of memory"), CKR_HOST_MEMORY);
	}
	CK_RV rv = p11_C_OpenSession(t->mod, t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
				     NULL, &s->h);
	if (rv != CKR_OK) {
		free(s);
		pthread_mutex_lock(&t->lock);
		if (p11_rv_lost(rv) && gen == t->gen && !t->lost) {
			t->lost = 1;
			t->lost_gen = gen;
		}
		pthread_mutex_unlock(&t->lock);
		if (borrowed)
			p11_mod_unborrow(t->mod);
		return get_fail(p11_fail(rv, t->what, "C_OpenSession"), rv);
	}
	s->gen = gen;
	s->borrowed = borrowed;
	pthread_mutex_lock(&t->lock);
	t->nopen++;
	pthread_mutex_unlock(&t->lock);
	*out = s;
	return CMK_OK;
}

void p11_sess_put(p11_tok *t, p11_sess *s, CK_RV last)
{
	if (!s)
		return;
	pthread_mutex_lock(&t->lock);
	int stale = s->gen != t->gen;
	if (!stale && p11_rv_lost(last) && !t->lost) {
		t->lost = 1;
		t->lost_gen = s->gen;
	}
	int keep = !stale && !p11_rv_dead(last) && t->nopen <= POOL_IDLE_MAX;
	int borrowed = s->borrowed;
	s->borrowed = 0;
	if (keep) {
		s->next = t->pool;
		t->pool = s;
		pthread_mutex_unlock(&t->lock);
	} else {
		if (!stale)
			t->nopen--;
		pthread_mutex_unlock(&t->lock);
		if (!stale && !p11_rv_dead(last))
			p11_C_CloseSession(t->mod, s->h);
		free(s);
	}
	if (borrowed)
		p11_mod_unborrow(t->mod);
}
