/*
 * pin.c - the application's passphrase callback as the PIN of a vault whose
 * pin_source is "prompt" (cmk.conf(5)): while the store or the decoder
 * opens a vault, libcmk asks this thread's callback (cmk_set_thread_pin_cb)
 * instead of the terminal.
 */
#include <stdio.h>

#include <openssl/core_names.h>

#include "prov.h"

static _Thread_local OSSL_PASSPHRASE_CALLBACK *pw_cb;
static _Thread_local void *pw_arg;

static int ask(char *buf, size_t cap, const char *what, void *unused)
{
	OSSL_PARAM params[2];
	char info[160];
	size_t n = 0;

	(void)unused;
	if (pw_cb == NULL || cap < 2)
		return 0;
	snprintf(info, sizeof info, "PIN for %s", what);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PASSPHRASE_PARAM_INFO, info, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!pw_cb(buf, cap - 1, &n, params, pw_arg) || n == 0 || n >= cap) {
		OPENSSL_cleanse(buf, cap);
		return 0;
	}
	buf[n] = '\0';
	return 1;
}

void cmkp_pw_push(cmkp_prov *p, OSSL_PASSPHRASE_CALLBACK *cb, void *arg)
{
	(void)p;
	if (cb == NULL)
		return;
	pw_cb = cb;
	pw_arg = arg;
	cmk_set_thread_pin_cb(ask, NULL);
}

void cmkp_pw_pop(cmkp_prov *p)
{
	(void)p;
	if (pw_cb == NULL)
		return;
	cmk_set_thread_pin_cb(NULL, NULL);
	pw_cb = NULL;
	pw_arg = NULL;
}
