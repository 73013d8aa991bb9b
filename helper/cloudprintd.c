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
#include "ledger.h"
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
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#define CPD_REG_RENEWALS_MAX	3		/* claim codes renewed unclaimed, then stop */
#define CPD_SPOOL_DEFAULT	(4096ULL << 10)	/* the driver's default buffer_kib */
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
	bool hold;			/* held in the driver until committed */
	EVP_MD_CTX *md;
	struct cp_engine_job ej;
	struct cp_jobfeed feed;		/* into ej.fd, never blocking */
	struct cp_watch room;		/* ej.fd in epoll: EPOLLOUT while waiting */
	bool waiting;			/* for room in the driver */
	struct cp_http_req *paused;	/* the download, paused for room */
	bool downloaded;		/* complete and checked; commit once written */
	struct cpd *d;
};

/*
 * A job status the cloud has not taken yet.  Posts are idempotent (the
 * cloud accepts the same state again), so a failed one is sent again after
 * a backoff, until the cloud answers; a newer state for the job replaces
 * one not yet sent, and waits for one in flight.
 */
struct cpd_status {
	bool used;
	bool in_flight;
	char id[64];
	const char *state;		/* wanted: printing, done, failed, aborted */
	long crc;			/* -1: none */
	char detail[160];
	const char *sent;		/* the state of the post in flight */
	struct cp_backoff backoff;
	uint64_t due_ms;		/* next try, CLOCK_MONOTONIC */
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
	bool unconfirmed;		/* the last answer: a deletion, not yet confirmed */

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
	unsigned int reg_renewals;	/* registrations again after an expired claim code */
	bool refreshed;			/* a token refresh since the last good answer */

	struct cpd_job jobs[CPD_JOBS_MAX];
	struct cpd_printing printing[64];
	uint64_t spool;			/* the driver's spool, bytes */
	struct cpd_status status[64];
	struct cp_watch status_timer;
	struct cp_ledger ledger;	/* handed to the engine, final status not taken */

	/* A lockdown that failed, tried again; nothing else happens meanwhile. */
	bool lock_pending;
	struct cp_step lock_step;
	char lock_crash[48];
	struct cp_watch lock_timer;
	struct cp_backoff lock_backoff;
	bool deferred;			/* a listed job waits for admission */
	bool admit_blocked;		/* this listing deferred a held job */

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

/*
 * Classify an answer, keeping the status fields up to date.  Every answer
 * of every request comes through here and counts towards confirm_count:
 * CP_VERDICT_DELETED only once the deletion is confirmed; a deletion
 * answer still short of it is CP_VERDICT_TRANSIENT, with d->unconfirmed
 * set.
 */
static enum cp_verdict cpd_classify(struct cpd *d, const char *what, const struct cp_http_result *res)
{
	struct cp_answer a = cpd_answer(res);
	enum cp_verdict v = cp_classify(d->cfg.patterns, d->cfg.n_patterns, &a);

