/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Push mode's event stream: one long-lived GET /v1/printers/{id}/events on
 * the daemon's HTTP client, its text/event-stream parsed as it arrives, a
 * dead-connection watchdog, and the drain after a deletion (wait for the
 * server to close, then close it ourselves when the grace period is over).
 *
 * What to do with events, when to reconnect and how long to wait is the
 * daemon's business: this file only runs one stream at a time and reports
 * what happened to it.
 */
#ifndef CP_PUSH_H
#define CP_PUSH_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "http.h"
#include "sse.h"
#include "watch.h"

enum cp_push_state {
	CP_PUSH_IDLE,		/* no stream */
	CP_PUSH_CONNECTING,	/* asked, no event-stream bytes yet */
	CP_PUSH_OPEN,		/* the stream is flowing */
	CP_PUSH_DRAINING,	/* after a deletion: waiting for the server to close */
};

/* How a stream ended. */
enum cp_push_end {
	CP_PUSH_END_REFUSED,	/* never opened: an error answer, or no answer */
	CP_PUSH_END_CLOSED,	/* the server closed it, or the connection dropped */
	CP_PUSH_END_DEAD,	/* nothing arrived within the timeout: we closed it */
	CP_PUSH_END_BAD_STREAM,	/* a line or event over the parser's limits: we closed it */
	CP_PUSH_END_DRAINED,	/* the server closed it within the grace period */
	CP_PUSH_END_GRACE,	/* the grace period ran out: we closed it */
};

struct cp_push_ops {
	/* The server answered with the event stream. */
	void (*opened)(void *ctx);
	/*
	 * One event.  @type and @data are NUL-terminated and valid during the
	 * call.  The callee may call cp_push_close() or cp_push_drain().
	 */
	void (*event)(void *ctx, const char *type, const char *data, size_t len);
	/*
	 * The stream is over and the state is back to idle.  @res is the
	 * answer for CP_PUSH_END_REFUSED and CP_PUSH_END_CLOSED (with its body
	 * if the server refused), NULL otherwise.
	 */
	void (*ended)(void *ctx, enum cp_push_end why, const struct cp_http_result *res);
};

struct cp_push {
	/* read-only for users: */
	enum cp_push_state state;
	time_t opened_at;		/* wall clock, of the current or last stream */
	time_t last_event_at;		/* wall clock, any event (pings included) */
	uint64_t streams_opened;
	uint64_t events;
	uint32_t drain_ms;		/* how long the last drain took */

	/* private: */
	struct cp_http *http;
	struct cp_http_req *req;
	struct cp_sse sse;
	struct cp_watch timer;		/* dead-connection watchdog, or the grace period */
	int epfd;
	uint32_t timeout_ms;
	struct timespec drain_start;
	const struct cp_push_ops *ops;
	void *ctx;
};

const char *cp_push_state_name(enum cp_push_state s);
const char *cp_push_end_name(enum cp_push_end e);

/* A stream is declared dead after @timeout_ms without a byte. */
int cp_push_init(struct cp_push *p, int epfd, struct cp_http *http, uint32_t timeout_ms,
		 const struct cp_push_ops *ops, void *ctx);
void cp_push_free(struct cp_push *p);

/* Ask for the stream at @url; only from the idle state (-EBUSY otherwise). */
int cp_push_open(struct cp_push *p, const char *url, const char *bearer);
/* Close the stream now, without an ended() report.  Idle: nothing. */
void cp_push_close(struct cp_push *p);
/*
 * Stop reading events and give the server @grace_ms to close the stream;
 * then close it.  ended() reports which.  A stream that is not open is
 * closed at once, without a report.
 */
void cp_push_drain(struct cp_push *p, uint32_t grace_ms);

#endif
