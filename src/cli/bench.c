/*
 * bench.c - `cmk bench`: throughput and latency of cmk's operations next to
 * the limits of the token (raw PKCS#11) and of the CPU (plain OpenSSL),
 * measured in the same run (docs/benchmarks.md).
 *
 * The measurements run in src/bench/ (bench/bench.h), a tool linked into
 * this program only; this file reads the options, stops the run cleanly on
 * SIGINT, SIGTERM and SIGHUP (the run then removes what it made), and
 * prints the report: a table, --json or --csv, and --plot.
 */
#include "config.h"

#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/cli.h"
#include "bench/bench.h"

enum {
	OPT_THREADS = 256,
	OPT_DURATION,
	OPT_COUNT,
	OPT_WARMUP,
	OPT_KEY_SIZE,
	OPT_HASH,
	OPT_PROCS,
	OPT_KEY,
	OPT_OPS,
	OPT_SIZES,
	OPT_OBJECT_SIZE,
	OPT_NO_LIMITS,
	OPT_PROVIDER,
	OPT_VAULT,
	OPT_JSON,
	OPT_CSV,
	OPT_PLOT,
	OPT_REPEAT,
	OPT_MODULE,
	OPT_TOKEN,
	OPT_PIN_SOURCE,
};

static const struct option bench_options[] = {
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "warmup", required_argument, NULL, OPT_WARMUP },
	{ "key-size", required_argument, NULL, OPT_KEY_SIZE },
	{ "hash", required_argument, NULL, OPT_HASH },
	{ "procs", required_argument, NULL, OPT_PROCS },
	{ "repeat", required_argument, NULL, OPT_REPEAT },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "ops", required_argument, NULL, OPT_OPS },
	{ "sizes", required_argument, NULL, OPT_SIZES },
	{ "object-size", required_argument, NULL, OPT_OBJECT_SIZE },
	{ "no-limits", no_argument, NULL, OPT_NO_LIMITS },
	{ "provider", required_argument, NULL, OPT_PROVIDER },
	{ "vault", required_argument, NULL, OPT_VAULT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "csv", no_argument, NULL, OPT_CSV },
	{ "plot", required_argument, NULL, OPT_PLOT },
	{ "module", required_argument, NULL, OPT_MODULE },
	{ "token", required_argument, NULL, OPT_TOKEN },
	{ "pin-source", required_argument, NULL, OPT_PIN_SOURCE },
	CLI_OPT_HELP,
	CLI_OPT_END,
};

struct bench_args {
	bench_opts o;
	int csv;
	const char *plot;
	int has_duration;
};

/* Seconds: a positive number, optionally followed by "s" or "ms". */
static int parse_seconds(struct cli *c, const char *opt, const char *s, int zero_ok, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno != 0 || !isfinite(v))
		return cli_usage_fail(c, "%s '%s' is not a number of seconds", opt, s);
	if (strcmp(end, "ms") == 0)
		v /= 1000;
	else if (*end != '\0' && strcmp(end, "s") != 0)
		return cli_usage_fail(c, "%s '%s': the unit must be s or ms", opt, s);
	if (v < 0 || (v == 0 && !zero_ok))
		return cli_usage_fail(c, "%s '%s' must be more than 0", opt, s);
	*out = v;
	return CMK_OK;
}

