// SPDX-License-Identifier: GPL-2.0
/*
 * prjob: wait for a prengine job to complete and print its completion
 * record (PRENGINE_IOC_JOB_INFO), for the USB guest tests.
 *
 *   prjob [-t SECONDS] /dev/prengineN JOB_ID
 * prints "id=N source=S state=S result=R bytes=B printed=P crc32=XXXXXXXX"
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/prengine.h>

int main(int argc, char **argv)
{
	struct prengine_job_info ji;
	int timeout = 60, fd, c;
	time_t start = time(NULL);

	while ((c = getopt(argc, argv, "t:")) != -1) {
		if (c != 't')
			return 2;
		timeout = atoi(optarg);
	}
	if (optind + 2 != argc) {
		fprintf(stderr, "Usage: prjob [-t SECONDS] /dev/prengineN JOB_ID\n");
		return 2;
	}
	fd = open(argv[optind], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "prjob: %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	for (;;) {
		memset(&ji, 0, sizeof(ji));
		ji.job_id = strtoull(argv[optind + 1], NULL, 10);
		if (ioctl(fd, PRENGINE_IOC_JOB_INFO, &ji) < 0) {
			fprintf(stderr, "prjob: JOB_INFO %s: %s\n", argv[optind + 1], strerror(errno));
			return 1;
		}
		if (ji.state == PRENGINE_JOB_COMPLETE || time(NULL) - start >= timeout)
			break;
		usleep(100000);
	}
	printf("id=%" PRIu64 " source=%u state=%u result=%u bytes=%" PRIu64 " printed=%" PRIu64
	       " crc32=%08x\n", (uint64_t)ji.job_id, ji.source, ji.state, ji.result,
	       (uint64_t)ji.bytes, (uint64_t)ji.printed, ji.crc32);
	return ji.state == PRENGINE_JOB_COMPLETE ? 0 : 1;
}
