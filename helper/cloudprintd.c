// SPDX-License-Identifier: GPL-2.0
/*
 * cloudprintd: the printer's cloud print daemon.
 *
 * One thread, one epoll set: the curl multi sockets and timer, the poll
 * timer, the driver's netlink events, a signalfd and the control socket;
 * in push mode also the event stream's watchdog and the heartbeat timer.
 * The poll timer is "the next thing to ask the cloud": a jobs poll in
 * polling mode, a (re)connection of the event stream in push mode.
 * The registration state machine is policy.c; this file carries out its
 * actions: talk to the cloud, stream jobs into the driver, and on a
 * detected deletion lock the driver down, apply the policy to the
 * credentials, and fall silent.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "backoff.h"
#include "cloud.h"
#include "config.h"
#include "control.h"
#include "creds.h"
#include "crashpoint.h"
#include "devmon.h"
#include "detect.h"
#include "engine.h"
#include "http.h"
#include "jobfeed.h"
#include "lock.h"
#include "log.h"
#include "policy.h"
#include "push.h"
#include "timer.h"
#include "watch.h"

#define CPD_JSON_MAX		(256 * 1024)	/* largest JSON answer accepted */
#define CPD_JOBS_MAX		8		/* downloads at once */
#define CPD_JOB_SIZE_MAX	(64ULL << 20)	/* refuse bigger jobs */
#define CPD_RETRY_AFTER_MAX_MS	(3600U * 1000)
#define CPD_URL_LEN		(CP_URL_MAX + 256)
#define CPD_ENGINE_RETRY_MS	200		/* node there, netlink family not yet */
/*
 * The cloud closes a connection idle for 60 s (docs/protocol.md, section 1).
 * Reusing one idle almost that long races the server's close, so such a
 * connection is dropped and a new one made.
 */
#define CPD_KEEP_CONN_S		55

struct cpd_job {
	bool active;
	char id[64];
	char name[64];
	char sha256[65];
	uint64_t size;
	uint64_t got;
	EVP_MD_CTX *md;
	struct cp_engine_job ej;
	struct cp_jobfeed feed;		/* into ej.fd, never blocking */
	struct cp_watch room;		/* ej.fd in epoll: EPOLLOUT while waiting */
	bool waiting;			/* for room in the driver */
	struct cp_http_req *paused;	/* the download, paused for room */
	bool downloaded;		/* complete and checked; commit once written */
	struct cpd *d;
};

/* A cloud job handed to the driver, waiting for its completion event. */
struct cpd_printing {
	uint64_t engine_job;
	char id[64];
};

struct cpd {
	struct cp_config cfg;
	const char *cfg_path;
	int epfd;
	bool running;
	bool failed;			/* stopped by an error: exit status 1 */
	bool kernel_events;		/* -k: no udevd, follow the kernel's uevents */

	/* The engine, followed with udev: it may come after us, or go. */
	struct cp_devmon *devmon;
	struct cp_watch devices;
	struct cp_watch engine_retry;
	char engine_node[32];
	bool engine_up;
	struct cp_engine eng;
	struct cp_http *http;
	struct cp_control *ctl;
	struct cp_watch poll_timer;
	struct cp_watch heartbeat_timer;
	struct cp_watch events;
	struct cp_watch signals;

	enum cp_state state;
	struct cp_creds creds;
	struct cp_backoff backoff;
	struct cp_confirm confirm;
	bool request_in_flight;		/* a poll, registration poll or refresh */

	/* Push mode. */
	struct cp_push push;
	bool resync;			/* a job download failed: list the jobs again */
	bool heartbeat_in_flight;
	uint64_t heartbeats, reconnects;
	char stream_end[160];		/* how the last stream ended */

	/* Registration under way. */
	char reg_id[128];
	char reg_token[512];
	char claim_code[64];
	char claim_url[256];
	int reg_client;			/* control client waiting for the claim code */

	struct cpd_job jobs[CPD_JOBS_MAX];
	struct cpd_printing printing[64];

	uint32_t poll_advice_ms;	/* the cloud's poll_interval, 0: none */

	/* For status. */
	uint64_t polls, detections, jobs_printed, jobs_failed;
	time_t last_contact;
	char last_error[256];
	char detection[512];
	double locked_at;		/* wall clock of the last lockdown, s */
};

static void cpd_schedule_poll(struct cpd *d, uint32_t ms);
static void cpd_on_deletion(struct cpd *d);
static void cpd_apply(struct cpd *d, enum cp_event ev);

/* ---- helpers ---- */

/* server + @a + @b + @c */
static void cpd_url(const struct cpd *d, char *buf, size_t len, const char *a, const char *b,
		    const char *c)
{
	snprintf(buf, len, "%s%s%s%s", d->cfg.server, a, b, c);
}

static void cpd_error(struct cpd *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cpd_error(struct cpd *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->last_error, sizeof(d->last_error), fmt, ap);
	va_end(ap);
	cp_warn("%s", d->last_error);
}

static struct cp_answer cpd_answer(const struct cp_http_result *res)
{
	struct cp_answer a = {
		.transport_ok = res->transport_ok,
		.status = res->status,
		.body = res->body,
		.body_len = res->body_len,
	};
	return a;
}

/* Classify an answer, keeping the status fields up to date. */
static enum cp_verdict cpd_classify(struct cpd *d, const char *what, const struct cp_http_result *res)
{
	struct cp_answer a = cpd_answer(res);
	enum cp_verdict v = cp_classify(d->cfg.patterns, d->cfg.n_patterns, &a);

	if (res->transport_ok)
		d->last_contact = time(NULL);
	if (v == CP_VERDICT_DELETED) {
		snprintf(d->detection, sizeof(d->detection), "%s answered HTTP %ld: %.200s", what,
			 res->status, res->body ? res->body : "");
	} else if (v != CP_VERDICT_OK) {
		if (!res->transport_ok)
			cpd_error(d, "%s: %s%s", what, res->too_big ? "answer too big: " : "",
				  res->error);
		else
			cpd_error(d, "%s: HTTP %ld (%s)", what, res->status, cp_verdict_name(v));
	}
	return v;
}

/* Any request to the cloud goes through here: nothing leaves unless allowed. */
static int cpd_request(struct cpd *d, const char *method, const char *url, const char *bearer,
		       const char *body, cp_http_sink sink, cp_http_done done, void *ctx)
{
	if (d->state != CP_STATE_REGISTERED && d->state != CP_STATE_REGISTERING) {
		cp_err("refusing %s %s in state %s", method, url, cp_state_name(d->state));
		return -EPERM;
	}
	cp_dbg("%s %s", method, url);
	return cp_http_start(d->http, method, url, bearer, body, CPD_JSON_MAX, sink, done, ctx);
}

/* Wait after a failure: backoff, or what the server asked. */
static void cpd_retry_later(struct cpd *d, enum cp_verdict v, const struct cp_http_result *res)
{
	uint32_t ms = cp_backoff_next(&d->backoff, cp_rand, NULL);

	if (v == CP_VERDICT_RATE_LIMITED || res->retry_after_s)
		ms = cp_backoff_retry_after(ms, res->retry_after_s, CPD_RETRY_AFTER_MAX_MS);
	cp_info("retrying in %u ms (attempt %u)", ms, d->backoff.attempt);
	cpd_schedule_poll(d, ms);
}

/* The configured interval, or the cloud's if it asks for a slower pace. */
static uint32_t cpd_poll_base(const struct cpd *d)
{
	return d->poll_advice_ms > d->cfg.poll_interval_ms ? d->poll_advice_ms :
							     d->cfg.poll_interval_ms;
}

