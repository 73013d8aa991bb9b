// SPDX-License-Identifier: GPL-2.0
/*
 * prengine guest tests: run as root inside the VM with the module loaded
 * (tests/vm/driver/run does that).  Each test starts from a clean engine:
 * state unregistered, no fault, unlimited speed, empty queue.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../lib/tap.h"
#include "prtest.h"

#include <linux/genetlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#define MiB (1024 * 1024)

static void reset_engine(void)
{
	struct prengine_state_info st;
	int fd, i;

	CHECK(pr_fault("none") == 0, "clear fault: %m");
	CHECK(pr_speed(0) == 0, "speed 0: %m");
	fd = open(PR_DEV, O_RDWR);
	CHECK(fd >= 0, "open: %m");
	CHECK(ioctl(fd, PRENGINE_IOC_GET_STATE, &st) == 0, "GET_STATE: %m");
	if (st.state != PRENGINE_STATE_UNREGISTERED)
		CHECK(pr_set_state(PRENGINE_STATE_UNREGISTERED) == 0, "to unregistered");
	for (i = 0; i < 500 && pr_sysfs_long("queue_depth") != 0; i++)
		usleep(10000);
	CHECK(pr_sysfs_long("queue_depth") == 0, "queue did not drain");
	close(fd);
}

/* Submit one whole job from a fresh file; returns its id. */
static uint64_t submit(uint32_t source, const char *cloud_id, const void *buf, size_t len)
{
	int fd = open(PR_DEV, O_WRONLY);
	uint64_t id;

	CHECK(fd >= 0, "open: %m");
	id = pr_declare(fd, source, 0, 0, "job", cloud_id);
	CHECK(id, "declare source %u: %m", source);
	CHECK(pr_write_all(fd, buf, len) == 0, "write: %m");
	CHECK(ioctl(fd, PRENGINE_IOC_COMMIT_JOB) == 0, "commit: %m");
	close(fd);
	return id;
}

static void expect_printed(uint64_t id, const void *buf, size_t len)
{
	struct prengine_job_info info;
	int fd = open(PR_DEV, O_RDONLY);

	CHECK(fd >= 0, "open: %m");
	CHECK(pr_wait_job(fd, id, &info, 60000) == 0, "job %llu did not complete",
	      (unsigned long long)id);
	CHECK(info.result == PRENGINE_RESULT_PRINTED, "job %llu result %u",
	      (unsigned long long)id, info.result);
	CHECK(info.bytes == len && info.printed == len, "job %llu: %llu/%llu bytes, want %zu",
	      (unsigned long long)id, (unsigned long long)info.bytes,
	      (unsigned long long)info.printed, len);
	CHECK(info.crc32 == pr_crc32(0, buf, len), "job %llu crc %08x want %08x",
	      (unsigned long long)id, info.crc32, pr_crc32(0, buf, len));
	close(fd);
}

TEST_TIMEOUT(round_trip_concurrent_writers_all_sources, 300)
{
	enum { WRITERS = 8, JOBS = 3 };
	pid_t pids[WRITERS];
	int i, status;

	reset_engine();
	CHECK(pr_set_state(PRENGINE_STATE_REGISTERED) == 0, "register");
	for (i = 0; i < WRITERS; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			uint32_t source = i % __PRENGINE_SOURCE_CNT;
			char cloud_id[32];

			srand(1000 + i);
			for (int j = 0; j < JOBS; j++) {
				/* 0 bytes, a few bytes, up to 3 MiB. */
				size_t len = j == 0 && i < 2 ? (size_t)i * 7 :
					     (size_t)rand() % (3 * MiB);
				char *buf = malloc(len + 1);
				uint64_t id;

				pr_fill(buf, len, i * 100 + j);
				snprintf(cloud_id, sizeof(cloud_id), "c-%d-%d", i, j);
				id = submit(source, source == PRENGINE_SOURCE_CLOUD ?
					    cloud_id : NULL, buf, len);
				expect_printed(id, buf, len);
				free(buf);
			}
			_exit(0);
		}
	}
	for (i = 0; i < WRITERS; i++) {
		CHECK(waitpid(pids[i], &status, 0) == pids[i], "waitpid");
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d failed", i);
	}
	tap_diag("%d writers x %d jobs, sources local/usb/network/cloud: all CRCs match",
		 WRITERS, JOBS);
}

TEST(zero_byte_job_completes_with_crc_zero)
{
	reset_engine();
	expect_printed(submit(PRENGINE_SOURCE_LOCAL, NULL, "", 0), "", 0);
}

