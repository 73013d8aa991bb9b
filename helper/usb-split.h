/* SPDX-License-Identifier: GPL-2.0 */
/*
 * usb-split: cut the byte stream a USB host sends to the printer gadget
 * into jobs.
 *
 * Every byte belongs to the current job; the splitter only says where a job
 * ends.  A job ends right after a PJL Universal Exit Language (UEL,
 * "ESC%-12345X") when the job has had printable content since it began and
 * its PJL JOB/EOJ pairs are balanced.  So "UEL @PJL JOB ... ENTER LANGUAGE
 * data UEL @PJL EOJ UEL" is one job, and "UEL data UEL data UEL" two.
 * Content is anything that is not PJL: the bytes after "@PJL ENTER
 * LANGUAGE", a line that does not start with "@PJL", or a stream that does
 * not start with a UEL.  Idle timeouts are the caller's business
 * (usb_split_reset()).
 */
#ifndef USB_SPLIT_H
#define USB_SPLIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define USB_SPLIT_UEL		"\x1b%-12345X"
#define USB_SPLIT_UEL_LEN	9
#define USB_SPLIT_LINE_MAX	80	/* enough of a PJL line to classify it */

enum usb_split_mode {
	USB_SPLIT_DATA,		/* printer language: only a UEL matters */
	USB_SPLIT_PJL_BOL,	/* PJL, at the start of a line */
	USB_SPLIT_PJL_LINE,	/* PJL, inside an "@..." line */
};

struct usb_split {
	enum usb_split_mode mode;
	unsigned int uel_match;		/* bytes of the UEL matched so far */
	unsigned int depth;		/* open @PJL JOB without @PJL EOJ */
	bool content;			/* the job has printable content */
	bool started;			/* the job has at least one byte */
	size_t line_len;
	char line[USB_SPLIT_LINE_MAX];
};

/* Start of stream (no UEL seen yet: the data is a printer language). */
void usb_split_init(struct usb_split *s);
/* Forget the current job (idle timeout, abort); the next byte starts one. */
void usb_split_reset(struct usb_split *s);
/*
 * Consume bytes of @buf up to and including the first job end, or all of
 * them.  Returns the number consumed (>= 1 when @len >= 1); *@end is true
 * when the job ends after the last consumed byte.
 */
size_t usb_split_feed(struct usb_split *s, const uint8_t *buf, size_t len, bool *end);
/* True when the current job has printable content (worth committing). */
bool usb_split_has_content(const struct usb_split *s);
/* True when the current job has at least one byte. */
bool usb_split_started(const struct usb_split *s);

#endif