/* Bytes: a number with an optional K, M or G (KiB, MiB, GiB). */
static int parse_size(struct cli *c, const char *opt, const char *s, size_t *out)
{
	unsigned long long v;
	char *end;
	size_t mul = 1;

	if (s[0] < '0' || s[0] > '9')
		return cli_usage_fail(c, "%s '%s' is not a size", opt, s);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end == 'K' || *end == 'k')
		mul = 1024;
	else if (*end == 'M' || *end == 'm')
		mul = 1024 * 1024;
	else if (*end == 'G' || *end == 'g')
		mul = 1024 * 1024 * 1024;
	if (mul > 1)
		end++;
	if (mul > 1 && strcasecmp(end, "iB") == 0)
		end += 2;
	else if (strcasecmp(end, "B") == 0)
		end++;
	if (*end != '\0')
		return cli_usage_fail(c,
				      "%s '%s' is not a size (like 4096, 64K "
				      "or 16M)",
				      opt, s);
	if (errno != 0 || v == 0 || v > (1ULL << 30) / mul)
		return cli_usage_fail(c,
				      "%s '%s' must be between 1 byte and "
				      "1G",
				      opt, s);
	*out = (size_t)v * mul;
	return CMK_OK;
}

static int parse_threads(struct cli *c, const char *s, bench_opts *o)
{
	char buf[256], *tok, *save = NULL;
	unsigned v;
	int rc;

	if (strlen(s) >= sizeof(buf))
		return cli_usage_fail(c, "--threads '%.20s...' is too long", s);
	strcpy(buf, s);
	o->nthreads = 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if (o->nthreads == sizeof(o->threads) / sizeof(o->threads[0]))
			return cli_usage_fail(c,
					      "--threads: at most %zu thread "
					      "counts",
					      o->nthreads);
		if ((rc = cli_parse_uint(c, "--threads", tok, &v)) != CMK_OK)
			return rc;
		if (v < 1 || v > BENCH_THREADS_MAX)
			return cli_usage_fail(c,
					      "--threads: %u is not between 1 "
					      "and %d",
					      v, BENCH_THREADS_MAX);
		o->threads[o->nthreads++] = v;
	}
	if (o->nthreads == 0)
		return cli_usage_fail(c, "--threads '%s' names no thread count", s);
	return CMK_OK;
}

static int parse_sizes(struct cli *c, const char *s, bench_opts *o)
{
	char buf[256], *tok, *save = NULL;
	int rc;

	if (strlen(s) >= sizeof(buf))
		return cli_usage_fail(c, "--sizes '%.20s...' is too long", s);
	strcpy(buf, s);
	o->nsizes = 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if (o->nsizes == BENCH_SIZES_MAX)
			return cli_usage_fail(c, "--sizes: at most %d sizes", BENCH_SIZES_MAX);
		if ((rc = parse_size(c, "--sizes", tok, &o->sizes[o->nsizes])) != CMK_OK)
			return rc;
		o->nsizes++;
	}
	if (o->nsizes == 0)
		return cli_usage_fail(c, "--sizes '%s' names no size", s);
	return CMK_OK;
}

/* Before a long run: can the plot be written where it is asked for? */
static int check_writable(const char *path)
{
	char buf[4096], *dir;

	if (strlen(path) >= sizeof(buf))
		return cli_fail(CMK_E_USAGE, "--plot: the file name is too long");
	strcpy(buf, path);
	dir = dirname(buf);
	if (access(dir, W_OK) != 0)
		return cli_fail(CMK_E_IO, "--plot %s: cannot write in %s: %s", path, dir,
				strerror(errno));
	return CMK_OK;
}

