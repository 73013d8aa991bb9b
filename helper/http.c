// SPDX-License-Identifier: GPL-2.0
/* HTTPS requests with curl multi on epoll; see http.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "http.h"
#include "log.h"
#include "timer.h"
#include "version.h"
#include "watch.h"

/* A socket curl opened, and the transfer using it now (NULL: idle). */
struct cp_http_fd {
	int fd;
	CURL *easy;
};

struct cp_http {
	CURLM *multi;
	CURLSH *share;
	int epfd;
	struct cp_watch timer;
	bool due;		/* curl asked for its timeout now (0 ms) */
	char *ca_file;
	char *pin;		/* CURLOPT_PINNEDPUBLICKEY, or NULL */
	uint32_t timeout_ms;
	uint32_t keep_conn_s;
	struct cp_http_req *reqs;
	struct cp_http_req *finishing;	/* off the list, its callbacks under way */
	unsigned int active;
	uint64_t started;
	/* Every socket curl has open, idle ones in its cache included. */
	struct cp_http_fd *socks;
	size_t n_socks, max_socks;
};

/* Bytes of an event stream held between curl's callback and their delivery. */
#define CP_HTTP_STREAM_PENDING_MAX	(256 * 1024)
#define CP_HTTP_ERROR_BODY_MAX		(16 * 1024)	/* the body of a streamed request's error */

enum cp_http_stream_state {
	CP_HTTP_STREAM_NONE,		/* a short request */
	CP_HTTP_STREAM_WAITING,		/* no answer yet */
	CP_HTTP_STREAM_OPEN,		/* 200 of the wanted type: bytes go to stream_fn */
	CP_HTTP_STREAM_REFUSED,		/* another answer: kept like a short one's */
};

struct cp_http_req {
	struct cp_http *h;
	struct cp_http_req *next;
	CURL *easy;
	struct curl_slist *headers;
	char *req_body;
	char *body;
	size_t len, max;
	bool too_big;
	cp_http_sink sink;
	int sink_answer;		/* 0 not known yet, 1 a 2xx (the sink's), -1 kept */
	cp_http_done done;
	void *ctx;
	char errbuf[CURL_ERROR_SIZE];

	enum cp_http_stream_state stream;
	char stream_type[64];
	cp_http_stream_fn stream_fn;
	char *pending;
	size_t pending_len;
};

struct cp_http_sock {
	struct cp_watch w;
	struct cp_http *h;
};

static void cp_http_check_done(struct cp_http *h);
static void cp_http_deliver(struct cp_http *h);

static void cp_http_req_unlink(struct cp_http_req *r)
{
	struct cp_http_req **p;

	for (p = &r->h->reqs; *p; p = &(*p)->next) {
		if (*p == r) {
			*p = r->next;
			break;
		}
	}
	r->next = NULL;
}

static void cp_http_req_free(struct cp_http_req *r)
{
	cp_http_req_unlink(r);
	curl_multi_remove_handle(r->h->multi, r->easy);
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	free(r->req_body);
	free(r->body);
	free(r->pending);
	r->h->active--;
	free(r);
}

static void cp_http_on_socket(struct cp_watch *w, uint32_t events)
{
	struct cp_http_sock *s = (struct cp_http_sock *)w;
	int flags = 0, running;

	if (events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	struct cp_http *h = s->h;	/* s may be freed inside */

	curl_multi_socket_action(h->multi, w->fd, flags, &running);
	cp_http_deliver(h);
	cp_http_check_done(h);
}

static int cp_http_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *sockp)
{
	struct cp_http *h = userp;
	struct cp_http_sock *s = sockp;
	struct epoll_event ev = { 0 };

	for (size_t i = 0; i < h->n_socks; i++)
		if (h->socks[i].fd == fd)
			h->socks[i].easy = what == CURL_POLL_REMOVE ? NULL : easy;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			epoll_ctl(h->epfd, EPOLL_CTL_DEL, fd, NULL);
			curl_multi_assign(h->multi, fd, NULL);
			free(s);
		}
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		ev.events |= EPOLLIN;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		ev.events |= EPOLLOUT;
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -1;
		s->w.fd = fd;
		s->w.fn = cp_http_on_socket;
		s->h = h;
		ev.data.ptr = s;
		curl_multi_assign(h->multi, fd, s);
		return epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev) ? -1 : 0;
	}
	ev.data.ptr = s;
	return epoll_ctl(h->epfd, EPOLL_CTL_MOD, fd, &ev) ? -1 : 0;
}

