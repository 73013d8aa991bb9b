// SPDX-License-Identifier: GPL-2.0
/* Unit tests of cloudprintd's registration state machine and reconciliation. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <linux/prengine.h>

#include "policy.h"

#define U CP_STATE_UNREGISTERED
#define G CP_STATE_REGISTERING
#define R CP_STATE_REGISTERED
#define D CP_STATE_DELETED
#define S CP_STATE_SUSPENDED

#define STOP CP_ACT_STOP_CLOUD
#define LOCK CP_ACT_LOCKDOWN
#define TELL CP_ACT_TELL_CLOUD
#define CLAIM CP_ACT_START_CLAIM
#define WCRED CP_ACT_WRITE_CREDS
#define DCRED CP_ACT_DELETE_CREDS
#define DRV CP_ACT_SET_DRIVER
#define OPEN CP_ACT_OPEN_DRIVER
#define START CP_ACT_START_CLOUD
#define LOG CP_ACT_LOG_DELETION

struct row {
	enum cp_state from;
	enum cp_policy policy;
	enum cp_event ev;
	int ret;
	enum cp_state to;
	unsigned int actions;
};

static const struct row table[] = {
	{ U, CP_POLICY_DELETE, CP_EV_REGISTER, 0, G, CLAIM },
	{ G, CP_POLICY_DELETE, CP_EV_CLAIMED, 0, R, WCRED | DRV | START },
	{ G, CP_POLICY_DELETE, CP_EV_REGISTER_FAILED, 0, U, STOP },
	{ G, CP_POLICY_ASK, CP_EV_DELETION, 0, U, STOP },
	/* Deletion detected while registered, per policy. */
	{ R, CP_POLICY_DELETE, CP_EV_DELETION, 0, U, STOP | LOCK | DCRED | DRV },
	{ R, CP_POLICY_SUSPEND, CP_EV_DELETION, 0, S, STOP | LOCK | WCRED },
	{ R, CP_POLICY_ASK, CP_EV_DELETION, 0, D, STOP | LOCK | WCRED },
	{ R, CP_POLICY_KEEP, CP_EV_DELETION, 0, R, LOG },
	/* Answers to ask. */
	{ D, CP_POLICY_ASK, CP_EV_RESOLVE_DELETE, 0, U, DCRED | DRV },
	{ D, CP_POLICY_ASK, CP_EV_RESOLVE_SUSPEND, 0, S, WCRED | DRV },
	{ D, CP_POLICY_ASK, CP_EV_RESOLVE_KEEP, 0, R, OPEN | WCRED | START },
	{ S, CP_POLICY_SUSPEND, CP_EV_RESUME, 0, R, OPEN | WCRED | START },
	/* Unregistering. */
	{ R, CP_POLICY_DELETE, CP_EV_UNREGISTER, 0, U, STOP | LOCK | TELL | DCRED },
	{ G, CP_POLICY_DELETE, CP_EV_UNREGISTER, 0, U, STOP },
	{ D, CP_POLICY_ASK, CP_EV_UNREGISTER, 0, U, DCRED | DRV },
	{ S, CP_POLICY_SUSPEND, CP_EV_UNREGISTER, 0, U, DCRED | DRV },
	/* Meaningless events are refused: never a silent re-registration. */
	{ R, CP_POLICY_DELETE, CP_EV_REGISTER, -EINVAL, R, 0 },
	{ D, CP_POLICY_ASK, CP_EV_REGISTER, -EINVAL, D, 0 },
	{ S, CP_POLICY_SUSPEND, CP_EV_REGISTER, -EINVAL, S, 0 },
	{ U, CP_POLICY_DELETE, CP_EV_DELETION, -EINVAL, U, 0 },
	{ D, CP_POLICY_ASK, CP_EV_DELETION, -EINVAL, D, 0 },
	{ S, CP_POLICY_SUSPEND, CP_EV_DELETION, -EINVAL, S, 0 },
	{ R, CP_POLICY_ASK, CP_EV_RESOLVE_KEEP, -EINVAL, R, 0 },
	{ U, CP_POLICY_ASK, CP_EV_RESOLVE_DELETE, -EINVAL, U, 0 },
	{ R, CP_POLICY_DELETE, CP_EV_RESUME, -EINVAL, R, 0 },
	{ D, CP_POLICY_ASK, CP_EV_RESUME, -EINVAL, D, 0 },
	{ U, CP_POLICY_DELETE, CP_EV_UNREGISTER, -EINVAL, U, 0 },
	{ U, CP_POLICY_DELETE, CP_EV_CLAIMED, -EINVAL, U, 0 },
	{ R, CP_POLICY_DELETE, CP_EV_CLAIMED, -EINVAL, R, 0 },
};

