/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * prengine: print engine character devices with a cloud registration state.
 *
 * This header is the single source of truth for the interface between the
 * prengine kernel module and userspace (cloudprintd, usbprintd, tests).
 * docs/driver.md describes the semantics; docs/prengine.yaml describes the
 * generic netlink family in the shape of Documentation/netlink/specs/.
 *
 * Data plane (per open file of /dev/prengineN):
 *   1. PRENGINE_IOC_DECLARE_JOB   declare one job (source, name, cloud id)
 *   2. write()                    the job's data; blocks when the engine's
 *                                 buffer is full (O_NONBLOCK: -EAGAIN)
 *   3. PRENGINE_IOC_COMMIT_JOB    or close(): the job is complete
 *      PRENGINE_IOC_ABORT_JOB     the writer abandons the job
 *   The same file may then declare the next job.
 *
 * Control plane: generic netlink family PRENGINE_GENL_NAME, the ioctls
 * below, and sysfs /sys/class/prengine/prengineN/.
 */
#ifndef _UAPI_LINUX_PRENGINE_H
#define _UAPI_LINUX_PRENGINE_H

#include <linux/types.h>
#include <linux/ioctl.h>

/* Lengths include the terminating NUL; strings must be NUL-terminated. */
#define PRENGINE_JOB_NAME_LEN		64
#define PRENGINE_CLOUD_ID_LEN		64

/*
 * Registration state of the printer towards its cloud service.  The driver
 * holds the authoritative copy so it survives restarts of the helpers.
 * The cloud channel is open only in PRENGINE_STATE_REGISTERED.
 */
enum prengine_state {
	PRENGINE_STATE_UNREGISTERED	= 0,
	PRENGINE_STATE_REGISTERED	= 1,
	PRENGINE_STATE_DELETED		= 2,	/* server-side deletion seen */
	PRENGINE_STATE_SUSPENDED	= 3,	/* keep credentials, stay silent */

	__PRENGINE_STATE_CNT,
};

enum prengine_source {
	PRENGINE_SOURCE_LOCAL		= 0,
	PRENGINE_SOURCE_USB		= 1,
	PRENGINE_SOURCE_NETWORK		= 2,
	PRENGINE_SOURCE_CLOUD		= 3,

	__PRENGINE_SOURCE_CNT,
};

/* Where a job is in its life. */
enum prengine_job_state {
	PRENGINE_JOB_RECEIVING		= 0,	/* declared, data arriving */
	PRENGINE_JOB_QUEUED		= 1,	/* committed, waiting for engine */
	PRENGINE_JOB_PRINTING		= 2,	/* on the engine */
	PRENGINE_JOB_COMPLETE		= 3,	/* see enum prengine_job_result */

	__PRENGINE_JOB_STATE_CNT,
};

/* How a job ended; meaningful once the job is PRENGINE_JOB_COMPLETE. */
enum prengine_job_result {
	PRENGINE_RESULT_NONE		= 0,	/* not complete yet */
	PRENGINE_RESULT_PRINTED		= 1,	/* every byte went to the engine */
	PRENGINE_RESULT_FLUSHED		= 2,	/* cancelled by a lockdown */
	PRENGINE_RESULT_ABORTED		= 3,	/* aborted on the engine */
	PRENGINE_RESULT_WRITER_ABORTED	= 4,	/* writer aborted or went away */
	PRENGINE_RESULT_SIZE_MISMATCH	= 5,	/* committed != declared size */

	__PRENGINE_RESULT_CNT,
};

/*
 * Engine status bits.  The low byte uses the IEEE 1284 / USB printer class
 * port status values (LP_PERRORP, LP_PSELECD, LP_POUTPA in <linux/lp.h>,
 * PRINTER_NOT_ERROR, PRINTER_SELECTED, PRINTER_PAPER_EMPTY in
 * <linux/usb/g_printer.h>) so usbprintd can pass it to the USB host as is.
 * The bits above the low byte give the reason.
 */
#define PRENGINE_STATUS_NOT_ERROR	0x08	/* set when there is no error */
#define PRENGINE_STATUS_SELECTED	0x10	/* online */
#define PRENGINE_STATUS_PAPER_EMPTY	0x20
#define PRENGINE_STATUS_USB_MASK	0xff

#define PRENGINE_STATUS_JAM		0x0100
#define PRENGINE_STATUS_OFFLINE		0x0200
#define PRENGINE_STATUS_BUSY		0x0400	/* a job is on the engine */

