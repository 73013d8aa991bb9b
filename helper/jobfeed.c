// SPDX-License-Identifier: GPL-2.0
/* Feeding a download into a non-blocking file; see jobfeed.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobfeed.h"

void cp_jobfeed_init(struct cp_jobfeed *f, int fd)
{
	memset(f, 0, sizeof(*f));
	f->fd = fd;
}

/* Write what the file takes now; the count, or -errno other than EAGAIN. */
static ssize_t cp_jobfeed_write(struct cp_jobfeed *f, const char *p, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(f->fd, p + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		if (n == 0)
			break;
		done += n;
	}
	f->written += done;
	return done;
}

int cp_jobfeed_flush(struct cp_jobfeed *f)
{
	ssize_t n;

	if (!cp_jobfeed_pending(f))
		return CP_FEED_TAKEN;
	n = cp_jobfeed_write(f, f->stash + f->stash_off, f->stash_len - f->stash_off);
	if (n < 0)
		return n;
	f->stash_off += n;
	if (cp_jobfeed_pending(f))
		return CP_FEED_FULL;
	cp_jobfeed_release(f);
	return CP_FEED_TAKEN;
}

int cp_jobfeed_offer(struct cp_jobfeed *f, const void *buf, size_t len)
{
	ssize_t n;
	int r;

	r = cp_jobfeed_flush(f);
	if (r != CP_FEED_TAKEN)
		return r;
	n = cp_jobfeed_write(f, buf, len);
	if (n < 0)
		return n;
	if (n == 0 && len)
		return CP_FEED_FULL;
	if ((size_t)n < len) {
		f->stash = malloc(len - n);
		if (!f->stash)
			return -ENOMEM;
		memcpy(f->stash, (const char *)buf + n, len - n);
		f->stash_off = 0;
		f->stash_len = len - n;
	}
	return CP_FEED_TAKEN;
}

bool cp_jobfeed_pending(const struct cp_jobfeed *f)
{
	return f->stash && f->stash_off < f->stash_len;
}

void cp_jobfeed_release(struct cp_jobfeed *f)
{
	free(f->stash);
	f->stash = NULL;
	f->stash_off = 0;
	f->stash_len = 0;
}
