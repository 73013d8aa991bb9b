// SPDX-License-Identifier: GPL-2.0
/*
 * The USB printer class function over FunctionFS: descriptors, strings and
 * class requests.  Multi-byte fields are little-endian on the wire except
 * the device ID's length, which the printer class makes big-endian.
 */
#include <endian.h>
#include <string.h>

#include <linux/usb/functionfs.h>

#include "usb-ffs.h"

struct wr {
	uint8_t *p;
	size_t len, cap;
	bool over;
};

static void put8(struct wr *w, unsigned int v)
{
	if (w->len >= w->cap) {
		w->over = true;
		return;
	}
	w->p[w->len++] = (uint8_t)v;
}

static void put16(struct wr *w, unsigned int v)
{
	put8(w, v & 0xff);
	put8(w, (v >> 8) & 0xff);
}

static void put32(struct wr *w, uint32_t v)
{
	put16(w, v & 0xffff);
	put16(w, v >> 16);
}

static void set32(struct wr *w, size_t at, uint32_t v)
{
	if (at + 4 <= w->cap) {
		w->p[at] = v & 0xff;
		w->p[at + 1] = (v >> 8) & 0xff;
		w->p[at + 2] = (v >> 16) & 0xff;
		w->p[at + 3] = v >> 24;
	}
}

static void put_iface(struct wr *w)
{
	put8(w, USB_DT_INTERFACE_SIZE);
	put8(w, USB_DT_INTERFACE);
	put8(w, 0);		/* bInterfaceNumber (FunctionFS renumbers) */
	put8(w, 0);		/* bAlternateSetting */
	put8(w, 2);		/* bNumEndpoints */
	put8(w, USB_PRN_CLASS);
	put8(w, USB_PRN_SUBCLASS);
	put8(w, USB_PRN_PROTOCOL);
	put8(w, 1);		/* iInterface: the first string */
}

static void put_ep(struct wr *w, unsigned int addr, unsigned int maxpacket, bool ss)
{
	put8(w, USB_DT_ENDPOINT_SIZE);
	put8(w, USB_DT_ENDPOINT);
	put8(w, addr);
	put8(w, USB_ENDPOINT_XFER_BULK);
	put16(w, maxpacket);
	put8(w, 0);		/* bInterval */
	if (ss) {
		put8(w, USB_DT_SS_EP_COMP_SIZE);
		put8(w, USB_DT_SS_ENDPOINT_COMP);
		put8(w, 0);	/* bMaxBurst */
		put8(w, 0);	/* bmAttributes */
		put16(w, 0);	/* wBytesPerInterval */
	}
}

size_t usb_ffs_descriptors(uint8_t *buf, size_t cap)
{
	static const unsigned int maxpacket[] = { 64, 512, 1024 };
	struct wr w = { .p = buf, .cap = cap };
	unsigned int i;

	put32(&w, FUNCTIONFS_DESCRIPTORS_MAGIC_V2);
	put32(&w, 0);		/* length, below */
	/* ALL_CTRL_RECIP: usblp sends SOFT_RESET to recipient "other". */
	put32(&w, FUNCTIONFS_HAS_FS_DESC | FUNCTIONFS_HAS_HS_DESC | FUNCTIONFS_HAS_SS_DESC |
	      FUNCTIONFS_ALL_CTRL_RECIP);
	put32(&w, 3);		/* full speed: interface, 2 endpoints */
	put32(&w, 3);		/* high speed */
	put32(&w, 5);		/* super speed: and 2 companions */
	for (i = 0; i < 3; i++) {
		put_iface(&w);
		put_ep(&w, 1 | USB_DIR_OUT, maxpacket[i], i == 2);
		put_ep(&w, 2 | USB_DIR_IN, maxpacket[i], i == 2);
	}
	if (w.over)
		return 0;
	set32(&w, 4, (uint32_t)w.len);
	return w.len;
}

size_t usb_ffs_strings(uint8_t *buf, size_t cap, const char *iface)
{
	struct wr w = { .p = buf, .cap = cap };

	put32(&w, FUNCTIONFS_STRINGS_MAGIC);
	put32(&w, 0);		/* length, below */
	put32(&w, 1);		/* str_count */
	put32(&w, 1);		/* lang_count */
	put16(&w, 0x0409);	/* en-US */
	for (const char *s = iface; *s; s++)
		put8(&w, (unsigned char)*s);
	put8(&w, 0);
	if (w.over)
		return 0;
	set32(&w, 4, (uint32_t)w.len);
	return w.len;
}

enum usb_prn_reply usb_prn_setup(const struct usb_ctrlrequest *req, const char *device_id,
				 uint8_t port_status, uint8_t *out, size_t cap, size_t *len,
				 bool *soft_reset)
{
	size_t want = le16toh(req->wLength), n;
	unsigned int recip = req->bRequestType & USB_RECIP_MASK;

	*len = 0;
	*soft_reset = false;
	if ((req->bRequestType & USB_TYPE_MASK) != USB_TYPE_CLASS)
		return USB_PRN_STALL;
	/*
	 * The class requests go to the interface; SOFT_RESET was "other"
	 * (0x23) in the printer class 1.0 text, and usblp still sends that.
	 */
	if (recip != USB_RECIP_INTERFACE &&
	    !(recip == USB_RECIP_OTHER && req->bRequest == USB_PRN_SOFT_RESET))
		return USB_PRN_STALL;
	switch (req->bRequest) {
	case USB_PRN_GET_DEVICE_ID:
		if (!(req->bRequestType & USB_DIR_IN))
			return USB_PRN_STALL;
		n = strlen(device_id);
		if (n > USB_PRN_DEVICE_ID_MAX)
			return USB_PRN_STALL;
		/* Big-endian length, the two length bytes included. */
		if (cap < n + 2)
			return USB_PRN_STALL;
		out[0] = (uint8_t)((n + 2) >> 8);
		out[1] = (uint8_t)(n + 2);
		memcpy(out + 2, device_id, n);
		*len = n + 2 < want ? n + 2 : want;
		return USB_PRN_DATA_IN;
	case USB_PRN_GET_PORT_STATUS:
		if (!(req->bRequestType & USB_DIR_IN) || cap < 1)
			return USB_PRN_STALL;
		out[0] = port_status;
		*len = want < 1 ? 0 : 1;
		return USB_PRN_DATA_IN;
	case USB_PRN_SOFT_RESET:
		if (req->bRequestType & USB_DIR_IN || want)
			return USB_PRN_STALL;
		*soft_reset = true;
		return USB_PRN_ACK;
	default:
		return USB_PRN_STALL;
	}
}
