/* token.c - finding a token by label or RFC 7512 URI, logging in, and
 * coming back after fork() or a re-initialisation. */
#include "config.h"
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <p11-kit/uri.h>
#include "p11/p11_int.h"
#include "util/err.h"
#include "util/secmem.h"

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* "label   " (space padded, not NUL-terminated) -> C string. */
static void padded_to_str(char *dst, const CK_UTF8CHAR *src, size_t n)
{
	memcpy(dst, src, n);
	dst[n] = '\0';
	while (n && dst[n - 1] == ' ')
		dst[--n] = '\0';
}

static int token_matches(const char *spec, P11KitUri *uri, CK_TOKEN_INFO *info)
{
	if (uri)
		return p11_kit_uri_match_token_info(uri, info) == 1;
	char label[33];
	padded_to_str(label, info->label, sizeof info->label);
	return strcmp(label, spec) == 0;
}

/* One pass over the slots.  *rv reports a token that answered badly. */
static cmk_rc find_slot(p11_tok *t, P11KitUri *uri, CK_SLOT_ID *slot, CK_RV *bad, char *seen,
			size_t seen_cap)
{
	CK_SLOT_ID *slots;
	CK_ULONG n;
	*bad = CKR_OK;
	seen[0] = '\0';
	CK_RV rv = p11_slot_list(t->mod, &slots, &n);
	if (rv == CKR_HOST_MEMORY)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	if (rv == CKR_BUFFER_TOO_SMALL)
		return cmk_err(CMK_E_P11,
			       "%s: the slot list of module %s keeps changing "
			       "(C_GetSlotList: CKR_BUFFER_TOO_SMALL on every try)",
			       t->what, p11_mod_name(t->mod));
	if (rv != CKR_OK)
		return p11_fail(rv, t->what, "C_GetSlotList");
	cmk_rc rc = CMK_E_TOKEN;
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO info;
		rv = p11_C_GetTokenInfo(t->mod, slots[i], &info);
		if (rv != CKR_OK) {
			*bad = rv;
			continue;
		}
		if (!(info.flags & CKF_TOKEN_INITIALIZED))
			continue;
		char label[33];
		padded_to_str(label, info.label, sizeof info.label);
		size_t used = strlen(seen);
		snprintf(seen + used, seen_cap - used, "%s'%s'", used ? ", " : "", label);
		if (token_matches(t->spec, uri, &info)) {
			*slot = slots[i];
			memcpy(t->label, label, sizeof t->label);
			rc = CMK_OK;
			break;
		}
	}
	free(slots);
	return rc;
}

/* SoftHSM 2.6 with several processes on one token directory sometimes hides
 * the token or answers CKR_GENERAL_ERROR; C_Finalize + C_Initialize recovers
 * (docs/softhsm.md).  So a failed lookup re-initialises and tries again a
 * few times before saying the token is absent. */
