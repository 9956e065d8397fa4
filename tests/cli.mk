# The cmk command's conventions, labs and output files (issues 10 and 11).
# Included from tests/local.mk.
cli_tests = \
	tests/cli-conventions.sh \
	tests/cli-out.sh \
	tests/cli-lab-token.sh \
	tests/cli-lab-group.sh
TESTS += $(cli_tests)
EXTRA_DIST += $(cli_tests)
