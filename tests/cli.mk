# The cmk command's conventions, labs and output files (issues 10 and 11).
# Included from tests/local.mk.  The long kill loop of the lab's token
# (300 kills per signal instead of 50):
#   CMK_LAB_KILLS=300 make check TESTS=tests/cli-lab-token.sh
cli_tests = \
	tests/cli-conventions.sh \
	tests/cli-out.sh \
	tests/cli-lab-token.sh \
	tests/cli-lab-group.sh
TESTS += $(cli_tests)
EXTRA_DIST += $(cli_tests)