static int cp_http_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct cp_http *h = userp;

	(void)multi;
	/*
	 * "Now" is left to cp_http_run_due() before the loop's next wait:
	 * a timerfd armed for 0 ms would cost a wakeup of its own.
	 */
	h->due = timeout_ms == 0;
	if (timeout_ms <= 0)
		cp_timer_disarm(h->timer.fd);
	else
		cp_timer_arm(h->timer.fd, timeout_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)timeout_ms);
	return 0;
}

static curl_socket_t cp_http_open_cb(void *clientp, curlsocktype purpose,
				     struct curl_sockaddr *a)
{
	struct cp_http *h = clientp;
	int fd;

	(void)purpose;
	if (h->n_socks == h->max_socks) {
		size_t max = h->max_socks ? 2 * h->max_socks : 8;
		struct cp_http_fd *p = realloc(h->socks, max * sizeof(*p));

		if (!p)
			return CURL_SOCKET_BAD;
		h->socks = p;
		h->max_socks = max;
	}
	fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	if (fd < 0)
		return CURL_SOCKET_BAD;
	h->socks[h->n_socks].fd = fd;
	h->socks[h->n_socks++].easy = NULL;
	return fd;
}

static int cp_http_close_cb(void *clientp, curl_socket_t fd)
{
	struct cp_http *h = clientp;

	for (size_t i = 0; i < h->n_socks; i++) {
		if (h->socks[i].fd == fd) {
			h->socks[i] = h->socks[--h->n_socks];
			break;
		}
	}
	return close(fd);
}

void cp_http_close_idle(struct cp_http *h, struct cp_http_req *keep)
{
	unsigned int n = 0;

	/*
	 * curl keeps idle connections in its cache until it needs one again.
	 * Shut them down now (FIN to the server); the descriptors stay curl's,
	 * and a later request finds the connection dead and opens a new one.
	 * @keep's socket is the one curl watches for it (CURLINFO_ACTIVESOCKET
	 * knows no socket of a transfer still under way).
	 */
	for (size_t i = 0; i < h->n_socks; i++) {
		if (keep && h->socks[i].easy == keep->easy)
			continue;
		if (!shutdown(h->socks[i].fd, SHUT_RDWR))
			n++;
	}
	if (n)
		cp_dbg("http: %u idle connection(s) closed", n);
}

static void cp_http_timeout_action(struct cp_http *h)
{
	int running;

	h->due = false;
	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	cp_http_deliver(h);
	cp_http_check_done(h);
}

bool cp_http_run_due(struct cp_http *h)
{
	if (h->due)
		cp_http_timeout_action(h);
	return h->due;
}

