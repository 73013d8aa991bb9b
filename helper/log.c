// SPDX-License-Identifier: GPL-2.0
/* Levelled logging to stderr or syslog; see log.h. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static enum cp_log_level cp_level = CP_LOG_INFO;
static bool cp_syslog;

void cp_log_open_syslog(const char *ident)
{
	openlog(ident, LOG_PID, LOG_DAEMON);
	cp_syslog = true;
}

void cp_log_set_level(enum cp_log_level level)
{
	cp_level = level;
}

void cp_log(enum cp_log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	struct timespec ts;
	va_list ap;

	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

	if (level > cp_level)
		return;
	if (cp_syslog) {
		va_start(ap, fmt);
		vsyslog(prio[level], fmt, ap);
		va_end(ap);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	fprintf(stderr, "[%5lld.%03ld] %s: ", (long long)ts.tv_sec, ts.tv_nsec / 1000000,
		names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