static uint32_t cpd_poll_delay(const struct cpd *d)
{
	uint32_t base = cpd_poll_base(d);
	uint32_t spread = base / 100 * d->cfg.poll_jitter_pct;

	if (!spread)
		return base;
	return base - spread + cp_rand(NULL) % (2 * spread + 1);
}

/* ---- jobs ---- */

static void cpd_post_status(struct cpd *d, const char *job_id, const char *state, long crc,
			    const char *detail);
static void cpd_resync_later(struct cpd *d);

static void cpd_job_wait_room(struct cpd_job *j, bool on)
{
	struct epoll_event ev = { .events = on ? EPOLLOUT : 0, .data.ptr = &j->room };

	if (j->waiting != on && !epoll_ctl(j->d->epfd, EPOLL_CTL_MOD, j->ej.fd, &ev))
		j->waiting = on;
}

static void cpd_job_end(struct cpd_job *j)
{
	if (j->ej.fd >= 0)
		epoll_ctl(j->d->epfd, EPOLL_CTL_DEL, j->ej.fd, NULL);
	j->waiting = false;
	j->paused = NULL;
	cp_jobfeed_release(&j->feed);
	cp_engine_job_abort(&j->ej);	/* no-op once committed */
	if (j->md)
		EVP_MD_CTX_free(j->md);
	j->md = NULL;
	j->active = false;
}

/*
 * Bytes of a job from the network.  When the driver has no room (its
 * spool is full of jobs waiting for the engine) the download pauses until
 * it has: the loop never blocks on the driver.
 */
static int cpd_job_sink(void *ctx, struct cp_http_req *req, const void *buf, size_t len)
{
	struct cpd_job *j = ctx;
	int r;

	if (j->got + len > j->size)
		return -EFBIG;
	r = cp_jobfeed_offer(&j->feed, buf, len);
	if (r < 0) {
		cp_warn("job %s: driver refused data: %s", j->id, strerror(-r));
		return r;
	}
	if (r == CP_FEED_FULL) {
		if (!j->paused)
			cp_dbg("job %s: the driver is full, download paused at %llu bytes", j->id,
			       (unsigned long long)j->got);
		j->paused = req;
		cpd_job_wait_room(j, true);
		return CP_HTTP_SINK_PAUSE;
	}
	EVP_DigestUpdate(j->md, buf, len);
	j->got += len;
	if (cp_jobfeed_pending(&j->feed))
		cpd_job_wait_room(j, true);
	return 0;
}

static void cpd_job_commit(struct cpd_job *j);

/* The driver has room again for a job's bytes. */
static void cpd_on_job_room(struct cp_watch *w, uint32_t events)
{
	struct cpd_job *j = (struct cpd_job *)((char *)w - offsetof(struct cpd_job, room));
	struct cpd *d = j->d;
	struct cp_http_req *req = j->paused;
	int r;

	(void)events;
	r = cp_jobfeed_flush(&j->feed);
	if (r == CP_FEED_FULL)
		return;
	if (r < 0) {
		/* Flushed by a lockdown, or the driver failed: drop the download. */
		cp_warn("job %s: driver refused data: %s", j->id, strerror(-r));
		if (req)
			cp_http_cancel(d->http, req);
		cpd_job_end(j);
		if (d->cfg.mode == CP_MODE_PUSH && d->state == CP_STATE_REGISTERED)
			cpd_resync_later(d);
		return;
	}
	cpd_job_wait_room(j, false);
	if (j->downloaded) {
		cpd_job_commit(j);
	} else if (req) {
		j->paused = NULL;
		cp_dbg("job %s: room in the driver, download resumed", j->id);
		cp_http_resume(d->http, req);	/* may pause it again at once */
	}
}

static void cpd_job_done(void *ctx, const struct cp_http_result *res)
{
	struct cpd_job *j = ctx;
	struct cpd *d = j->d;
	unsigned char md[32];
	char hex[65];
	enum cp_verdict v = cpd_classify(d, "job data", res);
	unsigned int i;

	if (v == CP_VERDICT_DELETED) {
		cpd_job_end(j);
		cpd_on_deletion(d);
		return;
	}
	if (v != CP_VERDICT_OK || j->got != j->size) {
		/* Not a verdict on the job: it stays listed and comes back. */
		cp_warn("job %s: download failed (%ld, %llu/%llu bytes); will retry", j->id,
			res->status, (unsigned long long)j->got, (unsigned long long)j->size);
		cpd_job_end(j);
		/* Polling lists it again; a stream only on reconnection. */
		if (d->cfg.mode == CP_MODE_PUSH && d->state == CP_STATE_REGISTERED)
			cpd_resync_later(d);
		return;
	}
	EVP_DigestFinal_ex(j->md, md, NULL);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (strcmp(hex, j->sha256)) {
		cp_warn("job %s: SHA-256 mismatch, aborted before printing", j->id);
		d->jobs_failed++;
		cpd_post_status(d, j->id, "failed", -1, "sha256 mismatch");
		cpd_job_end(j);
		return;
	}
	j->downloaded = true;
	/* The last bytes may still wait for room in the driver. */
	if (cp_jobfeed_pending(&j->feed))
		cpd_job_wait_room(j, true);
	else
		cpd_job_commit(j);
}

/* Every byte is in the driver and the SHA-256 checked out: print it. */
static void cpd_job_commit(struct cpd_job *j)
{
	struct cpd *d = j->d;
	unsigned int i;

	if (cp_engine_job_commit(&j->ej)) {
		cpd_error(d, "job %s: commit refused", j->id);
		cpd_job_end(j);
		return;
	}
	for (i = 0; i < sizeof(d->printing) / sizeof(d->printing[0]); i++) {
		if (!d->printing[i].engine_job) {
			d->printing[i].engine_job = j->ej.id;
			snprintf(d->printing[i].id, sizeof(d->printing[i].id), "%s", j->id);
			break;
		}
	}
	cp_info("job %s (%s, %llu bytes) handed to the engine as job %llu", j->id, j->name,
		(unsigned long long)j->size, (unsigned long long)j->ej.id);
	cpd_post_status(d, j->id, "printing", -1, NULL);
	cpd_job_end(j);
}

static bool cpd_job_known(const struct cpd *d, const char *id)
{
	for (unsigned int i = 0; i < CPD_JOBS_MAX; i++)
		if (d->jobs[i].active && !strcmp(d->jobs[i].id, id))
			return true;
	for (unsigned int i = 0; i < sizeof(d->printing) / sizeof(d->printing[0]); i++)
		if (d->printing[i].engine_job && !strcmp(d->printing[i].id, id))
			return true;
	return false;
}

/* Put the job's driver file in the loop, quiet until it waits for room. */
static int cpd_job_watch(struct cpd_job *j)
{
	struct epoll_event ev = { .events = 0, .data.ptr = &j->room };

	cp_jobfeed_init(&j->feed, j->ej.fd);
	j->room.fd = j->ej.fd;
	j->room.fn = cpd_on_job_room;
	return epoll_ctl(j->d->epfd, EPOLL_CTL_ADD, j->ej.fd, &ev);
}

