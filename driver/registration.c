// SPDX-License-Identifier: GPL-2.0
/*
 * prengine registration state, cloud lock and lockdown.
 *
 * The cloud channel is open only in PRENGINE_STATE_REGISTERED.  Leaving
 * that state, by any interface, is a lockdown: under the device lock, in
 * one step, the state changes and every cloud job that has not reached the
 * engine ends (FLUSHED), so no cloud job can slip in between.
 */
#include <linux/kernel.h>
#include <linux/netlink.h>
#include <linux/string.h>

#include "prengine.h"

static const char * const pre_state_names[__PRENGINE_STATE_CNT] = {
	[PRENGINE_STATE_UNREGISTERED]	= "unregistered",
	[PRENGINE_STATE_REGISTERED]	= "registered",
	[PRENGINE_STATE_DELETED]	= "deleted",
	[PRENGINE_STATE_SUSPENDED]	= "suspended",
};

/*
 * pre_transitions[from] has bit "to" set when the change is allowed.
 * Setting the current state again is always allowed and changes nothing.
 * docs/driver.md has the same table.
 */
#define BIT_STATE(s) BIT(PRENGINE_STATE_##s)
static const u32 pre_transitions[__PRENGINE_STATE_CNT] = {
	[PRENGINE_STATE_UNREGISTERED]	= BIT_STATE(REGISTERED),
	[PRENGINE_STATE_REGISTERED]	= BIT_STATE(UNREGISTERED) | BIT_STATE(DELETED) |
					  BIT_STATE(SUSPENDED),
	[PRENGINE_STATE_DELETED]	= BIT_STATE(UNREGISTERED) | BIT_STATE(SUSPENDED) |
					  BIT_STATE(REGISTERED),
	[PRENGINE_STATE_SUSPENDED]	= BIT_STATE(UNREGISTERED) | BIT_STATE(REGISTERED),
};

const char *pre_state_name(u32 state)
{
	return state < __PRENGINE_STATE_CNT ? pre_state_names[state] : "invalid";
}

int pre_state_parse(const char *buf, u32 *state)
{
	int i = sysfs_match_string(pre_state_names, buf);

	if (i < 0)
		return -EINVAL;
	*state = i;
	return 0;
}

bool pre_cloud_locked_locked(const struct pre_dev *pd)
{
	return pd->state != PRENGINE_STATE_REGISTERED;
}

/*
 * End the cloud jobs a lockdown ends: every one not on the engine, and the
 * one on the engine if its writer is still sending or @flags asks for it.
 */
static u32 pre_flush_cloud_locked(struct pre_dev *pd, u32 flags)
{
	struct pre_job *job, *tmp;
	u32 n = 0;

	list_for_each_entry_safe(job, tmp, &pd->jobs, node) {
		if (job->source != PRENGINE_SOURCE_CLOUD)
			continue;
		if (job == pd->current_job) {
			if (job->committed && !(flags & PRENGINE_LOCKDOWN_F_ABORT_ACTIVE))
				continue;
			pre_job_end_locked(job, job->printed ? PRENGINE_RESULT_ABORTED :
					   PRENGINE_RESULT_FLUSHED, -EKEYREVOKED);
		} else {
			pre_job_end_locked(job, PRENGINE_RESULT_FLUSHED, -EKEYREVOKED);
		}
		n++;
	}
	return n;
}

static void pre_state_changed_locked(struct pre_dev *pd, u32 old)
{
	bool was_open = old == PRENGINE_STATE_REGISTERED;
	bool is_open = pd->state == PRENGINE_STATE_REGISTERED;

	pre_nl_state_event(pd, old);
	pre_sysfs_notify(pd, "state");
	if (was_open != is_open)
		pre_sysfs_notify(pd, "cloud_locked");
}

int pre_set_state(struct pre_dev *pd, u32 state, struct netlink_ext_ack *extack)
{
	u32 old;

	if (state >= __PRENGINE_STATE_CNT) {
		NL_SET_ERR_MSG(extack, "unknown registration state");
		return -ERANGE;
	}

	mutex_lock(&pd->lock);
	old = pd->state;
	if (old == state) {
		mutex_unlock(&pd->lock);
		return 0;
	}
	if (!(pre_transitions[old] & BIT(state))) {
		mutex_unlock(&pd->lock);
		NL_SET_ERR_MSG(extack, "transition not allowed from the current state");
		return -EINVAL;
	}
	pd->state = state;
	if (old == PRENGINE_STATE_REGISTERED) {
		pd->stats.lockdowns++;
		pre_flush_cloud_locked(pd, 0);
	}
	pre_state_changed_locked(pd, old);
	mutex_unlock(&pd->lock);
	pd->ops->kick(pd);
	return 0;
}

int pre_lockdown(struct pre_dev *pd, u32 state, u32 flags, u32 *flushed,
		 struct netlink_ext_ack *extack)
{
	u32 old;

	if (state != PRENGINE_STATE_DELETED && state != PRENGINE_STATE_SUSPENDED &&
	    state != PRENGINE_STATE_UNREGISTERED) {
		NL_SET_ERR_MSG(extack, "a lockdown enters deleted, suspended or unregistered");
		return -EINVAL;
	}
	if (flags & ~PRENGINE_LOCKDOWN_F_ALL) {
		NL_SET_ERR_MSG(extack, "unknown lockdown flags");
		return -EINVAL;
	}

	mutex_lock(&pd->lock);
	old = pd->state;
	/* From any state but registered the channel is already locked. */
	if (old == PRENGINE_STATE_REGISTERED)
		pd->state = state;
	pd->stats.lockdowns++;
	*flushed = pre_flush_cloud_locked(pd, flags);
	if (old != pd->state)
		pre_state_changed_locked(pd, old);
	mutex_unlock(&pd->lock);
	pd->ops->kick(pd);
	return 0;
}
