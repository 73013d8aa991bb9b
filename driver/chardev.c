// SPDX-License-Identifier: GPL-2.0
/*
 * prengine character device: job submission (declare, write, commit or
 * abort) and the state ioctls.
 */
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "prengine.h"

struct pre_file {
	struct pre_dev *pd;
	/* lock protects job: the job declared on this file, or NULL. */
	struct mutex lock;
	struct pre_job *job;
};

static int pre_open(struct inode *inode, struct file *file)
{
	struct pre_dev *pd = container_of(inode->i_cdev, struct pre_dev, cdev);
	struct pre_file *pf;

	pf = kzalloc(sizeof(*pf), GFP_KERNEL);
	if (!pf)
		return -ENOMEM;
	mutex_init(&pf->lock);
	pf->pd = pd;
	get_device(&pd->dev);
	file->private_data = pf;
	return nonseekable_open(inode, file);
}

/* Take the file's job with a reference, or NULL. */
static struct pre_job *pre_file_job(struct pre_file *pf)
{
	struct pre_job *job;

	mutex_lock(&pf->lock);
	job = pf->job;
	if (job)
		kref_get(&job->ref);
	mutex_unlock(&pf->lock);
	return job;
}

/* Detach the file's job: the caller owns the file's reference. */
static struct pre_job *pre_file_take_job(struct pre_file *pf)
{
	struct pre_job *job;

	mutex_lock(&pf->lock);
	job = pf->job;
	pf->job = NULL;
	mutex_unlock(&pf->lock);
	return job;
}

static int pre_release(struct inode *inode, struct file *file)
{
	struct pre_file *pf = file->private_data;
	struct pre_job *job = pre_file_take_job(pf);

	if (job) {
		if (job->flags & PRENGINE_JOB_F_ABORT_ON_CLOSE)
			pre_job_abort(job, PRENGINE_RESULT_WRITER_ABORTED);
		else
			pre_job_commit(job);
		pre_job_put(job);
	}
	put_device(&pf->pd->dev);
	kfree(pf);
	return 0;
}

static ssize_t pre_write(struct file *file, const char __user *buf, size_t len, loff_t *ppos)
{
	struct pre_file *pf = file->private_data;
	struct pre_job *job = pre_file_job(pf);
	size_t done;
	int ret;

	if (!job)
		return -EBADFD;
	if (!len) {
		pre_job_put(job);
		return 0;
	}
	ret = pre_job_write(job, buf, len, file->f_flags & O_NONBLOCK, &done);
	pre_job_put(job);
	return done ? done : ret;
}

static __poll_t pre_poll(struct file *file, poll_table *wait)
{
	struct pre_file *pf = file->private_data;
	struct pre_dev *pd = pf->pd;
	struct pre_job *job;
	__poll_t mask = 0;

	poll_wait(file, &pd->wq, wait);
	if (READ_ONCE(pd->dead))
		return EPOLLERR | EPOLLHUP;
	job = pre_file_job(pf);
	if (!job)
		return EPOLLOUT | EPOLLWRNORM;
	if (pre_job_writable(job))
		mask |= EPOLLOUT | EPOLLWRNORM;
	if (READ_ONCE(job->state) == PRENGINE_JOB_COMPLETE)
		mask |= EPOLLERR;
	pre_job_put(job);
	return mask;
}

static bool pre_str_ok(const char *s, size_t len)
{
	return !!memchr(s, '\0', len);
}

static long pre_ioctl_declare(struct pre_file *pf, void __user *arg)
{
	struct prengine_job_decl decl;
	bool is_cloud, has_cloud_id;
	struct pre_job *job;

	if (copy_from_user(&decl, arg, sizeof(decl)))
		return -EFAULT;
	if (decl.source >= __PRENGINE_SOURCE_CNT || decl.flags & ~PRENGINE_JOB_F_ALL)
		return -EINVAL;
	if (!pre_str_ok(decl.name, sizeof(decl.name)) ||
	    !pre_str_ok(decl.cloud_id, sizeof(decl.cloud_id)))
		return -ENAMETOOLONG;
	is_cloud = decl.source == PRENGINE_SOURCE_CLOUD;
	has_cloud_id = decl.cloud_id[0] != '\0';
	if (is_cloud != has_cloud_id)
		return -EINVAL;
	if (decl.job_id)
		return -EINVAL;

	mutex_lock(&pf->lock);
	if (pf->job) {
		mutex_unlock(&pf->lock);
		return -EBUSY;
	}
	job = pre_job_create(pf->pd, &decl);
	if (IS_ERR(job)) {
		mutex_unlock(&pf->lock);
		return PTR_ERR(job);
	}
	decl.job_id = job->id;
	if (copy_to_user(arg, &decl, sizeof(decl))) {
		mutex_unlock(&pf->lock);
		pre_job_abort(job, PRENGINE_RESULT_WRITER_ABORTED);
		pre_job_put(job);
		return -EFAULT;
	}
	pf->job = job;
	mutex_unlock(&pf->lock);
	return 0;
}