static void cpd_job_start(struct cpd *d, const struct cp_cloud_job *cj)
{
	struct cpd_job *j = NULL;
	size_t slen = strlen(d->cfg.server);
	int r;

	if (cpd_job_known(d, cj->id))
		return;
	if (cj->refused) {
		cpd_error(d, "job %s: %s", cj->id, cj->refused);
		cpd_post_status(d, cj->id, "failed", -1, cj->refused);
		return;
	}
	/* Never send our token anywhere but our server. */
	if (strncmp(cj->data_url, d->cfg.server, slen) || cj->data_url[slen] != '/') {
		cpd_error(d, "job %s: data_url on another server, refused", cj->id);
		cpd_post_status(d, cj->id, "failed", -1, "data_url on another server");
		return;
	}
	for (unsigned int i = 0; i < CPD_JOBS_MAX; i++)
		if (!d->jobs[i].active)
			j = &d->jobs[i];
	if (!j)
		return;		/* all slots busy: the next poll lists it again */

	memset(j, 0, sizeof(*j));
	j->d = d;
	_Static_assert(sizeof(j->id) == sizeof(cj->id), "job id sizes");
	_Static_assert(sizeof(j->name) == sizeof(cj->name), "job name sizes");
	_Static_assert(sizeof(j->sha256) == sizeof(cj->sha256), "job sha256 sizes");
	memcpy(j->id, cj->id, sizeof(j->id));
	memcpy(j->name, cj->name, sizeof(j->name));
	memcpy(j->sha256, cj->sha256, sizeof(j->sha256));
	j->size = cj->size;
	r = cp_engine_job_begin(&d->eng, &j->ej, j->id, j->name, j->size);
	if (r) {
		cpd_error(d, "job %s: the driver refused it: %s", j->id, strerror(-r));
		return;
	}
	if (cpd_job_watch(j)) {
		cpd_error(d, "job %s: epoll: %s", j->id, strerror(errno));
		cp_engine_job_abort(&j->ej);
		return;
	}
	j->md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(j->md, EVP_sha256(), NULL);
	j->active = true;
	r = cpd_request(d, "GET", cj->data_url, d->creds.access_token, NULL, cpd_job_sink,
			cpd_job_done, j);
	if (r)
		cpd_job_end(j);
}

static void cpd_status_done(void *ctx, const struct cp_http_result *res)
{
	struct cpd *d = ctx;

	if (cpd_classify(d, "job status", res) == CP_VERDICT_DELETED)
		cpd_on_deletion(d);
}

static void cpd_post_status(struct cpd *d, const char *job_id, const char *state, long crc,
			    const char *detail)
{
	char url[CPD_URL_LEN];
	cJSON *o = cJSON_CreateObject();
	char *body;

	cJSON_AddStringToObject(o, "state", state);
	if (crc >= 0)
		cJSON_AddNumberToObject(o, "crc32", (double)crc);
	if (detail)
		cJSON_AddStringToObject(o, "detail", detail);
	body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	cpd_url(d, url, sizeof(url), "/v1/jobs/", job_id, "/status");
	cpd_request(d, "POST", url, d->creds.access_token, body, NULL, cpd_status_done, d);
	free(body);
}

static void cpd_on_engine_event(void *ctx, const struct cp_engine_event *ev)
{
	struct cpd *d = ctx;
	bool ok;

	if (ev->cmd != PRENGINE_CMD_JOB_DONE && ev->cmd != PRENGINE_CMD_JOB_FLUSHED)
		return;
	for (unsigned int i = 0; i < sizeof(d->printing) / sizeof(d->printing[0]); i++) {
		struct cpd_printing *p = &d->printing[i];

		if (p->engine_job != ev->job_id)
			continue;
		ok = ev->result == PRENGINE_RESULT_PRINTED;
		cp_info("job %s: %s on the engine, crc32 %08x", p->id, ok ? "printed" : "ended",
			ev->crc32);
		ok ? d->jobs_printed++ : d->jobs_failed++;
		/* After a lockdown the cloud hears nothing more. */
		if (d->state == CP_STATE_REGISTERED)
			cpd_post_status(d, p->id, ok ? "done" : "aborted", ev->crc32, NULL);
		p->engine_job = 0;
	}
}

static void cpd_on_events(struct cp_watch *w, uint32_t events)
{
	struct cpd *d = (struct cpd *)((char *)w - offsetof(struct cpd, events));

	(void)events;
	if (cp_engine_events_read(&d->eng, cpd_on_engine_event, d) == -ENOBUFS)
		cp_warn("driver events were lost; completions may be missing");
}

/* ---- polling ---- */

static void cpd_poll_jobs(struct cpd *d);
static void cpd_poll_registration(struct cpd *d);
static void cpd_push_next(struct cpd *d);

static void cpd_token_done(void *ctx, const struct cp_http_result *res)
{
	struct cpd *d = ctx;
	enum cp_verdict v = cpd_classify(d, "token refresh", res);
	char tok[sizeof(d->creds.access_token)];

	d->request_in_flight = false;
	if (v == CP_VERDICT_DELETED) {
		cpd_on_deletion(d);
		return;
	}
	if (v != CP_VERDICT_OK) {
		cpd_retry_later(d, v, res);
		return;
	}
	if (cp_cloud_parse_token(res->body, res->body_len, tok, sizeof(tok))) {
		cpd_error(d, "token refresh: malformed answer");
		cpd_retry_later(d, CP_VERDICT_TRANSIENT, res);
		return;
	}
	memcpy(d->creds.access_token, tok, sizeof(tok));
	if (cp_creds_store(d->cfg.state_dir, &d->creds))
		cpd_error(d, "could not store the refreshed token");
	cp_info("access token refreshed");
	cpd_schedule_poll(d, 0);
}

static void cpd_refresh_token(struct cpd *d)
{
	char url[CPD_URL_LEN];
	cJSON *o = cJSON_CreateObject();
	char *body;

	cJSON_AddStringToObject(o, "printer_secret", d->creds.secret);
	body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	cpd_url(d, url, sizeof(url), "/v1/printers/", d->creds.printer_id, "/token");
	d->request_in_flight = !cpd_request(d, "POST", url, NULL, body, NULL, cpd_token_done, d);
	free(body);
}

/*
 * A jobs answer may carry the pace the cloud wants (docs/protocol.md, 5.1).
 * It can slow the printer down, never speed it up past its poll_interval.
 */
static void cpd_take_poll_advice(struct cpd *d, uint32_t advice)
{
	if (advice == CP_CLOUD_POLL_ADVICE_BAD) {
		cpd_error(d, "jobs poll: the answer's poll_interval is not a number of seconds "
			  "between %d and %d; ignored", CP_CLOUD_POLL_ADVICE_MIN_S,
			  CP_CLOUD_POLL_ADVICE_MAX_S);
		advice = 0;
	}
	if (advice == d->poll_advice_ms)
		return;
	d->poll_advice_ms = advice;
	if (d->cfg.mode == CP_MODE_POLL)
		cp_info("the cloud advises polling every %u ms: polling every %u ms", advice,
			cpd_poll_base(d));
}

static void cpd_jobs_done(void *ctx, const struct cp_http_result *res)
{
	struct cpd *d = ctx;
	enum cp_verdict v = cpd_classify(d, "jobs poll", res);
	static struct cp_cloud_job jobs[CP_CLOUD_JOBS_MAX];
	size_t n, skipped;
	uint32_t advice;

	d->request_in_flight = false;
	d->polls++;
	if (v == CP_VERDICT_DELETED) {
		if (cp_confirm_feed(&d->confirm, v))
			cpd_on_deletion(d);
		else
			cpd_schedule_poll(d, cpd_poll_delay(d));
		return;
	}
	cp_confirm_feed(&d->confirm, v);
	if (v == CP_VERDICT_TOKEN_EXPIRED) {
		d->resync = d->cfg.mode == CP_MODE_PUSH;
		cpd_refresh_token(d);
		return;
	}
	if (v != CP_VERDICT_OK) {
		d->resync = d->cfg.mode == CP_MODE_PUSH;
		cpd_retry_later(d, v, res);
		return;
	}
	if (cp_cloud_parse_jobs(res->body, res->body_len, CPD_JOB_SIZE_MAX, jobs,
				CP_CLOUD_JOBS_MAX, &n, &skipped, &advice)) {
		cpd_error(d, "jobs poll: the answer has no jobs array");
		cpd_retry_later(d, CP_VERDICT_TRANSIENT, res);
		return;
	}
	cp_backoff_reset(&d->backoff);
	d->last_error[0] = '\0';
	cpd_take_poll_advice(d, advice);
	if (skipped)
		cpd_error(d, "jobs list: %zu entr(ies) of the wrong shape, skipped", skipped);
	for (size_t i = 0; i < n && d->state == CP_STATE_REGISTERED; i++)
		cpd_job_start(d, &jobs[i]);
	if (d->state == CP_STATE_REGISTERED && d->cfg.mode == CP_MODE_POLL)
		cpd_schedule_poll(d, cpd_poll_delay(d));
	else if (d->state == CP_STATE_REGISTERED && d->push.state == CP_PUSH_IDLE &&
		 !cp_timer_armed(d->poll_timer.fd))
		cpd_schedule_poll(d, 0);	/* the stream ended while the list was asked for */
}

