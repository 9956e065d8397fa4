# tests/provider.mk - tests of the OpenSSL provider cmk.so (src/provider),
# included from tests/local.mk.  The scripts use tests/provider-lib.sh.

provider_tests = \
	tests/provider-store.sh \
	tests/provider-decrypt.sh \
	tests/provider-sign.sh \
	tests/provider-tls.sh \
	tests/provider-threads.sh \
	tests/provider-errors.sh \
	tests/provider-pem.sh \
	tests/provider-pem-errors.sh \
	tests/provider-conf.sh \
	tests/provider-check.sh \
	tests/provider-fuzz.sh \
	tests/provider-adopt.sh

TESTS += $(provider_tests)
EXTRA_DIST += $(provider_tests) tests/provider-lib.sh

AM_TESTS_ENVIRONMENT += \
	CMK_PROVIDER_DIR='$(abs_top_builddir)/src/provider/.libs'; \
	export CMK_PROVIDER_DIR;

# An application that knows only OpenSSL: no cmk header, no libcmk.
check_PROGRAMS += tests/provider-threads
tests_provider_threads_SOURCES = tests/provider-threads.c
tests_provider_threads_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS)
tests_provider_threads_LDADD = $(LIBCRYPTO_LIBS) $(PTHREAD_LIBS)

# Reads a key file as servers do (key reference files, tests/provider-pem*.sh).
check_PROGRAMS += tests/provider-pemread
tests_provider_pemread_SOURCES = tests/provider-pemread.c
tests_provider_pemread_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS)
# libssl comes with libcrypto (libssl-dev)
tests_provider_pemread_LDADD = -lssl $(LIBCRYPTO_LIBS)

include tests/services.mk