TEST_TIMEOUT(lockdown_under_load_flushes_exactly_the_cloud_jobs, 180)
{
	enum { NCLOUD = 3, NLOCAL = 3 };
	static char cloud_data[NCLOUD][64 * 1024], local_data[NLOCAL][300 * 1024];
	uint64_t cloud_ids[NCLOUD + 1], local_ids[NLOCAL];
	struct pr_nl_reply rep, ev;
	struct pr_listener *l;
	int pipefd[2], i, status, seen = 0, state_events = 0;
	uint64_t writer_id = 0;
	pid_t writer;
	struct pr_nl_attr ld[] = {
		{ .type = PRENGINE_A_ENGINE, .u32 = 0 },
		{ .type = PRENGINE_A_STATE, .u32 = PRENGINE_STATE_DELETED },
		{ 0 },
	};

	reset_engine();
	CHECK(pr_set_state(PRENGINE_STATE_REGISTERED) == 0, "register");
	/* A jammed engine keeps everything queued. */
	CHECK(pr_fault("jam") == 0, "jam: %m");
	l = pr_listen();
	CHECK(l, "subscribe to the events group");

	for (i = 0; i < NCLOUD; i++) {
		char id[16];

		snprintf(id, sizeof(id), "cloud-%d", i);
		pr_fill(cloud_data[i], sizeof(cloud_data[i]), 10 + i);
		cloud_ids[i] = submit(PRENGINE_SOURCE_CLOUD, id, cloud_data[i],
				      sizeof(cloud_data[i]));
	}
	for (i = 0; i < NLOCAL; i++) {
		pr_fill(local_data[i], sizeof(local_data[i]), 20 + i);
		local_ids[i] = submit(i ? PRENGINE_SOURCE_USB : PRENGINE_SOURCE_LOCAL, NULL,
				      local_data[i], sizeof(local_data[i]));
	}

	/* A cloud writer that sends more than the spool holds: it blocks. */
	CHECK(pipe(pipefd) == 0, "pipe");
	writer = fork();
	if (writer == 0) {
		size_t len = 16 * MiB;
		char *buf = malloc(len);
		int fd = open(PR_DEV, O_WRONLY);
		uint64_t id = pr_declare(fd, PRENGINE_SOURCE_CLOUD, 0, 0, "big", "cloud-big");
		ssize_t n;
		size_t off = 0;
		int err;

		if (write(pipefd[1], &id, sizeof(id)) != sizeof(id))
			_exit(10);
		memset(buf, 'x', len);
		for (;;) {
			n = write(fd, buf + off, len - off);
			if (n < 0)
				break;
			off += n;
			if (off == len)
				_exit(11);	/* should never have fitted */
		}
		err = errno;
		_exit(err == EKEYREVOKED ? 0 : 12);
	}
	CHECK(read(pipefd[0], &writer_id, sizeof(writer_id)) == sizeof(writer_id), "writer id");
	CHECK(writer_id, "the writer's declaration failed");
	cloud_ids[NCLOUD] = writer_id;
	/* Let the writer fill the spool and block. */
	for (i = 0; i < 100; i++) {
		struct prengine_job_info info;
		int fd = open(PR_DEV, O_RDONLY);

		pr_job_info(fd, writer_id, &info);
		close(fd);
		if (info.bytes > 0)
			break;
		usleep(20000);
	}
	usleep(200000);
	CHECK(waitpid(writer, &status, WNOHANG) == 0, "the writer should be blocked");

	/* Drain the events so far (queued). */
	while (pr_listen_next(l, &ev, 100) == 1)
		;

	CHECK(pr_nl_call(PRENGINE_CMD_LOCKDOWN, ld, &rep) == 0, "lockdown");
	CHECK(rep.has_flushed && rep.flushed == NCLOUD + 1, "flushed %u, want %d",
	      rep.flushed, NCLOUD + 1);
	CHECK(rep.state == PRENGINE_STATE_DELETED, "state %u after lockdown", rep.state);

	/* The listener hears about each cloud job, and nothing else is flushed. */
	while (pr_listen_next(l, &ev, 1000) == 1) {
		if (ev.cmd == PRENGINE_CMD_STATE_CHANGED) {
			state_events++;
			continue;
		}
		if (ev.cmd != PRENGINE_CMD_JOB_FLUSHED)
			continue;
		CHECK(ev.job_source == PRENGINE_SOURCE_CLOUD, "flushed a non-cloud job %llu",
		      (unsigned long long)ev.job_id);
		CHECK(ev.job_result == PRENGINE_RESULT_FLUSHED, "flushed result %u", ev.job_result);
		for (i = 0; i <= NCLOUD; i++)
			if (ev.job_id == cloud_ids[i])
				seen |= 1 << i;
	}
	CHECK(seen == (1 << (NCLOUD + 1)) - 1, "flush events seen for mask %#x", seen);
	CHECK(state_events == 1, "%d state events, want 1", state_events);

	CHECK(waitpid(writer, &status, 0) == writer, "waitpid writer");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "the blocked cloud writer did not get EKEYREVOKED (status %d)", WEXITSTATUS(status));

	CHECK(pr_fault("none") == 0, "unjam");
	for (i = 0; i < NLOCAL; i++)
		expect_printed(local_ids[i], local_data[i], sizeof(local_data[i]));

	{
		int fd = open(PR_DEV, O_WRONLY);

		CHECK_ERRNO((long)pr_declare(fd, PRENGINE_SOURCE_CLOUD, 0, 0, "late", "late") - 1,
			    EKEYREVOKED, "a cloud job after the lockdown");
		close(fd);
	}
	CHECK(pr_nl_call(PRENGINE_CMD_LOCKDOWN, ld, &rep) == 0, "second lockdown");
	CHECK(rep.has_flushed && rep.flushed == 0, "second lockdown flushed %u", rep.flushed);
	pr_listen_close(l);
}

/* A committed cloud job already on the engine: finishes, or is aborted by the flag. */
static void lockdown_with_job_on_engine(bool abort_active)
{
	static char data[256 * 1024];
	struct prengine_job_info info;
	struct prengine_lockdown ld = { .state = PRENGINE_STATE_DELETED };
	uint64_t id;
	int fd, i;

	reset_engine();
	CHECK(pr_set_state(PRENGINE_STATE_REGISTERED) == 0, "register");
	CHECK(pr_speed(256 * 1024) == 0, "slow engine");
	pr_fill(data, sizeof(data), 7);
	id = submit(PRENGINE_SOURCE_CLOUD, "on-engine", data, sizeof(data));
	fd = open(PR_DEV, O_RDWR);
	for (i = 0; i < 200; i++) {
		pr_job_info(fd, id, &info);
		if (info.printed > 0)
			break;
		usleep(5000);
	}
	CHECK(info.state == PRENGINE_JOB_PRINTING && info.printed < sizeof(data),
	      "job should be on the engine (state %u, printed %llu)", info.state,
	      (unsigned long long)info.printed);
	if (abort_active)
		ld.flags = PRENGINE_LOCKDOWN_F_ABORT_ACTIVE;
	CHECK(ioctl(fd, PRENGINE_IOC_LOCKDOWN, &ld) == 0, "lockdown ioctl: %m");
	CHECK(ld.flushed == (abort_active ? 1 : 0), "flushed %u", ld.flushed);
	CHECK(pr_speed(0) == 0, "fast");
	CHECK(pr_wait_job(fd, id, &info, 30000) == 0, "complete");
	if (abort_active) {
		CHECK(info.result == PRENGINE_RESULT_ABORTED, "result %u, want aborted", info.result);
	} else {
		CHECK(info.result == PRENGINE_RESULT_PRINTED, "result %u, want printed", info.result);
		CHECK(info.crc32 == pr_crc32(0, data, sizeof(data)), "crc");
	}
	close(fd);
}