static void cpd_poll_jobs(struct cpd *d)
{
	char url[CPD_URL_LEN];

	cpd_url(d, url, sizeof(url), "/v1/printers/", d->creds.printer_id, "/jobs");
	d->request_in_flight = !cpd_request(d, "GET", url, d->creds.access_token, NULL, NULL,
					    cpd_jobs_done, d);
}

static void cpd_on_poll_timer(struct cp_watch *w, uint32_t events)
{
	struct cpd *d = (struct cpd *)((char *)w - offsetof(struct cpd, poll_timer));
	(void)events;
	if (!cp_timer_consume(w->fd))
		return;
	if (d->request_in_flight)
		return;
	if (d->state == CP_STATE_REGISTERED && d->cfg.mode == CP_MODE_PUSH)
		cpd_push_next(d);
	else if (d->state == CP_STATE_REGISTERED)
		cpd_poll_jobs(d);
	else if (d->state == CP_STATE_REGISTERING)
		cpd_poll_registration(d);
}

static void cpd_schedule_poll(struct cpd *d, uint32_t ms)
{
	cp_timer_arm(d->poll_timer.fd, ms);
}

static void cpd_stop_poll(struct cpd *d)
{
	cp_timer_disarm(d->poll_timer.fd);
}

/* ---- push mode ---- */

/*
 * Count @v towards the confirmation of a deletion; once confirmed, act on
 * it and return true.
 */
static bool cpd_deletion_confirmed(struct cpd *d, enum cp_verdict v)
{
	if (!cp_confirm_feed(&d->confirm, v))
		return false;
	cpd_on_deletion(d);
	return true;
}

/* A job download failed: ask for the jobs list once, after a backoff. */
static void cpd_resync_later(struct cpd *d)
{
	d->resync = true;
	if (!cp_timer_armed(d->poll_timer.fd))
		cpd_schedule_poll(d, cp_backoff_next(&d->backoff, cp_rand, NULL));
}

/* The poll timer in push mode: connect the stream, or list the jobs once. */
static void cpd_push_next(struct cpd *d)
{
	char url[CPD_URL_LEN];
	int r;

	if (d->push.state != CP_PUSH_IDLE) {
		if (d->resync) {
			d->resync = false;
			cpd_poll_jobs(d);
		}
		return;
	}
	/* On connection the server lists every pending job: no resync needed. */
	d->resync = false;
	cpd_url(d, url, sizeof(url), "/v1/printers/", d->creds.printer_id, "/events");
	cp_dbg("GET %s (event stream)", url);
	r = cp_push_open(&d->push, url, d->creds.access_token);
	if (r) {
		cpd_error(d, "event stream: could not start: %s", strerror(-r));
		cpd_schedule_poll(d, cp_backoff_next(&d->backoff, cp_rand, NULL));
	}
}

static void cpd_heartbeat_done(void *ctx, const struct cp_http_result *res)
{
	struct cpd *d = ctx;
	enum cp_verdict v = cpd_classify(d, "heartbeat", res);
	uint32_t next_s;
	uint32_t ms = d->cfg.heartbeat_interval_ms;

	d->heartbeat_in_flight = false;
	if (cpd_deletion_confirmed(d, v))
		return;
	if (v == CP_VERDICT_TOKEN_EXPIRED && !d->request_in_flight)
		cpd_refresh_token(d);
	if (v == CP_VERDICT_OK && !cp_cloud_parse_heartbeat(res->body, res->body_len, &next_s))
		ms = next_s * 1000;
	/* A failed heartbeat is not retried early: the stream has its own backoff. */
	if (d->state == CP_STATE_REGISTERED)
		cp_timer_arm(d->heartbeat_timer.fd, ms);
}

static void cpd_heartbeat(struct cpd *d)
{
	char url[CPD_URL_LEN];

	if (d->heartbeat_in_flight)
		return;
	cpd_url(d, url, sizeof(url), "/v1/printers/", d->creds.printer_id, "/heartbeat");
	d->heartbeat_in_flight = !cpd_request(d, "POST", url, d->creds.access_token, "{}", NULL,
					      cpd_heartbeat_done, d);
	if (d->heartbeat_in_flight)
		d->heartbeats++;
}

static void cpd_on_heartbeat_timer(struct cp_watch *w, uint32_t events)
{
	struct cpd *d = (struct cpd *)((char *)w - offsetof(struct cpd, heartbeat_timer));
	(void)events;
	if (cp_timer_consume(w->fd) && d->state == CP_STATE_REGISTERED &&
	    d->cfg.mode == CP_MODE_PUSH)
		cpd_heartbeat(d);
}

static void cpd_push_opened(void *ctx)
{
	struct cpd *d = ctx;

	d->last_contact = time(NULL);
	cp_info("event stream open");
	/* The first heartbeat goes with the first stream; then its own pace. */
	if (!cp_timer_armed(d->heartbeat_timer.fd))
		cpd_heartbeat(d);
}

/* registration_deleted: is it about us? */
static bool cpd_deleted_event_is_ours(const struct cpd *d, const char *data, size_t len)
{
	cJSON *o = cJSON_ParseWithLength(data, len);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "printer_id");
	bool ours = cJSON_IsString(id) && !strcmp(id->valuestring, d->creds.printer_id);

	cJSON_Delete(o);
	return ours;
}

static void cpd_push_event(void *ctx, const char *type, const char *data, size_t len)
{
	static struct cp_cloud_job job;
	struct cpd *d = ctx;

	if (d->state != CP_STATE_REGISTERED)
		return;
	d->last_contact = time(NULL);
	/* A stream that carries events is a good one: start the backoff again. */
	cp_backoff_reset(&d->backoff);
	if (!strcmp(type, "ping"))
		return;
	if (!strcmp(type, "job")) {
		if (cp_cloud_parse_job(data, len, CPD_JOB_SIZE_MAX, &job)) {
			cpd_error(d, "event stream: a job event of the wrong shape, ignored: %.100s",
				  data);
			return;
		}
		cpd_job_start(d, &job);
		return;
	}
	if (!strcmp(type, "registration_deleted")) {
		if (!cpd_deleted_event_is_ours(d, data, len)) {
			cpd_error(d, "event stream: registration_deleted for another printer, "
				  "ignored: %.100s", data);
			return;
		}
		snprintf(d->detection, sizeof(d->detection),
			 "event stream: registration_deleted (event id %s)",
			 cp_sse_last_event_id(&d->push.sse, NULL));
		cpd_on_deletion(d);
		return;
	}
	cp_dbg("event stream: unknown event %s ignored", type);
}

