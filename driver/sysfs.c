// SPDX-License-Identifier: GPL-2.0
/*
 * prengine sysfs attributes, one value per file, on the class so they
 * exist before the uevent.  docs/ABI/sysfs-class-prengine documents them.
 */
#include <linux/capability.h>
#include <linux/device.h>
#include <linux/sysfs.h>

#include "prengine.h"

static struct pre_dev *to_pre(struct device *dev)
{
	return container_of(dev, struct pre_dev, dev);
}

void pre_sysfs_notify(struct pre_dev *pd, const char *attr)
{
	sysfs_notify(&pd->dev.kobj, NULL, attr);
}

static ssize_t state_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct pre_dev *pd = to_pre(dev);
	u32 state;

	mutex_lock(&pd->lock);
	state = pd->state;
	mutex_unlock(&pd->lock);
	return sysfs_emit(buf, "%s\n", pre_state_name(state));
}

static ssize_t state_store(struct device *dev, struct device_attribute *attr,
			   const char *buf, size_t len)
{
	u32 state;
	int ret;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	ret = pre_state_parse(buf, &state);
	if (ret)
		return ret;
	ret = pre_set_state(to_pre(dev), state, NULL);
	return ret ? ret : len;
}
static DEVICE_ATTR_RW(state);

static ssize_t cloud_locked_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct pre_dev *pd = to_pre(dev);
	bool locked;

	mutex_lock(&pd->lock);
	locked = pre_cloud_locked_locked(pd);
	mutex_unlock(&pd->lock);
	return sysfs_emit(buf, "%d\n", locked);
}
static DEVICE_ATTR_RO(cloud_locked);

static ssize_t queue_depth_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct pre_dev *pd = to_pre(dev);
	unsigned int n;

	mutex_lock(&pd->lock);
	n = pd->active;
	mutex_unlock(&pd->lock);
	return sysfs_emit(buf, "%u\n", n);
}
static DEVICE_ATTR_RO(queue_depth);

static ssize_t engine_status_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct pre_dev *pd = to_pre(dev);
	u32 status;

	mutex_lock(&pd->lock);
	status = pre_engine_status_locked(pd);
	mutex_unlock(&pd->lock);
	return sysfs_emit(buf, "0x%04x\n", status);
}
static DEVICE_ATTR_RO(engine_status);

/* One counter of struct pre_stats, at byte offset @off. */
static ssize_t pre_stat_show(struct device *dev, char *buf, size_t off)
{
	struct pre_dev *pd = to_pre(dev);
	u64 v;

	mutex_lock(&pd->lock);
	v = *(u64 *)((char *)&pd->stats + off);
	mutex_unlock(&pd->lock);
	return sysfs_emit(buf, "%llu\n", v);
}

static ssize_t jobs_printed_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return pre_stat_show(dev, buf, offsetof(struct pre_stats, jobs_printed));
}
static DEVICE_ATTR_RO(jobs_printed);

static ssize_t jobs_flushed_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return pre_stat_show(dev, buf, offsetof(struct pre_stats, jobs_flushed));
}
static DEVICE_ATTR_RO(jobs_flushed);

static ssize_t jobs_aborted_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return pre_stat_show(dev, buf, offsetof(struct pre_stats, jobs_aborted));
}
static DEVICE_ATTR_RO(jobs_aborted);

static ssize_t bytes_printed_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return pre_stat_show(dev, buf, offsetof(struct pre_stats, bytes_printed));
}
static DEVICE_ATTR_RO(bytes_printed);

static ssize_t cloud_refused_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return pre_stat_show(dev, buf, offsetof(struct pre_stats, cloud_refused));
}
static DEVICE_ATTR_RO(cloud_refused);

static ssize_t lockdowns_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return pre_stat_show(dev, buf, offsetof(struct pre_stats, lockdowns));
}
static DEVICE_ATTR_RO(lockdowns);

static struct attribute *pre_dev_attrs[] = {
	&dev_attr_state.attr,
	&dev_attr_cloud_locked.attr,
	&dev_attr_queue_depth.attr,
	&dev_attr_engine_status.attr,
	&dev_attr_jobs_printed.attr,
	&dev_attr_jobs_flushed.attr,
	&dev_attr_jobs_aborted.attr,
	&dev_attr_bytes_printed.attr,
	&dev_attr_cloud_refused.attr,
	&dev_attr_lockdowns.attr,
	NULL,
};

static const struct attribute_group pre_dev_group = {
	.attrs = pre_dev_attrs,
};

const struct attribute_group *pre_dev_groups[] = {
	&pre_dev_group,
	NULL,
};
