#!/bin/bash
# Foundation tests again with vault "lab" on the lab's token through
# p11-kit server (tests/token-run.sh): vault, wrap/unwrap, lifecycle,
# token-enforced disable (pkcs11-tool through p11-kit-client.so), the OpenSSL
# provider, resources.
exec bash "${srcdir:-.}/tests/token-run.sh" remote \
	wrap-roundtrip.sh key-lifecycle.sh key-set.sh errors-lifecycle.sh \
	errors-blob.sh key-disable-token.sh api.sh provider-decrypt.sh \
	provider-sign.sh provider-store.sh provider-errors.sh resource-basic.sh
