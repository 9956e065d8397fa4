#!/bin/bash
# The test vectors of docs/envelope-format.md open with a second,
# independent reader written from the document (python3-cryptography).
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 not installed"; exit 0; }
exec python3 "${srcdir:-.}/tests/envelope-vectors.py" "${srcdir:-.}/tests/data"