static int parse_bench_opts(struct cli *c, int argc, char **argv, struct bench_args *a)
{
	unsigned v;
	int o, rc = CMK_OK;

	memset(a, 0, sizeof(*a));
	a->o.warmup = -1;
	a->o.progress = -1;
	while ((o = cli_next_opt(c, argc, argv, bench_options)) != -1) {
		switch (o) {
		case CLI_OPT_STOP: return c->rc;
		case OPT_THREADS: rc = parse_threads(c, optarg, &a->o); break;
		case OPT_DURATION:
			rc = parse_seconds(c, "--duration", optarg, 0, &a->o.duration);
			a->has_duration = 1;
			break;
		case OPT_COUNT:
			rc = cli_parse_uint(c, "--count", optarg, &v);
			if (rc == CMK_OK && v == 0)
				rc = cli_usage_fail(c, "--count must be more "
						       "than 0");
			a->o.count = v;
			break;
		case OPT_WARMUP: rc = parse_seconds(c, "--warmup", optarg, 1, &a->o.warmup); break;
		case OPT_KEY_SIZE:
			rc = cli_parse_uint(c, "--key-size", optarg, &a->o.key_bits);
			if (rc == CMK_OK && a->o.key_bits != 2048 && a->o.key_bits != 3072 &&
			    a->o.key_bits != 4096)
				rc = cli_usage_fail(c,
						    "--key-size %s is not "
						    "2048, 3072 or 4096",
						    optarg);
			break;
		case OPT_HASH: a->o.hash = optarg; break;
		case OPT_PROCS:
			rc = cli_parse_uint(c, "--procs", optarg, &a->o.procs);
			if (rc == CMK_OK && (a->o.procs < 1 || a->o.procs > BENCH_PROCS_MAX))
				rc = cli_usage_fail(c,
						    "--procs %s is not between "
						    "1 and %d",
						    optarg, BENCH_PROCS_MAX);
			break;
		case OPT_REPEAT:
			rc = cli_parse_uint(c, "--repeat", optarg, &a->o.repeat);
			if (rc == CMK_OK && (a->o.repeat < 1 || a->o.repeat > BENCH_MAX_REPEAT))
				rc = cli_usage_fail(c, "--repeat %s is not between 1 and %d",
						    optarg, BENCH_MAX_REPEAT);
			break;
		case OPT_KEY: a->o.key = optarg; break;
		case OPT_OPS: a->o.ops = optarg; break;
		case OPT_SIZES: rc = parse_sizes(c, optarg, &a->o); break;
		case OPT_OBJECT_SIZE:
			rc = parse_size(c, "--object-size", optarg, &a->o.object_size);
			break;
		case OPT_NO_LIMITS: a->o.no_limits = 1; break;
		case OPT_PROVIDER: a->o.provider = optarg; break;
		case OPT_VAULT:
			c->vault = optarg;
			c->vault_explicit = 1;
			break;
		case OPT_JSON: c->json = 1; break;
		case OPT_CSV: a->csv = 1; break;
		case OPT_PLOT: a->plot = optarg; break;
		case OPT_MODULE: a->o.module = optarg; break;
		case OPT_TOKEN: a->o.token = optarg; break;
		case OPT_PIN_SOURCE: a->o.pin_source = optarg; break;
		}
		if (rc != CMK_OK)
			return rc;
	}
	if ((a->o.module != NULL) != (a->o.token != NULL))
		return cli_usage_fail(c, "--module and --token go together: the token "
					 "to measure without a vault");
	if (a->o.pin_source != NULL && a->o.token == NULL)
		return cli_usage_fail(c, "--pin-source is the PIN of --token: give "
					 "--module and --token");
	if (a->o.token != NULL && c->vault_explicit)
		return cli_usage_fail(c, "--token measures a token without a vault: "
					 "not with --vault");
	if (a->o.token != NULL && a->o.key != NULL)
		return cli_usage_fail(c, "--key names a key of a vault: not with "
					 "--token");
	if (a->has_duration && a->o.count)
		return cli_usage_fail(c, "give --duration or --count, not both");
	if (c->json && a->csv)
		return cli_usage_fail(c, "give --json or --csv, not both");
	if (a->o.key != NULL && a->o.key_bits)
		return cli_usage_fail(c, "--key-size is the size of the temporary "
					 "key: not with --key");
	if (a->plot != NULL && *a->plot == '\0')
		return cli_usage_fail(c, "--plot needs a file name");
	if (a->plot != NULL && (rc = check_writable(a->plot)) != CMK_OK)
		return rc;
	a->o.config = c->config;
	a->o.identity = c->identity;
	return cli_operands(c, argc, argv, 0, 0, "");
}