TEST(lockdown_lets_the_job_on_the_engine_finish)
{
	lockdown_with_job_on_engine(false);
}

TEST(lockdown_abort_active_aborts_the_job_on_the_engine)
{
	lockdown_with_job_on_engine(true);
}

TEST(cloud_jobs_refused_in_every_state_but_registered)
{
	static const uint32_t path[] = {
		PRENGINE_STATE_UNREGISTERED, PRENGINE_STATE_REGISTERED,
		PRENGINE_STATE_DELETED, PRENGINE_STATE_SUSPENDED,
	};
	int fd;

	reset_engine();
	fd = open(PR_DEV, O_WRONLY);
	for (unsigned int i = 0; i < 4; i++) {
		uint64_t id;

		CHECK(pr_set_state(path[i]) == 0, "enter state %u", path[i]);
		id = pr_declare(fd, PRENGINE_SOURCE_CLOUD, 0, 0, "c", "c1");
		if (path[i] == PRENGINE_STATE_REGISTERED) {
			CHECK(id, "a cloud job is accepted when registered: %m");
			CHECK(ioctl(fd, PRENGINE_IOC_ABORT_JOB) == 0, "abort");
		} else {
			CHECK(!id && errno == EKEYREVOKED, "state %u: cloud declare gave %m", path[i]);
		}
		id = pr_declare(fd, PRENGINE_SOURCE_LOCAL, 0, 0, "l", NULL);
		CHECK(id, "a local job is accepted in state %u: %m", path[i]);
		CHECK(ioctl(fd, PRENGINE_IOC_ABORT_JOB) == 0, "abort");
	}
	CHECK(pr_sysfs_long("cloud_refused") >= 3, "cloud_refused counter");
	close(fd);
}

TEST(state_transition_table)
{
	/* allowed[from][to], the table of docs/driver.md */
	static const int allowed[4][4] = {
		/* to:  unreg reg del susp */
		[PRENGINE_STATE_UNREGISTERED] = { 1, 1, 0, 0 },
		[PRENGINE_STATE_REGISTERED]   = { 1, 1, 1, 1 },
		[PRENGINE_STATE_DELETED]      = { 1, 1, 1, 1 },
		[PRENGINE_STATE_SUSPENDED]    = { 1, 1, 0, 1 },
	};
	/* How to reach each state from unregistered. */
	static const uint32_t reach[4][3] = {
		[PRENGINE_STATE_UNREGISTERED] = { 0 },
		[PRENGINE_STATE_REGISTERED] = { PRENGINE_STATE_REGISTERED },
		[PRENGINE_STATE_DELETED] = { PRENGINE_STATE_REGISTERED, PRENGINE_STATE_DELETED },
		[PRENGINE_STATE_SUSPENDED] = { PRENGINE_STATE_REGISTERED, PRENGINE_STATE_SUSPENDED },
	};
	uint32_t from, to;

	for (from = 0; from < 4; from++) {
		for (to = 0; to < 4; to++) {
			char buf[32];
			int ret;

			reset_engine();
			for (int k = 0; k < 3 && reach[from][k]; k++)
				CHECK(pr_set_state(reach[from][k]) == 0, "reach %u", from);
			ret = pr_set_state(to);
			if (allowed[from][to]) {
				CHECK(ret == 0, "%u -> %u should be allowed, got %d", from, to, ret);
			} else {
				CHECK(ret == -EINVAL, "%u -> %u should give EINVAL, got %d",
				      from, to, ret);
			}
			CHECK(pr_sysfs_read("state", buf, sizeof(buf)) == 0, "read state");
			CHECK(strcmp(buf, (const char *[]){ "unregistered", "registered",
				     "deleted", "suspended" }[ret ? from : to]) == 0,
			      "%u -> %u: sysfs says %s", from, to, buf);
			CHECK(pr_sysfs_long("cloud_locked") == ((ret ? from : to) !=
			      PRENGINE_STATE_REGISTERED), "cloud_locked after %u -> %u", from, to);
		}
	}
	CHECK(pr_set_state(4) == -ERANGE, "state 4 is out of range");
	CHECK(pr_set_state(0xffffffff) == -ERANGE, "state ~0 is out of range");
}

TEST(sysfs_state_file_accepts_the_same_transitions)
{
	char buf[32];

	reset_engine();
	CHECK(pr_sysfs_write(PR_SYSFS "state", "registered\n") == 0, "write registered: %m");
	CHECK(pr_sysfs_read("state", buf, sizeof(buf)) == 0 && !strcmp(buf, "registered"),
	      "state %s", buf);
	CHECK(pr_sysfs_write(PR_SYSFS "state", "suspended") == 0, "write suspended: %m");
	CHECK_ERRNO(pr_sysfs_write(PR_SYSFS "state", "deleted"), EINVAL,
		    "suspended -> deleted is not in the table");
	CHECK_ERRNO(pr_sysfs_write(PR_SYSFS "state", "bogus"), EINVAL, "garbage state name");
	CHECK_ERRNO(pr_sysfs_write(PR_SYSFS "state", "\n"), EINVAL, "a bare newline");
	CHECK_ERRNO(pr_sysfs_write(PR_SYSFS "state", "registered\nextra"), EINVAL,
		    "trailing garbage");
	CHECK_ERRNO(pr_sysfs_write(PR_SYSFS "cloud_locked", "0"), EACCES,
		    "read-only attribute");
}

