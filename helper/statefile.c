// SPDX-License-Identifier: GPL-2.0
/* Atomic replacement of state files; see statefile.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "crashpoint.h"
#include "statefile.h"

int cp_statefile_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd))
		r = -errno;
	close(fd);
	return r;
}

static bool crashed(const char *crash, const char *step)
{
	char point[96];

	snprintf(point, sizeof(point), "%s-%s", crash, step);
	return cp_crashpoint(point);
}

int cp_statefile_replace(const char *dir, const char *name, const char *text, size_t len,
			 const char *crash)
{
	char tmp[512], path[512];
	int fd, r;

	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (crashed(crash, "opened")) {
		close(fd);
		return -EINTR;
	}
	errno = 0;
	if (fchmod(fd, 0600) || write(fd, text, len) != (ssize_t)len) {
		r = errno ? -errno : -EIO;
		close(fd);
		unlink(tmp);
		return r;
	}
	if (crashed(crash, "written")) {
		close(fd);
		return -EINTR;
	}
	if (fsync(fd)) {
		r = -errno;
		close(fd);
		unlink(tmp);
		return r;
	}
	close(fd);
	if (crashed(crash, "synced"))
		return -EINTR;
	if (rename(tmp, path)) {
		r = -errno;
		unlink(tmp);
		return r;
	}
	if (crashed(crash, "renamed"))
		return -EINTR;
	return cp_statefile_fsync_dir(dir);
}

int cp_statefile_read_json(const char *dir, const char *name, size_t max, cJSON **out)
{
	char path[512];
	char *buf;
	ssize_t n;
	int fd;

	*out = NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(max + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, buf, max + 1);
	close(fd);
	if (n > 0 && (size_t)n <= max) {
		buf[n] = '\0';
		*out = cJSON_Parse(buf);
	}
	free(buf);
	return *out ? 0 : -EINVAL;
}

int cp_statefile_remove(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (unlink(path) && errno != ENOENT)
		return -errno;
	return cp_statefile_fsync_dir(dir);
}
