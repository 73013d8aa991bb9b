// SPDX-License-Identifier: GPL-2.0
/*
 * usbprintd: the USB printer function of the printer, in userspace over
 * FunctionFS, bridged into a print engine (/dev/prengineN) as USB-source
 * jobs.  It writes the printer class descriptors to ep0, binds the gadget
 * to its UDC once they are in, answers the class requests (GET_DEVICE_ID,
 * GET_PORT_STATUS with the engine's status mirrored, SOFT_RESET) and keeps
 * many receive requests of one max-packet each queued on the bulk OUT
 * endpoint with kernel AIO: every packet completes on its own, so no byte
 * of a job waits in the gadget for the next transfer (a request larger
 * than a packet completes only when full or on a short packet).
 *
 * One thread, one epoll loop, no periodic tick.  The udev monitor is added
 * to the loop before the devices are enumerated, and the add handler is
 * idempotent.  The engine file is non-blocking: when the engine's buffer
 * is full the received packets are not consumed and no request is queued
 * again, so the USB host is throttled by NAKs.
 */
#include <endian.h>
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
#include <dirent.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <linux/aio_abi.h>
#include <linux/usb/functionfs.h>
#include <linux/prengine.h>

#include "devmon.h"
#include "usb-ffs.h"
#include "usb-split.h"

#define RBUF_SIZE	(64 * 1024)
#define REQ_MAX		1024		/* largest max-packet (super speed) */
#define NREQ_DEFAULT	256
#define NREQ_MAX	4096
#define DEFAULT_FFS	"/dev/usb-ffs/prengine"
#define DEFAULT_GADGET	"/sys/kernel/config/usb_gadget/prengine"
#define DEFAULT_ID	"MFG:Prengine;MDL:Sim;CMD:PJL,PCL,PDF;CLS:PRINTER;"

enum src {
	SRC_UDEV = 1, SRC_EP0, SRC_RX, SRC_ENGINE, SRC_STATUS, SRC_QUEUE, SRC_IDLE, SRC_SIGNAL
};

struct opts {
	const char *ffs;	/* FunctionFS mount */
	const char *gadget;	/* configfs gadget directory, "" = do not bind */
	const char *udc;	/* controller, NULL: the first there is */
	const char *engine;	/* fixed node, or NULL: first of the class */
	const char *device_id;
	unsigned int idle_ms;
	unsigned int nreq;
	bool discard;		/* throw the data away (benchmark of the raw path) */
	bool verbose;
};

enum slot_state { SLOT_FREE, SLOT_QUEUED, SLOT_DONE };

/* The receive requests: a ring in submission order, consumed in order. */
struct rx {
	aio_context_t ctx;
	int efd;		/* eventfd, one count per completion */
	unsigned int n;
	size_t size;		/* bytes per request: the endpoint's max packet */
	struct iocb *cbs;
	uint8_t *bufs;
	int64_t *res;
	uint8_t *state;
	uint64_t head, tail;	/* next to consume, next to submit */
	unsigned int queued;
	uint64_t discarded;
};

struct usbprintd {
	struct opts o;
	int ep;
	struct cp_devmon *mon;
	int sig_fd, idle_fd;

	int ep0_fd, out_fd;
	bool enabled;		/* host configured the interface */
	bool bound;		/* gadget bound to a UDC */
	bool quit;		/* ep0 failed: exit, the service restarts us */
	char udc_seen[256];	/* syspath of the controller seen last */
	struct rx rx;

	char engine_node[64];
	char engine_syspath[256];
	int engine_fd;
	bool engine_out;	/* waiting for EPOLLOUT */
	int status_fd;		/* sysfs engine_status */
	int queue_fd;		/* sysfs queue_depth */
	bool declare_wait;	/* job table full: wait for queue_depth */
	uint32_t engine_status;

	struct usb_split split;
	bool job_open;
	uint64_t job_id;
	uint64_t job_bytes;
	unsigned long job_seq;

