/* module.c - loading and initialising PKCS#11 modules through p11-kit.
 *
 * A module is loaded once per process and shared (reference counted) by
 * every vault that names it, so one vault closing never finalizes a module
 * another still uses.  C_Initialize always asks for OS locking.
 *
 * Remote tokens (docs/remote.md): p11-kit-client.so reads the server
 * address from $P11_KIT_SERVER_ADDRESS once, in C_GetFunctionList, and each
 * call makes a new connection state; so the variable is set just for the
 * load, under the registry lock, and put back after. */
#include "config.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <stdatomic.h>
#include <openssl/err.h>
#include <p11-kit/p11-kit.h>
#include "p11/p11_int.h"
#include "util/err.h"

struct p11_mod {
	CK_FUNCTION_LIST *real; /* the module's own: called through gate.c */
	char spec[512];
	char init_reserved[1024];
	char server[512]; /* p11-kit server address; "" for a local module */
	int refs;
	unsigned forks;	      /* fork generation (fork.c) of the last C_Initialize */
	_Atomic unsigned gen; /* bumped by each re-initialisation */
	struct p11_mod *next;
	p11_tok *toks; /* the open tokens, for fork.c */
	/* the gate (p11_mod_enter): calls in flight, and a re-initialisation
	 * that waits for them or runs alone */
	pthread_mutex_t gate_mu;
	pthread_cond_t gate_cv;
	unsigned calls;
	int closed;
	pthread_t owner; /* the thread holding it exclusive, when closed */
	/* remote modules: one call at a time (p11_mod_enter) */
	int serial;
	int live; /* the last C_Initialize succeeded */
	pthread_mutex_t call_mu;
	/* creating token objects apart from searching them (objects_apart) */
	int objs_apart;
	pthread_rwlock_t objs_lock;
};

/* The modules lock (p11_int.h) guards the registry, each module's refs and
 * token list.  Loading (C_Initialize of a new module) and the last unref
 * (C_Finalize) run under it, so fork() (fork.c, which takes it first) never
 * copies a process in the middle of either; re-initialisations run under
 * the module's exclusive gate only. */
static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;

void p11_modules_lock(void)
{
	pthread_mutex_lock(&modules_lock);
}

void p11_modules_unlock(void)
{
	pthread_mutex_unlock(&modules_lock);
}

/* At process exit a module's own destructors (SoftHSM's C++ statics) may
 * run before an application's atexit handler closes its cmk contexts; from
 * then on no PKCS#11 call is safe.  A handler registered right after the
 * first module load runs before those destructors (handlers run in reverse
 * order) and tells the close paths to release memory only. */
static atomic_int exiting;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void mark_exiting(void)
{
	atomic_store(&exiting, 1);
}

static void register_exit(void)
{
	atexit(mark_exiting);
}

int p11_exiting(void)
{
	return atomic_load(&exiting);
}
static p11_mod *registry;

static void mod_finalize(p11_mod *m)
{
	p11_sig_block();
	CK_RV rv = m->real->C_Finalize(NULL);
	p11_sig_restore();
	if (p11_tracing())
		p11_trace(m, "C_Finalize", rv, -1);
}

static CK_RV mod_initialize(p11_mod *m)
{
	CK_C_INITIALIZE_ARGS args;
	memset(&args, 0, sizeof args);
	args.flags = CKF_OS_LOCKING_OK;
	args.pReserved = m->init_reserved[0] ? m->init_reserved : NULL;
	/* SoftHSM's C_Initialize leaves OpenSSL ENGINE errors behind */
	ERR_set_mark();
	p11_sig_block(); /* SoftHSM writes the token here (fork.c) */
	CK_RV rv = m->real->C_Initialize(&args);
	p11_sig_restore();
	ERR_pop_to_mark();
	if (p11_tracing())
		p11_trace(m, "C_Initialize", rv, -1);
	if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED)
		rv = CKR_OK; /* another part of this process did it */
	if (rv == CKR_OK)
		m->forks = p11_fork_gen();
	m->live = rv == CKR_OK;
	return rv;
}

/* SoftHSM 2.6 makes a token object's file before it writes the object into
 * it, outside its locks.  A C_FindObjectsInit of another thread of the
 * process meanwhile refreshes every object, reads the new file empty and
 * marks the object invalid: the creation (C_CreateObject, C_CopyObject,
 * C_GenerateKey, C_GenerateKeyPair) fails with CKR_GENERAL_ERROR or
 * CKR_TEMPLATE_INCONSISTENT and leaves an empty data object on the token,
 * and the search may hand out the half-written object (SoftHSMv2 issue
 * #573, fixed after its last release; tests/create-race.c shows it).  On
 * such a module a creation runs alone against this process's searches,
 * which run together.  Other processes are not affected: each reads the
 * files into objects of its own.  Other modules need nothing; an HSM's key
 * generation can take a second, during which the process's searches would
 * wait. */
