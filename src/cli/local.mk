# src/cli — the `cmk` command, on the public API (cmk.h) only.
bin_PROGRAMS += src/cli/cmk
src_cli_cmk_SOURCES = \
	src/cli/cli.h \
	src/cli/main.c \
	src/cli/opts.c \
	src/cli/ctx.c \
	src/cli/io.c \
	src/cli/time.c \
	src/cli/vault.c \
	src/cli/vault_admin.c \
	src/cli/key.c \
	src/cli/keyshow.c \
	src/cli/wrap.c \
	src/cli/lab.c \
	src/cli/policy.c \
	src/cli/audit.c
src_cli_cmk_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS) $(JSONC_CFLAGS)
src_cli_cmk_LDADD = src/bench/libbench.la src/lib/libcmk.la $(LIBCRYPTO_LIBS) $(JSONC_LIBS)
src_cli_cmk_SOURCES += src/cli/envelope_io.h src/cli/encrypt.c src/cli/resource.c
src_cli_cmk_SOURCES += src/cli/rotation.c src/cli/identity.c src/cli/keyusers.c

# lab serve/stop (issue 6, docs/remote.md)
src_cli_cmk_SOURCES += src/cli/lab_serve.c

# cmk bench (docs/benchmarks.md): the benchmark is src/bench/ (libbench.la,
# linked into this program only)
src_cli_cmk_SOURCES += src/cli/bench.c

# cli conventions (issue 11): bash completion, made by the command itself
src_cli_cmk_SOURCES += src/cli/completion.c
bashcompletiondir = @bashcompletiondir@
bashcompletion_DATA = src/cli/completion/cmk
CLEANFILES += src/cli/completion/cmk
src/cli/completion/cmk: src/cli/cmk$(EXEEXT)
	$(AM_V_GEN)$(MKDIR_P) src/cli/completion && \
	src/cli/cmk$(EXEEXT) completion bash >$@.tmp && mv $@.tmp $@

# a lab's token survives an interrupted C_Login (issue 10 item 7)
src_cli_cmk_SOURCES += src/cli/lab_token.c

# cmk key pem: key reference files (docs/pem-reference.md)
src_cli_cmk_SOURCES += src/cli/keypem.c src/cli/keyadopt.c

# cmk provider check: why an OpenSSL configuration does not load cmk.so
src_cli_cmk_SOURCES += src/cli/provider.c
src_cli_cmk_CFLAGS += -DCMK_OSSL_MODULE='"$(ossl_modulesdir)/cmk.so"'

src_cli_cmk_LDADD += $(P11KIT_LIBS)
