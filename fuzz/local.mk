# fuzz — owned by its part; see Makefile.am
