// SPDX-License-Identifier: GPL-2.0
/*
 * prengine job queue: job lifetime, buffering with bounded memory, and the
 * choice of the job the engine serves.
 *
 * Buffering model.  The engine serves one job at a time, the current job.
 * The current job may hold up to stream_kib of unconsumed data of its own;
 * every other job spools into a pool shared by the engine, of buffer_kib.
 * A writer whose job has no room sleeps until the engine consumes data or
 * its job becomes current.  The current job can always make progress, and
 * the memory an engine holds is at most buffer_kib + stream_kib plus one
 * chunk per writer copying in.
 *
 * The engine picks the oldest committed job first (it is complete, so it
 * prints without waiting), otherwise the oldest job that has data and is
 * not held (PRENGINE_JOB_F_HOLD).  A held job must fit in the pool, and it
 * is not picked before its commit, so held jobs still being written that
 * fill the pool between them could only wait for each other: the write
 * that would sleep in that circle fails with -ENOBUFS instead.
 */
#include <linux/crc32.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "prengine.h"

/* Largest single allocation for one piece of written data. */
#define PRE_CHUNK_MAX	(64 * 1024)

static u64 pre_pool_cap(void)
{
	return (u64)pre_buffer_kib * 1024;
}

static u64 pre_stream_cap(void)
{
	return (u64)pre_stream_kib * 1024;
}

static void pre_job_free_chunks(struct pre_job *job)
{
	struct pre_chunk *c, *tmp;

	list_for_each_entry_safe(c, tmp, &job->chunks, node) {
		list_del(&c->node);
		kvfree(c);
	}
}

static void pre_job_release(struct kref *ref)
{
	struct pre_job *job = container_of(ref, struct pre_job, ref);

	pre_job_free_chunks(job);
	kfree(job);
}

void pre_job_put(struct pre_job *job)
{
	kref_put(&job->ref, pre_job_release);
}

/* Writers sleep on a sequence number; any change that may help them bumps it. */
static void pre_wake_writers_locked(struct pre_dev *pd)
{
	pd->wake_seq++;
	wake_up_interruptible_all(&pd->wq);
}

/* Buffer accounting: bytes of jobs that are not current count in the pool. */
static void pre_job_account_locked(struct pre_job *job, s64 dbuf, s64 dres)
{
	job->buffered += dbuf;
	job->reserved += dres;
	if (job->in_pool)
		job->dev->pool_used += dbuf + dres;
}

static void pre_job_leave_pool_locked(struct pre_job *job)
{
	if (!job->in_pool)
		return;
	job->dev->pool_used -= job->buffered + job->reserved;
	job->in_pool = false;
}

/*
 * Whether only the writers of held, uncommitted jobs can free pool space:
 * the engine takes nothing from the pool until one of them commits or
 * aborts, so a writer waiting for room there waits in a circle.
 */
static bool pre_pool_stuck_locked(const struct pre_dev *pd)
{
	const struct pre_job *job;
	u64 held = 0;

	list_for_each_entry(job, &pd->jobs, node)
		if (job->in_pool && (job->flags & PRENGINE_JOB_F_HOLD) && !job->committed)
			held += job->buffered + job->reserved;
	return held >= pd->pool_used;
}

/* How many bytes the writer of @job may add right now. */
static u64 pre_job_room_locked(const struct pre_job *job)
{
	const struct pre_dev *pd = job->dev;
	u64 held = job->buffered + job->reserved;

	if (pd->current_job == job)
		return held < pre_stream_cap() ? pre_stream_cap() - held : 0;
	return pd->pool_used < pre_pool_cap() ? pre_pool_cap() - pd->pool_used : 0;
}

u32 pre_engine_status_locked(const struct pre_dev *pd)
{
	u32 status = pd->fault;

	if (!(pd->fault & (PRENGINE_STATUS_JAM | PRENGINE_STATUS_PAPER_EMPTY)))
		status |= PRENGINE_STATUS_NOT_ERROR;
	if (!(pd->fault & PRENGINE_STATUS_OFFLINE))
		status |= PRENGINE_STATUS_SELECTED;
	if (pd->current_job)
		status |= PRENGINE_STATUS_BUSY;
	return status;
}

