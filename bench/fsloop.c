/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fsloop: the file-heavy loop the benchmarks time. Each iteration opens and
 * closes an existing file; every 10th also creates and unlinks one: about
 * 1.2 filesystem events per iteration, the mix of a build or a package
 * manager scanning a tree.
 *
 * usage: fsloop DIR [ITERATIONS]   (default 200000)
 * Prints the loop's own time in milliseconds.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char existing[4096], fresh[4096];
	struct timespec t0, t1;
	long n = 200000;
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: fsloop DIR [ITERATIONS]\n");
		return 2;
	}
	if (argc > 2)
		n = strtol(argv[2], NULL, 10);
	snprintf(existing, sizeof(existing), "%s/existing", argv[1]);
	snprintf(fresh, sizeof(fresh), "%s/fresh", argv[1]);
	fd = open(existing, O_WRONLY | O_CREAT, 0644);
	if (fd < 0) {
		perror(existing);
		return 1;
	}
	close(fd);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		fd = open(existing, O_RDONLY);
		if (fd < 0) {
			perror(existing);
			return 1;
		}
		close(fd);
		if (i % 10 == 0) {
			fd = open(fresh, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd < 0) {
				perror(fresh);
				return 1;
			}
			close(fd);
			unlink(fresh);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%ld\n", (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
	return 0;
}
