/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cloudprintd's access to the prengine driver: state and lockdown through
 * ioctls on /dev/prengineN, cloud jobs written through their own file, and
 * the driver's events from the generic netlink "events" group.
 */
#ifndef CP_ENGINE_H
#define CP_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/prengine.h>

struct nl_sock;

struct cp_engine {
	unsigned int index;
	int fd;			/* control file */
	struct nl_sock *events;	/* subscribed to the events group */
};

struct cp_engine_event {
	int cmd;		/* PRENGINE_CMD_JOB_DONE, ... */
	uint64_t job_id;
	uint32_t result;
	uint32_t crc32;
	uint64_t printed;
	char cloud_id[PRENGINE_CLOUD_ID_LEN];
};

int cp_engine_open(struct cp_engine *e, unsigned int index);
void cp_engine_close(struct cp_engine *e);
int cp_engine_get_state(struct cp_engine *e, uint32_t *state);
int cp_engine_set_state(struct cp_engine *e, uint32_t state);
int cp_engine_lockdown(struct cp_engine *e, uint32_t state, uint32_t *flushed);
/* The events socket's fd, for epoll. */
int cp_engine_events_fd(const struct cp_engine *e);
/* Read what is waiting; calls @fn for each job event.  -ENOBUFS: events
 * were lost (the caller re-reads the state). */
int cp_engine_events_read(struct cp_engine *e,
			  void (*fn)(void *ctx, const struct cp_engine_event *ev), void *ctx);

/*
 * The driver's spool (its buffer_kib, in bytes): a held job must fit in
 * it.  0 when the module's parameter cannot be read.
 */
uint64_t cp_engine_spool_bytes(void);

/* A cloud job being written: fd is non-blocking (see jobfeed.h). */
struct cp_engine_job {
	int fd;
	uint64_t id;
};

/*
 * Declare a cloud job of @size bytes.  @hold: nothing prints before the
 * commit (the job must fit in the spool); otherwise it prints as it
 * arrives.  Either way closing without a commit aborts it.
 */
int cp_engine_job_begin(struct cp_engine *e, struct cp_engine_job *j, const char *cloud_id,
			const char *name, uint64_t size, bool hold);
/* The driver's record of engine job @id. */
int cp_engine_job_info(struct cp_engine *e, uint64_t id, struct prengine_job_info *info);
int cp_engine_job_commit(struct cp_engine_job *j);
void cp_engine_job_abort(struct cp_engine_job *j);

#endif
