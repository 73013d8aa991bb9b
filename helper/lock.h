/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One daemon per state directory: an exclusive flock() on
 * STATE_DIR/cloudprintd.lock, held for the process's life (the kernel
 * drops it when the process ends, however it ends).  The file holds the
 * owner's pid, for the message a second instance prints.
 */
#ifndef CP_LOCK_H
#define CP_LOCK_H

#include <stddef.h>

/*
 * Take the lock in @dir.  Returns its fd (keep it open), or -errno with a
 * one-line reason in @err: -EBUSY when another process holds it.
 */
int cp_lock_instance(const char *dir, char *err, size_t errlen);

#endif
