/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Device nodes coming and going: a libudev monitor for a few subsystems,
 * read from the caller's event loop, plus a scan of what is already there.
 */
#ifndef CP_DEVMON_H
#define CP_DEVMON_H

#include <stdbool.h>

struct cp_devmon;

/*
 * @added is false for "remove"; @node is the /dev path ("" for a device
 * without one, such as a USB device controller), @syspath the sysfs one.
 */
typedef void (*cp_devmon_fn)(void *ctx, bool added, const char *subsystem, const char *node,
			     const char *syspath);

/*
 * Follow @subsystems (NULL-terminated).  @kernel_events: listen to the
 * kernel's uevents directly, for systems without udevd (the test VM);
 * otherwise to udevd's, which arrive once the node has its permissions.
 */
struct cp_devmon *cp_devmon_new(const char *const *subsystems, bool kernel_events,
				cp_devmon_fn fn, void *ctx);
void cp_devmon_free(struct cp_devmon *m);
/* For epoll: readable when events wait. */
int cp_devmon_fd(const struct cp_devmon *m);
/* Hand every waiting event to the callback. */
void cp_devmon_dispatch(struct cp_devmon *m);
/* Report every device present now as added.  Call after the monitor is in
 * the loop, so that nothing appearing in between is missed. */
void cp_devmon_scan(struct cp_devmon *m);

#endif
