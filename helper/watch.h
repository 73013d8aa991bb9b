/* SPDX-License-Identifier: GPL-2.0 */
/* One thing the event loop watches: epoll's data.ptr points at it. */
#ifndef CP_WATCH_H
#define CP_WATCH_H

#include <stdint.h>

struct cp_watch {
	int fd;
	void (*fn)(struct cp_watch *w, uint32_t events);
};

#endif