static cmk_rc locate(p11_tok *t, int excl)
{
	P11KitUri *uri = NULL;
	if (strncmp(t->spec, "pkcs11:", 7) == 0) {
		uri = p11_kit_uri_new();
		int r = uri ? p11_kit_uri_parse(t->spec, P11_KIT_URI_FOR_TOKEN, uri)
			    : P11_KIT_URI_NO_MEMORY;
		if (r != P11_KIT_URI_OK) {
			p11_kit_uri_free(uri);
			return cmk_err(CMK_E_CONFIG,
				       "%s: token URI '%s' is not a valid PKCS#11 URI: %s", t->what,
				       t->spec, p11_kit_uri_message(r));
		}
	}
	cmk_rc rc = CMK_E_TOKEN;
	char seen[512];
	CK_RV bad = CKR_OK;
	for (int attempt = 0; attempt < 4; attempt++) {
		if (attempt) {
			sleep_ms(20u << attempt);
			rc = excl ? p11_mod_reinit_excl(t->mod, p11_mod_gen(t->mod))
				  : p11_mod_reinit(t->mod, p11_mod_gen(t->mod));
			if (rc != CMK_OK)
				break;
		}
		rc = find_slot(t, uri, &t->slot, &bad, seen, sizeof seen);
		if (rc == CMK_OK)
			break;
		if (rc != CMK_E_TOKEN && rc != CMK_E_P11)
			break;
	}
	p11_kit_uri_free(uri);
	if (rc == CMK_E_TOKEN && p11_mod_server(t->mod)[0] && !seen[0])
		return cmk_err(CMK_E_TOKEN,
			       "%s: token %s is not there: the p11-kit server does not answer or "
			       "serves no token",
			       t->what, t->spec);
	if (rc == CMK_E_TOKEN) {
		char diag[1500]; /* SoftHSM's token files: which is damaged (softhsm_diag.c) */
		p11_softhsm_diag(p11_mod_name(t->mod), diag, sizeof diag);
		return cmk_err(
			CMK_E_TOKEN, "%s: token %s is not present on module %s (tokens seen: %s)%s",
			t->what, t->spec, p11_mod_name(t->mod), seen[0] ? seen : "none", diag);
	}
	return rc;
}

cmk_rc p11_tok_open(p11_mod *m, const char *token, const char *what, p11_tok **out)
{
	return_if_fail(m && token && out);
	p11_tok *t = calloc(1, sizeof *t);
	if (!t)
		return cmk_err(CMK_E_NOMEM, "out of memory");
	pthread_mutex_init(&t->lock, NULL);
	t->mod = m;
	atomic_init(&t->forks, p11_fork_gen());
	t->mod_gen = p11_mod_gen(m);
	snprintf(t->spec, sizeof t->spec, "%s", token);
	/* a remote vault's PKCS#11 errors name the server it talks to */
	snprintf(t->name, sizeof t->name, "%s", what ? what : token);
	if (p11_mod_server(m)[0])
		snprintf(t->what, sizeof t->what, "%s (p11-kit server %s)", what ? what : token,
			 p11_mod_server(m));
	else
		snprintf(t->what, sizeof t->what, "%s", what ? what : token);
	cmk_rc rc = locate(t, 0);
	if (rc != CMK_OK) {
		pthread_mutex_destroy(&t->lock);
		free(t);
		return rc;
	}
	t->mod_gen = p11_mod_gen(m);
	p11_modules_lock(); /* fork.c walks the module's tokens */
	p11_tok **head = p11_mod_toks(m);
	t->mod_next = *head;
	*head = t;
	p11_modules_unlock();
	*out = t;
	return CMK_OK;
}

/* Log in on a fresh session (login state is per token, shared by all of
 * this application's sessions).  Exactly one C_Login per attempt: a wrong
 * PIN is reported, never retried, so cmk itself never spends the token's
 * retry counter. */
static cmk_rc login_once(p11_tok *t, const char *pin)
{
	CK_SESSION_HANDLE h;
	CK_RV rv = p11_C_OpenSession(t->mod, t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
				     NULL, &h);
	if (rv != CKR_OK)
		return p11_fail(rv, t->what, "C_OpenSession");
	rv = p11_C_Login(t->mod, h, CKU_USER, (CK_UTF8CHAR *)pin, strlen(pin));
	if (rv == CKR_USER_ALREADY_LOGGED_IN)
		rv = CKR_OK;
	if (rv != CKR_OK) {
		p11_C_CloseSession(t->mod, h);
		if (rv == CKR_PIN_INCORRECT)
			return cmk_err(CMK_E_PIN, "%s: the PIN for token '%s' is incorrect",
				       t->what, t->label);
		if (rv == CKR_PIN_LOCKED)
			return cmk_err(CMK_E_PIN, "%s: the PIN of token '%s' is locked", t->what,
				       t->label);
		/* SoftHSM answers these while another process rewrites its
		 * token.object: the PIN was not judged, worth another try */
		if (rv == CKR_USER_PIN_NOT_INITIALIZED || rv == CKR_GENERAL_ERROR)
			return cmk_err(CMK_E_P11, "%s: C_Login failed: %s", t->what,
				       p11_rv_name(rv));
		return p11_fail(rv, t->what, "C_Login");
	}
	/* Keep the session: the pool starts with it, and SoftHSM logs out
	 * when an application's last session closes. */
	p11_sess *s = calloc(1, sizeof *s);
	if (!s) {
		p11_C_CloseSession(t->mod, h);
		return cmk_err(CMK_E_NOMEM, "out of memory");
	}
	s->h = h;
	s->gen = t->gen;
	s->next = t->pool;
	t->pool = s;
	t->nopen++;
	return CMK_OK;
}

