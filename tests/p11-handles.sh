#!/bin/bash
# An object handle found before the module was initialised again never
# reaches the module: a destroy through it is refused and destroys nothing
# (tests/p11-handles.c; docs/design.md, "A re-initialisation under other
# threads").
. "${srcdir:-.}/tests/lib.sh"
prog=$CMK_TESTS_BIN/p11-handles
[ -x "$prog" ] || bail "$prog not built"
lab_new
# the program's own TAP stream is the test's
"$prog" "$SOFTHSM_MODULE" "$LAB_TOKEN" "$LAB/pin"
