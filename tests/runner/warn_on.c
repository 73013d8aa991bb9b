// SPDX-License-Identifier: GPL-2.0
/*
 * A module that does nothing but WARN_ON() when it loads, so the runner's
 * self-test can check that a guest kernel warning fails the run.
 */
#include <linux/bug.h>
#include <linux/init.h>
#include <linux/module.h>

static int __init vmrun_warn_init(void)
{
	WARN_ON(1);
	return 0;
}

static void __exit vmrun_warn_exit(void)
{
}

module_init(vmrun_warn_init);
module_exit(vmrun_warn_exit);
MODULE_DESCRIPTION("vm-run self-test: warn on load");
MODULE_LICENSE("GPL");