	uint8_t rbuf[RBUF_SIZE];
	size_t roff, rlen;	/* bytes not yet given to the splitter */
	const uint8_t *wptr;	/* segment being written to the engine */
	size_t wlen;
	bool wend;		/* the job ends after the segment */
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

/* The GET_PORT_STATUS byte: the engine's low status byte, or not selected. */
static uint8_t port_status(const struct usbprintd *d)
{
	if (d->engine_fd < 0)
		return PRENGINE_STATUS_NOT_ERROR;	/* no engine: not selected */
	return (uint8_t)(d->engine_status & PRENGINE_STATUS_USB_MASK);
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
	log_info("engine status 0x%04x (port status 0x%02x)", d->engine_status, port_status(d));
}

/* ---- jobs ---- */

static void rx_drain(struct usbprintd *d);
static unsigned int rx_harvest(struct usbprintd *d);
static bool rx_pending(const struct usbprintd *d);

static int job_declare(struct usbprintd *d)
{
	struct prengine_job_decl decl = {
		.source = PRENGINE_SOURCE_USB,
		.flags = PRENGINE_JOB_F_ABORT_ON_CLOSE,
	};

	snprintf(decl.name, sizeof(decl.name), "usb-%lu", d->job_seq + 1);
	if (ioctl(d->engine_fd, PRENGINE_IOC_DECLARE_JOB, &decl) < 0) {
		if (errno == ENOSPC) {
			/* Every job slot is taken: keep the data, wait for one. */
			if (!d->declare_wait)
				log_info("%s: job table full; the job waits for a slot",
					 d->engine_node);
			d->declare_wait = true;
			return -ENOSPC;
		}
		log_err("%s: declare job: %m", d->engine_node);
		return -errno;
	}
	d->declare_wait = false;
	d->job_seq++;
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
	} else if (d->rlen || d->wlen) {
		log_info("%zu bytes not yet in a job dropped: %s", d->rlen - d->roff + d->wlen, why);
	}
	d->job_open = false;
	d->declare_wait = false;
	usb_split_reset(&d->split);
	d->roff = d->rlen = 0;
	d->wlen = 0;
	d->wend = false;
	arm_timer(d->idle_fd, 0);
}

/*
 * Move data: splitter → engine, until the buffer is empty or the engine is
 * full (EAGAIN, or no job slot).  The caller takes more packets only once
 * everything is written.
 */
