/*
 * torture.c - N processes x M threads on one vault, with invariants checked
 * while they run and at the end (issue 10; docs/design.md, "Testing the
 * promises").  Run by tests/torture.sh in `make check` (60 s); the long form is
 *
 *     make torture TORTURE_ARGS='--minutes 10 --procs 4 --threads 2 [--kills]'
 *
 * (a fresh lab, from build/), or on a lab of your own (`cmk lab init LAB`):
 *
 *     CMK_CONF=LAB/cmk.conf SOFTHSM2_CONF=LAB/softhsm2.conf \
 *         build/tests/torture --minutes 10 --procs 4 --threads 2
 *
 * (the PIN from LAB/pin; the provider from the build tree unless
 * OPENSSL_MODULES says where cmk.so is).
 *
 * What the workers do, each thread picking at random: wrap and unwrap
 * (libcmk), decrypt through OpenSSL with the cmk provider loaded, enable and
 * disable keys and versions, rotate, delete and recover, `key set` (a tag),
 * access policy set/remove, resource put/get/set-key.  With --kills a
 * supervisor sends SIGKILL, SIGTERM or SIGINT to random workers at random
 * instants and starts them again.
 *
 * Invariants (each a "violation NAME COUNT" line; exit 1 when any is not 0):
 *   no-key-lost        every version whose rotate returned (never purged:
 *                      the test does not purge) keeps its record and at
 *                      least one private key on the token (CKA_ID = the
 *                      version, or the version + 'A' for an archive copy;
 *                      counted with a raw C_FindObjects by a checker process
 *                      every second, and at the end);
 *   disable-refused    right after a disable (or delete) returns, a raw C_DecryptInit on
 *                      every private key object with that CKA_ID is refused
 *                      (skipped, and counted, when an enable or recover of the
 *                      same key or version was in flight or started meanwhile); at
 *                      the end no object of an unusable version may decrypt;
 *   no-integrity-alarm no operation returns CMK_E_INTEGRITY;
 *   no-lost-update     each register (a version's and a key's enabled flag,
 *                      a key's deleted state, a version's tag, a policy, a
 *                      resource object, a resource's customer key) ends with
 *                      the value of a change that no successful change
 *                      started after it returned (changes that failed or
 *                      were killed may or may not have happened);
 *   no-wrong-data      unwrap gives back the wrapped DEK; every resource
 *                      object reads back (after the final repair: recover,
 *                      enable) with a value some put wrote;
 *   usable-at-end      after the repair every version wraps and unwraps;
 *   audit-verify       cmk_audit_verify passes at the end;
 *   no-token-lost      token.object is never emptied by a kill (SoftHSM 2.6
 *                      rewrites it in place on C_Login): by a SIGTERM or
 *                      SIGINT always a violation (libcmk holds them back
 *                      while any thread writes the token); by a SIGKILL
 *                      repaired and counted, a violation only with
 *                      --strict-token (or CMK_TOKEN_LOSS=fail) until labs
 *                      survive it.
 * The verdict depends on counted events, never on timing margins: a check
 * that could race with a legitimate concurrent change is skipped and
 * counted, never failed.
 *
 * Raw PKCS#11 runs in processes of its own (a checker, and one prober per
 * worker), never in a process that uses libcmk: two users of one SoftHSM
 * instance in one process would finalize each other.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/store.h>
#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>

#include "cmk.h"

/* ------------------------------------------------------------ the model */

enum kind {
	K_WRAP,
	K_UNWRAP,
	K_PROV,
	K_VER_DIS,
	K_VER_EN,
	K_KEY_DIS,
	K_KEY_EN,
	K_ROTATE,
	K_DELETE,
	K_RECOVER,
	K_KEYSET,
	K_POLICY,
	K_RES_PUT,
	K_RES_GET,
	K_RES_SETKEY,
	K_N
};
static const char *kind_name[K_N] = {
	"wrap",	       "unwrap",     "provider-decrypt", "version-disable", "version-enable",
	"key-disable", "key-enable", "rotate",		 "delete",	    "recover",
	"key-set",     "policy",     "resource-put",	 "resource-get",    "resource-set-key",
};
static const int kind_weight[K_N] = { 10, 14, 8, 8, 8, 4, 4, 2, 1, 3, 4, 4, 5, 6, 2 };

enum viol {
	V_LOST_KEY,
	V_NOT_REFUSED,
	V_INTEGRITY,
	V_LOST_UPDATE,
	V_WRONG_DATA,
	V_UNUSABLE,
	V_AUDIT,
	V_TOKEN_LOST,
	V_N
};
static const char *viol_name[V_N] = {
	"no-key-lost",	 "disable-refused", "no-integrity-alarm", "no-lost-update",
	"no-wrong-data", "usable-at-end",   "audit-verify",	  "no-token-lost",
};

#define MAXKEYS	    8
#define MAXVER	    512
#define VER_PER_KEY 10
#define MAXW	    (1 << 17)
#define MAXSLOTS    256
#define NIDENT	    4
#define NRES	    2
#define NOBJ	    4
#define NRC	    32
#define ANY	    INT64_MIN /* a register value that matches anything */

/* registers: what the lost-update check compares */
enum { R_VER_EN = 1, R_KEY_EN, R_KEY_DEL, R_VER_TAG, R_POLICY, R_OBJ, R_RESKEY };
#define REG(t, a, b) (((t) << 24) | ((a) << 12) | (b))

enum { WS_PENDING, WS_OK, WS_MAYBE };

struct version {
	_Atomic int ready;
	int key;
	char hex[CMK_VERSION_LEN + 1];
	_Atomic int lost; /* reported lost */
};

struct wlog {
	_Atomic int status;
	int reg;
	int64_t val;
	int64_t t0, t1; /* CLOCK_MONOTONIC ns: call made, call returned */
	pid_t pid;
};

struct slot { /* an enable in flight, for the cleanup of a kill */
	_Atomic pid_t pid;
	_Atomic int what; /* 0, 1 key enable (idx key), 2 version enable (idx version) */
	_Atomic int idx;
};

struct shm {
	_Atomic uint64_t ops[K_N], errs[K_N][NRC], viol[V_N];
	_Atomic uint64_t refusal_checks, refusal_skipped, kills[3], restarts, hangs, token_lost,
		zero_seen, dup_seen, checker_rounds;
	_Atomic int nver;
	struct version ver[MAXVER];
	_Atomic int nw;
	struct wlog w[MAXW];
	_Atomic uint64_t en_started_k[MAXKEYS], en_started_v[MAXVER];
	_Atomic int en_active_k[MAXKEYS], en_active_v[MAXVER];
	struct slot slot[MAXSLOTS];
	_Atomic int64_t seq; /* values written by puts and tags */
	_Atomic int stop;
	_Atomic int printed;
	_Atomic int msg_taken[K_N][NRC];
	char msg[K_N][NRC][160]; /* the first message of each error kind */
};

static struct shm *S;
static unsigned res_tag; /* resources are new in each run: tr<i>-<pid> */

/* options */
static int o_seconds = 60, o_procs = 2, o_threads = 2, o_keys = 3, o_kills;
static int o_provider = 1, o_strict_token, o_verbose;
static unsigned o_seed;
static const char *o_conf, *o_pin_file, *o_res_dir;
static char vault[64], module_path[512], token_label[64], pin[256];
static char tokobj_path[PATH_MAX];
static unsigned char *tokobj_copy;
static size_t tokobj_len;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One line to stdout with a single write (many processes share it). */
__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof buf - 2)
		n = sizeof buf - 2;
	buf[n++] = '\n';
	if (write(1, buf, (size_t)n) < 0)
		return;
}

__attribute__((format(printf, 2, 3))) static void violation(enum viol v, const char *fmt, ...)
{
	char buf[900];
	va_list ap;
	atomic_fetch_add(&S->viol[v], 1);
	if (atomic_fetch_add(&S->printed, 1) >= 40)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	say("# VIOLATION %s: %s", viol_name[v], buf);
}

static void count(enum kind k, cmk_rc rc)
{
	atomic_fetch_add(&S->ops[k], 1);
	if (rc != CMK_OK) {
		int i = rc < NRC ? rc : NRC - 1;
		atomic_fetch_add(&S->errs[k][i], 1);
		if (k != K_PROV && !atomic_exchange(&S->msg_taken[k][i], 1))
			snprintf(S->msg[k][i], sizeof S->msg[k][i], "%s", cmk_last_error());
	}
	if (rc == CMK_E_INTEGRITY)
		violation(V_INTEGRITY, "%s: %s", kind_name[k], cmk_last_error());
}

/* xorshift64*, one per thread */
static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static unsigned rndn(uint64_t *s, unsigned n)
{
	return n ? (unsigned)(rnd(s) % n) : 0;
}

static void key_name(int k, char out[16])
{
	snprintf(out, 16, "t%d", k);
}

/* ------------------------------------------------------ the change log */

static int wlog_begin(int reg, int64_t val)
{
	int i = atomic_fetch_add(&S->nw, 1);
	if (i >= MAXW)
		return -1;
	struct wlog *w = &S->w[i];
	w->reg = reg;
	w->val = val;
	w->pid = getpid();
	w->t0 = now_ns();
	w->t1 = INT64_MAX;
	atomic_store(&w->status, WS_PENDING);
	return i;
}

static void wlog_end(int i, cmk_rc rc)
{
	if (i < 0)
		return;
	S->w[i].t1 = now_ns();
	atomic_store(&S->w[i].status, rc == CMK_OK ? WS_OK : WS_MAYBE);
}

/* Writes of a process that died: they may or may not have happened. */
static void wlog_reap(pid_t pid)
{
	int n = atomic_load(&S->nw);
	int64_t t = now_ns();
	for (int i = 0; i < n && i < MAXW; i++)
		if (S->w[i].pid == pid && atomic_load(&S->w[i].status) == WS_PENDING) {
			S->w[i].t1 = t;
			atomic_store(&S->w[i].status, WS_MAYBE);
		}
}

