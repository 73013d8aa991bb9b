/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Files of the state directory, replaced atomically: a temporary file,
 * fsync, rename over the old one, fsync of the directory.  A crash leaves
 * the old file or the new one, never a mix.
 */
#ifndef CP_STATEFILE_H
#define CP_STATEFILE_H

#include <stddef.h>

/*
 * Replace @dir/@name with @len bytes of @text, mode 0600.  Crash points
 * (crashpoint.h) @crash-opened, -written, -synced and -renamed.
 */
int cp_statefile_replace(const char *dir, const char *name, const char *text, size_t len,
			 const char *crash);
/* Remove @dir/@name durably; no file is not an error. */
int cp_statefile_remove(const char *dir, const char *name);
int cp_statefile_fsync_dir(const char *dir);

#endif
