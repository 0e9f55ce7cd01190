/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * creates: THREADS writer threads, each creating and unlinking files in a
 * directory of its own as fast as it can for SECONDS; prints the creates
 * per second of all threads together. Under a tracer, every create and
 * unlink is an event: with zero loss reported, that rate is sustained.
 *
 * usage: creates DIR THREADS SECONDS
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *base;
static double seconds;
static volatile int stop;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *writer(void *arg)
{
	long id = (long)arg, n = 0;
	char dir[4096], path[4200];

	snprintf(dir, sizeof(dir), "%s/t%ld", base, id);
	mkdir(dir, 0755);
	while (!stop) {
		snprintf(path, sizeof(path), "%s/f%ld", dir, n % 64);
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd >= 0) {
			close(fd);
			n++;
		}
		unlink(path);
	}
	return (void *)n;
}

int main(int argc, char **argv)
{
	pthread_t th[64];
	long threads, total = 0;
	double t0, t1;

	if (argc != 4 || (threads = atol(argv[2])) < 1 || threads > 64) {
		fprintf(stderr, "usage: creates DIR THREADS(1-64) SECONDS\n");
		return 2;
	}
	base = argv[1];
	seconds = atof(argv[3]);
	t0 = now();
	for (long i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, writer, (void *)i);
	usleep((useconds_t)(seconds * 1e6));
	stop = 1;
	for (long i = 0; i < threads; i++) {
		void *n;

		pthread_join(th[i], &n);
		total += (long)n;
	}
	t1 = now();
	printf("%.0f\n", total / (t1 - t0));
	return 0;
}