struct pre_job *pre_job_create(struct pre_dev *pd, const struct prengine_job_decl *decl)
{
	struct pre_job *job;

	job = kzalloc(sizeof(*job), GFP_KERNEL);
	if (!job)
		return ERR_PTR(-ENOMEM);
	kref_init(&job->ref);
	INIT_LIST_HEAD(&job->chunks);
	job->dev = pd;
	job->source = decl->source;
	job->flags = decl->flags;
	job->size = decl->size;
	strscpy(job->name, decl->name, sizeof(job->name));
	strscpy(job->cloud_id, decl->cloud_id, sizeof(job->cloud_id));
	job->state = PRENGINE_JOB_RECEIVING;
	job->crc = ~0U;
	job->in_pool = true;

	mutex_lock(&pd->lock);
	if (pd->dead) {
		mutex_unlock(&pd->lock);
		kfree(job);
		return ERR_PTR(-ENODEV);
	}
	if (job->source == PRENGINE_SOURCE_CLOUD && pre_cloud_locked_locked(pd)) {
		pd->stats.cloud_refused++;
		mutex_unlock(&pd->lock);
		kfree(job);
		return ERR_PTR(-EKEYREVOKED);
	}
	if (pd->active >= pre_max_jobs) {
		mutex_unlock(&pd->lock);
		kfree(job);
		return ERR_PTR(-ENOSPC);
	}
	job->id = pd->next_id++;
	/* One reference for the device's lists, one for the caller. */
	kref_get(&job->ref);
	list_add_tail(&job->node, &pd->jobs);
	pd->active++;
	pre_nl_job_event(pd, PRENGINE_CMD_JOB_QUEUED, job);
	pre_sysfs_notify(pd, "queue_depth");
	mutex_unlock(&pd->lock);
	return job;
}

struct pre_job *pre_job_find_locked(struct pre_dev *pd, u64 id)
{
	struct pre_job *job;

	list_for_each_entry(job, &pd->jobs, node)
		if (job->id == id)
			return job;
	list_for_each_entry(job, &pd->history, node)
		if (job->id == id)
			return job;
	return NULL;
}

void pre_job_info_locked(const struct pre_job *job, struct prengine_job_info *info)
{
	memset(info, 0, sizeof(*info));
	info->job_id = job->id;
	info->source = job->source;
	info->state = job->state;
	info->result = job->result;
	info->crc32 = job->crc ^ ~0U;
	info->bytes = job->bytes;
	info->printed = job->printed;
	info->pages = job->pages;
}

/*
 * End @job with @result.  @err is what its writer gets from then on.
 * Frees its data at once; the job stays in the bounded history.
 */
void pre_job_end_locked(struct pre_job *job, u32 result, int err)
{
	struct pre_dev *pd = job->dev;
	struct pre_job *old;

	if (job->state == PRENGINE_JOB_COMPLETE)
		return;

	pre_job_free_chunks(job);
	pre_job_account_locked(job, -(s64)job->buffered, 0);
	pre_job_leave_pool_locked(job);
	if (pd->current_job == job)
		pd->current_job = NULL;

	job->state = PRENGINE_JOB_COMPLETE;
	job->result = result;
	job->end_err = err;
	list_move_tail(&job->node, &pd->history);
	pd->active--;
	pd->history_len++;

	switch (result) {
	case PRENGINE_RESULT_PRINTED:
		pd->stats.jobs_printed++;
		break;
	case PRENGINE_RESULT_FLUSHED:
		pd->stats.jobs_flushed++;
		break;
	default:
		pd->stats.jobs_aborted++;
		break;
	}

	pre_nl_job_event(pd, result == PRENGINE_RESULT_FLUSHED ?
			 PRENGINE_CMD_JOB_FLUSHED : PRENGINE_CMD_JOB_DONE, job);

	while (pd->history_len > pre_history) {
		old = list_first_entry(&pd->history, struct pre_job, node);
		list_del_init(&old->node);
		pd->history_len--;
		pre_job_put(old);
	}

	pre_wake_writers_locked(pd);
	pre_sysfs_notify(pd, "queue_depth");
}

