# tests/audit.mk - the audit log (issue 12 items 1 and 6, issue 10 item 9,
# issue 15): concurrent appenders, kill -9 while threads append, a record
# spliced in after a token rollback, rotation and verify across segments,
# the log's place and lost records; included from tests/local.mk.

audit_tests = \
	tests/audit-concurrency.sh \
	tests/audit-splice.sh \
	tests/audit-rotate.sh \
	tests/audit-location.sh

TESTS += $(audit_tests)
EXTRA_DIST += $(audit_tests)

# N threads appending through one key handle (tests/audit-*.sh).
check_PROGRAMS += tests/audit-threads
tests_audit_threads_SOURCES = tests/audit-threads.c
tests_audit_threads_LDADD = src/lib/libcmk.la $(PTHREAD_LIBS)
