// SPDX-License-Identifier: GPL-2.0
/*
 * usbprintd: bridge from the USB printer gadget (/dev/g_printerN) into a
 * print engine (/dev/prengineN) as USB-source jobs, and mirror the
 * engine's status to the USB host (GADGET_SET_PRINTER_STATUS).
 *
 * One thread, one epoll loop, no periodic tick.  The udev monitor is added
 * to the loop before the devices are enumerated, and the add handler is
 * idempotent, so a node appearing during start-up is neither lost nor
 * opened twice.  The engine file is non-blocking: when the engine's buffer
 * is full the gadget is no longer read, so the USB host is throttled by
 * the gadget's own queue.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <linux/usb/g_printer.h>
#include <linux/prengine.h>

#include "devmon.h"
#include "usb-split.h"

#define RBUF_SIZE	(64 * 1024)

enum src { SRC_UDEV = 1, SRC_GADGET, SRC_ENGINE, SRC_STATUS, SRC_IDLE, SRC_RETRY, SRC_SIGNAL };

struct opts {
	const char *gadget;	/* fixed node, or NULL: first of the class */
	const char *engine;
	unsigned int idle_ms;
	bool verbose;
};

struct usbprintd {
	struct opts o;
	int ep;
	struct cp_devmon *mon;
	int sig_fd, idle_fd, retry_fd;

	char gadget_node[64];		/* node we follow, "" when none */
	int gadget_fd;
	bool gadget_in;			/* EPOLLIN wanted */
	char engine_node[64];
	char engine_syspath[256];
	int engine_fd;
	bool engine_out;		/* waiting for EPOLLOUT */
	int status_fd;			/* sysfs engine_status */
	uint32_t engine_status;

	struct usb_split split;
	bool job_open;
	uint64_t job_id;
	uint64_t job_bytes;
	unsigned long job_seq;

	uint8_t rbuf[RBUF_SIZE];
	size_t roff, rlen;		/* bytes not yet given to the splitter */
	const uint8_t *wptr;		/* segment being written to the engine */
	size_t wlen;
	bool wend;			/* the job ends after the segment */
};

static bool verbose;