/* The lost-update check of one register against its final value. */
static void wlog_check(int reg, int64_t final, const char *what)
{
	int n = atomic_load(&S->nw), any = 0, allowed = 0, nw = 0;
	int64_t last_ok_start = INT64_MIN;
	if (n > MAXW)
		n = MAXW;
	for (int i = 0; i < n; i++)
		if (S->w[i].reg == reg && S->w[i].status == WS_OK && S->w[i].t0 > last_ok_start)
			last_ok_start = S->w[i].t0;
	for (int i = 0; i < n; i++) {
		struct wlog *w = &S->w[i];
		if (w->reg != reg)
			continue;
		nw++;
		/* superseded: a successful change began after this one returned */
		if (last_ok_start > w->t1)
			continue;
		if (w->val == ANY)
			any = 1;
		if (w->val == final)
			allowed = 1;
	}
	if (nw == 0 || any || allowed)
		return;
	/* the newest successful change, for the report */
	int64_t want = 0;
	for (int i = 0; i < n; i++)
		if (S->w[i].reg == reg && S->w[i].status == WS_OK && S->w[i].t0 == last_ok_start)
			want = S->w[i].val;
	violation(V_LOST_UPDATE,
		  "%s is %lld at the end, but the last successful change (of %d) wrote %lld", what,
		  (long long) final, nw, (long long)want);
}

/* ------------------------------------------------- raw PKCS#11 (no libcmk) */

struct raw {
	CK_FUNCTION_LIST *fn;
	CK_SESSION_HANDLE sh;
};

static int raw_open(struct raw *r)
{
	memset(r, 0, sizeof *r);
	r->fn = p11_kit_module_load(module_path, P11_KIT_MODULE_UNMANAGED);
	if (!r->fn)
		return -1;
	CK_C_INITIALIZE_ARGS ia;
	memset(&ia, 0, sizeof ia);
	ia.flags = CKF_OS_LOCKING_OK;
	CK_RV rv = r->fn->C_Initialize(&ia);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
		return -1;
	for (int attempt = 0; attempt < 50; attempt++) {
		CK_SLOT_ID slots[16];
		CK_ULONG ns = 16;
		if (r->fn->C_GetSlotList(CK_TRUE, slots, &ns) == CKR_OK) {
			for (CK_ULONG s = 0; s < ns; s++) {
				CK_TOKEN_INFO ti;
				char label[33];
				if (r->fn->C_GetTokenInfo(slots[s], &ti) != CKR_OK)
					continue;
				memcpy(label, ti.label, 32);
				label[32] = '\0';
				for (int i = 31; i >= 0 && label[i] == ' '; i--)
					label[i] = '\0';
				if (strcmp(label, token_label) != 0)
					continue;
				if (r->fn->C_OpenSession(slots[s], CKF_SERIAL_SESSION, NULL, NULL,
							 &r->sh) != CKR_OK)
					break;
				rv = r->fn->C_Login(r->sh, CKU_USER, (CK_UTF8CHAR *)pin,
						    strlen(pin));
				if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
					return 0;
				r->fn->C_CloseSession(r->sh);
				break;
			}
		}
		/* SoftHSM with several processes starting at once: try again */
		r->fn->C_Finalize(NULL);
		usleep(100000);
		if (r->fn->C_Initialize(&ia) != CKR_OK)
			return -1;
	}
	return -1;
}

static void raw_close(struct raw *r)
{
	if (!r->fn)
		return;
	r->fn->C_CloseSession(r->sh);
	r->fn->C_Finalize(NULL);
	p11_kit_module_release(r->fn);
	r->fn = NULL;
}

static void unhex16(const char *hex, CK_BYTE out[16])
{
	for (int i = 0; i < 16; i++) {
		unsigned b = 0;
		sscanf(hex + 2 * i, "%2x", &b);
		out[i] = (CK_BYTE)b;
	}
}

/* The private key objects of a version: CKA_ID = the version (the key, or
 * its working copy) or the version followed by 'A' (its archive copy:
 * docs/design.md, "Key versions on the token"); -1 on a token error. */
static int raw_privs(struct raw *r, const char *hex, CK_OBJECT_HANDLE *h, int cap)
{
	CK_BYTE id[17];
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	int total = 0;
	unhex16(hex, id);
	id[16] = 'A';
	for (CK_ULONG len = 16; len <= 17; len++) {
		CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_ID, id, len } };
		CK_ULONG got = 0;
		if (r->fn->C_FindObjectsInit(r->sh, t, 2) != CKR_OK)
			return -1;
		CK_RV rv = r->fn->C_FindObjects(r->sh, h + total, (CK_ULONG)(cap - total), &got);
		r->fn->C_FindObjectsFinal(r->sh);
		if (rv != CKR_OK)
			return -1;
		total += (int)got;
	}
	return total;
}

/* 1 if the token lets the object start a decryption, 0 if it refuses. */
static int raw_permits(struct raw *r, CK_OBJECT_HANDLE h)
{
	CK_RSA_PKCS_OAEP_PARAMS p = { CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0 };
	CK_MECHANISM m = { CKM_RSA_PKCS_OAEP, &p, sizeof p };
	if (r->fn->C_DecryptInit(r->sh, &m, h) != CKR_OK)
		return 0;
	/* end the operation: a zero block is no valid OAEP ciphertext */
	CK_BYTE in[512], out[512];
	CK_ULONG outlen = sizeof out;
	memset(in, 0, sizeof in);
	CK_RV rv = r->fn->C_Decrypt(r->sh, in, 256, out, &outlen);
	if (rv == CKR_BUFFER_TOO_SMALL || rv == CKR_OK)
		r->fn->C_DecryptInit(r->sh, NULL, h); /* cancel (PKCS#11 3.0) */
	return 1;
}

/* ----------------------------------------------- the prober of a worker */

#define PROBE_MAX 32
struct probe_req {
	int n;
	char hex[PROBE_MAX][CMK_VERSION_LEN + 1];
};
struct probe_resp {
	int err;
	int objs[PROBE_MAX], permitted[PROBE_MAX];
};

static void prober_main(int fd)
{
	struct raw r;
	struct probe_req q;
	struct probe_resp a;
	int up = raw_open(&r) == 0;
	for (;;) {
		ssize_t n = read(fd, &q, sizeof q);
		if (n != (ssize_t)sizeof q)
			break;
		memset(&a, 0, sizeof a);
		a.err = !up;
		for (int i = 0; up && i < q.n && i < PROBE_MAX; i++) {
			CK_OBJECT_HANDLE h[8];
			int c = raw_privs(&r, q.hex[i], h, 8);
			if (c < 0) {
				a.err = 1;
				break;
			}
			a.objs[i] = c;
			for (int j = 0; j < c; j++)
				a.permitted[i] += raw_permits(&r, h[j]);
		}
		if (write(fd, &a, sizeof a) != (ssize_t)sizeof a)
			break;
	}
	if (up)
		raw_close(&r);
	_exit(0);
}

static int probe_fd = -1;
static pthread_mutex_t probe_mu = PTHREAD_MUTEX_INITIALIZER;

static int probe(const struct probe_req *q, struct probe_resp *a)
{
	pthread_mutex_lock(&probe_mu);
	int good = write(probe_fd, q, sizeof *q) == (ssize_t)sizeof *q &&
		   read(probe_fd, a, sizeof *a) == (ssize_t)sizeof *a && !a->err;
	pthread_mutex_unlock(&probe_mu);
	return good;
}

/* ------------------------------------------------------- version table */

static int ver_add(int key, const char *hex)
{
	int i = atomic_fetch_add(&S->nver, 1);
	if (i >= MAXVER)
		return -1;
	S->ver[i].key = key;
	snprintf(S->ver[i].hex, sizeof S->ver[i].hex, "%s", hex);
	atomic_store(&S->ver[i].ready, 1);
	return i;
}

static int ver_count(int key)
{
	int n = atomic_load(&S->nver), c = 0;
	for (int i = 0; i < n && i < MAXVER; i++)
		if (atomic_load(&S->ver[i].ready) && S->ver[i].key == key)
			c++;
	return c;
}

/* a random known version of key `key`, -1 if none */
static int ver_pick(uint64_t *rs, int key)
{
	int c = ver_count(key);
	if (!c)
		return -1;
	int want = (int)rndn(rs, (unsigned)c), n = atomic_load(&S->nver);
	for (int i = 0; i < n && i < MAXVER; i++)
		if (atomic_load(&S->ver[i].ready) && S->ver[i].key == key && want-- == 0)
			return i;
	return -1;
}

static int ver_find(const char *hex)
{
	int n = atomic_load(&S->nver);
	for (int i = 0; i < n && i < MAXVER; i++)
		if (atomic_load(&S->ver[i].ready) && strcmp(S->ver[i].hex, hex) == 0)
			return i;
	return -1;
}

/* ------------------------------------------------------------- workers */

struct wrapped {
	uint8_t blob[1024];
	size_t len;
	uint8_t dek[32];
};

struct thr {
	cmk_ctx *ctx;
	int slot;
	uint64_t rs;
	struct wrapped ring[8];
	int nring;
	EVP_PKEY *pkey[MAXKEYS];
	cmk_resource_params rp;
};

static void enable_begin(struct thr *t, int what, int idx)
{
	if (what == 1)
		atomic_fetch_add(&S->en_active_k[idx], 1),
			atomic_fetch_add(&S->en_started_k[idx], 1);
	else
		atomic_fetch_add(&S->en_active_v[idx], 1),
			atomic_fetch_add(&S->en_started_v[idx], 1);
	struct slot *s = &S->slot[t->slot];
	atomic_store(&s->idx, idx);
	atomic_store(&s->what, what);
}

static void enable_end(struct thr *t, int what, int idx)
{
	atomic_store(&S->slot[t->slot].what, 0);
	if (what == 1)
		atomic_fetch_sub(&S->en_active_k[idx], 1);
	else
		atomic_fetch_sub(&S->en_active_v[idx], 1);
}

/* After a disable (or delete) returned: every private key object of the
 * version (or of every version of the key) must refuse to decrypt -- unless
 * an enable of the same version (key; a recover counts) was in flight when
 * the change began (a0) or started since (the counter moved from s0): then
 * the check is skipped and counted. */
