// SPDX-License-Identifier: GPL-2.0
/*
 * prengine simulated engine: consumes the current job's data at a
 * configurable speed (bytes per second, 0 for unlimited, throttled by a
 * delayed work like null_blk's mbps), counts pages with a fixed page size,
 * and stops while a fault (jam, paper out, offline) is set.
 */
#include <linux/jiffies.h>
#include <linux/math64.h>
#include <linux/sched.h>

#include "prengine.h"

/* Period of the throttled engine. */
#define PRE_SIM_TICK_MS		10
/* Bytes the engine handles before it lets others have the lock. */
#define PRE_SIM_BATCH		(256 * 1024)

static void pre_sim_work(struct work_struct *work)
{
	struct pre_dev *pd = container_of(to_delayed_work(work), struct pre_dev, sim.work);
	struct pre_sim *sim = &pd->sim;
	u64 speed = READ_ONCE(sim->speed_bps);
	size_t budget, batch = 0, n;
	unsigned long now = jiffies;
	bool again = false;
	struct pre_job *job;

	if (speed) {
		/* What the elapsed time allows, at most two ticks' worth. */
		unsigned long dt = min_t(unsigned long, now - sim->last,
					 2 * msecs_to_jiffies(PRE_SIM_TICK_MS));

		/* 128-bit product: any u64 speed from debugfs is fine. */
		budget = mul_u64_u32_div(speed, jiffies_to_usecs(dt), USEC_PER_SEC);
	} else {
		budget = SIZE_MAX;
	}
	sim->last = now;

	mutex_lock(&pd->lock);
	for (;;) {
		pre_queue_pick_locked(pd);
		job = pd->current_job;
		if (!job || pd->fault || pd->dead)
			break;
		n = pre_queue_consume_locked(pd, budget);
		if (!n) {
			if (job->committed && !job->buffered && !job->reserved) {
				pre_job_end_locked(job, PRENGINE_RESULT_PRINTED, 0);
				continue;
			}
			/* Out of budget with data waiting: come back next tick. */
			again = speed && job->buffered;
			break;
		}
		budget -= n;
		batch += n;
		if (batch >= PRE_SIM_BATCH) {
			batch = 0;
			mutex_unlock(&pd->lock);
			cond_resched();
			mutex_lock(&pd->lock);
		}
	}
	mutex_unlock(&pd->lock);

	if (again)
		mod_delayed_work(system_wq, &sim->work, msecs_to_jiffies(PRE_SIM_TICK_MS));
}

static int pre_sim_init(struct pre_dev *pd)
{
	INIT_DELAYED_WORK(&pd->sim.work, pre_sim_work);
	pd->sim.page_bytes = pre_page_bytes;
	pd->sim.speed_bps = pre_speed_bps;
	pd->sim.last = jiffies;
	return 0;
}

static void pre_sim_fini(struct pre_dev *pd)
{
	cancel_delayed_work_sync(&pd->sim.work);
}

/*
 * Called by every entry point after it changed something.  Under the lock,
 * so that once pre_queue_flush_all() has marked the device dead no kick
 * can queue the work again, whichever entry point it came through; the
 * final cancel (pre_sim_fini) then leaves nothing behind.
 */
static void pre_sim_kick(struct pre_dev *pd)
{
	struct pre_sim *sim = &pd->sim;

	mutex_lock(&pd->lock);
	if (!pd->dead) {
		/* A throttled engine keeps its tick; an unlimited one runs now. */
		if (READ_ONCE(sim->speed_bps))
			queue_delayed_work(system_wq, &sim->work,
					   msecs_to_jiffies(PRE_SIM_TICK_MS));
		else
			mod_delayed_work(system_wq, &sim->work, 0);
	}
	mutex_unlock(&pd->lock);
}

const struct pre_engine_ops pre_sim_ops = {
	.init = pre_sim_init,
	.fini = pre_sim_fini,
	.kick = pre_sim_kick,
};

/* Set the fault bits (PRENGINE_STATUS_JAM, _PAPER_EMPTY, _OFFLINE; 0 clears). */
void pre_sim_set_fault(struct pre_dev *pd, u32 fault)
{
	mutex_lock(&pd->lock);
	if (pd->fault == fault) {
		mutex_unlock(&pd->lock);
		return;
	}
	pd->fault = fault;
	pre_nl_status_event(pd);
	pre_sysfs_notify(pd, "engine_status");
	mutex_unlock(&pd->lock);
	pd->ops->kick(pd);
}
