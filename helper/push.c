// SPDX-License-Identifier: GPL-2.0
/* Push mode's event stream; see push.h. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "push.h"
#include "timer.h"

/* Error answers (JSON) of a refused stream are small. */
#define CP_PUSH_ERROR_BODY_MAX	(64 * 1024)

const char *cp_push_state_name(enum cp_push_state s)
{
	static const char *const names[] = { "idle", "connecting", "open", "draining" };

	return (unsigned int)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

const char *cp_push_end_name(enum cp_push_end e)
{
	static const char *const names[] = {
		"refused", "closed", "dead", "bad stream", "drained", "grace period over",
	};

	return (unsigned int)e < sizeof(names) / sizeof(names[0]) ? names[e] : "?";
}

static uint32_t cp_push_drain_elapsed(const struct cp_push *p)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint32_t)((now.tv_sec - p->drain_start.tv_sec) * 1000 +
			  (now.tv_nsec - p->drain_start.tv_nsec) / 1000000);
}

/* Drop the request and report @why. */
static void cp_push_end(struct cp_push *p, enum cp_push_end why,
			const struct cp_http_result *res)
{
	if (p->req)
		cp_http_cancel(p->http, p->req);
	p->req = NULL;
	cp_timer_disarm(p->timer.fd);
	p->state = CP_PUSH_IDLE;
	p->ops->ended(p->ctx, why, res);
}

static int cp_push_on_sse_event(void *ctx, const struct cp_sse_event *ev)
{
	struct cp_push *p = ctx;

	p->events++;
	p->last_event_at = time(NULL);
	cp_dbg("push: event %s: %.200s", ev->type, ev->data);
	p->ops->event(p->ctx, ev->type, ev->data, ev->data_len);
	/* The callee closed or drained the stream: the rest is not read. */
	return p->state == CP_PUSH_OPEN ? 0 : -ECANCELED;
}

static const struct cp_sse_callbacks cp_push_sse_cb = {
	.on_event = cp_push_on_sse_event,
};

static void cp_push_on_data(void *ctx, const char *buf, size_t len)
{
	struct cp_push *p = ctx;
	int r;

	if (p->state == CP_PUSH_DRAINING || p->state == CP_PUSH_IDLE)
		return;		/* after a deletion nothing is read */
	if (p->state == CP_PUSH_CONNECTING) {
		/* A new stream: nothing of the last one carries over. */
		cp_sse_reset(&p->sse);
		p->state = CP_PUSH_OPEN;
		p->opened_at = time(NULL);
		p->streams_opened++;
		p->ops->opened(p->ctx);
		if (p->state != CP_PUSH_OPEN)
			return;
	}
	cp_timer_arm(p->timer.fd, p->timeout_ms);
	r = cp_sse_feed(&p->sse, buf, len);
	if (r == -EMSGSIZE && p->state == CP_PUSH_OPEN) {
		cp_warn("push: a line or an event of the stream is over the limit; dropping it");
		cp_push_end(p, CP_PUSH_END_BAD_STREAM, NULL);
	}
}

static void cp_push_on_done(void *ctx, const struct cp_http_result *res)
{
	struct cp_push *p = ctx;
	enum cp_push_state was = p->state;

	p->req = NULL;		/* it is freed after this call */
	if (was == CP_PUSH_IDLE)
		return;
	if (was == CP_PUSH_DRAINING) {
		p->drain_ms = cp_push_drain_elapsed(p);
		cp_push_end(p, CP_PUSH_END_DRAINED, NULL);
	} else if (was == CP_PUSH_OPEN || (res->transport_ok && res->status == 200)) {
		cp_push_end(p, CP_PUSH_END_CLOSED, res);
	} else {
		cp_push_end(p, CP_PUSH_END_REFUSED, res);
	}
}

static void cp_push_on_timer(struct cp_watch *w, uint32_t events)
{
	struct cp_push *p = (struct cp_push *)((char *)w - offsetof(struct cp_push, timer));
	(void)events;
	if (!cp_timer_consume(w->fd))
		return;
	if (p->state == CP_PUSH_DRAINING) {
		p->drain_ms = cp_push_drain_elapsed(p);
		cp_push_end(p, CP_PUSH_END_GRACE, NULL);
	} else if (p->state != CP_PUSH_IDLE) {
		cp_push_end(p, CP_PUSH_END_DEAD, NULL);
	}
}

int cp_push_init(struct cp_push *p, int epfd, struct cp_http *http, uint32_t timeout_ms,
		 const struct cp_push_ops *ops, void *ctx)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int r;

	memset(p, 0, sizeof(*p));
	p->epfd = epfd;
	p->http = http;
	p->timeout_ms = timeout_ms;
	p->ops = ops;
	p->ctx = ctx;
	r = cp_sse_init(&p->sse, NULL, &cp_push_sse_cb, p);
	if (r)
		return r;
	p->timer.fd = cp_timer_new();
	p->timer.fn = cp_push_on_timer;
	ev.data.ptr = &p->timer;
	if (p->timer.fd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, p->timer.fd, &ev)) {
		r = p->timer.fd < 0 ? p->timer.fd : -errno;
		if (p->timer.fd >= 0)
			close(p->timer.fd);
		cp_sse_free(&p->sse);
		return r;
	}
	return 0;
}

void cp_push_free(struct cp_push *p)
{
	cp_push_close(p);
	epoll_ctl(p->epfd, EPOLL_CTL_DEL, p->timer.fd, NULL);
	close(p->timer.fd);
	cp_sse_free(&p->sse);
}

int cp_push_open(struct cp_push *p, const char *url, const char *bearer)
{
	int r;

	if (p->state != CP_PUSH_IDLE)
		return -EBUSY;
	r = cp_http_stream(p->http, url, bearer, "text/event-stream", CP_PUSH_ERROR_BODY_MAX,
			   cp_push_on_data, cp_push_on_done, p, &p->req);
	if (r)
		return r;
	p->state = CP_PUSH_CONNECTING;
	/* A server that accepts and never answers is as dead as a silent one. */
	cp_timer_arm(p->timer.fd, p->timeout_ms);
	return 0;
}

void cp_push_close(struct cp_push *p)
{
	if (p->req)
		cp_http_cancel(p->http, p->req);
	p->req = NULL;
	cp_timer_disarm(p->timer.fd);
	p->state = CP_PUSH_IDLE;
}

void cp_push_drain(struct cp_push *p, uint32_t grace_ms)
{
	if (p->state != CP_PUSH_OPEN) {
		cp_push_close(p);
		return;
	}
	p->state = CP_PUSH_DRAINING;
	clock_gettime(CLOCK_MONOTONIC, &p->drain_start);
	cp_timer_arm(p->timer.fd, grace_ms);
}
