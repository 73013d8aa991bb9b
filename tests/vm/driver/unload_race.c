// SPDX-License-Identifier: GPL-2.0
/*
 * Unload race: while rmmod runs, hammer every entry point that kicks the
 * engine (genl SET_STATE and LOCKDOWN, sysfs "state", debugfs "speed_bps"
 * and "fault").  A kick that lands after the engine was stopped re-arms
 * its delayed work, which then runs on a freed device, in module text that
 * is being freed.  If it runs after the text is gone the guest oopses and
 * vm-run exits 125; mostly it runs a little earlier, while the module is
 * between its exit function and being freed, with nothing to show for it
 * on a kernel without KASAN.  So tracing watches the engine's work: a
 * kprobe on cancel_delayed_work_sync() and the workqueue tracepoints for
 * pre_sim_work.  The work queued again after its last cancel, or queued or
 * run after the kernel's module_free event (the module being freed), is a failure.
 *
 * Usage: unload_race MODULE.ko ROUNDS [SEED]   (TAP on stdout)
 * Each round loads the module with 16 engines, starts one process per
 * entry point on the last engine (the one whose entry points are removed
 * last, so the window is widest), waits a random 0-30 ms, unloads
 * (retrying while an open debugfs file holds the module), keeps going
 * 50 ms so that a stray work item gets to run, then stops them.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "prtest.h"

#define NWORKERS	5
#define ENGINE		15
#define SYSFS		"/sys/class/prengine/prengine15/"
#define DEBUGFS		"/sys/kernel/debug/prengine/prengine15/"
#define TRACING		"/sys/kernel/debug/tracing/"

static char work_addr[32];	/* pre_sim_work's address, as %ps prints it unresolved */

static void msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void worker(int kind, unsigned int seed)
{
	static const char * const states[] = {
		"unregistered", "registered", "deleted", "suspended",
	};
	static const char * const faults[] = { "none", "jam", "none", "offline" };
	char v[32];

	for (;;) {
		unsigned int r = rand_r(&seed);

		switch (kind) {
		case 0: {
			struct pr_nl_attr a[] = {
				{ .type = PRENGINE_A_ENGINE, .u32 = ENGINE },
				{ .type = PRENGINE_A_STATE, .u32 = r % 4 },
				{ 0 },
			};

			pr_nl_forget();
			pr_nl_call(PRENGINE_CMD_SET_STATE, a, NULL);
			break;
		}
		case 1: {
			struct pr_nl_attr a[] = {
				{ .type = PRENGINE_A_ENGINE, .u32 = ENGINE },
				{ 0 },
			};

			pr_nl_forget();
			pr_nl_call(PRENGINE_CMD_LOCKDOWN, a, NULL);
			break;
		}
		case 2:
			pr_sysfs_write(SYSFS "state", states[r % 4]);
			break;
		case 3:
			/* Non-zero: the kick arms the delayed work (one tick away). */
			snprintf(v, sizeof(v), "%u", 1 + r % 1000000);
			pr_sysfs_write(DEBUGFS "speed_bps", v);
			break;
		default:
			pr_sysfs_write(DEBUGFS "fault", faults[r % 4]);
			break;
		}
	}
}

/* Find pre_sim_work in /proc/kallsyms and trace its queueing and runs. */
static int trace_start(void)
{
	static const char * const evs[] = {
		"workqueue/workqueue_queue_work", "workqueue/workqueue_execute_start",
	};
	char line[256], path[128], filt[64];
	unsigned long long a = 0;
	FILE *f = fopen("/proc/kallsyms", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, " pre_sim_work\t[prengine]")) {
			a = strtoull(line, NULL, 16);
			break;
		}
	fclose(f);
	if (!a)
		return -1;
	snprintf(work_addr, sizeof(work_addr), "0x%llx", a);
	pr_sysfs_write(TRACING "tracing_on", "0");
	close(open(TRACING "trace", O_WRONLY | O_TRUNC));
	snprintf(filt, sizeof(filt), "function == %s", work_addr);
	for (unsigned int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), TRACING "events/%s/filter", evs[i]);
		pr_sysfs_write(path, filt);	/* less noise; the match below decides */
		snprintf(path, sizeof(path), TRACING "events/%s/enable", evs[i]);
		if (pr_sysfs_write(path, "1"))
			return -1;
	}
	if (pr_sysfs_write(TRACING "events/module/module_free/enable", "1") ||
	    pr_sysfs_write(TRACING "events/prengine_race/cancel/enable", "1"))
		return -1;
	return pr_sysfs_write(TRACING "tracing_on", "1");
}

