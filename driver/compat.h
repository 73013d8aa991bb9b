/* SPDX-License-Identifier: GPL-2.0 */
/*
 * prengine: the kernel interfaces that differ between the kernels the
 * driver supports (Debian 12: 6.1, 6.12 and 6.12-rt).  driver/Kbuild
 * tests the kernel's headers for each feature (PRE_HAVE_*), so this works
 * on any kernel with or without the backport, not by version number.
 */
#ifndef _PRENGINE_COMPAT_H
#define _PRENGINE_COMPAT_H

#include <net/genetlink.h>

/* The attributes of a dump request (6.6 moved them into a genl_info). */
static inline struct nlattr **pre_dump_attrs(struct netlink_callback *cb)
{
#ifdef PRE_HAVE_GENL_INFO_DUMP
	return genl_info_dump(cb)->attrs;
#else
	return genl_dumpit_info(cb)->attrs;
#endif
}

#endif /* _PRENGINE_COMPAT_H */
