# libcmk: the only part of cmk that knows PKCS#11.
libcmk_core_sources = \
	src/lib/util/err.c src/lib/util/err.h \
	src/lib/util/secmem.c src/lib/util/secmem.h \
	src/lib/util/strv.c \
	src/lib/util/sigdefer.c src/lib/util/sigdefer.h \
	src/lib/util/hex.c src/lib/util/hex.h \
	src/lib/util/clock.c src/lib/util/clock.h \
	src/lib/conffile.c src/lib/conffile.h \
	src/lib/pin.c \
	src/lib/p11/p11.h src/lib/p11/p11_int.h src/lib/p11/calls.h \
	src/lib/p11/module.c \
	src/lib/p11/fork.c \
	src/lib/p11/signals.c \
	src/lib/p11/slots.c \
	src/lib/p11/token.c \
	src/lib/p11/session.c \
	src/lib/p11/object.c \
	src/lib/p11/mech.c \
	src/lib/p11/rsa.c \
	src/lib/p11/ckr.c \
	src/lib/p11/provision.c \
	src/lib/ctx.c src/lib/ctx.h \
	src/lib/vault/meta.c src/lib/vault/meta.h \
	src/lib/vault/vault.c \
	src/lib/vault/keys.c src/lib/vault/keys.h \
	src/lib/vault/names.c \
	src/lib/vault/lifecycle.c \
	src/lib/vault/owner.c src/lib/vault/owner.h \
	src/lib/vault/identity.c src/lib/vault/identity.h \
	src/lib/vault/rotation.c \
	src/lib/vault/listing.c \
	src/lib/vault/view.c src/lib/vault/view.h \
	src/lib/vault/check.h \
	src/lib/vault/check.c \
	src/lib/vault/policy.c src/lib/vault/policy.h \
	src/lib/vault/records.c src/lib/vault/records.h \
	src/lib/vault/op.c src/lib/vault/op.h \
	src/lib/vault/lock.c src/lib/vault/lock.h \
	src/lib/vault/audit.c src/lib/vault/audit.h src/lib/vault/audit_int.h \
	src/lib/vault/audit_shared.c src/lib/vault/audit_anchor.c \
	src/lib/vault/audit_verify.c \
	src/lib/p11/hmac.c \
	src/lib/p11/gate.c \
	src/lib/codec/import.c src/lib/codec/import.h \
	src/lib/codec/oaep.c src/lib/codec/oaep.h \
	src/lib/codec/wrapped.c \
	src/lib/codec/keyref.c \
	src/lib/crypto/handle.c src/lib/crypto/handle.h \
	src/lib/crypto/wrap.c

include src/lib/envelope/envelope.mk

LIBCMK_CFLAGS_ = $(LIBCRYPTO_CFLAGS) $(P11KIT_CFLAGS) $(JSONC_CFLAGS) -DCMK_BUILD
LIBCMK_LIBS_ = $(LIBCRYPTO_LIBS) $(P11KIT_LIBS) $(JSONC_LIBS) $(PTHREAD_LIBS)

lib_LTLIBRARIES += src/lib/libcmk.la
src_lib_libcmk_la_SOURCES = $(libcmk_core_sources) $(libcmk_envelope_sources)
# Exported: what the public headers declare (see src/lib/libcmk.map).
src_lib_libcmk_la_CFLAGS = $(AM_CFLAGS) $(LIBCMK_CFLAGS_) -fvisibility=hidden
src_lib_libcmk_la_LIBADD = $(LIBCMK_LIBS_)
src_lib_libcmk_la_LDFLAGS = $(AM_LDFLAGS) -version-info 0:0:0 \
	-Wl,--version-script=$(srcdir)/src/lib/libcmk.map
EXTRA_src_lib_libcmk_la_DEPENDENCIES = $(srcdir)/src/lib/libcmk.map
EXTRA_DIST += src/lib/libcmk.map

# Same code, all symbols visible: tests and fuzzers link it.
noinst_LTLIBRARIES += src/lib/libcmk-internal.la
src_lib_libcmk_internal_la_SOURCES = $(libcmk_core_sources) $(libcmk_envelope_sources)
src_lib_libcmk_internal_la_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS) $(P11KIT_CFLAGS) $(JSONC_CFLAGS)
src_lib_libcmk_internal_la_LIBADD = $(LIBCMK_LIBS_)

# why SoftHSM shows no token (issue 10 item 7; called from p11/token.c)
libcmk_core_sources += src/lib/p11/softhsm_diag.c

# cmk_key_adopt: key pairs made on the token by other tools (issue 11)
libcmk_core_sources += src/lib/vault/adopt.c src/lib/p11/foreign.c
