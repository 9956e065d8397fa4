# tests/p11.mk - the PKCS#11 layer (src/lib/p11/): fork under load, and a
# fault-injecting PKCS#11 module (tests/faultmod.c) that drives its error
# paths.  Included from tests/local.mk.

p11_tests = \
	tests/interrupted-changes.sh \
	tests/faults-lifecycle.sh \
	tests/fork-load.sh \
	tests/reinit-race.sh \
	tests/create-race.sh \
	tests/p11-handles.sh \
	tests/faults-p11.sh

TESTS += $(p11_tests)
EXTRA_DIST += $(p11_tests) tests/fault-lib.sh

# 4 threads unwrapping through a context and the provider while the main
# thread forks: an application of both libcmk and OpenSSL.
check_PROGRAMS += tests/fork-load
tests_fork_load_SOURCES = tests/fork-load.c tests/tap.h
tests_fork_load_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS)
tests_fork_load_LDADD = src/lib/libcmk.la $(LIBCRYPTO_LIBS) $(PTHREAD_LIBS)

# Threads between the calls of one operation while the process
# re-initialises its module (a second process changes the vault).
check_PROGRAMS += tests/reinit-race
tests_reinit_race_SOURCES = tests/reinit-race.c tests/tap.h
tests_reinit_race_LDADD = src/lib/libcmk.la $(PTHREAD_LIBS)

# Token objects created while other threads of the process search the
# token (SoftHSMv2 issue #573).
check_PROGRAMS += tests/create-race
tests_create_race_SOURCES = tests/create-race.c tests/tap.h
tests_create_race_LDADD = src/lib/libcmk.la $(PTHREAD_LIBS)

# Threads that take every signal while the main thread writes the token
# (C_Login), for tests/faults-p11.sh.
check_PROGRAMS += tests/sig-threads
tests_sig_threads_SOURCES = tests/sig-threads.c
tests_sig_threads_LDADD = src/lib/libcmk.la $(PTHREAD_LIBS)

# A handle of an earlier generation of the module is refused (the PKCS#11
# layer's own API, from the internal library).
check_PROGRAMS += tests/p11-handles
tests_p11_handles_SOURCES = tests/p11-handles.c tests/tap.h
tests_p11_handles_CFLAGS = $(AM_CFLAGS) $(P11KIT_CFLAGS)
tests_p11_handles_LDADD = src/lib/libcmk-internal.la $(LIBCRYPTO_LIBS) $(P11KIT_LIBS) \
	$(JSONC_LIBS) $(PTHREAD_LIBS)

# The fault-injecting module: SoftHSM behind a function list that fails,
# delays or drops replies as CMK_FAULT says (tests/faultmod.c).  -rpath
# makes libtool build it shared; it is never installed.
check_LTLIBRARIES = tests/faultmod.la
tests_faultmod_la_SOURCES = tests/faultmod.c
tests_faultmod_la_CFLAGS = $(AM_CFLAGS) $(P11KIT_CFLAGS) \
	-DFAULT_DEFAULT_TARGET='"$(softhsm_module)"'
tests_faultmod_la_LDFLAGS = -module -avoid-version -shared -rpath '$(abs_builddir)/tests'
tests_faultmod_la_LIBADD = $(PTHREAD_LIBS) -ldl

AM_TESTS_ENVIRONMENT += \
	CMK_FAULTMOD='$(abs_top_builddir)/tests/.libs/faultmod.so'; \
	export CMK_FAULTMOD;

# Buffer too small after the token decrypted; PKCS#1 v1.5 implicit rejection.
check_PROGRAMS += tests/p11-errors
tests_p11_errors_SOURCES = tests/p11-errors.c tests/tap.h
tests_p11_errors_LDADD = src/lib/libcmk.la
