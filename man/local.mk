# man — owned by its part; see Makefile.am
dist_man_MANS += man/cmk.1
dist_man_MANS += man/cmk.conf.5 man/libcmk.3
dist_man_MANS += man/cmk-provider.7