static void refusal_after(int key, int vidx, uint64_t s0, int a0, const char *what)
{
	struct probe_req q;
	struct probe_resp a;
	memset(&q, 0, sizeof q);
	if (vidx >= 0) {
		strcpy(q.hex[q.n++], S->ver[vidx].hex);
	} else {
		int n = atomic_load(&S->nver);
		for (int i = 0; i < n && i < MAXVER && q.n < PROBE_MAX; i++)
			if (atomic_load(&S->ver[i].ready) && S->ver[i].key == key)
				strcpy(q.hex[q.n++], S->ver[i].hex);
	}
	if (!probe(&q, &a)) {
		say("# prober failed after `%s`", what);
		atomic_fetch_add(&S->refusal_skipped, 1);
		return;
	}
	uint64_t s1 = vidx >= 0 ? atomic_load(&S->en_started_v[vidx])
				: atomic_load(&S->en_started_k[key]);
	if (a0 != 0 || s1 != s0) {
		atomic_fetch_add(&S->refusal_skipped, 1);
		return;
	}
	atomic_fetch_add(&S->refusal_checks, 1);
	for (int i = 0; i < q.n; i++)
		if (a.permitted[i])
			violation(V_NOT_REFUSED,
				  "after `%s` returned, %d of %d private key objects "
				  "with id %s still decrypt on the token",
				  what, a.permitted[i], a.objs[i], q.hex[i]);
}

static void op_disable(struct thr *t, int key, int vidx)
{
	char name[16], what[80];
	key_name(key, name);
	uint64_t s0 = vidx >= 0 ? atomic_load(&S->en_started_v[vidx])
				: atomic_load(&S->en_started_k[key]);
	int a0 = vidx >= 0 ? atomic_load(&S->en_active_v[vidx]) : atomic_load(&S->en_active_k[key]);
	int reg = vidx >= 0 ? REG(R_VER_EN, vidx, 0) : REG(R_KEY_EN, key, 0);
	int w = wlog_begin(reg, 0);
	cmk_rc rc = cmk_key_set_enabled(t->ctx, name, vidx >= 0 ? S->ver[vidx].hex : NULL, 0);
	wlog_end(w, rc);
	count(vidx >= 0 ? K_VER_DIS : K_KEY_DIS, rc);
	if (rc != CMK_OK)
		return;
	snprintf(what, sizeof what, "disable %s%s%s", name, vidx >= 0 ? "/" : "",
		 vidx >= 0 ? S->ver[vidx].hex : "");
	refusal_after(key, vidx, s0, a0, what);
}

static void op_enable(struct thr *t, int key, int vidx)
{
	char name[16];
	key_name(key, name);
	int what = vidx >= 0 ? 2 : 1, i = vidx >= 0 ? vidx : key;
	int reg = vidx >= 0 ? REG(R_VER_EN, vidx, 0) : REG(R_KEY_EN, key, 0);
	enable_begin(t, what, i);
	int w = wlog_begin(reg, 1);
	cmk_rc rc = cmk_key_set_enabled(t->ctx, name, vidx >= 0 ? S->ver[vidx].hex : NULL, 1);
	wlog_end(w, rc);
	enable_end(t, what, i);
	count(vidx >= 0 ? K_VER_EN : K_KEY_EN, rc);
}

static void op_wrap(struct thr *t, int key)
{
	char name[16];
	key_name(key, name);
	struct wrapped wr;
	RAND_bytes(wr.dek, sizeof wr.dek);
	wr.len = sizeof wr.blob;
	cmk_rc rc = cmk_wrap(t->ctx, name, CMK_ALG_RSA_OAEP_256, wr.dek, sizeof wr.dek, wr.blob,
			     &wr.len);
	count(K_WRAP, rc);
	if (rc == CMK_OK)
		t->ring[t->nring++ % 8] = wr;
	cmk_wipe(&wr, sizeof wr);
}

static void op_unwrap(struct thr *t)
{
	int have = t->nring < 8 ? t->nring : 8;
	if (!have)
		return;
	struct wrapped *wr = &t->ring[rndn(&t->rs, (unsigned)have)];
	uint8_t dek[512];
	size_t len = sizeof dek;
	char kid[CMK_KID_MAX];
	cmk_rc rc = cmk_unwrap(t->ctx, wr->blob, wr->len, dek, &len, kid);
	count(K_UNWRAP, rc);
	if (rc == CMK_OK && (len != sizeof wr->dek || memcmp(dek, wr->dek, len) != 0))
		violation(V_WRONG_DATA, "unwrap with %s gave another DEK", kid);
	cmk_wipe(dek, sizeof dek);
}

static EVP_PKEY *store_load(const char *uri)
{
	OSSL_STORE_CTX *s = OSSL_STORE_open(uri, NULL, NULL, NULL, NULL);
	EVP_PKEY *k = NULL;
	while (s && !k && !OSSL_STORE_eof(s)) {
		OSSL_STORE_INFO *info = OSSL_STORE_load(s);
		if (info && OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
			k = OSSL_STORE_INFO_get1_PKEY(info);
		OSSL_STORE_INFO_free(info);
	}
	OSSL_STORE_close(s);
	return k;
}

static EVP_PKEY_CTX *oaep256(EVP_PKEY *k, int decrypt)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
	if (!c || (decrypt ? EVP_PKEY_decrypt_init(c) : EVP_PKEY_encrypt_init(c)) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md_name(c, "SHA256", NULL) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md_name(c, "SHA256", NULL) <= 0) {
		EVP_PKEY_CTX_free(c);
		return NULL;
	}
	return c;
}

/* A decryption through OpenSSL and the cmk provider: no rc, only "failed";
 * a failure that says the metadata fails authentication is an alarm. */
static void op_provider(struct thr *t, int key)
{
	char uri[CMK_KID_MAX];
	snprintf(uri, sizeof uri, "cmk://%s/keys/t%d", vault, key);
	if (!t->pkey[key] || rndn(&t->rs, 10) == 0) {
		EVP_PKEY_free(t->pkey[key]);
		t->pkey[key] = store_load(uri);
	}
	int good = 0;
	unsigned char dek[32], ct[512], pt[512];
	size_t ctlen = sizeof ct, ptlen = sizeof pt;
	RAND_bytes(dek, sizeof dek);
	if (t->pkey[key]) {
		EVP_PKEY_CTX *c = oaep256(t->pkey[key], 0);
		if (c && EVP_PKEY_encrypt(c, ct, &ctlen, dek, sizeof dek) > 0) {
			EVP_PKEY_CTX_free(c);
			c = oaep256(t->pkey[key], 1);
			good = c && EVP_PKEY_decrypt(c, pt, &ptlen, ct, ctlen) > 0;
			if (good && (ptlen != sizeof dek || memcmp(pt, dek, ptlen) != 0))
				violation(V_WRONG_DATA,
					  "provider decryption with %s gave other bytes", uri);
		}
		EVP_PKEY_CTX_free(c);
	}
	char msg[256] = "";
	unsigned long e;
	while ((e = ERR_get_error()) != 0)
		if (!msg[0])
			ERR_error_string_n(e, msg, sizeof msg);
	count(K_PROV, good ? CMK_OK : CMK_E_INTERNAL);
	if (!good && !atomic_exchange(&S->msg_taken[K_PROV][CMK_E_INTERNAL], 1))
		snprintf(S->msg[K_PROV][CMK_E_INTERNAL], sizeof S->msg[K_PROV][CMK_E_INTERNAL],
			 "%s", msg);
	if (!good && (strstr(msg, "authentic") || strstr(msg, "integrity")))
		violation(V_INTEGRITY, "provider decrypt with %s: %s", uri, msg);
	if (!good && o_verbose)
		say("# provider decrypt with %s failed: %s", uri, msg);
	cmk_wipe(pt, sizeof pt);
}

static void op_rotate(struct thr *t, int key)
{
	if (ver_count(key) >= VER_PER_KEY) {
		op_wrap(t, key);
		return;
	}
	char name[16], ver[CMK_VERSION_LEN + 1];
	key_name(key, name);
	int64_t t0 = now_ns();
	cmk_rc rc = cmk_key_rotate(t->ctx, name, NULL, ver);
	count(K_ROTATE, rc);
	if (rc != CMK_OK)
		return;
	int v = ver_add(key, ver);
	if (v < 0)
		return;
	/* the version's registers start here: enabled, tags inherited */
	int w = wlog_begin(REG(R_VER_EN, v, 0), 1);
	if (w >= 0)
		S->w[w].t0 = t0;
	wlog_end(w, CMK_OK);
	w = wlog_begin(REG(R_VER_TAG, v, 0), ANY);
	if (w >= 0)
		S->w[w].t0 = t0;
	wlog_end(w, CMK_OK);
}

static void op_delete(struct thr *t, int key, int del)
{
	char name[16];
	key_name(key, name);
	uint64_t s0 = atomic_load(&S->en_started_k[key]);
	int a0 = atomic_load(&S->en_active_k[key]);
	if (!del)
		enable_begin(t, 1, key); /* a recover may make versions usable */
	int w = wlog_begin(REG(R_KEY_DEL, key, 0), del);
	cmk_rc rc = del ? cmk_key_delete(t->ctx, name) : cmk_key_recover(t->ctx, name);
	wlog_end(w, rc);
	if (!del)
		enable_end(t, 1, key);
	count(del ? K_DELETE : K_RECOVER, rc);
	if (del && rc == CMK_OK) {
		char what[32];
		snprintf(what, sizeof what, "delete %s", name);
		refusal_after(key, -1, s0, a0, what);
	}
}

static void op_keyset(struct thr *t, int key)
{
	int v = ver_pick(&t->rs, key);
	if (v < 0)
		return;
	char name[16];
	key_name(key, name);
	int64_t n = atomic_fetch_add(&S->seq, 1) + 1;
	cmk_tag tag;
	memset(&tag, 0, sizeof tag);
	strcpy(tag.key, "t");
	snprintf(tag.value, sizeof tag.value, "%lld", (long long)n);
	cmk_key_update u;
	memset(&u, 0, sizeof u);
	u.set_tags = 1;
	u.tags = &tag;
	u.ntags = 1;
	int w = wlog_begin(REG(R_VER_TAG, v, 0), n);
	cmk_rc rc = cmk_key_update_attrs(t->ctx, name, S->ver[v].hex, &u);
	wlog_end(w, rc);
	count(K_KEYSET, rc);
}