/* The SVG, written whole to its file (or not at all). */
static int write_plot(const char *path, const bench_report *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cmk_rc rc;

	if (f == NULL)
		return cli_fail(CMK_E_NOMEM, "out of memory");
	rc = bench_write_svg(r, f);
	if (fclose(f) != 0 && rc == CMK_OK)
		rc = CMK_E_NOMEM;
	if (rc != CMK_OK) {
		free(buf);
		return cli_lib_fail(rc);
	}
	rc = cli_write(path, "plot", buf, len, 0);
	free(buf);
	return rc;
}

/* Ctrl-C (and SIGTERM, SIGHUP) during a run: the run stops measuring and
 * removes what it made; then the signal is raised again, so the caller
 * sees the command killed by it.  Forked measuring processes inherit the
 * handler (a Ctrl-C reaches them too; a signal to this process alone is
 * passed on to them).  A signal ignored when the command starts stays
 * ignored. */
static volatile sig_atomic_t stop_sig;
static const int stop_sigs[] = { SIGINT, SIGTERM, SIGHUP };

static void on_stop(int sig)
{
	stop_sig = sig;
}

static void catch_stop(struct sigaction *old)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	/* a signal ignored on entry stays ignored (nohup, background jobs) */
	for (size_t i = 0; i < sizeof(stop_sigs) / sizeof(stop_sigs[0]); i++)
		if (sigaction(stop_sigs[i], NULL, &old[i]) == 0 && old[i].sa_handler != SIG_IGN)
			sigaction(stop_sigs[i], &sa, NULL);
}

static void release_stop(const struct sigaction *old)
{
	for (size_t i = 0; i < sizeof(stop_sigs) / sizeof(stop_sigs[0]); i++)
		sigaction(stop_sigs[i], &old[i], NULL);
}

static int run_bench(struct cli *c, int argc, char **argv)
{
	struct bench_args a;
	struct sigaction old[3];
	bench_report *r = NULL;
	cmk_ctx *ctx = NULL;
	int rc, failed;

	if ((rc = parse_bench_opts(c, argc, argv, &a)) != CMK_OK)
		return rc;
	if (a.o.token == NULL && (rc = cli_open(c, a.o.key, &ctx)) != CMK_OK)
		return rc;
	a.o.stop = &stop_sig;
	catch_stop(old);
	rc = bench_run(ctx, &a.o, &r);
	if (stop_sig != 0) {
		int sig = stop_sig;

		bench_report_free(r);
		cmk_close(ctx);
		fprintf(stderr,
			"cmk: bench: interrupted by %s; what the run made "
			"is removed\n",
			sig == SIGINT	 ? "SIGINT"
			: sig == SIGTERM ? "SIGTERM"
					 : "SIGHUP");
		fflush(NULL);
		release_stop(old);
		signal(sig, SIG_DFL);
		raise(sig);
		return CMK_E_INTERNAL;
	}
	release_stop(old);
	if (rc != CMK_OK) {
		rc = cli_fail(rc, "%s", bench_last_error());
		cmk_close(ctx);
		return rc;
	}
	/* the plot first: when it fails, nothing is printed */
	rc = a.plot != NULL ? write_plot(a.plot, r) : CMK_OK;
	if (rc == CMK_OK && c->json)
		rc = cli_json_print(bench_json(r));
	else if (rc == CMK_OK && a.csv)
		rc = bench_write_csv(r, stdout);
	else if (rc == CMK_OK)
		rc = bench_write_table(r, stdout);
	failed = bench_failed(r);
	for (size_t i = 0; i < r->nresults; i++)
		if (r->results[i].rc != CMK_OK)
			fprintf(stderr, "cmk: bench: %s failed: %s\n", r->results[i].name,
				r->results[i].note);
	if (r->leftover[0])
		fprintf(stderr, "cmk: bench: could not remove %s\n", r->leftover);
	bench_report_free(r);
	cmk_close(ctx);
	return rc != CMK_OK ? rc : failed;
}

