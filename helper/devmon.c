// SPDX-License-Identifier: GPL-2.0
/* Device nodes coming and going; see devmon.h. */
#include <stdlib.h>
#include <string.h>

#include <libudev.h>

#include "devmon.h"

#define CP_DEVMON_SUBSYS_MAX	4

struct cp_devmon {
	struct udev *udev;
	struct udev_monitor *mon;
	const char *subsystems[CP_DEVMON_SUBSYS_MAX + 1];
	cp_devmon_fn fn;
	void *ctx;
};

struct cp_devmon *cp_devmon_new(const char *const *subsystems, bool kernel_events,
				cp_devmon_fn fn, void *ctx)
{
	struct cp_devmon *m = calloc(1, sizeof(*m));
	unsigned int i;

	if (!m)
		return NULL;
	m->fn = fn;
	m->ctx = ctx;
	m->udev = udev_new();
	if (!m->udev)
		goto err;
	m->mon = udev_monitor_new_from_netlink(m->udev, kernel_events ? "kernel" : "udev");
	if (!m->mon)
		goto err;
	for (i = 0; subsystems[i]; i++) {
		if (i == CP_DEVMON_SUBSYS_MAX ||
		    udev_monitor_filter_add_match_subsystem_devtype(m->mon, subsystems[i], NULL) < 0)
			goto err;
		m->subsystems[i] = subsystems[i];
	}
	/* A burst of uevents (many engines) must not overflow the socket. */
	udev_monitor_set_receive_buffer_size(m->mon, 1 << 20);
	if (udev_monitor_enable_receiving(m->mon) < 0)
		goto err;
	return m;
err:
	cp_devmon_free(m);
	return NULL;
}

void cp_devmon_free(struct cp_devmon *m)
{
	if (!m)
		return;
	if (m->mon)
		udev_monitor_unref(m->mon);
	if (m->udev)
		udev_unref(m->udev);
	free(m);
}

int cp_devmon_fd(const struct cp_devmon *m)
{
	return udev_monitor_get_fd(m->mon);
}

static void cp_devmon_report(struct cp_devmon *m, struct udev_device *dev, bool added)
{
	const char *sub = udev_device_get_subsystem(dev);
	const char *node = udev_device_get_devnode(dev);

	/* A device without a node (a USB device controller) is reported with "". */
	if (sub)
		m->fn(m->ctx, added, sub, node ? node : "", udev_device_get_syspath(dev));
}

void cp_devmon_dispatch(struct cp_devmon *m)
{
	struct udev_device *dev;

	while ((dev = udev_monitor_receive_device(m->mon))) {
		const char *action = udev_device_get_action(dev);

		if (action && !strcmp(action, "remove"))
			cp_devmon_report(m, dev, false);
		else if (action && (!strcmp(action, "add") || !strcmp(action, "change") ||
				    !strcmp(action, "bind")))
			cp_devmon_report(m, dev, true);
		udev_device_unref(dev);
	}
}

void cp_devmon_scan(struct cp_devmon *m)
{
	struct udev_list_entry *e;

	for (unsigned int i = 0; m->subsystems[i]; i++) {
		struct udev_enumerate *en = udev_enumerate_new(m->udev);

		if (!en)
			continue;
		udev_enumerate_add_match_subsystem(en, m->subsystems[i]);
		udev_enumerate_scan_devices(en);
		udev_list_entry_foreach(e, udev_enumerate_get_list_entry(en)) {
			struct udev_device *dev =
				udev_device_new_from_syspath(m->udev, udev_list_entry_get_name(e));

			if (dev) {
				cp_devmon_report(m, dev, true);
				udev_device_unref(dev);
			}
		}
		udev_enumerate_unref(en);
	}
}