static void cpd_push_ended(void *ctx, enum cp_push_end why, const struct cp_http_result *res)
{
	struct cpd *d = ctx;
	uint32_t ms, hint;
	enum cp_verdict v;

	snprintf(d->stream_end, sizeof(d->stream_end), "%s", cp_push_end_name(why));
	if (why == CP_PUSH_END_DRAINED || why == CP_PUSH_END_GRACE) {
		snprintf(d->stream_end, sizeof(d->stream_end), "%s after %u ms",
			 why == CP_PUSH_END_DRAINED ? "closed by the server" :
			 "closed by the printer: grace period over", d->push.drain_ms);
		cp_info("event stream %s", d->stream_end);
		return;
	}
	if (d->state != CP_STATE_REGISTERED)
		return;
	if (why == CP_PUSH_END_REFUSED) {
		v = cpd_classify(d, "event stream", res);
		if (cpd_deletion_confirmed(d, v))
			return;
		if (v == CP_VERDICT_TOKEN_EXPIRED) {
			cpd_refresh_token(d);	/* reconnects once refreshed */
			return;
		}
		if (v == CP_VERDICT_OK)
			cpd_error(d, "event stream: HTTP %ld but not an event stream", res->status);
	} else if (why == CP_PUSH_END_CLOSED) {
		if (res->transport_ok)
			cpd_error(d, "event stream closed by the server");
		else
			cpd_error(d, "event stream dropped: %s", res->error);
	} else if (why == CP_PUSH_END_DEAD) {
		cpd_error(d, "event stream silent for %u ms: dead, closed",
			  d->cfg.stream_timeout_ms);
	} else {
		cpd_error(d, "event stream: a line or an event over the limits, closed");
	}
	/*
	 * Reconnect after the backoff.  After a clean close by the server its
	 * retry field, if any, is the least wait (within the backoff cap), as
	 * the event-stream spec means it; failures follow the backoff alone.
	 */
	ms = cp_backoff_next(&d->backoff, cp_rand, NULL);
	if (res && (res->retry_after_s || res->status == 429))
		ms = cp_backoff_retry_after(ms, res->retry_after_s, CPD_RETRY_AFTER_MAX_MS);
	hint = 0;
	if (why == CP_PUSH_END_CLOSED && res->transport_ok && d->push.sse.has_retry_ms)
		hint = d->push.sse.retry_ms;
	if (hint > d->cfg.backoff_cap_ms)
		hint = d->cfg.backoff_cap_ms;
	if (ms < hint)
		ms = hint;
	d->reconnects++;
	cp_info("event stream: reconnecting in %u ms (attempt %u)", ms, d->backoff.attempt);
	cpd_schedule_poll(d, ms);
}

static const struct cp_push_ops cpd_push_ops = {
	.opened = cpd_push_opened,
	.event = cpd_push_event,
	.ended = cpd_push_ended,
};

/* ---- registration ---- */

static void cpd_reply_register(struct cpd *d, bool ok, const char *error)
{
	cJSON *o;
	char *s;

	if (d->reg_client < 0)
		return;
	o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "ok", ok);
	if (ok) {
		cJSON_AddStringToObject(o, "printer_id", d->reg_id);
		cJSON_AddStringToObject(o, "claim_code", d->claim_code);
		cJSON_AddStringToObject(o, "claim_url", d->claim_url);
	} else {
		cJSON_AddStringToObject(o, "error", error);
	}
	s = cJSON_PrintUnformatted(o);
	cp_control_reply(d->reg_client, s);
	free(s);
	cJSON_Delete(o);
	d->reg_client = -1;
}

static void cpd_registration_done(void *ctx, const struct cp_http_result *res)
{
	struct cpd *d = ctx;
	enum cp_verdict v = cpd_classify(d, "registration poll", res);
	struct cp_creds c = { 0 };
	int r;

	d->request_in_flight = false;
	if (v == CP_VERDICT_DELETED) {
		cp_warn("the registration was deleted before the claim");
		cpd_apply(d, CP_EV_DELETION);
		return;
	}
	if (v != CP_VERDICT_OK) {
		cpd_retry_later(d, v, res);
		return;
	}
	r = cp_cloud_parse_claim(res->body, res->body_len, c.secret, sizeof(c.secret),
				 c.access_token, sizeof(c.access_token));
	if (r < 0) {
		cpd_error(d, "registration poll: malformed answer");
		cpd_retry_later(d, CP_VERDICT_TRANSIENT, res);
		return;
	}
	if (r == 1) {
		snprintf(c.printer_id, sizeof(c.printer_id), "%s", d->reg_id);
		d->creds = c;
		cp_info("claimed by its owner: printer %s", d->reg_id);
		cpd_apply(d, CP_EV_CLAIMED);
		return;
	}
	cp_backoff_reset(&d->backoff);
	cpd_schedule_poll(d, d->cfg.poll_interval_ms);
}

static void cpd_poll_registration(struct cpd *d)
{
	char url[CPD_URL_LEN];

	cpd_url(d, url, sizeof(url), "/v1/printers/", d->reg_id, "/registration");
	d->request_in_flight = !cpd_request(d, "GET", url, d->reg_token, NULL, NULL,
					    cpd_registration_done, d);
}

static void cpd_register_done(void *ctx, const struct cp_http_result *res)
{
	struct cpd *d = ctx;
	enum cp_verdict v = cpd_classify(d, "register", res);
	struct cp_cloud_reg reg;

	d->request_in_flight = false;
	if (v != CP_VERDICT_OK || cp_cloud_parse_register(res->body, res->body_len, &reg)) {
		cpd_reply_register(d, false, d->last_error[0] ? d->last_error :
				   "malformed answer from the cloud");
		cpd_apply(d, CP_EV_REGISTER_FAILED);
		return;
	}
	memcpy(d->reg_id, reg.printer_id, sizeof(d->reg_id));
	memcpy(d->reg_token, reg.token, sizeof(d->reg_token));
	memcpy(d->claim_code, reg.claim_code, sizeof(d->claim_code));
	memcpy(d->claim_url, reg.claim_url, sizeof(d->claim_url));
	/* The claim code is the owner's: on the control socket, not in the log. */
	cp_info("registered as %s; waiting for the owner's claim", d->reg_id);
	cp_dbg("claim code %s at %s", d->claim_code, d->claim_url);
	cpd_reply_register(d, true, NULL);
	cpd_schedule_poll(d, d->cfg.poll_interval_ms);
}

static void cpd_start_claim(struct cpd *d)
{
	char url[CPD_URL_LEN];
	cJSON *o = cJSON_CreateObject();
	char *body;

	cJSON_AddStringToObject(o, "name", d->cfg.printer_name);
	cJSON_AddStringToObject(o, "model", "prengine");
	body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	cpd_url(d, url, sizeof(url), "/v1/printers", "", "");
	d->request_in_flight = !cpd_request(d, "POST", url, NULL, body, NULL, cpd_register_done, d);
	free(body);
}

/* ---- the state machine's actions ---- */

static enum cp_creds_mark cpd_mark(enum cp_state s)
{
	switch (s) {
	case CP_STATE_REGISTERED:
		return CP_CREDS_REGISTERED;
	case CP_STATE_DELETED:
		return CP_CREDS_DELETED;
	case CP_STATE_SUSPENDED:
		return CP_CREDS_SUSPENDED;
	case CP_STATE_UNREGISTERED:
	case CP_STATE_REGISTERING:
		return CP_CREDS_NONE;
	}
	return CP_CREDS_NONE;
}

