# tests/keys.mk - issue 10: key versions on the token under concurrency
# and kills (archive and working copies, docs/design.md), unauthenticated
# records and `cmk vault check`; included from tests/local.mk.

keys_tests = \
	tests/keys-race.sh \
	tests/keys-concurrent.sh \
	tests/keys-reader-race.sh \
	tests/keys-unauth.sh \
	tests/keys-copies.sh \
	tests/keys-purge-race.sh \
	tests/keys-incomplete.sh

TESTS += $(keys_tests)
EXTRA_DIST += $(keys_tests)

# fork() while a thread holds the vault lock shared, for
# tests/keys-reader-race.sh.
check_PROGRAMS += tests/fork-read-hold
tests_fork_read_hold_SOURCES = tests/fork-read-hold.c
tests_fork_read_hold_LDADD = src/lib/libcmk.la $(PTHREAD_LIBS)
