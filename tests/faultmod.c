/*
 * faultmod.c - a fault-injecting PKCS#11 module for the tests.
 *
 * It loads the real module (CMK_FAULT_TARGET, default SoftHSM), hands out a
 * function list whose every function forwards to it, and fails, delays or
 * drops the replies of chosen functions at chosen call counts, as the
 * environment says:
 *
 *   CMK_FAULT='RULE,RULE,...'      RULE = FUNCTION:CALLS:ACTION
 *     FUNCTION  C_Login, C_CreateObject, ... (any PKCS#11 2.40 function)
 *     CALLS     N (the Nth call of FUNCTION in this process, from 1),
 *               N+ (the Nth and every later one), * (every call)
 *     ACTION    CKR_X          fail with CKR_X without calling the module
 *                              (the token is left as before the call)
 *               after=CKR_X    call the module, then answer CKR_X instead
 *                              of its success (the token changed: a reply
 *                              lost after the commit point)
 *               delay=Nms      call the module N ms later
 *               hold           create CMK_FAULT_MARK, then call the module
 *                              once the test has removed it (at most 60 s
 *                              later): the test changes the token while
 *                              the process is held exactly there
 *               signal=SIG     call the module, then send SIG (KILL,
 *                              TERM or INT) to this process: a kill at
 *                              exactly that point of a change
 *     CKR_BUFFER_TOO_SMALL on C_GetSlotList sets the count the module
 *     reports, as a module whose slot list grew between two calls does.
 *   CMK_FAULT_LOG=FILE     one line per injected fault: "FUNCTION N ACTION"
 *   CMK_FAULT_TRACE=FILE   one line per call: "FUNCTION N CKR_X"
 *   CMK_FAULT_MARK=FILE    created when a delay starts (a test then knows
 *                          the process is inside that call)
 *
 * Counts are per process: a child after fork() goes on counting from the
 * parent's numbers.  The module is what tests use in place of a token that
 * misbehaves (tests/faults-*.sh); it is never installed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#ifndef FAULT_DEFAULT_TARGET
#define FAULT_DEFAULT_TARGET "/usr/lib/softhsm/libsofthsm2.so"
#endif

#define FUNCS(X)                                                                                   \
	X(C_Initialize, (CK_VOID_PTR a), (a))                                                      \
	X(C_Finalize, (CK_VOID_PTR a), (a))                                                        \
	X(C_GetInfo, (CK_INFO_PTR a), (a))                                                         \
	X(C_GetSlotList, (CK_BBOOL a, CK_SLOT_ID_PTR b, CK_ULONG_PTR c), (a, b, c))                \
	X(C_GetSlotInfo, (CK_SLOT_ID a, CK_SLOT_INFO_PTR b), (a, b))                               \
	X(C_GetTokenInfo, (CK_SLOT_ID a, CK_TOKEN_INFO_PTR b), (a, b))                             \
	X(C_GetMechanismList, (CK_SLOT_ID a, CK_MECHANISM_TYPE_PTR b, CK_ULONG_PTR c), (a, b, c))  \
	X(C_GetMechanismInfo, (CK_SLOT_ID a, CK_MECHANISM_TYPE b, CK_MECHANISM_INFO_PTR c),        \
	  (a, b, c))                                                                               \
	X(C_InitToken, (CK_SLOT_ID a, CK_UTF8CHAR_PTR b, CK_ULONG c, CK_UTF8CHAR_PTR d),           \
	  (a, b, c, d))                                                                            \
	X(C_InitPIN, (CK_SESSION_HANDLE a, CK_UTF8CHAR_PTR b, CK_ULONG c), (a, b, c))              \
	X(C_SetPIN,                                                                                \
	  (CK_SESSION_HANDLE a, CK_UTF8CHAR_PTR b, CK_ULONG c, CK_UTF8CHAR_PTR d, CK_ULONG e),     \
	  (a, b, c, d, e))                                                                         \
	X(C_OpenSession,                                                                           \
	  (CK_SLOT_ID a, CK_FLAGS b, CK_VOID_PTR c, CK_NOTIFY d, CK_SESSION_HANDLE_PTR e),         \
	  (a, b, c, d, e))                                                                         \
	X(C_CloseSession, (CK_SESSION_HANDLE a), (a))                                              \
	X(C_CloseAllSessions, (CK_SLOT_ID a), (a))                                                 \
	X(C_GetSessionInfo, (CK_SESSION_HANDLE a, CK_SESSION_INFO_PTR b), (a, b))                  \
	X(C_GetOperationState, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c), (a, b, c))    \
	X(C_SetOperationState,                                                                     \
	  (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_OBJECT_HANDLE d,                     \
	   CK_OBJECT_HANDLE e),                                                                    \
	  (a, b, c, d, e))                                                                         \
	X(C_Login, (CK_SESSION_HANDLE a, CK_USER_TYPE b, CK_UTF8CHAR_PTR c, CK_ULONG d),           \
	  (a, b, c, d))                                                                            \
	X(C_Logout, (CK_SESSION_HANDLE a), (a))                                                    \
	X(C_CreateObject,                                                                          \
	  (CK_SESSION_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c, CK_OBJECT_HANDLE_PTR d),           \
	  (a, b, c, d))                                                                            \
	X(C_CopyObject,                                                                            \
	  (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c, CK_ULONG d,                \
	   CK_OBJECT_HANDLE_PTR e),                                                                \
	  (a, b, c, d, e))                                                                         \
	X(C_DestroyObject, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b), (a, b))                      \
	X(C_GetObjectSize, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ULONG_PTR c), (a, b, c))   \
	X(C_GetAttributeValue,                                                                     \
	  (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c, CK_ULONG d), (a, b, c, d)) \
	X(C_SetAttributeValue,                                                                     \
	  (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c, CK_ULONG d), (a, b, c, d)) \
	X(C_FindObjectsInit, (CK_SESSION_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c), (a, b, c))     \
	X(C_FindObjects,                                                                           \
	  (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE_PTR b, CK_ULONG c, CK_ULONG_PTR d), (a, b, c, d)) \
	X(C_FindObjectsFinal, (CK_SESSION_HANDLE a), (a))                                          \
	X(C_EncryptInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c), (a, b, c)) \
	X(C_Encrypt,                                                                               \
	  (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e),         \
	  (a, b, c, d, e))                                                                         \
	X(C_EncryptUpdate,                                                                         \
	  (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e),         \
	  (a, b, c, d, e))                                                                         \
	X(C_EncryptFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c), (a, b, c))         \
	X(C_DecryptInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c), (a, b, c)) \
	X(C_Decrypt,                                                                               \
	  (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e),         \
	  (a, b, c, d, e))                                                                         \
	X(C_DecryptUpdate,                                                                         \
	  (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e),         \
	  (a, b, c, d, e))                                                                         \
	X(C_DecryptFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c), (a, b, c))         \
	X(C_DigestInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b), (a, b))                         \
	X(C_Digest,                                                                                \
	  (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e),         \
	  (a, b, c, d, e))                                                                         \
	X(C_DigestUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c), (a, b, c))             \
	X(C_DigestKey, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b), (a, b))                          \
	X(C_DigestFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c), (a, b, c))          \
	X(C_SignInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c), (a, b, c))    \
	X(C_Sign, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e), \
	  (a, b, c, d, e))                                                                         \
	X(C_SignUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c), (a, b, c))               \
	X(C_SignFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c), (a, b, c))            \
	X(C_SignRecoverInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c),        \
	  (a, b, c))                                                                               \
	X(C_SignRecover,                                                                           \
	  (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e),         \
	  (a, b, c, d, e))                                                                         \
	X(C_VerifyInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c), (a, b, c))  \
	X(C_Verify, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG e),   \
	  (a, b, c, d, e))                                                                         \
	X(C_VerifyUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c), (a, b, c))             \
	X(C_VerifyFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c), (a, b, c))              \
	X(C_VerifyRecoverInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c),      \
	  (a, b, c))                                                                               \
	X(C_VerifyRecover,                                                                         \
	  (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e),         \
	  (a, b, c, d, e))                                                                         \
	X(C_DigestEncryptUpdate,                                                                   \
	  (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e),         \
	  (a, b, c, d, e))                                                                         \
	X(C_DecryptDigestUpdate,                                                                   \
	  (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e),         \
	  (a, b, c, d, e))                                                                         \
	X(C_SignEncryptUpdate,                                                                     \
	  (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e),         \
	  (a, b, c, d, e))                                                                         \
	X(C_DecryptVerifyUpdate,                                                                   \
	  (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e),         \
	  (a, b, c, d, e))                                                                         \
	X(C_GenerateKey,                                                                           \
	  (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_ATTRIBUTE_PTR c, CK_ULONG d,                \
	   CK_OBJECT_HANDLE_PTR e),                                                                \
	  (a, b, c, d, e))                                                                         \
	X(C_GenerateKeyPair,                                                                       \
	  (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_ATTRIBUTE_PTR c, CK_ULONG d,                \
	   CK_ATTRIBUTE_PTR e, CK_ULONG f, CK_OBJECT_HANDLE_PTR g, CK_OBJECT_HANDLE_PTR h),        \
	  (a, b, c, d, e, f, g, h))                                                                \
	X(C_WrapKey,                                                                               \
	  (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c, CK_OBJECT_HANDLE d,        \
	   CK_BYTE_PTR e, CK_ULONG_PTR f),                                                         \
	  (a, b, c, d, e, f))                                                                      \
	X(C_UnwrapKey,                                                                             \
	  (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c, CK_BYTE_PTR d, CK_ULONG e, \
	   CK_ATTRIBUTE_PTR f, CK_ULONG g, CK_OBJECT_HANDLE_PTR h),                                \
	  (a, b, c, d, e, f, g, h))                                                                \
	X(C_DeriveKey,                                                                             \
	  (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c, CK_ATTRIBUTE_PTR d,        \
	   CK_ULONG e, CK_OBJECT_HANDLE_PTR f),                                                    \
	  (a, b, c, d, e, f))                                                                      \
	X(C_SeedRandom, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c), (a, b, c))               \
	X(C_GenerateRandom, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c), (a, b, c))           \
	X(C_GetFunctionStatus, (CK_SESSION_HANDLE a), (a))                                         \
	X(C_CancelFunction, (CK_SESSION_HANDLE a), (a))                                            \
	X(C_WaitForSlotEvent, (CK_FLAGS a, CK_SLOT_ID_PTR b, CK_VOID_PTR c), (a, b, c))

#define ENUM(name, params, args) F_##name,
enum { FUNCS(ENUM) F_COUNT };
#define NAME(name, params, args) #name,
static const char *const names[F_COUNT] = { FUNCS(NAME) };

enum { A_FAIL, A_AFTER, A_DELAY, A_HOLD, A_SIGNAL };
struct rule {
	int fn;
	unsigned long from, to;
	int action;
	CK_RV rv;
	unsigned delay_ms;
};

#define MAX_RULES 32
static struct rule rules[MAX_RULES];
static int nrules;
static _Atomic unsigned long counts[F_COUNT];
static CK_FUNCTION_LIST *real;
static CK_FUNCTION_LIST list;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static const char *log_path, *trace_path, *mark_path;

#define R(x)          \
	{             \
#x, x \
	}
static const struct {
	const char *name;
	CK_RV rv;
} rvs[] = {
	R(CKR_OK),
	R(CKR_GENERAL_ERROR),
	R(CKR_FUNCTION_FAILED),
	R(CKR_HOST_MEMORY),
	R(CKR_DEVICE_ERROR),
	R(CKR_DEVICE_MEMORY),
	R(CKR_DEVICE_REMOVED),
	R(CKR_TOKEN_NOT_PRESENT),
	R(CKR_SESSION_HANDLE_INVALID),
	R(CKR_SESSION_CLOSED),
	R(CKR_CRYPTOKI_NOT_INITIALIZED),
	R(CKR_BUFFER_TOO_SMALL),
	R(CKR_PIN_INCORRECT),
	R(CKR_PIN_LOCKED),
	R(CKR_USER_NOT_LOGGED_IN),
	R(CKR_OBJECT_HANDLE_INVALID),
	R(CKR_KEY_HANDLE_INVALID),
	R(CKR_ENCRYPTED_DATA_INVALID),
	R(CKR_DATA_LEN_RANGE),
	R(CKR_ARGUMENTS_BAD),
	R(CKR_KEY_FUNCTION_NOT_PERMITTED),
	R(CKR_TEMPLATE_INCONSISTENT),
	R(CKR_ATTRIBUTE_VALUE_INVALID),
	R(CKR_FUNCTION_CANCELED),
	R(CKR_OPERATION_ACTIVE),
};
#undef R

static const char *rv_name(CK_RV rv)
{
	static _Thread_local char hex[32];
	for (size_t i = 0; i < sizeof rvs / sizeof rvs[0]; i++)
		if (rvs[i].rv == rv)
			return rvs[i].name;
	snprintf(hex, sizeof hex, "0x%lx", (unsigned long)rv);
	return hex;
}

static void die(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "faultmod: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static int parse_rv(const char *s, CK_RV *rv)
{
	for (size_t i = 0; i < sizeof rvs / sizeof rvs[0]; i++)
		if (strcmp(rvs[i].name, s) == 0) {
			*rv = rvs[i].rv;
			return 1;
		}
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 0);
	if (errno || end == s || *end)
		return 0;
	*rv = v;
	return 1;
}

static void parse_rule(char *r)
{
	char *fn = strtok(r, ":"), *calls = strtok(NULL, ":"), *act = strtok(NULL, "");
	struct rule *x = &rules[nrules];
	if (!fn || !calls || !act)
		die("rule '%s': want FUNCTION:CALLS:ACTION", r);
	if (nrules == MAX_RULES)
		die("more than %d rules", MAX_RULES);
	x->fn = -1;
	for (int i = 0; i < F_COUNT; i++)
		if (strcmp(names[i], fn) == 0)
			x->fn = i;
	if (x->fn < 0)
		die("unknown function '%s'", fn);
	size_t cl = strlen(calls);
	if (strcmp(calls, "*") == 0) {
		x->from = 1;
		x->to = ULONG_MAX;
	} else {
		char *end;
		x->from = strtoul(calls, &end, 10);
		x->to = cl && calls[cl - 1] == '+' ? ULONG_MAX : x->from;
		if (end == calls || x->from == 0 || (*end && strcmp(end, "+") != 0))
			die("%s: calls '%s': want N, N+ or *", fn, calls);
	}
	if (strncmp(act, "delay=", 6) == 0) {
		char *end;
		x->action = A_DELAY;
		x->delay_ms = (unsigned)strtoul(act + 6, &end, 10);
		if (end == act + 6 || (*end && strcmp(end, "ms") != 0))
			die("%s: '%s': want delay=Nms", fn, act);
	} else if (strcmp(act, "hold") == 0) {
		x->action = A_HOLD;
	} else if (strncmp(act, "signal=", 7) == 0) {
		x->action = A_SIGNAL;
		const char *sn = act + 7;
		x->rv = !strcmp(sn, "KILL")   ? SIGKILL
			: !strcmp(sn, "TERM") ? SIGTERM
			: !strcmp(sn, "INT")  ? SIGINT
					      : 0;
		if (!x->rv)
			die("%s: '%s': want signal=KILL, TERM or INT", fn, act);
	} else if (strncmp(act, "after=", 6) == 0) {
		x->action = A_AFTER;
		if (!parse_rv(act + 6, &x->rv))
			die("%s: unknown return value '%s'", fn, act + 6);
	} else {
		x->action = A_FAIL;
		if (!parse_rv(act, &x->rv))
			die("%s: unknown return value '%s'", fn, act);
	}
	nrules++;
}

static void note(const char *path, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	if (!path)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		if (write(fd, line, (size_t)n) != n)
			n = 0;
		close(fd);
	}
}

static void setup(void)
{
	const char *target = getenv("CMK_FAULT_TARGET");
	if (!target || !*target)
		target = FAULT_DEFAULT_TARGET;
	void *h = dlopen(target, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		die("cannot load %s: %s", target, dlerror());
	CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList");
	if (!get || get(&real) != CKR_OK || !real)
		die("%s has no function list", target);
	log_path = getenv("CMK_FAULT_LOG");
	trace_path = getenv("CMK_FAULT_TRACE");
	mark_path = getenv("CMK_FAULT_MARK");
	const char *spec = getenv("CMK_FAULT");
	if (spec && *spec) {
		char *copy = strdup(spec), *save = NULL;
		if (!copy)
			die("out of memory");
		for (char *r = strtok_r(copy, ",", &save); r; r = strtok_r(NULL, ",", &save))
			parse_rule(r);
		free(copy);
	}
	for (int i = 0; i < nrules; i++)
		if (rules[i].action == A_HOLD && !mark_path)
			die("hold needs CMK_FAULT_MARK");
}

/* Before the call: 1 with *rv set to fail without calling the module. */
static int before(int fn, unsigned long n, int *after, CK_RV *after_rv)
{
	*after = 0;
	for (int i = 0; i < nrules; i++) {
		struct rule *x = &rules[i];
		if (x->fn != fn || n < x->from || n > x->to)
			continue;
		if (x->action == A_DELAY) {
			note(log_path, "%s %lu delay=%ums\n", names[fn], n, x->delay_ms);
			note(mark_path, "%s %lu\n", names[fn], n);
			struct timespec ts = { x->delay_ms / 1000,
					       (long)(x->delay_ms % 1000) * 1000000L };
			while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
				;
		} else if (x->action == A_HOLD) {
			note(log_path, "%s %lu hold\n", names[fn], n);
			note(mark_path, "%s %lu\n", names[fn], n);
			for (int t = 0; t < 12000 && access(mark_path, F_OK) == 0; t++) {
				struct timespec ts = { 0, 5 * 1000 * 1000 };
				nanosleep(&ts, NULL);
			}
		} else if (x->action == A_AFTER) {
			*after = 1;
			*after_rv = x->rv;
		} else if (x->action == A_SIGNAL) {
			*after = 2;
			*after_rv = x->rv; /* the signal's number */
		} else {
			note(log_path, "%s %lu %s\n", names[fn], n, rv_name(x->rv));
			*after_rv = x->rv;
			return 1;
		}
	}
	return 0;
}

