// SPDX-License-Identifier: GPL-2.0
/*
 * For the unload test: declare a local job and write until blocked, or
 * (with "listen") subscribe to the events group and wait.  Prints "ready"
 * once in position, then stays until killed.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prtest.h"

int main(int argc, char **argv)
{
	static char buf[1 << 20];
	struct pr_nl_reply ev;

	if (argc > 1 && !strcmp(argv[1], "listen")) {
		struct pr_listener *l = pr_listen();

		if (!l)
			return 1;
		printf("ready\n");
		fflush(stdout);
		for (;;)
			pr_listen_next(l, &ev, -1);
	}
	int fd = open(PR_DEV, O_WRONLY);

	if (fd < 0 || !pr_declare(fd, PRENGINE_SOURCE_LOCAL, 0, 0, "blocked", NULL))
		return 1;
	printf("ready\n");
	fflush(stdout);
	for (;;)
		if (write(fd, buf, sizeof(buf)) < 0)
			return 2;
}
