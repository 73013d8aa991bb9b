/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cloudprintd's registration state machine and deletion policies, as pure
 * functions: given a state, the user's policy and an event, say the next
 * state and the actions to take, in the order the daemon must take them.
 * The daemon performs the actions; nothing here touches the world.
 */
#ifndef CP_POLICY_H
#define CP_POLICY_H

#include <stdbool.h>

enum cp_state {
	CP_STATE_UNREGISTERED,
	CP_STATE_REGISTERING,	/* claim pending; not a driver state */
	CP_STATE_REGISTERED,
	CP_STATE_DELETED,	/* deletion seen, waiting for `resolve` (policy ask) */
	CP_STATE_SUSPENDED,
};

enum cp_policy {
	CP_POLICY_DELETE,
	CP_POLICY_SUSPEND,
	CP_POLICY_KEEP,
	CP_POLICY_ASK,
};

enum cp_event {
	CP_EV_REGISTER,		/* the user asks to register */
	CP_EV_CLAIMED,		/* the owner claimed; credentials received */
	CP_EV_REGISTER_FAILED,
	CP_EV_DELETION,		/* a deletion was detected (and confirmed) */
	CP_EV_RESOLVE_DELETE,
	CP_EV_RESOLVE_SUSPEND,
	CP_EV_RESOLVE_KEEP,
	CP_EV_RESUME,
	CP_EV_UNREGISTER,	/* the user unregisters the printer */
};

/*
 * Actions, in execution order (lowest bit first).  The order is the
 * contract: the driver is locked before anything else happens (so the
 * lockdown, not a cancelled download, ends every cloud job), and the
 * credentials are durable before the driver opens the cloud channel on a
 * registration.  Leaving a deletion the user chose to keep (resume,
 * resolve keep) opens the driver first and writes the file after: a file
 * marked registered beside a locked driver means "a deletion was being
 * handled", which a restart finishes under the configured policy; the
 * other way round a restart only locks the driver again (the user resumes
 * again), and the credentials are never lost.
 */
enum cp_action {
	CP_ACT_LOCKDOWN		= 1 << 0, /* driver lockdown into the step's driver state */
	CP_ACT_STOP_CLOUD	= 1 << 1, /* cancel transfers, no more requests */
	CP_ACT_TELL_CLOUD	= 1 << 2, /* DELETE /v1/printers/{id} (printer-initiated) */
	CP_ACT_START_CLAIM	= 1 << 3, /* POST /v1/printers, then poll the claim */
	CP_ACT_OPEN_DRIVER	= 1 << 4, /* set the driver registered, before the file */
	CP_ACT_WRITE_CREDS	= 1 << 5, /* store the credentials, marked with the state */
	CP_ACT_DELETE_CREDS	= 1 << 6, /* remove the credentials file */
	CP_ACT_SET_DRIVER	= 1 << 7, /* set the driver state (no lockdown) */
	CP_ACT_START_CLOUD	= 1 << 8, /* resume polling / the event stream */
	CP_ACT_LOG_DELETION	= 1 << 9, /* policy keep: say so and carry on */
};

struct cp_step {
	enum cp_state next;
	unsigned int actions;	/* enum cp_action bits */
};

/* 0 and @out filled, or -EINVAL if @ev means nothing in @state. */
int cp_policy_step(enum cp_state state, enum cp_policy policy, enum cp_event ev,
		   struct cp_step *out);

/* The driver state (enum prengine_state) that goes with a daemon state. */
unsigned int cp_state_driver(enum cp_state s);

/* What the credentials file says, read at start-up. */
enum cp_creds_mark {
	CP_CREDS_NONE,		/* no file */
	CP_CREDS_REGISTERED,
	CP_CREDS_DELETED,
	CP_CREDS_SUSPENDED,
};

/*
 * Start-up: reconcile the driver's state (enum prengine_state; it resets
 * to unregistered when the machine reboots) with the credentials file
 * (which survives).  A crash anywhere in a transition leaves one of these
 * combinations; the result is the state to be in and the actions that
 * finish the interrupted transition.  No action here sends a request.
 */
void cp_reconcile(unsigned int driver_state, enum cp_creds_mark creds, enum cp_policy policy,
		  struct cp_step *out);

const char *cp_state_name(enum cp_state s);
const char *cp_policy_name(enum cp_policy p);
int cp_policy_parse(const char *s, enum cp_policy *out);

#endif