static void logmsg(const char *lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logmsg(const char *lvl, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s", lvl);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

#define log_err(...)	logmsg("<3>usbprintd: ", __VA_ARGS__)
#define log_info(...)	logmsg("<6>usbprintd: ", __VA_ARGS__)
#define log_dbg(...)	do { if (verbose) logmsg("<7>usbprintd: ", __VA_ARGS__); } while (0)

static int ep_set(struct usbprintd *d, int op, int fd, uint32_t events, enum src src)
{
	struct epoll_event ev = { .events = events, .data.u64 = ((uint64_t)src << 32) | (uint32_t)fd };

	if (epoll_ctl(d->ep, op, fd, &ev) < 0) {
		log_err("epoll_ctl(%d): %m", fd);
		return -errno;
	}
	return 0;
}

static void arm_timer(int fd, unsigned int ms)
{
	struct itimerspec it = { .it_value = { .tv_sec = ms / 1000,
					       .tv_nsec = (long)(ms % 1000) * 1000000 } };

	if (ms == 0)
		memset(&it, 0, sizeof(it));
	timerfd_settime(fd, 0, &it, NULL);
}

/* ---- status mirror ---- */

static void status_push(struct usbprintd *d)
{
	unsigned long v = d->engine_status & PRENGINE_STATUS_USB_MASK;

	if (d->gadget_fd < 0)
		return;
	if (d->engine_fd < 0)
		v = PRENGINE_STATUS_NOT_ERROR;	/* no engine: not selected */
	/* f_printer takes the value itself, not a pointer. */
	if (ioctl(d->gadget_fd, GADGET_SET_PRINTER_STATUS, v) < 0)
		log_err("%s: GADGET_SET_PRINTER_STATUS: %m", d->gadget_node);
	else
		log_dbg("port status 0x%02lx", v);
}

static void status_read(struct usbprintd *d)
{
	char buf[32];
	ssize_t n;

	if (d->status_fd < 0)
		return;
	n = pread(d->status_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return;
	buf[n] = '\0';
	d->engine_status = (uint32_t)strtoul(buf, NULL, 16);
	log_info("engine status 0x%04x", d->engine_status);
	status_push(d);
}

/* ---- jobs ---- */

static void gadget_want_in(struct usbprintd *d, bool on);

static int job_declare(struct usbprintd *d)
{
	struct prengine_job_decl decl = {
		.source = PRENGINE_SOURCE_USB,
		.flags = PRENGINE_JOB_F_ABORT_ON_CLOSE,
	};

	snprintf(decl.name, sizeof(decl.name), "usb-%lu", ++d->job_seq);
	if (ioctl(d->engine_fd, PRENGINE_IOC_DECLARE_JOB, &decl) < 0) {
		log_err("%s: declare job: %m", d->engine_node);
		return -errno;
	}
	d->job_open = true;
	d->job_id = decl.job_id;
	d->job_bytes = 0;
	log_info("job %" PRIu64 " started (%s)", d->job_id, decl.name);
	return 0;
}

static void job_commit(struct usbprintd *d)
{
	if (!d->job_open)
		return;
	if (ioctl(d->engine_fd, PRENGINE_IOC_COMMIT_JOB) < 0)
		log_err("job %" PRIu64 " failed: commit: %m", d->job_id);
	else
		log_info("job %" PRIu64 " committed (%" PRIu64 " bytes)", d->job_id, d->job_bytes);
	d->job_open = false;
	arm_timer(d->idle_fd, 0);
}

static void job_abort(struct usbprintd *d, const char *why)
{
	if (d->job_open) {
		if (d->engine_fd >= 0 && ioctl(d->engine_fd, PRENGINE_IOC_ABORT_JOB) < 0)
			log_err("job %" PRIu64 ": abort: %m", d->job_id);
		log_info("job %" PRIu64 " failed: %s (%" PRIu64 " bytes received)",
			 d->job_id, why, d->job_bytes);
	}
	d->job_open = false;
	usb_split_reset(&d->split);
	d->roff = d->rlen = 0;
	d->wlen = 0;
	d->wend = false;
	arm_timer(d->idle_fd, 0);
}

/*
 * Move data: splitter → engine, until the buffer is empty or the engine is
 * full.  Reads from the gadget only resume when everything is written.
 */
static void pump(struct usbprintd *d)
{
	for (;;) {
		if (d->engine_fd < 0)
			break;
		if (d->wlen) {
			ssize_t n;

			if (!d->job_open && job_declare(d) < 0) {
				job_abort(d, "cannot declare");
				break;
			}
			n = write(d->engine_fd, d->wptr, d->wlen);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN) {
				if (!d->engine_out) {
					ep_set(d, EPOLL_CTL_MOD, d->engine_fd, EPOLLOUT, SRC_ENGINE);
					d->engine_out = true;
				}
				gadget_want_in(d, false);
				return;
			}
			if (n < 0) {
				char why[96];

				snprintf(why, sizeof(why), "engine write: %s", strerror(errno));
				job_abort(d, why);
				break;
			}
			d->wptr += n;
			d->wlen -= (size_t)n;
			d->job_bytes += (uint64_t)n;
			continue;
		}
		if (d->wend) {
			d->wend = false;
			job_commit(d);
			continue;
		}
		if (d->roff < d->rlen) {
			bool end;
			size_t k = usb_split_feed(&d->split, d->rbuf + d->roff,
						  d->rlen - d->roff, &end);

			d->wptr = d->rbuf + d->roff;
			d->wlen = k;
			d->wend = end;
			d->roff += k;
			continue;
		}
		d->roff = d->rlen = 0;
		break;
	}
	if (d->engine_out && d->engine_fd >= 0) {
		ep_set(d, EPOLL_CTL_MOD, d->engine_fd, 0, SRC_ENGINE);
		d->engine_out = false;
	}
	/* Idle timeout only while a job is open and nothing is pending. */
	if (d->job_open || usb_split_started(&d->split))
		arm_timer(d->idle_fd, d->o.idle_ms);
	gadget_want_in(d, d->engine_fd >= 0 && d->rlen == 0);
}

static void idle_expired(struct usbprintd *d)
{
	uint64_t x;

	if (read(d->idle_fd, &x, sizeof(x)) < 0)
		return;
	if (d->rlen || d->wlen)
		return;		/* blocked on the engine, not idle */
	if (d->job_open && usb_split_has_content(&d->split)) {
		log_info("job %" PRIu64 ": idle for %u ms, ends", d->job_id, d->o.idle_ms);
		job_commit(d);
		usb_split_reset(&d->split);
	} else if (d->job_open) {
		job_abort(d, "idle with no printable content");
	} else {
		usb_split_reset(&d->split);
	}
}

/* ---- gadget ---- */

static void gadget_want_in(struct usbprintd *d, bool on)
{
	if (d->gadget_fd < 0 || d->gadget_in == on)
		return;
	if (ep_set(d, EPOLL_CTL_MOD, d->gadget_fd, on ? EPOLLIN : 0, SRC_GADGET) == 0)
		d->gadget_in = on;
}

static void gadget_close(struct usbprintd *d, const char *why)
{
	if (d->gadget_fd < 0)
		return;
	log_info("%s closed: %s", d->gadget_node, why);
	job_abort(d, why);
	epoll_ctl(d->ep, EPOLL_CTL_DEL, d->gadget_fd, NULL);
	close(d->gadget_fd);
	d->gadget_fd = -1;
	d->gadget_in = false;
}

static void gadget_open(struct usbprintd *d)
{
	int fd;

	if (d->gadget_fd >= 0 || !d->gadget_node[0])
		return;
	fd = open(d->gadget_node, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		/* f_printer gives ENODEV until the function is bound. */
		log_dbg("%s: open: %m; retrying in 1 s", d->gadget_node);
		arm_timer(d->retry_fd, 1000);
		return;
	}
	d->gadget_fd = fd;
	d->gadget_in = false;
	if (ep_set(d, EPOLL_CTL_ADD, fd, 0, SRC_GADGET) < 0) {
		close(fd);
		d->gadget_fd = -1;
		return;
	}
	log_info("%s opened", d->gadget_node);
	usb_split_init(&d->split);
	status_push(d);
	gadget_want_in(d, d->engine_fd >= 0);
}

static void gadget_event(struct usbprintd *d, uint32_t events)
{
	ssize_t n;

	if (events & EPOLLIN) {
		n = read(d->gadget_fd, d->rbuf, sizeof(d->rbuf));
		if (n > 0) {
			d->roff = 0;
			d->rlen = (size_t)n;
			pump(d);
			return;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n == 0 && !(events & (EPOLLHUP | EPOLLERR)))
			return;
	}
	if (events & (EPOLLHUP | EPOLLERR) || (events & EPOLLIN)) {
		/* Unbound, or the host went away: reopen when it is back. */
		gadget_close(d, "gadget disconnected");
		arm_timer(d->retry_fd, 1000);
	}
}

/* ---- engine ---- */

static void engine_close(struct usbprintd *d, const char *why)
{
	if (d->engine_fd < 0)
		return;
	log_info("%s closed: %s", d->engine_node, why);
	job_abort(d, why);
	epoll_ctl(d->ep, EPOLL_CTL_DEL, d->engine_fd, NULL);
	close(d->engine_fd);
	d->engine_fd = -1;
	d->engine_out = false;
	if (d->status_fd >= 0) {
		epoll_ctl(d->ep, EPOLL_CTL_DEL, d->status_fd, NULL);
		close(d->status_fd);
		d->status_fd = -1;
	}
	gadget_want_in(d, false);
	status_push(d);
}

static void engine_open(struct usbprintd *d)
{
	char path[300];
	int fd;

	if (d->engine_fd >= 0 || !d->engine_node[0])
		return;
	fd = open(d->engine_node, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		log_err("%s: open: %m; retrying in 1 s", d->engine_node);
		arm_timer(d->retry_fd, 1000);
		return;
	}
	d->engine_fd = fd;
	d->engine_out = false;
	ep_set(d, EPOLL_CTL_ADD, fd, 0, SRC_ENGINE);
	if (d->engine_syspath[0]) {
		snprintf(path, sizeof(path), "%s/engine_status", d->engine_syspath);
		d->status_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (d->status_fd >= 0)
			ep_set(d, EPOLL_CTL_ADD, d->status_fd, EPOLLPRI | EPOLLERR, SRC_STATUS);
		else
			log_err("%s: %m", path);
	}
	log_info("%s opened", d->engine_node);
	status_read(d);
	if (d->status_fd < 0)
		status_push(d);
	gadget_want_in(d, d->gadget_fd >= 0 && d->rlen == 0);
}

static void engine_event(struct usbprintd *d, uint32_t events)
{
	if (events & (EPOLLERR | EPOLLHUP)) {
		engine_close(d, "engine error");
		return;
	}
	pump(d);
}

/* ---- udev ---- */

static bool node_matches(const char *want, const char *node)
{
	return !want || strcmp(want, node) == 0;
}

static void device_added(struct usbprintd *d, const char *sub, const char *node,
			 const char *syspath)
{
	if (!strcmp(sub, "usb_printer_gadget") && node_matches(d->o.gadget, node)) {
		if (d->gadget_node[0] && strcmp(d->gadget_node, node))
			return;		/* following another one */
		snprintf(d->gadget_node, sizeof(d->gadget_node), "%s", node);
		gadget_open(d);
	} else if (!strcmp(sub, "prengine") && node_matches(d->o.engine, node)) {
		if (d->engine_node[0] && strcmp(d->engine_node, node))
			return;
		snprintf(d->engine_node, sizeof(d->engine_node), "%s", node);
		snprintf(d->engine_syspath, sizeof(d->engine_syspath), "%s", syspath);
		engine_open(d);
	}
}

static void device_removed(struct usbprintd *d, const char *node)
{
	if (!strcmp(node, d->gadget_node)) {
		gadget_close(d, "gadget removed");
		d->gadget_node[0] = '\0';
	} else if (!strcmp(node, d->engine_node)) {
		engine_close(d, "engine removed");
		d->engine_node[0] = '\0';
	}
}

static void on_device(void *ctx, bool added, const char *sub, const char *node,
		      const char *syspath)
{
	struct usbprintd *d = ctx;

	log_dbg("uevent %s %s", added ? "add" : "remove", syspath);
	if (added)
		device_added(d, sub, node, syspath);
	else
		device_removed(d, node);
}

static void retry(struct usbprintd *d)
{
	uint64_t x;

	if (read(d->retry_fd, &x, sizeof(x)) < 0)
		return;
	engine_open(d);
	gadget_open(d);
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: usbprintd [OPTION]...\n"
		"Bridge the USB printer gadget into a prengine print engine.\n\n"
		"  -g, --gadget=NODE        gadget node (default: first usb_printer_gadget)\n"
		"  -e, --engine=NODE        engine node (default: first prengine)\n"
		"  -i, --idle-timeout=MS    end a job after MS ms without data (default 5000)\n"
		"  -k, --kernel-events      follow kernel uevents (no udevd running)\n"
		"  -v, --verbose            debug messages\n"
		"  -h, --help               this text\n");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "gadget", required_argument, NULL, 'g' },
		{ "engine", required_argument, NULL, 'e' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "kernel-events", no_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct usbprintd d;
	static const char *const subsystems[] = { "prengine", "usb_printer_gadget", NULL };
	bool kernel_events = false;
	sigset_t mask;
	int c;

	d.o.idle_ms = 5000;
	while ((c = getopt_long(argc, argv, "g:e:i:kvh", lopts, NULL)) != -1) {
		switch (c) {
		case 'g':
			d.o.gadget = optarg;
			break;
		case 'e':
			d.o.engine = optarg;
			break;
		case 'i': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || v == 0 || v > 3600000) {
				fprintf(stderr, "usbprintd: bad idle timeout '%s'\n", optarg);
				return 2;
			}
			d.o.idle_ms = (unsigned int)v;
			break;
		}
		case 'k':
			kernel_events = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	setvbuf(stderr, NULL, _IOLBF, 0);
	d.gadget_fd = d.engine_fd = d.status_fd = -1;
	usb_split_init(&d.split);

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	d.ep = epoll_create1(EPOLL_CLOEXEC);
	d.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	d.idle_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	d.retry_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (d.ep < 0 || d.sig_fd < 0 || d.idle_fd < 0 || d.retry_fd < 0) {
		log_err("setup: %m");
		return 1;
	}
	/* Monitor first, in the loop, then enumerate (no missed node). */
	d.mon = cp_devmon_new(subsystems, kernel_events, on_device, &d);
	if (!d.mon) {
		log_err("udev monitor: %m");
		return 1;
	}
	if (ep_set(&d, EPOLL_CTL_ADD, cp_devmon_fd(d.mon), EPOLLIN, SRC_UDEV) < 0 ||
	    ep_set(&d, EPOLL_CTL_ADD, d.sig_fd, EPOLLIN, SRC_SIGNAL) < 0 ||
	    ep_set(&d, EPOLL_CTL_ADD, d.idle_fd, EPOLLIN, SRC_IDLE) < 0 ||
	    ep_set(&d, EPOLL_CTL_ADD, d.retry_fd, EPOLLIN, SRC_RETRY) < 0)
		return 1;
	cp_devmon_scan(d.mon);
	log_info("running (idle timeout %u ms, %s events)", d.o.idle_ms,
		 kernel_events ? "kernel" : "udev");

	for (;;) {
		struct epoll_event evs[16];
		int n = epoll_wait(d.ep, evs, 16, -1), i;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err("epoll_wait: %m");
			break;
		}
		for (i = 0; i < n; i++) {
			enum src src = (enum src)(evs[i].data.u64 >> 32);
			uint32_t ev = evs[i].events;

			switch (src) {
			case SRC_UDEV:
				cp_devmon_dispatch(d.mon);
				break;
			case SRC_GADGET:
				if (d.gadget_fd >= 0 && (int)(uint32_t)evs[i].data.u64 == d.gadget_fd)
					gadget_event(&d, ev);
				break;
			case SRC_ENGINE:
				if (d.engine_fd >= 0 && (int)(uint32_t)evs[i].data.u64 == d.engine_fd)
					engine_event(&d, ev);
				break;
			case SRC_STATUS:
				status_read(&d);
				break;
			case SRC_IDLE:
				idle_expired(&d);
				break;
			case SRC_RETRY:
				retry(&d);
				break;
			case SRC_SIGNAL:
				log_info("exiting");
				job_abort(&d, "usbprintd stopped");
				gadget_close(&d, "exit");
				engine_close(&d, "exit");
				cp_devmon_free(d.mon);
				return 0;
			}
		}
	}
	return 1;
}
