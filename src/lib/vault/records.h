/* records.h - named records kept in generations: access policies
 * (policy.c), identities (identity.c) and rotation policies (rotation.c).
 *
 * One kind of record has one CKA_APPLICATION and one record per name, its
 * JSON carrying the name and "gen".  Records cannot be changed in place
 * (meta.h), so a change writes the name's next generation and then destroys
 * the older record (and any other superseded one); a reader takes the
 * highest generation per name and lists the superseded ones as stale (a
 * change killed between the two steps leaves one). */
#ifndef CMK_RECORDS_H
#define CMK_RECORDS_H

#include <stdint.h>
#include <json-c/json.h>
#include "ctx.h"

/* The first member of every record type. */
typedef struct rec_hdr {
	uint64_t gen;
	CK_OBJECT_HANDLE h;
} rec_hdr;

typedef struct rec_kind {
	const char *app;      /* CKA_APPLICATION */
	const char *what;     /* the label's word: "cmk WHAT NAME #GEN" */
	const char *name_key; /* the JSON member that names a record */
	size_t size;	      /* of a record, a rec_hdr first */
	size_t name_off;      /* where in a record its name is (CMK_NAME_MAX) */
	/* Fill a record (its name and header are filled already) from its
	 * JSON; 0: malformed, the record is reported and ignored. */
	int (*parse)(json_object *o, void *rec);
} rec_kind;

/* Every record of the kind, newest generation per name, in *out (an array
 * of k->size records, free()).  A record that fails authentication or is
 * malformed is reported (meta_report_bad) and ignored; a token that fails
 * is an error.  stale (may be NULL): the superseded records' handles. */
cmk_rc recs_read(cmk_ctx *ctx, const rec_kind *k, void **out, size_t *n, CK_OBJECT_HANDLE **stale,
		 size_t *nstale);

/* The record named name in recs (n of them), or NULL. */
void *recs_find(const rec_kind *k, void *recs, size_t n, const char *name);

/* Write name's next generation: o (taken) gets "gen", then the older
 * record and the stale ones are destroyed.  amend (may be NULL) adds to o
 * what it keeps from the name's current record (NULL when there is none). */
cmk_rc recs_write(cmk_ctx *ctx, const rec_kind *k, const char *name, json_object *o,
		  void (*amend)(json_object *o, const void *cur));

/* JSON members, "" or 0 when absent. */
const char *recs_str(json_object *o, const char *key);
int64_t recs_int(json_object *o, const char *key);

#endif
