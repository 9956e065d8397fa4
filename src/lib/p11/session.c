/* session.c - the session pool.  Each operation borrows one session, so
 * threads decrypt in parallel on as many sessions as they need, and gives
 * it back; sessions the token declared dead are closed, not pooled. */
#include "config.h"
#include <stdlib.h>
#include "p11/p11_int.h"
#include "util/err.h"

#define POOL_IDLE_MAX 32

cmk_rc p11_sess_get(p11_tok *t, p11_sess **out)
{
	CMK_TRY(p11_tok_check_fork(t));
	pthread_mutex_lock(&t->lock);
	int lost = t->lost;
	unsigned lost_gen = t->lost_gen;
	pthread_mutex_unlock(&t->lock);
	if (lost)   /* an earlier call lost the connection: reconnect first */
		CMK_TRY(p11_tok_recover(t, lost_gen));
	else
		CMK_TRY(p11_tok_check_module(t));
	pthread_mutex_lock(&t->lock);
	p11_sess *s = t->pool;
	if (s)
		t->pool = s->next;
	unsigned gen = t->gen;
	pthread_mutex_unlock(&t->lock);
	if (s) {
		*out = s;
		return CMK_OK;
	}
	s = calloc(1, sizeof *s);
	if (!s)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	CK_RV rv = t->fn->C_OpenSession(t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
	                                NULL, NULL, &s->h);
	if (rv != CKR_OK) {
		free(s);
		pthread_mutex_lock(&t->lock);
		if (p11_rv_lost(rv) && gen == t->gen && !t->lost) {
			t->lost = 1;
			t->lost_gen = gen;
		}
		pthread_mutex_unlock(&t->lock);
		return p11_fail(rv, t->what, "C_OpenSession");
	}
	s->gen = gen;
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
	if (keep) {
		s->next = t->pool;
		t->pool = s;
		pthread_mutex_unlock(&t->lock);
		return;
	}
	if (!stale)
		t->nopen--;
	pthread_mutex_unlock(&t->lock);
	if (!stale && !p11_rv_dead(last))
		t->fn->C_CloseSession(s->h);
	free(s);
}
