/*
 * remote-driver.c - a long-lived libcmk client for the remote-token tests
 * (tests/remote-*.sh), so a test can stop and restart the p11-kit server
 * under a process that keeps its context, and check that it recovers
 * without a restart.  Uses the public API only; CMK_CONF selects the file.
 *
 *   remote-driver VAULT                 commands on stdin, one reply line each:
 *       create NAME BITS                "ok VERSION" | "err RC TEXT"
 *       rotate NAME                     "ok VERSION"
 *       wrap NAME                       a random DEK, kept: "ok INDEX KID"
 *       unwrap INDEX                    "ok" when the DEK comes back
 *       versions NAME                   "ok V1 V2 ..." (oldest first)
 *       spin MS                         unwraps of DEK 0 for MS ms, from two
 *                                       threads: "ok OK ERR LAST" (LAST: ok|err)
 *                                       and every distinct error on "# " lines
 *       quit
 *   remote-driver stress VAULT KEY COUNT ROTATIONS OUT
 *       with the context open, creates OUT.ready and waits for OUT.go to
 *       exist (so a test sees every client connected at once); then two
 *       threads each wrap and unwrap COUNT times and rotate KEY ROTATIONS
 *       times, spread over the run; writes OUT (one line per kept wrapped
 *       DEK: DEKHEX BLOBHEX) and OUT.rot (the versions made); prints
 *       "ok OPS ROTATIONS ERRORS"
 *   remote-driver verify VAULT FILE     unwraps every line of FILE: "ok N"
 */
#include <cmk.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEKS 4096
#define BLOB_MAX 2048

struct dek {
	uint8_t dek[32];
	uint8_t blob[BLOB_MAX];
	size_t blen;
};

static cmk_ctx *ctx;
static struct dek *deks;
static size_t ndeks;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void rand_bytes(uint8_t *p, size_t n)
{
	FILE *f = fopen("/dev/urandom", "rb");

	if (!f || fread(p, 1, n, f) != n) {
		fprintf(stderr, "remote-driver: cannot read /dev/urandom\n");
		exit(1);
	}
	fclose(f);
}

static void reply_err(cmk_rc rc)
{
	printf("err %d %s\n", (int)rc, cmk_last_error() ? cmk_last_error() : "");
}

static cmk_rc wrap_one(const char *name, struct dek *d, char kid[CMK_KID_MAX])
{
	cmk_wrapped w;
	cmk_rc rc;

	rand_bytes(d->dek, sizeof d->dek);
	d->blen = sizeof d->blob;
	rc = cmk_wrap(ctx, name, CMK_ALG_RSA_OAEP_256, d->dek, sizeof d->dek, d->blob, &d->blen);
	if (rc == CMK_OK && kid) {
		rc = cmk_wrapped_parse(d->blob, d->blen, &w);
		if (rc == CMK_OK)
			snprintf(kid, CMK_KID_MAX, "%s", w.kid);
	}
	return rc;
}

static cmk_rc unwrap_one(const struct dek *d)
{
	uint8_t out[64];
	size_t len = sizeof out;
	cmk_rc rc = cmk_unwrap(ctx, d->blob, d->blen, out, &len, NULL);

	if (rc == CMK_OK && (len != sizeof d->dek || memcmp(out, d->dek, len) != 0)) {
		fprintf(stderr, "remote-driver: unwrap returned another DEK\n");
		rc = CMK_E_INTERNAL;
	}
	cmk_wipe(out, sizeof out);
	return rc;
}

/* ------------------------------------------------------------------ spin */

struct spin {
	int64_t until;
	unsigned ok, err;
	int last_ok;
	char errs[4][512];
	unsigned nerrs;
};