static int objects_apart(p11_mod *m)
{
	CK_INFO info;
	return m->real->C_GetInfo && m->real->C_GetInfo(&info) == CKR_OK &&
	       memcmp(info.manufacturerID, "SoftHSM", 7) == 0;
}

int p11_mod_objects_lock(p11_mod *m, int how)
{
	if (!m->objs_apart)
		return 0;
	if (how == P11_OBJS_CREATE)
		pthread_rwlock_wrlock(&m->objs_lock);
	else
		pthread_rwlock_rdlock(&m->objs_lock);
	return 1;
}

void p11_mod_objects_unlock(p11_mod *m)
{
	pthread_rwlock_unlock(&m->objs_lock);
}

/* p11-kit's client writes its requests with write(2): a server that went
 * away would kill the process with SIGPIPE instead of failing the call with
 * CKR_DEVICE_ERROR.  A process that uses a remote token therefore ignores
 * SIGPIPE, unless the application installed a handler of its own. */
static void ignore_sigpipe(void)
{
	struct sigaction old, ign;
	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	if (sigaction(SIGPIPE, NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) &&
	    old.sa_handler == SIG_DFL)
		sigaction(SIGPIPE, &ign, NULL);
}

/* Called with the modules lock held, so no two loads race on the variable. */
static CK_FUNCTION_LIST *load_client(const char *path, const char *server)
{
	const char *var = "P11_KIT_SERVER_ADDRESS";
	const char *cur = getenv(var);
	char *saved = cur ? strdup(cur) : NULL;
	int change = !cur || strcmp(cur, server) != 0;
	if (change && setenv(var, server, 1) != 0) {
		free(saved);
		return NULL;
	}
	CK_FUNCTION_LIST *fn =
		p11_kit_module_load(path, P11_KIT_MODULE_UNMANAGED | P11_KIT_MODULE_CRITICAL);
	if (change) {
		if (saved)
			setenv(var, saved, 1);
		else
			unsetenv(var);
	}
	free(saved);
	return fn;
}

static cmk_rc load_by_path(const char *path, const char *server, CK_FUNCTION_LIST **fn)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return cmk_err(CMK_E_MODULE, "PKCS#11 module %s: %s", path, strerror(errno));
	*fn = server[0] ? load_client(path, server)
			: p11_kit_module_load(path,
					      P11_KIT_MODULE_UNMANAGED | P11_KIT_MODULE_CRITICAL);
	if (!*fn)
		return cmk_err(CMK_E_MODULE, "PKCS#11 module %s cannot be loaded: %s", path,
			       p11_kit_message() ? p11_kit_message() : "not a PKCS#11 module");
	return CMK_OK;
}

/* One pass over p11-kit's configured modules, loaded with `flags`. */
static void find_named(const char *name, int flags, CK_FUNCTION_LIST **fn, char *init_reserved,
		       size_t cap, char *server, size_t server_cap)
{
	CK_FUNCTION_LIST **all = p11_kit_modules_load(NULL, flags);
	for (size_t i = 0; all && all[i]; i++) {
		char *n = p11_kit_module_get_name(all[i]);
		int match = n && strcmp(n, name) == 0;
		free(n);
		if (match && !*fn) {
			*fn = all[i];
			if (!init_reserved[0]) {
				char *opt = p11_kit_config_option(all[i], "x-init-reserved");
				if (opt && strlen(opt) < cap)
					strcpy(init_reserved, opt);
				free(opt);
			}
			char *remote = p11_kit_config_option(all[i], "remote");
			if (remote)
				snprintf(server, server_cap, "%s", remote);
			free(remote);
		} else {
			p11_kit_module_release(all[i]);
		}
	}
	free(all);
}

/* A p11-kit module name from its configuration (p11-kit(8) pkcs11.conf).
 * A configuration with "remote:" is a remote token, its address kept in
 * `server` for messages; p11-kit offers those only as managed modules (its
 * own RPC client behind the function list), so they are looked for in a
 * second, managed pass.  (p11-kit reads no user module configuration in a
 * process running as root: docs/remote.md.) */