static void test_transition_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct row *r = &table[i];
		struct cp_step st = { .next = r->from, .actions = 0 };
		int ret = cp_policy_step(r->from, r->policy, r->ev, &st);

		if (ret != r->ret || (ret == 0 && (st.next != r->to || st.actions != r->actions)))
			fail_msg("row %zu (%s, %s, event %d): ret %d next %s actions %#x", i,
				 cp_state_name(r->from), cp_policy_name(r->policy), r->ev, ret,
				 cp_state_name(st.next), st.actions);
	}
}

/* In every policy but keep, the lockdown comes first and no cloud action follows. */
static void test_deletion_locks_down_before_anything_else(void **state)
{
	(void)state;
	for (int p = CP_POLICY_DELETE; p <= CP_POLICY_ASK; p++) {
		struct cp_step st;

		assert_int_equal(cp_policy_step(R, p, CP_EV_DELETION, &st), 0);
		if (p == CP_POLICY_KEEP)
			continue;
		assert_true(st.actions & LOCK);
		assert_true(st.actions & STOP);
		assert_false(st.actions & (START | TELL | CLAIM));
		/* Bits run in order: the lockdown is the very first action. */
		assert_int_equal(st.actions & -st.actions, LOCK);
	}
}

struct rec {
	unsigned int driver;
	enum cp_creds_mark creds;
	enum cp_policy policy;
	enum cp_state to;
	unsigned int actions;
};

static const struct rec recs[] = {
	{ PRENGINE_STATE_UNREGISTERED, CP_CREDS_NONE, CP_POLICY_DELETE, U, 0 },
	{ PRENGINE_STATE_REGISTERED, CP_CREDS_NONE, CP_POLICY_DELETE, U, LOCK | DRV },
	{ PRENGINE_STATE_DELETED, CP_CREDS_NONE, CP_POLICY_DELETE, U, LOCK | DRV },
	{ PRENGINE_STATE_SUSPENDED, CP_CREDS_NONE, CP_POLICY_SUSPEND, U, LOCK | DRV },
	/* After a reboot the driver forgets; the file remembers. */
	{ PRENGINE_STATE_UNREGISTERED, CP_CREDS_REGISTERED, CP_POLICY_DELETE, R, DRV | START },
	{ PRENGINE_STATE_REGISTERED, CP_CREDS_REGISTERED, CP_POLICY_DELETE, R, START },
	{ PRENGINE_STATE_UNREGISTERED, CP_CREDS_DELETED, CP_POLICY_ASK, D, DRV },
	{ PRENGINE_STATE_DELETED, CP_CREDS_DELETED, CP_POLICY_ASK, D, 0 },
	{ PRENGINE_STATE_REGISTERED, CP_CREDS_DELETED, CP_POLICY_ASK, D, LOCK },
	{ PRENGINE_STATE_UNREGISTERED, CP_CREDS_SUSPENDED, CP_POLICY_SUSPEND, S, DRV },
	{ PRENGINE_STATE_REGISTERED, CP_CREDS_SUSPENDED, CP_POLICY_SUSPEND, S, LOCK },
	/* Crashed after the lockdown, before the file changed: finish the policy. */
	{ PRENGINE_STATE_DELETED, CP_CREDS_REGISTERED, CP_POLICY_DELETE, U, LOCK | DCRED | DRV },
	{ PRENGINE_STATE_DELETED, CP_CREDS_REGISTERED, CP_POLICY_ASK, D, LOCK | WCRED },
	{ PRENGINE_STATE_SUSPENDED, CP_CREDS_REGISTERED, CP_POLICY_SUSPEND, S, LOCK | WCRED },
	/* Policy keep: carry on. */
	{ PRENGINE_STATE_DELETED, CP_CREDS_REGISTERED, CP_POLICY_KEEP, R, DRV | START },
};