/* The hex number after @key in @line, or 0. */
static unsigned long long field(const char *line, const char *key)
{
	const char *p = strstr(line, key);

	return p ? strtoull(p + strlen(key), NULL, 16) : 0;
}

/*
 * How many times the work was queued after it had been cancelled, or
 * queued or run after the module was freed.
 */
static int trace_strays(void)
{
	unsigned long long cancelled[64], w;
	unsigned int ncancelled = 0, i;
	char line[512];
	bool freed = false;
	int strays = 0;
	FILE *f;

	pr_sysfs_write(TRACING "tracing_on", "0");
	f = fopen(TRACING "trace", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#')
			continue;
		if (strstr(line, "module_free:")) {
			freed = true;
			continue;
		}
		w = field(line, " work=");
		if (strstr(line, "cancel: (cancel_delayed_work_sync") && w) {
			if (ncancelled < 64)
				cancelled[ncancelled++] = w;
			continue;
		}
		w = field(line, "work struct=");
		for (i = 0; w && i < ncancelled; i++)
			if (cancelled[i] == w && strstr(line, "workqueue_queue_work")) {
				if (!strays)
					printf("# queued after it was cancelled: %s", line);
				strays++;
				break;
			}
		if (i < ncancelled)
			continue;
		if (freed && (strstr(line, work_addr) || strstr(line, "pre_sim_work"))) {
			if (!strays)
				printf("# after module_free: %s", line);
			strays++;
		}
	}
	fclose(f);
	return freed ? strays : -1;
}

/* insmod and rmmod without a shell: the guest is slow to start programs. */
static int load(int fd)
{
	return syscall(SYS_finit_module, fd, "engines=16 speed_bps=1000", 0) ? -errno : 0;
}

static int unload(void)
{
	return syscall(SYS_delete_module, "prengine", O_NONBLOCK) ? -errno : 0;
}

int main(int argc, char **argv)
{
	unsigned int seed, rounds, round, unloaded = 0, tries, strays = 0;
	int n;
	pid_t pids[NWORKERS];
	int ko;

	if (argc < 3) {
		fprintf(stderr, "usage: %s MODULE.ko ROUNDS [SEED]\n", argv[0]);
		return 2;
	}
	rounds = strtoul(argv[2], NULL, 0);
	seed = argc > 3 ? strtoul(argv[3], NULL, 0) : (unsigned int)time(NULL);
	printf("# unload_race: seed %u, %u rounds\n", seed, rounds);
	fflush(stdout);
	srand(seed);
	/* Real addresses in the trace, and every cancel of a delayed work. */
	pr_sysfs_write(TRACING "options/hash-ptr", "0");
	pr_sysfs_write(TRACING "kprobe_events",
		       "p:prengine_race/cancel cancel_delayed_work_sync work=%di:x64");
	ko = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (ko < 0) {
		printf("not ok 1 - open %s: %m\n1..1\n", argv[1]);
		return 1;
	}

	for (round = 0; round < rounds; round++) {
		if (load(ko)) {
			printf("not ok 1 - round %u: insmod failed\n1..1\n", round);
			return 1;
		}
		if (trace_start()) {
			printf("not ok 1 - round %u: cannot trace pre_sim_work\n1..1\n", round);
			return 1;
		}
		for (int i = 0; i < NWORKERS; i++) {
			unsigned int s = seed + round * NWORKERS + i;

			pids[i] = fork();
			if (pids[i] == 0)
				worker(i, s);
		}
		msleep(rand() % 30);
		/* An open debugfs file pins the module for a moment: retry. */
		for (tries = 0; tries < 1000 && unload(); tries++)
			msleep(1);
		if (tries < 1000)
			unloaded++;
		msleep(50);
		for (int i = 0; i < NWORKERS; i++)
			kill(pids[i], SIGKILL);
		for (int i = 0; i < NWORKERS; i++)
			waitpid(pids[i], NULL, 0);
		if (tries >= 1000) {
			printf("not ok 1 - round %u: rmmod kept failing\n1..1\n", round);
			return 1;
		}
		n = trace_strays();
		if (n < 0) {
			printf("not ok 1 - round %u: no module_free event traced\n1..1\n", round);
			return 1;
		}
		if (n)
			printf("# round %u: engine work queued %d times after its cancel or module_free\n",
			       round, n);
		strays += n;
	}
	/* Let any work item still queued run before the guest's log is read. */
	msleep(200);
	printf("%s 1 - %u of %u unloads raced against genl, sysfs and debugfs kicks: the engine work was queued %u times after its cancel or module_free (seed %u)\n",
	       strays ? "not ok" : "ok", unloaded, rounds, strays, seed);
	printf("1..1\n");
	return strays ? 1 : 0;
}