static long pre_ioctl_job_info(struct pre_dev *pd, void __user *arg)
{
	struct prengine_job_info info;
	struct pre_job *job;
	u64 id;

	if (copy_from_user(&info, arg, sizeof(info)))
		return -EFAULT;
	id = info.job_id;
	mutex_lock(&pd->lock);
	job = pre_job_find_locked(pd, id);
	if (job)
		pre_job_info_locked(job, &info);
	mutex_unlock(&pd->lock);
	if (!job)
		return -ENOENT;
	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

static long pre_ioctl_get_state(struct pre_dev *pd, void __user *arg)
{
	struct prengine_state_info st;

	memset(&st, 0, sizeof(st));
	mutex_lock(&pd->lock);
	st.state = pd->state;
	st.cloud_locked = pre_cloud_locked_locked(pd);
	st.engine_status = pre_engine_status_locked(pd);
	st.queue_depth = pd->active;
	mutex_unlock(&pd->lock);
	return copy_to_user(arg, &st, sizeof(st)) ? -EFAULT : 0;
}

static long pre_ioctl_lockdown(struct pre_dev *pd, void __user *arg)
{
	struct prengine_lockdown ld;
	int ret;

	if (copy_from_user(&ld, arg, sizeof(ld)))
		return -EFAULT;
	if (ld.flushed || ld.__pad)
		return -EINVAL;
	ret = pre_lockdown(pd, ld.state, ld.flags, &ld.flushed, NULL);
	if (ret)
		return ret;
	return copy_to_user(arg, &ld, sizeof(ld)) ? -EFAULT : 0;
}

static long pre_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct pre_file *pf = file->private_data;
	struct pre_dev *pd = pf->pd;
	void __user *uarg = (void __user *)arg;
	struct pre_job *job;
	u32 state;
	int ret;

	switch (cmd) {
	case PRENGINE_IOC_DECLARE_JOB:
		return pre_ioctl_declare(pf, uarg);
	case PRENGINE_IOC_COMMIT_JOB:
	case PRENGINE_IOC_ABORT_JOB:
		job = pre_file_take_job(pf);
		if (!job)
			return -EBADFD;
		ret = 0;
		if (cmd == PRENGINE_IOC_COMMIT_JOB)
			ret = pre_job_commit(job);
		else
			pre_job_abort(job, PRENGINE_RESULT_WRITER_ABORTED);
		pre_job_put(job);
		return ret;
	case PRENGINE_IOC_JOB_INFO:
		return pre_ioctl_job_info(pd, uarg);
	case PRENGINE_IOC_GET_STATE:
		return pre_ioctl_get_state(pd, uarg);
	case PRENGINE_IOC_SET_STATE:
		if (!capable(CAP_SYS_ADMIN))
			return -EPERM;
		if (get_user(state, (u32 __user *)uarg))
			return -EFAULT;
		return pre_set_state(pd, state, NULL);
	case PRENGINE_IOC_LOCKDOWN:
		if (!capable(CAP_SYS_ADMIN))
			return -EPERM;
		return pre_ioctl_lockdown(pd, uarg);
	}
	return -ENOTTY;
}

const struct file_operations pre_fops = {
	.owner		= THIS_MODULE,
	.open		= pre_open,
	.release	= pre_release,
	.write		= pre_write,
	.poll		= pre_poll,
	.unlocked_ioctl	= pre_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	/* No .llseek: nonseekable_open() makes lseek fail with -ESPIPE. */
};
