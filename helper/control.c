// SPDX-License-Identifier: GPL-2.0
/* The control socket; see control.h. */
#include <errno.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "timer.h"

/* A connection that has not said its line yet. */
struct cp_control_client {
	struct cp_watch w;		/* w.fd < 0: the slot is free */
	struct cp_control *c;
	struct cp_control_peer peer;
	uint64_t deadline_ms;		/* CLOCK_MONOTONIC */
	size_t len;
	char line[CP_CONTROL_LINE_MAX + 1];
};

struct cp_control {
	struct cp_watch listen;
	struct cp_watch timer;		/* the earliest client deadline */
	int epfd;
	gid_t admin_gid;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	cp_control_fn fn;
	void *ctx;
	struct cp_control_client clients[CP_CONTROL_CLIENTS_MAX];
};

enum cp_control_need cp_control_need(const char *line)
{
	return !strcmp(line, "status") ? CP_CONTROL_READ : CP_CONTROL_CHANGE;
}

static bool cp_control_member(const struct cp_control_peer *p, gid_t g)
{
	if (g == CP_CONTROL_NO_GROUP)
		return false;
	if (p->gid == g)
		return true;
	for (size_t i = 0; i < p->n_groups; i++)
		if (p->groups[i] == g)
			return true;
	return false;
}

bool cp_control_allowed(const struct cp_control_peer *peer, enum cp_control_need need,
			gid_t sock_gid, gid_t admin_gid)
{
	if (peer->uid == 0 || cp_control_member(peer, admin_gid))
		return true;
	return need == CP_CONTROL_READ && cp_control_member(peer, sock_gid);
}

int cp_control_group(const char *name, gid_t *gid)
{
	struct group *g;
	char *end;
	unsigned long n;

	if (!name[0]) {
		*gid = CP_CONTROL_NO_GROUP;
		return 0;
	}
	errno = 0;
	n = strtoul(name, &end, 10);
	if (!*end && !errno && n < CP_CONTROL_NO_GROUP) {
		*gid = (gid_t)n;
		return 0;
	}
	g = getgrnam(name);
	if (!g)
		return -ENOENT;
	*gid = g->gr_gid;
	return 0;
}

void cp_control_reply(int fd, const char *json)
{
	size_t len = strlen(json);

	/* Non-blocking: a client that does not read loses its answer, not our time. */
	if (send(fd, json, len, MSG_NOSIGNAL) != (ssize_t)len ||
	    send(fd, "\n", 1, MSG_NOSIGNAL) != 1)
		cp_dbg("control: client went away before the reply");
	close(fd);
}

static uint64_t cp_control_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Arm the timer for the earliest deadline, or disarm it. */
static void cp_control_rearm(struct cp_control *c)
{
	uint64_t now = cp_control_now_ms(), first = UINT64_MAX;

	for (size_t i = 0; i < CP_CONTROL_CLIENTS_MAX; i++)
		if (c->clients[i].w.fd >= 0 && c->clients[i].deadline_ms < first)
			first = c->clients[i].deadline_ms;
	if (first == UINT64_MAX)
		cp_timer_disarm(c->timer.fd);
	else
		cp_timer_arm(c->timer.fd, first > now ? (uint32_t)(first - now) : 0);
}

/* Take @cl out of the loop; its fd stays open unless @close_fd. */
static void cp_control_drop(struct cp_control_client *cl, bool close_fd)
{
	epoll_ctl(cl->c->epfd, EPOLL_CTL_DEL, cl->w.fd, NULL);
	if (close_fd)
		close(cl->w.fd);
	cl->w.fd = -1;
	cl->len = 0;
	cp_control_rearm(cl->c);
}

/* The socket file's group now: an administrator may chgrp it at any time. */
static gid_t cp_control_sock_gid(const struct cp_control *c)
{
	struct stat st;

	return stat(c->path, &st) ? CP_CONTROL_NO_GROUP : st.st_gid;
}

static void cp_control_run(struct cp_control_client *cl)
{
	struct cp_control *c = cl->c;
	struct cp_control_peer peer = cl->peer;
	char line[CP_CONTROL_LINE_MAX + 1];
	int fd = cl->w.fd;

	memcpy(line, cl->line, cl->len + 1);
	line[strcspn(line, "\r\n")] = '\0';
	cp_control_drop(cl, false);
	if (!cp_control_allowed(&peer, cp_control_need(line), cp_control_sock_gid(c),
				c->admin_gid)) {
		cp_warn("control: '%.64s' refused to uid %u gid %u (pid %d): %s", line,
			(unsigned int)peer.uid, (unsigned int)peer.gid, (int)peer.pid,
			cp_control_need(line) == CP_CONTROL_READ ? "not root nor in the socket's group" :
			"state changes need root or admin_group");
		cp_control_reply(fd, "{\"ok\":false,\"error\":\"permission denied\","
				 "\"denied\":true}");
		return;
	}
	c->fn(c->ctx, fd, line);
}