cmk_rc p11_tok_login(p11_tok *t, const char *pin)
{
	return_if_fail(t && pin);
	if (strlen(pin) >= SECMEM_PIN_CAP)
		return cmk_err(CMK_E_PIN, "%s: PIN too long", t->what);
	/* With the module exclusive: the token lock is held across the calls,
	 * and no thread may wait at a closed gate holding it (fork.c). */
	cmk_rc rc = CMK_E_P11;
	for (int attempt = 0; attempt < 4 && rc == CMK_E_P11; attempt++) {
		if (attempt)
			sleep_ms(20u << attempt);
		p11_mod_exclusive_begin(t->mod);
		pthread_mutex_lock(&t->lock);
		if (!attempt) {
			rc = login_once(t, pin);
		} else if ((rc = p11_mod_reinit_excl(t->mod, t->mod_gen)) == CMK_OK) {
			/* CKR_GENERAL_ERROR from a token another process is
			 * rewriting: re-initialise and try again (the PIN was
			 * not judged). */
			t->mod_gen = p11_mod_gen(t->mod);
			t->gen++;
			t->pool = NULL;
			rc = locate(t, 1);
			if (rc == CMK_OK)
				rc = login_once(t, pin);
		}
		if (rc == CMK_OK && !t->pin) {
			t->pin = cmk_secure_alloc(SECMEM_PIN_CAP);
			if (t->pin)
				strcpy(t->pin, pin);
		}
		pthread_mutex_unlock(&t->lock);
		p11_mod_exclusive_end(t->mod);
	}
	return rc;
}

/* Called with the module exclusive and t->lock held: the module was
 * re-initialised (by us or by a token sharing it); sessions and object
 * handles are gone. */
static cmk_rc tok_reopen_locked(p11_tok *t)
{
	for (p11_sess *s = t->pool, *n; s; s = n) {
		n = s->next;
		free(s);
	}
	t->pool = NULL;
	t->nopen = 0;
	t->gen++;
	t->mod_gen = p11_mod_gen(t->mod);
	cmk_rc rc = locate(t, 1);
	if (rc == CMK_OK && t->pin)
		rc = login_once(t, t->pin);
	/* still unreachable: the next call tries again */
	t->lost = rc != CMK_OK;
	t->lost_gen = t->gen;
	return rc;
}

cmk_rc p11_tok_check_fork(p11_tok *t)
{
	unsigned g = p11_fork_gen();
	if (atomic_load_explicit(&t->forks, memory_order_acquire) == g)
		return CMK_OK;
	p11_mod_exclusive_begin(t->mod);
	cmk_rc rc = p11_mod_fork_check_excl(t->mod);
	pthread_mutex_lock(&t->lock);
	if (atomic_load(&t->forks) != g) {
		if (rc == CMK_OK)
			rc = tok_reopen_locked(t);
		if (rc == CMK_OK)
			atomic_store_explicit(&t->forks, g, memory_order_release);
	}
	pthread_mutex_unlock(&t->lock);
	p11_mod_exclusive_end(t->mod);
	return rc;
}

/* Runs with the module exclusive: no call of any thread is in flight while
 * the module is finalized and initialised again (docs/remote.md). */