static void op_policy(struct thr *t)
{
	int id = (int)rndn(&t->rs, NIDENT);
	char ident[16];
	snprintf(ident, sizeof ident, "p%d", id);
	cmk_rc rc;
	if (rndn(&t->rs, 4) == 0) {
		int w = wlog_begin(REG(R_POLICY, id, 0), -1);
		rc = cmk_policy_remove(t->ctx, ident);
		wlog_end(w, rc == CMK_E_NOT_FOUND ? CMK_OK : rc);
		if (rc == CMK_E_NOT_FOUND)
			rc = CMK_OK; /* nothing to remove: documented */
	} else {
		unsigned perms = (unsigned)(rnd(&t->rs) & CMK_PERM_DEFAULT);
		if (!perms)
			perms = CMK_PERM_GET;
		int w = wlog_begin(REG(R_POLICY, id, 0), perms);
		rc = cmk_policy_set(t->ctx, ident, perms);
		wlog_end(w, rc);
	}
	count(K_POLICY, rc);
}

static int obj_parse(const uint8_t *d, size_t len, int r, int o, int64_t *n)
{
	char buf[128], want[64];
	long long v;
	if (len >= sizeof buf)
		return 0;
	memcpy(buf, d, len);
	buf[len] = '\0';
	snprintf(want, sizeof want, "torture r%d o%d n", r, o);
	if (strncmp(buf, want, strlen(want)) != 0 || sscanf(buf + strlen(want), "%lld", &v) != 1)
		return 0;
	*n = v;
	return 1;
}

static void op_resource(struct thr *t, enum kind k)
{
	int r = (int)rndn(&t->rs, NRES), o = (int)rndn(&t->rs, NOBJ);
	char rname[16], oname[16];
	snprintf(rname, sizeof rname, "tr%d-%u", r, res_tag);
	snprintf(oname, sizeof oname, "o%d", o);
	cmk_resource *res = NULL;
	cmk_rc rc = cmk_resource_open(t->ctx, &t->rp, rname, &res);
	if (rc != CMK_OK) {
		count(k, rc);
		return;
	}
	if (k == K_RES_PUT) {
		int64_t n = atomic_fetch_add(&S->seq, 1) + 1;
		char data[64];
		int len = snprintf(data, sizeof data, "torture r%d o%d n%lld", r, o, (long long)n);
		int w = wlog_begin(REG(R_OBJ, r, o), n);
		rc = cmk_resource_put(res, oname, (const uint8_t *)data, (size_t)len);
		wlog_end(w, rc);
	} else if (k == K_RES_GET) {
		uint8_t *d = NULL;
		size_t len = 0;
		int64_t n;
		rc = cmk_resource_get(res, oname, &d, &len);
		if (rc == CMK_OK && !obj_parse(d, len, r, o, &n))
			violation(V_WRONG_DATA,
				  "resource %s object %s reads back as %zu other bytes", rname,
				  oname, len);
		cmk_free(d);
	} else {
		int c = (int)rndn(&t->rs, (unsigned)o_keys + 1); /* 0: service-managed */
		int w = wlog_begin(REG(R_RESKEY, r, 0), c);
		if (c == 0) {
			rc = cmk_resource_set_service_managed(res);
		} else {
			char kid[CMK_KID_MAX];
			snprintf(kid, sizeof kid, "cmk://%s/keys/t%d", vault, c - 1);
			rc = cmk_resource_set_key(res, kid);
		}
		wlog_end(w, rc);
	}
	cmk_resource_close(res);
	count(k, rc);
}

static enum kind pick_kind(uint64_t *rs)
{
	int total = 0;
	for (int k = 0; k < K_N; k++)
		total += kind_weight[k];
	int x = (int)rndn(rs, (unsigned)total);
	for (int k = 0; k < K_N; k++)
		if ((x -= kind_weight[k]) < 0)
			return (enum kind)k;
	return K_WRAP;
}

static void *worker_thread(void *arg)
{
	struct thr *t = arg;
	while (!atomic_load(&S->stop)) {
		enum kind k = pick_kind(&t->rs);
		int key = (int)rndn(&t->rs, (unsigned)o_keys);
		int v;
		switch (k) {
		case K_WRAP: op_wrap(t, key); break;
		case K_UNWRAP:
			if (t->nring)
				op_unwrap(t);
			else
				op_wrap(t, key);
			break;
		case K_PROV:
			if (o_provider)
				op_provider(t, key);
			break;
		case K_VER_DIS:
			if ((v = ver_pick(&t->rs, key)) >= 0)
				op_disable(t, key, v);
			break;
		case K_VER_EN:
			if ((v = ver_pick(&t->rs, key)) >= 0)
				op_enable(t, key, v);
			break;
		case K_KEY_DIS: op_disable(t, key, -1); break;
		case K_KEY_EN: op_enable(t, key, -1); break;
		case K_ROTATE: op_rotate(t, key); break;
		case K_DELETE: op_delete(t, key, 1); break;
		case K_RECOVER: op_delete(t, key, 0); break;
		case K_KEYSET: op_keyset(t, key); break;
		case K_POLICY: op_policy(t); break;
		case K_RES_PUT:
		case K_RES_GET:
		case K_RES_SETKEY: op_resource(t, k); break;
		default: break;
		}
	}
	for (int k = 0; k < MAXKEYS; k++)
		EVP_PKEY_free(t->pkey[k]);
	return NULL;
}

static int open_ctx(cmk_ctx **ctx)
{
	cmk_rc rc = CMK_OK;
	/* SoftHSM with several processes starting at once: libcmk retries;
	 * a token emptied by a kill is repaired by the supervisor */
	for (int i = 0; i < 20; i++) {
		if ((rc = cmk_open(ctx, o_conf, NULL, NULL)) == CMK_OK)
			return 0;
		usleep(250000);
	}
	say("# cmk_open in process %d: %s: %s", (int)getpid(), cmk_rc_name(rc), cmk_last_error());
	return -1;
}

static void worker_main(int wi, unsigned gen)
{
	int sv[2];
	signal(SIGPIPE, SIG_IGN);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		_exit(2);
	pid_t pp = fork();
	if (pp == 0) {
		close(sv[0]);
		prober_main(sv[1]);
	}
	close(sv[1]);
	probe_fd = sv[0];
	if (o_provider) {
		if (!OSSL_PROVIDER_load(NULL, "default") || !OSSL_PROVIDER_load(NULL, "cmk")) {
			say("# worker %d: the cmk provider does not load (OPENSSL_MODULES=%s)", wi,
			    getenv("OPENSSL_MODULES") ? getenv("OPENSSL_MODULES") : "unset");
			_exit(2);
		}
	}
	cmk_ctx *ctx;
	if (open_ctx(&ctx) != 0)
		_exit(3);
	pthread_t th[MAXSLOTS];
	struct thr *t = calloc((size_t)o_threads, sizeof *t);
	if (!t)
		_exit(2);
	for (int i = 0; i < o_threads; i++) {
		t[i].ctx = ctx;
		t[i].slot = wi * o_threads + i;
		t[i].rs = ((uint64_t)o_seed << 32) ^
			  ((uint64_t)t[i].slot * 7919 + gen * 104729 + 1) ^ 0x9E3779B97F4A7C15ULL;
		t[i].rp.dir = o_res_dir;
		atomic_store(&S->slot[t[i].slot].pid, getpid());
		if (pthread_create(&th[i], NULL, worker_thread, &t[i]) != 0)
			_exit(2);
	}
	for (int i = 0; i < o_threads; i++)
		pthread_join(th[i], NULL);
	free(t);
	cmk_close(ctx);
	close(probe_fd);
	waitpid(pp, NULL, 0);
	_exit(0);
}

/* --------------------------------------------------- the checker process */

static void checker_main(void)
{
	struct raw r;
	int zero[MAXVER];
	memset(zero, 0, sizeof zero);
	if (raw_open(&r) != 0) {
		say("# checker: cannot open the token");
		_exit(2);
	}
	while (!atomic_load(&S->stop)) {
		int n = atomic_load(&S->nver);
		for (int i = 0; i < n && i < MAXVER && !atomic_load(&S->stop); i++) {
			if (!atomic_load(&S->ver[i].ready))
				continue;
			CK_OBJECT_HANDLE h[8];
			int c = raw_privs(&r, S->ver[i].hex, h, 8);
			if (c < 0)
				continue; /* token busy or being repaired: next round */
			if (c > 2)	  /* more than a working and an archive copy */
				atomic_fetch_add(&S->dup_seen, 1);
			if (c > 0) {
				zero[i] = 0;
				continue;
			}
			atomic_fetch_add(&S->zero_seen, 1);
			/* gone for 3 rounds (3 s) in a row: lost, not in flight */
			if (++zero[i] == 3 && !atomic_exchange(&S->ver[i].lost, 1))
				violation(V_LOST_KEY,
					  "version t%d/%s has no private key on the token "
					  "(3 checks, 1 s apart)",
					  S->ver[i].key, S->ver[i].hex);
		}
		atomic_fetch_add(&S->checker_rounds, 1);
		for (int i = 0; i < 10 && !atomic_load(&S->stop); i++)
			usleep(100000);
	}
	raw_close(&r);
	_exit(0);
}

/* ----------------------------------------------------- token.object guard */

static void tokobj_find(void)
{
	const char *conf = getenv("SOFTHSM2_CONF");
	char line[PATH_MAX + 64], dir[PATH_MAX] = "";
	FILE *f = conf ? fopen(conf, "r") : NULL;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, " directories.tokendir = %4095s", dir) == 1)
			break;
	if (f)
		fclose(f);
	if (!dir[0])
		return;
	char cmd[PATH_MAX + 64];
	snprintf(cmd, sizeof cmd, "ls -d %s/*/token.object 2>/dev/null", dir);
	FILE *p = popen(cmd, "r");
	if (p && fgets(tokobj_path, sizeof tokobj_path, p))
		tokobj_path[strcspn(tokobj_path, "\n")] = '\0';
	if (p)
		pclose(p);
	FILE *t = tokobj_path[0] ? fopen(tokobj_path, "rb") : NULL;
	if (!t) {
		tokobj_path[0] = '\0';
		return;
	}
	tokobj_copy = malloc(1 << 20);
	tokobj_len = tokobj_copy ? fread(tokobj_copy, 1, 1 << 20, t) : 0;
	fclose(t);
}