/* Why a writer may not add to @job, or 0. */
static int pre_job_write_err_locked(const struct pre_job *job)
{
	if (job->dev->dead)
		return -ENODEV;
	if (job->state == PRENGINE_JOB_COMPLETE)
		return job->end_err ? job->end_err : -EBADFD;
	if (job->committed)
		return -EBADFD;
	if (job->source == PRENGINE_SOURCE_CLOUD && pre_cloud_locked_locked(job->dev))
		return -EKEYREVOKED;
	return 0;
}

bool pre_job_writable(struct pre_job *job)
{
	bool ok;

	mutex_lock(&job->dev->lock);
	/* Writable also when the write would fail with -ENOBUFS at once. */
	ok = pre_job_write_err_locked(job) || pre_job_room_locked(job) > 0 ||
	     ((job->flags & PRENGINE_JOB_F_HOLD) && pre_pool_stuck_locked(job->dev));
	mutex_unlock(&job->dev->lock);
	return ok;
}

int pre_job_write(struct pre_job *job, const char __user *buf, size_t len, bool nonblock,
		  size_t *done)
{
	struct pre_dev *pd = job->dev;
	struct pre_chunk *c;
	u64 room, seq;
	size_t n;
	int ret = 0;

	*done = 0;
	while (*done < len) {
		mutex_lock(&pd->lock);
		ret = pre_job_write_err_locked(job);
		if (ret) {
			if (ret == -EKEYREVOKED)
				pd->stats.cloud_refused++;
			mutex_unlock(&pd->lock);
			break;
		}
		if (job->size && job->bytes + job->reserved >= job->size) {
			mutex_unlock(&pd->lock);
			ret = -EFBIG;
			break;
		}
		if ((job->flags & PRENGINE_JOB_F_HOLD) &&
		    job->bytes + job->reserved >= pre_pool_cap()) {
			mutex_unlock(&pd->lock);
			ret = -EFBIG;
			break;
		}
		room = pre_job_room_locked(job);
		if (!room && (job->flags & PRENGINE_JOB_F_HOLD) && pre_pool_stuck_locked(pd)) {
			mutex_unlock(&pd->lock);
			if (!*done)
				ret = -ENOBUFS;
			break;
		}
		if (!room) {
			seq = pd->wake_seq;
			mutex_unlock(&pd->lock);
			if (*done)
				break;
			if (nonblock) {
				ret = -EAGAIN;
				break;
			}
			ret = wait_event_interruptible(pd->wq, READ_ONCE(pd->wake_seq) != seq);
			if (ret)
				break;
			continue;
		}
		n = min_t(u64, len - *done, min_t(u64, room, PRE_CHUNK_MAX));
		if (job->size)
			n = min_t(u64, n, job->size - job->bytes - job->reserved);
		if (job->flags & PRENGINE_JOB_F_HOLD)
			n = min_t(u64, n, pre_pool_cap() - job->bytes - job->reserved);
		pre_job_account_locked(job, 0, n);
		mutex_unlock(&pd->lock);

		/* Copy in without the lock: the space is reserved. */
		c = kvmalloc(struct_size(c, data, n), GFP_KERNEL);
		if (!c)
			ret = -ENOMEM;
		else if (copy_from_user(c->data, buf + *done, n))
			ret = -EFAULT;

		mutex_lock(&pd->lock);
		pre_job_account_locked(job, 0, -(s64)n);
		if (!ret)
			ret = pre_job_write_err_locked(job);
		if (ret) {
			if (ret == -EKEYREVOKED)
				pd->stats.cloud_refused++;
			/* Space came free: someone else may use it. */
			pre_wake_writers_locked(pd);
			mutex_unlock(&pd->lock);
			kvfree(c);
			break;
		}
		c->len = n;
		c->off = 0;
		list_add_tail(&c->node, &job->chunks);
		pre_job_account_locked(job, n, 0);
		job->bytes += n;
		mutex_unlock(&pd->lock);
		*done += n;
		pd->ops->kick(pd);
	}
	return ret;
}