/* Flags of struct prengine_job_decl. */
#define PRENGINE_JOB_F_HOLD		(1U << 0) /* do not start before commit */
#define PRENGINE_JOB_F_ABORT_ON_CLOSE	(1U << 1) /* close without commit aborts */
#define PRENGINE_JOB_F_ALL		(PRENGINE_JOB_F_HOLD | \
					 PRENGINE_JOB_F_ABORT_ON_CLOSE)

/* Flags of a lockdown. */
#define PRENGINE_LOCKDOWN_F_ABORT_ACTIVE (1U << 0) /* also abort the job on
						    * the engine if it is a
						    * cloud job
						    */
#define PRENGINE_LOCKDOWN_F_ALL		PRENGINE_LOCKDOWN_F_ABORT_ACTIVE

/**
 * struct prengine_job_decl - declare a job on an open engine file
 * @source: enum prengine_source
 * @flags: PRENGINE_JOB_F_*; unknown bits give -EINVAL
 * @size: exact size of the data in bytes, or 0 if not known in advance;
 *	when set, writing past it gives -EFBIG and committing short of it
 *	ends the job with PRENGINE_RESULT_SIZE_MISMATCH
 * @name: job name, NUL-terminated, may be empty
 * @cloud_id: the cloud service's job id; required (non-empty) for
 *	PRENGINE_SOURCE_CLOUD, must be empty otherwise
 * @job_id: out: the id the driver gave the job (never 0)
 */
struct prengine_job_decl {
	__u32 source;
	__u32 flags;
	__u64 size;
	char name[PRENGINE_JOB_NAME_LEN];
	char cloud_id[PRENGINE_CLOUD_ID_LEN];
	__u64 job_id;
};

/**
 * struct prengine_job_info - completion record / progress of one job
 * @job_id: in: the job to look up (completed jobs are kept in a bounded
 *	history; an id that fell out of it gives -ENOENT)
 * @source: enum prengine_source
 * @state: enum prengine_job_state
 * @result: enum prengine_job_result
 * @bytes: bytes received from the writer
 * @printed: bytes consumed by the engine
 * @crc32: CRC32 (IEEE 802.3, as crc32_le(~0, ...) ^ ~0, the zlib value) of
 *	the bytes consumed by the engine
 * @pages: pages printed under the engine's page model
 * @__pad: zero
 */
struct prengine_job_info {
	__u64 job_id;
	__u32 source;
	__u32 state;
	__u32 result;
	__u32 crc32;
	__u64 bytes;
	__u64 printed;
	__u32 pages;
	__u32 __pad;
};

/**
 * struct prengine_state_info - registration and engine state
 * @state: enum prengine_state
 * @cloud_locked: 1 when cloud jobs are refused
 * @engine_status: PRENGINE_STATUS_* bits
 * @queue_depth: jobs declared and not yet complete
 * @__pad: zero
 */
struct prengine_state_info {
	__u32 state;
	__u32 cloud_locked;
	__u32 engine_status;
	__u32 queue_depth;
	__u32 __pad[4];
};

/**
 * struct prengine_lockdown - lock the cloud channel and flush cloud jobs
 * @state: in: state to enter, PRENGINE_STATE_DELETED, _SUSPENDED or
 *	_UNREGISTERED
 * @flags: in: PRENGINE_LOCKDOWN_F_*
 * @flushed: out: number of cloud jobs the lockdown ended
 * @__pad: zero
 */
struct prengine_lockdown {
	__u32 state;
	__u32 flags;
	__u32 flushed;
	__u32 __pad;
};

/* Not registered in ioctl-number.rst: an out-of-tree driver. */
#define PRENGINE_IOC_MAGIC	0xE7

#define PRENGINE_IOC_DECLARE_JOB _IOWR(PRENGINE_IOC_MAGIC, 0x01, struct prengine_job_decl)
#define PRENGINE_IOC_COMMIT_JOB	_IO(PRENGINE_IOC_MAGIC, 0x02)
#define PRENGINE_IOC_ABORT_JOB	_IO(PRENGINE_IOC_MAGIC, 0x03)
#define PRENGINE_IOC_JOB_INFO	_IOWR(PRENGINE_IOC_MAGIC, 0x04, struct prengine_job_info)
#define PRENGINE_IOC_GET_STATE	_IOR(PRENGINE_IOC_MAGIC, 0x05, struct prengine_state_info)
/* Argument: a __u32 holding enum prengine_state.  Needs CAP_SYS_ADMIN. */
#define PRENGINE_IOC_SET_STATE	_IOW(PRENGINE_IOC_MAGIC, 0x06, __u32)
/* Needs CAP_SYS_ADMIN. */
#define PRENGINE_IOC_LOCKDOWN	_IOWR(PRENGINE_IOC_MAGIC, 0x07, struct prengine_lockdown)

