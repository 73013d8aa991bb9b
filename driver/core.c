// SPDX-License-Identifier: GPL-2.0
/*
 * prengine core: module parameters, the device class, and the lifetime of
 * one device per simulated engine (/dev/prengineN).
 */
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/nospec.h>
#include <linux/slab.h>

#include "prengine.h"

static unsigned int pre_engines = 1;
module_param_named(engines, pre_engines, uint, 0444);
MODULE_PARM_DESC(engines, "Number of simulated engines, 1 to 16 (default 1)");

unsigned int pre_buffer_kib = 4096;
module_param_named(buffer_kib, pre_buffer_kib, uint, 0444);
MODULE_PARM_DESC(buffer_kib, "Spool shared by the jobs waiting for an engine, KiB (default 4096)");

unsigned int pre_stream_kib = 256;
module_param_named(stream_kib, pre_stream_kib, uint, 0444);
MODULE_PARM_DESC(stream_kib, "Buffer of the job on the engine, KiB (default 256)");

unsigned int pre_history = 256;
module_param_named(history, pre_history, uint, 0444);
MODULE_PARM_DESC(history, "Completed jobs whose records are kept per engine (default 256)");

unsigned int pre_max_jobs = 4096;
module_param_named(max_jobs, pre_max_jobs, uint, 0444);
MODULE_PARM_DESC(max_jobs, "Jobs declared and not complete, per engine (default 4096)");

unsigned int pre_page_bytes = 4096;
module_param_named(page_bytes, pre_page_bytes, uint, 0444);
MODULE_PARM_DESC(page_bytes, "Initial bytes per page of the page model (default 4096)");

u64 pre_speed_bps;
module_param_named(speed_bps, pre_speed_bps, ullong, 0444);
MODULE_PARM_DESC(speed_bps, "Initial engine speed in bytes per second, 0 = unlimited (default 0)");

static dev_t pre_devt;
/* class_register() takes the same argument on every kernel; class_create() does not. */
static struct class pre_class = {
	.name		= "prengine",
	.dev_groups	= pre_dev_groups,
};

/*
 * Published in init once each device is complete (the genl family is
 * already registered and may look them up), cleared in exit after the
 * family is gone.
 */
static struct pre_dev *pre_devs[PRE_MAX_ENGINES];

struct pre_dev *pre_dev_get_by_index(u32 index)
{
	struct pre_dev *pd;

	if (index >= pre_engines)
		return NULL;
	/* @index comes from userspace (netlink): no speculation past the end. */
	index = array_index_nospec(index, pre_engines);
	pd = READ_ONCE(pre_devs[index]);
	if (pd)
		get_device(&pd->dev);
	return pd;
}

void pre_dev_put(struct pre_dev *pd)
{
	put_device(&pd->dev);
}

static void pre_dev_release(struct device *dev)
{
	struct pre_dev *pd = container_of(dev, struct pre_dev, dev);

	pre_queue_release_history(pd);
	kfree(pd);
}

static struct pre_dev *pre_dev_create(unsigned int index)
{
	struct pre_dev *pd;
	int ret;

	pd = kzalloc(sizeof(*pd), GFP_KERNEL);
	if (!pd)
		return ERR_PTR(-ENOMEM);
	pd->index = index;
	pd->ops = &pre_sim_ops;
	mutex_init(&pd->lock);
	INIT_LIST_HEAD(&pd->jobs);
	INIT_LIST_HEAD(&pd->history);
	init_waitqueue_head(&pd->wq);
	pd->state = PRENGINE_STATE_UNREGISTERED;
	pd->next_id = 1;

	device_initialize(&pd->dev);
	pd->dev.class = &pre_class;
	pd->dev.devt = MKDEV(MAJOR(pre_devt), index);
	pd->dev.release = pre_dev_release;
	dev_set_drvdata(&pd->dev, pd);
	ret = dev_set_name(&pd->dev, "prengine%u", index);
	if (ret)
		goto err_put;

	ret = pd->ops->init(pd);
	if (ret)
		goto err_put;

	cdev_init(&pd->cdev, &pre_fops);
	pd->cdev.owner = THIS_MODULE;
	ret = cdev_device_add(&pd->cdev, &pd->dev);
	if (ret)
		goto err_fini;

	pre_debugfs_add(pd);
	return pd;

err_fini:
	pd->ops->fini(pd);
err_put:
	put_device(&pd->dev);
	return ERR_PTR(ret);
}