static void pump(struct usbprintd *d)
{
	for (;;) {
		if (d->engine_fd < 0 || d->declare_wait)
			break;
		if (d->wlen) {
			ssize_t n;

			if (!d->job_open) {
				int r = job_declare(d);

				if (r == -ENOSPC)
					break;
				if (r < 0) {
					job_abort(d, "cannot declare");
					break;
				}
			}
			n = write(d->engine_fd, d->wptr, d->wlen);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN) {
				if (!d->engine_out) {
					ep_set(d, EPOLL_CTL_MOD, d->engine_fd, EPOLLOUT, SRC_ENGINE);
					d->engine_out = true;
				}
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
}

static void idle_expired(struct usbprintd *d)
{
	uint64_t x;

	if (read(d->idle_fd, &x, sizeof(x)) < 0)
		return;
	if (d->rlen || d->wlen || d->declare_wait)
		return;		/* blocked on the engine, not idle */
	/*
	 * Packets that completed in the same turn of the loop (their event
	 * not handled yet) mean the host is not idle: take them first.
	 */
	if (rx_harvest(d) || rx_pending(d)) {
		rx_drain(d);
		if (d->job_open || usb_split_started(&d->split))
			arm_timer(d->idle_fd, d->o.idle_ms);
		return;
	}
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

/* ---- receive requests (kernel AIO on the bulk OUT endpoint) ---- */

static long sys_io_setup(unsigned int nr, aio_context_t *ctx)
{
	return syscall(SYS_io_setup, nr, ctx);
}

static long sys_io_destroy(aio_context_t ctx)
{
	return syscall(SYS_io_destroy, ctx);
}

static long sys_io_submit(aio_context_t ctx, long n, struct iocb **cbs)
{
	return syscall(SYS_io_submit, ctx, n, cbs);
}

static long sys_io_getevents(aio_context_t ctx, long min, long max, struct io_event *evs,
			     struct timespec *ts)
{
	return syscall(SYS_io_getevents, ctx, min, max, evs, ts);
}

static int rx_init(struct usbprintd *d)
{
	struct rx *r = &d->rx;

	r->n = d->o.nreq;
	r->cbs = calloc(r->n, sizeof(*r->cbs));
	r->bufs = aligned_alloc(64, (size_t)r->n * REQ_MAX);
	r->res = calloc(r->n, sizeof(*r->res));
	r->state = calloc(r->n, 1);
	r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!r->cbs || !r->bufs || !r->res || !r->state || r->efd < 0) {
		log_err("receive requests: %m");
		return -1;
	}
	if (sys_io_setup(r->n, &r->ctx) < 0) {
		log_err("io_setup(%u): %m", r->n);
		return -1;
	}
	return ep_set(d, EPOLL_CTL_ADD, r->efd, EPOLLIN, SRC_RX);
}

/*
 * Hand the kernel the @k newest requests of the ring; those it does not take
 * (the interface is not enabled any more: EAGAIN, or gone) go back to free.
 * Returns whether it took them all.
 */
static bool rx_submit_batch(struct rx *r, struct iocb **batch, long k)
{
	long done = sys_io_submit(r->ctx, k, batch);
	long ok = done < 0 ? 0 : done;

	if (ok < k) {
		log_dbg("io_submit: %ld of %ld: %m", ok, k);
		r->tail -= (uint64_t)(k - ok);
		for (long j = ok; j < k; j++)
			r->state[batch[j]->aio_data] = SLOT_FREE;
	}
	r->queued += (unsigned int)ok;
	return ok == k;
}

/* Queue every free request, in ring order, while the interface is enabled. */
static void rx_submit(struct usbprintd *d)
{
	struct rx *r = &d->rx;
	struct iocb *batch[64];
	long k = 0;

	while (d->enabled && d->out_fd >= 0 && r->tail - r->head < r->n) {
		unsigned int i = (unsigned int)(r->tail % r->n);
		struct iocb *cb = &r->cbs[i];

		memset(cb, 0, sizeof(*cb));
		cb->aio_data = i;
		cb->aio_lio_opcode = IOCB_CMD_PREAD;
		cb->aio_fildes = (uint32_t)d->out_fd;
		cb->aio_buf = (uint64_t)(uintptr_t)(r->bufs + (size_t)i * REQ_MAX);
		cb->aio_nbytes = r->size;
		cb->aio_flags = IOCB_FLAG_RESFD;
		cb->aio_resfd = (uint32_t)r->efd;
		r->state[i] = SLOT_QUEUED;
		r->tail++;
		batch[k++] = cb;
		if (k == (long)(sizeof(batch) / sizeof(batch[0])) || r->tail - r->head == r->n) {
			if (!rx_submit_batch(r, batch, k))
				return;
			k = 0;
		}
	}
	if (k)
		rx_submit_batch(r, batch, k);
}

/*
 * Completions: mark them done; consumed in submission order by rx_drain.
 * Returns how many completed.
 */
static unsigned int rx_harvest(struct usbprintd *d)
{
	struct rx *r = &d->rx;
	struct io_event evs[128];
	struct timespec zero = { 0, 0 };
	unsigned int got = 0;
	uint64_t x;
	long n, i;

	if (read(r->efd, &x, sizeof(x)) < 0)
		return 0;
	do {
		n = sys_io_getevents(r->ctx, 0, 128, evs, &zero);
		for (i = 0; i < n; i++) {
			unsigned int s = (unsigned int)evs[i].data;

			if (s >= r->n || r->state[s] != SLOT_QUEUED)
				continue;
			r->res[s] = evs[i].res;
			r->state[s] = SLOT_DONE;
			r->queued--;
			got++;
			if (evs[i].res < 0)
				log_dbg("receive request: %s", strerror((int)-evs[i].res));
		}
	} while (n == 128);
	return got;
}

static void rx_event(struct usbprintd *d)
{
	rx_harvest(d);
	rx_drain(d);
}

/*
 * Hand the completed packets, in order, to the splitter and the engine, as
 * long as the engine takes them; then queue the freed requests again.
 */
static void rx_drain(struct usbprintd *d)
{
	struct rx *r = &d->rx;

	for (;;) {
		bool took = false;

		if (!d->o.discard &&
		    (d->engine_fd < 0 || d->rlen || d->wlen || d->wend || d->declare_wait))
			break;
		while (r->head < r->tail && r->state[r->head % r->n] == SLOT_DONE &&
		       d->rlen + REQ_MAX <= RBUF_SIZE) {
			unsigned int s = (unsigned int)(r->head % r->n);

			if (r->res[s] > 0 && d->o.discard) {
				r->discarded += (uint64_t)r->res[s];
			} else if (r->res[s] > 0) {
				memcpy(d->rbuf + d->rlen, r->bufs + (size_t)s * REQ_MAX,
				       (size_t)r->res[s]);
				d->rlen += (size_t)r->res[s];
			}
			r->state[s] = SLOT_FREE;
			r->head++;
			took = true;
		}
		if (!took)
			break;
		if (d->rlen) {
			d->roff = 0;
			pump(d);
		}
	}
	rx_submit(d);
}

/* A completed packet waits to be consumed. */
static bool rx_pending(const struct usbprintd *d)
{
	const struct rx *r = &d->rx;

	return r->head < r->tail && r->state[r->head % r->n] == SLOT_DONE;
}

/* Drop the packets received and not consumed (unbind, soft reset). */
static void rx_flush(struct usbprintd *d)
{
	struct rx *r = &d->rx;

	while (r->head < r->tail && r->state[r->head % r->n] == SLOT_DONE) {
		r->state[r->head % r->n] = SLOT_FREE;
		r->head++;
	}
}

/* ---- the FunctionFS function ---- */

static void ffs_path(const struct usbprintd *d, char *buf, size_t len, const char *file)
{
	snprintf(buf, len, "%s/%s", d->o.ffs, file);
}

/* The controller to bind to: -u, or the first one in /sys/class/udc. */
static bool udc_name(const struct usbprintd *d, char *buf, size_t len)
{
	struct dirent *e;
	DIR *dir;
	bool found = false;

	if (d->o.udc) {
		snprintf(buf, len, "%s", d->o.udc);
		return true;
	}
	dir = opendir("/sys/class/udc");
	if (!dir)
		return false;
	while (!found && (e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(buf, len, "%s", e->d_name);
		found = true;
	}
	closedir(dir);
	return found;
}

/* Bind the gadget to its UDC once the descriptors are in (FunctionFS ready). */
static void gadget_bind(struct usbprintd *d)
{
	char path[512], udc[256], cur[256] = "";
	ssize_t n;
	int fd;

	if (d->ep0_fd < 0 || !d->o.gadget[0])
		return;
	snprintf(path, sizeof(path), "%s/UDC", d->o.gadget);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		log_err("%s: %m", path);
		return;
	}
	n = read(fd, cur, sizeof(cur) - 1);
	if (n > 0 && cur[0] != '\n') {
		close(fd);
		return;			/* bound already */
	}
	if (!udc_name(d, udc, sizeof(udc))) {
		log_info("no USB device controller yet; waiting for one");
		close(fd);
		return;
	}
	if (write(fd, udc, strlen(udc)) < 0)
		log_err("bind %s to %s: %m", d->o.gadget, udc);
	else
		log_info("gadget %s bound to %s", d->o.gadget, udc);
	close(fd);
}

static void ffs_close(struct usbprintd *d, const char *why)
{
	if (d->ep0_fd < 0)
		return;
	log_info("%s closed: %s", d->o.ffs, why);
	job_abort(d, why);
	d->enabled = false;
	if (d->out_fd >= 0) {
		close(d->out_fd);
		d->out_fd = -1;
	}
	epoll_ctl(d->ep, EPOLL_CTL_DEL, d->ep0_fd, NULL);
	close(d->ep0_fd);		/* unbinds the gadget */
	d->ep0_fd = -1;
}

/*
 * Open ep0, write the descriptors and strings, open the bulk OUT endpoint
 * and bind the gadget.  The host sees the printer only after this.
 */
static int ffs_open(struct usbprintd *d)
{
	uint8_t buf[512];
	char path[300];
	size_t n;
	int fd;

	ffs_path(d, path, sizeof(path), "ep0");
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		log_err("%s: %m (is FunctionFS mounted? scripts/gadget-setup.sh)", path);
		return -1;
	}
	n = usb_ffs_descriptors(buf, sizeof(buf));
	if (write(fd, buf, n) != (ssize_t)n) {
		log_err("%s: descriptors: %m", path);
		close(fd);
		return -1;
	}
	n = usb_ffs_strings(buf, sizeof(buf), "Printer");
	if (write(fd, buf, n) != (ssize_t)n) {
		log_err("%s: strings: %m", path);
		close(fd);
		return -1;
	}
	d->ep0_fd = fd;
	ffs_path(d, path, sizeof(path), USB_PRN_EP_OUT);
	d->out_fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (d->out_fd < 0) {
		log_err("%s: %m", path);
		ffs_close(d, "no bulk OUT endpoint");
		return -1;
	}
	if (ep_set(d, EPOLL_CTL_ADD, fd, EPOLLIN, SRC_EP0) < 0) {
		ffs_close(d, "epoll");
		return -1;
	}
	log_info("%s ready (printer class, %u receive requests)", d->o.ffs, d->rx.n);
	gadget_bind(d);
	return 0;
}

static void ffs_enable(struct usbprintd *d)
{
	struct usb_endpoint_descriptor desc;
	unsigned int mps;

	memset(&desc, 0, sizeof(desc));
	if (ioctl(d->out_fd, FUNCTIONFS_ENDPOINT_DESC, &desc) < 0) {
		log_err("bulk OUT descriptor: %m");
		return;
	}
	mps = le16toh(desc.wMaxPacketSize) & 0x7ff;
	if (mps == 0 || mps > REQ_MAX) {
		log_err("bulk OUT max packet %u not supported", mps);
		return;
	}
	d->rx.size = mps;
	d->enabled = true;
	log_info("host configured the printer (bulk OUT max packet %u)", mps);
	rx_drain(d);
}

static void ffs_setup(struct usbprintd *d, const struct usb_ctrlrequest *req)
{
	uint8_t out[USB_PRN_DEVICE_ID_MAX + 2];
	bool reset;
	size_t len;
	ssize_t n;

	switch (usb_prn_setup(req, d->o.device_id, port_status(d), out, sizeof(out), &len,
			      &reset)) {
	case USB_PRN_DATA_IN:
		n = write(d->ep0_fd, out, len);
		log_dbg("class request %u: %zd bytes", req->bRequest, n);
		break;
	case USB_PRN_ACK:
		n = read(d->ep0_fd, out, 0);
		if (reset) {
			log_info("SOFT_RESET from the host");
			job_abort(d, "soft reset by the host");
			rx_flush(d);
			rx_submit(d);
		}
		break;
	default:
		/* Stall: the data stage in the other direction. */
		if (req->bRequestType & USB_DIR_IN)
			n = read(d->ep0_fd, out, 0);
		else
			n = write(d->ep0_fd, out, 0);
		log_dbg("request 0x%02x/%u stalled", req->bRequestType, req->bRequest);
		break;
	}
	if (n < 0 && errno != EL2HLT)
		log_dbg("ep0: %m");
}

static void ep0_event(struct usbprintd *d, uint32_t events)
{
	struct usb_functionfs_event ev[4];
	ssize_t n;
	int i;

	if (events & (EPOLLERR | EPOLLHUP) && !(events & EPOLLIN)) {
		log_err("ep0: error or hang-up");
		d->quit = true;
		return;
	}
	n = read(d->ep0_fd, ev, sizeof(ev));
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR) {
			log_err("ep0: %m");
			d->quit = true;
		}
		return;
	}
	for (i = 0; i < n / (ssize_t)sizeof(ev[0]); i++) {
		switch (ev[i].type) {
		case FUNCTIONFS_BIND:
			d->bound = true;
			log_info("bound to the USB device controller");
			break;
		case FUNCTIONFS_UNBIND:
			d->bound = false;
			d->enabled = false;
			log_info("unbound from the USB device controller");
			job_abort(d, "gadget unbound (unplugged)");
			rx_flush(d);
			break;
		case FUNCTIONFS_ENABLE:
			ffs_enable(d);
			break;
		case FUNCTIONFS_DISABLE:
			d->enabled = false;
			log_info("host deconfigured the printer");
			break;
		case FUNCTIONFS_SETUP:
			ffs_setup(d, &ev[i].u.setup);
			break;
		case FUNCTIONFS_SUSPEND:
		case FUNCTIONFS_RESUME:
			log_dbg("bus %s", ev[i].type == FUNCTIONFS_SUSPEND ? "suspend" : "resume");
			break;
		}
	}
}

