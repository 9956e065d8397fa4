/*
 * p11-handles.c - an object handle found before the module was initialised
 * again never reaches the module (src/lib/p11/object.c): SoftHSM numbers
 * objects again from 1 after C_Initialize, so the old number names another
 * object, and a destroy through it would destroy that one.  Two records are
 * made, the module is initialised again, and a destroy through the first
 * record's old handle must be refused, leaving both records.  Prints TAP.
 *
 * usage: p11-handles MODULE TOKEN PINFILE
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p11/p11.h"
#include "tap.h"

static size_t count(p11_tok *t, const char *app, CK_OBJECT_HANDLE *h)
{
	p11_data *d = NULL;
	size_t n = 0;
	if (p11_data_find(t, app, &d, &n) != CMK_OK)
		return (size_t)-1;
	if (h)
		*h = n ? d[0].h : CK_INVALID_HANDLE;
	p11_data_free(d, n);
	return n;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: p11-handles MODULE TOKEN PINFILE\n");
		return 2;
	}
	char pin[256] = "";
	FILE *f = fopen(argv[3], "r");
	if (!f || !fgets(pin, sizeof pin, f)) {
		printf("Bail out! cannot read %s\n", argv[3]);
		return 1;
	}
	fclose(f);
	pin[strcspn(pin, "\r\n")] = '\0';
	p11_mod *m;
	p11_tok *t;
	if (p11_mod_load(argv[1], NULL, &m) != CMK_OK ||
	    p11_tok_open(m, argv[2], "token under test", &t) != CMK_OK ||
	    p11_tok_login(t, pin) != CMK_OK) {
		printf("Bail out! cannot open token %s: %s\n", argv[2], cmk_last_error());
		return 1;
	}
	printf("1..3\n");
	CK_OBJECT_HANDLE a, b;
	const uint8_t va[] = "a", vb[] = "b";
	if (p11_data_create(t, "cmk-test/handles-a", "a", va, 1, 1, &a) != CMK_OK ||
	    p11_data_create(t, "cmk-test/handles-b", "b", vb, 1, 1, &b) != CMK_OK) {
		printf("Bail out! cannot make the records: %s\n", cmk_last_error());
		return 1;
	}
	if (p11_tok_recover(t, p11_tok_gen(t)) != CMK_OK) {
		printf("Bail out! cannot initialise the module again: %s\n", cmk_last_error());
		return 1;
	}
	cmk_rc rc = p11_destroy(t, a);
	ok(rc != CMK_OK && strstr(cmk_last_error(), "found before the module was initialised"),
	   "a destroy through a handle found before the re-initialisation is refused");
	CK_OBJECT_HANDLE na, nb;
	ok(count(t, "cmk-test/handles-a", &na) == 1, "the record it named is still there");
	ok(count(t, "cmk-test/handles-b", &nb) == 1, "and so is the other one");
	/* through handles of this generation: gone */
	if (na != CK_INVALID_HANDLE)
		p11_destroy(t, na);
	if (nb != CK_INVALID_HANDLE)
		p11_destroy(t, nb);
	p11_tok_close(t);
	p11_mod_unref(m);
	return test_failed ? 1 : 0;
}
