// SPDX-License-Identifier: GPL-2.0
/* cloudprintd's registration state machine; see policy.h and docs/helper.md. */
#include <errno.h>
#include <string.h>

#include <linux/prengine.h>

#include "policy.h"

static void step(struct cp_step *out, enum cp_state next, unsigned int actions)
{
	out->next = next;
	out->actions = actions;
}

static int on_deletion(enum cp_state state, enum cp_policy policy, struct cp_step *out)
{
	switch (state) {
	case CP_STATE_REGISTERING:
		/* The registration was deleted before the claim finished. */
		step(out, CP_STATE_UNREGISTERED, CP_ACT_STOP_CLOUD);
		return 0;
	case CP_STATE_REGISTERED:
		break;
	case CP_STATE_UNREGISTERED:
	case CP_STATE_DELETED:
	case CP_STATE_SUSPENDED:
		return -EINVAL;
	}

	switch (policy) {
	case CP_POLICY_DELETE:
		/* Lock into "deleted" first, then forget, then unregistered. */
		step(out, CP_STATE_UNREGISTERED, CP_ACT_STOP_CLOUD | CP_ACT_LOCKDOWN |
		     CP_ACT_DELETE_CREDS | CP_ACT_SET_DRIVER);
		return 0;
	case CP_POLICY_SUSPEND:
		step(out, CP_STATE_SUSPENDED, CP_ACT_STOP_CLOUD | CP_ACT_LOCKDOWN |
		     CP_ACT_WRITE_CREDS);
		return 0;
	case CP_POLICY_ASK:
		step(out, CP_STATE_DELETED, CP_ACT_STOP_CLOUD | CP_ACT_LOCKDOWN |
		     CP_ACT_WRITE_CREDS);
		return 0;
	case CP_POLICY_KEEP:
		step(out, CP_STATE_REGISTERED, CP_ACT_LOG_DELETION);
		return 0;
	}
	return -EINVAL;
}

int cp_policy_step(enum cp_state state, enum cp_policy policy, enum cp_event ev,
		   struct cp_step *out)
{
	switch (ev) {
	case CP_EV_REGISTER:
		if (state != CP_STATE_UNREGISTERED)
			return -EINVAL;
		step(out, CP_STATE_REGISTERING, CP_ACT_START_CLAIM);
		return 0;
	case CP_EV_CLAIMED:
		if (state != CP_STATE_REGISTERING)
			return -EINVAL;
		/* Credentials durable before the channel opens. */
		step(out, CP_STATE_REGISTERED, CP_ACT_WRITE_CREDS | CP_ACT_SET_DRIVER |
		     CP_ACT_START_CLOUD);
		return 0;
	case CP_EV_REGISTER_FAILED:
		if (state != CP_STATE_REGISTERING)
			return -EINVAL;
		step(out, CP_STATE_UNREGISTERED, CP_ACT_STOP_CLOUD);
		return 0;
	case CP_EV_DELETION:
		return on_deletion(state, policy, out);
	case CP_EV_RESOLVE_DELETE:
		if (state != CP_STATE_DELETED)
			return -EINVAL;
		step(out, CP_STATE_UNREGISTERED, CP_ACT_DELETE_CREDS | CP_ACT_SET_DRIVER);
		return 0;
	case CP_EV_RESOLVE_SUSPEND:
		if (state != CP_STATE_DELETED)
			return -EINVAL;
		step(out, CP_STATE_SUSPENDED, CP_ACT_WRITE_CREDS | CP_ACT_SET_DRIVER);
		return 0;
	case CP_EV_RESOLVE_KEEP:
		if (state != CP_STATE_DELETED)
			return -EINVAL;
		/* Driver first: see enum cp_action. */
		step(out, CP_STATE_REGISTERED, CP_ACT_OPEN_DRIVER | CP_ACT_WRITE_CREDS |
		     CP_ACT_START_CLOUD);
		return 0;
	case CP_EV_RESUME:
		if (state != CP_STATE_SUSPENDED)
			return -EINVAL;
		step(out, CP_STATE_REGISTERED, CP_ACT_OPEN_DRIVER | CP_ACT_WRITE_CREDS |
		     CP_ACT_START_CLOUD);
		return 0;
	case CP_EV_UNREGISTER:
		switch (state) {
		case CP_STATE_REGISTERED:
			/* Tell the cloud, then forget locally. */
			step(out, CP_STATE_UNREGISTERED, CP_ACT_STOP_CLOUD | CP_ACT_LOCKDOWN |
			     CP_ACT_TELL_CLOUD | CP_ACT_DELETE_CREDS);
			return 0;
		case CP_STATE_REGISTERING:
			step(out, CP_STATE_UNREGISTERED, CP_ACT_STOP_CLOUD);
			return 0;
		case CP_STATE_DELETED:
		case CP_STATE_SUSPENDED:
			/* The registration is gone or silent: nothing to tell. */
			step(out, CP_STATE_UNREGISTERED, CP_ACT_DELETE_CREDS | CP_ACT_SET_DRIVER);
			return 0;
		case CP_STATE_UNREGISTERED:
			return -EINVAL;
		}
		return -EINVAL;
	}
	return -EINVAL;
}

