# Envelope and resource sources (issue 4). Append to libcmk_envelope_sources.
libcmk_envelope_sources = \
	src/lib/crypto/envelope.h \
	src/lib/crypto/envelope_codec.c \
	src/lib/crypto/envelope_crypto.c \
	src/lib/crypto/envelope_seal.c \
	src/lib/crypto/envelope_unseal.c \
	src/lib/crypto/envelope_aeskw.c \
	src/lib/crypto/envelope_vault.c \
	src/lib/crypto/dekcache.c
libcmk_envelope_sources += \
	src/lib/resource/resource.h \
	src/lib/resource/store.c \
	src/lib/resource/keyring.c \
	src/lib/resource/objects.c \
	src/lib/resource/lifecycle.c