/* ---- engine ---- */

static void sysfs_close(struct usbprintd *d, int *fd)
{
	if (*fd < 0)
		return;
	epoll_ctl(d->ep, EPOLL_CTL_DEL, *fd, NULL);
	close(*fd);
	*fd = -1;
}

static int sysfs_watch(struct usbprintd *d, const char *attr, enum src src)
{
	char path[300];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", d->engine_syspath, attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_err("%s: %m", path);
		return -1;
	}
	if (ep_set(d, EPOLL_CTL_ADD, fd, EPOLLPRI | EPOLLERR, src) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

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
	sysfs_close(d, &d->status_fd);
	sysfs_close(d, &d->queue_fd);
}

static void engine_open(struct usbprintd *d)
{
	int fd;

	if (d->engine_fd >= 0 || !d->engine_node[0])
		return;
	fd = open(d->engine_node, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		/* The node may be there before udev has set its group: its
		 * "add" from udevd (or the next one) opens it. */
		log_err("%s: open: %m; waiting for the next add event", d->engine_node);
		return;
	}
	d->engine_fd = fd;
	d->engine_out = false;
	ep_set(d, EPOLL_CTL_ADD, fd, 0, SRC_ENGINE);
	if (d->engine_syspath[0]) {
		d->status_fd = sysfs_watch(d, "engine_status", SRC_STATUS);
		d->queue_fd = sysfs_watch(d, "queue_depth", SRC_QUEUE);
	}
	log_info("%s opened", d->engine_node);
	status_read(d);
	rx_drain(d);
}

