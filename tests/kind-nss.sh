#!/bin/bash
# Foundation tests again with vault "lab" on NSS softoken (tests/token-run.sh):
# vault, wrap/unwrap, lifecycle, the OpenSSL provider, resources.  Not here:
# tests that drive the token with pkcs11-tool or softhsm2-util, or name
# SoftHSM in their configurations or pkcs11: URIs (tests/nss-vault.sh does
# softokn's own checks).
exec bash "${srcdir:-.}/tests/token-run.sh" nss \
	wrap-roundtrip.sh key-lifecycle.sh key-set.sh errors-lifecycle.sh \
	errors-blob.sh api.sh provider-decrypt.sh provider-sign.sh resource-basic.sh
