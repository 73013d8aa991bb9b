/* SPDX-License-Identifier: GPL-2.0 */
/*
 * HTTPS requests on the daemon's own epoll loop: the curl multi socket API,
 * its sockets in epoll and its timeout in one timerfd.  TLS verification is
 * always on; connections and TLS sessions are reused between requests.
 */
#ifndef CP_HTTP_H
#define CP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cp_http;
struct cp_http_req;

/*
 * Called as data arrives, for streamed bodies of a 2xx answer (the body of
 * any other answer is kept, up to 16 KiB, and given in the result as for a
 * request without a sink): 0 takes the bytes,
 * CP_HTTP_SINK_PAUSE takes none of them and pauses the transfer until
 * cp_http_resume(@r) (the same bytes then come again), anything else
 * aborts it.
 */
#define CP_HTTP_SINK_PAUSE	1
typedef int (*cp_http_sink)(void *ctx, struct cp_http_req *r, const void *buf, size_t len);

struct cp_http_result {
	bool transport_ok;	/* an HTTP answer arrived whole */
	long status;
	const char *body;	/* NUL-terminated; "" for a streamed 2xx body */
	size_t body_len;
	bool too_big;		/* the answer exceeded the limit and was cut */
	uint32_t retry_after_s;	/* from a Retry-After header, or 0 */
	const char *error;	/* curl's reason when !transport_ok */
};

typedef void (*cp_http_done)(void *ctx, const struct cp_http_result *res);

/*
 * @ca_file ("" or NULL: the system's CAs) is the only trust anchor when
 * given; @pin ("" or NULL: none) is a CURLOPT_PINNEDPUBLICKEY list of
 * "sha256//BASE64" hashes the server's key must match.  TLS 1.2 at least.
 */
struct cp_http *cp_http_new(int epfd, const char *ca_file, const char *pin,
			    uint32_t timeout_ms, uint32_t keep_conn_s);
void cp_http_free(struct cp_http *h);
/*
 * Run what curl wants done at once (it asked for a 0 ms timeout).  The
 * event loop calls it before each wait; true means more is due at once, so
 * the wait must not block (other events still get their turn).
 */
bool cp_http_run_due(struct cp_http *h);

/*
 * Start a request.  @bearer and @json_body may be NULL.  Without @sink the
 * answer is kept, up to @max_body bytes.  Returns 0 or -errno.
 */
int cp_http_start(struct cp_http *h, const char *method, const char *url, const char *bearer,
		  const char *json_body, size_t max_body, cp_http_sink sink, cp_http_done done,
		  void *ctx);
/*
 * Streamed answers of long-lived requests (an event stream): bytes of a 200
 * answer, handed over outside curl's callbacks, so the callee may start and
 * cancel requests, this one included.
 */
typedef void (*cp_http_stream_fn)(void *ctx, const char *buf, size_t len);

/*
 * Start a long-lived GET of @content_type (e.g. "text/event-stream"): no
 * overall time limit, only the connect timeout.  A 200 answer of that type
 * goes to @data as it arrives; any other answer is kept, up to @max_body
 * bytes, and handed to @done like a short request's.  @done also reports the
 * end of the stream (the server closed it, or the connection failed).  The
 * request is returned in @out for cp_http_cancel().
 */
int cp_http_stream(struct cp_http *h, const char *url, const char *bearer,
		   const char *content_type, size_t max_body, cp_http_stream_fn data,
		   cp_http_done done, void *ctx, struct cp_http_req **out);
/*
 * Drop one request under way without calling its done callback.  Does
 * nothing if @r already ended (its done callback was called).
 */
void cp_http_cancel(struct cp_http *h, struct cp_http_req *r);
/* Let a transfer paused by its sink go on; may call the sink at once. */
void cp_http_resume(struct cp_http *h, struct cp_http_req *r);
/* Drop every request under way without calling its done callback. */
void cp_http_cancel_all(struct cp_http *h);
/* The same, but for @keep (may be NULL). */
void cp_http_cancel_others(struct cp_http *h, struct cp_http_req *keep);
/*
 * Close every connection but @keep's (may be NULL), the idle ones curl
 * keeps for reuse included: after a deletion none stays open at the
 * server.  Call it with no other request under way.
 */
void cp_http_close_idle(struct cp_http *h, struct cp_http_req *keep);
unsigned int cp_http_active(const struct cp_http *h);
/* Requests started since creation. */
uint64_t cp_http_started(const struct cp_http *h);

#endif
