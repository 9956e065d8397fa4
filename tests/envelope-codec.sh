#!/bin/bash
# The envelope format without a token (tests/envelope-codec.c): round trips,
# test vectors, and every kind of malformed or tampered input.
exec "${CMK_TESTS_BIN:-tests}/envelope-codec" "${srcdir:-.}/tests/data"
