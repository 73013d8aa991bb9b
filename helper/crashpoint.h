/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Crash points: named places in a durable change (the credentials file,
 * the deletion sequence) where a test can make the daemon die as if it had
 * been killed with SIGKILL, to prove that a restart reconciles whatever
 * the crash left.  They are checked in the real code path.
 *
 * In the daemon, CLOUDPRINTD_CRASH_AT=NAME kills the process the first
 * time it passes the point NAME.  Unit tests set cp_crash_hook instead:
 * a non-zero return makes the caller stop right there, leaving everything
 * as a crash would (no cleanup), and return -EINTR.
 */
#ifndef CP_CRASHPOINT_H
#define CP_CRASHPOINT_H

extern int (*cp_crash_hook)(const char *point);

/* Non-zero: stop here as if the process had died. */
int cp_crashpoint(const char *point);

#endif