static cmk_rc load_by_name(const char *name, CK_FUNCTION_LIST **fn, char *init_reserved, size_t cap,
			   char *server, size_t server_cap)
{
	*fn = NULL;
	find_named(name, P11_KIT_MODULE_UNMANAGED, fn, init_reserved, cap, server, server_cap);
	if (!*fn)
		find_named(name, 0, fn, init_reserved, cap, server, server_cap);
	if (!*fn)
		return cmk_err(
			CMK_E_MODULE,
			"PKCS#11 module '%s' is neither a file nor a p11-kit module name%s%s", name,
			p11_kit_message() ? ": " : "", p11_kit_message() ? p11_kit_message() : "");
	return CMK_OK;
}

cmk_rc p11_mod_load(const char *spec, const char *init_reserved, p11_mod **out)
{
	return p11_mod_load_at(spec, init_reserved, NULL, out);
}

cmk_rc p11_mod_load_at(const char *spec, const char *init_reserved, const char *server,
		       p11_mod **out)
{
	return_if_fail(spec && *spec && out);
	if (!init_reserved)
		init_reserved = "";
	if (!server)
		server = "";
	if (strlen(spec) >= sizeof((p11_mod *)0)->spec ||
	    strlen(init_reserved) >= sizeof((p11_mod *)0)->init_reserved ||
	    strlen(server) >= sizeof((p11_mod *)0)->server)
		return cmk_err(CMK_E_CONFIG,
			       "PKCS#11 module name, init string or server address too long");

	p11_modules_lock();
	for (p11_mod *m = registry; m; m = m->next) {
		/* a named module's server comes from its configuration */
		int same_server =
			strcmp(m->server, server) == 0 || (!server[0] && !strchr(spec, '/'));
		if (strcmp(m->spec, spec) == 0 && strcmp(m->init_reserved, init_reserved) == 0 &&
		    same_server) {
			m->refs++;
			p11_modules_unlock();
			*out = m;
			return CMK_OK;
		}
	}
	p11_mod *m = calloc(1, sizeof *m);
	cmk_rc rc;
	if (!m) {
		rc = cmk_err(CMK_E_NOMEM, "out of memory");
		goto fail;
	}
	strcpy(m->spec, spec);
	strcpy(m->init_reserved, init_reserved);
	strcpy(m->server, server);
	pthread_mutex_init(&m->gate_mu, NULL);
	pthread_cond_init(&m->gate_cv, NULL);
	pthread_mutex_init(&m->call_mu, NULL);
	pthread_rwlockattr_t ra;
	pthread_rwlockattr_init(&ra);
	/* searches come often: a creation waiting must not wait for ever */
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&m->objs_lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	atomic_init(&m->gen, 0);
	rc = strchr(spec, '/') ? load_by_path(spec, server, &m->real)
			       : load_by_name(spec, &m->real, m->init_reserved,
					      sizeof m->init_reserved, m->server, sizeof m->server);
	if (rc != CMK_OK)
		goto fail;
	if (m->server[0]) {
		ignore_sigpipe();
		m->serial = 1;
	}
	CK_RV rv = mod_initialize(m);
	if (rv != CKR_OK) {
		char diag[1200]; /* SoftHSM: an unreadable token directory, say (softhsm_diag.c) */
		p11_softhsm_diag(spec, diag, sizeof diag);
		rc = cmk_err(CMK_E_MODULE, "PKCS#11 module %s%s%s: C_Initialize failed: %s%s", spec,
			     m->server[0] ? " for p11-kit server " : "", m->server, p11_rv_name(rv),
			     diag);
		p11_kit_module_release(m->real);
		goto fail;
	}
	m->objs_apart = !m->serial && objects_apart(m);
	pthread_once(&exit_once, register_exit);
	m->refs = 1;
	m->next = registry;
	registry = m;
	p11_modules_unlock();
	p11_fork_register();
	*out = m;
	return CMK_OK;
fail:
	p11_modules_unlock();
	free(m);
	return rc;
}

void p11_mod_unref(p11_mod *m)
{
	if (!m)
		return;
	p11_modules_lock();
	if (--m->refs > 0) {
		p11_modules_unlock();
		return;
	}
	for (p11_mod **pp = &registry; *pp; pp = &(*pp)->next) {
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	}
	/* at exit the module may be half torn down: leave it.  A child that
	 * never used the module leaves the parent's state alone. */
	if (!p11_exiting()) {
		if (m->forks == p11_fork_gen() && m->live)
			mod_finalize(m);
		p11_kit_module_release(m->real);
	}
	p11_modules_unlock();
	free(m);
}

CK_FUNCTION_LIST *p11_mod_real(p11_mod *m)
{
	return m->real;
}

const char *p11_mod_name(const p11_mod *m)
{
	return m->spec;
}

