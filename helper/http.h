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

/* Called as data arrives, for streamed bodies; non-zero aborts the transfer. */
typedef int (*cp_http_sink)(void *ctx, const void *buf, size_t len);

struct cp_http_result {
	bool transport_ok;	/* an HTTP answer arrived whole */
	long status;
	const char *body;	/* NUL-terminated; NULL for streamed bodies */
	size_t body_len;
	bool too_big;		/* the answer exceeded the limit and was cut */
	uint32_t retry_after_s;	/* from a Retry-After header, or 0 */
	const char *error;	/* curl's reason when !transport_ok */
};

typedef void (*cp_http_done)(void *ctx, const struct cp_http_result *res);

struct cp_http *cp_http_new(int epfd, const char *ca_file, uint32_t timeout_ms,
			    uint32_t keep_conn_s);
void cp_http_free(struct cp_http *h);

/*
 * Start a request.  @bearer and @json_body may be NULL.  Without @sink the
 * answer is kept, up to @max_body bytes.  Returns 0 or -errno.
 */
int cp_http_start(struct cp_http *h, const char *method, const char *url, const char *bearer,
		  const char *json_body, size_t max_body, cp_http_sink sink, cp_http_done done,
		  void *ctx);
/* Drop every request under way without calling its done callback. */
void cp_http_cancel_all(struct cp_http *h);
unsigned int cp_http_active(const struct cp_http *h);
/* Requests started since creation. */
uint64_t cp_http_started(const struct cp_http *h);

#endif