/* After a kill: SoftHSM 2.6 may have emptied token.object (in-place
 * rewrite on C_Login).  Put it back and count it.  catchable: the process
 * died of SIGTERM or SIGINT, which libcmk holds back while any thread
 * writes the token (src/lib/util/sigdefer.c), so an empty file is a
 * violation whatever --strict-token says. */
static void tokobj_check(const char *after, int catchable)
{
	struct stat st;
	if (!tokobj_path[0] || !tokobj_len)
		return;
	if (stat(tokobj_path, &st) == 0 && st.st_size > 0)
		return;
	atomic_fetch_add(&S->token_lost, 1);
	if (o_strict_token || catchable)
		violation(V_TOKEN_LOST, "token.object was emptied by %s", after);
	else
		say("# token.object emptied by %s (SoftHSM's in-place rewrite); restored", after);
	char tmp[PATH_MAX + 8];
	snprintf(tmp, sizeof tmp, "%s.tmp", tokobj_path);
	FILE *f = fopen(tmp, "wb");
	if (f && fwrite(tokobj_copy, 1, tokobj_len, f) == tokobj_len && fclose(f) == 0)
		rename(tmp, tokobj_path);
	else if (f)
		fclose(f);
}

/* ---------------------------------------------------------- supervisor */

static void reap_cleanup(pid_t pid)
{
	for (int s = 0; s < MAXSLOTS; s++) {
		if (atomic_load(&S->slot[s].pid) != pid)
			continue;
		int what = atomic_exchange(&S->slot[s].what, 0), idx = atomic_load(&S->slot[s].idx);
		if (what == 1)
			atomic_fetch_sub(&S->en_active_k[idx], 1);
		else if (what == 2)
			atomic_fetch_sub(&S->en_active_v[idx], 1);
	}
	wlog_reap(pid);
}

static pid_t spawn_worker(int wi, unsigned gen)
{
	fflush(stdout);
	pid_t p = fork();
	if (p == 0)
		worker_main(wi, gen);
	if (p < 0) {
		/* never leave -1 where kill() and waitpid() would take it as
		 * "every process" */
		say("# fork of worker %d failed: %s", wi, strerror(errno));
		exit(2);
	}
	return p;
}

/* Setup, in a process of its own (the supervisor keeps no PKCS#11 state
 * across its forks): keys t0..t(K-1), resources, initial registers. */
static int setup(void)
{
	cmk_ctx *ctx;
	if (open_ctx(&ctx) != 0)
		return -1;
	snprintf(vault, sizeof vault, "%s", cmk_ctx_vault(ctx));
	/* resources take customer-managed keys only from a vault with purge
	 * protection; the test never purges */
	if (cmk_vault_set_purge_protection(ctx, 1) != CMK_OK) {
		say("# setup: vault set --purge-protection on: %s", cmk_last_error());
		return -1;
	}
	int64_t t = now_ns();
	for (int k = 0; k < o_keys; k++) {
		char name[16], ver[CMK_VERSION_LEN + 1];
		key_name(k, name);
		cmk_rc rc = cmk_key_create(ctx, name, NULL, ver);
		if (rc == CMK_E_EXISTS) {
			/* a lab used before: start from a live, enabled key */
			cmk_key_recover(ctx, name);
			cmk_key_set_enabled(ctx, name, NULL, 1);
		} else if (rc != CMK_OK) {
			say("# setup: key create %s: %s", name, cmk_last_error());
			return -1;
		}
		cmk_version_info *v;
		size_t n;
		if (cmk_key_versions(ctx, name, 0, &v, &n) != CMK_OK) {
			say("# setup: key versions %s: %s", name, cmk_last_error());
			return -1;
		}
		for (size_t i = 0; i < n; i++) {
			int vi = ver_add(k, v[i].version);
			int w = wlog_begin(REG(R_VER_EN, vi, 0), v[i].enabled);
			S->w[w].t0 = t;
			wlog_end(w, CMK_OK);
			w = wlog_begin(REG(R_VER_TAG, vi, 0), ANY);
			S->w[w].t0 = t;
			wlog_end(w, CMK_OK);
		}
		cmk_free(v);
		int w = wlog_begin(REG(R_KEY_EN, k, 0), 1);
		wlog_end(w, CMK_OK);
		w = wlog_begin(REG(R_KEY_DEL, k, 0), 0);
		wlog_end(w, CMK_OK);
	}
	for (int i = 0; i < NIDENT; i++) {
		char ident[16];
		snprintf(ident, sizeof ident, "p%d", i);
		cmk_policy_remove(ctx, ident);
		int w = wlog_begin(REG(R_POLICY, i, 0), -1);
		wlog_end(w, CMK_OK);
	}
	cmk_resource_params rp = { .dir = o_res_dir };
	for (int r = 0; r < NRES; r++) {
		char rname[16];
		snprintf(rname, sizeof rname, "tr%d-%u", r, res_tag);
		cmk_rc rc = cmk_resource_create(ctx, &rp, rname);
		if (rc != CMK_OK && rc != CMK_E_EXISTS) {
			say("# setup: resource create %s: %s", rname, cmk_last_error());
			return -1;
		}
		cmk_resource *res;
		if (cmk_resource_open(ctx, &rp, rname, &res) != CMK_OK ||
		    cmk_resource_set_service_managed(res) != CMK_OK) {
			say("# setup: resource %s: %s", rname, cmk_last_error());
			return -1;
		}
		int w = wlog_begin(REG(R_RESKEY, r, 0), 0);
		wlog_end(w, CMK_OK);
		for (int o = 0; o < NOBJ; o++) {
			char oname[16], data[64];
			snprintf(oname, sizeof oname, "o%d", o);
			int len = snprintf(data, sizeof data, "torture r%d o%d n0", r, o);
			if (cmk_resource_put(res, oname, (const uint8_t *)data, (size_t)len) !=
			    CMK_OK) {
				say("# setup: resource put %s/%s: %s", rname, oname,
				    cmk_last_error());
				return -1;
			}
			w = wlog_begin(REG(R_OBJ, r, o), 0);
			wlog_end(w, CMK_OK);
		}
		cmk_resource_close(res);
	}
	cmk_close(ctx);
	return 0;
}

/* ------------------------------------------------------- the final check */

static int tag_value(const cmk_version_info *v, int64_t *n)
{
	for (size_t i = 0; i < v->ntags; i++)
		if (strcmp(v->tags[i].key, "t") == 0) {
			*n = strtoll(v->tags[i].value, NULL, 10);
			return 1;
		}
	return 0;
}

