# tests/remote.mk - remote tokens through p11-kit server, and cmk on a second
# PKCS#11 implementation, NSS softoken (issue 6; docs/remote.md, docs/tokens.md).
#
#   tests/remote-*.sh   cmk lab serve/stop, faults (the server killed under a
#                       live client), several clients on one server
#   tests/nss-*.sh      the NSS-only checks (what softokn does differently)
#   tests/kind-*.sh     foundation tests run again with the vault on NSS
#                       softoken or through p11-kit server (tests/token-run.sh)

check_PROGRAMS += tests/remote-driver
tests_remote_driver_SOURCES = tests/remote-driver.c
tests_remote_driver_LDADD = src/lib/libcmk.la $(PTHREAD_LIBS)

remote_tests = \
	tests/remote-serve.sh \
	tests/remote-fault.sh \
	tests/remote-clients.sh \
	tests/nss-vault.sh

TESTS += $(remote_tests)
EXTRA_DIST += $(remote_tests) tests/token-kinds.sh
