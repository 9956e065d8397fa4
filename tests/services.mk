# tests/services.mk - real services with a vault key given as a key
# reference file (issue 11), included from tests/provider.mk.  Each test
# runs one service on 127.0.0.1 (ports chosen at run time) and skips with
# the reason when the service cannot run here; under CI=true a missing
# package is a failure.  tests/service-lib.sh has the shared helpers.
service_tests = \
	tests/service-nginx.sh \
	tests/service-haproxy.sh \
	tests/service-stunnel.sh \
	tests/service-postgresql.sh \
	tests/service-curl.sh \
	tests/service-apache.sh \
	tests/service-libp11.sh

TESTS += $(service_tests)
EXTRA_DIST += $(service_tests) tests/service-lib.sh tests/bench-services.sh
