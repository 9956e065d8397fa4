# Envelope and resource sources (issue 4). Append to libcmk_envelope_sources.
libcmk_envelope_sources = \
	src/lib/envelope/envelope.h \
	src/lib/envelope/envelope_codec.c \
	src/lib/envelope/envelope_crypto.c \
	src/lib/envelope/envelope_seal.c \
	src/lib/envelope/envelope_unseal.c \
	src/lib/envelope/envelope_aeskw.c \
	src/lib/envelope/envelope_vault.c \
	src/lib/envelope/dekcache.c
libcmk_envelope_sources += \
	src/lib/resource/resource.h \
	src/lib/resource/store.c \
	src/lib/resource/keyring.c \
	src/lib/resource/objects.c \
	src/lib/resource/lifecycle.c
