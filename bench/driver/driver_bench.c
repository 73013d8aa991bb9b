// SPDX-License-Identifier: GPL-2.0
/*
 * prengine benchmark, run in the guest with the module loaded:
 *  - write throughput of 256 MiB in 1 MiB writes into /dev/prengine0
 *    (engine speed unlimited) against the same writes to a tmpfs file and
 *    to /dev/null, in the same boot;
 *  - lockdown latency with 1, 100 and 1000 queued cloud jobs.
 * Prints "RESULT what | figure | compared with" lines for make bench.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "../../tests/vm/driver/prtest.h"

#define MiB (1024 * 1024)
#define TOTAL_MIB 256

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char buf[MiB];

/* MiB/s writing TOTAL_MIB to @path; for the engine, one job that must print. */
static double throughput(const char *path, int engine)
{
	struct prengine_job_info info;
	double t0, t;
	uint64_t id = 0;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		perror(path);
		exit(1);
	}
	t0 = now();
	if (engine && !(id = pr_declare(fd, PRENGINE_SOURCE_LOCAL, 0, 0, "bench", NULL))) {
		perror("declare");
		exit(1);
	}
	for (int i = 0; i < TOTAL_MIB; i++)
		if (pr_write_all(fd, buf, MiB)) {
			perror("write");
			exit(1);
		}
	if (engine) {
		ioctl(fd, PRENGINE_IOC_COMMIT_JOB);
		if (pr_wait_job(fd, id, &info, 600000) || info.printed != (uint64_t)TOTAL_MIB * MiB) {
			fprintf(stderr, "bench job did not print\n");
			exit(1);
		}
	}
	close(fd);
	t = now() - t0;
	return TOTAL_MIB / t;
}

static double lockdown_ms(int jobs)
{
	struct prengine_lockdown ld = { .state = PRENGINE_STATE_DELETED };
	char id[32];
	double t0, t;
	int fd;

	pr_set_state(PRENGINE_STATE_UNREGISTERED);
	pr_set_state(PRENGINE_STATE_REGISTERED);
	pr_fault("jam");
	for (int i = 0; i < jobs; i++) {
		fd = open(PR_DEV, O_WRONLY);
		snprintf(id, sizeof(id), "job-%d", i);
		if (!pr_declare(fd, PRENGINE_SOURCE_CLOUD, 0, 0, "q", id) ||
		    write(fd, buf, 1024) != 1024) {
			perror("queue a cloud job");
			exit(1);
		}
		close(fd);
	}
	fd = open(PR_DEV, O_RDWR);
	t0 = now();
	if (ioctl(fd, PRENGINE_IOC_LOCKDOWN, &ld)) {
		perror("lockdown");
		exit(1);
	}
	t = (now() - t0) * 1000;
	close(fd);
	pr_fault("none");
	if ((int)ld.flushed != jobs) {
		fprintf(stderr, "lockdown flushed %u of %d\n", ld.flushed, jobs);
		exit(1);
	}
	return t;
}

int main(void)
{
	double dev, tmp, null;

	pr_fill(buf, sizeof(buf), 1);
	pr_speed(0);
	null = throughput("/dev/null", 0);
	tmp = throughput("/tmp/bench.out", 0);
	unlink("/tmp/bench.out");
	dev = throughput(PR_DEV, 1);
	printf("# %d MiB in 1 MiB writes: /dev/null %.0f MiB/s, tmpfs %.0f MiB/s, /dev/prengine0 %.0f MiB/s\n",
	       TOTAL_MIB, null, tmp, dev);
	printf("RESULT write throughput /dev/prengine0 / tmpfs file | %.2f (%.0f / %.0f MiB/s) | target >= 0.5\n",
	       dev / tmp, dev, tmp);
	printf("RESULT write throughput /dev/prengine0 / /dev/null | %.2f (%.0f / %.0f MiB/s) | same boot\n",
	       dev / null, dev, null);
	for (int n = 1; n <= 1000; n *= n == 1 ? 100 : 10) {
		double best = 1e9, worst = 0;

		for (int r = 0; r < 3; r++) {
			double t = lockdown_ms(n);

			best = t < best ? t : best;
			worst = t > worst ? t : worst;
		}
		printf("RESULT lockdown latency, %d queued cloud jobs | %.3f ms (worst of 3: %.3f ms) | per job %.1f us\n",
		       n, best, worst, best * 1000 / n);
	}
	pr_set_state(PRENGINE_STATE_UNREGISTERED);
	return 0;
}
