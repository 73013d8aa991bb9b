// SPDX-License-Identifier: GPL-2.0
/* Levelled logging to stderr; see log.h. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "log.h"

static enum cp_log_level cp_level = CP_LOG_INFO;

void cp_log_set_level(enum cp_log_level level)
{
	cp_level = level;
}

void cp_log(enum cp_log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	struct timespec ts;
	va_list ap;

	if (level > cp_level)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	fprintf(stderr, "[%5lld.%03ld] %s: ", (long long)ts.tv_sec, ts.tv_nsec / 1000000,
		names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