	if (res->transport_ok)
		d->last_contact = time(NULL);
	d->unconfirmed = false;
	if (v == CP_VERDICT_DELETED && !cp_confirm_feed(&d->confirm, v)) {
		cp_warn("%s answered HTTP %ld, a deletion answer: %u of %u to confirm it", what,
			res->status, d->confirm.seen, d->confirm.need);
		d->unconfirmed = true;
		return CP_VERDICT_TRANSIENT;
	}
	if (v != CP_VERDICT_DELETED)
		cp_confirm_feed(&d->confirm, v);
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
	if (d->lock_pending ||
	    (d->state != CP_STATE_REGISTERED && d->state != CP_STATE_REGISTERING)) {
		cp_err("refusing %s %s in state %s%s", method, url, cp_state_name(d->state),
		       d->lock_pending ? " (a lockdown is pending)" : "");
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
static void cpd_refresh_token(struct cpd *d);
static void cpd_ledger_save(struct cpd *d);
static bool cpd_status_pending(const struct cpd *d, const char *job_id);
static void cpd_ledger_post(struct cpd *d, const struct cp_ledger_entry *e);

static void cpd_job_wait_room(struct cpd_job *j, bool on)
{
	struct epoll_event ev = { .events = on ? EPOLLOUT : 0, .data.ptr = &j->room };

	if (j->waiting != on && !epoll_ctl(j->d->epfd, EPOLL_CTL_MOD, j->ej.fd, &ev))
		j->waiting = on;
}

static void cpd_job_end(struct cpd_job *j)
{
	struct cpd *d = j->d;

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
	/* Room for a job that was not admitted: a stream lists it only on request. */
	if (d->deferred && d->cfg.mode == CP_MODE_PUSH && d->state == CP_STATE_REGISTERED)
		cpd_resync_later(d);
	d->deferred = false;
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

/*
 * A job that is not held prints as it arrives.  If it must end before its
 * commit and the engine has printed some of it already, printing it again
 * would print that part twice: it is aborted and reported failed, once.
 * False (nothing printed; the caller goes on as for a held job).
 */
static bool cpd_job_printed_part(struct cpd_job *j, const char *why)
{
	struct cpd *d = j->d;
	struct prengine_job_info info;
	char detail[160];
	uint64_t id = j->ej.id;

	if (j->hold)
		return false;
	cp_engine_job_abort(&j->ej);
	if (cp_engine_job_info(&d->eng, id, &info) || !info.printed)
		return false;
	snprintf(detail, sizeof(detail), "%s after %llu of %llu bytes had printed", why,
		 (unsigned long long)info.printed, (unsigned long long)j->size);
	cpd_error(d, "job %s: %s; aborted", j->id, detail);
	d->jobs_failed++;
	cpd_post_status(d, j->id, "failed", -1, detail);
	cpd_job_end(j);
	return true;
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
		if (cpd_job_printed_part(j, "download failed"))
			return;
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
		if (cpd_job_printed_part(j, "sha256 mismatch"))
			return;
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

/* Follow engine job @engine_job (cloud job @id) to its completion event. */
static bool cpd_printing_add(struct cpd *d, const char *id, uint64_t engine_job)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(d->printing); i++) {
		struct cpd_printing *p = &d->printing[i];
		size_t n = strnlen(id, sizeof(p->id) - 1);

		if (!p->engine_job) {
			p->engine_job = engine_job;
			memcpy(p->id, id, n);
			p->id[n] = '\0';
			return true;
		}
	}
	cpd_error(d, "job %s: too many jobs on the engine to follow", id);
	return false;
}

/*
 * Every byte is in the driver and the SHA-256 checked out: print it.  The
 * ledger has the job before the engine does, so that no restart prints it
 * twice.
 */
static void cpd_job_commit(struct cpd_job *j)
{
	struct cpd *d = j->d;
	bool dropped;

	if (!cp_ledger_add(&d->ledger, j->id, j->ej.id, j->size, &dropped)) {
		cpd_error(d, "job %s: its id does not fit the ledger; not printed", j->id);
		cpd_job_end(j);
		return;
	}
	if (dropped)
		cp_warn("the ledger of printed jobs is full: its oldest entry is forgotten");
	cpd_ledger_save(d);
	if (cp_engine_job_commit(&j->ej)) {
		cpd_error(d, "job %s: commit refused", j->id);
		cp_ledger_remove(&d->ledger, j->id);
		cpd_ledger_save(d);
		cpd_job_end(j);
		return;
	}
	cpd_printing_add(d, j->id, j->ej.id);
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

/*
 * Admission.  A held job's bytes stay in the driver's spool until it is
 * committed, so held downloads whose sizes add up to more than the spool
 * would wait for each other's room for ever.  A held download starts only
 * while the held ones add up to at most the spool, in the order listed.
 * A job bigger than the spool cannot be held (the driver refuses it with
 * EFBIG): it prints as it arrives, one such job at a time.
 */
static bool cpd_job_admit(struct cpd *d, uint64_t size, bool hold)
{
	uint64_t held = 0;
	bool streaming = false, busy = false;

	for (unsigned int i = 0; i < CPD_JOBS_MAX; i++) {
		if (!d->jobs[i].active)
			continue;
		busy = true;
		if (d->jobs[i].hold)
			held += d->jobs[i].size;
		else
			streaming = true;
	}
	if (!busy)
		return true;	/* alone, any job makes progress */
	if (hold && (d->admit_blocked || held + size > d->spool))
		d->admit_blocked = true;
	else if (hold || !streaming)
		return true;
	d->deferred = true;
	return false;
}

static void cpd_job_start(struct cpd *d, const struct cp_cloud_job *cj)
{
	struct cpd_job *j = NULL;
	size_t slen = strlen(d->cfg.server);
	bool hold = cj->size <= d->spool;
	struct cp_ledger_entry *e;
	int r;

	if (cpd_job_known(d, cj->id))
		return;
	e = cp_ledger_find(&d->ledger, cj->id);
	if (e) {
		/* Handed to the engine already: never again; the cloud has yet to hear. */
		if (!cpd_status_pending(d, cj->id))
			cpd_ledger_post(d, e);
		return;
	}
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
	if (!j) {
		d->deferred = true;
		return;		/* all slots busy: the next poll lists it again */
	}
	if (!cpd_job_admit(d, cj->size, hold)) {
		cp_dbg("job %s (%llu bytes): waits for room in the spool", cj->id,
		       (unsigned long long)cj->size);
		return;
	}

	memset(j, 0, sizeof(*j));
	j->d = d;
	_Static_assert(sizeof(j->id) == sizeof(cj->id), "job id sizes");
	_Static_assert(sizeof(j->name) == sizeof(cj->name), "job name sizes");
	_Static_assert(sizeof(j->sha256) == sizeof(cj->sha256), "job sha256 sizes");
	memcpy(j->id, cj->id, sizeof(j->id));
	memcpy(j->name, cj->name, sizeof(j->name));
	memcpy(j->sha256, cj->sha256, sizeof(j->sha256));
	j->size = cj->size;
	j->hold = hold;
	if (!hold)
		cp_info("job %s: %llu bytes, more than the spool: printed as it arrives", j->id,
			(unsigned long long)j->size);
	r = cp_engine_job_begin(&d->eng, &j->ej, j->id, j->name, j->size, hold);
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

static uint64_t cpd_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static bool cpd_final_state(const char *state)
{
	return strcmp(state, "printing") != 0;
}

static void cpd_ledger_save(struct cpd *d)
{
	int r = cp_ledger_store(d->cfg.state_dir, &d->ledger);

	if (r)
		cpd_error(d, "storing the printed jobs (%s) failed: %s", CP_LEDGER_FILE,
			  strerror(-r));
}

/* Arm the status timer for the earliest post waiting to be sent again. */
static void cpd_status_arm(struct cpd *d)
{
	uint64_t now = cpd_now_ms(), due = UINT64_MAX;

	for (unsigned int i = 0; i < ARRAY_SIZE(d->status); i++) {
		const struct cpd_status *p = &d->status[i];

		if (p->used && !p->in_flight && p->due_ms < due)
			due = p->due_ms;
	}
	if (due == UINT64_MAX)
		cp_timer_disarm(d->status_timer.fd);
	else
		cp_timer_arm(d->status_timer.fd, due > now ? (uint32_t)(due - now) : 0);
}

static void cpd_status_send(struct cpd_status *p);

/* The answer is the cloud's JSON error @code with HTTP @status (protocol §2). */
static bool cpd_cloud_error(const struct cp_http_result *res, long status, const char *code)
{
	struct cp_pattern pat = { .status = (int)status, .field = "error.code" };
	struct cp_answer a = cpd_answer(res);

	snprintf(pat.value, sizeof(pat.value), "%s", code);
	return cp_pattern_matches(&pat, &a);
}

/* The cloud has taken @state for the job (or has it final already). */
static void cpd_status_taken(struct cpd_status *p, const char *state)
{
	struct cpd *d = p->d;

	if (cpd_final_state(state) && cp_ledger_remove(&d->ledger, p->id))
		cpd_ledger_save(d);
	if (p->state != state && !cpd_final_state(state)) {
		cpd_status_send(p);	/* a newer state came meanwhile */
		return;
	}
	p->used = false;
}

static void cpd_status_done(void *ctx, const struct cp_http_result *res)
{
	struct cpd_status *p = ctx;
	struct cpd *d = p->d;
	const char *sent = p->sent;
	enum cp_verdict v = cpd_classify(d, "job status", res);
	uint32_t ms;

	p->in_flight = false;
	if (v == CP_VERDICT_DELETED) {
		cpd_on_deletion(d);
		return;
	}
	if (v == CP_VERDICT_OK) {
		cpd_status_taken(p, sent);
		return;
	}
	if (cpd_cloud_error(res, 409, "job_finished")) {
		/* Final in the cloud already: nothing more to say about it. */
		cpd_status_taken(p, p->state);
		return;
	}
	if (cpd_cloud_error(res, 404, "not_found") || cpd_cloud_error(res, 400, "invalid_field") ||
	    cpd_cloud_error(res, 400, "invalid_body")) {
		/* The cloud's own refusal: sending it again cannot help. */
		cpd_error(d, "job %s: status %s refused with HTTP %ld; given up", p->id, sent,
			  res->status);
		cpd_status_taken(p, p->state);
		return;
	}
	if (v == CP_VERDICT_TOKEN_EXPIRED || (res->transport_ok && res->status == 401)) {
		if (!d->request_in_flight)
			cpd_refresh_token(d);
	}
	ms = cp_backoff_next(&p->backoff, cp_rand, NULL);
	if (v == CP_VERDICT_RATE_LIMITED || res->retry_after_s)
		ms = cp_backoff_retry_after(ms, res->retry_after_s, CPD_RETRY_AFTER_MAX_MS);
	cp_warn("job %s: status %s not taken; again in %u ms (attempt %u)", p->id, p->state, ms,
		p->backoff.attempt);
	p->due_ms = cpd_now_ms() + ms;
	cpd_status_arm(d);
}

static void cpd_status_send(struct cpd_status *p)
{
	struct cpd *d = p->d;
	char url[CPD_URL_LEN];
	cJSON *o = cJSON_CreateObject();
	char *body;

	cJSON_AddStringToObject(o, "state", p->state);
	if (p->crc >= 0)
		cJSON_AddNumberToObject(o, "crc32", (double)p->crc);
	if (p->detail[0])
		cJSON_AddStringToObject(o, "detail", p->detail);
	body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	cpd_url(d, url, sizeof(url), "/v1/jobs/", p->id, "/status");
	p->sent = p->state;
	p->due_ms = UINT64_MAX;
	p->in_flight = !cpd_request(d, "POST", url, d->creds.access_token, body, NULL,
				    cpd_status_done, p);
	free(body);
	if (!p->in_flight)
		p->used = false;	/* not allowed now: the ledger keeps a final one */
}

static void cpd_on_status_timer(struct cp_watch *w, uint32_t events)
{
	struct cpd *d = (struct cpd *)((char *)w - offsetof(struct cpd, status_timer));
	uint64_t now = cpd_now_ms();

	(void)events;
	if (!cp_timer_consume(w->fd))
		return;
	for (unsigned int i = 0; i < ARRAY_SIZE(d->status); i++) {
		struct cpd_status *p = &d->status[i];

		if (p->used && !p->in_flight && p->due_ms <= now)
			cpd_status_send(p);
	}
	cpd_status_arm(d);
}

static bool cpd_status_pending(const struct cpd *d, const char *job_id)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(d->status); i++)
		if (d->status[i].used && !strcmp(d->status[i].id, job_id))
			return true;
	return false;
}

/* Post a job's status now, and again until the cloud takes it. */
static void cpd_post_status(struct cpd *d, const char *job_id, const char *state, long crc,
			    const char *detail)
{
	struct cpd_status *p = NULL, *free_slot = NULL;

	for (unsigned int i = 0; i < ARRAY_SIZE(d->status); i++) {
		if (d->status[i].used && !strcmp(d->status[i].id, job_id))
			p = &d->status[i];
		else if (!d->status[i].used && !free_slot)
			free_slot = &d->status[i];
	}
	if (!p) {
		if (!free_slot) {
			cpd_error(d, "job %s: too many status posts waiting; %s not sent", job_id,
				  state);
			return;
		}
		p = free_slot;
		memset(p, 0, sizeof(*p));
		p->used = true;
		p->d = d;
		snprintf(p->id, sizeof(p->id), "%s", job_id);
		cp_backoff_init(&p->backoff, d->cfg.backoff_base_ms, d->cfg.backoff_cap_ms);
	}
	/* A final state is never replaced by printing. */
	if (p->state && cpd_final_state(p->state) && !cpd_final_state(state))
		return;
	p->state = state;
	p->crc = crc;
	snprintf(p->detail, sizeof(p->detail), "%s", detail ? detail : "");
	if (!p->in_flight)
		cpd_status_send(p);
}

/* Post the final status of a ledger entry that has one. */
static void cpd_ledger_post(struct cpd *d, const struct cp_ledger_entry *e)
{
	if (e->state == CP_LEDGER_PRINTED)
		cpd_post_status(d, e->id, "done", e->crc32, NULL);
	else if (e->state == CP_LEDGER_ENDED)
		cpd_post_status(d, e->id, "aborted", -1, "ended on the engine");
}

static bool cpd_printing_add(struct cpd *d, const char *id, uint64_t engine_job);

/*
 * Back in the cloud (start-up, registration, resume): every job of the
 * ledger gets its final status posted.  A job handed to the engine before
 * a restart is looked up in the driver: still there, it is followed; its
 * record says how it ended; never committed and nothing printed, it is
 * forgotten (it prints when the cloud lists it again); no record (the
 * module was reloaded), it is reported aborted, not printed again.
 */
static void cpd_ledger_resume(struct cpd *d)
{
	struct prengine_job_info info;
	bool changed = false;

	for (size_t i = 0; i < d->ledger.n; i++) {
		struct cp_ledger_entry *e = &d->ledger.e[i];

		if (e->state != CP_LEDGER_HANDED) {
			if (!cpd_status_pending(d, e->id))
				cpd_ledger_post(d, e);
			continue;
		}
		if (cpd_job_known(d, e->id))
			continue;
		if (cp_engine_job_info(&d->eng, e->engine_job, &info) ||
		    info.source != PRENGINE_SOURCE_CLOUD || info.bytes != e->size) {
			e->state = CP_LEDGER_ENDED;
		} else if (info.state != PRENGINE_JOB_COMPLETE) {
			cpd_printing_add(d, e->id, e->engine_job);
			continue;
		} else if (info.result == PRENGINE_RESULT_PRINTED) {
			e->state = CP_LEDGER_PRINTED;
			e->crc32 = info.crc32;
		} else if (!info.printed && (info.result == PRENGINE_RESULT_WRITER_ABORTED ||
					     info.result == PRENGINE_RESULT_FLUSHED)) {
			cp_info("job %s: never reached the engine; it prints when listed", e->id);
			cp_ledger_remove(&d->ledger, e->id);
			changed = true;
			i--;
			continue;
		} else {
			e->state = CP_LEDGER_ENDED;
		}
		cp_info("job %s: handed to the engine before a restart: %s", e->id,
			cp_ledger_state_name(e->state));
		changed = true;
		cpd_ledger_post(d, e);
	}
	if (changed)
		cpd_ledger_save(d);
}

static void cpd_on_engine_event(void *ctx, const struct cp_engine_event *ev)
{
	struct cpd *d = ctx;
	struct cp_ledger_entry *e;
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
		e = cp_ledger_find(&d->ledger, p->id);
		if (e) {
			e->state = ok ? CP_LEDGER_PRINTED : CP_LEDGER_ENDED;
			e->crc32 = ev->crc32;
			cpd_ledger_save(d);
		}
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
static void cpd_start_claim(struct cpd *d);
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
	/*
	 * Refused again with a new token (401 invalid_token each time): the
	 * next refreshes wait the backoff, so that it is no busy loop.
	 */
	cpd_schedule_poll(d, d->refreshed ? cp_backoff_next(&d->backoff, cp_rand, NULL) : 0);
	d->refreshed = true;
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
		cpd_on_deletion(d);
		return;
	}
	if (d->unconfirmed) {
		/* To be confirmed at the polling pace, not after a backoff. */
		cpd_schedule_poll(d, cpd_poll_delay(d));
		return;
	}
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
	d->refreshed = false;
	d->last_error[0] = '\0';
	cpd_take_poll_advice(d, advice);
	if (skipped)
		cpd_error(d, "jobs list: %zu entr(ies) of the wrong shape, skipped", skipped);
	d->admit_blocked = false;
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
 * A deletion, confirmed (cpd_classify counts every answer): act on it and
 * return true.
 */
static bool cpd_deletion_confirmed(struct cpd *d, enum cp_verdict v)
{
	if (v != CP_VERDICT_DELETED)
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
	d->refreshed = false;
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
	if (cpd_cloud_error(res, 410, "registration_expired")) {
		/* Nobody claimed it in time: the protocol says register again. */
		if (++d->reg_renewals > CPD_REG_RENEWALS_MAX) {
			cpd_error(d, "the claim code expired %u times without a claim; "
				  "run cloudprintctl register again", CPD_REG_RENEWALS_MAX + 1);
			cpd_apply(d, CP_EV_REGISTER_FAILED);
			return;
		}
		cp_warn("claim code %s expired before the owner claimed it: registering again",
			d->claim_code);
		cpd_start_claim(d);
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
	d->deferred = false;		/* no resync when the jobs end below */
	cpd_stop_poll(d);
	d->request_in_flight = false;
	for (unsigned int i = 0; i < CPD_JOBS_MAX; i++)
		if (d->jobs[i].active)
			cpd_job_end(&d->jobs[i]);
	memset(d->printing, 0, sizeof(d->printing));
	/* The ledger keeps what the cloud has yet to hear, for a return. */
	memset(d->status, 0, sizeof(d->status));
	cp_timer_disarm(d->status_timer.fd);
}

/*
 * Crash points of a transition (crashpoint.h): @crash-@what, where @crash
 * names the transition ("deletion-<state>", "resume", "resolve-keep") or
 * is NULL for one without crash points.
 */
static void cpd_crashpoint(const char *crash, const char *what)
{
	char name[96];

	if (!crash)
		return;
	snprintf(name, sizeof(name), "%s-%s", crash, what);
	cp_crashpoint(name);
}

static const char *cpd_crash_name(enum cp_event ev, const struct cp_step *st)
{
	static char name[48];

	switch (ev) {
	case CP_EV_DELETION:
		snprintf(name, sizeof(name), "deletion-%s", cp_state_name(st->next));
		return name;
	case CP_EV_RESUME:
		return "resume";
	case CP_EV_RESOLVE_KEEP:
		return "resolve-keep";
	case CP_EV_REGISTER:
	case CP_EV_CLAIMED:
	case CP_EV_REGISTER_FAILED:
	case CP_EV_RESOLVE_DELETE:
	case CP_EV_RESOLVE_SUSPEND:
	case CP_EV_UNREGISTER:
		break;
	}
	return NULL;
}

/* The lockdown of a step failed: silent, credentials untouched, try again. */
static void cpd_lockdown_failed(struct cpd *d, const struct cp_step *st, const char *crash, int r)
{
	uint32_t ms = cp_backoff_next(&d->lock_backoff, cp_rand, NULL);

	cpd_error(d, "driver lockdown failed: %s; nothing else is done (the credentials are "
		  "kept) until it succeeds; again in %u ms", strerror(-r), ms);
	if (st->actions & CP_ACT_STOP_CLOUD)
		cpd_stop_cloud(d);
	d->lock_step = *st;
	snprintf(d->lock_crash, sizeof(d->lock_crash), "%s", crash ? crash : "");
	d->lock_pending = true;
	cp_timer_arm(d->lock_timer.fd, ms);
}

static int cpd_run(struct cpd *d, const struct cp_step *st, const char *crash);

static void cpd_on_lock_timer(struct cp_watch *w, uint32_t events)
{
	struct cpd *d = (struct cpd *)((char *)w - offsetof(struct cpd, lock_timer));
	struct cp_step st = d->lock_step;

	(void)events;
	if (!cp_timer_consume(w->fd) || !d->lock_pending)
		return;
	d->lock_pending = false;
	if (!cpd_run(d, &st, d->lock_crash[0] ? d->lock_crash : NULL))
		cp_info("driver lockdown done on a later attempt");
}

/* Carry out a step of the state machine; 0, or -errno with last_error set. */
static int cpd_run(struct cpd *d, const struct cp_step *st, const char *crash)
{
	uint32_t flushed = 0, lock_to;
	int r;

	if (d->lock_pending) {
		cpd_error(d, "a driver lockdown failed and is being tried again");
		return -EBUSY;
	}
	cpd_crashpoint(crash, "start");
	if (st->actions & CP_ACT_LOCKDOWN) {
		lock_to = st->next == CP_STATE_SUSPENDED ? PRENGINE_STATE_SUSPENDED :
			  st->next == CP_STATE_UNREGISTERED && !(st->actions & CP_ACT_DELETE_CREDS) ?
			  PRENGINE_STATE_UNREGISTERED : PRENGINE_STATE_DELETED;
		if (st->actions & CP_ACT_TELL_CLOUD)
			lock_to = PRENGINE_STATE_UNREGISTERED;
		r = cp_engine_lockdown(&d->eng, lock_to, &flushed);
		if (r) {
			cpd_lockdown_failed(d, st, crash, r);
			return r;
		} else {
			struct timespec now;

			clock_gettime(CLOCK_REALTIME, &now);
			d->locked_at = now.tv_sec + now.tv_nsec / 1e9;
			cp_backoff_reset(&d->lock_backoff);
			cp_info("driver locked down: %u cloud job(s) flushed", flushed);
		}
		if (d->detection[0] && flushed)
			snprintf(d->detection + strlen(d->detection),
				 sizeof(d->detection) - strlen(d->detection),
				 "; %u job(s) flushed", flushed);
		cpd_crashpoint(crash, "locked");
	}
	if (st->actions & CP_ACT_STOP_CLOUD) {
		cpd_stop_cloud(d);
		cpd_crashpoint(crash, "silent");
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
		d->reg_renewals = 0;
		cpd_start_claim(d);
	}
	if (st->actions & CP_ACT_OPEN_DRIVER) {
		/* Before the file: see enum cp_action. */
		r = cp_engine_set_state(&d->eng, cp_state_driver(st->next));
		if (r) {
			cpd_error(d, "setting the driver state failed: %s; still %s", strerror(-r),
				  cp_state_name(d->state));
			return r;
		}
		cpd_crashpoint(crash, "driver-set");
	}
	if (st->actions & CP_ACT_WRITE_CREDS) {
		d->creds.mark = cpd_mark(st->next);
		r = cp_creds_store(d->cfg.state_dir, &d->creds);
		if (r)
			cpd_error(d, "storing the credentials failed: %s", strerror(-r));
		cpd_crashpoint(crash, "creds-stored");
	}
	if (st->actions & CP_ACT_DELETE_CREDS) {
		r = cp_creds_delete(d->cfg.state_dir);
		if (r)
			cpd_error(d, "deleting the credentials failed: %s", strerror(-r));
		else
			cp_info("credentials deleted");
		memset(&d->creds, 0, sizeof(d->creds));
		/* Its jobs belong to the registration that is gone. */
		d->ledger.n = 0;
		cpd_ledger_save(d);
		cpd_crashpoint(crash, "creds-deleted");
	}
	if (st->actions & CP_ACT_SET_DRIVER) {
		r = cp_engine_set_state(&d->eng, cp_state_driver(st->next));
		if (r)
			cpd_error(d, "setting the driver state failed: %s", strerror(-r));
		cpd_crashpoint(crash, "driver-set");
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
		cpd_ledger_resume(d);
	}
	return 0;
}

static void cpd_apply(struct cpd *d, enum cp_event ev)
{
	struct cp_step st;

	if (cp_policy_step(d->state, d->cfg.policy, ev, &st)) {
		cp_warn("event %d ignored in state %s", ev, cp_state_name(d->state));
		return;
	}
	cpd_run(d, &st, cpd_crash_name(ev, &st));
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
	if (cpd_run(d, &st, cpd_crash_name(ev, &st)))
		cpd_reply(fd, false, d->last_error);
	else
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
	cpd_run(d, &st, NULL);
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
	d->spool = cp_engine_spool_bytes();
	if (!d->spool) {
		cp_warn("the driver's buffer_kib cannot be read: assuming %llu KiB",
			CPD_SPOOL_DEFAULT >> 10);
		d->spool = CPD_SPOOL_DEFAULT;
	}
	cp_info("%s is there (spool %llu KiB)", d->engine_node, (unsigned long long)d->spool >> 10);
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
	d->lock_pending = false;	/* reconciled again when it is back */
	cp_timer_disarm(d->lock_timer.fd);
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
	int opt, r;

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
	r = cp_ledger_load(d.cfg.state_dir, &d.ledger);
	if (r == -EINVAL)
		cp_err("%s/%s is damaged: its jobs are forgotten", d.cfg.state_dir, CP_LEDGER_FILE);
	else if (r && r != -ENOENT)
		cp_err("%s/%s: %s", d.cfg.state_dir, CP_LEDGER_FILE, strerror(-r));
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
	d.status_timer.fd = cp_timer_new();
	d.status_timer.fn = cpd_on_status_timer;
	d.lock_timer.fd = cp_timer_new();
	d.lock_timer.fn = cpd_on_lock_timer;
	cp_backoff_init(&d.lock_backoff, d.cfg.backoff_base_ms, d.cfg.backoff_cap_ms);
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
	    cpd_watch(&d, &d.status_timer) || cpd_watch(&d, &d.lock_timer) ||
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
