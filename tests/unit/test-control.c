// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the control socket: who may run which command, and a real
 * socket on a real epoll loop where silent clients must not hold up others.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "control.h"

static void test_only_status_is_read_only(void **state)
{
	static const char *const change[] = {
		"register", "unregister", "resume", "resolve keep", "resolve delete",
		"policy keep", "policy ask", "", "status ", "STATUS", "statusx", "nonsense",
	};

	(void)state;
	assert_int_equal(cp_control_need("status"), CP_CONTROL_READ);
	for (size_t i = 0; i < sizeof(change) / sizeof(change[0]); i++)
		if (cp_control_need(change[i]) != CP_CONTROL_CHANGE)
			fail_msg("'%s' should need the right to change state", change[i]);
}

static const struct {
	uid_t uid;
	gid_t gid, group;	/* primary, one supplementary (or NO_GROUP) */
	gid_t sock, admin;
	bool read, change;
} cases[] = {
	/* root: everything, whatever the groups */
	{ 0, 0, CP_CONTROL_NO_GROUP, 100, CP_CONTROL_NO_GROUP, true, true },
	{ 0, 5, CP_CONTROL_NO_GROUP, 100, 200, true, true },
	/* nobody in no group: nothing */
	{ 65534, 65534, CP_CONTROL_NO_GROUP, 100, 200, false, false },
	{ 65534, 65534, CP_CONTROL_NO_GROUP, 0, CP_CONTROL_NO_GROUP, false, false },
	/* the socket's group, primary or supplementary: read only */
	{ 1000, 100, CP_CONTROL_NO_GROUP, 100, 200, true, false },
	{ 1000, 1000, 100, 100, 200, true, false },
	{ 1000, 1000, 100, 100, CP_CONTROL_NO_GROUP, true, false },
	/* the admin group, primary or supplementary: both */
	{ 1000, 200, CP_CONTROL_NO_GROUP, 100, 200, true, true },
	{ 1000, 1000, 200, 100, 200, true, true },
	/* no admin group configured: a member of "no group" is nobody */
	{ 1000, CP_CONTROL_NO_GROUP, CP_CONTROL_NO_GROUP, 100, CP_CONTROL_NO_GROUP, false, false },
};

static void test_who_may_do_what(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cp_control_peer p = { .uid = cases[i].uid, .gid = cases[i].gid };

		if (cases[i].group != CP_CONTROL_NO_GROUP)
			p.groups[p.n_groups++] = cases[i].group;
		if (cp_control_allowed(&p, CP_CONTROL_READ, cases[i].sock, cases[i].admin) !=
		    cases[i].read ||
		    cp_control_allowed(&p, CP_CONTROL_CHANGE, cases[i].sock, cases[i].admin) !=
		    cases[i].change)
			fail_msg("case %zu: uid %u gid %u: want read %d change %d", i,
				 (unsigned int)cases[i].uid, (unsigned int)cases[i].gid,
				 cases[i].read, cases[i].change);
	}
}

static void test_groups_by_name_or_number(void **state)
{
	gid_t g = 1;

	(void)state;
	assert_int_equal(cp_control_group("", &g), 0);
	assert_int_equal(g, CP_CONTROL_NO_GROUP);
	assert_int_equal(cp_control_group("root", &g), 0);
	assert_int_equal(g, 0);
	assert_int_equal(cp_control_group("4242", &g), 0);
	assert_int_equal(g, 4242);
	assert_int_equal(cp_control_group("no-such-group-here", &g), -ENOENT);
}

/* ---- a real socket on a real loop ---- */

static char got[CP_CONTROL_LINE_MAX + 1];
static int calls;