static void engine_event(struct usbprintd *d, uint32_t events)
{
	if (events & (EPOLLERR | EPOLLHUP)) {
		engine_close(d, "engine error");
		return;
	}
	pump(d);
	rx_drain(d);
}

/* A job ended in the engine: a slot may be free for a waiting job. */
static void queue_event(struct usbprintd *d)
{
	char buf[32];

	if (pread(d->queue_fd, buf, sizeof(buf), 0) < 0)
		return;
	if (!d->declare_wait)
		return;
	d->declare_wait = false;
	pump(d);
	rx_drain(d);
}

/* ---- udev ---- */

static void device_added(struct usbprintd *d, const char *sub, const char *node,
			 const char *syspath)
{
	if (!strcmp(sub, "udc")) {
		/*
		 * A controller appeared: bind.  Its "change" events (the
		 * gadget bound or unbound, by us or by the administrator)
		 * come for the same syspath and bind nothing.
		 */
		if (!strcmp(d->udc_seen, syspath))
			return;
		snprintf(d->udc_seen, sizeof(d->udc_seen), "%s", syspath);
		gadget_bind(d);
	} else if (!strcmp(sub, "prengine") && node[0] &&
		   (!d->o.engine || !strcmp(d->o.engine, node))) {
		if (d->engine_node[0] && strcmp(d->engine_node, node))
			return;
		snprintf(d->engine_node, sizeof(d->engine_node), "%s", node);
		snprintf(d->engine_syspath, sizeof(d->engine_syspath), "%s", syspath);
		engine_open(d);
	}
}