static void cp_http_on_timer(struct cp_watch *w, uint32_t events)
{
	struct cp_http *h = (struct cp_http *)((char *)w - offsetof(struct cp_http, timer));
	uint64_t n;

	(void)events;
	if (read(w->fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		cp_warn("http: timerfd read: %m");
	cp_http_timeout_action(h);
}

static void cp_http_check_done(struct cp_http *h)
{
	struct cp_http_result res;
	struct cp_http_req *r;
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(h->multi, &left))) {
		curl_off_t ra = 0;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		memset(&res, 0, sizeof(res));
		res.transport_ok = msg->data.result == CURLE_OK;
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &res.status);
		if (curl_easy_getinfo(r->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
			res.retry_after_s = ra > 86400 ? 86400 : (uint32_t)ra;
		res.too_big = r->too_big;
		if (r->too_big)
			res.transport_ok = false;
		res.body = r->body;
		res.body_len = r->len;
		res.error = r->errbuf[0] ? r->errbuf : curl_easy_strerror(msg->data.result);
		if (msg->data.result == CURLE_SSL_PINNEDPUBKEYNOTMATCH)
			res.error = "TLS: the server's public key does not match pinned_public_key";
		/*
		 * The callback may start requests or cancel them all: take
		 * this one off the list first so a cancel cannot free it.
		 */
		curl_multi_remove_handle(h->multi, r->easy);
		cp_http_req_unlink(r);
		h->finishing = r;
		/* The stream's last bytes before its end. */
		if (r->pending_len)
			r->stream_fn(r->ctx, r->pending, r->pending_len);
		if (r->done)
			r->done(r->ctx, &res);
		h->finishing = NULL;
		cp_http_req_free(r);
	}
}

/*
 * Hand each stream's pending bytes to its owner.  The owner may start or
 * cancel requests, so the list is walked again from the start each time.
 */
static void cp_http_deliver(struct cp_http *h)
{
	struct cp_http_req *r;
	char *buf;
	size_t n;

again:
	for (r = h->reqs; r; r = r->next) {
		if (!r->pending_len)
			continue;
		buf = r->pending;
		n = r->pending_len;
		r->pending = NULL;
		r->pending_len = 0;
		r->stream_fn(r->ctx, buf, n);
		free(buf);
		goto again;
	}
}

/* The first bytes of a stream's answer: is it the stream, or an error? */
static void cp_http_stream_classify(struct cp_http_req *r)
{
	const char *type = NULL;
	long status = 0;

	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &type);
	if (status == 200 && type &&
	    !strncasecmp(type, r->stream_type, strlen(r->stream_type)))
		r->stream = CP_HTTP_STREAM_OPEN;
	else
		r->stream = CP_HTTP_STREAM_REFUSED;
}

static size_t cp_http_stream_append(struct cp_http_req *r, const char *data, size_t n)
{
	char *p;

	if (r->pending_len + n > CP_HTTP_STREAM_PENDING_MAX) {
		/* The owner is not reading: drop the connection, not memory. */
		r->too_big = true;
		return 0;
	}
	p = realloc(r->pending, r->pending_len + n);
	if (!p)
		return 0;
	memcpy(p + r->pending_len, data, n);
	r->pending = p;
	r->pending_len += n;
	return n;
}

static size_t cp_http_write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct cp_http_req *r = userp;
	size_t n = size * nmemb;

	if (r->stream == CP_HTTP_STREAM_WAITING)
		cp_http_stream_classify(r);
	if (r->stream == CP_HTTP_STREAM_OPEN)
		return cp_http_stream_append(r, data, n);
	if (r->sink && !r->sink_answer) {
		long status = 0;

		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
		r->sink_answer = status >= 200 && status < 300 ? 1 : -1;
	}
	if (r->sink_answer > 0) {
		int ret = r->sink(r->ctx, r, data, n);

		if (ret == CP_HTTP_SINK_PAUSE)
			return CURL_WRITEFUNC_PAUSE;
		return ret ? 0 : n;
	}
	if (r->len + n > r->max) {
		r->too_big = true;
		return 0;
	}
	memcpy(r->body + r->len, data, n);
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

