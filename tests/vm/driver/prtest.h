/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the prengine guest tests: the device, jobs, CRC32, sysfs and
 * the generic netlink family (libnl-genl).
 */
#ifndef PRTEST_H
#define PRTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/prengine.h>

#define PR_DEV		"/dev/prengine0"
#define PR_SYSFS	"/sys/class/prengine/prengine0/"
#define PR_DEBUGFS	"/sys/kernel/debug/prengine/prengine0/"

uint32_t pr_crc32(uint32_t crc, const void *buf, size_t len);
void pr_fill(void *buf, size_t len, uint32_t seed);

/* Declare a job on @fd; returns the job id, or 0 with errno set. */
uint64_t pr_declare(int fd, uint32_t source, uint32_t flags, uint64_t size,
		    const char *name, const char *cloud_id);
int pr_job_info(int fd, uint64_t id, struct prengine_job_info *info);
/* Wait until job @id is complete; returns 0, or -1 on timeout. */
int pr_wait_job(int fd, uint64_t id, struct prengine_job_info *info, int timeout_ms);
int pr_write_all(int fd, const void *buf, size_t len);

int pr_sysfs_read(const char *attr, char *buf, size_t len);
int pr_sysfs_write(const char *path, const char *val);
long pr_sysfs_long(const char *attr);
int pr_set_state(uint32_t state);	/* via ioctl; returns 0 or -errno */
int pr_fault(const char *fault);
int pr_speed(uint64_t bps);

/* Generic netlink. */
struct pr_nl_reply {
	int cmd;
	uint32_t state, flushed, status, depth;
	bool has_flushed;
	/* job events / LIST_JOBS */
	uint64_t job_id;
	uint32_t job_result, job_crc, job_state, job_source;
	uint64_t job_bytes;
};

struct pr_nl_attr {
	int type;		/* 0 ends the list */
	int len;		/* 0: u32 from .u32 */
	uint32_t u32;
	const void *data;
};

int pr_nl_family(void);
/* The genlmsghdr reserved field of the requests sent (normally 0). */
extern uint8_t pr_nl_reserved;
/* Resolve the family again on the next call (after a module reload). */
void pr_nl_forget(void);
/* Send @cmd with @attrs, wait for the answer; 0 or the kernel's -errno. */
int pr_nl_call(int cmd, const struct pr_nl_attr *attrs, struct pr_nl_reply *reply);
/* Dump LIST_JOBS of engine 0 into @out (at most @max); returns the count or -errno. */
int pr_nl_list_jobs(struct pr_nl_reply *out, int max);

struct pr_listener;
struct pr_listener *pr_listen(void);
/* Next event within @timeout_ms; 1 got one, 0 timeout, <0 error. */
int pr_listen_next(struct pr_listener *l, struct pr_nl_reply *ev, int timeout_ms);
void pr_listen_close(struct pr_listener *l);

#endif
