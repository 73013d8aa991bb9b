// SPDX-License-Identifier: GPL-2.0
/* Unit tests of the FunctionFS printer function's pure parts (helper/usb-ffs.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <linux/usb/functionfs.h>

#include "usb-ffs.h"

#define ID "MFG:Prengine;MDL:Sim;CMD:PJL,PCL,PDF;CLS:PRINTER;"

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Walk the descriptors after the v2 header: interface, then endpoints. */
static void test_descriptors(void **state)
{
	uint8_t b[256];
	size_t n = usb_ffs_descriptors(b, sizeof(b)), off = 24;
	static const unsigned int mps[] = { 64, 512, 1024 };
	unsigned int sp;

	(void)state;
	assert_int_not_equal(n, 0);
	assert_int_equal(le32(b), FUNCTIONFS_DESCRIPTORS_MAGIC_V2);
	assert_int_equal(le32(b + 4), n);
	assert_int_equal(le32(b + 8), FUNCTIONFS_HAS_FS_DESC | FUNCTIONFS_HAS_HS_DESC |
			 FUNCTIONFS_HAS_SS_DESC | FUNCTIONFS_ALL_CTRL_RECIP);
	assert_int_equal(le32(b + 12), 3);
	assert_int_equal(le32(b + 16), 3);
	assert_int_equal(le32(b + 20), 5);
	for (sp = 0; sp < 3; sp++) {
		/* interface: class 7/1/2, two endpoints */
		assert_int_equal(b[off], 9);
		assert_int_equal(b[off + 1], USB_DT_INTERFACE);
		assert_int_equal(b[off + 4], 2);
		assert_int_equal(b[off + 5], 7);
		assert_int_equal(b[off + 6], 1);
		assert_int_equal(b[off + 7], 2);
		off += 9;
		for (int e = 0; e < 2; e++) {
			assert_int_equal(b[off], 7);
			assert_int_equal(b[off + 1], USB_DT_ENDPOINT);
			assert_int_equal(b[off + 2], e ? 0x82 : 0x01);
			assert_int_equal(b[off + 3], USB_ENDPOINT_XFER_BULK);
			assert_int_equal(b[off + 4] | b[off + 5] << 8, mps[sp]);
			off += 7;
			if (sp == 2) {
				assert_int_equal(b[off + 1], USB_DT_SS_ENDPOINT_COMP);
				off += 6;
			}
		}
	}
	assert_int_equal(off, n);
	assert_int_equal(usb_ffs_descriptors(b, n - 1), 0);
}

static void test_strings(void **state)
{
	uint8_t b[64];
	size_t n = usb_ffs_strings(b, sizeof(b), "Printer");

	(void)state;
	assert_int_equal(n, 16 + 2 + 8);
	assert_int_equal(le32(b), FUNCTIONFS_STRINGS_MAGIC);
	assert_int_equal(le32(b + 4), n);
	assert_int_equal(le32(b + 8), 1);
	assert_int_equal(le32(b + 12), 1);
	assert_int_equal(b[16] | b[17] << 8, 0x0409);
	assert_memory_equal(b + 18, "Printer", 8);
	assert_int_equal(usb_ffs_strings(b, 20, "Printer"), 0);
}

static struct usb_ctrlrequest req(uint8_t type, uint8_t request, uint16_t length)
{
	struct usb_ctrlrequest r = { .bRequestType = type, .bRequest = request,
				     .wLength = length };

	return r;
}

#define CLASS_IN	(USB_DIR_IN | USB_TYPE_CLASS | USB_RECIP_INTERFACE)
#define CLASS_OUT	(USB_DIR_OUT | USB_TYPE_CLASS | USB_RECIP_INTERFACE)