static CK_RV after_call(int fn, unsigned long n, int after, CK_RV frv, CK_RV rv)
{
	if (after == 2) {
		note(log_path, "%s %lu signal=%d\n", names[fn], n, (int)frv);
		note(trace_path, "%s %lu %s\n", names[fn], n, rv_name(rv));
		kill(getpid(), (int)frv);
		return rv;
	}
	if (after && rv == CKR_OK) {
		note(log_path, "%s %lu after=%s\n", names[fn], n, rv_name(frv));
		rv = frv;
	}
	note(trace_path, "%s %lu %s\n", names[fn], n, rv_name(rv));
	return rv;
}

#define WRAP(name, params, args)                                                 \
	__attribute__((unused)) static CK_RV f_##name params                     \
	{                                                                        \
		unsigned long n = atomic_fetch_add(&counts[F_##name], 1) + 1;    \
		int after;                                                       \
		CK_RV frv = CKR_OK;                                              \
		if (before(F_##name, n, &after, &frv)) {                         \
			note(trace_path, "%s %lu %s\n", #name, n, rv_name(frv)); \
			return frv;                                              \
		}                                                                \
		return after_call(F_##name, n, after, frv, real->name args);     \
	}
FUNCS(WRAP)

/* C_GetSlotList told CKR_BUFFER_TOO_SMALL reports a count larger than the
 * caller's buffer, as a module whose slot list grew since the size query. */
static CK_RV slot_list(CK_BBOOL present, CK_SLOT_ID_PTR slots, CK_ULONG_PTR count)
{
	unsigned long n = atomic_fetch_add(&counts[F_C_GetSlotList], 1) + 1;
	int after;
	CK_RV frv = CKR_OK;
	if (before(F_C_GetSlotList, n, &after, &frv)) {
		if (frv == CKR_BUFFER_TOO_SMALL && count) {
			CK_ULONG have = *count, real_n = 0;
			if (real->C_GetSlotList(present, NULL, &real_n) == CKR_OK)
				*count = (real_n > have ? real_n : have) + 1;
		}
		note(trace_path, "C_GetSlotList %lu %s\n", n, rv_name(frv));
		return frv;
	}
	return after_call(F_C_GetSlotList, n, after, frv,
			  real->C_GetSlotList(present, slots, count));
}

static void build_list(void)
{
	setup();
	list.version = real->version;
#define INSTALL(name, params, args) list.name = real->name ? f_##name : NULL;
	FUNCS(INSTALL)
#undef INSTALL
	list.C_GetSlotList = slot_list;
	list.C_GetFunctionList = C_GetFunctionList;
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out)
{
	if (!out)
		return CKR_ARGUMENTS_BAD;
	pthread_once(&once, build_list);
	*out = &list;
	return CKR_OK;
}
