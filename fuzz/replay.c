/*
 * fuzz/replay.c - a main() for the fuzz targets when libFuzzer is not
 * used: runs LLVMFuzzerTestOneInput on each file named (or each file in
 * each directory named), so `make check` replays the corpus with any
 * compiler.  Prints TAP.
 */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count;

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;
	do {
		if (len == cap && !(buf = realloc(buf, cap = cap * 2 + 4096)))
			abort();
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, len);
	/* every prefix too: truncation paths */
	for (size_t i = 0; i < len; i += 1 + len / 64)
		LLVMFuzzerTestOneInput(buf, i);
	free(buf);
	count++;
	return 0;
}

int main(int argc, char **argv)
{
	int bad = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			printf("not ok %d - %s: cannot stat\n", i, argv[i]);
			bad++;
			continue;
		}
		size_t before = count;
		if (S_ISDIR(st.st_mode)) {
			DIR *d = opendir(argv[i]);
			struct dirent *e;
			while (d && (e = readdir(d))) {
				char p[4096];
				if (e->d_name[0] == '.')
					continue;
				snprintf(p, sizeof p, "%s/%s", argv[i], e->d_name);
				run_file(p);
			}
			if (d)
				closedir(d);
		} else {
			run_file(argv[i]);
		}
		printf("%s %d - replayed %zu inputs from %s\n", count > before ? "ok" : "not ok", i,
		       count - before, argv[i]);
		bad += count == before;
	}
	printf("1..%d\n", argc - 1);
	return bad ? 1 : 0;
}