static void test_device_id(void **state)
{
	struct usb_ctrlrequest r = req(CLASS_IN, USB_PRN_GET_DEVICE_ID, 1024);
	uint8_t out[USB_PRN_DEVICE_ID_MAX + 2];
	size_t len;
	bool reset;

	(void)state;
	assert_int_equal(usb_prn_setup(&r, ID, 0x18, out, sizeof(out), &len, &reset),
			 USB_PRN_DATA_IN);
	/* Big-endian length counting its own two bytes, then the string. */
	assert_int_equal(len, strlen(ID) + 2);
	assert_int_equal(out[0] << 8 | out[1], strlen(ID) + 2);
	assert_memory_equal(out + 2, ID, strlen(ID));
	assert_false(reset);
	/* Never more than the host asked for. */
	r = req(CLASS_IN, USB_PRN_GET_DEVICE_ID, 2);
	assert_int_equal(usb_prn_setup(&r, ID, 0x18, out, sizeof(out), &len, &reset),
			 USB_PRN_DATA_IN);
	assert_int_equal(len, 2);
	/* Wrong direction, or a standard request: stall. */
	r = req(CLASS_OUT, USB_PRN_GET_DEVICE_ID, 0);
	assert_int_equal(usb_prn_setup(&r, ID, 0x18, out, sizeof(out), &len, &reset),
			 USB_PRN_STALL);
	r = req(USB_DIR_IN | USB_RECIP_INTERFACE, USB_PRN_GET_DEVICE_ID, 64);
	assert_int_equal(usb_prn_setup(&r, ID, 0x18, out, sizeof(out), &len, &reset),
			 USB_PRN_STALL);
}

static void test_port_status_and_reset(void **state)
{
	struct usb_ctrlrequest r = req(CLASS_IN, USB_PRN_GET_PORT_STATUS, 1);
	uint8_t out[8];
	size_t len;
	bool reset;

	(void)state;
	assert_int_equal(usb_prn_setup(&r, ID, 0x30, out, sizeof(out), &len, &reset),
			 USB_PRN_DATA_IN);
	assert_int_equal(len, 1);
	assert_int_equal(out[0], 0x30);
	r = req(CLASS_OUT, USB_PRN_SOFT_RESET, 0);
	assert_int_equal(usb_prn_setup(&r, ID, 0x30, out, sizeof(out), &len, &reset),
			 USB_PRN_ACK);
	assert_true(reset);
	assert_int_equal(len, 0);
	/* usblp's SOFT_RESET: recipient "other" (0x23). */
	r = req(USB_DIR_OUT | USB_TYPE_CLASS | USB_RECIP_OTHER, USB_PRN_SOFT_RESET, 0);
	assert_int_equal(usb_prn_setup(&r, ID, 0x30, out, sizeof(out), &len, &reset),
			 USB_PRN_ACK);
	assert_true(reset);
	/* Only SOFT_RESET is taken from "other"; nothing from the device. */
	r = req(USB_DIR_IN | USB_TYPE_CLASS | USB_RECIP_OTHER, USB_PRN_GET_PORT_STATUS, 1);
	assert_int_equal(usb_prn_setup(&r, ID, 0x30, out, sizeof(out), &len, &reset),
			 USB_PRN_STALL);
	r = req(USB_DIR_IN | USB_TYPE_CLASS | USB_RECIP_DEVICE, USB_PRN_GET_PORT_STATUS, 1);
	assert_int_equal(usb_prn_setup(&r, ID, 0x30, out, sizeof(out), &len, &reset),
			 USB_PRN_STALL);
	r = req(CLASS_IN, USB_PRN_SOFT_RESET, 1);
	assert_int_equal(usb_prn_setup(&r, ID, 0x30, out, sizeof(out), &len, &reset),
			 USB_PRN_STALL);
	r = req(CLASS_IN, 7, 1);
	assert_int_equal(usb_prn_setup(&r, ID, 0x30, out, sizeof(out), &len, &reset),
			 USB_PRN_STALL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descriptors),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_device_id),
		cmocka_unit_test(test_port_status_and_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