static void test_reconcile_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
		struct cp_step st;

		cp_reconcile(recs[i].driver, recs[i].creds, recs[i].policy, &st);
		if (st.next != recs[i].to || st.actions != recs[i].actions)
			fail_msg("row %zu: got %s %#x, want %s %#x", i, cp_state_name(st.next),
				 st.actions, cp_state_name(recs[i].to), recs[i].actions);
		/* Reconciliation never contacts the cloud on its own. */
		assert_false(st.actions & (TELL | CLAIM));
	}
}

static enum cp_creds_mark mark_of(enum cp_state s)
{
	return s == R ? CP_CREDS_REGISTERED : s == D ? CP_CREDS_DELETED :
	       s == S ? CP_CREDS_SUSPENDED : CP_CREDS_NONE;
}

/*
 * A crash after any action of a transition that keeps the credentials
 * (resume, resolve keep, resolve suspend) leaves a driver state and a file
 * that a restart, under any configured policy, reconciles to the state
 * before or after the transition, never deleting the credentials.  The
 * actions run lowest bit first, as the daemon runs them.
 */
static void test_crash_in_a_kept_transition_keeps_the_credentials(void **state)
{
	static const struct {
		enum cp_state from;
		enum cp_event ev;
	} keep[] = {
		{ S, CP_EV_RESUME },
		{ D, CP_EV_RESOLVE_KEEP },
		{ D, CP_EV_RESOLVE_SUSPEND },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		struct cp_step st;
		unsigned int driver = cp_state_driver(keep[i].from);
		enum cp_creds_mark creds = mark_of(keep[i].from);

		assert_int_equal(cp_policy_step(keep[i].from, CP_POLICY_ASK, keep[i].ev, &st), 0);
		for (unsigned int bit = 1; bit && bit <= st.actions; bit <<= 1) {
			if (!(st.actions & bit))
				continue;
			if (bit == CP_ACT_WRITE_CREDS)
				creds = mark_of(st.next);
			if (bit == CP_ACT_SET_DRIVER || bit == CP_ACT_OPEN_DRIVER)
				driver = cp_state_driver(st.next);
			for (int p = CP_POLICY_DELETE; p <= CP_POLICY_ASK; p++) {
				struct cp_step rec;

				cp_reconcile(driver, creds, p, &rec);
				if ((rec.actions & DCRED) ||
				    (rec.next != keep[i].from && rec.next != st.next))
					fail_msg("%s -> %s, crash after action %#x, policy %s: "
						 "restart goes to %s with actions %#x",
						 cp_state_name(keep[i].from), cp_state_name(st.next),
						 bit, cp_policy_name(p), cp_state_name(rec.next),
						 rec.actions);
			}
		}
	}
}

static void test_names_and_parse(void **state)
{
	enum cp_policy p;

	(void)state;
	assert_int_equal(cp_policy_parse("ask", &p), 0);
	assert_int_equal(p, CP_POLICY_ASK);
	assert_int_equal(cp_policy_parse("Ask", &p), -EINVAL);
	assert_int_equal(cp_policy_parse("", &p), -EINVAL);
	assert_string_equal(cp_state_name(D), "deleted");
	assert_int_equal(cp_state_driver(G), PRENGINE_STATE_UNREGISTERED);
	assert_int_equal(cp_state_driver(S), PRENGINE_STATE_SUSPENDED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transition_table),
		cmocka_unit_test(test_deletion_locks_down_before_anything_else),
		cmocka_unit_test(test_reconcile_table),
		cmocka_unit_test(test_crash_in_a_kept_transition_keeps_the_credentials),
		cmocka_unit_test(test_names_and_parse),
	};
	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
