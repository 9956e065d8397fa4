/* json.c - a benchmark run as JSON (json-c), for scripts.
 *
 * { "vault", "token", ..., "results": [ { "op", "class", "what", "bytes",
 *   "hsm_limit"?, "cpu_limit"?, "points": [ { "threads", "procs", "ops",
 *   "seconds", "ops_per_s", "mb_per_s"?, "p50_us", "p90_us", "p99_us",
 *   "max_us", "cpu_us_per_op", "scaling", "vs_hsm"?, "vs_cpu"?,
 *   "rounds_ops_per_s"? } ] } ],
 *   "skipped": [ { "op", "reason" } ], "failed": [ { "op", "error", "reason" } ] }
 * A member marked ? is there only when it applies. */
#include "config.h"
#include <json-c/json.h>
#include "bench/bench_int.h"

static void add_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static void add_num(json_object *o, const char *k, double v)
{
	json_object_object_add(o, k, json_object_new_double(v));
}

static void add_int(json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

static json_object *point(const bench_result *r, const bench_point *p)
{
	json_object *o = json_object_new_object();
	add_int(o, "threads", p->threads);
	add_int(o, "procs", p->procs);
	add_int(o, "ops", (int64_t)p->ops);
	add_num(o, "seconds", p->seconds);
	add_num(o, "ops_per_s", p->ops_per_s);
	if (r->bytes)
		add_num(o, "mb_per_s", p->bytes_per_s / 1e6);
	add_num(o, "p50_us", p->p50_us);
	add_num(o, "p90_us", p->p90_us);
	add_num(o, "p99_us", p->p99_us);
	add_num(o, "max_us", p->max_us);
	add_num(o, "cpu_us_per_op", p->cpu_us_per_op);
	add_num(o, "scaling", p->scaling);
	if (r->hsm_limit[0] && p->vs_hsm > 0)
		add_num(o, "vs_hsm", p->vs_hsm);
	if (r->cpu_limit[0] && p->vs_cpu > 0)
		add_num(o, "vs_cpu", p->vs_cpu);
	if (p->nrounds > 1) {
		json_object *a = json_object_new_array();
		for (unsigned k = 0; k < p->nrounds; k++)
			json_object_array_add(a, json_object_new_double(p->round_ops_per_s[k]));
		json_object_object_add(o, "rounds_ops_per_s", a);
	}
	return o;
}

static json_object *result(const bench_result *r)
{
	json_object *o = json_object_new_object(), *pts = json_object_new_array();
	add_str(o, "op", r->name);
	add_str(o, "class", bench_class_name(r->cls));
	add_str(o, "what", r->what);
	add_int(o, "bytes", (int64_t)r->bytes);
	if (r->hsm_limit[0])
		add_str(o, "hsm_limit", r->hsm_limit);
	if (r->cpu_limit[0])
		add_str(o, "cpu_limit", r->cpu_limit);
	for (size_t i = 0; i < r->npoints; i++)
		json_object_array_add(pts, point(r, &r->points[i]));
	json_object_object_add(o, "points", pts);
	return o;
}

struct json_object *bench_json(const bench_report *r)
{
	json_object *o = json_object_new_object(), *th = json_object_new_array();
	json_object *res = json_object_new_array(), *skip = json_object_new_array();
	json_object *failed = json_object_new_array();
	add_str(o, "vault", r->vault);
	add_str(o, "token", r->token);
	add_str(o, "model", r->model);
	add_str(o, "manufacturer", r->manufacturer);
	add_str(o, "module", r->module);
	add_int(o, "token_objects", (int64_t)r->token_objects);
	add_str(o, "key", r->key);
	if (r->made_as[0])
		add_str(o, "made_as", r->made_as);
	json_object_object_add(o, "temporary_key", json_object_new_boolean(r->temporary_key));
	add_int(o, "key_bits", r->key_bits);
	add_str(o, "alg", r->alg);
	add_str(o, "hash", r->hash);
	add_str(o, "unwrap_mechanism", r->unwrap_mech);
	add_str(o, "openssl", r->openssl);
	add_int(o, "cpus", r->cpus);
	add_int(o, "procs", r->procs);
	add_int(o, "repeat", r->repeat);
	if (r->count)
		add_int(o, "count", (int64_t)r->count);
	else
		add_num(o, "duration_s", r->duration);
	add_num(o, "warmup_s", r->warmup);
	for (size_t i = 0; i < r->nthreads; i++)
		json_object_array_add(th, json_object_new_int64(r->threads[i]));
	json_object_object_add(o, "threads", th);
	for (size_t i = 0; i < r->nresults; i++) {
		const bench_result *x = &r->results[i];
		if (x->measured) {
			json_object_array_add(res, result(x));
		} else {
			json_object *s = json_object_new_object();
			add_str(s, "op", x->name);
			if (x->rc != CMK_OK)
				add_str(s, "error", cmk_rc_name(x->rc));
			add_str(s, "reason", x->note);
			json_object_array_add(x->rc != CMK_OK ? failed : skip, s);
		}
	}
	json_object_object_add(o, "results", res);
	json_object_object_add(o, "skipped", skip);
	json_object_object_add(o, "failed", failed);
	if (r->leftover[0])
		add_str(o, "not_removed", r->leftover);
	return o;
}