static void *spin_thread(void *arg)
{
	struct spin *s = arg;

	while (now_ms() < s->until) {
		cmk_rc rc = unwrap_one(&deks[0]);
		pthread_mutex_lock(&lock);
		if (rc == CMK_OK) {
			s->ok++;
		} else {
			const char *e = cmk_last_error() ? cmk_last_error() : "";
			unsigned i;
			s->err++;
			for (i = 0; i < s->nerrs && strcmp(s->errs[i], e) != 0; i++)
				;
			if (i == s->nerrs && s->nerrs < 4)
				snprintf(s->errs[s->nerrs++], sizeof s->errs[0], "%s", e);
		}
		s->last_ok = rc == CMK_OK;
		pthread_mutex_unlock(&lock);
		if (rc != CMK_OK) {
			struct timespec ts = { 0, 20 * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

static void spin(long ms)
{
	struct spin s;
	pthread_t th[2];

	memset(&s, 0, sizeof s);
	if (ndeks == 0) {
		printf("err 2 spin needs a wrapped DEK first\n");
		return;
	}
	s.until = now_ms() + ms;
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, spin_thread, &s);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (unsigned i = 0; i < s.nerrs; i++)
		printf("# %s\n", s.errs[i]);
	printf("ok %u %u %s\n", s.ok, s.err, s.last_ok ? "ok" : "err");
}

/* --------------------------------------------------------------- commands */

static void versions(const char *name)
{
	cmk_version_info *v;
	size_t n;
	cmk_rc rc = cmk_key_versions(ctx, name, 0, &v, &n);

	if (rc != CMK_OK) {
		reply_err(rc);
		return;
	}
	printf("ok");
	for (size_t i = 0; i < n; i++)
		printf(" %s", v[i].version);
	printf("\n");
	cmk_free(v);
}

static int interactive(void)
{
	char line[512], a[256];
	long num;

	while (fgets(line, sizeof line, stdin)) {
		char ver[CMK_VERSION_LEN + 1], kid[CMK_KID_MAX];
		cmk_rc rc;

		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "create %255s %ld", a, &num) == 2) {
			cmk_key_params p = { .bits = (unsigned)num };
			rc = cmk_key_create(ctx, a, &p, ver);
			if (rc == CMK_OK)
				printf("ok %s\n", ver);
			else
				reply_err(rc);
		} else if (sscanf(line, "rotate %255s", a) == 1) {
			rc = cmk_key_rotate(ctx, a, NULL, ver);
			if (rc == CMK_OK)
				printf("ok %s\n", ver);
			else
				reply_err(rc);
		} else if (sscanf(line, "wrap %255s", a) == 1) {
			if (ndeks == MAX_DEKS) {
				printf("err 2 too many DEKs\n");
			} else if ((rc = wrap_one(a, &deks[ndeks], kid)) == CMK_OK) {
				printf("ok %zu %s\n", ndeks, kid);
				ndeks++;
			} else {
				reply_err(rc);
			}
		} else if (sscanf(line, "unwrap %ld", &num) == 1) {
			if (num < 0 || (size_t)num >= ndeks)
				printf("err 2 no DEK %ld\n", num);
			else if ((rc = unwrap_one(&deks[num])) == CMK_OK)
				printf("ok\n");
			else
				reply_err(rc);
		} else if (sscanf(line, "versions %255s", a) == 1) {
			versions(a);
		} else if (sscanf(line, "spin %ld", &num) == 1) {
			spin(num);
		} else if (strcmp(line, "quit") == 0) {
			break;
		} else {
			printf("err 2 unknown command '%s'\n", line);
		}
		fflush(stdout);
	}
	return 0;
}

/* ----------------------------------------------------------------- stress */

struct stress {
	const char *key;
	unsigned count;	    /* wrap+unwrap per thread */
	unsigned rotations; /* per thread */
	FILE *out, *rot;
	unsigned ops, rotated, errors;
};

static void hex(FILE *f, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
}

static void *stress_thread(void *arg)
{
	struct stress *s = arg;
	unsigned made = 0, i = 0;
	struct dek d;

	for (unsigned n = 0; n < s->count; n++) {
		cmk_rc rc = wrap_one(s->key, &d, NULL);
		if (rc == CMK_OK)
			rc = unwrap_one(&d);
		pthread_mutex_lock(&lock);
		s->ops++;
		if (rc != CMK_OK) {
			s->errors++;
			fprintf(stderr, "remote-driver: %s\n", cmk_last_error());
		} else if (i++ % 4 == 0) {
			hex(s->out, d.dek, sizeof d.dek);
			fputc(' ', s->out);
			hex(s->out, d.blob, d.blen);
			fputc('\n', s->out);
		}
		pthread_mutex_unlock(&lock);
		/* rotations spread over the run */
		if (made < s->rotations && n + 1 >= (made + 1) * s->count / (s->rotations + 1)) {
			char ver[CMK_VERSION_LEN + 1];
			rc = cmk_key_rotate(ctx, s->key, NULL, ver);
			pthread_mutex_lock(&lock);
			s->ops++;
			if (rc == CMK_OK) {
				fprintf(s->rot, "%s\n", ver);
				s->rotated++;
			} else {
				s->errors++;
				fprintf(stderr, "remote-driver: rotate: %s\n", cmk_last_error());
			}
			pthread_mutex_unlock(&lock);
			made++;
		}
	}
	cmk_wipe(&d, sizeof d);
	return NULL;
}

static int stress(const char *key, long count, long rotations, const char *out)
{
	char path[4096];
	struct stress s = { .key = key,
			    .count = (unsigned)count,
			    .rotations = (unsigned)rotations };
	pthread_t th[2];

	s.out = fopen(out, "w");
	snprintf(path, sizeof path, "%s.rot", out);
	s.rot = fopen(path, "w");
	if (!s.out || !s.rot) {
		fprintf(stderr, "remote-driver: cannot write %s\n", out);
		return 1;
	}
	/* connected: say so, and start when told */
	snprintf(path, sizeof path, "%s.ready", out);
	FILE *ready = fopen(path, "w");
	if (ready)
		fclose(ready);
	snprintf(path, sizeof path, "%s.go", out);
	while (access(path, F_OK) != 0) {
		struct timespec ts = { 0, 10 * 1000000L };
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, stress_thread, &s);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	fclose(s.out);
	fclose(s.rot);
	printf("ok %u %u %u\n", s.ops, s.rotated, s.errors);
	return s.errors != 0;
}

static int unhex(const char *s, uint8_t *p, size_t cap, size_t *n)
{
	size_t len = strlen(s);

	if (len % 2 || len / 2 > cap)
		return 0;
	for (size_t i = 0; i < len / 2; i++) {
		unsigned b;
		if (sscanf(s + 2 * i, "%2x", &b) != 1)
			return 0;
		p[i] = (uint8_t)b;
	}
	*n = len / 2;
	return 1;
}

static int verify(const char *file)
{
	static char line[8192];
	char dh[128], bh[6000];
	FILE *f = fopen(file, "r");
	unsigned n = 0, bad = 0;
	struct dek d;

	if (!f) {
		fprintf(stderr, "remote-driver: cannot read %s\n", file);
		return 1;
	}
	while (fgets(line, sizeof line, f)) {
		size_t dl;
		if (sscanf(line, "%127s %5999s", dh, bh) != 2 ||
		    !unhex(dh, d.dek, sizeof d.dek, &dl) || dl != sizeof d.dek ||
		    !unhex(bh, d.blob, sizeof d.blob, &d.blen)) {
			fprintf(stderr, "remote-driver: %s: malformed line\n", file);
			bad++;
			continue;
		}
		cmk_rc rc = unwrap_one(&d);
		if (rc != CMK_OK) {
			fprintf(stderr, "remote-driver: %s\n", cmk_last_error());
			bad++;
		}
		n++;
	}
	fclose(f);
	printf("%s %u %u\n", bad ? "err" : "ok", n, bad);
	return bad != 0;
}

int main(int argc, char **argv)
{
	int stress_mode = argc == 7 && strcmp(argv[1], "stress") == 0;
	int verify_mode = argc == 4 && strcmp(argv[1], "verify") == 0;
	const char *vault = stress_mode || verify_mode ? argv[2] : argv[1];
	cmk_rc rc;

	if (!(argc == 2 || stress_mode || verify_mode)) {
		fprintf(stderr, "usage: remote-driver VAULT | stress VAULT KEY COUNT ROTATIONS OUT "
				"| verify VAULT FILE\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((rc = cmk_open(&ctx, NULL, vault, NULL)) != CMK_OK) {
		reply_err(rc);
		return 1;
	}
	deks = calloc(MAX_DEKS, sizeof *deks);
	if (!deks)
		return 1;
	int r;
	if (stress_mode)
		r = stress(argv[3], atol(argv[4]), atol(argv[5]), argv[6]);
	else if (verify_mode)
		r = verify(argv[3]);
	else {
		printf("ok\n");
		r = interactive();
	}
	cmk_wipe(deks, MAX_DEKS * sizeof *deks);
	free(deks);
	cmk_close(ctx);
	return r;
}