const char *p11_mod_server(const p11_mod *m)
{
	return m->server;
}

/* After fork() the child must initialise the module again (PKCS#11 v3.0
 * section 5.4: the child's state is undefined until then); a dead remote
 * connection needs the same.  Runs with the module exclusive: no call of
 * any thread is in flight.  Not under the modules lock: a re-initialisation
 * (a p11-kit server that does not answer) may take long. */
static cmk_rc mod_reinit_excl(p11_mod *m)
{
	/* not after a failed C_Initialize (p11-kit's client complains) */
	if (m->live || m->forks != p11_fork_gen())
		mod_finalize(m);
	CK_RV rv = mod_initialize(m);
	atomic_fetch_add(&m->gen, 1);
	if (rv != CKR_OK)
		return cmk_err(
			p11_rv_lost(rv) ? CMK_E_TOKEN : CMK_E_MODULE,
			"PKCS#11 module %s%s%s: C_Initialize failed on re-initialisation: %s",
			m->spec, m->server[0] ? " for p11-kit server " : "", m->server,
			p11_rv_name(rv));
	return CMK_OK;
}

/*
 * The gate.  Every PKCS#11 call on a module runs between p11_mod_enter()
 * and p11_mod_leave() (gate.c wraps the function list); a
 * re-initialisation closes the gate, waits until no call is in flight, and
 * runs alone; its own calls pass.  C_Finalize while another thread is inside
 * a call is undefined (PKCS#11 3.0 section 5.4), and p11-kit's client then
 * hangs for ever in the other thread's call.  fork() closes every gate the
 * same way (fork.c), so no thread is inside a module when the process is
 * copied.  Lock order: modules lock, the fork hooks' locks (fork.c),
 * exclusive gate, token lock.
 *
 * On a remote module the gate also lets one call in at a time.  p11-kit's
 * client multiplexes the threads of a process on one connection, which the
 * server's p11-kit-remote serves one call at a time anyway; but when the
 * connection breaks under several waiting threads, 0.24's client leaves
 * some of them waiting for ever (rpc_socket_read returns with its read lock
 * held on a failed first read).  With one call in flight that cannot happen.
 */

/* A thread's borrowed sessions, per module (p11_mod_borrow).  A thread
 * uses few modules at once; past BORROW_SLOTS its borrows are not held
 * (the calls then go through the gate one by one, as before borrows held
 * it). */
#define BORROW_SLOTS 8
static _Thread_local struct borrow {
	p11_mod *m;
	unsigned n;  /* sessions of m this thread holds */
	int counted; /* they count as one call in flight (not so for the
	                re-initialising thread's own) */
} borrows[BORROW_SLOTS];

static struct borrow *my_borrow(p11_mod *m, int make)
{
	struct borrow *free_slot = NULL;
	for (int i = 0; i < BORROW_SLOTS; i++) {
		if (borrows[i].n && borrows[i].m == m)
			return &borrows[i];
		if (!borrows[i].n && !free_slot)
			free_slot = &borrows[i];
	}
	if (!make || !free_slot)
		return NULL;
	free_slot->m = m;
	free_slot->n = 0;
	return free_slot;
}

/* One call in flight (or borrowed session) fewer; a re-initialisation
 * waiting for the last one is woken. */
static void call_done(p11_mod *m)
{
	pthread_mutex_lock(&m->gate_mu);
	if (m->calls)
		m->calls--;
	if (!m->calls && m->closed)
		pthread_cond_broadcast(&m->gate_cv);
	pthread_mutex_unlock(&m->gate_mu);
}

int p11_mod_borrowed(p11_mod *m)
{
	return my_borrow(m, 0) != NULL;
}

/* A borrowed session holds the gate as a call in flight does, from
 * p11_sess_get() to p11_sess_put(): a re-initialisation or fork() waits
 * until every session is given back, so the calls of one operation
 * (C_FindObjectsInit ... C_FindObjectsFinal, C_DecryptInit + C_Decrypt,
 * a search and the reads of what it found) all run in one generation of
 * the module.  Without it a re-initialisation between two of them left the
 * thread with a session number that the module had given to another
 * thread's new session (SoftHSM numbers them again from 1), and object
 * numbers that named other objects (tests/reinit-race.sh).  The borrowing
 * thread's own calls pass a gate that is closing: it is what the
 * re-initialisation waits for. */
