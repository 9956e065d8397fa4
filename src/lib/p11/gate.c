/* gate.c - every PKCS#11 call cmk makes goes through one function here,
 * p11_C_X(module, args...) (calls.h), which
 *  - enters the module's gate (p11_mod_enter) and leaves it after, so that
 *    a re-initialisation (after fork, a lost connection, a token another
 *    process confused) and fork() itself (fork.c) run with no call of any
 *    thread in flight: C_Finalize under a call in flight is undefined
 *    (PKCS#11 3.0 section 5.4) and p11-kit's client then hangs in the
 *    other thread's call; on a remote module one call runs at a time
 *    (module.c);
 *  - blocks the termination signals around the calls that write the token
 *    (signals.c);
 *  - on a module whose object creation breaks under a concurrent search
 *    (SoftHSM), runs the calls that create token objects alone against
 *    those that search them (module.c, p11_mod_objects_lock);
 *  - with CMK_DEBUG=p11 in the environment, writes each call and its
 *    return value to stderr (never its arguments: PINs, keys and data
 *    stay out of logs).
 * A borrowed session holds the gate too, from p11_sess_get() to
 * p11_sess_put() (module.c, p11_mod_borrow): the calls of one operation
 * run in one generation of the module.  So the layer keeps a session only
 * for one operation, and a thread holding one may borrow a second. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "p11/p11_int.h"
#include "util/err.h"

static int tracing = -1;
static pthread_once_t trace_once = PTHREAD_ONCE_INIT;

/* CMK_DEBUG is a comma- or space-separated list of topics; "p11" traces
 * the PKCS#11 calls, "all" everything. */
static void trace_init(void)
{
	const char *e = getenv("CMK_DEBUG");
	int on = 0;
	while (e && *e) {
		size_t n = strcspn(e, ", ");
		if ((n == 3 && strncmp(e, "p11", 3) == 0) || (n == 3 && strncmp(e, "all", 3) == 0))
			on = 1;
		e += n;
		e += strspn(e, ", ");
	}
	tracing = on;
}

int p11_tracing(void)
{
	pthread_once(&trace_once, trace_init);
	return tracing;
}

void p11_trace(p11_mod *m, const char *call, CK_RV rv, double ms)
{
	if (ms < 0)
		fprintf(stderr, "cmk: p11: %s: %s = %s\n", p11_mod_name(m), call, p11_rv_name(rv));
	else
		fprintf(stderr, "cmk: p11: %s: %s = %s (%.3f ms)\n", p11_mod_name(m), call,
			p11_rv_name(rv), ms);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* objs: 0, or P11_OBJS_SEARCH / P11_OBJS_CREATE (p11_mod_objects_lock) */
#define CALL(name, args, writes, objs)                              \
	{                                                           \
		CK_FUNCTION_LIST *real = p11_mod_real(m);           \
		if (!real->name)                                    \
			return CKR_FUNCTION_NOT_SUPPORTED;          \
		int trace = p11_tracing();                          \
		double t0 = trace ? now_ms() : 0;                   \
		int counted = p11_mod_enter(m);                     \
		if (writes)                                         \
			p11_sig_block();                            \
		int locked = objs && p11_mod_objects_lock(m, objs); \
		CK_RV rv = real->name args;                         \
		if (locked)                                         \
			p11_mod_objects_unlock(m);                  \
		if (writes)                                         \
			p11_sig_restore();                          \
		p11_mod_leave(m, counted);                          \
		if (trace)                                          \
			p11_trace(m, #name, rv, now_ms() - t0);     \
		return rv;                                          \
	}
#define DEFINE(name, params, args)   CK_RV p11_##name P11_WITH_MOD params CALL(name, args, 0, 0)
#define DEFINE_W(name, params, args) CK_RV p11_##name P11_WITH_MOD params CALL(name, args, 1, 0)
#define DEFINE_C(name, params, args) \
	CK_RV p11_##name P11_WITH_MOD params CALL(name, args, 1, P11_OBJS_CREATE)
#define DEFINE_F(name, params, args) \
	CK_RV p11_##name P11_WITH_MOD params CALL(name, args, 0, P11_OBJS_SEARCH)

P11_CALLS(DEFINE, DEFINE_W, DEFINE_C, DEFINE_F)