static void cpd_stop_cloud(struct cpd *d)
{
	/*
	 * An open event stream is left to the server to close, for a grace
	 * period, but nothing more is read from it; all else stops now.
	 */
	if (d->push.state == CP_PUSH_OPEN && d->cfg.stream_grace_ms) {
		cp_push_drain(&d->push, d->cfg.stream_grace_ms);
		cp_http_cancel_others(d->http, d->push.req);
		cp_http_close_idle(d->http, d->push.req);
	} else {
		cp_push_close(&d->push);
		cp_http_cancel_all(d->http);
		cp_http_close_idle(d->http, NULL);
	}
	cp_timer_disarm(d->heartbeat_timer.fd);
	d->heartbeat_in_flight = false;
	d->resync = false;
	cpd_stop_poll(d);
	d->request_in_flight = false;
	for (unsigned int i = 0; i < CPD_JOBS_MAX; i++)
		if (d->jobs[i].active)
			cpd_job_end(&d->jobs[i]);
	memset(d->printing, 0, sizeof(d->printing));
}

/* A crash point in the deletion sequence (crashpoint.h). */
static void cpd_crashpoint(const struct cp_step *st, bool deletion, const char *what)
{
	char name[64];

	if (!deletion)
		return;
	snprintf(name, sizeof(name), "deletion-%s-%s", cp_state_name(st->next), what);
	cp_crashpoint(name);
}

/* Carry out @st's actions in their order, then enter its state. */
static void cpd_run(struct cpd *d, const struct cp_step *st, bool deletion)
{
	uint32_t flushed = 0, lock_to;
	int r;

	cpd_crashpoint(st, deletion, "start");
	if (st->actions & CP_ACT_LOCKDOWN) {
		lock_to = st->next == CP_STATE_SUSPENDED ? PRENGINE_STATE_SUSPENDED :
			  st->next == CP_STATE_UNREGISTERED && !(st->actions & CP_ACT_DELETE_CREDS) ?
			  PRENGINE_STATE_UNREGISTERED : PRENGINE_STATE_DELETED;
		if (st->actions & CP_ACT_TELL_CLOUD)
			lock_to = PRENGINE_STATE_UNREGISTERED;
		r = cp_engine_lockdown(&d->eng, lock_to, &flushed);
		if (r) {
			cpd_error(d, "driver lockdown failed: %s", strerror(-r));
		} else {
			struct timespec now;

			clock_gettime(CLOCK_REALTIME, &now);
			d->locked_at = now.tv_sec + now.tv_nsec / 1e9;
			cp_info("driver locked down: %u cloud job(s) flushed", flushed);
		}
		if (d->detection[0] && flushed)
			snprintf(d->detection + strlen(d->detection),
				 sizeof(d->detection) - strlen(d->detection),
				 "; %u job(s) flushed", flushed);
		cpd_crashpoint(st, deletion, "locked");
	}
	if (st->actions & CP_ACT_STOP_CLOUD) {
		cpd_stop_cloud(d);
		cpd_crashpoint(st, deletion, "silent");
	}
	if (st->actions & CP_ACT_TELL_CLOUD) {
		char url[CPD_URL_LEN];

		cpd_url(d, url, sizeof(url), "/v1/printers/", d->creds.printer_id, "");
		/* The one request allowed on the way out. */
		cp_http_start(d->http, "DELETE", url, d->creds.access_token, NULL, CPD_JSON_MAX,
			      NULL, NULL, NULL);
	}
	if (st->actions & CP_ACT_START_CLAIM) {
		d->state = st->next;
		cpd_start_claim(d);
	}
	if (st->actions & CP_ACT_WRITE_CREDS) {
		d->creds.mark = cpd_mark(st->next);
		r = cp_creds_store(d->cfg.state_dir, &d->creds);
		if (r)
			cpd_error(d, "storing the credentials failed: %s", strerror(-r));
		cpd_crashpoint(st, deletion, "creds-stored");
	}
	if (st->actions & CP_ACT_DELETE_CREDS) {
		r = cp_creds_delete(d->cfg.state_dir);
		if (r)
			cpd_error(d, "deleting the credentials failed: %s", strerror(-r));
		else
			cp_info("credentials deleted");
		memset(&d->creds, 0, sizeof(d->creds));
		cpd_crashpoint(st, deletion, "creds-deleted");
	}
	if (st->actions & CP_ACT_SET_DRIVER) {
		r = cp_engine_set_state(&d->eng, cp_state_driver(st->next));
		if (r)
			cpd_error(d, "setting the driver state failed: %s", strerror(-r));
		cpd_crashpoint(st, deletion, "driver-set");
	}
	if (st->actions & CP_ACT_LOG_DELETION)
		cp_warn("the cloud deleted this printer's registration; policy keep: carrying on");
	if (st->next != d->state)
		cp_info("state %s -> %s", cp_state_name(d->state), cp_state_name(st->next));
	d->state = st->next;
	if (st->actions & CP_ACT_START_CLOUD) {
		cp_backoff_reset(&d->backoff);
		d->confirm.seen = 0;
		d->detection[0] = '\0';
		d->stream_end[0] = '\0';
		cpd_schedule_poll(d, 0);
	}
}

static void cpd_apply(struct cpd *d, enum cp_event ev)
{
	struct cp_step st;

	if (cp_policy_step(d->state, d->cfg.policy, ev, &st)) {
		cp_warn("event %d ignored in state %s", ev, cp_state_name(d->state));
		return;
	}
	cpd_run(d, &st, ev == CP_EV_DELETION);
}

/* A deletion was detected; d->detection says how. */
static void cpd_on_deletion(struct cpd *d)
{
	if (d->state != CP_STATE_REGISTERED)
		return;
	d->detections++;
	cp_warn("registration deleted on the server (%s); policy %s", d->detection,
		cp_policy_name(d->cfg.policy));
	cpd_apply(d, CP_EV_DELETION);
	/* keep: carry on, at the polling pace (push: reconnect at that pace). */
	if (d->cfg.policy == CP_POLICY_KEEP && !cp_timer_armed(d->poll_timer.fd))
		cpd_schedule_poll(d, cpd_poll_delay(d));
}

/* ---- control commands ---- */

static void cpd_reply(int fd, bool ok, const char *error)
{
	char buf[512];

	if (ok)
		cp_control_reply(fd, "{\"ok\":true}");
	else {
		cJSON *o = cJSON_CreateObject();
		char *s;

		cJSON_AddBoolToObject(o, "ok", false);
		cJSON_AddStringToObject(o, "error", error);
		s = cJSON_PrintUnformatted(o);
		snprintf(buf, sizeof(buf), "%s", s);
		free(s);
		cJSON_Delete(o);
		cp_control_reply(fd, buf);
	}
}

