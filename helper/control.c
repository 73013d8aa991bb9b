// SPDX-License-Identifier: GPL-2.0
/* The control socket; see control.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "log.h"

#define CP_CONTROL_LINE_MAX	512

struct cp_control {
	struct cp_watch listen;
	int epfd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	cp_control_fn fn;
	void *ctx;
};

void cp_control_reply(int fd, const char *json)
{
	size_t len = strlen(json);

	if (write(fd, json, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
		cp_dbg("control: client went away before the reply");
	close(fd);
}

static void cp_control_on_accept(struct cp_watch *w, uint32_t events)
{
	struct cp_control *c = (struct cp_control *)w;
	char line[CP_CONTROL_LINE_MAX + 1];
	struct timeval tv = { .tv_sec = 2 };
	ssize_t n;
	int fd;

	(void)events;
	fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	/* A client has two seconds to say its one line. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = recv(fd, line, CP_CONTROL_LINE_MAX, 0);
	if (n <= 0) {
		close(fd);
		return;
	}
	line[n] = '\0';
	if (!memchr(line, '\n', n) && n == CP_CONTROL_LINE_MAX) {
		cp_control_reply(fd, "{\"ok\":false,\"error\":\"command line too long\"}");
		return;
	}
	line[strcspn(line, "\r\n")] = '\0';
	c->fn(c->ctx, fd, line);
}

struct cp_control *cp_control_new(int epfd, const char *path, cp_control_fn fn, void *ctx)
{
	struct cp_control *c = calloc(1, sizeof(*c));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN };

	if (!c)
		return NULL;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		cp_err("control socket path %s is too long", path);
		free(c);
		return NULL;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	c->epfd = epfd;
	c->fn = fn;
	c->ctx = ctx;
	c->listen.fn = cp_control_on_accept;
	c->listen.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->listen.fd < 0)
		goto err;
	unlink(path);
	if (bind(c->listen.fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0660) ||
	    listen(c->listen.fd, 8)) {
		cp_err("control socket %s: %m", path);
		goto err;
	}
	ev.data.ptr = &c->listen;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->listen.fd, &ev))
		goto err;
	return c;
err:
	if (c->listen.fd >= 0)
		close(c->listen.fd);
	free(c);
	return NULL;
}

void cp_control_free(struct cp_control *c)
{
	if (!c)
		return;
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->listen.fd, NULL);
	close(c->listen.fd);
	unlink(c->path);
	free(c);
}