static void device_removed(struct usbprintd *d, const char *sub, const char *node,
			   const char *syspath)
{
	if (!strcmp(sub, "udc") && !strcmp(d->udc_seen, syspath))
		d->udc_seen[0] = '\0';
	else if (node[0] && !strcmp(node, d->engine_node)) {
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
		device_removed(d, sub, node, syspath);
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: usbprintd [OPTION]...\n"
		"The USB printer function (FunctionFS), bridged into a prengine print engine.\n\n"
		"  -f, --ffs=DIR            FunctionFS mount (default " DEFAULT_FFS ")\n"
		"  -b, --bind=DIR           configfs gadget to bind once ready, \"\" for none\n"
		"                           (default " DEFAULT_GADGET ")\n"
		"  -u, --udc=NAME           controller to bind to (default: the first)\n"
		"  -e, --engine=NODE        engine node (default: first prengine)\n"
		"  -d, --device-id=ID       IEEE 1284 device ID (default " DEFAULT_ID ")\n"
		"  -i, --idle-timeout=MS    end a job after MS ms without data (default 5000)\n"
		"  -n, --requests=N         receive requests queued (default %u, 1 to %u)\n"
		"  -k, --kernel-events      follow kernel uevents (no udevd running)\n"
		"      --discard            throw the data away (benchmark of the USB path)\n"
		"  -v, --verbose            debug messages\n"
		"  -h, --help               this text\n", NREQ_DEFAULT, NREQ_MAX);
}

