# tests/torture.mk - the torture test and the kill loops (issue 10);
# included from tests/local.mk.  docs/design.md, "Testing the promises".
#
#   make check TESTS=tests/torture.sh          the suite's run ($(CMK_TORTURE_SECONDS) s)
#   make torture TORTURE_ARGS='--minutes 10 --procs 4 --threads 2'
#                                              the long form, on a fresh lab
#   make check TESTS=tests/kill-loop-commands.sh CMK_KILL_COUNT=1000 CMK_TEST_TIMEOUT=0
#                                              the long kill loop (about 45 min;
#                                              no per-test time limit)

torture_tests = \
	tests/torture.sh \
	tests/kill-loop-commands.sh

TESTS += $(torture_tests)
EXTRA_DIST += $(torture_tests) tests/kill-lib.sh

check_PROGRAMS += tests/torture
tests_torture_SOURCES = tests/torture.c
tests_torture_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS) $(P11KIT_CFLAGS)
tests_torture_LDADD = src/lib/libcmk.la $(LIBCRYPTO_LIBS) $(P11KIT_LIBS) $(PTHREAD_LIBS)

# Overridable on the make command line (tests/run-all shortens them for the
# ASan phase).  CMK_KILL_COUNT: run the kill loops until that many kills
# instead of for CMK_KILL_SECONDS.  CMK_TOKEN_LOSS=fail: a token.object
# emptied by a kill (SoftHSM 2.6) fails the tests instead of being restored
# and counted.  It stays `repair` here: a SIGKILL (which no process can
# block) inside SoftHSM's own C_Login rewrite empties the file about once in
# 80 kills of library processes; the cmk command restores it from the lab's
# copy (docs/design.md), and the tests count it.
CMK_TORTURE_SECONDS = 60
CMK_KILL_COUNT = 0
CMK_TOKEN_LOSS = repair
AM_TESTS_ENVIRONMENT += \
	CMK_TORTURE_SECONDS='$(CMK_TORTURE_SECONDS)'; CMK_KILL_COUNT='$(CMK_KILL_COUNT)'; \
	CMK_TOKEN_LOSS='$(CMK_TOKEN_LOSS)'; \
	export CMK_TORTURE_SECONDS CMK_KILL_COUNT CMK_TOKEN_LOSS;

TORTURE_ARGS = --minutes 10 --procs 4 --threads 2
torture: tests/torture src/cli/cmk src/provider/cmk.la
	$(AM_TESTS_ENVIRONMENT) CMK_TORTURE_ARGS='$(TORTURE_ARGS)' \
		bash $(top_srcdir)/tests/torture.sh
.PHONY: torture