static int final_check(void)
{
	struct probe_req q;
	struct probe_resp a;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return -1;
	pid_t pp = fork();
	if (pp == 0) {
		close(sv[0]);
		prober_main(sv[1]);
	}
	close(sv[1]);
	probe_fd = sv[0];
	cmk_ctx *ctx;
	if (open_ctx(&ctx) != 0)
		return -1;
	uint64_t dups = 0;
	int seen[MAXVER], listed[MAXKEYS];
	memset(seen, 0, sizeof seen);
	memset(listed, 0, sizeof listed);

	/* 1. records, private keys, token flags, registers of the keys */
	for (int k = 0; k < o_keys; k++) {
		char name[16];
		key_name(k, name);
		cmk_key_info ki;
		int deleted = 0;
		cmk_rc rc = cmk_key_info_get(ctx, name, 0, &ki);
		if (rc == CMK_E_DELETED) {
			deleted = 1;
			rc = cmk_key_info_get(ctx, name, 1, &ki);
		}
		if (rc != CMK_OK) {
			if (rc == CMK_E_INTEGRITY)
				violation(V_INTEGRITY, "key show %s at the end: %s", name,
					  cmk_last_error());
			violation(V_LOST_KEY, "key %s cannot be read at the end: %s: %s", name,
				  cmk_rc_name(rc), cmk_last_error());
			continue;
		}
		char what[64];
		snprintf(what, sizeof what, "key %s deleted", name);
		wlog_check(REG(R_KEY_DEL, k, 0), deleted, what);
		snprintf(what, sizeof what, "key %s enabled", name);
		wlog_check(REG(R_KEY_EN, k, 0), ki.enabled, what);
		cmk_version_info *v;
		size_t n;
		if ((rc = cmk_key_versions(ctx, name, deleted, &v, &n)) != CMK_OK) {
			violation(rc == CMK_E_INTEGRITY ? V_INTEGRITY : V_LOST_KEY,
				  "key versions %s at the end: %s", name, cmk_last_error());
			continue;
		}
		listed[k] = 1;
		for (size_t i = 0; i < n; i += PROBE_MAX) {
			memset(&q, 0, sizeof q);
			for (size_t j = i; j < n && q.n < PROBE_MAX; j++)
				strcpy(q.hex[q.n++], v[j].version);
			if (!probe(&q, &a)) {
				say("# final check: the prober failed");
				return -1;
			}
			for (int j = 0; j < q.n; j++) {
				cmk_version_info *vi = &v[i + (size_t)j];
				int idx = ver_find(vi->version);
				if (idx >= 0)
					seen[idx] = 1;
				if (a.objs[j] == 0)
					violation(V_LOST_KEY,
						  "version %s/%s has a record but no private key "
						  "on the token",
						  name, vi->version);
				if (a.objs[j] > 2)
					dups++;
				int usable =
					vi->usable && (vi->ops & (CMK_OP_UNWRAP | CMK_OP_DECRYPT));
				if (!usable && a.permitted[j])
					violation(
						V_NOT_REFUSED,
						"version %s/%s is %s but %d of its %d private key "
						"objects decrypt on the token",
						name, vi->version, deleted ? "deleted" : "disabled",
						a.permitted[j], a.objs[j]);
				if (idx < 0)
					continue;
				snprintf(what, sizeof what, "version %s/%.8s enabled", name,
					 vi->version);
				wlog_check(REG(R_VER_EN, idx, 0), vi->enabled, what);
				int64_t tv;
				snprintf(what, sizeof what, "tag of %s/%.8s", name, vi->version);
				wlog_check(REG(R_VER_TAG, idx, 0), tag_value(vi, &tv) ? tv : -1,
					   what);
			}
		}
		cmk_free(v);
	}
	int nv = atomic_load(&S->nver);
	for (int i = 0; i < nv && i < MAXVER; i++)
		if (atomic_load(&S->ver[i].ready) && listed[S->ver[i].key] && !seen[i] &&
		    !S->ver[i].lost)
			violation(
				V_LOST_KEY,
				"version t%d/%s (it existed at the start, or its rotate returned) "
				"has no record at the end",
				S->ver[i].key, S->ver[i].hex);

	/* 2. policies, resources' keys */
	for (int i = 0; i < NIDENT; i++) {
		char ident[16], what[32];
		cmk_policy p;
		snprintf(ident, sizeof ident, "p%d", i);
		cmk_rc rc = cmk_policy_get(ctx, ident, &p);
		if (rc != CMK_OK && rc != CMK_E_NOT_FOUND) {
			violation(rc == CMK_E_INTEGRITY ? V_INTEGRITY : V_LOST_UPDATE,
				  "policy %s at the end: %s", ident, cmk_last_error());
			continue;
		}
		snprintf(what, sizeof what, "policy of %s", ident);
		wlog_check(REG(R_POLICY, i, 0), rc == CMK_OK ? (int64_t)p.perms : -1, what);
	}
	cmk_resource_params rp = { .dir = o_res_dir };
	for (int r = 0; r < NRES; r++) {
		char rname[16], what[48];
		snprintf(rname, sizeof rname, "tr%d-%u", r, res_tag);
		cmk_resource *res;
		cmk_resource_info info;
		cmk_rc rc = cmk_resource_open(ctx, &rp, rname, &res);
		if (rc == CMK_OK) {
			rc = cmk_resource_info_get(res, &info);
			cmk_resource_close(res);
		}
		if (rc != CMK_OK) {
			violation(V_WRONG_DATA, "resource %s at the end: %s", rname,
				  cmk_last_error());
			continue;
		}
		int64_t c = 0;
		const char *p = strrchr(info.customer_key, '/');
		if (info.customer_key[0] && p && p[1] == 't')
			c = strtoll(p + 2, NULL, 10) + 1;
		snprintf(what, sizeof what, "customer key of resource %s", rname);
		wlog_check(REG(R_RESKEY, r, 0), c, what);
	}

	/* 3. repair as an owner would (recover, enable): every version works,
	 * every object reads back */
	for (int k = 0; k < o_keys; k++) {
		char name[16];
		key_name(k, name);
		cmk_key_recover(ctx, name);
		cmk_rc rc = cmk_key_set_enabled(ctx, name, NULL, 1);
		if (rc == CMK_E_INTEGRITY)
			violation(V_INTEGRITY, "key enable %s at the end: %s", name,
				  cmk_last_error());
		cmk_version_info *v;
		size_t n;
		if (cmk_key_versions(ctx, name, 0, &v, &n) != CMK_OK)
			continue; /* reported above */
		for (size_t i = 0; i < n; i++) {
			char kid[CMK_KID_MAX];
			snprintf(kid, sizeof kid, "cmk://%s/keys/%s/%s", vault, name, v[i].version);
			if ((rc = cmk_key_set_enabled(ctx, name, v[i].version, 1)) != CMK_OK) {
				violation(rc == CMK_E_INTEGRITY ? V_INTEGRITY : V_UNUSABLE,
					  "enable %s at the end: %s", kid, cmk_last_error());
				continue;
			}
			uint8_t dek[32], ct[1024], pt[512];
			size_t ctlen = sizeof ct, ptlen = sizeof pt;
			char used[CMK_KID_MAX];
			RAND_bytes(dek, sizeof dek);
			if ((rc = cmk_wrap_raw(ctx, kid, CMK_ALG_RSA_OAEP_256, dek, sizeof dek, ct,
					       &ctlen, used)) != CMK_OK ||
			    (rc = cmk_unwrap_raw(ctx, kid, CMK_ALG_RSA_OAEP_256, ct, ctlen, pt,
						 &ptlen)) != CMK_OK)
				violation(rc == CMK_E_INTEGRITY ? V_INTEGRITY : V_UNUSABLE,
					  "%s does not wrap and unwrap at the end: %s: %s", kid,
					  cmk_rc_name(rc), cmk_last_error());
			else if (ptlen != sizeof dek || memcmp(pt, dek, ptlen) != 0)
				violation(V_WRONG_DATA, "%s unwraps to another DEK at the end",
					  kid);
		}
		cmk_free(v);
	}
	for (int r = 0; r < NRES; r++) {
		char rname[16], oname[16], what[48];
		snprintf(rname, sizeof rname, "tr%d-%u", r, res_tag);
		cmk_resource *res;
		cmk_rc rc = cmk_resource_open(ctx, &rp, rname, &res);
		if (rc != CMK_OK) {
			violation(V_WRONG_DATA, "resource %s does not open at the end: %s", rname,
				  cmk_last_error());
			continue;
		}
		for (int o = 0; o < NOBJ; o++) {
			uint8_t *d = NULL;
			size_t len = 0;
			int64_t nval;
			snprintf(oname, sizeof oname, "o%d", o);
			rc = cmk_resource_get(res, oname, &d, &len);
			if (rc != CMK_OK)
				violation(rc == CMK_E_INTEGRITY ? V_INTEGRITY : V_WRONG_DATA,
					  "resource %s object %s does not read at the end: %s: %s",
					  rname, oname, cmk_rc_name(rc), cmk_last_error());
			else if (!obj_parse(d, len, r, o, &nval))
				violation(V_WRONG_DATA,
					  "resource %s object %s holds other bytes at the end",
					  rname, oname);
			else {
				snprintf(what, sizeof what, "resource %s object %s", rname, oname);
				wlog_check(REG(R_OBJ, r, o), nval, what);
			}
			cmk_free(d);
		}
		cmk_resource_close(res);
	}

	/* 4. the audit chain */
	uint64_t records = 0;
	cmk_rc rc = cmk_audit_verify(ctx, NULL, &records);
	if (rc != CMK_OK)
		violation(V_AUDIT, "audit verify: %s: %s", cmk_rc_name(rc), cmk_last_error());
	say("# final check: %llu audit records verified; %llu versions with more than two private "
	    "key objects",
	    (unsigned long long)records, (unsigned long long)dups);
	cmk_close(ctx);
	close(probe_fd);
	waitpid(pp, NULL, 0);
	return 0;
}

/* ------------------------------------------------------- snapshot mode */

/*
 * torture --snapshot [--check-key NAME]: the vault's state as sorted text
 * lines (keys, versions, flags, tags, policies, vault settings, resources
 * and a digest of each object), for tests/kill-loop-commands.sh, which
 * compares the state before and after a killed command.  Then, with the
 * raw prober, a "lost VERSION" line for each version without a private key
 * on the token, and with --check-key, an "unusable KID: why" line for each
 * usable version of that key ('*': of every live key) that does not wrap
 * and unwrap.  Exit 0 when it
 * could read everything (a line "error ..." describes what it could not).
 */
static const char *o_check_key;

static int snap_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **snap_lines;
static size_t snap_n;

__attribute__((format(printf, 1, 2))) static void snap_add(const char *fmt, ...)
{
	char *line = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		line = NULL;
	va_end(ap);
	char **n = realloc(snap_lines, (snap_n + 1) * sizeof *n);
	if (!line || !n)
		exit(2);
	snap_lines = n;
	snap_lines[snap_n++] = line;
}

/* A resource NAME exists when RESDIR/NAME holds its state file; a
 * directory without one, or a service key whose resource has none, is what
 * a killed `resource create` leaves: no resource (src/lib/resource/objects.c),
 * and the next create of that name takes both over. */
static int resource_exists(const char *name)
{
	const char *dir = o_res_dir ? o_res_dir : getenv("CMK_RESOURCE_DIR");
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s/resource.json", dir ? dir : "/nonexistent", name);
	return access(path, F_OK) == 0;
}

static int orphan_service_key(const cmk_key_info *k)
{
	return k->managed_by[0] && !resource_exists(k->managed_by);
}