/*
 * Mark the device dead and end every job; events still go out.  From here
 * on kicks are no-ops, but the engine work may still be queued or running
 * until pre_dev_destroy() cancels it.
 */
static void pre_dev_stop(struct pre_dev *pd)
{
	pre_queue_flush_all(pd);
	wake_up_interruptible_all(&pd->wq);
}

/*
 * Remove every entry point that can reach the device (debugfs, the cdev
 * and its sysfs attributes; the caller has unregistered the genl family
 * or never registered it), waiting for the ones in progress, and only
 * then cancel the engine work: nothing is left that could queue it again.
 */
static void pre_dev_destroy(struct pre_dev *pd)
{
	pre_debugfs_remove(pd);
	cdev_device_del(&pd->cdev, &pd->dev);
	pd->ops->fini(pd);
	put_device(&pd->dev);
}

static int __init pre_check_params(void)
{
	if (pre_engines < 1 || pre_engines > PRE_MAX_ENGINES) {
		pr_err("engines=%u: must be 1 to %d\n", pre_engines, PRE_MAX_ENGINES);
		return -EINVAL;
	}
	if (pre_buffer_kib < 4 || pre_buffer_kib > 1024 * 1024) {
		pr_err("buffer_kib=%u: must be 4 to 1048576\n", pre_buffer_kib);
		return -EINVAL;
	}
	if (pre_stream_kib < 4 || pre_stream_kib > 1024 * 1024) {
		pr_err("stream_kib=%u: must be 4 to 1048576\n", pre_stream_kib);
		return -EINVAL;
	}
	if (pre_history < 1 || pre_history > 65536) {
		pr_err("history=%u: must be 1 to 65536\n", pre_history);
		return -EINVAL;
	}
	if (pre_max_jobs < 1 || pre_max_jobs > 65536) {
		pr_err("max_jobs=%u: must be 1 to 65536\n", pre_max_jobs);
		return -EINVAL;
	}
	if (pre_page_bytes < 1) {
		pr_err("page_bytes must be at least 1\n");
		return -EINVAL;
	}
	return 0;
}

static int __init pre_init(void)
{
	unsigned int i;
	int ret;

	ret = pre_check_params();
	if (ret)
		return ret;

	ret = alloc_chrdev_region(&pre_devt, 0, pre_engines, "prengine");
	if (ret)
		return ret;

	ret = class_register(&pre_class);
	if (ret)
		goto err_region;
	pre_debugfs_init();

	/*
	 * The family first: once a device node exists udev starts the daemons,
	 * and the module must not fail to load after that if it can help it.
	 */
	ret = pre_netlink_init();
	if (ret)
		goto err_class;

	for (i = 0; i < pre_engines; i++) {
		struct pre_dev *pd = pre_dev_create(i);

		if (IS_ERR(pd)) {
			ret = PTR_ERR(pd);
			goto err_devs;
		}
		WRITE_ONCE(pre_devs[i], pd);
	}

	pr_info("%u engine(s), spool %u KiB, stream buffer %u KiB\n",
		pre_engines, pre_buffer_kib, pre_stream_kib);
	return 0;

err_devs:
	/* The same order as pre_exit(). */
	for (i = 0; i < pre_engines; i++)
		if (pre_devs[i])
			pre_dev_stop(pre_devs[i]);
	pre_netlink_exit();
	for (i = 0; i < pre_engines; i++) {
		if (!pre_devs[i])
			continue;
		pre_dev_destroy(pre_devs[i]);
		pre_devs[i] = NULL;
	}
err_class:
	pre_debugfs_exit();
	class_unregister(&pre_class);
err_region:
	unregister_chrdev_region(pre_devt, pre_engines);
	return ret;
}

static void __exit pre_exit(void)
{
	unsigned int i;

	/* The engines stop while the family can still carry their events. */
	for (i = 0; i < pre_engines; i++)
		pre_dev_stop(pre_devs[i]);
	pre_netlink_exit();
	for (i = 0; i < pre_engines; i++) {
		pre_dev_destroy(pre_devs[i]);
		pre_devs[i] = NULL;
	}
	pre_debugfs_exit();
	class_unregister(&pre_class);
	unregister_chrdev_region(pre_devt, pre_engines);
}

module_init(pre_init);
module_exit(pre_exit);
MODULE_DESCRIPTION("Print engine with a cloud registration state and cloud lock");
MODULE_LICENSE("GPL");
