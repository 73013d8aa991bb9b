// SPDX-License-Identifier: GPL-2.0
/* One-shot timerfd timers; see timer.h. */
#include <errno.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "timer.h"

int cp_timer_new(void)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

void cp_timer_arm(int fd, uint32_t ms)
{
	struct itimerspec its = { 0 };

	its.it_value.tv_sec = ms / 1000;
	/* An all-zero it_value disarms: "now" is the smallest non-zero time. */
	its.it_value.tv_nsec = (ms % 1000) * 1000000L + (ms ? 0 : 1);
	timerfd_settime(fd, 0, &its, NULL);
}

void cp_timer_disarm(int fd)
{
	struct itimerspec its = { 0 };

	timerfd_settime(fd, 0, &its, NULL);
}

bool cp_timer_armed(int fd)
{
	struct itimerspec its;

	return !timerfd_gettime(fd, &its) && (its.it_value.tv_sec || its.it_value.tv_nsec);
}

bool cp_timer_consume(int fd)
{
	uint64_t n;

	return read(fd, &n, sizeof(n)) == sizeof(n);
}