TEST(sysfs_poll_wakes_on_state_change)
{
	char buf[32];
	struct pollfd p;
	int fd;

	reset_engine();
	fd = open(PR_SYSFS "state", O_RDONLY);
	CHECK(fd >= 0, "open state");
	CHECK(read(fd, buf, sizeof(buf)) > 0, "read");
	p = (struct pollfd){ .fd = fd, .events = POLLPRI | POLLERR };
	if (fork() == 0) {
		usleep(200000);
		pr_set_state(PRENGINE_STATE_REGISTERED);
		_exit(0);
	}
	CHECK(poll(&p, 1, 5000) == 1, "poll on sysfs state did not wake");
	CHECK(p.revents & POLLPRI, "revents %#x", p.revents);
	close(fd);
}

static void drop_privileges(void)
{
	CHECK(setgroups(0, NULL) == 0 && setgid(65534) == 0 && setuid(65534) == 0,
	      "drop to nobody: %m");
}

TEST(unprivileged_can_read_but_not_change)
{
	struct pr_nl_attr set[] = {
		{ .type = PRENGINE_A_ENGINE, .u32 = 0 },
		{ .type = PRENGINE_A_STATE, .u32 = PRENGINE_STATE_DELETED },
		{ 0 },
	};
	struct pr_nl_attr eng[] = { { .type = PRENGINE_A_ENGINE, .u32 = 0 }, { 0 } };
	struct prengine_state_info st;
	struct prengine_lockdown ld = { .state = PRENGINE_STATE_DELETED };
	struct pr_nl_reply rep;
	uint32_t state = PRENGINE_STATE_DELETED;
	char buf[32];
	int fd;

	reset_engine();
	CHECK(pr_set_state(PRENGINE_STATE_REGISTERED) == 0, "register");
	CHECK(pr_nl_family() >= 0, "resolve the family");
	CHECK(chmod(PR_DEV, 0666) == 0, "chmod: %m");
	drop_privileges();

	fd = open(PR_DEV, O_RDWR);
	CHECK(fd >= 0, "open as nobody: %m");
	CHECK(ioctl(fd, PRENGINE_IOC_GET_STATE, &st) == 0, "GET_STATE as nobody: %m");
	CHECK(st.state == PRENGINE_STATE_REGISTERED, "state %u", st.state);
	CHECK_ERRNO(ioctl(fd, PRENGINE_IOC_SET_STATE, &state), EPERM, "SET_STATE ioctl");
	CHECK_ERRNO(ioctl(fd, PRENGINE_IOC_LOCKDOWN, &ld), EPERM, "LOCKDOWN ioctl");
	CHECK(pr_sysfs_read("state", buf, sizeof(buf)) == 0, "read sysfs as nobody");
	CHECK_ERRNO(pr_sysfs_write(PR_SYSFS "state", "deleted"), EACCES, "sysfs state write");
	CHECK(pr_nl_call(PRENGINE_CMD_GET_STATE, eng, &rep) == 0, "netlink GET_STATE");
	CHECK(rep.state == PRENGINE_STATE_REGISTERED, "netlink state %u", rep.state);
	CHECK(pr_nl_call(PRENGINE_CMD_SET_STATE, set, NULL) == -EPERM, "netlink SET_STATE");
	CHECK(pr_nl_call(PRENGINE_CMD_LOCKDOWN, eng, NULL) == -EPERM, "netlink LOCKDOWN");
	CHECK_ERRNO(open(PR_DEBUGFS "fault", O_WRONLY), EACCES, "debugfs knob");
	close(fd);
}

TEST(unprivileged_cannot_bypass_the_cloud_lock)
{
	int fd;

	reset_engine();
	CHECK(pr_set_state(PRENGINE_STATE_REGISTERED) == 0, "register");
	CHECK(pr_set_state(PRENGINE_STATE_SUSPENDED) == 0, "suspend");
	CHECK(chmod(PR_DEV, 0666) == 0, "chmod: %m");
	if (fork() == 0) {
		drop_privileges();
		fd = open(PR_DEV, O_WRONLY);
		CHECK(fd >= 0, "open");
		for (uint32_t f = 0; f <= PRENGINE_JOB_F_ALL; f++)
			CHECK_ERRNO((long)pr_declare(fd, PRENGINE_SOURCE_CLOUD, f, 0, "x", "id") - 1,
				    EKEYREVOKED, "cloud declare with any flags");
		_exit(0);
	}
	{
		int status;

		wait(&status);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed");
	}
}

