# tests/lifecycle.mk - issue 3: soft delete, recover, purge, retention,
# access policies, the audit trail, concurrency and crash safety of the
# lifecycle; included from tests/local.mk.  The scripts use
# tests/lifecycle-lib.sh (after tests/lib.sh); retention is tested across
# real days with libfaketime (`faketime -f +91d`), never a test-only clock.

lifecycle_tests = \
	tests/kill-loop-lifecycle.sh \
	tests/concurrent-stress.sh \
	tests/lifecycle-recover.sh \
	tests/lifecycle-purge.sh \
	tests/lifecycle-retention.sh \
	tests/lifecycle-tamper.sh \
	tests/lifecycle-api.sh \
	tests/policy-perms.sh \
	tests/audit-tamper.sh \
	tests/audit-secrets.sh \
	tests/audit-fail-closed.sh

TESTS += $(lifecycle_tests)
EXTRA_DIST += $(lifecycle_tests) tests/lifecycle-lib.sh

# The C API of issue 3 (cmk.h only), run by tests/lifecycle-api.sh.
check_PROGRAMS += tests/api-lifecycle
tests_api_lifecycle_SOURCES = tests/api-lifecycle.c
tests_api_lifecycle_LDADD = src/lib/libcmk.la

# Overridable on the make command line.
CMK_STRESS_SECONDS = 20
AM_TESTS_ENVIRONMENT += \
	CMK_STRESS_SECONDS='$(CMK_STRESS_SECONDS)'; export CMK_STRESS_SECONDS;
