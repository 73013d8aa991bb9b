// SPDX-License-Identifier: GPL-2.0
/* Crash points for crash-safety tests; see crashpoint.h. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crashpoint.h"

int (*cp_crash_hook)(const char *point);

int cp_crashpoint(const char *point)
{
	const char *at;

	if (cp_crash_hook)
		return cp_crash_hook(point);
	at = getenv("CLOUDPRINTD_CRASH_AT");
	if (at && !strcmp(at, point)) {
		static const char msg[] = "cloudprintd: crash point reached, dying\n";

		if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
			abort();
		kill(getpid(), SIGKILL);
	}
	return 0;
}
