// SPDX-License-Identifier: GPL-2.0
/* usb-split: PJL/UEL job boundaries in the USB print stream. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "usb-split.h"

static const char uel[] = USB_SPLIT_UEL;

void usb_split_init(struct usb_split *s)
{
	memset(s, 0, sizeof(*s));
	s->mode = USB_SPLIT_DATA;
}

void usb_split_reset(struct usb_split *s)
{
	/* What follows an idle gap is a new stream. */
	usb_split_init(s);
}

bool usb_split_has_content(const struct usb_split *s)
{
	return s->content;
}

bool usb_split_started(const struct usb_split *s)
{
	return s->started;
}

/* Does the PJL line (without "@PJL") start with word @w? */
static bool pjl_word(const char *p, const char *w)
{
	size_t n = strlen(w);

	while (*p == ' ' || *p == '\t')
		p++;
	return strncasecmp(p, w, n) == 0 &&
	       (p[n] == '\0' || p[n] == ' ' || p[n] == '\t' || p[n] == '\r' ||
		p[n] == '=' || p[n] == '\n');
}

/* A complete "@..." line in PJL mode. */
static void pjl_line(struct usb_split *s)
{
	const char *p = s->line;

	s->line[s->line_len] = '\0';
	if (strncasecmp(p, "@PJL", 4) != 0) {
		s->mode = USB_SPLIT_DATA;
		s->content = true;
		return;
	}
	p += 4;
	if (pjl_word(p, "JOB")) {
		s->depth++;
	} else if (pjl_word(p, "EOJ")) {
		if (s->depth)
			s->depth--;
	} else if (pjl_word(p, "ENTER")) {
		/* ENTER LANGUAGE=x: the rest up to the next UEL is data. */
		s->mode = USB_SPLIT_DATA;
		s->content = true;
		return;
	}
	s->mode = USB_SPLIT_PJL_BOL;
}

/* One byte that is not (yet known to be) part of a UEL, in PJL mode. */
static void pjl_byte(struct usb_split *s, uint8_t c)
{
	switch (s->mode) {
	case USB_SPLIT_DATA:
		return;
	case USB_SPLIT_PJL_BOL:
		if (c == '\r' || c == '\n' || c == ' ' || c == '\t' || c == '\f')
			return;
		if (c == '@') {
			s->mode = USB_SPLIT_PJL_LINE;
			s->line[0] = '@';
			s->line_len = 1;
			return;
		}
		s->mode = USB_SPLIT_DATA;
		s->content = true;
		return;
	case USB_SPLIT_PJL_LINE:
		if (c == '\n') {
			pjl_line(s);
			return;
		}
		if (s->line_len < sizeof(s->line) - 1)
			s->line[s->line_len++] = (char)c;
		return;
	}
}

size_t usb_split_feed(struct usb_split *s, const uint8_t *buf, size_t len, bool *end)
{
	size_t i;

	*end = false;
	for (i = 0; i < len; i++) {
		uint8_t c = buf[i];

		s->started = true;
		if (c == (uint8_t)uel[s->uel_match]) {
			if (++s->uel_match < USB_SPLIT_UEL_LEN)
				continue;
			/* A whole UEL. */
			s->uel_match = 0;
			if (s->mode == USB_SPLIT_PJL_LINE)
				pjl_line(s);
			if (s->content && s->depth == 0) {
				usb_split_init(s);
				s->mode = USB_SPLIT_PJL_BOL;
				*end = true;
				return i + 1;
			}
			s->mode = USB_SPLIT_PJL_BOL;
			continue;
		}
		if (s->uel_match) {
			/*
			 * A partial UEL that failed: in PJL mode its bytes
			 * (ESC ...) are printer data.  The UEL has no
			 * repeated prefix, so only ESC can restart a match.
			 */
			s->uel_match = 0;
			if (s->mode == USB_SPLIT_PJL_LINE)
				pjl_line(s);
			if (s->mode != USB_SPLIT_DATA) {
				s->mode = USB_SPLIT_DATA;
				s->content = true;
			}
			if (c == (uint8_t)uel[0]) {
				s->uel_match = 1;
				continue;
			}
		}
		if (s->mode == USB_SPLIT_DATA)
			s->content = true;
		else
			pjl_byte(s, c);
	}
	return i;
}
