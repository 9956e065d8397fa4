# tests/resources.mk - resource key-change safety, service-managed key
# ownership, identities, resource lifecycle, rotation policies; included
# from tests/local.mk.
resources_tests = \
	tests/resource-safety.sh \
	tests/resource-lifecycle.sh \
	tests/identity.sh \
	tests/rotation-policy.sh

TESTS += $(resources_tests)
EXTRA_DIST += $(resources_tests)
