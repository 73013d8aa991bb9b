// SPDX-License-Identifier: GPL-2.0
/*
 * prengine generic netlink family: state, lockdown and job listing, and
 * the "events" multicast group.  docs/prengine.yaml describes it.
 */
#include <net/genetlink.h>

#include "compat.h"
#include "prengine.h"

static struct genl_family pre_genl_family;

static const struct nla_policy pre_engine_policy[PRENGINE_A_MAX + 1] = {
	[PRENGINE_A_ENGINE]		= { .type = NLA_U32 },
};

static const struct nla_policy pre_set_state_policy[PRENGINE_A_MAX + 1] = {
	[PRENGINE_A_ENGINE]		= { .type = NLA_U32 },
	[PRENGINE_A_STATE]		= NLA_POLICY_MAX(NLA_U32, __PRENGINE_STATE_CNT - 1),
};

static const struct nla_policy pre_lockdown_policy[PRENGINE_A_MAX + 1] = {
	[PRENGINE_A_ENGINE]		= { .type = NLA_U32 },
	[PRENGINE_A_STATE]		= NLA_POLICY_MAX(NLA_U32, __PRENGINE_STATE_CNT - 1),
	[PRENGINE_A_LOCKDOWN_FLAGS]	= NLA_POLICY_MASK(NLA_U32, PRENGINE_LOCKDOWN_F_ALL),
};

static int pre_nl_put_state(struct sk_buff *skb, struct pre_dev *pd)
{
	u32 state, status, depth;
	bool locked;

	mutex_lock(&pd->lock);
	state = pd->state;
	locked = pre_cloud_locked_locked(pd);
	status = pre_engine_status_locked(pd);
	depth = pd->active;
	mutex_unlock(&pd->lock);

	if (nla_put_u32(skb, PRENGINE_A_ENGINE, pd->index) ||
	    nla_put_u32(skb, PRENGINE_A_STATE, state) ||
	    nla_put_u8(skb, PRENGINE_A_CLOUD_LOCKED, locked) ||
	    nla_put_u32(skb, PRENGINE_A_ENGINE_STATUS, status) ||
	    nla_put_u32(skb, PRENGINE_A_QUEUE_DEPTH, depth))
		return -EMSGSIZE;
	return 0;
}

static int pre_nl_put_job(struct sk_buff *skb, const struct pre_job *job)
{
	struct prengine_job_info info;
	struct nlattr *nest;

	pre_job_info_locked(job, &info);
	nest = nla_nest_start(skb, PRENGINE_A_JOB);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u64_64bit(skb, PRENGINE_JOB_A_ID, info.job_id, PRENGINE_JOB_A_PAD) ||
	    nla_put_u32(skb, PRENGINE_JOB_A_SOURCE, info.source) ||
	    nla_put_string(skb, PRENGINE_JOB_A_NAME, job->name) ||
	    (job->source == PRENGINE_SOURCE_CLOUD &&
	     nla_put_string(skb, PRENGINE_JOB_A_CLOUD_ID, job->cloud_id)) ||
	    nla_put_u32(skb, PRENGINE_JOB_A_STATE, info.state) ||
	    nla_put_u32(skb, PRENGINE_JOB_A_RESULT, info.result) ||
	    nla_put_u64_64bit(skb, PRENGINE_JOB_A_BYTES, info.bytes, PRENGINE_JOB_A_PAD) ||
	    nla_put_u64_64bit(skb, PRENGINE_JOB_A_PRINTED, info.printed, PRENGINE_JOB_A_PAD) ||
	    nla_put_u32(skb, PRENGINE_JOB_A_CRC32, info.crc32) ||
	    nla_put_u32(skb, PRENGINE_JOB_A_PAGES, info.pages)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

/* The engine a request names, with a reference, or an error with a message. */
static struct pre_dev *pre_nl_engine(struct genl_info *info)
{
	struct pre_dev *pd;

	if (GENL_REQ_ATTR_CHECK(info, PRENGINE_A_ENGINE))
		return ERR_PTR(-EINVAL);
	pd = pre_dev_get_by_index(nla_get_u32(info->attrs[PRENGINE_A_ENGINE]));
	if (!pd) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[PRENGINE_A_ENGINE],
				    "no such engine");
		return ERR_PTR(-ENODEV);
	}
	return pd;
}

static int pre_nl_reply_state(struct genl_info *info, struct pre_dev *pd, u8 cmd,
			      const u32 *flushed)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &pre_genl_family, 0, cmd);
	if (!hdr)
		goto nomem;
	if (pre_nl_put_state(msg, pd))
		goto nomem;
	if (flushed && nla_put_u32(msg, PRENGINE_A_FLUSHED, *flushed))
		goto nomem;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