unsigned int cp_state_driver(enum cp_state s)
{
	switch (s) {
	case CP_STATE_UNREGISTERED:
	case CP_STATE_REGISTERING:
		return PRENGINE_STATE_UNREGISTERED;
	case CP_STATE_REGISTERED:
		return PRENGINE_STATE_REGISTERED;
	case CP_STATE_DELETED:
		return PRENGINE_STATE_DELETED;
	case CP_STATE_SUSPENDED:
		return PRENGINE_STATE_SUSPENDED;
	}
	return PRENGINE_STATE_UNREGISTERED;
}

void cp_reconcile(unsigned int driver_state, enum cp_creds_mark creds, enum cp_policy policy,
		  struct cp_step *out)
{
	bool locked_by_deletion = driver_state == PRENGINE_STATE_DELETED ||
				  driver_state == PRENGINE_STATE_SUSPENDED;

	switch (creds) {
	case CP_CREDS_NONE:
		/* Nothing to be registered with: the driver must agree. */
		step(out, CP_STATE_UNREGISTERED,
		     driver_state == PRENGINE_STATE_UNREGISTERED ? 0 :
		     CP_ACT_LOCKDOWN | CP_ACT_SET_DRIVER);
		return;
	case CP_CREDS_REGISTERED:
		if (locked_by_deletion) {
			/*
			 * A deletion was being handled when we stopped: the
			 * driver is locked, the file not yet updated.  Finish
			 * what the policy says, without asking the cloud again.
			 */
			if (on_deletion(CP_STATE_REGISTERED, policy, out) == 0 &&
			    policy != CP_POLICY_KEEP) {
				out->actions &= ~CP_ACT_STOP_CLOUD;
				return;
			}
		}
		step(out, CP_STATE_REGISTERED,
		     (driver_state == PRENGINE_STATE_REGISTERED ? 0 : CP_ACT_SET_DRIVER) |
		     CP_ACT_START_CLOUD);
		return;
	case CP_CREDS_DELETED:
		step(out, CP_STATE_DELETED, driver_state == PRENGINE_STATE_DELETED ? 0 :
		     driver_state == PRENGINE_STATE_REGISTERED ? CP_ACT_LOCKDOWN :
		     CP_ACT_SET_DRIVER);
		return;
	case CP_CREDS_SUSPENDED:
		step(out, CP_STATE_SUSPENDED, driver_state == PRENGINE_STATE_SUSPENDED ? 0 :
		     driver_state == PRENGINE_STATE_REGISTERED ? CP_ACT_LOCKDOWN :
		     CP_ACT_SET_DRIVER);
		return;
	}
	step(out, CP_STATE_UNREGISTERED, 0);
}

const char *cp_state_name(enum cp_state s)
{
	switch (s) {
	case CP_STATE_UNREGISTERED:
		return "unregistered";
	case CP_STATE_REGISTERING:
		return "registering";
	case CP_STATE_REGISTERED:
		return "registered";
	case CP_STATE_DELETED:
		return "deleted";
	case CP_STATE_SUSPENDED:
		return "suspended";
	}
	return "?";
}

static const char *const policy_names[] = {
	[CP_POLICY_DELETE] = "delete",
	[CP_POLICY_SUSPEND] = "suspend",
	[CP_POLICY_KEEP] = "keep",
	[CP_POLICY_ASK] = "ask",
};

const char *cp_policy_name(enum cp_policy p)
{
	return (unsigned int)p < sizeof(policy_names) / sizeof(policy_names[0]) ?
	       policy_names[p] : "?";
}

int cp_policy_parse(const char *s, enum cp_policy *out)
{
	for (unsigned int i = 0; i < sizeof(policy_names) / sizeof(policy_names[0]); i++) {
		if (!strcmp(s, policy_names[i])) {
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
}