int p11_mod_borrow(p11_mod *m)
{
	struct borrow *b = my_borrow(m, 1);
	if (!b)
		return 0;
	if (b->n++)
		return 1;
	pthread_mutex_lock(&m->gate_mu);
	if (m->closed && pthread_equal(m->owner, pthread_self())) {
		b->counted = 0; /* the re-initialisation's own */
	} else {
		while (m->closed)
			pthread_cond_wait(&m->gate_cv, &m->gate_mu);
		m->calls++;
		b->counted = 1;
	}
	pthread_mutex_unlock(&m->gate_mu);
	return 1;
}

void p11_mod_unborrow(p11_mod *m)
{
	struct borrow *b = my_borrow(m, 0);
	if (!b || --b->n)
		return;
	if (!b->counted)
		return;
	call_done(m);
}

/* What p11_mod_leave() undoes: GATE_COUNTED a call in flight (and the
 * remote module's call lock), GATE_SERIAL the call lock only (a thread
 * holding a borrowed session), 0 nothing (the exclusive holder). */
enum { GATE_NONE = 0, GATE_COUNTED = 1, GATE_SERIAL = 2 };

int p11_mod_enter(p11_mod *m)
{
	if (my_borrow(m, 0)) {
		if (m->serial) {
			pthread_mutex_lock(&m->call_mu);
			return GATE_SERIAL;
		}
		return GATE_NONE;
	}
	pthread_mutex_lock(&m->gate_mu);
	if (m->closed && pthread_equal(m->owner, pthread_self())) {
		pthread_mutex_unlock(&m->gate_mu);
		return GATE_NONE;
	}
	while (m->closed)
		pthread_cond_wait(&m->gate_cv, &m->gate_mu);
	m->calls++;
	pthread_mutex_unlock(&m->gate_mu);
	if (m->serial)
		pthread_mutex_lock(&m->call_mu);
	return GATE_COUNTED;
}

void p11_mod_leave(p11_mod *m, int how)
{
	if (how == GATE_NONE)
		return;
	if (m->serial)
		pthread_mutex_unlock(&m->call_mu);
	if (how == GATE_SERIAL)
		return;
	call_done(m);
}

/* Waits until no call is in flight and no session is borrowed.  A thread
 * that holds borrowed sessions itself does not wait for them (it would
 * wait for ever); the layer never re-initialises from inside a borrow
 * (p11_sess_get() skips its checks for a second session). */
void p11_mod_exclusive_begin(p11_mod *m)
{
	struct borrow *b = my_borrow(m, 0);
	unsigned own = b && b->counted ? 1 : 0;
	pthread_mutex_lock(&m->gate_mu);
	while (m->closed)
		pthread_cond_wait(&m->gate_cv, &m->gate_mu);
	m->closed = 1;
	m->owner = pthread_self();
	while (m->calls > own)
		pthread_cond_wait(&m->gate_cv, &m->gate_mu);
	pthread_mutex_unlock(&m->gate_mu);
}

void p11_mod_exclusive_end(p11_mod *m)
{
	pthread_mutex_lock(&m->gate_mu);
	m->closed = 0;
	pthread_cond_broadcast(&m->gate_cv);
	pthread_mutex_unlock(&m->gate_mu);
}

/* In the child after fork(): only the forking thread exists, and it held
 * the gate exclusive (fork.c); start with an open, empty gate. */
void p11_mod_fork_child(p11_mod *m)
{
	pthread_mutex_init(&m->gate_mu, NULL);
	pthread_cond_init(&m->gate_cv, NULL);
	pthread_mutex_init(&m->call_mu, NULL);
	m->calls = 0;
	m->closed = 0;
}

cmk_rc p11_mod_reinit_excl(p11_mod *m, unsigned seen)
{
	if (atomic_load(&m->gen) == seen || m->forks != p11_fork_gen() || !m->live)
		return mod_reinit_excl(m);
	return CMK_OK;
}

cmk_rc p11_mod_reinit(p11_mod *m, unsigned seen)
{
	p11_mod_exclusive_begin(m);
	cmk_rc rc = p11_mod_reinit_excl(m, seen);
	p11_mod_exclusive_end(m);
	return rc;
}

/* With the module exclusive: initialise again when this process is a child
 * that has not yet done so since its fork. */
cmk_rc p11_mod_fork_check_excl(p11_mod *m)
{
	if (m->forks == p11_fork_gen())
		return CMK_OK;
	return mod_reinit_excl(m);
}

unsigned p11_mod_gen(p11_mod *m)
{
	return atomic_load(&m->gen);
}

p11_mod *p11_mod_next(p11_mod *m)
{
	return m ? m->next : registry;
}

p11_tok **p11_mod_toks(p11_mod *m)
{
	return &m->toks;
}