TEST(bad_ioctls_are_refused)
{
	struct prengine_job_decl d;
	struct prengine_job_info info;
	struct prengine_lockdown ld;
	uint32_t state;
	int fd = open(PR_DEV, O_RDWR);
	char big[4096] = { 0 };

	reset_engine();
	CHECK(fd >= 0, "open");
	CHECK_ERRNO(ioctl(fd, _IO(PRENGINE_IOC_MAGIC, 0x7f)), ENOTTY, "unknown ioctl number");
	CHECK_ERRNO(ioctl(fd, _IOWR(PRENGINE_IOC_MAGIC, 0x01, struct prengine_job_info), big),
		    ENOTTY, "DECLARE_JOB with the wrong size");
	CHECK_ERRNO(ioctl(fd, _IOR('x', 0x05, struct prengine_state_info), big), ENOTTY,
		    "wrong magic");

#define DECL(...) do { memset(&d, 0, sizeof(d)); __VA_ARGS__; } while (0)
	DECL(d.source = __PRENGINE_SOURCE_CNT);
	CHECK_ERRNO(ioctl(fd, PRENGINE_IOC_DECLARE_JOB, &d), EINVAL, "unknown source");
	DECL(d.source = 0xffffffff);
	CHECK_ERRNO(ioctl(fd, PRENGINE_IOC_DECLARE_JOB, &d), EINVAL, "source ~0");
	DECL(d.flags = 1U << 7);
	CHECK_ERRNO(ioctl(fd, PRENGINE_IOC_DECLARE_JOB, &d), EINVAL, "unknown flag");
	DECL(memset(d.name, 'n', sizeof(d.name)));
	CHECK_ERRNO(ioctl(fd, PRENGINE_IOC_DECLARE_JOB, &d), ENAMETOOLONG, "unterminated name");
	DECL(d.source = PRENGINE_SOURCE_CLOUD; memset(d.cloud_id, 'c', sizeof(d.cloud_id)));
	CHECK_ERRNO(ioctl(fd, PRENGINE_IOC_DECLARE_JOB, &d), ENAMETOOLONG,
		    "unterminated cloud id");
	DECL(d.source = PRENGINE_SOURCE_LOCAL; strcpy(d.cloud_id, "x"));
	CHECK_ERRNO(ioctl(fd, PRENGINE_IOC_DECLARE_JOB, &d), EINVAL, "local job with a cloud id");
	CHECK(pr_set_state(PRENGINE_STATE_REGISTERED) == 0, "register");
	DECL(d.source = PRENGINE_SOURCE_CLOUD);
	CHECK_ERRNO(ioctl(fd, PRENGINE_IOC_DECLARE_JOB, &d), EINVAL, "cloud job without an id");
	DECL(d.job_id = 5);
	CHECK_ERRNO(ioctl(fd, PRENGINE_IOC_DECLARE_JOB, &d), EINVAL, "job_id set on input");
	CHECK_ERRNO(ioctl(fd, PRENGINE_IOC_DECLARE_JOB, NULL), EFAULT, "NULL argument");

	CHECK_ERRNO(write(fd, "abc", 3), EBADFD, "write without a declared job");
	CHECK_ERRNO(ioctl(fd, PRENGINE_IOC_COMMIT_JOB), EBADFD, "commit without a job");
	CHECK_ERRNO(ioctl(fd, PRENGINE_IOC_ABORT_JOB), EBADFD, "abort without a job");
	CHECK(pr_declare(fd, PRENGINE_SOURCE_LOCAL, 0, 4, "sized", NULL), "declare: %m");
	CHECK_ERRNO(pr_declare(fd, PRENGINE_SOURCE_LOCAL, 0, 0, "again", NULL) - 1, EBUSY,
		    "second declaration on one file");
	CHECK(write(fd, "abcdef", 6) == 4, "a write past the declared size is cut at it");
	CHECK_ERRNO(write(fd, "x", 1), EFBIG, "write past the declared size");
	CHECK(ioctl(fd, PRENGINE_IOC_COMMIT_JOB) == 0, "commit at the declared size");
	CHECK(pr_declare(fd, PRENGINE_SOURCE_LOCAL, 0, 10, "short", NULL), "declare: %m");
	CHECK(write(fd, "abc", 3) == 3, "write");
	CHECK_ERRNO(ioctl(fd, PRENGINE_IOC_COMMIT_JOB), EMSGSIZE, "commit short of the size");

	memset(&info, 0, sizeof(info));
	info.job_id = 999999;
	CHECK_ERRNO(ioctl(fd, PRENGINE_IOC_JOB_INFO, &info), ENOENT, "unknown job id");
	state = 17;
	CHECK_ERRNO(ioctl(fd, PRENGINE_IOC_SET_STATE, &state), ERANGE, "state 17");
	memset(&ld, 0, sizeof(ld));
	ld.state = PRENGINE_STATE_REGISTERED;
	CHECK_ERRNO(ioctl(fd, PRENGINE_IOC_LOCKDOWN, &ld), EINVAL, "lockdown into registered");
	ld.state = PRENGINE_STATE_DELETED;
	ld.flags = 0x80;
	CHECK_ERRNO(ioctl(fd, PRENGINE_IOC_LOCKDOWN, &ld), EINVAL, "lockdown unknown flags");
	ld.flags = 0;
	ld.__pad = 1;
	CHECK_ERRNO(ioctl(fd, PRENGINE_IOC_LOCKDOWN, &ld), EINVAL, "lockdown non-zero padding");
	CHECK(pr_sysfs_long("cloud_locked") == 0, "nothing above changed the state");
	close(fd);
}