static bool parse_uint(const char *s, unsigned long min, unsigned long max, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || !*s || *end || v < min || v > max)
		return false;
	*out = (unsigned int)v;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "ffs", required_argument, NULL, 'f' },
		{ "bind", required_argument, NULL, 'b' },
		{ "udc", required_argument, NULL, 'u' },
		{ "engine", required_argument, NULL, 'e' },
		{ "device-id", required_argument, NULL, 'd' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "requests", required_argument, NULL, 'n' },
		{ "kernel-events", no_argument, NULL, 'k' },
		{ "discard", no_argument, NULL, 'D' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct usbprintd d;
	static const char *const subsystems[] = { "prengine", "udc", NULL };
	bool kernel_events = false;
	sigset_t mask;
	int c;

	d.o.ffs = DEFAULT_FFS;
	d.o.gadget = DEFAULT_GADGET;
	d.o.device_id = DEFAULT_ID;
	d.o.idle_ms = 5000;
	d.o.nreq = NREQ_DEFAULT;
	while ((c = getopt_long(argc, argv, "f:b:u:e:d:i:n:kvh", lopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			d.o.ffs = optarg;
			break;
		case 'b':
			d.o.gadget = optarg;
			break;
		case 'u':
			d.o.udc = optarg;
			break;
		case 'e':
			d.o.engine = optarg;
			break;
		case 'd':
			if (strlen(optarg) > USB_PRN_DEVICE_ID_MAX) {
				fprintf(stderr, "usbprintd: device ID longer than %d bytes\n",
					USB_PRN_DEVICE_ID_MAX);
				return 2;
			}
			d.o.device_id = optarg;
			break;
		case 'i':
			if (!parse_uint(optarg, 1, 3600000, &d.o.idle_ms)) {
				fprintf(stderr, "usbprintd: bad idle timeout '%s'\n", optarg);
				return 2;
			}
			break;
		case 'n':
			if (!parse_uint(optarg, 1, NREQ_MAX, &d.o.nreq)) {
				fprintf(stderr, "usbprintd: bad request count '%s' (1 to %u)\n",
					optarg, NREQ_MAX);
				return 2;
			}
			break;
		case 'k':
			kernel_events = true;
			break;
		case 'D':
			d.o.discard = true;
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
	d.ep0_fd = d.out_fd = d.engine_fd = d.status_fd = d.queue_fd = -1;
	usb_split_init(&d.split);

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	d.ep = epoll_create1(EPOLL_CLOEXEC);
	d.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	d.idle_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (d.ep < 0 || d.sig_fd < 0 || d.idle_fd < 0) {
		log_err("setup: %m");
		return 1;
	}
	if (rx_init(&d) < 0)
		return 1;
	/* Monitor first, in the loop, then enumerate (no missed node). */
	d.mon = cp_devmon_new(subsystems, kernel_events, on_device, &d);
	if (!d.mon) {
		log_err("udev monitor: %m");
		return 1;
	}
	if (ep_set(&d, EPOLL_CTL_ADD, cp_devmon_fd(d.mon), EPOLLIN, SRC_UDEV) < 0 ||
	    ep_set(&d, EPOLL_CTL_ADD, d.sig_fd, EPOLLIN, SRC_SIGNAL) < 0 ||
	    ep_set(&d, EPOLL_CTL_ADD, d.idle_fd, EPOLLIN, SRC_IDLE) < 0)
		return 1;
	if (ffs_open(&d) < 0)
		return 1;
	cp_devmon_scan(d.mon);
	log_info("running (idle timeout %u ms, %s events%s)", d.o.idle_ms,
		 kernel_events ? "kernel" : "udev", d.o.discard ? ", discarding data" : "");

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
			int fd = (int)(uint32_t)evs[i].data.u64;
			uint32_t ev = evs[i].events;

			switch (src) {
			case SRC_UDEV:
				cp_devmon_dispatch(d.mon);
				break;
			case SRC_EP0:
				if (fd == d.ep0_fd)
					ep0_event(&d, ev);
				break;
			case SRC_RX:
				rx_event(&d);
				break;
			case SRC_ENGINE:
				if (fd == d.engine_fd)
					engine_event(&d, ev);
				break;
			case SRC_STATUS:
				if (fd == d.status_fd)
					status_read(&d);
				break;
			case SRC_QUEUE:
				if (fd == d.queue_fd)
					queue_event(&d);
				break;
			case SRC_IDLE:
				idle_expired(&d);
				break;
			case SRC_SIGNAL:
				log_info("exiting (%" PRIu64 " bytes discarded)", d.rx.discarded);
				job_abort(&d, "usbprintd stopped");
				sys_io_destroy(d.rx.ctx);
				ffs_close(&d, "exit");
				engine_close(&d, "exit");
				cp_devmon_free(d.mon);
				return 0;
			}
		}
		if (d.quit)
			break;
	}
	job_abort(&d, "usbprintd failed");
	sys_io_destroy(d.rx.ctx);
	ffs_close(&d, "failed");
	return 1;
}
