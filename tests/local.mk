# tests: TAP tests against real SoftHSMv2 tokens made in a temp dir per test.
#
#   make check                          all tests (parallel-safe: make -j2 check)
#   make check TESTS='tests/wrap.sh'    one test
#   make check CMK_VALGRIND=1           every cmk invocation under valgrind
#   make check-valgrind                 the quick subset under valgrind
#
# Helpers for the test scripts are in tests/lib.sh.  Other parts of the tree
# add their tests in their own fragment (tests/NAME.mk) included from here.

TEST_EXTENSIONS = .sh
SH_LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
# A hung test is killed (and reported as an ERROR) after CMK_TEST_TIMEOUT s.
SH_LOG_COMPILER = timeout -k 10 $(CMK_TEST_TIMEOUT) bash
LOG_DRIVER = $(SH_LOG_DRIVER)

# distcheck builds the tarball the way CI builds the tree.
AM_DISTCHECK_CONFIGURE_FLAGS = --enable-werror

# Overridable on the make command line.
CMK_TEST_TIMEOUT = 900
CMK_VALGRIND = 0
VALGRIND = valgrind
CMK_KILL_SECONDS = 60
# the fault-injection tests try every CMK_FAULT_EVERY-th point (tests/fault-lib.sh)
CMK_FAULT_EVERY = 1

AM_TESTS_ENVIRONMENT = \
	srcdir='$(srcdir)'; top_srcdir='$(top_srcdir)'; \
	abs_top_srcdir='$(abs_top_srcdir)'; abs_top_builddir='$(abs_top_builddir)'; \
	CMK_BIN='$(abs_top_builddir)/src/cli/cmk'; \
	CMK_TESTS_BIN='$(abs_top_builddir)/tests'; \
	CMK_LIBTOOL='$(LIBTOOL)'; \
	SOFTHSM_MODULE='$(softhsm_module)'; \
	CMK_VALGRIND='$(CMK_VALGRIND)'; VALGRIND='$(VALGRIND)'; \
	CMK_VALGRIND_SUPP='$(abs_top_srcdir)/tests/valgrind.supp'; \
	CMK_KILL_SECONDS='$(CMK_KILL_SECONDS)'; CMK_FAULT_EVERY='$(CMK_FAULT_EVERY)'; \
	export srcdir top_srcdir abs_top_srcdir abs_top_builddir CMK_BIN \
		CMK_TESTS_BIN CMK_LIBTOOL SOFTHSM_MODULE CMK_VALGRIND VALGRIND \
		CMK_VALGRIND_SUPP CMK_KILL_SECONDS CMK_FAULT_EVERY;

if SANITIZERS
# Sanitizer exits use codes no cmk_rc has (97, 98), so a report can never
# pass for an expected failure.  Leaks inside SoftHSM, p11-kit and libcrypto
# at exit are suppressed (tests/lsan.supp); cmk's own are not.
AM_TESTS_ENVIRONMENT += \
	ASAN_OPTIONS='detect_leaks=1:verify_asan_link_order=0:exitcode=98:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1'; \
	LSAN_OPTIONS='suppressions=$(abs_top_srcdir)/tests/lsan.supp:print_suppressions=0'; \
	UBSAN_OPTIONS='print_stacktrace=1:halt_on_error=1:exitcode=97'; \
	export ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS;
endif

# The order of TESTS is the order in which `make -j check` starts them: the
# longest (fault injection and kill loops, torture, the other token kinds)
# come first, each first in its fragment, so that the many short tests fill
# the other job slots beside them instead of one long test running alone at
# the end.
include tests/p11.mk
include tests/torture.mk
include tests/lifecycle.mk
include tests/remote.mk

# The foundation (issue 2): vault, keys, wrap/unwrap, errors, interop, crashes.
foundation_tests = \
	tests/kill-loop.sh \
	tests/layers.sh \
	tests/style.sh \
	tests/vault.sh \
	tests/key-lifecycle.sh \
	tests/key-set.sh \
	tests/key-disable-token.sh \
	tests/wrap-roundtrip.sh \
	tests/errors-lookup.sh \
	tests/errors-config.sh \
	tests/errors-pin.sh \
	tests/errors-lifecycle.sh \
	tests/errors-blob.sh \
	tests/interop-openssl.sh \
	tests/interop-pkcs11-tool.sh \
	tests/api.sh

# Run under valgrind by `make check-valgrind` (and tests/run-all): the
# crypto and parsing paths, where valgrind's uninitialised-value checks add
# most to the ASan/LSan run of every test.  Each cmk run costs ~2 s under
# valgrind (key generation ~10 s: see tests/lib.sh).  The longest first.
QUICK_TESTS = \
	tests/wrap-roundtrip.sh \
	tests/vault.sh \
	tests/errors-lookup.sh \
	tests/errors-blob.sh \
	tests/api.sh

TESTS += $(foundation_tests)
EXTRA_DIST += $(foundation_tests) tests/lib.sh tests/tap.h tests/lsan.supp \
	tests/valgrind.supp tests/run-all tests/mutate tests/mutations.txt

check_PROGRAMS += tests/api-threads
tests_api_threads_SOURCES = tests/api-threads.c
tests_api_threads_LDADD = src/lib/libcmk.la $(PTHREAD_LIBS)

check-valgrind:
	$(MAKE) $(AM_MAKEFLAGS) check CMK_VALGRIND=1 TESTS='$(QUICK_TESTS)'

print-quick-tests:
	@echo $(QUICK_TESTS)

.PHONY: check-valgrind print-quick-tests

include tests/envelope.mk
include tests/provider.mk
include tests/bench.mk
include tests/audit.mk
include tests/resources.mk
include tests/cli.mk
include tests/keys.mk