TEST(bad_netlink_requests_are_refused)
{
	static const uint8_t one = 1;
	static const uint64_t wide = 1;
	struct pr_nl_attr a_missing[] = { { 0 } };
	struct pr_nl_attr a_noengine[] = { { .type = PRENGINE_A_ENGINE, .u32 = 9 }, { 0 } };
	struct pr_nl_attr a_short[] = {
		{ .type = PRENGINE_A_ENGINE, .len = 1, .data = &one }, { 0 } };
	struct pr_nl_attr a_long[] = {
		{ .type = PRENGINE_A_ENGINE, .len = 8, .data = &wide }, { 0 } };
	struct pr_nl_attr a_unknown[] = {
		{ .type = PRENGINE_A_ENGINE, .u32 = 0 }, { .type = 60, .u32 = 1 }, { 0 } };
	struct pr_nl_attr a_notpolicy[] = {
		{ .type = PRENGINE_A_ENGINE, .u32 = 0 }, { .type = PRENGINE_A_FLUSHED, .u32 = 1 },
		{ 0 } };
	struct pr_nl_attr a_nostate[] = { { .type = PRENGINE_A_ENGINE, .u32 = 0 }, { 0 } };
	struct pr_nl_attr a_badstate[] = {
		{ .type = PRENGINE_A_ENGINE, .u32 = 0 }, { .type = PRENGINE_A_STATE, .u32 = 9 },
		{ 0 } };
	struct pr_nl_attr a_badflags[] = {
		{ .type = PRENGINE_A_ENGINE, .u32 = 0 },
		{ .type = PRENGINE_A_LOCKDOWN_FLAGS, .u32 = 0x10 }, { 0 } };
	struct pr_nl_attr a_ldreg[] = {
		{ .type = PRENGINE_A_ENGINE, .u32 = 0 },
		{ .type = PRENGINE_A_STATE, .u32 = PRENGINE_STATE_REGISTERED }, { 0 } };
	int r;

	reset_engine();
	CHECK(pr_nl_family() >= 0, "family resolves");
	r = pr_nl_call(PRENGINE_CMD_GET_STATE, a_missing, NULL);
	CHECK(r == -EINVAL, "GET_STATE without ENGINE: %d", r);
	r = pr_nl_call(PRENGINE_CMD_GET_STATE, a_noengine, NULL);
	CHECK(r == -ENODEV, "GET_STATE of engine 9: %d", r);
	r = pr_nl_call(PRENGINE_CMD_GET_STATE, a_short, NULL);
	CHECK(r == -ERANGE || r == -EINVAL, "ENGINE of 1 byte: %d", r);
	r = pr_nl_call(PRENGINE_CMD_GET_STATE, a_long, NULL);
	CHECK(r == -ERANGE || r == -EINVAL, "ENGINE of 8 bytes: %d", r);
	r = pr_nl_call(PRENGINE_CMD_GET_STATE, a_unknown, NULL);
	CHECK(r == -EINVAL, "unknown attribute 60: %d", r);
	r = pr_nl_call(PRENGINE_CMD_GET_STATE, a_notpolicy, NULL);
	CHECK(r == -EINVAL, "attribute not in the command's policy: %d", r);
	r = pr_nl_call(PRENGINE_CMD_SET_STATE, a_nostate, NULL);
	CHECK(r == -EINVAL, "SET_STATE without STATE: %d", r);
	r = pr_nl_call(PRENGINE_CMD_SET_STATE, a_badstate, NULL);
	CHECK(r == -ERANGE, "SET_STATE 9: %d", r);
	r = pr_nl_call(PRENGINE_CMD_LOCKDOWN, a_badflags, NULL);
	CHECK(r == -EINVAL, "LOCKDOWN unknown flag: %d", r);
	r = pr_nl_call(PRENGINE_CMD_LOCKDOWN, a_ldreg, NULL);
	CHECK(r == -EINVAL, "LOCKDOWN into registered: %d", r);
	r = pr_nl_call(PRENGINE_CMD_UNSPEC, a_nostate, NULL);
	CHECK(r == -EOPNOTSUPP, "command 0: %d", r);
	r = pr_nl_call(PRENGINE_CMD_JOB_DONE, a_nostate, NULL);
	CHECK(r == -EOPNOTSUPP, "an event command sent as a request: %d", r);
	CHECK(pr_sysfs_long("cloud_locked") == 1, "state unchanged");
}

TEST(bad_debugfs_writes_are_refused)
{
	CHECK_ERRNO(pr_fault("melted"), EINVAL, "unknown fault name");
	CHECK_ERRNO(pr_fault("jam jam jam jam jam"), EINVAL, "oversized fault write");
	CHECK_ERRNO(pr_sysfs_write(PR_DEBUGFS "page_bytes", "0"), EINVAL, "page_bytes 0");
	CHECK_ERRNO(pr_sysfs_write(PR_DEBUGFS "page_bytes", "x"), EINVAL, "page_bytes x");
	CHECK_ERRNO(pr_sysfs_write(PR_DEBUGFS "speed_bps", "-"), EINVAL, "speed garbage");
}

TEST(nonblocking_writer_gets_eagain_and_poll_works)
{
	static char buf[1 << 20];
	struct pollfd p;
	int fd, n = 0;
	ssize_t r;

	reset_engine();
	CHECK(pr_fault("jam") == 0, "jam");
	fd = open(PR_DEV, O_WRONLY | O_NONBLOCK);
	CHECK(pr_declare(fd, PRENGINE_SOURCE_LOCAL, 0, 0, "nb", NULL), "declare");
	while ((r = write(fd, buf, sizeof(buf))) > 0)
		n++;
	CHECK(r < 0 && errno == EAGAIN, "a full spool gives EAGAIN, got %zd %m after %d MiB", r, n);
	p = (struct pollfd){ .fd = fd, .events = POLLOUT };
	CHECK(poll(&p, 1, 200) == 0, "poll says writable while full (%#x)", p.revents);
	if (fork() == 0) {
		usleep(200000);
		pr_fault("none");
		_exit(0);
	}
	CHECK(poll(&p, 1, 10000) == 1 && (p.revents & POLLOUT), "poll did not wake");
	CHECK(write(fd, buf, 100) == 100, "write after poll: %m");
	CHECK(ioctl(fd, PRENGINE_IOC_ABORT_JOB) == 0, "abort");
	close(fd);
}

