# tests/remote.mk - remote tokens through p11-kit server, and cmk on a second
# PKCS#11 implementation, NSS softoken (issue 6; docs/remote.md, docs/tokens.md).
#
#   tests/remote-serve.sh    cmk lab serve/stop; server = and remote: vaults
#   tests/remote-fault.sh    the server killed under a live client
#   tests/remote-clients.sh  two clients, two threads each, on one server
#   tests/nss-vault.sh       what NSS softoken does differently, from below
#   tests/kind-nss.sh        foundation tests again on NSS softoken
#   tests/kind-remote.sh     foundation tests again through p11-kit server
# tests/token-kinds.sh makes the vaults (CMK_TEST_TOKEN=softhsm|nss|remote);
# tests/token-run.sh runs a foundation test unchanged on another kind.

check_PROGRAMS += tests/remote-driver tests/p11-probe
tests_remote_driver_SOURCES = tests/remote-driver.c
tests_remote_driver_LDADD = src/lib/libcmk.la $(PTHREAD_LIBS)
tests_p11_probe_SOURCES = tests/p11-probe.c
tests_p11_probe_CFLAGS = $(AM_CFLAGS) $(P11KIT_CFLAGS)
tests_p11_probe_LDADD = $(P11KIT_LIBS)

remote_tests = \
	tests/kind-nss.sh \
	tests/kind-remote.sh \
	tests/remote-serve.sh \
	tests/remote-fault.sh \
	tests/remote-clients.sh \
	tests/nss-vault.sh

TESTS += $(remote_tests)
EXTRA_DIST += $(remote_tests) tests/token-kinds.sh tests/token-run.sh
