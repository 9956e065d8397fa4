# src/provider: cmk.so, the OpenSSL 3 provider for vault keys (cmk-provider(7)).
# Built on libcmk's public API (cmk.h) only.
osslmoddir = $(ossl_modulesdir)
osslmod_LTLIBRARIES = src/provider/cmk.la
src_provider_cmk_la_SOURCES = \
	src/provider/prov.h \
	src/provider/provider.c \
	src/provider/confcheck.c \
	src/provider/errors.c \
	src/provider/vaults.c \
	src/provider/uri.c \
	src/provider/key.c \
	src/provider/digest.c \
	src/provider/store.c \
	src/provider/keymgmt.c \
	src/provider/asym_cipher.c \
	src/provider/signature.c \
	src/provider/encoder.c \
	src/provider/decoder.c \
	src/provider/pin.c
src_provider_cmk_la_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS)
src_provider_cmk_la_LIBADD = src/lib/libcmk.la $(LIBCRYPTO_LIBS)
# -z nodelete: see src/provider/vaults.c (teardown at exit)
src_provider_cmk_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared \
	-Wl,-z,nodelete -export-symbols-regex '^OSSL_provider_init$$'