const struct cli_group cli_group_bench = {
	"bench",
	"measure cmk's speed against the token's and the CPU's",
	(const struct cli_cmd[]){
		{ NULL, run_bench,
		  "[--threads LIST] [--duration S | --count N] [--ops LIST] "
		  "[--key KEYID | --module PATH|NAME --token LABEL|URI "
		  "[--pin-source SRC]] [--procs N] [--json | --csv] [--plot FILE.svg] "
		  "[OPTION]...",
		  "Measure operations per second, latency (p50/p90/p99/max), CPU "
		  "time per\noperation and scaling over thread counts, of cmk's "
		  "operations and, in the\nsame run, of raw PKCS#11 on the same "
		  "token (the HSM limit) and plain OpenSSL\n(the CPU limit); each "
		  "cmk figure is shown as a ratio of its limits.\nWithout --key, a "
		  "temporary key is made and purged afterwards, as is\neverything "
		  "else the run makes, also when interrupted (docs/benchmarks.md).\n"
		  "With --module and --token, a token without a vault is measured on "
		  "session\nobjects only: nothing is written to it.",
		  "  --threads LIST     thread counts, e.g. 1,2,4 (default)\n"
		  "  --duration S       seconds per measurement (default 2; also "
		  "500ms)\n"
		  "  --count N          operations per measurement instead\n"
		  "  --warmup S         seconds of warm-up before each (default "
		  "0.5)\n"
		  "  --key KEYID        measure an existing key\n"
		  "  --key-size BITS    the temporary key: 2048 (default), 3072, "
		  "4096\n"
		  "  --hash MD          OAEP digest: SHA256 (default), SHA1, "
		  "SHA384, SHA512\n"
		  "  --procs N          N processes on the token, each with the "
		  "threads\n"
		  "  --repeat N         N rounds; each figure is the fastest "
		  "round's (busy hosts)\n"
		  "  --ops LIST         what to measure (default all): wrap unwrap\n"
		  "                     unwrap-provider seal open open-cached put "
		  "get put-cached\n"
		  "                     get-cached "
		  "key-create key-rotate, the limits "
		  "p11-decrypt\n"
		  "                     p11-encrypt p11-keygen ossl-decrypt "
		  "ossl-encrypt\n"
		  "                     ossl-aes-gcm-16K ossl-aes-gcm-buffer "
		  "ossl-encrypt-logged\n"
		  "                     log-append, or"
		  " the groups key provider envelope resource\n"
		  "                     mgmt limits all; without a vault "
		  "p11-encrypt-oaep\n"
		  "                     p11-decrypt-oaep p11-encrypt-raw p11-decrypt-raw "
		  "p11-wrap\n"
		  "                     p11-unwrap p11-aes-gcm-16K p11-keygen, the "
		  "group token\n"
		  "  --sizes LIST       envelope object sizes (default 4K,16M)\n"
		  "  --object-size SIZE resource object size (default 4K)\n"
		  "  --no-limits        skip the raw PKCS#11 and OpenSSL "
		  "baselines\n"
		  "  --provider PATH    cmk.so or its directory (default: "
		  "$OPENSSL_MODULES,\n"
		  "                     the build tree, OpenSSL's modules "
		  "directory)\n"
		  "  --vault NAME       the vault (token) to measure\n"
		  "  --module PATH|NAME without a vault: the PKCS#11 module (a path "
		  "or a\n                     p11-kit module name)...\n"
		  "  --token LABEL|URI  ...and the token: its label or a pkcs11: URI\n"
		  "  --pin-source SRC   its user PIN: file:PATH, env:VAR or prompt "
		  "(default)\n"
		  "  --json, --csv      machine-readable output\n"
		  "  --plot FILE.svg    draw throughput against threads\n" },
		{ NULL, NULL, NULL, NULL, NULL },
	},
};
