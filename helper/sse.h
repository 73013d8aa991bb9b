/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Incremental text/event-stream (Server-Sent Events) parser for push mode.
 *
 * Follows the WHATWG HTML "Server-sent events" parsing rules
 * (html.spec.whatwg.org/multipage/server-sent-events.html): CRLF, LF or a
 * lone CR end a line (a CR at the end of one chunk and an LF at the start of
 * the next are one line end); a UTF-8 BOM is skipped only at stream start;
 * lines starting with ':' are comments; a line without ':' is a field with
 * an empty value; one space after the ':' is stripped; unknown fields are
 * ignored; a blank line dispatches the event if at least one data field was
 * seen; an incomplete event at end of stream is discarded.  Memory is
 * allocated once, in cp_sse_init(), from the limits (4 * (max_line + 1) +
 * max_data + 1 bytes: about 80 KiB with the defaults); the parser never
 * grows past them, and a line or an event over its limit stops the stream with
 * -EMSGSIZE so the daemon can drop the connection.
 *
 * The parser works on bytes: it does not decode UTF-8 (the spec replaces
 * invalid sequences with U+FFFD; here they reach the callbacks unchanged,
 * and the daemon's JSON parser rejects them).  A NUL byte is U+0000.
 *
 * Last event ID: the spec keeps a "last event ID buffer" (set by id fields,
 * reported with each event) and a "last event ID string" (copied from the
 * buffer at every blank line, sent as Last-Event-ID on reconnection).  Both
 * persist across events; cp_sse_finish() rolls the buffer back to the
 * string, so an id field of an incomplete event at end of stream is
 * forgotten, as a browser does.
 *
 * Callbacks must not call cp_sse_feed(), cp_sse_finish(), cp_sse_reset() or
 * cp_sse_free() on the same parser; return a negative errno to stop instead.
 *
 * Errors are sticky: once cp_sse_feed() or cp_sse_finish() returned a
 * negative value, every later call returns the same value until
 * cp_sse_reset().
 */
#ifndef CP_SSE_H
#define CP_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CP_SSE_DEFAULT_MAX_LINE	4096u	/* bytes, without the line end */
#define CP_SSE_DEFAULT_MAX_DATA	65536u	/* bytes of joined data, without NUL */
#define CP_SSE_LIMIT_CAP	(16u << 20)	/* largest accepted limit */

struct cp_sse_limits {
	size_t max_line;	/* 0: CP_SSE_DEFAULT_MAX_LINE */
	size_t max_data;	/* 0: CP_SSE_DEFAULT_MAX_DATA */
};

/* One dispatched event; the pointers are valid only during on_event(). */
struct cp_sse_event {
	const char *type;	/* "message" unless an event field set it; NUL-terminated */
	size_t type_len;	/* bytes; > strlen(type) if the name holds a NUL */
	const char *data;	/* data lines joined with '\n', NUL-terminated */
	size_t data_len;	/* <= max_data; data may hold NUL bytes */
	const char *id;		/* last event ID ("" if none); persists across events */
	size_t id_len;		/* never contains NUL, so == strlen(id) */
	bool has_retry;		/* a valid retry field was seen in this event block */
	uint32_t retry_ms;	/* its value (saturated at UINT32_MAX) if has_retry */
};

struct cp_sse_callbacks {
	/* Required.  A negative return stops parsing and is returned by
	 * cp_sse_feed() (and sticks). */
	int (*on_event)(void *ctx, const struct cp_sse_event *ev);
	/* Optional.  @text is what follows the ':' (not NUL-terminated).
	 * Same return convention as on_event. */
	int (*on_comment)(void *ctx, const char *text, size_t len);
};

struct cp_sse {
	/* read-only for users: */
	uint64_t lines;		/* complete lines seen (incl. comments, blank): a
				 * dead-connection watchdog can compare it */
	uint64_t comments;	/* comment lines seen (keep-alives) */
	uint32_t retry_ms;	/* stream reconnection time from the last valid
				 * retry field, 0 if none yet; survives finish() */
	bool has_retry_ms;

	/* private: */
	struct cp_sse_limits lim;
	struct cp_sse_callbacks cb;
	void *ctx;
	char *line;		/* max_line + 1 */
	size_t line_len;
	char *data;		/* max_data + 1 */
	size_t data_len;
	bool data_seen;		/* a data field in this block */
	char *type;		/* max_line + 1 */
	size_t type_len;
	char *id;		/* max_line + 1: the last event ID buffer */
	size_t id_len;
	char *last_id;		/* max_line + 1: the last event ID string */
	size_t last_id_len;
	bool blk_has_retry;
	uint32_t blk_retry;
	unsigned int bom_pos;	/* BOM bytes matched at stream start */
	bool bom_done;
	bool last_cr;		/* the last byte consumed was a CR line end */
	int err;		/* sticky error, 0 if none */
};

/*
 * Allocate the buffers and start a stream.  @lim may be NULL (defaults);
 * a zero field takes its default; a field above CP_SSE_LIMIT_CAP, or a NULL
 * @cb / @cb->on_event, gives -EINVAL.  -ENOMEM if allocation fails.  On
 * error nothing is left allocated.
 */
int cp_sse_init(struct cp_sse *s, const struct cp_sse_limits *lim,
		const struct cp_sse_callbacks *cb, void *ctx);

/*
 * Consume @len bytes of the stream, any chunking.  Returns 0, -EMSGSIZE if a
 * line exceeds max_line or an event's data exceeds max_data, or a callback's
 * negative return.  Parsing stops at the first error (sticky).
 */
int cp_sse_feed(struct cp_sse *s, const char *buf, size_t len);

/*
 * End of stream (connection closed): discard the incomplete line and event,
 * as the spec says.  The last event ID string and the reconnection time
 * persist (the ID buffer rolls back to the string), and the BOM state is
 * rearmed, so the same parser can take the next connection's stream.
 * Returns 0 or the sticky error (which stays until cp_sse_reset()).
 */
int cp_sse_finish(struct cp_sse *s);

/*
 * The last event ID string (NUL-terminated, never holds a NUL; "" if none),
 * for the Last-Event-ID header of the next connection.  @len may be NULL.
 * Valid until the next call on @s.
 */
const char *cp_sse_last_event_id(const struct cp_sse *s, size_t *len);

/* Back to the state right after cp_sse_init(): clears the last event ID,
 * the reconnection time, the counters and a sticky error. */
void cp_sse_reset(struct cp_sse *s);

/* Free the buffers; also safe after a failed cp_sse_init().  @s may then
 * be initialised again. */
void cp_sse_free(struct cp_sse *s);

#endif /* CP_SSE_H */