static int snapshot_main(void)
{
	cmk_ctx *ctx;
	int bad = 0;
	cmk_rc rc = cmk_open(&ctx, o_conf, NULL, NULL);
	if (rc != CMK_OK) {
		printf("error open %s: %s\n", cmk_rc_name(rc), cmk_last_error());
		return 1;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return 2;
	pid_t pp = fork();
	if (pp == 0) {
		close(sv[0]);
		prober_main(sv[1]);
	}
	close(sv[1]);
	probe_fd = sv[0];
	char **lost = NULL;
	size_t nlost = 0;
	for (int del = 0; del < 2; del++) {
		cmk_key_info *k;
		size_t nk;
		if ((rc = cmk_key_list(ctx, del, &k, &nk)) != CMK_OK) {
			printf("error key list%s: %s: %s\n", del ? " --deleted" : "",
			       cmk_rc_name(rc), cmk_last_error());
			return 1;
		}
		for (size_t i = 0; i < nk; i++) {
			if (orphan_service_key(&k[i]))
				continue;
			snap_add("key %s deleted=%d enabled=%d current=%s", k[i].name, k[i].deleted,
				 k[i].enabled, k[i].current[0] ? k[i].current : "-");
			cmk_version_info *v;
			size_t nv;
			if ((rc = cmk_key_versions(ctx, k[i].name, del, &v, &nv)) != CMK_OK) {
				snap_add("key %s versions: error %s: %s", k[i].name,
					 cmk_rc_name(rc), cmk_last_error());
				bad = 1;
				continue;
			}
			struct probe_req q;
			struct probe_resp a;
			memset(&q, 0, sizeof q);
			for (size_t j = 0; j < nv; j++) {
				char ops[128], tags[600] = "";
				size_t off = 0;
				cmk_ops_format(v[j].ops, ops, sizeof ops);
				for (size_t t = 0; t < v[j].ntags && off < sizeof tags; t++)
					off += (size_t)snprintf(
						tags + off, sizeof tags - off, "%s%s=%s",
						t ? "," : "", v[j].tags[t].key, v[j].tags[t].value);
				snap_add("version %s/%s enabled=%d usable=%d current=%d ops=%s "
					 "nb=%lld exp=%lld tags=%s",
					 k[i].name, v[j].version, v[j].enabled, v[j].usable,
					 v[j].current, ops, (long long)v[j].not_before,
					 (long long)v[j].expires, tags);
				if (q.n < PROBE_MAX)
					strcpy(q.hex[q.n++], v[j].version);
				if (q.n == PROBE_MAX || j + 1 == nv) {
					if (!probe(&q, &a)) {
						printf("error the raw prober failed\n");
						return 1;
					}
					for (int x = 0; x < q.n; x++)
						if (a.objs[x] == 0) {
							lost = realloc(lost,
								       (nlost + 1) * sizeof *lost);
							if (!lost ||
							    asprintf(&lost[nlost++], "lost %s/%s",
								     k[i].name, q.hex[x]) < 0)
								return 2;
						}
					memset(&q, 0, sizeof q);
				}
			}
			if (o_check_key &&
			    (strcmp(o_check_key, k[i].name) == 0 ||
			     strcmp(o_check_key, "*") == 0) &&
			    !del)
				for (size_t j = 0; j < nv; j++) {
					if (!v[j].usable ||
					    (v[j].not_before && v[j].not_before > time(NULL)) ||
					    (v[j].expires && v[j].expires <= time(NULL)))
						continue;
					uint8_t dek[32], ct[1024], pt[512];
					size_t ctlen = sizeof ct, ptlen = sizeof pt;
					char used[CMK_KID_MAX];
					RAND_bytes(dek, sizeof dek);
					if ((rc = cmk_wrap_raw(ctx, v[j].kid, CMK_ALG_RSA_OAEP_256,
							       dek, sizeof dek, ct, &ctlen,
							       used)) != CMK_OK ||
					    (rc = cmk_unwrap_raw(ctx, v[j].kid,
								 CMK_ALG_RSA_OAEP_256, ct, ctlen,
								 pt, &ptlen)) != CMK_OK)
						printf("unusable %s: %s: %s\n", v[j].kid,
						       cmk_rc_name(rc), cmk_last_error());
					else if (ptlen != sizeof dek || memcmp(pt, dek, ptlen) != 0)
						printf("unusable %s: unwraps to another DEK\n",
						       v[j].kid);
				}
			cmk_free(v);
		}
		cmk_free(k);
	}
	cmk_policy *pol;
	size_t np;
	if ((rc = cmk_policy_list(ctx, &pol, &np)) != CMK_OK) {
		snap_add("policies: error %s: %s", cmk_rc_name(rc), cmk_last_error());
		bad = 1;
	} else {
		for (size_t i = 0; i < np; i++) {
			char perms[512];
			cmk_perms_format(pol[i].perms, perms, sizeof perms);
			snap_add("policy %s %s", pol[i].identity, perms);
		}
		cmk_free(pol);
	}
	cmk_vault_info vi;
	if ((rc = cmk_vault_info_get(ctx, &vi)) != CMK_OK) {
		snap_add("vault: error %s: %s", cmk_rc_name(rc), cmk_last_error());
		bad = 1;
	} else {
		snap_add("vault purge_protection=%d audit_fail_closed=%d retention=%u",
			 vi.purge_protection, vi.audit_fail_closed, vi.retention_days);
	}
	const char *dir = o_res_dir ? o_res_dir : getenv("CMK_RESOURCE_DIR");
	char cmd[PATH_MAX + 32];
	snprintf(cmd, sizeof cmd, "ls '%s' 2>/dev/null", dir ? dir : "/nonexistent");
	FILE *ls = popen(cmd, "r");
	char rname[256];
	cmk_resource_params rp = { .dir = dir };
	while (ls && fgets(rname, sizeof rname, ls)) {
		rname[strcspn(rname, "\n")] = '\0';
		if (!resource_exists(rname))
			continue;
		cmk_resource *r;
		cmk_resource_info ri;
		if ((rc = cmk_resource_open(ctx, &rp, rname, &r)) != CMK_OK) {
			snap_add("resource %s: error %s: %s", rname, cmk_rc_name(rc),
				 cmk_last_error());
			continue;
		}
		if ((rc = cmk_resource_info_get(r, &ri)) != CMK_OK) {
			snap_add("resource %s: error %s: %s", rname, cmk_rc_name(rc),
				 cmk_last_error());
		} else {
			snap_add("resource %s service=%s customer=%s customer_kid=%s objects=%zu",
				 rname, ri.service_kid, ri.customer_key[0] ? ri.customer_key : "-",
				 ri.customer_kid[0] ? ri.customer_kid : "-", ri.objects);
		}
		char **objs;
		size_t no;
		if ((rc = cmk_resource_list(r, &objs, &no)) == CMK_OK) {
			for (size_t i = 0; i < no; i++) {
				uint8_t *d = NULL, md[32];
				size_t len = 0;
				unsigned mdlen = 0;
				if ((rc = cmk_resource_get(r, objs[i], &d, &len)) != CMK_OK) {
					snap_add("object %s/%s: error %s: %s", rname, objs[i],
						 cmk_rc_name(rc), cmk_last_error());
					continue;
				}
				EVP_Digest(d, len, md, &mdlen, EVP_sha256(), NULL);
				snap_add("object %s/%s sha256=%02x%02x%02x%02x%02x%02x%02x%02x",
					 rname, objs[i], md[0], md[1], md[2], md[3], md[4], md[5],
					 md[6], md[7]);
				cmk_free(d);
			}
			cmk_strv_free(objs, no);
		} else {
			snap_add("resource %s list: error %s: %s", rname, cmk_rc_name(rc),
				 cmk_last_error());
		}
		cmk_resource_close(r);
	}
	if (ls)
		pclose(ls);
	qsort(snap_lines, snap_n, sizeof *snap_lines, snap_cmp);
	for (size_t i = 0; i < snap_n; i++) {
		printf("%s\n", snap_lines[i]);
		free(snap_lines[i]);
	}
	free(snap_lines);
	for (size_t i = 0; i < nlost; i++) {
		printf("%s\n", lost[i]);
		free(lost[i]);
	}
	free(lost);
	cmk_close(ctx);
	close(probe_fd);
	waitpid(pp, NULL, 0);
	return bad;
}

/* --------------------------------------------------------------- report */

static void report(void)
{
	uint64_t total = 0;
	for (int k = 0; k < K_N; k++) {
		char errs[600] = "";
		size_t off = 0;
		uint64_t ne = 0;
		for (int rc = 1; rc < NRC; rc++) {
			uint64_t e = atomic_load(&S->errs[k][rc]);
			if (!e)
				continue;
			ne += e;
			if (off < sizeof errs - 1)
				off += (size_t)snprintf(errs + off, sizeof errs - off, " %s=%llu",
							k == K_PROV ? "failed"
								    : cmk_rc_name((cmk_rc)rc),
							(unsigned long long)e);
		}
		total += S->ops[k];
		say("# ops %-17s %7llu  errors %6llu%s", kind_name[k],
		    (unsigned long long)S->ops[k], (unsigned long long)ne, errs);
	}
	say("# ops total %llu; refusal checks %llu (skipped for a concurrent enable %llu); checker "
	    "rounds %llu, "
	    "zero-copy sightings %llu, duplicate sightings %llu",
	    (unsigned long long)total, (unsigned long long)S->refusal_checks,
	    (unsigned long long)S->refusal_skipped, (unsigned long long)S->checker_rounds,
	    (unsigned long long)S->zero_seen, (unsigned long long)S->dup_seen);
	say("# kills %llu (SIGKILL %llu, SIGTERM %llu, SIGINT %llu), restarts %llu, hung workers "
	    "%llu, "
	    "token.object emptied %llu (%s)",
	    (unsigned long long)(S->kills[0] + S->kills[1] + S->kills[2]),
	    (unsigned long long)S->kills[0], (unsigned long long)S->kills[1],
	    (unsigned long long)S->kills[2], (unsigned long long)S->restarts,
	    (unsigned long long)S->hangs, (unsigned long long)S->token_lost,
	    o_strict_token ? "counted as violations"
			   : "by a SIGKILL restored, not counted: --strict-token counts them; "
			     "by a SIGTERM or SIGINT a violation");
	say("# the first message of each kind of error:");
	for (int k = 0; k < K_N; k++)
		for (int rc = 1; rc < NRC; rc++)
			if (S->msg[k][rc][0])
				say("#   %s %s: %s", kind_name[k],
				    k == K_PROV ? "failed" : cmk_rc_name((cmk_rc)rc),
				    S->msg[k][rc]);
	for (int v = 0; v < V_N; v++)
		say("violation %s %llu", viol_name[v], (unsigned long long)S->viol[v]);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: torture [--seconds N | --minutes N] [--procs N] [--threads N] [--keys N]\n"
		"               [--kills] [--seed N] [--no-provider] [--strict-token] [--verbose]\n"
		"               [--config CMK_CONF] [--pin-file FILE] [--resource-dir DIR]\n"
		"       torture --snapshot [--check-key NAME] [--config ...] [--resource-dir DIR]\n"
		"Environment: CMK_CONF and SOFTHSM2_CONF (the lab), OPENSSL_MODULES (cmk.so),\n"
		"CMK_TOKEN_LOSS=fail (as --strict-token).  See the comment in tests/torture.c.\n");
}