struct cp_http *cp_http_new(int epfd, const char *ca_file, const char *pin,
			    uint32_t timeout_ms, uint32_t keep_conn_s)
{
	struct cp_http *h = calloc(1, sizeof(*h));
	struct epoll_event ev = { .events = EPOLLIN };

	if (!h)
		return NULL;
	h->epfd = epfd;
	h->timeout_ms = timeout_ms;
	h->keep_conn_s = keep_conn_s;
	h->ca_file = ca_file && ca_file[0] ? strdup(ca_file) : NULL;
	h->pin = pin && pin[0] ? strdup(pin) : NULL;
	h->timer.fd = cp_timer_new();
	h->timer.fn = cp_http_on_timer;
	h->multi = curl_multi_init();
	h->share = curl_share_init();
	if (h->timer.fd < 0 || !h->multi || !h->share)
		goto err;
	/* TLS sessions survive between requests and connections. */
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, cp_http_socket_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, cp_http_timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	ev.data.ptr = &h->timer;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, h->timer.fd, &ev))
		goto err;
	return h;
err:
	cp_http_free(h);
	return NULL;
}

void cp_http_free(struct cp_http *h)
{
	if (!h)
		return;
	cp_http_cancel_all(h);
	if (h->multi)
		curl_multi_cleanup(h->multi);
	if (h->share)
		curl_share_cleanup(h->share);
	if (h->timer.fd >= 0) {
		epoll_ctl(h->epfd, EPOLL_CTL_DEL, h->timer.fd, NULL);
		close(h->timer.fd);
	}
	free(h->ca_file);
	free(h->pin);
	free(h->socks);
	free(h);
}

/* A request set up but not started: the parts all requests share. */
static struct cp_http_req *cp_http_req_new(struct cp_http *h, const char *method, const char *url,
					   const char *bearer, const char *accept,
					   size_t max_body, bool keep_body)
{
	struct cp_http_req *r = calloc(1, sizeof(*r));
	char hdr[1200];

	if (!r)
		return NULL;
	r->h = h;
	r->max = max_body;
	r->easy = curl_easy_init();
	if (keep_body)
		r->body = malloc(max_body + 1);
	if (!r->easy || (keep_body && !r->body)) {
		curl_easy_cleanup(r->easy);
		free(r->body);
		free(r);
		return NULL;
	}
	if (r->body)
		r->body[0] = '\0';
	snprintf(hdr, sizeof(hdr), "Accept: %s", accept);
	r->headers = curl_slist_append(NULL, hdr);
	if (bearer) {
		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", bearer);
		r->headers = curl_slist_append(r->headers, hdr);
	}
	curl_easy_setopt(r->easy, CURLOPT_URL, url);
	curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, method);
	if (!strcmp(method, "GET"))
		curl_easy_setopt(r->easy, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(r->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(r->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	/* TLS 1.2 at least, whatever the system's OpenSSL configuration allows. */
	curl_easy_setopt(r->easy, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (h->ca_file) {
		/*
		 * ca_file is the only trust anchor: without this, libcurl's
		 * built-in CA directory (/etc/ssl/certs) is trusted too.
		 */
		curl_easy_setopt(r->easy, CURLOPT_CAINFO, h->ca_file);
		curl_easy_setopt(r->easy, CURLOPT_CAPATH, NULL);
	}
	if (h->pin)
		curl_easy_setopt(r->easy, CURLOPT_PINNEDPUBLICKEY, h->pin);
	curl_easy_setopt(r->easy, CURLOPT_SHARE, h->share);
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)h->timeout_ms);
	/* How long an idle connection may wait for reuse (curl's default: 118 s). */
	curl_easy_setopt(r->easy, CURLOPT_MAXAGE_CONN, (long)h->keep_conn_s);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_OPENSOCKETFUNCTION, cp_http_open_cb);
	curl_easy_setopt(r->easy, CURLOPT_OPENSOCKETDATA, h);
	curl_easy_setopt(r->easy, CURLOPT_CLOSESOCKETFUNCTION, cp_http_close_cb);
	curl_easy_setopt(r->easy, CURLOPT_CLOSESOCKETDATA, h);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, cp_http_write_cb);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->easy, CURLOPT_USERAGENT, "cloudprintd/" CP_VERSION);
	return r;
}

