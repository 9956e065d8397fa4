# src/provider — owned by its part; see Makefile.am
