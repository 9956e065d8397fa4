# man — owned by its part; see Makefile.am
dist_man_MANS += man/cmk.1