static void cpd_status(struct cpd *d, int fd)
{
	static const char *const modes[] = { "poll", "push" };
	cJSON *o = cJSON_CreateObject();
	uint32_t drv = 0;
	char *s;

	cJSON_AddBoolToObject(o, "ok", true);
	cJSON_AddStringToObject(o, "state", cp_state_name(d->state));
	cJSON_AddStringToObject(o, "engine", d->engine_node);
	cJSON_AddBoolToObject(o, "engine_present", d->engine_up);
	if (d->engine_up && !cp_engine_get_state(&d->eng, &drv))
		cJSON_AddNumberToObject(o, "driver_state", drv);
	cJSON_AddStringToObject(o, "policy", cp_policy_name(d->cfg.policy));
	cJSON_AddStringToObject(o, "mode", modes[d->cfg.mode]);
	cJSON_AddStringToObject(o, "server", d->cfg.server);
	cJSON_AddStringToObject(o, "printer_id", d->creds.printer_id[0] ? d->creds.printer_id :
				d->reg_id);
	cJSON_AddNumberToObject(o, "last_contact", (double)d->last_contact);
	cJSON_AddStringToObject(o, "last_error", d->last_error);
	cJSON_AddStringToObject(o, "detection", d->detection);
	cJSON_AddNumberToObject(o, "locked_at", d->locked_at);
	cJSON_AddNumberToObject(o, "polls", (double)d->polls);
	cJSON_AddNumberToObject(o, "poll_interval", cpd_poll_base(d) / 1000.0);
	cJSON_AddNumberToObject(o, "requests", (double)cp_http_started(d->http));
	cJSON_AddNumberToObject(o, "detections", (double)d->detections);
	cJSON_AddNumberToObject(o, "jobs_printed", (double)d->jobs_printed);
	cJSON_AddNumberToObject(o, "jobs_failed", (double)d->jobs_failed);
	cJSON_AddNumberToObject(o, "backoff_attempt", d->backoff.attempt);
	if (d->cfg.mode == CP_MODE_PUSH) {
		cJSON *st = cJSON_AddObjectToObject(o, "stream");

		cJSON_AddStringToObject(st, "state", cp_push_state_name(d->push.state));
		cJSON_AddNumberToObject(st, "connected_since",
					d->push.state == CP_PUSH_OPEN ?
					(double)d->push.opened_at : 0);
		cJSON_AddNumberToObject(st, "last_event", (double)d->push.last_event_at);
		cJSON_AddNumberToObject(st, "streams", (double)d->push.streams_opened);
		cJSON_AddNumberToObject(st, "events", (double)d->push.events);
		cJSON_AddNumberToObject(st, "reconnects", (double)d->reconnects);
		cJSON_AddNumberToObject(st, "heartbeats", (double)d->heartbeats);
		cJSON_AddStringToObject(st, "last_end", d->stream_end);
	}
	if (d->state == CP_STATE_REGISTERING) {
		cJSON_AddStringToObject(o, "claim_code", d->claim_code);
		cJSON_AddStringToObject(o, "claim_url", d->claim_url);
	}
	s = cJSON_PrintUnformatted(o);
	cp_control_reply(fd, s);
	free(s);
	cJSON_Delete(o);
}

static void cpd_command(void *ctx, int fd, const char *line)
{
	struct cpd *d = ctx;
	enum cp_policy p;
	struct cp_step st;
	enum cp_event ev;

	cp_dbg("control: %s", line);
	if (!strcmp(line, "status")) {
		cpd_status(d, fd);
		return;
	}
	if (!d->engine_up && strncmp(line, "policy ", 7)) {
		char err[96];

		snprintf(err, sizeof(err), "no engine: waiting for %s", d->engine_node);
		cpd_reply(fd, false, err);
		return;
	}
	if (!strcmp(line, "register")) {
		if (d->state != CP_STATE_UNREGISTERED) {
			cpd_reply(fd, false, d->state == CP_STATE_REGISTERING ?
				  "a registration is already under way" :
				  "already registered (unregister or resolve first)");
			return;
		}
		d->reg_client = fd;
		cpd_apply(d, CP_EV_REGISTER);
		return;
	}
	if (!strncmp(line, "policy ", 7)) {
		if (cp_policy_parse(line + 7, &p)) {
			cpd_reply(fd, false, "policy must be delete, suspend, keep or ask");
			return;
		}
		d->cfg.policy = p;
		cp_info("policy set to %s", cp_policy_name(p));
		cpd_reply(fd, true, NULL);
		return;
	}
	if (!strcmp(line, "unregister"))
		ev = CP_EV_UNREGISTER;
	else if (!strcmp(line, "resume"))
		ev = CP_EV_RESUME;
	else if (!strcmp(line, "resolve delete"))
		ev = CP_EV_RESOLVE_DELETE;
	else if (!strcmp(line, "resolve suspend"))
		ev = CP_EV_RESOLVE_SUSPEND;
	else if (!strcmp(line, "resolve keep"))
		ev = CP_EV_RESOLVE_KEEP;
	else {
		cpd_reply(fd, false, "unknown command");
		return;
	}
	if (cp_policy_step(d->state, d->cfg.policy, ev, &st)) {
		char err[128];

		snprintf(err, sizeof(err), "not possible in state %s", cp_state_name(d->state));
		cpd_reply(fd, false, err);
		return;
	}
	cpd_run(d, &st, false);
	cpd_reply(fd, true, NULL);
}

/* ---- start-up ---- */

static int cpd_reconcile(struct cpd *d)
{
	struct cp_step st;
	uint32_t drv;
	int r;

	r = cp_creds_load(d->cfg.state_dir, &d->creds);
	if (r == -EINVAL) {
		cp_err("%s/%s is damaged; move it away to start unregistered", d->cfg.state_dir,
		       CP_CREDS_FILE);
		return r;
	}
	if (r && r != -ENOENT)
		return r;
	r = cp_engine_get_state(&d->eng, &drv);
	if (r)
		return r;
	cp_reconcile(drv, d->creds.mark, d->cfg.policy, &st);
	cp_info("start-up: driver state %u, credentials %s: %s", drv,
		d->creds.mark ? "present" : "absent", cp_state_name(st.next));
	/* Finish whatever transition a crash or a reboot interrupted. */
	d->state = CP_STATE_UNREGISTERED;
	cpd_run(d, &st, false);
	return 0;
}

static int cpd_watch(struct cpd *d, struct cp_watch *w);

/* ---- the engine coming and going ---- */

static void cpd_engine_attach(struct cpd *d)
{
	int r;

	if (d->engine_up)
		return;
	r = cp_engine_open(&d->eng, d->cfg.engine);
	if (r) {
		/* The node appears before the driver's netlink family. */
		cp_dbg("%s: not ready yet (%s)", d->engine_node, strerror(-r));
		cp_timer_arm(d->engine_retry.fd, CPD_ENGINE_RETRY_MS);
		return;
	}
	d->events.fd = cp_engine_events_fd(&d->eng);
	if (cpd_watch(d, &d->events)) {
		cp_err("%s: epoll: %m", d->engine_node);
		cp_engine_close(&d->eng);
		d->failed = true;
		d->running = false;
		return;
	}
	d->engine_up = true;
	cp_info("%s is there", d->engine_node);
	if (cpd_reconcile(d)) {
		d->failed = true;
		d->running = false;
	}
}

/*
 * The engine went away (its module was unloaded): nothing can print, lock
 * or hold a state, so every cloud request stops.  What is on disk stays,
 * and the state is reconciled again when the engine is back.
 */
static void cpd_engine_detach(struct cpd *d)
{
	cp_timer_disarm(d->engine_retry.fd);
	if (!d->engine_up)
		return;
	cp_warn("%s went away: cloud requests stop until it is back", d->engine_node);
	cp_push_close(&d->push);
	cp_http_cancel_all(d->http);
	cpd_stop_cloud(d);
	if (d->reg_client >= 0) {
		cpd_reply(d->reg_client, false, "the engine went away");
		d->reg_client = -1;
	}
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->events.fd, NULL);
	cp_engine_close(&d->eng);
	d->engine_up = false;
	d->state = CP_STATE_UNREGISTERED;
}

static void cpd_on_device(void *ctx, bool added, const char *subsystem, const char *node,
			  const char *syspath)
{
	struct cpd *d = ctx;

	(void)subsystem;
	(void)syspath;
	if (strcmp(node, d->engine_node))
		return;
	if (added)
		cpd_engine_attach(d);
	else
		cpd_engine_detach(d);
}

static void cpd_on_devices(struct cp_watch *w, uint32_t events)
{
	struct cpd *d = (struct cpd *)((char *)w - offsetof(struct cpd, devices));

	(void)events;
	cp_devmon_dispatch(d->devmon);
}

static void cpd_on_engine_retry(struct cp_watch *w, uint32_t events)
{
	struct cpd *d = (struct cpd *)((char *)w - offsetof(struct cpd, engine_retry));

	(void)events;
	if (cp_timer_consume(w->fd) && !access(d->engine_node, F_OK))
		cpd_engine_attach(d);
}