cmk_rc p11_tok_recover(p11_tok *t, unsigned seen_gen)
{
	p11_mod_exclusive_begin(t->mod);
	pthread_mutex_lock(&t->lock);
	cmk_rc rc = CMK_OK;
	if (t->gen == seen_gen) {
		rc = p11_mod_reinit_excl(t->mod, t->mod_gen);
		if (rc == CMK_OK)
			rc = tok_reopen_locked(t);
		else
			cmk_err_prefix(rc, "%s", t->what);
	}
	pthread_mutex_unlock(&t->lock);
	p11_mod_exclusive_end(t->mod);
	return rc;
}

void p11_tok_close(p11_tok *t)
{
	if (!t)
		return;
	p11_modules_lock();
	for (p11_tok **pp = p11_mod_toks(t->mod); *pp; pp = &(*pp)->mod_next) {
		if (*pp == t) {
			*pp = t->mod_next;
			break;
		}
	}
	p11_modules_unlock();
	/* a child that never used the token leaves the parent's sessions */
	if (atomic_load(&t->forks) == p11_fork_gen() && !p11_exiting()) {
		for (p11_sess *s = t->pool; s; s = s->next)
			p11_C_CloseSession(t->mod, s->h);
	}
	for (p11_sess *s = t->pool, *n; s; s = n) {
		n = s->next;
		free(s);
	}
	cmk_secure_free(t->pin, SECMEM_PIN_CAP);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

p11_mod *p11_tok_mod(p11_tok *t)
{
	return t->mod;
}

/* The generation is only meaningful in the process that owns the sessions:
 * a child re-initialises first, so handles cached before fork are seen as
 * stale. */
unsigned p11_tok_gen(p11_tok *t)
{
	(void)p11_tok_check_fork(t);
	(void)p11_tok_check_module(t);
	pthread_mutex_lock(&t->lock);
	unsigned g = t->gen;
	pthread_mutex_unlock(&t->lock);
	return g;
}

/* Another token sharing the module re-initialised it: this token's
 * sessions, login and handles are gone too.  Reopen (without initialising
 * the module again) before any handle of the old generation is used. */
cmk_rc p11_tok_check_module(p11_tok *t)
{
	/* read together, under the lock a reopen holds: a generation read
	 * before another thread's reopen made this look moved, and the
	 * recovery then initialised the module again for nothing -- under
	 * other threads' changes (tests/reinit-race.sh) */
	pthread_mutex_lock(&t->lock);
	int moved = t->mod_gen != p11_mod_gen(t->mod);
	unsigned g = t->gen;
	pthread_mutex_unlock(&t->lock);
	return moved ? p11_tok_recover(t, g) : CMK_OK;
}

const char *p11_tok_what(const p11_tok *t)
{
	return t->name;
}

const char *p11_tok_where(const p11_tok *t)
{
	return t->what;
}

const char *p11_tok_label(const p11_tok *t)
{
	return t->label;
}

/* CKR_GENERAL_ERROR while other processes start on the token (SoftHSM
 * rewrites token.object at each login: docs/softhsm.md): initialised again
 * and asked again a few times, as locate() does. */
cmk_rc p11_tok_info(p11_tok *t, CK_TOKEN_INFO *info)
{
	CK_RV rv = CKR_OK;
	for (int attempt = 0; attempt < 4; attempt++) {
		if (attempt) {
			sleep_ms(20u << attempt);
			if (p11_tok_recover(t, p11_tok_gen(t)) != CMK_OK)
				break;
		}
		pthread_mutex_lock(&t->lock);
		CK_SLOT_ID slot = t->slot;
		pthread_mutex_unlock(&t->lock);
		rv = p11_C_GetTokenInfo(t->mod, slot, info);
		if (rv != CKR_GENERAL_ERROR)
			break;
	}
	if (rv != CKR_OK)
		return p11_fail(rv, t->what, "C_GetTokenInfo");
	return CMK_OK;
}
