/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The USB printer class function over FunctionFS, the pure parts: the
 * descriptor and string blobs usbprintd writes to ep0, and the answers to
 * the printer class requests (USB Printer Class 1.1, section 4.2).
 */
#ifndef USB_FFS_H
#define USB_FFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/usb/ch9.h>

/* Interface: class 7 (printer), subclass 1, protocol 2 (bidirectional). */
#define USB_PRN_CLASS		7
#define USB_PRN_SUBCLASS	1
#define USB_PRN_PROTOCOL	2
/* Class requests. */
#define USB_PRN_GET_DEVICE_ID	0
#define USB_PRN_GET_PORT_STATUS	1
#define USB_PRN_SOFT_RESET	2
/* Endpoint files: ep1 bulk OUT (host to printer), ep2 bulk IN. */
#define USB_PRN_EP_OUT		"ep1"
#define USB_PRN_EP_IN		"ep2"
/* Longest IEEE 1284 device ID accepted (the answer has a 2-byte length). */
#define USB_PRN_DEVICE_ID_MAX	1021

/*
 * The FunctionFS (v2) descriptors: one interface, bulk OUT and bulk IN, at
 * full (64), high (512) and super speed (1024).  Returns the length written
 * to @buf, or 0 if @cap is too small.
 */
size_t usb_ffs_descriptors(uint8_t *buf, size_t cap);

/* The FunctionFS strings: @iface (the interface string), language en-US. */
size_t usb_ffs_strings(uint8_t *buf, size_t cap, const char *iface);

enum usb_prn_reply {
	USB_PRN_STALL,		/* not ours or malformed: stall ep0 */
	USB_PRN_DATA_IN,	/* send *len bytes of @out */
	USB_PRN_ACK,		/* no data stage: acknowledge */
};

/*
 * Answer a class request for the printer interface.  @device_id: the IEEE
 * 1284 string; @port_status: the GET_PORT_STATUS byte.  *soft_reset is set
 * for SOFT_RESET (the caller flushes).  The data never exceeds wLength.
 */
enum usb_prn_reply usb_prn_setup(const struct usb_ctrlrequest *req, const char *device_id,
				 uint8_t port_status, uint8_t *out, size_t cap, size_t *len,
				 bool *soft_reset);

#endif