TEST(jam_stops_the_engine_and_clearing_resumes)
{
	static char data[512 * 1024];
	struct prengine_job_info info;
	struct pr_listener *l = pr_listen();
	struct pr_nl_reply ev;
	char status[32];
	uint64_t id, printed;
	int fd, got = 0;

	reset_engine();
	CHECK(l, "listen");
	CHECK(pr_speed(512 * 1024) == 0, "slow engine");
	pr_fill(data, sizeof(data), 99);
	id = submit(PRENGINE_SOURCE_LOCAL, NULL, data, sizeof(data));
	usleep(300000);
	CHECK(pr_fault("jam") == 0, "jam");
	CHECK(pr_sysfs_read("engine_status", status, sizeof(status)) == 0, "status");
	CHECK((strtoul(status, NULL, 0) & (PRENGINE_STATUS_JAM | PRENGINE_STATUS_NOT_ERROR)) ==
	      PRENGINE_STATUS_JAM, "engine_status %s during a jam", status);
	while (pr_listen_next(l, &ev, 1000) == 1)
		if (ev.cmd == PRENGINE_CMD_ENGINE_STATUS && (ev.status & PRENGINE_STATUS_JAM))
			got = 1;
	CHECK(got, "no ENGINE_STATUS event with the jam bit");
	fd = open(PR_DEV, O_RDONLY);
	pr_job_info(fd, id, &info);
	printed = info.printed;
	CHECK(info.state == PRENGINE_JOB_PRINTING && printed < sizeof(data),
	      "job state %u printed %llu", info.state, (unsigned long long)printed);
	usleep(300000);
	pr_job_info(fd, id, &info);
	CHECK(info.printed == printed, "the jammed engine kept printing");
	CHECK(pr_fault("none") == 0, "clear");
	got = 0;
	while (pr_listen_next(l, &ev, 1000) == 1)
		if (ev.cmd == PRENGINE_CMD_ENGINE_STATUS && !(ev.status & PRENGINE_STATUS_JAM) &&
		    (ev.status & PRENGINE_STATUS_NOT_ERROR))
			got = 1;
	CHECK(got, "no ENGINE_STATUS event when the jam cleared");
	CHECK(pr_speed(0) == 0, "fast");
	expect_printed(id, data, sizeof(data));
	CHECK(pr_fault("paper_out") == 0, "paper out");
	CHECK(pr_sysfs_read("engine_status", status, sizeof(status)) == 0, "status");
	CHECK((strtoul(status, NULL, 0) & PRENGINE_STATUS_PAPER_EMPTY), "paper empty bit");
	CHECK(pr_fault("offline") == 0, "offline");
	CHECK(pr_sysfs_read("engine_status", status, sizeof(status)) == 0, "status");
	CHECK(!(strtoul(status, NULL, 0) & PRENGINE_STATUS_SELECTED), "selected while offline");
	CHECK(pr_fault("none") == 0, "clear");
	close(fd);
	pr_listen_close(l);
}

TEST(list_jobs_dump_reports_completion_records)
{
	static char data[3][10000];
	static struct pr_nl_reply jobs[512];
	uint64_t ids[3];
	int n, found = 0;

	reset_engine();
	for (int i = 0; i < 3; i++) {
		pr_fill(data[i], sizeof(data[i]), 300 + i);
		ids[i] = submit(PRENGINE_SOURCE_NETWORK, NULL, data[i], sizeof(data[i]));
		expect_printed(ids[i], data[i], sizeof(data[i]));
	}
	n = pr_nl_list_jobs(jobs, 512);
	CHECK(n >= 3, "LIST_JOBS returned %d", n);
	for (int k = 0; k < n && k < 512; k++)
		for (int i = 0; i < 3; i++)
			if (jobs[k].job_id == ids[i]) {
				CHECK(jobs[k].job_crc == pr_crc32(0, data[i], sizeof(data[i])),
				      "dump crc of job %d", i);
				CHECK(jobs[k].job_bytes == sizeof(data[i]), "dump bytes");
				found++;
			}
	CHECK(found == 3, "found %d of 3 jobs in the dump", found);
}

