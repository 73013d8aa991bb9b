// SPDX-License-Identifier: GPL-2.0
/*
 * prengine debugfs: test knobs of the simulated engine, root only, not ABI.
 * /sys/kernel/debug/prengine/prengineN/{speed_bps,page_bytes,fault}
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "prengine.h"

static struct dentry *pre_debugfs_root;

static int pre_speed_get(void *data, u64 *val)
{
	struct pre_dev *pd = data;

	*val = READ_ONCE(pd->sim.speed_bps);
	return 0;
}

static int pre_speed_set(void *data, u64 val)
{
	struct pre_dev *pd = data;

	WRITE_ONCE(pd->sim.speed_bps, val);
	pd->ops->kick(pd);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(pre_speed_fops, pre_speed_get, pre_speed_set, "%llu\n");

static int pre_page_get(void *data, u64 *val)
{
	struct pre_dev *pd = data;

	mutex_lock(&pd->lock);
	*val = pd->sim.page_bytes;
	mutex_unlock(&pd->lock);
	return 0;
}

static int pre_page_set(void *data, u64 val)
{
	struct pre_dev *pd = data;

	if (!val || val > U32_MAX)
		return -EINVAL;
	mutex_lock(&pd->lock);
	pd->sim.page_bytes = val;
	mutex_unlock(&pd->lock);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(pre_page_fops, pre_page_get, pre_page_set, "%llu\n");

static const char * const pre_fault_names[] = { "none", "jam", "paper_out", "offline" };
static const u32 pre_fault_bits[] = {
	0, PRENGINE_STATUS_JAM, PRENGINE_STATUS_PAPER_EMPTY, PRENGINE_STATUS_OFFLINE,
};

static ssize_t pre_fault_read(struct file *file, char __user *ubuf, size_t len, loff_t *ppos)
{
	struct pre_dev *pd = file->private_data;
	const char *name = "none";
	char buf[16];
	unsigned int i;
	u32 fault;
	int n;

	mutex_lock(&pd->lock);
	fault = pd->fault;
	mutex_unlock(&pd->lock);
	for (i = 1; i < ARRAY_SIZE(pre_fault_bits); i++)
		if (fault & pre_fault_bits[i])
			name = pre_fault_names[i];
	n = scnprintf(buf, sizeof(buf), "%s\n", name);
	return simple_read_from_buffer(ubuf, len, ppos, buf, n);
}

static ssize_t pre_fault_write(struct file *file, const char __user *ubuf, size_t len,
			       loff_t *ppos)
{
	struct pre_dev *pd = file->private_data;
	char buf[16];
	int i;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	i = sysfs_match_string(pre_fault_names, buf);
	if (i < 0)
		return -EINVAL;
	pre_sim_set_fault(pd, pre_fault_bits[i]);
	return len;
}

static const struct file_operations pre_fault_fops = {
	.owner	= THIS_MODULE,
	.open	= simple_open,
	.read	= pre_fault_read,
	.write	= pre_fault_write,
	.llseek	= default_llseek,
};

void pre_debugfs_init(void)
{
	pre_debugfs_root = debugfs_create_dir(KBUILD_MODNAME, NULL);
}

void pre_debugfs_exit(void)
{
	debugfs_remove_recursive(pre_debugfs_root);
	pre_debugfs_root = NULL;
}

void pre_debugfs_add(struct pre_dev *pd)
{
	pd->debugfs = debugfs_create_dir(dev_name(&pd->dev), pre_debugfs_root);
	debugfs_create_file_unsafe("speed_bps", 0600, pd->debugfs, pd, &pre_speed_fops);
	debugfs_create_file_unsafe("page_bytes", 0600, pd->debugfs, pd, &pre_page_fops);
	debugfs_create_file("fault", 0600, pd->debugfs, pd, &pre_fault_fops);
}

void pre_debugfs_remove(struct pre_dev *pd)
{
	debugfs_remove_recursive(pd->debugfs);
	pd->debugfs = NULL;
}