int pre_job_commit(struct pre_job *job)
{
	struct pre_dev *pd = job->dev;
	int ret = 0;

	mutex_lock(&pd->lock);
	if (job->state == PRENGINE_JOB_COMPLETE) {
		ret = job->end_err;
	} else if (job->size && job->bytes != job->size) {
		pre_job_end_locked(job, PRENGINE_RESULT_SIZE_MISMATCH, -EMSGSIZE);
		ret = -EMSGSIZE;
	} else {
		job->committed = true;
		if (job->state == PRENGINE_JOB_RECEIVING)
			job->state = PRENGINE_JOB_QUEUED;
	}
	mutex_unlock(&pd->lock);
	pd->ops->kick(pd);
	return ret;
}

void pre_job_abort(struct pre_job *job, u32 result)
{
	struct pre_dev *pd = job->dev;

	mutex_lock(&pd->lock);
	pre_job_end_locked(job, result, -ECANCELED);
	mutex_unlock(&pd->lock);
	pd->ops->kick(pd);
}

/* Give the engine a job if it has none and one is ready. */
void pre_queue_pick_locked(struct pre_dev *pd)
{
	struct pre_job *job, *pick = NULL;

	if (pd->current_job || pd->fault || pd->dead)
		return;

	list_for_each_entry(job, &pd->jobs, node) {
		if (job->committed) {
			pick = job;
			break;
		}
		if (!pick && job->buffered && !(job->flags & PRENGINE_JOB_F_HOLD))
			pick = job;
	}
	if (!pick)
		return;

	pre_job_leave_pool_locked(pick);
	pd->current_job = pick;
	pick->state = PRENGINE_JOB_PRINTING;
	pre_nl_job_event(pd, PRENGINE_CMD_JOB_STARTED, pick);
	/* The pool shrank and the new current job has its own room. */
	pre_wake_writers_locked(pd);
}

/*
 * The engine takes up to @budget bytes from the current job's first chunk:
 * they are printed, counted in the job's CRC32 and freed.  Returns how
 * many it took (0 when no data is waiting).
 */
size_t pre_queue_consume_locked(struct pre_dev *pd, size_t budget)
{
	struct pre_job *job = pd->current_job;
	struct pre_chunk *c;
	size_t n;

	c = list_first_entry_or_null(&job->chunks, struct pre_chunk, node);
	if (!c)
		return 0;
	n = min(c->len - c->off, budget);
	job->crc = crc32_le(job->crc, c->data + c->off, n);
	c->off += n;
	job->printed += n;
	pd->stats.bytes_printed += n;
	job->pages = DIV_ROUND_UP_ULL(job->printed, pd->sim.page_bytes);
	pre_job_account_locked(job, -(s64)n, 0);
	if (c->off == c->len) {
		list_del(&c->node);
		kvfree(c);
	}
	pre_wake_writers_locked(pd);
	return n;
}

/* End every job, for removal of the device. */
void pre_queue_flush_all(struct pre_dev *pd)
{
	struct pre_job *job, *tmp;

	mutex_lock(&pd->lock);
	pd->dead = true;
	list_for_each_entry_safe(job, tmp, &pd->jobs, node)
		pre_job_end_locked(job, PRENGINE_RESULT_ABORTED, -ENODEV);
	mutex_unlock(&pd->lock);
}

/* Drop the device's references to completed jobs. */
void pre_queue_release_history(struct pre_dev *pd)
{
	struct pre_job *job, *tmp;

	list_for_each_entry_safe(job, tmp, &pd->history, node) {
		list_del_init(&job->node);
		pre_job_put(job);
	}
	pd->history_len = 0;
}