TEST(abort_on_close_and_hold_flags)
{
	struct prengine_job_info info;
	uint64_t id;
	int fd, rfd = open(PR_DEV, O_RDONLY);

	reset_engine();
	fd = open(PR_DEV, O_WRONLY);
	id = pr_declare(fd, PRENGINE_SOURCE_LOCAL, PRENGINE_JOB_F_ABORT_ON_CLOSE |
			PRENGINE_JOB_F_HOLD, 0, "held", NULL);
	CHECK(id, "declare: %m");
	CHECK(write(fd, "held data", 9) == 9, "write");
	usleep(200000);
	pr_job_info(rfd, id, &info);
	CHECK(info.state == PRENGINE_JOB_RECEIVING && info.printed == 0,
	      "a held job started before commit (state %u)", info.state);
	close(fd);
	CHECK(pr_wait_job(rfd, id, &info, 5000) == 0, "complete");
	CHECK(info.result == PRENGINE_RESULT_WRITER_ABORTED && info.printed == 0,
	      "closing without commit gave result %u, printed %llu", info.result,
	      (unsigned long long)info.printed);
	close(rfd);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/*
 * Issue 13, defect 2: two uncommitted held jobs that fill the pool between
 * them used to sleep forever, each waiting for room only the other could
 * free.  The write that would wait in that circle fails with ENOBUFS.
 */
TEST(two_held_writers_filling_the_pool_do_not_wait_in_a_circle)
{
	FILE *f = fopen("/sys/module/prengine/parameters/buffer_kib", "r");
	unsigned long kib = 0;
	size_t pool;
	struct sigaction sa = { .sa_handler = on_alarm };
	int a, b, rfd = open(PR_DEV, O_RDONLY);
	uint64_t ida, idb;
	char *buf;
	ssize_t n;

	CHECK(f && fscanf(f, "%lu", &kib) == 1, "buffer_kib: %m");
	fclose(f);
	pool = kib * 1024;
	reset_engine();
	buf = malloc(pool);
	CHECK(buf, "malloc");
	memset(buf, 'h', pool);
	a = open(PR_DEV, O_WRONLY);
	b = open(PR_DEV, O_WRONLY);
	ida = pr_declare(a, PRENGINE_SOURCE_LOCAL, PRENGINE_JOB_F_HOLD |
			 PRENGINE_JOB_F_ABORT_ON_CLOSE, 0, "held-a", NULL);
	idb = pr_declare(b, PRENGINE_SOURCE_LOCAL, PRENGINE_JOB_F_HOLD |
			 PRENGINE_JOB_F_ABORT_ON_CLOSE, 0, "held-b", NULL);
	CHECK(ida && idb, "declare: %m");
	CHECK(pr_write_all(a, buf, pool / 4 * 3) == 0, "first held job, 3/4 of the pool: %m");
	/* The rest of the pool goes to b; then b would wait for a, and a for b. */
	sigaction(SIGALRM, &sa, NULL);
	alarm(10);
	for (n = 0; n >= 0;)
		n = write(b, buf, pool / 2);
	alarm(TAP_TIMEOUT_S);
	CHECK(errno == ENOBUFS, "second held job on a full pool: %m (want ENOBUFS, not a sleep)");
	n = write(a, buf, 4096);
	CHECK(n < 0 && errno == ENOBUFS, "first held job on the full pool: %zd %m", n);
	/* Aborting one of them makes room for the other, which then prints. */
	close(b);
	CHECK(pr_write_all(a, buf, 4096) == 0, "first held job after the second aborted: %m");
	CHECK(ioctl(a, PRENGINE_IOC_COMMIT_JOB) == 0, "commit: %m");
	close(a);
	struct prengine_job_info info;

	CHECK(pr_wait_job(rfd, ida, &info, 20000) == 0, "complete");
	CHECK(info.result == PRENGINE_RESULT_PRINTED && info.printed == pool / 4 * 3 + 4096,
	      "result %u printed %llu", info.result, (unsigned long long)info.printed);
	free(buf);
	close(rfd);
}

/*
 * Issue 13, defect 5: speed x elapsed time overflowed 64 bits for huge
 * debugfs speeds, and the engine got a budget of 0 bytes per tick.
 */
TEST(huge_debugfs_speed_still_prints)
{
	static char buf[65536];
	struct prengine_job_info info;
	int rfd = open(PR_DEV, O_RDONLY);
	uint64_t id;

	reset_engine();
	pr_fill(buf, sizeof(buf), 7);
	CHECK(pr_speed(1ULL << 63) == 0, "speed 2^63: %m");
	id = submit(PRENGINE_SOURCE_LOCAL, NULL, buf, sizeof(buf));
	CHECK(pr_wait_job(rfd, id, &info, 10000) == 0,
	      "a job at speed 2^63 did not complete in 10 s (printed %llu)",
	      (unsigned long long)info.printed);
	CHECK(info.result == PRENGINE_RESULT_PRINTED && info.crc32 == pr_crc32(0, buf, sizeof(buf)),
	      "result %u crc %#x", info.result, info.crc32);
	CHECK(pr_speed(0) == 0, "speed 0: %m");
	close(rfd);
}

/*
 * Issue 13, defect 5: resv_start_op past the last command turned off the
 * check of the genl header's reserved field for every command.
 */
TEST(netlink_header_reserved_field_must_be_zero)
{
	struct pr_nl_attr a[] = { { .type = PRENGINE_A_ENGINE, .u32 = 0 }, { 0 } };
	struct pr_nl_reply out[4];
	int r;

	reset_engine();
	CHECK(pr_nl_call(PRENGINE_CMD_GET_STATE, a, NULL) == 0, "GET_STATE");
	pr_nl_reserved = 1;
	r = pr_nl_call(PRENGINE_CMD_GET_STATE, a, NULL);
	CHECK(r == -EINVAL, "GET_STATE with reserved 1: %d", r);
	r = pr_nl_call(PRENGINE_CMD_LOCKDOWN, a, NULL);
	CHECK(r == -EINVAL, "LOCKDOWN with reserved 1: %d", r);
	r = pr_nl_list_jobs(out, 4);
	CHECK(r == -EINVAL, "LIST_JOBS with reserved 1: %d", r);
	pr_nl_reserved = 0;
}

static int ctrl_ops_cb(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[CTRL_ATTR_MAX + 1], *op, *ob[CTRL_ATTR_OP_MAX + 1];
	uint32_t *flags = arg;
	int rem;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, CTRL_ATTR_MAX, NULL) || !tb[CTRL_ATTR_OPS])
		return NL_SKIP;
	nla_for_each_nested(op, tb[CTRL_ATTR_OPS], rem) {
		if (nla_parse_nested(ob, CTRL_ATTR_OP_MAX, op, NULL) || !ob[CTRL_ATTR_OP_ID])
			continue;
		uint32_t id = nla_get_u32(ob[CTRL_ATTR_OP_ID]);

		if (id < 16)
			flags[id] = ob[CTRL_ATTR_OP_FLAGS] ? nla_get_u32(ob[CTRL_ATTR_OP_FLAGS]) :
				    0x80000000U;
	}
	return NL_OK;
}

TEST(genl_controller_reports_admin_permission_on_state_changes)
{
	uint32_t flags[16] = { 0 };
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_msg *msg = nlmsg_alloc();

	CHECK(sk && msg && genl_connect(sk) == 0, "connect");
	genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, GENL_ID_CTRL, 0, 0, CTRL_CMD_GETFAMILY, 1);
	nla_put_string(msg, CTRL_ATTR_FAMILY_NAME, PRENGINE_GENL_NAME);
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, ctrl_ops_cb, flags);
	CHECK(nl_send_auto(sk, msg) >= 0, "send");
	CHECK(nl_recvmsgs_default(sk) >= 0, "receive");
	for (int cmd = PRENGINE_CMD_GET_STATE; cmd <= PRENGINE_CMD_LIST_JOBS; cmd++) {
		bool admin = cmd == PRENGINE_CMD_SET_STATE || cmd == PRENGINE_CMD_LOCKDOWN;

		tap_diag("command %d: flags %#x", cmd, flags[cmd]);
		CHECK(flags[cmd], "command %d is not listed", cmd);
		CHECK(!!(flags[cmd] & GENL_ADMIN_PERM) == admin,
		      "command %d admin permission %s", cmd, admin ? "missing" : "unexpected");
	}
	CHECK(flags[PRENGINE_CMD_GET_STATE] & GENL_CMD_CAP_DUMP, "GET_STATE can dump");
	CHECK(flags[PRENGINE_CMD_LIST_JOBS] & GENL_CMD_CAP_DUMP, "LIST_JOBS can dump");
	nlmsg_free(msg);
	nl_socket_free(sk);
}

int main(int argc, char **argv)
{
	return tap_main(argc, argv);
}
