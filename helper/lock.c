// SPDX-License-Identifier: GPL-2.0
/* The single-instance lock; see lock.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "lock.h"

int cp_lock_instance(const char *dir, char *err, size_t errlen)
{
	char path[512], pid[32] = "";
	ssize_t n;
	int fd, r;

	snprintf(path, sizeof(path), "%s/cloudprintd.lock", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "lock file %s: %s", path, strerror(errno));
		return r;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		if (r == -EBUSY)
			snprintf(err, errlen, "another cloudprintd (pid %s) runs with state_dir %s "
				 "(it holds %s)", pid[0] ? pid : "?", dir, path);
		else
			snprintf(err, errlen, "lock file %s: %s", path, strerror(-r));
		close(fd);
		return r;
	}
	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, pid, n, 0) != n) {
		r = -errno;
		snprintf(err, errlen, "lock file %s: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	return fd;
}