nomem:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

static int pre_nl_get_state_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct pre_dev *pd = pre_nl_engine(info);
	int ret;

	if (IS_ERR(pd))
		return PTR_ERR(pd);
	ret = pre_nl_reply_state(info, pd, PRENGINE_CMD_GET_STATE, NULL);
	pre_dev_put(pd);
	return ret;
}

static int pre_nl_get_state_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct pre_dev *pd;
	u32 i;
	void *hdr;

	for (i = cb->args[0]; (pd = pre_dev_get_by_index(i)); i++) {
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
				  &pre_genl_family, NLM_F_MULTI, PRENGINE_CMD_GET_STATE);
		if (!hdr || pre_nl_put_state(skb, pd)) {
			if (hdr)
				genlmsg_cancel(skb, hdr);
			pre_dev_put(pd);
			break;
		}
		genlmsg_end(skb, hdr);
		pre_dev_put(pd);
	}
	cb->args[0] = i;
	return skb->len;
}

static int pre_nl_set_state_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct pre_dev *pd;
	int ret;

	if (GENL_REQ_ATTR_CHECK(info, PRENGINE_A_STATE))
		return -EINVAL;
	pd = pre_nl_engine(info);
	if (IS_ERR(pd))
		return PTR_ERR(pd);
	ret = pre_set_state(pd, nla_get_u32(info->attrs[PRENGINE_A_STATE]), info->extack);
	if (!ret)
		ret = pre_nl_reply_state(info, pd, PRENGINE_CMD_SET_STATE, NULL);
	pre_dev_put(pd);
	return ret;
}

static int pre_nl_lockdown_doit(struct sk_buff *skb, struct genl_info *info)
{
	u32 state = PRENGINE_STATE_DELETED, flags = 0, flushed = 0;
	struct pre_dev *pd;
	int ret;

	if (info->attrs[PRENGINE_A_STATE])
		state = nla_get_u32(info->attrs[PRENGINE_A_STATE]);
	if (info->attrs[PRENGINE_A_LOCKDOWN_FLAGS])
		flags = nla_get_u32(info->attrs[PRENGINE_A_LOCKDOWN_FLAGS]);
	pd = pre_nl_engine(info);
	if (IS_ERR(pd))
		return PTR_ERR(pd);
	ret = pre_lockdown(pd, state, flags, &flushed, info->extack);
	if (!ret)
		ret = pre_nl_reply_state(info, pd, PRENGINE_CMD_LOCKDOWN, &flushed);
	pre_dev_put(pd);
	return ret;
}

/*
 * One message per job: the active jobs in declaration order, then the
 * completed ones oldest first.  cb->args[0] is the engine (+1 once known),
 * cb->args[1] how many jobs were sent.
 */
static int pre_nl_list_jobs_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct nlattr **attrs = pre_dump_attrs(cb);
	struct list_head *lists[2];
	struct pre_job *job;
	struct pre_dev *pd;
	long idx = 0, skip = cb->args[1];
	void *hdr;
	int l, ret = 0;

	if (!cb->args[0]) {
		if (!attrs[PRENGINE_A_ENGINE]) {
			NL_SET_ERR_MSG(cb->extack, "missing engine attribute");
			return -EINVAL;
		}
		cb->args[0] = nla_get_u32(attrs[PRENGINE_A_ENGINE]) + 1;
	}
	pd = pre_dev_get_by_index(cb->args[0] - 1);
	if (!pd) {
		NL_SET_ERR_MSG(cb->extack, "no such engine");
		return -ENODEV;
	}

	lists[0] = &pd->jobs;
	lists[1] = &pd->history;
	mutex_lock(&pd->lock);
	for (l = 0; l < 2 && !ret; l++) {
		list_for_each_entry(job, lists[l], node) {
			if (idx++ < skip)
				continue;
			hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
					  &pre_genl_family, NLM_F_MULTI, PRENGINE_CMD_LIST_JOBS);
			if (!hdr || nla_put_u32(skb, PRENGINE_A_ENGINE, pd->index) ||
			    pre_nl_put_job(skb, job)) {
				if (hdr)
					genlmsg_cancel(skb, hdr);
				idx--;
				ret = -EMSGSIZE;
				break;
			}
			genlmsg_end(skb, hdr);
		}
	}
	mutex_unlock(&pd->lock);
	pre_dev_put(pd);
	cb->args[1] = idx;
	return skb->len;
}

