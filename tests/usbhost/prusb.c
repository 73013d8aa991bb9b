// SPDX-License-Identifier: GPL-2.0
/*
 * prusb: a USB printer class host tool on libusb.
 *
 *   prusb [-d] [-v VID:PID] id       print the IEEE 1284 device ID
 *   prusb [-d] [-v VID:PID] status   print the port status byte and its bits
 *   prusb [-d] [-v VID:PID] send FILE   send FILE with bulk OUT transfers
 *
 * -d detaches a kernel driver (usblp) from the interface and gives it back
 * afterwards; without it a bound interface is reported busy.
 * Exit status: 0 ok, 1 error, 2 usage, 3 no printer, 4 busy, 5 disconnected.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libusb.h>

#define PRINTER_GET_DEVICE_ID	0
#define PRINTER_GET_PORT_STATUS	1
#define CLASS_IN		(LIBUSB_ENDPOINT_IN | LIBUSB_REQUEST_TYPE_CLASS | LIBUSB_RECIPIENT_INTERFACE)
#define TIMEOUT_MS		5000

enum { EX_OK, EX_ERR, EX_USAGE, EX_NOPRINTER, EX_BUSY, EX_GONE };

struct printer {
	libusb_device_handle *h;
	uint8_t config_index;	/* 0-based index for GET_DEVICE_ID */
	uint8_t iface, alt;
	uint8_t ep_out;
	bool claimed;
};

static int vid = -1, pid = -1;

static int ex_of(int r)
{
	if (r == LIBUSB_ERROR_NO_DEVICE)
		return EX_GONE;
	if (r == LIBUSB_ERROR_BUSY || r == LIBUSB_ERROR_ACCESS)
		return EX_BUSY;
	return EX_ERR;
}

/* First interface of class 7 (printer) with a bulk OUT endpoint. */
static bool find_iface(libusb_device *dev, struct printer *p)
{
	struct libusb_config_descriptor *cfg;
	int i, a, e;

	if (libusb_get_active_config_descriptor(dev, &cfg) < 0)
		return false;
	for (i = 0; i < cfg->bNumInterfaces; i++) {
		const struct libusb_interface *it = &cfg->interface[i];

		for (a = 0; a < it->num_altsetting; a++) {
			const struct libusb_interface_descriptor *id = &it->altsetting[a];

			if (id->bInterfaceClass != LIBUSB_CLASS_PRINTER)
				continue;
			for (e = 0; e < id->bNumEndpoints; e++) {
				const struct libusb_endpoint_descriptor *ep = &id->endpoint[e];

				if ((ep->bEndpointAddress & LIBUSB_ENDPOINT_DIR_MASK) ==
					    LIBUSB_ENDPOINT_OUT &&
				    (ep->bmAttributes & 3) == LIBUSB_TRANSFER_TYPE_BULK) {
					p->iface = id->bInterfaceNumber;
					p->alt = id->bAlternateSetting;
					p->ep_out = ep->bEndpointAddress;
					p->config_index = 0;
					libusb_free_config_descriptor(cfg);
					return true;
				}
			}
		}
	}
	libusb_free_config_descriptor(cfg);
	return false;
}

static int open_printer(struct printer *p, bool detach)
{
	libusb_device **list;
	ssize_t n, i;
	int r = -1;

	n = libusb_get_device_list(NULL, &list);
	if (n < 0) {
		fprintf(stderr, "prusb: cannot list USB devices: %s\n", libusb_strerror((int)n));
		return EX_ERR;
	}
	for (i = 0; i < n; i++) {
		struct libusb_device_descriptor dd;

		if (libusb_get_device_descriptor(list[i], &dd) < 0)
			continue;
		if ((vid >= 0 && dd.idVendor != vid) || (pid >= 0 && dd.idProduct != pid))
			continue;
		if (!find_iface(list[i], p))
			continue;
		r = libusb_open(list[i], &p->h);
		if (r < 0) {
			fprintf(stderr, "prusb: open %04x:%04x: %s\n", dd.idVendor, dd.idProduct,
				libusb_strerror(r));
			libusb_free_device_list(list, 1);
			return ex_of(r);
		}
		break;
	}
	libusb_free_device_list(list, 1);
	if (!p->h) {
		fprintf(stderr, "prusb: no USB printer (interface class 7) found\n");
		return EX_NOPRINTER;
	}
	if (detach)
		libusb_set_auto_detach_kernel_driver(p->h, 1);
	r = libusb_claim_interface(p->h, p->iface);
	if (r < 0) {
		if (r == LIBUSB_ERROR_BUSY)
			fprintf(stderr, "prusb: interface %u is busy (a kernel driver such as usblp "
				"or another program holds it; -d detaches a kernel driver)\n", p->iface);
		else
			fprintf(stderr, "prusb: claim interface %u: %s\n", p->iface, libusb_strerror(r));
		libusb_close(p->h);
		p->h = NULL;
		return ex_of(r);
	}
	p->claimed = true;
	if (p->alt)
		libusb_set_interface_alt_setting(p->h, p->iface, p->alt);
	return EX_OK;
}

