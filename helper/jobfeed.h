/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Feeding a download into a non-blocking file (a cloud job into
 * /dev/prengineN) without ever blocking the event loop.
 *
 * The network hands over chunks that must be taken whole or not at all.
 * A chunk the file takes only in part is taken anyway: the rest waits in a
 * stash, and the next chunk is refused (CP_FEED_FULL) until the file has
 * room again (EPOLLOUT) and the stash is written.  So at most one chunk is
 * ever held here, and the sender is paused instead of buffered.
 */
#ifndef CP_JOBFEED_H
#define CP_JOBFEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cp_feed {
	CP_FEED_TAKEN,		/* the chunk is ours (written or stashed) */
	CP_FEED_FULL,		/* nothing taken: wait for room, offer it again */
};

struct cp_jobfeed {
	int fd;			/* O_NONBLOCK */
	char *stash;		/* taken, not yet written */
	size_t stash_off, stash_len;
	uint64_t written;	/* bytes the file has accepted */
};

void cp_jobfeed_init(struct cp_jobfeed *f, int fd);
/* Offer @len bytes: CP_FEED_TAKEN, CP_FEED_FULL or -errno (write error, -ENOMEM). */
int cp_jobfeed_offer(struct cp_jobfeed *f, const void *buf, size_t len);
/* The file has room: write the stash.  CP_FEED_TAKEN once it is empty. */
int cp_jobfeed_flush(struct cp_jobfeed *f);
bool cp_jobfeed_pending(const struct cp_jobfeed *f);
/* Drop the stash (the job ends); the fd is the caller's. */
void cp_jobfeed_release(struct cp_jobfeed *f);

#endif
