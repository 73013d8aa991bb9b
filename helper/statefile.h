/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Files of the state directory, replaced atomically: a temporary file,
 * fsync, rename over the old one, fsync of the directory.  A crash leaves
 * the old file or the new one, never a mix.
 */
#ifndef CP_STATEFILE_H
#define CP_STATEFILE_H

#include <stddef.h>

struct cJSON;

/*
 * Replace @dir/@name with @len bytes of @text, mode 0600.  Crash points
 * (crashpoint.h) @crash-opened, -written, -synced and -renamed.
 */
int cp_statefile_replace(const char *dir, const char *name, const char *text, size_t len,
			 const char *crash);
/*
 * Read @dir/@name, at most @max bytes, as JSON: 0 and *@out (for
 * cJSON_Delete()); -errno of open() (-ENOENT: no file); -EINVAL empty,
 * longer than @max or not JSON; -ENOMEM.
 */
int cp_statefile_read_json(const char *dir, const char *name, size_t max, struct cJSON **out);
/* Remove @dir/@name durably; no file is not an error. */
int cp_statefile_remove(const char *dir, const char *name);
int cp_statefile_fsync_dir(const char *dir);

#endif