static void close_printer(struct printer *p)
{
	if (p->claimed)
		libusb_release_interface(p->h, p->iface);	/* re-attaches usblp */
	if (p->h)
		libusb_close(p->h);
}

static int cmd_id(struct printer *p)
{
	unsigned char buf[1024];
	int r, len;

	r = libusb_control_transfer(p->h, CLASS_IN, PRINTER_GET_DEVICE_ID, p->config_index,
				    (uint16_t)(p->iface << 8 | p->alt), buf, sizeof(buf) - 1,
				    TIMEOUT_MS);
	if (r < 0) {
		fprintf(stderr, "prusb: GET_DEVICE_ID: %s\n", libusb_strerror(r));
		return ex_of(r);
	}
	if (r < 2) {
		fprintf(stderr, "prusb: GET_DEVICE_ID: short answer (%d bytes)\n", r);
		return EX_ERR;
	}
	/*
	 * The first two bytes: big-endian length, by the class spec themselves
	 * included.  Some devices (Linux f_printer among them) count only the
	 * string: never read past what came, never drop what a device sent.
	 */
	len = buf[0] << 8 | buf[1];
	if (len < 2 || len + 2 > r)
		len = r;
	else
		len += 2;
	if (len > r)
		len = r;
	buf[len] = '\0';
	printf("%s\n", (char *)buf + 2);
	return EX_OK;
}

static int cmd_status(struct printer *p)
{
	unsigned char st;
	int r;

	r = libusb_control_transfer(p->h, CLASS_IN, PRINTER_GET_PORT_STATUS, 0, p->iface, &st,
				    1, TIMEOUT_MS);
	if (r < 0) {
		fprintf(stderr, "prusb: GET_PORT_STATUS: %s\n", libusb_strerror(r));
		return ex_of(r);
	}
	if (r != 1) {
		fprintf(stderr, "prusb: GET_PORT_STATUS: %d bytes\n", r);
		return EX_ERR;
	}
	printf("0x%02x%s%s%s\n", st, st & 0x08 ? "" : " error", st & 0x10 ? " selected" : "",
	       st & 0x20 ? " paper-empty" : "");
	return EX_OK;
}

static int cmd_send(struct printer *p, const char *file)
{
	static unsigned char buf[64 * 1024];
	unsigned long long total = 0;
	int fd = strcmp(file, "-") ? open(file, O_RDONLY) : 0;
	ssize_t n;

	if (fd < 0) {
		fprintf(stderr, "prusb: %s: %s\n", file, strerror(errno));
		return EX_ERR;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		ssize_t off = 0;

		while (off < n) {
			int done = 0;
			int r = libusb_bulk_transfer(p->h, p->ep_out, buf + off, (int)(n - off),
						     &done, 0);

			off += done;
			total += (unsigned long long)done;
			if (r == LIBUSB_ERROR_NO_DEVICE || r == LIBUSB_ERROR_PIPE ||
			    r == LIBUSB_ERROR_IO) {
				fprintf(stderr, "prusb: printer disconnected after %llu bytes (%s)\n",
					total, libusb_strerror(r));
				if (fd)
					close(fd);
				return EX_GONE;
			}
			if (r < 0) {
				fprintf(stderr, "prusb: bulk OUT: %s after %llu bytes\n",
					libusb_strerror(r), total);
				if (fd)
					close(fd);
				return EX_ERR;
			}
		}
	}
	if (fd)
		close(fd);
	if (n < 0) {
		fprintf(stderr, "prusb: %s: %s\n", file, strerror(errno));
		return EX_ERR;
	}
	fprintf(stderr, "prusb: sent %llu bytes\n", total);
	return EX_OK;
}

static int usage(void)
{
	fprintf(stderr, "Usage: prusb [-d] [-v VID:PID] id|status|send FILE\n");
	return EX_USAGE;
}

int main(int argc, char **argv)
{
	struct printer p = { 0 };
	bool detach = false;
	int c, r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt(argc, argv, "dv:h")) != -1) {
		switch (c) {
		case 'd':
			detach = true;
			break;
		case 'v':
			if (sscanf(optarg, "%x:%x", &vid, &pid) != 2)
				return usage();
			break;
		default:
			return usage();
		}
	}
	if (optind >= argc)
		return usage();
	if (!strcmp(argv[optind], "send") && optind + 2 != argc)
		return usage();
	if (strcmp(argv[optind], "send") && optind + 1 != argc)
		return usage();
	r = libusb_init(NULL);
	if (r < 0) {
		fprintf(stderr, "prusb: libusb_init: %s\n", libusb_strerror(r));
		return EX_ERR;
	}
	r = open_printer(&p, detach);
	if (r == EX_OK) {
		if (!strcmp(argv[optind], "id"))
			r = cmd_id(&p);
		else if (!strcmp(argv[optind], "status"))
			r = cmd_status(&p);
		else if (!strcmp(argv[optind], "send"))
			r = cmd_send(&p, argv[optind + 1]);
		else
			r = usage();
	}
	close_printer(&p);
	libusb_exit(NULL);
	return r;
}
