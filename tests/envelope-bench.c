/*
 * envelope-bench.c - seal/open throughput next to `openssl speed -evp
 * aes-256-gcm` measured in the same run.
 *
 *   envelope-bench [-s SECONDS] [-k KEYID]
 *
 * Each row is the best of three rounds of SECONDS/3. *
 * Needs a vault ($CMK_CONF, e.g. a lab) for the vault-key rows; creates key
 * "bench" there if -k is not given.  Rows, for 1 KiB, 64 KiB and 16 MiB
 * objects:
 *   seal        cmk_seal_init/update/final into a caller buffer (one RSA
 *               wrap per object, public-key operation in software)
 *   open        cmk_unseal_* (one RSA unwrap per object on the token)
 *   open+cache  the same with a data-key cache (the unwrap is a hit)
 *   kw seal/open  DEK wrapped by a symmetric key (resource objects)
 *   seal-1shot  cmk_seal() allocating its output
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "envelope/envelope.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double seconds = 2.0;
static cmk_ctx *ctx;
static const char *keyid;
static uint8_t *in, *ct, *pt;
static size_t ctlen;
static cmk_dekcache *cache;

enum op { SEAL, OPEN, OPEN_CACHE, KW_SEAL, KW_OPEN, SEAL_1SHOT };
static const uint8_t kek[32] = { 1, 2, 3 };

static void die(const char *what, cmk_rc rc)
{
	fprintf(stderr, "envelope-bench: %s: %s (%s)\n", what, cmk_last_error(), cmk_rc_name(rc));
	exit(1);
}

static void seal_stream(cmk_sealer *s, size_t len, size_t cap)
{
	size_t n1 = cap, n2;
	cmk_rc rc = cmk_seal_update(s, in, len, ct, &n1);
	if (rc != CMK_OK)
		die("seal", rc);
	n2 = cap - n1;
	if ((rc = cmk_seal_final(s, ct + n1, &n2)) != CMK_OK)
		die("seal final", rc);
	ctlen = n1 + n2;
	cmk_seal_free(s);
}

static void open_stream(cmk_unsealer *u, size_t len)
{
	size_t n = ctlen;
	cmk_rc rc = cmk_unseal_update(u, ct, ctlen, pt, &n);
	if (rc == CMK_OK)
		rc = cmk_unseal_final(u);
	if (rc != CMK_OK || n != len)
		die("open", rc);
	cmk_unseal_free(u);
}

static void once(enum op op, size_t len, size_t cap)
{
	const char *keys[1] = { keyid };
	cmk_seal_params sp = { .keyids = keys, .nkeys = 1 };
	cmk_unseal_params up = { 0 };
	env_kw_params kp = { .kek = kek, .id = "bench-root" };
	cmk_sealer *s;
	cmk_unsealer *u;
	cmk_rc rc = CMK_OK;

	switch (op) {
	case SEAL:
		if ((rc = cmk_seal_init(ctx, &sp, &s)) != CMK_OK)
			die("seal init", rc);
		seal_stream(s, len, cap);
		break;
	case KW_SEAL:
		if ((rc = env_kw_sealer(&kp, &s)) != CMK_OK)
			die("kw seal init", rc);
		seal_stream(s, len, cap);
		break;
	case OPEN_CACHE:
		up.cache = cache;
		/* fall through */
	case OPEN:
		if ((rc = cmk_unseal_init(ctx, &up, &u)) != CMK_OK)
			die("open init", rc);
		open_stream(u, len);
		break;
	case KW_OPEN:
		if ((rc = env_kw_unsealer(&kp, 0, &u)) != CMK_OK)
			die("kw open init", rc);
		open_stream(u, len);
		break;
	case SEAL_1SHOT: {
		uint8_t *o;
		size_t olen;
		if ((rc = cmk_seal(ctx, &sp, in, len, &o, &olen)) != CMK_OK)
			die("seal", rc);
		free(o);
		break;
	}
	}
}

/* The best of three rounds of seconds/3 each: on a shared machine the
 * best round is the one least disturbed by other load. */
