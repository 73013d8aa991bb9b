/* SPDX-License-Identifier: GPL-2.0 */
/*
 * prengine: driver-private definitions.  The userspace interface is
 * <linux/prengine.h>; docs/driver.md describes both.
 */
#ifndef _PRENGINE_PRIV_H
#define _PRENGINE_PRIV_H

#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/prengine.h>

#define PRE_MAX_ENGINES		16

struct pre_dev;
struct netlink_ext_ack;

/* One piece of a job's data, as one write() delivered it. */
struct pre_chunk {
	struct list_head node;	/* in pre_job.chunks */
	size_t len;
	size_t off;		/* bytes of it already consumed */
	u8 data[];
};

struct pre_job {
	struct kref ref;	/* the device's lists and the writer's file */
	struct list_head node;	/* in pre_dev.jobs or pre_dev.history */
	struct pre_dev *dev;

	u64 id;
	u32 source;		/* enum prengine_source */
	u32 flags;		/* PRENGINE_JOB_F_* */
	u64 size;		/* declared size, 0 = unknown */
	char name[PRENGINE_JOB_NAME_LEN];
	char cloud_id[PRENGINE_CLOUD_ID_LEN];

	/* The fields below are protected by pre_dev.lock. */
	u32 state;		/* enum prengine_job_state */
	u32 result;		/* enum prengine_job_result */
	bool committed;		/* the writer has finished sending */
	bool in_pool;		/* its bytes count in pre_dev.pool_used */
	int end_err;		/* what its writer gets once it has ended */
	u64 bytes;		/* received from the writer */
	u64 reserved;		/* being copied in by a writer right now */
	u64 buffered;		/* received and not yet consumed */
	u64 printed;		/* consumed by the engine */
	u32 crc;		/* running crc32_le of the consumed bytes */
	u32 pages;
	struct list_head chunks;
};

/*
 * The engine backend.  The core hands it data through pre_queue_*(); a
 * real engine would replace the simulator here (the shape of null_blk).
 */
struct pre_engine_ops {
	int (*init)(struct pre_dev *dev);
	void (*fini)(struct pre_dev *dev);
	/* New data, a commit, or a fault cleared: go and look. */
	void (*kick)(struct pre_dev *dev);
};

struct pre_sim {
	struct delayed_work work;
	u64 speed_bps;		/* 0: unlimited */
	u32 page_bytes;		/* bytes per page of the page model */
	unsigned long last;	/* jiffies of the last throttled tick */
};

struct pre_stats {
	u64 jobs_printed;
	u64 jobs_flushed;
	u64 jobs_aborted;
	u64 bytes_printed;
	u64 cloud_refused;
	u64 lockdowns;
};

struct pre_dev {
	struct device dev;
	struct cdev cdev;
	unsigned int index;
	const struct pre_engine_ops *ops;
	struct pre_sim sim;
	struct dentry *debugfs;

	/*
	 * lock protects the registration state, the job lists, every job's
	 * progress fields, the buffer accounting, the fault bits and the
	 * statistics.  It is a mutex: writers sleep, and netlink events are
	 * sent with it held so that they leave in the order things happened.
	 */
	struct mutex lock;
	u32 state;		/* enum prengine_state */
	u32 fault;		/* PRENGINE_STATUS_JAM | _PAPER_EMPTY | _OFFLINE */
	bool dead;		/* being removed */
	struct list_head jobs;	/* declared, not complete; declaration order */
	struct list_head history; /* complete, newest last, bounded */
	unsigned int history_len;
	unsigned int active;	/* jobs on .jobs */
	struct pre_job *current_job; /* on the engine, or NULL */
	u64 pool_used;		/* bytes held by jobs that are not current */
	u64 next_id;
	struct pre_stats stats;

	/* Writers wait here for buffer space or for their job to end. */
	wait_queue_head_t wq;
	u64 wake_seq;		/* bumped (under lock) whenever writers may proceed */
};

/* core.c */
extern unsigned int pre_buffer_kib;
extern unsigned int pre_stream_kib;
extern unsigned int pre_history;
extern unsigned int pre_max_jobs;
extern unsigned int pre_page_bytes;
extern u64 pre_speed_bps;
struct pre_dev *pre_dev_get_by_index(u32 index);
void pre_dev_put(struct pre_dev *pd);

/* chardev.c */
extern const struct file_operations pre_fops;

/* queue.c */
struct pre_job *pre_job_create(struct pre_dev *pd, const struct prengine_job_decl *decl);
void pre_job_put(struct pre_job *job);
struct pre_job *pre_job_find_locked(struct pre_dev *pd, u64 id);
void pre_job_info_locked(const struct pre_job *job, struct prengine_job_info *info);
int pre_job_write(struct pre_job *job, const char __user *buf, size_t len, bool nonblock,
		  size_t *done);
bool pre_job_writable(struct pre_job *job);
int pre_job_commit(struct pre_job *job);
void pre_job_abort(struct pre_job *job, u32 result);
void pre_job_end_locked(struct pre_job *job, u32 result, int err);
void pre_queue_pick_locked(struct pre_dev *pd);
size_t pre_queue_consume_locked(struct pre_dev *pd, size_t budget);
void pre_queue_flush_all(struct pre_dev *pd);
void pre_queue_release_history(struct pre_dev *pd);
u32 pre_engine_status_locked(const struct pre_dev *pd);

/* registration.c */
const char *pre_state_name(u32 state);
int pre_state_parse(const char *buf, u32 *state);
int pre_set_state(struct pre_dev *pd, u32 state, struct netlink_ext_ack *extack);
int pre_lockdown(struct pre_dev *pd, u32 state, u32 flags, u32 *flushed,
		 struct netlink_ext_ack *extack);
bool pre_cloud_locked_locked(const struct pre_dev *pd);

/* sim.c */
extern const struct pre_engine_ops pre_sim_ops;
void pre_sim_set_fault(struct pre_dev *pd, u32 fault);

/* netlink.c */
int pre_netlink_init(void);
void pre_netlink_exit(void);
void pre_nl_job_event(struct pre_dev *pd, u8 cmd, const struct pre_job *job);
void pre_nl_state_event(struct pre_dev *pd, u32 old_state);
void pre_nl_status_event(struct pre_dev *pd);

/* sysfs.c */
extern const struct attribute_group *pre_dev_groups[];
void pre_sysfs_notify(struct pre_dev *pd, const char *attr);

/* debugfs.c */
void pre_debugfs_init(void);
void pre_debugfs_exit(void);
void pre_debugfs_add(struct pre_dev *pd);
void pre_debugfs_remove(struct pre_dev *pd);

#endif /* _PRENGINE_PRIV_H */