/* ---- generic netlink ---- */

#define PRENGINE_GENL_NAME		"prengine"
#define PRENGINE_GENL_VERSION		1
#define PRENGINE_GENL_MCGRP_EVENTS	"events"

enum prengine_cmd {
	PRENGINE_CMD_UNSPEC,
	PRENGINE_CMD_GET_STATE,		/* do: one engine; dump: all */
	PRENGINE_CMD_SET_STATE,		/* admin: ENGINE, STATE */
	PRENGINE_CMD_LOCKDOWN,		/* admin: ENGINE, [STATE], [LOCKDOWN_FLAGS] */
	PRENGINE_CMD_LIST_JOBS,		/* dump: ENGINE; one JOB nest per message */

	/* multicast events, group PRENGINE_GENL_MCGRP_EVENTS */
	PRENGINE_CMD_JOB_QUEUED,	/* ENGINE, JOB */
	PRENGINE_CMD_JOB_STARTED,	/* ENGINE, JOB */
	PRENGINE_CMD_JOB_DONE,		/* ENGINE, JOB (with RESULT, CRC32) */
	PRENGINE_CMD_JOB_FLUSHED,	/* ENGINE, JOB; one per job a lockdown ends */
	PRENGINE_CMD_STATE_CHANGED,	/* ENGINE, STATE, OLD_STATE, CLOUD_LOCKED */
	PRENGINE_CMD_ENGINE_STATUS,	/* ENGINE, ENGINE_STATUS (fault set/cleared) */

	__PRENGINE_CMD_MAX,
};
#define PRENGINE_CMD_MAX (__PRENGINE_CMD_MAX - 1)

enum prengine_attr {
	PRENGINE_A_UNSPEC,
	PRENGINE_A_PAD,
	PRENGINE_A_ENGINE,		/* u32: N of /dev/prengineN */
	PRENGINE_A_STATE,		/* u32: enum prengine_state */
	PRENGINE_A_OLD_STATE,		/* u32: enum prengine_state */
	PRENGINE_A_CLOUD_LOCKED,	/* u8: 0 or 1 */
	PRENGINE_A_ENGINE_STATUS,	/* u32: PRENGINE_STATUS_* */
	PRENGINE_A_QUEUE_DEPTH,		/* u32 */
	PRENGINE_A_LOCKDOWN_FLAGS,	/* u32: PRENGINE_LOCKDOWN_F_* */
	PRENGINE_A_FLUSHED,		/* u32: jobs a lockdown ended */
	PRENGINE_A_JOB,			/* nest: enum prengine_job_attr */

	__PRENGINE_A_MAX,
};
#define PRENGINE_A_MAX (__PRENGINE_A_MAX - 1)

enum prengine_job_attr {
	PRENGINE_JOB_A_UNSPEC,
	PRENGINE_JOB_A_PAD,
	PRENGINE_JOB_A_ID,		/* u64 */
	PRENGINE_JOB_A_SOURCE,		/* u32: enum prengine_source */
	PRENGINE_JOB_A_NAME,		/* string */
	PRENGINE_JOB_A_CLOUD_ID,	/* string, cloud jobs only */
	PRENGINE_JOB_A_STATE,		/* u32: enum prengine_job_state */
	PRENGINE_JOB_A_RESULT,		/* u32: enum prengine_job_result */
	PRENGINE_JOB_A_BYTES,		/* u64: bytes received */
	PRENGINE_JOB_A_PRINTED,		/* u64: bytes consumed by the engine */
	PRENGINE_JOB_A_CRC32,		/* u32 */
	PRENGINE_JOB_A_PAGES,		/* u32 */

	__PRENGINE_JOB_A_MAX,
};
#define PRENGINE_JOB_A_MAX (__PRENGINE_JOB_A_MAX - 1)

#endif /* _UAPI_LINUX_PRENGINE_H */