static int cp_http_req_go(struct cp_http_req *r)
{
	struct cp_http *h = r->h;

	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
	r->next = h->reqs;
	h->reqs = r;
	h->active++;
	h->started++;
	if (curl_multi_add_handle(h->multi, r->easy) != CURLM_OK) {
		cp_http_req_free(r);
		return -EIO;
	}
	return 0;
}

int cp_http_start(struct cp_http *h, const char *method, const char *url, const char *bearer,
		  const char *json_body, size_t max_body, cp_http_sink sink, cp_http_done done,
		  void *ctx)
{
	/* A streamed request keeps the body of an answer that is not a 2xx. */
	struct cp_http_req *r = cp_http_req_new(h, method, url, bearer, "application/json",
						sink && max_body > CP_HTTP_ERROR_BODY_MAX ?
						CP_HTTP_ERROR_BODY_MAX : max_body, true);

	if (!r)
		return -ENOMEM;
	r->sink = sink;
	r->done = done;
	r->ctx = ctx;
	if (json_body) {
		r->req_body = strdup(json_body);
		r->headers = curl_slist_append(r->headers, "Content-Type: application/json");
		curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->req_body);
		curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(r->req_body));
	}
	if (sink) {
		/*
		 * A download may be long: what counts is that bytes keep
		 * coming, so it is bounded by idle time, not total time.
		 */
		curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_TIME,
				 (long)((h->timeout_ms + 999) / 1000));
	} else {
		curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)h->timeout_ms);
	}
	return cp_http_req_go(r);
}

int cp_http_stream(struct cp_http *h, const char *url, const char *bearer,
		   const char *content_type, size_t max_body, cp_http_stream_fn data,
		   cp_http_done done, void *ctx, struct cp_http_req **out)
{
	struct cp_http_req *r = cp_http_req_new(h, "GET", url, bearer, content_type, max_body,
						true);
	int ret;

	if (!r)
		return -ENOMEM;
	r->stream = CP_HTTP_STREAM_WAITING;
	snprintf(r->stream_type, sizeof(r->stream_type), "%s", content_type);
	r->stream_fn = data;
	r->done = done;
	r->ctx = ctx;
	/* The server closes the connection at the end of the stream. */
	curl_easy_setopt(r->easy, CURLOPT_FORBID_REUSE, 1L);
	ret = cp_http_req_go(r);
	*out = ret ? NULL : r;
	return ret;
}

void cp_http_cancel(struct cp_http *h, struct cp_http_req *r)
{
	struct cp_http_req *p;

	/* Cancelled by its own last bytes: it ends without a done call. */
	if (r == h->finishing) {
		r->done = NULL;
		return;
	}
	for (p = h->reqs; p; p = p->next) {
		if (p == r) {
			cp_http_req_free(r);
			return;
		}
	}
}

void cp_http_resume(struct cp_http *h, struct cp_http_req *r)
{
	struct cp_http_req *p;

	for (p = h->reqs; p; p = p->next) {
		if (p == r) {
			curl_easy_pause(r->easy, CURLPAUSE_CONT);
			/* Unpausing may have ended it: collect what finished. */
			cp_http_check_done(h);
			return;
		}
	}
}

void cp_http_cancel_all(struct cp_http *h)
{
	cp_http_cancel_others(h, NULL);
}

void cp_http_cancel_others(struct cp_http *h, struct cp_http_req *keep)
{
	struct cp_http_req **p = &h->reqs;

	while (*p) {
		if (*p == keep)
			p = &(*p)->next;
		else
			cp_http_req_free(*p);	/* unlinks *p */
	}
	if (h->finishing && h->finishing != keep)
		h->finishing->done = NULL;
}

unsigned int cp_http_active(const struct cp_http *h)
{
	return h->active;
}

uint64_t cp_http_started(const struct cp_http *h)
{
	return h->started;
}