static void cp_control_on_client(struct cp_watch *w, uint32_t events)
{
	struct cp_control_client *cl = (struct cp_control_client *)w;
	ssize_t n;

	(void)events;
	for (;;) {
		n = recv(w->fd, cl->line + cl->len, CP_CONTROL_LINE_MAX - cl->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;		/* the rest comes later, or the deadline */
		if (n <= 0) {
			/* Gone; a last line without its newline still counts. */
			if (cl->len) {
				cl->line[cl->len] = '\0';
				cp_control_run(cl);
			} else {
				cp_control_drop(cl, true);
			}
			return;
		}
		cl->len += n;
		cl->line[cl->len] = '\0';
		if (memchr(cl->line, '\n', cl->len)) {
			cp_control_run(cl);
			return;
		}
		if (cl->len == CP_CONTROL_LINE_MAX) {
			int fd = cl->w.fd;

			cp_control_drop(cl, false);
			cp_control_reply(fd, "{\"ok\":false,\"error\":\"command line too long\"}");
			return;
		}
	}
}

static void cp_control_on_timer(struct cp_watch *w, uint32_t events)
{
	struct cp_control *c = (struct cp_control *)((char *)w - offsetof(struct cp_control, timer));
	uint64_t now = cp_control_now_ms();

	(void)events;
	cp_timer_consume(w->fd);
	for (size_t i = 0; i < CP_CONTROL_CLIENTS_MAX; i++) {
		struct cp_control_client *cl = &c->clients[i];

		if (cl->w.fd >= 0 && cl->deadline_ms <= now) {
			cp_dbg("control: pid %d sent no command within %d ms: closed",
			       (int)cl->peer.pid, CP_CONTROL_DEADLINE_MS);
			cp_control_drop(cl, true);
		}
	}
	cp_control_rearm(c);
}

static int cp_control_peer_of(int fd, struct cp_control_peer *p)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	memset(p, 0, sizeof(*p));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len))
		return -errno;
	p->pid = uc.pid;
	p->uid = uc.uid;
	p->gid = uc.gid;
	len = sizeof(p->groups);
	/* More groups than room: only the primary group counts. */
	if (!getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, p->groups, &len))
		p->n_groups = len / sizeof(p->groups[0]);
	return 0;
}

static void cp_control_on_accept(struct cp_watch *w, uint32_t events)
{
	struct cp_control *c = (struct cp_control *)w;
	struct cp_control_client *cl = NULL;
	struct epoll_event ev = { .events = EPOLLIN };
	int fd;

	(void)events;
	fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	for (size_t i = 0; i < CP_CONTROL_CLIENTS_MAX && !cl; i++)
		if (c->clients[i].w.fd < 0)
			cl = &c->clients[i];
	if (!cl) {
		cp_dbg("control: %d clients waiting already: one more refused",
		       CP_CONTROL_CLIENTS_MAX);
		cp_control_reply(fd, "{\"ok\":false,\"error\":\"busy: too many clients\"}");
		return;
	}
	if (cp_control_peer_of(fd, &cl->peer)) {
		cp_warn("control: no peer credentials: %m");
		close(fd);
		return;
	}
	cl->w.fd = fd;
	cl->len = 0;
	cl->deadline_ms = cp_control_now_ms() + CP_CONTROL_DEADLINE_MS;
	ev.data.ptr = &cl->w;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		cp_warn("control: epoll: %m");
		close(fd);
		cl->w.fd = -1;
		return;
	}
	cp_control_rearm(c);
}

/* Does a process still answer on @path?  Then it is not ours to take. */
static bool cp_control_in_use(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	live = !connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return live;
}

struct cp_control *cp_control_new(int epfd, const char *path, gid_t sock_gid, gid_t admin_gid,
				  cp_control_fn fn, void *ctx)
{
	struct cp_control *c = calloc(1, sizeof(*c));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN };
	if (!c)
		return NULL;
	c->listen.fd = -1;
	c->timer.fd = -1;
	for (size_t i = 0; i < CP_CONTROL_CLIENTS_MAX; i++) {
		c->clients[i].w.fd = -1;
		c->clients[i].w.fn = cp_control_on_client;
		c->clients[i].c = c;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		cp_err("control socket path %s is too long", path);
		goto err;
	}
	if (cp_control_in_use(path)) {
		cp_err("control socket %s: another process answers on it (is cloudprintd running already?)",
		       path);
		goto err;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	c->epfd = epfd;
	c->fn = fn;
	c->ctx = ctx;
	c->admin_gid = admin_gid;
	c->listen.fn = cp_control_on_accept;
	c->timer.fn = cp_control_on_timer;
	c->timer.fd = cp_timer_new();
	c->listen.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->listen.fd < 0 || c->timer.fd < 0)
		goto err_sys;
	unlink(path);
	if (bind(c->listen.fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0660) ||
	    (sock_gid != CP_CONTROL_NO_GROUP && chown(path, (uid_t)-1, sock_gid)) ||
	    listen(c->listen.fd, CP_CONTROL_CLIENTS_MAX)) {
		cp_err("control socket %s: %m", path);
		goto err;
	}
	ev.data.ptr = &c->listen;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->listen.fd, &ev))
		goto err_sys;
	ev.data.ptr = &c->timer;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->timer.fd, &ev))
		goto err_sys;
	return c;
err_sys:
	cp_err("control socket %s: %m", path);
err:
	if (c->listen.fd >= 0) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, c->listen.fd, NULL);
		close(c->listen.fd);
	}
	if (c->timer.fd >= 0)
		close(c->timer.fd);
	free(c);
	return NULL;
}

void cp_control_free(struct cp_control *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < CP_CONTROL_CLIENTS_MAX; i++)
		if (c->clients[i].w.fd >= 0)
			cp_control_drop(&c->clients[i], true);
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->listen.fd, NULL);
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->timer.fd, NULL);
	close(c->listen.fd);
	close(c->timer.fd);
	unlink(c->path);
	free(c);
}