/* The configuration's warnings, a line each. */
static void cpd_log_warnings(const struct cp_config *c)
{
	const char *p = c->warnings;

	while (*p) {
		int len = (int)strcspn(p, "\n");

		cp_warn("%.*s", len, p);
		p += len + (p[len] == '\n');
	}
}

static void cpd_on_signal(struct cp_watch *w, uint32_t events)
{
	struct cpd *d = (struct cpd *)((char *)w - offsetof(struct cpd, signals));
	struct signalfd_siginfo si;
	struct cp_config c;
	char err[256];

	(void)events;
	if (read(w->fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGHUP) {
		if (cp_config_load(d->cfg_path, &c, err, sizeof(err))) {
			cp_err("reload refused: %s", err);
			return;
		}
		/* What can change at run time; the rest needs a restart. */
		d->cfg.policy = c.policy;
		d->cfg.poll_interval_ms = c.poll_interval_ms;
		d->cfg.poll_jitter_pct = c.poll_jitter_pct;
		d->cfg.confirm_count = c.confirm_count;
		d->cfg.heartbeat_interval_ms = c.heartbeat_interval_ms;
		d->cfg.stream_grace_ms = c.stream_grace_ms;
		d->confirm.need = c.confirm_count;
		memcpy(d->cfg.patterns, c.patterns, sizeof(c.patterns));
		d->cfg.n_patterns = c.n_patterns;
		d->cfg.log_level = c.log_level;
		cp_log_set_level(c.log_level);
		cpd_log_warnings(&c);
		cp_info("configuration reloaded (policy %s)", cp_policy_name(d->cfg.policy));
		return;
	}
	cp_info("signal %u: stopping", si.ssi_signo);
	d->running = false;
}

static int cpd_watch(struct cpd *d, struct cp_watch *w)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = w };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, w->fd, &ev) ? -errno : 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: cloudprintd [-c CONFIG] [-t] [-S] [-k]\n"
		   "  -c CONFIG  configuration file (default /etc/cloudprintd.json)\n"
		   "  -t         check the configuration and exit\n"
		   "  -S         log to syslog (facility daemon) instead of stderr\n"
		   "  -k         follow the kernel's uevents (no udevd running)\n");
}

int main(int argc, char **argv)
{
	static const char *const engine_subsystems[] = { "prengine", NULL };
	static struct cpd d;
	struct epoll_event evs[16];
	const char *path = "/etc/cloudprintd.json";
	bool check_only = false;
	gid_t sock_gid, admin_gid;
	char err[256];
	sigset_t mask;
	int opt;

	while ((opt = getopt(argc, argv, "c:tSkh")) != -1) {
		switch (opt) {
		case 'k':
			d.kernel_events = true;
			break;
		case 'S':
			cp_log_open_syslog("cloudprintd");
			break;
		case 'c':
			path = optarg;
			break;
		case 't':
			check_only = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	d.cfg_path = path;
	d.reg_client = -1;
	if (cp_config_load(path, &d.cfg, err, sizeof(err))) {
		fprintf(stderr, "cloudprintd: %s\n", err);
		return 1;
	}
	if (cp_config_check_paths(&d.cfg, err, sizeof(err))) {
		fprintf(stderr, "cloudprintd: %s: %s\n", path, err);
		return 1;
	}
	if (cp_control_group(d.cfg.control_group, &sock_gid)) {
		fprintf(stderr, "cloudprintd: config key 'control_group': no group %s\n",
			d.cfg.control_group);
		return 1;
	}
	if (cp_control_group(d.cfg.admin_group, &admin_gid)) {
		fprintf(stderr, "cloudprintd: config key 'admin_group': no group %s\n",
			d.cfg.admin_group);
		return 1;
	}
	if (check_only) {
		cpd_log_warnings(&d.cfg);
		printf("cloudprintd: %s is valid\n", path);
		return 0;
	}
	cp_log_set_level(d.cfg.log_level);
	cpd_log_warnings(&d.cfg);
	if (mkdir(d.cfg.state_dir, 0700) && errno != EEXIST) {
		cp_err("state directory %s: %m", d.cfg.state_dir);
		return 1;
	}
	/* Before anything reads the state or touches the socket: one of us only. */
	if (cp_lock_instance(d.cfg.state_dir, err, sizeof(err)) < 0) {
		cp_err("%s", err);
		return 1;
	}
	cp_backoff_init(&d.backoff, d.cfg.backoff_base_ms, d.cfg.backoff_cap_ms);
	d.confirm.need = d.cfg.confirm_count;
	curl_global_init(CURL_GLOBAL_DEFAULT);

	d.epfd = epoll_create1(EPOLL_CLOEXEC);
	d.eng.fd = -1;
	snprintf(d.engine_node, sizeof(d.engine_node), "/dev/prengine%u", d.cfg.engine);
	d.devmon = cp_devmon_new(engine_subsystems, d.kernel_events, cpd_on_device, &d);
	if (!d.devmon) {
		cp_err("udev monitor: %m");
		return 1;
	}
	d.devices.fd = cp_devmon_fd(d.devmon);
	d.devices.fn = cpd_on_devices;
	d.engine_retry.fd = cp_timer_new();
	d.engine_retry.fn = cpd_on_engine_retry;
	d.http = cp_http_new(d.epfd, d.cfg.ca_file, d.cfg.pinned_public_key,
			     d.cfg.request_timeout_ms,
			     CPD_KEEP_CONN_S);
	d.poll_timer.fd = cp_timer_new();
	d.poll_timer.fn = cpd_on_poll_timer;
	d.heartbeat_timer.fd = cp_timer_new();
	d.heartbeat_timer.fn = cpd_on_heartbeat_timer;
	d.events.fn = cpd_on_events;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d.signals.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d.signals.fn = cpd_on_signal;
	if (!d.http || cpd_watch(&d, &d.poll_timer) || cpd_watch(&d, &d.devices) ||
	    cpd_watch(&d, &d.engine_retry) ||
	    cpd_watch(&d, &d.signals) || cpd_watch(&d, &d.heartbeat_timer) ||
	    cp_push_init(&d.push, d.epfd, d.http, d.cfg.stream_timeout_ms, &cpd_push_ops, &d)) {
		cp_err("event loop set-up failed: %m");
		return 1;
	}
	d.ctl = cp_control_new(d.epfd, d.cfg.control_socket, sock_gid, admin_gid, cpd_command,
			       &d);
	if (!d.ctl)
		return 1;
	d.running = true;
	/* The monitor is in the loop already: an engine appearing now is seen. */
	cp_devmon_scan(d.devmon);
	if (!d.engine_up)
		cp_info("waiting for %s (is prengine.ko loaded?)", d.engine_node);
	cp_info("running: server %s, mode %s, policy %s, state %s", d.cfg.server,
		d.cfg.mode == CP_MODE_PUSH ? "push" : "poll", cp_policy_name(d.cfg.policy),
		cp_state_name(d.state));
	while (d.running) {
		bool due = cp_http_run_due(d.http);
		int n;

		if (!d.running)
			break;
		/*
		 * One event per wait: a handler may free another watch (curl
		 * drops a socket), which must not be left in a batch.
		 */
		n = epoll_wait(d.epfd, evs, 1, due ? 0 : -1);
		if (n < 0 && errno != EINTR) {
			cp_err("epoll_wait: %m");
			break;
		}
		for (int i = 0; i < n; i++) {
			struct cp_watch *w = evs[i].data.ptr;

			w->fn(w, evs[i].events);
		}
	}
	cp_push_free(&d.push);
	cp_http_free(d.http);
	cp_control_free(d.ctl);
	cp_engine_close(&d.eng);
	cp_devmon_free(d.devmon);
	curl_global_cleanup();
	return d.failed;
}
