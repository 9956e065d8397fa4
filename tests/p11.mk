# tests/p11.mk - the PKCS#11 layer (src/lib/p11/): fork under load, and a
# fault-injecting PKCS#11 module (tests/faultmod.c) that drives its error
# paths.  Included from tests/local.mk.

p11_tests = \
	tests/fork-load.sh

TESTS += $(p11_tests)
EXTRA_DIST += $(p11_tests)

# 4 threads unwrapping through a context and the provider while the main
# thread forks: an application of both libcmk and OpenSSL.
check_PROGRAMS += tests/fork-load
tests_fork_load_SOURCES = tests/fork-load.c tests/tap.h
tests_fork_load_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS)
tests_fork_load_LDADD = src/lib/libcmk.la $(LIBCRYPTO_LIBS) $(PTHREAD_LIBS)