static double measure(enum op op, size_t len, size_t cap, double *ops)
{
	double best = 0;
	once(op, len, cap); /* warm up (and fill the cache) */
	for (int round = 0; round < 3; round++) {
		size_t n = 0;
		double t0 = now(), t;
		do {
			once(op, len, cap);
			n++;
		} while ((t = now() - t0) < seconds / 3);
		if ((double)n / t > best)
			best = (double)n / t;
	}
	*ops = best;
	return best * (double)len;
}

static double openssl_speed(void)
{
	char cmd[256], line[512];
	double bps = 0;
	snprintf(cmd, sizeof cmd,
		 "openssl speed -mr -evp aes-256-gcm -bytes "
		 "16384 -seconds %d 2>/dev/null",
		 (int)(seconds + 0.5));
	FILE *f = popen(cmd, "r");
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "+F:", 3) == 0) {
			char *p = strrchr(line, ':');
			bps = strtod(p + 1, NULL);
		}
	if (f)
		pclose(f);
	return bps;
}

int main(int argc, char **argv)
{
	int o;
	cmk_rc rc;
	char ver[CMK_VERSION_LEN + 1];

	while ((o = getopt(argc, argv, "s:k:")) != -1) {
		if (o == 's')
			seconds = atof(optarg);
		else if (o == 'k')
			keyid = optarg;
		else {
			fprintf(stderr, "usage: envelope-bench [-s SECONDS] [-k "
					"KEYID]\n");
			return 2;
		}
	}
	if ((rc = cmk_open(&ctx, NULL, NULL, NULL)) != CMK_OK)
		die("open the vault (set CMK_CONF, e.g. to a lab)", rc);
	if (!keyid) {
		keyid = "bench";
		rc = cmk_key_create(ctx, "bench", NULL, ver);
		if (rc != CMK_OK && rc != CMK_E_EXISTS)
			die("create key bench", rc);
	}
	cmk_dekcache_params cp = { .ttl_ms = 600000 };
	if ((rc = cmk_dekcache_new(ctx, &cp, &cache)) != CMK_OK)
		die("cache", rc);

	const size_t sizes[] = { 1024, 65536, 16u << 20 };
	const size_t max = sizes[2];
	in = malloc(max);
	pt = malloc(max);
	ct = malloc(max + max / 1024 + 65536);
	memset(in, 0x5a, max);
	memset(pt, 0, max);
	memset(ct, 0, max + max / 1024 + 65536);

	double ossl = openssl_speed(), o2;
	printf("openssl speed -evp aes-256-gcm, 16 KiB blocks: %.0f MB/s\n", ossl / 1e6);
	printf("%-12s %10s %12s %10s %8s\n", "operation", "object", "objects/s", "MB/s", "% ossl");
	const char *names[] = { "seal", "open", "open+cache", "kw seal", "kw open", "seal-1shot" };
	for (size_t i = 0; i < 3; i++) {
		size_t cap = sizes[i] + sizes[i] / 1024 * 17 + 65536 + 4096;
		for (int op = SEAL; op <= SEAL_1SHOT; op++) {
			double ops, bps;
			if (op == OPEN || op == OPEN_CACHE) {
				once(SEAL, sizes[i], cap); /* a fresh vault envelope */
			} else if (op == KW_OPEN) {
				once(KW_SEAL, sizes[i], cap);
			}
			bps = measure((enum op)op, sizes[i], cap, &ops);
			char obj[32];
			if (sizes[i] >= 1 << 20)
				snprintf(obj, sizeof obj, "%zu MiB", sizes[i] >> 20);
			else
				snprintf(obj, sizeof obj, "%zu KiB", sizes[i] >> 10);
			printf("%-12s %10s %12.0f %10.0f %7.0f%%\n", names[op], obj, ops, bps / 1e6,
			       ossl > 0 ? 100 * bps / ossl : 0);
			fflush(stdout);
		}
	}
	o2 = openssl_speed();
	printf("openssl speed again at the end: %.0f MB/s (%% columns use the "
	       "first)\n",
	       o2 / 1e6);
	cmk_dekcache_free(cache);
	cmk_close(ctx);
	free(in);
	free(pt);
	free(ct);
	return 0;
}