static volatile sig_atomic_t got_signal;
static void on_signal(int sig)
{
	got_signal = sig;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seconds", 1, 0, 's' },
		{ "minutes", 1, 0, 'm' },
		{ "procs", 1, 0, 'p' },
		{ "threads", 1, 0, 't' },
		{ "keys", 1, 0, 'k' },
		{ "kills", 0, 0, 'K' },
		{ "seed", 1, 0, 'S' },
		{ "no-provider", 0, 0, 'N' },
		{ "strict-token", 0, 0, 'T' },
		{ "verbose", 0, 0, 'v' },
		{ "config", 1, 0, 'c' },
		{ "pin-file", 1, 0, 'P' },
		{ "resource-dir", 1, 0, 'R' },
		{ "help", 0, 0, 'h' },
		{ "snapshot", 0, 0, 'X' },
		{ "check-key", 1, 0, 'C' },
		{ 0, 0, 0, 0 },
	};
	int c, snapshot = 0;
	o_seed = (unsigned)time(NULL);
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': o_seconds = atoi(optarg); break;
		case 'm': o_seconds = atoi(optarg) * 60; break;
		case 'p': o_procs = atoi(optarg); break;
		case 't': o_threads = atoi(optarg); break;
		case 'k': o_keys = atoi(optarg); break;
		case 'K': o_kills = 1; break;
		case 'S': o_seed = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'N': o_provider = 0; break;
		case 'T': o_strict_token = 1; break;
		case 'v': o_verbose = 1; break;
		case 'c': o_conf = optarg; break;
		case 'P': o_pin_file = optarg; break;
		case 'R': o_res_dir = optarg; break;
		case 'X': snapshot = 1; break;
		case 'C': o_check_key = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || o_seconds < 1 || o_procs < 1 || o_threads < 1 || o_keys < 1 ||
	    o_keys > MAXKEYS || o_procs * o_threads > MAXSLOTS) {
		usage(stderr);
		return 2;
	}
	/* run from a build tree: the provider next to it, unless OPENSSL_MODULES says */
	if (o_provider && !getenv("OPENSSL_MODULES")) {
		char exe[PATH_MAX], try[PATH_MAX + 64];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		static const char *const rel[] = { "/../../src/provider/.libs",
						   "/../src/provider/.libs" };
		if (n > 0) {
			exe[n] = '\0';
			*strrchr(exe, '/') = '\0';
			for (size_t i = 0; i < 2; i++) {
				snprintf(try, sizeof try, "%s%s/cmk.so", exe, rel[i]);
				if (access(try, R_OK) == 0) {
					*strrchr(try, '/') = '\0';
					setenv("OPENSSL_MODULES", try, 1);
					break;
				}
			}
		}
	}
	if (getenv("CMK_TOKEN_LOSS") && strcmp(getenv("CMK_TOKEN_LOSS"), "fail") == 0)
		o_strict_token = 1;
	if (!o_conf)
		o_conf = getenv("CMK_CONF");
	if (!o_conf) {
		fprintf(stderr, "torture: no configuration: set CMK_CONF or give --config (a lab: "
				"cmk lab init)\n");
		return 2;
	}
	static char pinpath[PATH_MAX], resdir[PATH_MAX];
	char *slash = strrchr(o_conf, '/');
	if (!o_pin_file) {
		snprintf(pinpath, sizeof pinpath, "%.*s/pin", slash ? (int)(slash - o_conf) : 1,
			 slash ? o_conf : ".");
		o_pin_file = pinpath;
	}
	if (!o_res_dir && !snapshot) {
		snprintf(resdir, sizeof resdir, "%.*s/torture-resources",
			 slash ? (int)(slash - o_conf) : 1, slash ? o_conf : ".");
		mkdir(resdir, 0700);
		o_res_dir = resdir;
	}
	FILE *pf = fopen(o_pin_file, "r");
	if (!pf || !fgets(pin, sizeof pin, pf)) {
		fprintf(stderr,
			"torture: cannot read the PIN from %s (a test lab's pin file; "
			"--pin-file)\n",
			o_pin_file);
		return 2;
	}
	fclose(pf);
	pin[strcspn(pin, "\r\n")] = '\0';
	/* the default vault (the one cmk_open(NULL) opens) */
	cmk_vault_conf_info vi;
	char **names = NULL;
	size_t nn = 0;
	int found = 0;
	if (cmk_config_vaults(o_conf, &names, &nn) != CMK_OK) {
		fprintf(stderr, "torture: %s\n", cmk_last_error());
		return 2;
	}
	for (size_t i = 0; i < nn && !found; i++)
		found = cmk_config_vault_get(o_conf, names[i], &vi) == CMK_OK &&
			(vi.is_default || nn == 1);
	cmk_strv_free(names, nn);
	if (!found) {
		fprintf(stderr, "torture: %s names no default vault\n", o_conf);
		return 2;
	}
	snprintf(module_path, sizeof module_path, "%s", vi.module);
	snprintf(token_label, sizeof token_label, "%s", vi.token);
	snprintf(vault, sizeof vault, "%s", vi.name);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (snapshot)
		return snapshot_main();

	S = mmap(NULL, sizeof *S, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (S == MAP_FAILED) {
		perror("torture: mmap");
		return 2;
	}
	tokobj_find();
	res_tag = (unsigned)getpid();
	say("# torture: %d processes x %d threads, %d s, keys %d, kills %s, provider %s, seed %u, "
	    "vault %s",
	    o_procs, o_threads, o_seconds, o_keys, o_kills ? "on" : "off",
	    o_provider ? "on" : "off", o_seed, vault);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	pid_t sp = fork();
	if (sp == 0)
		_exit(setup() == 0 ? 0 : 2);
	int status;
	if (sp < 0 || waitpid(sp, &status, 0) != sp || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		say("# setup failed");
		return 2;
	}
	/* the vault name as libcmk has it (setup knew it) */
	pid_t checker = fork();
	if (checker == 0)
		checker_main();
	if (checker < 0) {
		say("# fork of the checker failed: %s", strerror(errno));
		return 2;
	}
	pid_t *w = calloc((size_t)o_procs, sizeof *w);
	unsigned *gen = calloc((size_t)o_procs, sizeof *gen);
	if (!w || !gen)
		return 2;
	for (int i = 0; i < o_procs; i++)
		w[i] = spawn_worker(i, gen[i]++);
	uint64_t rs = ((uint64_t)o_seed << 1) | 1;
	int64_t end = now_ns() + (int64_t)o_seconds * 1000000000;
	int64_t next_kill = now_ns() + (int64_t)(200 + rndn(&rs, 1800)) * 1000000;
	while (now_ns() < end && !got_signal) {
		usleep(20000);
		/* a worker that ended on its own is a failure to report, then restarted */
		for (int i = 0; i < o_procs; i++) {
			pid_t p = waitpid(w[i], &status, WNOHANG);
			if (p != w[i])
				continue;
			say("# worker %d (pid %d) ended by itself: %s %d", i, (int)p,
			    WIFEXITED(status) ? "exit" : "signal",
			    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
			reap_cleanup(p);
			if (WIFEXITED(status) &&
			    (WEXITSTATUS(status) == 2 || WEXITSTATUS(status) == 3)) {
				say("# a worker cannot start: the run stops");
				got_signal = -1;
				break;
			}
			tokobj_check("a worker's own end", 0);
			atomic_fetch_add(&S->restarts, 1);
			w[i] = spawn_worker(i, gen[i]++);
		}
		if (!o_kills || now_ns() < next_kill)
			continue;
		int i = (int)rndn(&rs, (unsigned)o_procs);
		static const int sigs[3] = { SIGKILL, SIGTERM, SIGINT };
		int si = (int)rndn(&rs, 3);
		kill(w[i], sigs[si]);
		atomic_fetch_add(&S->kills[si], 1);
		/* SIGTERM/SIGINT may be handled: wait, then make sure */
		int64_t give_up = now_ns() + 10000000000LL;
		pid_t p;
		while ((p = waitpid(w[i], &status, WNOHANG)) == 0 && now_ns() < give_up)
			usleep(10000);
		if (p == 0) {
			kill(w[i], SIGKILL);
			waitpid(w[i], &status, 0);
		}
		reap_cleanup(w[i]);
		/* died of the SIGTERM or SIGINT it was sent (not of the SIGKILL
		 * that follows one that was not taken in time) */
		int caught = sigs[si] != SIGKILL && p != 0 && WIFSIGNALED(status) &&
			     WTERMSIG(status) == sigs[si];
		tokobj_check(!caught		   ? "a SIGKILL"
			     : sigs[si] == SIGTERM ? "a SIGTERM"
						   : "a SIGINT",
			     caught);
		atomic_fetch_add(&S->restarts, 1);
		w[i] = spawn_worker(i, gen[i]++);
		next_kill = now_ns() + (int64_t)(100 + rndn(&rs, 1900)) * 1000000;
	}
	atomic_store(&S->stop, 1);
	/* workers finish the operation they are in; a hang is reported */
	int64_t give_up = now_ns() + 120000000000LL;
	for (int i = 0; i < o_procs; i++) {
		pid_t p;
		while ((p = waitpid(w[i], &status, WNOHANG)) == 0 && now_ns() < give_up)
			usleep(20000);
		if (p == 0) {
			say("# worker %d (pid %d) did not stop within 120 s: killed", i, (int)w[i]);
			atomic_fetch_add(&S->hangs, 1);
			kill(w[i], SIGKILL);
			waitpid(w[i], &status, 0);
		} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			say("# worker %d (pid %d) ended with %s %d", i, (int)w[i],
			    WIFEXITED(status) ? "exit" : "signal",
			    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		}
		reap_cleanup(w[i]);
	}
	waitpid(checker, &status, 0);
	tokobj_check("the end of the run", 0);
	if (got_signal) {
		if (got_signal > 0)
			say("# interrupted by signal %d", (int)got_signal);
		report();
		free(w);
		free(gen);
		free(tokobj_copy);
		return 2;
	}
	int rc = 0;
	sp = fork();
	if (sp == 0)
		_exit(final_check() == 0 ? 0 : 2);
	if (sp < 0 || waitpid(sp, &status, 0) != sp || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		say("# the final check did not complete");
		rc = 2;
	}
	report();
	for (int v = 0; v < V_N; v++)
		if (S->viol[v])
			rc = rc ? rc : 1;
	free(w);
	free(gen);
	free(tokobj_copy);
	return rc;
}