static void on_command(void *ctx, int fd, const char *line)
{
	(void)ctx;
	snprintf(got, sizeof(got), "%s", line);
	calls++;
	cp_control_reply(fd, "{\"ok\":true}");
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Run the loop one event at a time, like cloudprintd, for up to @s seconds or until @stop. */
static void run_loop(int epfd, double s, const int *stop, int want)
{
	double end = now_s() + s;
	struct epoll_event ev;

	while (now_s() < end && (!stop || *stop < want)) {
		int n = epoll_wait(epfd, &ev, 1, 20);

		if (n == 1) {
			struct cp_watch *w = ev.data.ptr;

			w->fn(w, ev.events);
		}
	}
}

static void test_silent_clients_do_not_stall_the_loop(void **state)
{
	char path[64], reply[64] = "";
	int epfd = epoll_create1(EPOLL_CLOEXEC), silent[5], fd;
	struct cp_control *c;
	double t0, took;
	ssize_t n;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/cp-control-%d.sock", (int)getpid());
	c = cp_control_new(epfd, path, CP_CONTROL_NO_GROUP, CP_CONTROL_NO_GROUP, on_command, NULL);
	assert_non_null(c);
	calls = 0;
	/* Five clients connect and say nothing. */
	for (int i = 0; i < 5; i++)
		silent[i] = connect_to(path);
	run_loop(epfd, 0.1, NULL, 0);
	/* A sixth asks for the status: it is answered at once, not after 5 x 2 s. */
	fd = connect_to(path);
	assert_int_equal(write(fd, "status\n", 7), 7);
	t0 = now_s();
	run_loop(epfd, 3, &calls, 1);
	took = now_s() - t0;
	assert_int_equal(calls, 1);
	assert_string_equal(got, "status");
	if (took > 0.5)
		fail_msg("the command waited %.2f s behind the silent clients", took);
	n = recv(fd, reply, sizeof(reply) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	assert_non_null(strstr(reply, "\"ok\":true"));
	close(fd);
	/* A line split over two writes still arrives whole. */
	fd = connect_to(path);
	assert_int_equal(write(fd, "sta", 3), 3);
	run_loop(epfd, 0.1, NULL, 0);
	assert_int_equal(calls, 1);
	assert_int_equal(write(fd, "tus\n", 4), 4);
	run_loop(epfd, 1, &calls, 2);
	assert_int_equal(calls, 2);
	assert_string_equal(got, "status");
	close(fd);
	/* The silent ones are closed after their deadline (EOF for them). */
	run_loop(epfd, CP_CONTROL_DEADLINE_MS / 1000.0 + 0.5, NULL, 0);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(recv(silent[i], reply, sizeof(reply), MSG_DONTWAIT), 0);
		close(silent[i]);
	}
	cp_control_free(c);
	close(epfd);
}

static void test_too_many_clients_are_refused_not_queued(void **state)
{
	char path[64], reply[128] = "";
	int epfd = epoll_create1(EPOLL_CLOEXEC), fds[CP_CONTROL_CLIENTS_MAX + 1];
	struct cp_control *c;
	ssize_t n;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/cp-control-%d.sock", (int)getpid());
	c = cp_control_new(epfd, path, CP_CONTROL_NO_GROUP, CP_CONTROL_NO_GROUP, on_command, NULL);
	assert_non_null(c);
	/* All at once (the backlog holds them), so none times out meanwhile. */
	for (int i = 0; i <= CP_CONTROL_CLIENTS_MAX; i++)
		fds[i] = connect_to(path);
	/* The loop may not have reached the last one yet (a loaded machine). */
	for (int i = 0; i < 100; i++) {
		struct pollfd pfd = { .fd = fds[CP_CONTROL_CLIENTS_MAX], .events = POLLIN };

		if (poll(&pfd, 1, 0) == 1)
			break;
		run_loop(epfd, 0.05, NULL, 0);
	}
	n = recv(fds[CP_CONTROL_CLIENTS_MAX], reply, sizeof(reply) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	assert_non_null(strstr(reply, "busy"));
	for (int i = 0; i <= CP_CONTROL_CLIENTS_MAX; i++)
		close(fds[i]);
	cp_control_free(c);
	close(epfd);
}

static void test_a_live_socket_is_not_taken_over(void **state)
{
	char path[64];
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct cp_control *c, *second;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/cp-control-%d-live.sock", (int)getpid());
	c = cp_control_new(epfd, path, CP_CONTROL_NO_GROUP, CP_CONTROL_NO_GROUP, on_command, NULL);
	assert_non_null(c);
	second = cp_control_new(epfd, path, CP_CONTROL_NO_GROUP, CP_CONTROL_NO_GROUP, on_command,
				NULL);
	assert_null(second);
	/* The first still answers. */
	close(connect_to(path));
	cp_control_free(c);
	/* A stale file left by a dead daemon is taken over. */
	c = cp_control_new(epfd, path, CP_CONTROL_NO_GROUP, CP_CONTROL_NO_GROUP, on_command, NULL);
	assert_non_null(c);
	cp_control_free(c);
	close(epfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_only_status_is_read_only),
		cmocka_unit_test(test_who_may_do_what),
		cmocka_unit_test(test_groups_by_name_or_number),
		cmocka_unit_test(test_silent_clients_do_not_stall_the_loop),
		cmocka_unit_test(test_too_many_clients_are_refused_not_queued),
		cmocka_unit_test(test_a_live_socket_is_not_taken_over),
	};
	return cmocka_run_group_tests_name("control", tests, NULL, NULL);
}