static const struct genl_ops pre_genl_ops[] = {
	{
		.cmd		= PRENGINE_CMD_GET_STATE,
		.doit		= pre_nl_get_state_doit,
		.dumpit		= pre_nl_get_state_dumpit,
		.policy		= pre_engine_policy,
		.maxattr	= PRENGINE_A_MAX,
	},
	{
		.cmd		= PRENGINE_CMD_SET_STATE,
		.doit		= pre_nl_set_state_doit,
		.policy		= pre_set_state_policy,
		.maxattr	= PRENGINE_A_MAX,
		.flags		= GENL_ADMIN_PERM,
	},
	{
		.cmd		= PRENGINE_CMD_LOCKDOWN,
		.doit		= pre_nl_lockdown_doit,
		.policy		= pre_lockdown_policy,
		.maxattr	= PRENGINE_A_MAX,
		.flags		= GENL_ADMIN_PERM,
	},
	{
		.cmd		= PRENGINE_CMD_LIST_JOBS,
		.dumpit		= pre_nl_list_jobs_dumpit,
		.policy		= pre_engine_policy,
		.maxattr	= PRENGINE_A_MAX,
	},
};

static const struct genl_multicast_group pre_mcgrps[] = {
	{ .name = PRENGINE_GENL_MCGRP_EVENTS },
};

static struct genl_family pre_genl_family __ro_after_init = {
	.name		= PRENGINE_GENL_NAME,
	.version	= PRENGINE_GENL_VERSION,
	.maxattr	= PRENGINE_A_MAX,
	.module		= THIS_MODULE,
	.ops		= pre_genl_ops,
	.n_ops		= ARRAY_SIZE(pre_genl_ops),
	/*
	 * resv_start_op stays 0, as for any new family: every command has a
	 * policy and a reserved header field that must be 0.
	 */
	.mcgrps		= pre_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(pre_mcgrps),
};

/*
 * A new event message @cmd about @pd, or NULL when nobody listens (or
 * memory is short: events are best effort, the state can be re-read).
 */
static struct sk_buff *pre_nl_event_new(struct pre_dev *pd, u8 cmd, void **hdr)
{
	struct sk_buff *msg;

	if (!genl_has_listeners(&pre_genl_family, &init_net, 0))
		return NULL;
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return NULL;
	*hdr = genlmsg_put(msg, 0, 0, &pre_genl_family, 0, cmd);
	if (!*hdr || nla_put_u32(msg, PRENGINE_A_ENGINE, pd->index)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

static void pre_nl_event_send(struct sk_buff *msg, void *hdr)
{
	genlmsg_end(msg, hdr);
	genlmsg_multicast(&pre_genl_family, msg, 0, 0, GFP_KERNEL);
}

/* Called with pd->lock held, so events leave in the order things happened. */
void pre_nl_job_event(struct pre_dev *pd, u8 cmd, const struct pre_job *job)
{
	struct sk_buff *msg;
	void *hdr;

	msg = pre_nl_event_new(pd, cmd, &hdr);
	if (!msg)
		return;
	if (pre_nl_put_job(msg, job)) {
		nlmsg_free(msg);
		return;
	}
	pre_nl_event_send(msg, hdr);
}

void pre_nl_state_event(struct pre_dev *pd, u32 old_state)
{
	struct sk_buff *msg;
	void *hdr;

	msg = pre_nl_event_new(pd, PRENGINE_CMD_STATE_CHANGED, &hdr);
	if (!msg)
		return;
	if (nla_put_u32(msg, PRENGINE_A_STATE, pd->state) ||
	    nla_put_u32(msg, PRENGINE_A_OLD_STATE, old_state) ||
	    nla_put_u8(msg, PRENGINE_A_CLOUD_LOCKED, pre_cloud_locked_locked(pd))) {
		nlmsg_free(msg);
		return;
	}
	pre_nl_event_send(msg, hdr);
}

void pre_nl_status_event(struct pre_dev *pd)
{
	struct sk_buff *msg;
	void *hdr;

	msg = pre_nl_event_new(pd, PRENGINE_CMD_ENGINE_STATUS, &hdr);
	if (!msg)
		return;
	if (nla_put_u32(msg, PRENGINE_A_ENGINE_STATUS, pre_engine_status_locked(pd))) {
		nlmsg_free(msg);
		return;
	}
	pre_nl_event_send(msg, hdr);
}

int pre_netlink_init(void)
{
	return genl_register_family(&pre_genl_family);
}

void pre_netlink_exit(void)
{
	genl_unregister_family(&pre_genl_family);
}
