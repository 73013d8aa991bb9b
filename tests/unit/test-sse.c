// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the text/event-stream parser (helper/sse.c).
 *
 * Every vector is parsed whole, split in two at every offset, and byte by
 * byte; all must give the same events, comments and return codes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sse.h"

/* What the callbacks saw, one line per event or comment:
 *   E<type>|<id>|<retry or ->|<data, with \n and NUL escaped>
 *   C<comment text>                                                  */
struct rec {
	char buf[8192];
	size_t len;
};

static void rec_put(struct rec *r, const char *p, size_t n)
{
	assert_true(r->len + n < sizeof(r->buf));
	memcpy(r->buf + r->len, p, n);
	r->len += n;
	r->buf[r->len] = '\0';
}

static void rec_esc(struct rec *r, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n')
			rec_put(r, "\\n", 2);
		else if (p[i] == '\0')
			rec_put(r, "\\0", 2);
		else
			rec_put(r, p + i, 1);
	}
}

static int on_event(void *ctx, const struct cp_sse_event *ev)
{
	struct rec *r = ctx;
	char retry[16];

	assert_int_equal(ev->data[ev->data_len], '\0');
	assert_int_equal(ev->type[ev->type_len], '\0');
	assert_int_equal(strlen(ev->id), ev->id_len);
	rec_put(r, "E", 1);
	rec_esc(r, ev->type, ev->type_len);
	rec_put(r, "|", 1);
	rec_put(r, ev->id, ev->id_len);
	if (ev->has_retry)
		snprintf(retry, sizeof(retry), "|%u|", (unsigned int)ev->retry_ms);
	else
		snprintf(retry, sizeof(retry), "|-|");
	rec_put(r, retry, strlen(retry));
	rec_esc(r, ev->data, ev->data_len);
	rec_put(r, "\n", 1);
	if (ev->data_len == 4 && !memcmp(ev->data, "STOP", 4))
		return -ECANCELED;
	return 0;
}

static int on_comment(void *ctx, const char *text, size_t len)
{
	struct rec *r = ctx;

	rec_put(r, "C", 1);
	rec_esc(r, text, len);
	rec_put(r, "\n", 1);
	if (len == 4 && !memcmp(text, "STOP", 4))
		return -EPIPE;
	return 0;
}

static int count_data(void *ctx, const struct cp_sse_event *ev)
{
	*(size_t *)ctx += ev->data_len;
	return 0;
}

static const struct cp_sse_callbacks only_count = { .on_event = count_data };

static const struct cp_sse_callbacks cbs = {
	.on_event = on_event,
	.on_comment = on_comment,
};

struct vec {
	const char *name;
	const char *in;
	size_t len;		/* 0: strlen(in) */
	const char *out;	/* expected record */
	int rc;			/* expected from feed and finish */
	size_t max_line, max_data;	/* 0: defaults */
	const char *last_id;	/* if set: cp_sse_last_event_id() after finish */
};

#define BOM "\xef\xbb\xbf"
#define L10 "0123456789"

static const struct vec vecs[] = {
	{ "reference cloud stream",
	  "retry: 5000\n\nid: 1\nevent: job\ndata: {\"id\":\"j_1\"}\n\n"
	  "id: 2\nevent: ping\ndata: {\"time\": 5}\n\n",
	  0, "Ejob|1|-|{\"id\":\"j_1\"}\nEping|2|-|{\"time\": 5}\n", 0, 0, 0, NULL },
	{ "default type", "data: x\n\n", 0, "Emessage||-|x\n", 0, 0, 0, NULL },
	{ "empty event field means message", "event:\ndata:x\n\n", 0, "Emessage||-|x\n", 0, 0, 0, NULL },
	{ "type resets after dispatch", "event: a\ndata: 1\n\ndata: 2\n\n", 0,
	  "Ea||-|1\nEmessage||-|2\n", 0, 0, 0, NULL },
	{ "type resets on a block without data", "event: foo\n\ndata: x\n\n", 0,
	  "Emessage||-|x\n", 0, 0, 0, NULL },
	{ "CRLF", "data: a\r\ndata: b\r\n\r\n", 0, "Emessage||-|a\\nb\n", 0, 0, 0, NULL },
	{ "lone CR", "data: a\rdata: b\r\r", 0, "Emessage||-|a\\nb\n", 0, 0, 0, NULL },
	{ "mixed line ends", "data: a\r\n\rdata: b\n\r\n", 0,
	  "Emessage||-|a\nEmessage||-|b\n", 0, 0, 0, NULL },
	{ "CR then CRLF is two line ends", "data: a\r\r\ndata: b\n\n", 0,
	  "Emessage||-|a\nEmessage||-|b\n", 0, 0, 0, NULL },
	{ "LF CR is two line ends", "data: a\n\rdata: b\n\n", 0,
	  "Emessage||-|a\nEmessage||-|b\n", 0, 0, 0, NULL },
	{ "BOM at start", BOM "data: x\n\n", 0, "Emessage||-|x\n", 0, 0, 0, NULL },
	{ "BOM at start of a CR line", BOM "\rdata: x\r\r", 0, "Emessage||-|x\n", 0, 0, 0, NULL },
	{ "only one BOM stripped", BOM BOM "data: x\n\ndata: y\n\n", 0,
	  "Emessage||-|y\n", 0, 0, 0, NULL },
	{ "BOM later is content", "data: x\n\n" BOM "data: y\n\n" "data: z\n\n", 0,
	  "Emessage||-|x\nEmessage||-|z\n", 0, 0, 0, NULL },
	{ "BOM inside data kept", "data: " BOM "\n\n", 0, "Emessage||-|" BOM "\n", 0, 0, 0, NULL },
	{ "partial BOM is content", "\xef\xbb" "data: x\n\ndata: y\n\n", 0,
	  "Emessage||-|y\n", 0, 0, 0, NULL },
	{ "partial BOM then line end", "\xef\xbb\ndata: y\n\n", 0, "Emessage||-|y\n", 0, 0, 0, NULL },
	{ "comments", ": hello\n:\n::x\ndata: x\n: mid\n\n", 0,
	  "C hello\nC\nC:x\nC mid\nEmessage||-|x\n", 0, 0, 0, NULL },
	{ "field without colon", "data\n\n", 0, "Emessage||-|\n", 0, 0, 0, NULL },
	{ "two empty data lines", "data\ndata:\n\n", 0, "Emessage||-|\\n\n", 0, 0, 0, NULL },
	{ "one space stripped", "data:x\ndata: y\ndata:  z\ndata:\tw\n\n", 0,
	  "Emessage||-|x\\ny\\n z\\n\tw\n", 0, 0, 0, NULL },
	{ "a lone space after the colon is stripped", "data: \nevent: \nid: 4\nid: \n\n", 0,
	  "Emessage||-|\n", 0, 0, 0, "" },
	{ "two spaces after the colon keep one", "data:  \n\n", 0, "Emessage||-| \n", 0, 0, 0, NULL },
	{ "colon in value", "event: a:b\ndata: c: d\n\n", 0, "Ea:b||-|c: d\n", 0, 0, 0, NULL },
	{ "multi-line data", "data: {\ndata: \"a\": 1\ndata: }\n\n", 0,
	  "Emessage||-|{\\n\"a\": 1\\n}\n", 0, 0, 0, NULL },
	{ "NUL in data kept", "data: a\0b\n\n", sizeof("data: a\0b\n\n") - 1, "Emessage||-|a\\0b\n", 0, 0, 0, NULL },
	{ "unknown fields ignored", "foo: bar\nDATA: x\ndata : y\nData: q\ndata: z\n\n", 0,
	  "Emessage||-|z\n", 0, 0, 0, NULL },
	{ "no blank line, no event", "id: 1\nevent: e\nretry: 5\n\n\n", 0, "", 0, 0, 0, NULL },
	{ "id persists", "id: 7\ndata: a\n\ndata: b\n\n", 0,
	  "Emessage|7|-|a\nEmessage|7|-|b\n", 0, 0, 0, NULL },
	{ "id set in a block without data persists", "id: 9\n\ndata: x\n\n", 0,
	  "Emessage|9|-|x\n", 0, 0, 0, NULL },
	{ "empty id clears it", "id: 7\ndata: a\n\nid\ndata: b\n\nid:\ndata: c\n\n", 0,
	  "Emessage|7|-|a\nEmessage||-|b\nEmessage||-|c\n", 0, 0, 0, NULL },
	{ "id with NUL ignored", "id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n",
	  sizeof("id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n") - 1,
	  "Emessage|1|-|a\nEmessage|1|-|b\n", 0, 0, 0, NULL },
	{ "last id wins", "id: 1\nid: 2\ndata: a\n\n", 0, "Emessage|2|-|a\n", 0, 0, 0, NULL },
	{ "retry in its block only", "retry: 1234\ndata: a\n\ndata: b\n\n", 0,
	  "Emessage||1234|a\nEmessage||-|b\n", 0, 0, 0, NULL },
	{ "retry zero", "retry: 0\ndata: a\n\n", 0, "Emessage||0|a\n", 0, 0, 0, NULL },
	{ "retry no space", "retry:42\ndata: a\n\n", 0, "Emessage||42|a\n", 0, 0, 0, NULL },
	{ "retry saturates", "retry: 99999999999999999999999\ndata: a\n\n", 0,
	  "Emessage||4294967295|a\n", 0, 0, 0, NULL },
	{ "retry UINT32_MAX", "retry: 4294967295\ndata: a\n\n", 0,
	  "Emessage||4294967295|a\n", 0, 0, 0, NULL },
	{ "bad retry values ignored",
	  "retry: 12a\nretry: -1\nretry: +5\nretry:  5\nretry: 1.5\nretry:\nretry\n"
	  "retry: 0x10\nretry: 5 \nretry: \xd9\xa3\ndata: a\n\n", 0,
	  "Emessage||-|a\n", 0, 0, 0, NULL },
	{ "bad retry keeps an earlier good one", "retry: 7\nretry: x\ndata: a\n\n", 0,
	  "Emessage||7|a\n", 0, 0, 0, NULL },
	{ "incomplete event discarded", "data: x\n", 0, "", 0, 0, 0, NULL },
	{ "incomplete line discarded", "data: x\n\ndata: y", 0, "Emessage||-|x\n", 0, 0, 0, NULL },
	{ "trailing CR ends the line but not the event", "data: x\r", 0, "", 0, 0, 0, NULL },
	{ "empty stream", "", 0, "", 0, 0, 0, NULL },
	{ "spec example: empty data events", "data\n\ndata\ndata\n\ndata:", 0,
	  "Emessage||-|\nEmessage||-|\\n\n", 0, 0, 0, NULL },
	{ "spec example: one space stripped only", "data:test\n\ndata: test\n\n", 0,
	  "Emessage||-|test\nEmessage||-|test\n", 0, 0, 0, NULL },
	{ "CRLF at the line limit", "data: " L10 "\r\n\r\n", 0, "Emessage||-|" L10 "\n", 0, 16, 32, NULL },
	{ "oversized event field", "event: " L10 "\ndata: x\n\n", 0, "", -EMSGSIZE, 16, 32, NULL },
	{ "oversized id field", "id: 1\ndata: a\n\nid: " L10 "XXX\ndata: b\n\n", 0,
	  "Emessage|1|-|a\n", -EMSGSIZE, 16, 32, "1" },
	{ "id value keeps a second space", "id:  7\ndata: a\n\n", 0, "Emessage| 7|-|a\n", 0, 0, 0,
	  " 7" },
	{ "id of a block without data is committed", "id: 5\n\n", 0, "", 0, 0, 0, "5" },
	{ "id of an incomplete event is not committed", "id: 1\ndata: a\n\nid: 2\ndata: b\n", 0,
	  "Emessage|1|-|a\n", 0, 0, 0, "1" },
	{ "id committed at a blank line", "id: 1\ndata: a\n\nid: 2\ndata: b\n\n", 0,
	  "Emessage|1|-|a\nEmessage|2|-|b\n", 0, 0, 0, "2" },
	{ "NUL id leaves the committed id", "id: 3\n\nid: \0\n\n", sizeof("id: 3\n\nid: \0\n\n") - 1,
	  "", 0, 0, 0, "3" },
	{ "event name with NUL", "event: a\0b\ndata: x\n\n", sizeof("event: a\0b\ndata: x\n\n") - 1,
	  "Ea\\0b||-|x\n", 0, 0, 0, NULL },
	{ "BOM only, no line", BOM, 0, "", 0, 0, 0, "" },
	{ "field name with trailing space is unknown", "data : x\nid : 1\n\n", 0, "", 0, 0, 0, "" },
	/* limits: line 16, data 32 */
	{ "line at the limit", "data: " L10 "\n\n:" L10 "12345\n", 0,
	  "Emessage||-|" L10 "\nC" L10 "12345\n", 0, 16, 32, NULL },
	{ "oversized line", "data: a\n\ndata: " L10 "X\n\ndata: b\n\n", 0,
	  "Emessage||-|a\n", -EMSGSIZE, 16, 32, NULL },
	{ "oversized line without line end", "data: " L10 "X", 0, "", -EMSGSIZE, 16, 32, NULL },
	{ "oversized comment", ":" L10 L10 "\n", 0, "", -EMSGSIZE, 16, 32, NULL },
	{ "a stripped BOM does not count to the line", BOM L10 "123456\n", 0, "", 0, 16, 32, NULL },
	{ "partial BOM counts to the line", "\xef\xbb" L10 "12345\n", 0, "", -EMSGSIZE, 16, 32, NULL },
	{ "event at the data limit", "data: " L10 "\ndata: " L10 "\ndata: " L10 "\n\n", 0,
	  "Emessage||-|" L10 "\\n" L10 "\\n" L10 "\n", 0, 16, 32, NULL },
	{ "oversized event", "data: " L10 "\ndata: " L10 "\ndata: " L10 "\ndata: x\n\n", 0,
	  "", -EMSGSIZE, 16, 32, NULL },
	{ "many small data lines past the limit",
	  "data\ndata\ndata\ndata\ndata\ndata\ndata\ndata\ndata\ndata\n"
	  "data\ndata\ndata\ndata\ndata\ndata\ndata\ndata\ndata\ndata\n"
	  "data\ndata\ndata\ndata\ndata\ndata\ndata\ndata\ndata\ndata\n"
	  "data\ndata\ndata\ndata\n\n", 0, "", -EMSGSIZE, 16, 32, NULL },
	{ "limit is per event", "data: " L10 "\ndata: " L10 "\n\ndata: " L10 "\ndata: " L10 "\n\n", 0,
	  "Emessage||-|" L10 "\\n" L10 "\nEmessage||-|" L10 "\\n" L10 "\n", 0, 16, 32, NULL },
	/* callbacks */
	{ "on_event error stops", "data: STOP\n\ndata: x\n\n", 0,
	  "Emessage||-|STOP\n", -ECANCELED, 0, 0, NULL },
	{ "on_comment error stops", ":STOP\ndata: x\n\n", 0, "CSTOP\n", -EPIPE, 0, 0, NULL },
};

/* Parse @v in the chunks [0, a) [a, b) [b, len), or byte by byte. */
static void parse(const struct vec *v, size_t a, size_t b, int bytewise, struct rec *r, int *rc)
{
	struct cp_sse_limits lim = { v->max_line, v->max_data };
	size_t len = v->len ? v->len : strlen(v->in), off = 0;
	struct cp_sse s;
	int feed = 0, ret;

	memset(r, 0, sizeof(*r));
	assert_int_equal(cp_sse_init(&s, &lim, &cbs, r), 0);
	while (off < len) {
		size_t n = len - off;

		if (bytewise)
			n = 1;
		else if (off < a)
			n = a - off;
		else if (off < b)
			n = b - off;
		ret = cp_sse_feed(&s, v->in + off, n);
		if (ret && !feed)
			feed = ret;
		/* an error is sticky */
		if (feed)
			assert_int_equal(ret, feed);
		off += n;
	}
	assert_true(s.line_len <= s.lim.max_line);
	assert_true(s.data_len <= s.lim.max_data);
	ret = cp_sse_finish(&s);
	assert_int_equal(ret, feed);
	if (v->last_id)
		assert_string_equal(cp_sse_last_event_id(&s, NULL), v->last_id);
	*rc = feed;
	cp_sse_free(&s);
}

static void check(const struct vec *v, const char *how, const struct rec *r, int rc)
{
	if (strcmp(r->buf, v->out) || rc != v->rc) {
		print_error("vector \"%s\" (%s): rc %d, expected %d\n got:\n%s\n expected:\n%s\n",
			    v->name, how, rc, v->rc, r->buf, v->out);
		fail();
	}
}

static void test_vectors_whole(void **state)
{
	struct rec r;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		size_t len = vecs[i].len ? vecs[i].len : strlen(vecs[i].in);

		parse(&vecs[i], len, len, 0, &r, &rc);
		check(&vecs[i], "whole", &r, rc);
	}
}

static void test_vectors_split_everywhere(void **state)
{
	struct rec r;
	char how[32];
	size_t i, at;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		size_t len = vecs[i].len ? vecs[i].len : strlen(vecs[i].in);

		for (at = 0; at <= len; at++) {
			parse(&vecs[i], at, len, 0, &r, &rc);
			snprintf(how, sizeof(how), "split at %zu", at);
			check(&vecs[i], how, &r, rc);
		}
	}
}

/* Three chunks, every pair of cut points: a line end, a BOM or a field
 * name can be cut twice. */
static void test_vectors_split_in_three(void **state)
{
	struct rec r;
	char how[48];
	size_t i, a, b;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		size_t len = vecs[i].len ? vecs[i].len : strlen(vecs[i].in);

		for (a = 1; a < len; a++) {
			for (b = a + 1; b < len; b++) {
				parse(&vecs[i], a, b, 0, &r, &rc);
				snprintf(how, sizeof(how), "split at %zu and %zu", a, b);
				check(&vecs[i], how, &r, rc);
			}
		}
	}
}

static void test_vectors_byte_by_byte(void **state)
{
	struct rec r;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		parse(&vecs[i], 0, 0, 1, &r, &rc);
		check(&vecs[i], "byte by byte", &r, rc);
	}
}

static int feed_str(struct cp_sse *s, const char *str)
{
	return cp_sse_feed(s, str, strlen(str));
}

static void test_cr_then_lf_in_next_chunk(void **state)
{
	struct cp_sse s;
	struct rec r = { 0 };

	(void)state;
	assert_int_equal(cp_sse_init(&s, NULL, &cbs, &r), 0);
	assert_int_equal(feed_str(&s, "data: a\r"), 0);
	assert_int_equal(feed_str(&s, "\ndata: b\r"), 0);
	assert_int_equal(feed_str(&s, "\n\r"), 0);
	assert_string_equal(r.buf, "Emessage||-|a\\nb\n");
	assert_int_equal(s.lines, 3);
	cp_sse_free(&s);
}

static void test_last_event_id_across_connections(void **state)
{
	struct cp_sse s;
	struct rec r = { 0 };
	size_t len = 99;

	(void)state;
	assert_int_equal(cp_sse_init(&s, NULL, &cbs, &r), 0);
	assert_string_equal(cp_sse_last_event_id(&s, &len), "");
	assert_int_equal(len, 0);
	/* connection 1 drops inside the event with id 2 */
	assert_int_equal(feed_str(&s, "id: 1\ndata: a\n\nid: 2\ndata: b\n"), 0);
	assert_string_equal(cp_sse_last_event_id(&s, &len), "1");
	assert_int_equal(cp_sse_finish(&s), 0);
	assert_string_equal(cp_sse_last_event_id(&s, &len), "1");
	assert_int_equal(len, 1);
	/* connection 2: events without an id field still carry id 1 */
	assert_int_equal(feed_str(&s, "data: c\n\nid: 3\n\n"), 0);
	assert_string_equal(cp_sse_last_event_id(&s, NULL), "3");
	/* an empty id clears it */
	assert_int_equal(feed_str(&s, "id\ndata: d\n\n"), 0);
	assert_string_equal(cp_sse_last_event_id(&s, &len), "");
	assert_int_equal(len, 0);
	assert_string_equal(r.buf, "Emessage|1|-|a\nEmessage|1|-|c\nEmessage||-|d\n");
	cp_sse_free(&s);
}

/* The default limits: a 4096-byte line and a 65536-byte event pass, one
 * byte more does not. */
static void test_default_limits(void **state)
{
	static char line[4200];
	struct cp_sse s;
	size_t i, total = 0;
	int rc;

	(void)state;
	assert_int_equal(cp_sse_init(&s, NULL, &only_count, &total), 0);
	memcpy(line, "data: ", 6);
	memset(line + 6, 'x', sizeof(line) - 6);
	line[4096] = '\n';
	/* 16 lines of 4090 bytes + joins = 65455 bytes */
	for (i = 0; i < 16; i++)
		assert_int_equal(cp_sse_feed(&s, line, 4097), 0);
	line[6 + 65536 - 65455 - 1] = '\n';	/* 80 bytes + join = 65536 */
	assert_int_equal(cp_sse_feed(&s, line, 6 + 80 + 1), 0);
	assert_int_equal(feed_str(&s, "\n"), 0);
	assert_int_equal(total, 65536);
	/* one byte over the event limit */
	line[6 + 80] = 'x';
	line[4096] = '\n';
	for (i = 0; i < 16; i++)
		assert_int_equal(cp_sse_feed(&s, line, 4097), 0);
	line[6 + 81] = '\n';
	rc = cp_sse_feed(&s, line, 6 + 81 + 1);
	assert_int_equal(rc, -EMSGSIZE);
	assert_true(s.data_len <= 65536);
	cp_sse_reset(&s);
	/* one byte over the line limit, without a line end */
	line[6 + 81] = 'x';
	assert_int_equal(cp_sse_feed(&s, line, 4096), 0);
	assert_int_equal(cp_sse_feed(&s, "x", 1), -EMSGSIZE);
	assert_true(s.line_len <= 4096);
	cp_sse_free(&s);
}

static void test_counters_and_stream_state(void **state)
{
	struct cp_sse s;
	struct rec r = { 0 };

	(void)state;
	assert_int_equal(cp_sse_init(&s, NULL, &cbs, &r), 0);
	assert_false(s.has_retry_ms);
	assert_int_equal(feed_str(&s, "retry: 5000\n\n: keep-alive\n:\nid: 3\ndata: a\n\ndata: b"), 0);
	assert_int_equal(s.lines, 7);
	assert_int_equal(s.comments, 2);
	assert_true(s.has_retry_ms);
	assert_int_equal(s.retry_ms, 5000);
	/* EOF: the partial event goes, id and retry stay, a BOM is again allowed */
	assert_int_equal(cp_sse_finish(&s), 0);
	assert_int_equal(feed_str(&s, BOM "\n"), 0);
	assert_int_equal(feed_str(&s, "data: c\n\n"), 0);
	assert_string_equal(r.buf, "C keep-alive\nC\nEmessage|3|-|a\nEmessage|3|-|c\n");
	assert_int_equal(s.retry_ms, 5000);
	/* reset forgets everything */
	cp_sse_reset(&s);
	assert_int_equal(s.lines, 0);
	assert_false(s.has_retry_ms);
	r.len = 0;
	assert_int_equal(feed_str(&s, "data: d\n\n"), 0);
	assert_string_equal(r.buf, "Emessage||-|d\n");
	cp_sse_free(&s);
}

static void test_error_is_sticky_until_reset(void **state)
{
	struct cp_sse_limits lim = { 8, 8 };
	struct cp_sse s;
	struct rec r = { 0 };

	(void)state;
	assert_int_equal(cp_sse_init(&s, &lim, &cbs, &r), 0);
	assert_int_equal(feed_str(&s, "data: 123456789"), -EMSGSIZE);
	assert_int_equal(feed_str(&s, "\n\ndata: x\n\n"), -EMSGSIZE);
	assert_int_equal(cp_sse_finish(&s), -EMSGSIZE);
	assert_string_equal(r.buf, "");
	cp_sse_reset(&s);
	assert_int_equal(feed_str(&s, "data: x\n\n"), 0);
	assert_string_equal(r.buf, "Emessage||-|x\n");
	cp_sse_free(&s);
}

static void test_comment_callback_is_optional(void **state)
{
	static const struct cp_sse_callbacks only_events = { .on_event = on_event };
	struct cp_sse s;
	struct rec r = { 0 };

	(void)state;
	assert_int_equal(cp_sse_init(&s, NULL, &only_events, &r), 0);
	assert_int_equal(feed_str(&s, ": ping\ndata: x\n\n"), 0);
	assert_int_equal(s.comments, 1);
	assert_string_equal(r.buf, "Emessage||-|x\n");
	cp_sse_free(&s);
}

static void test_init(void **state)
{
	static const struct cp_sse_callbacks none = { 0 };
	struct cp_sse_limits big = { CP_SSE_LIMIT_CAP + 1, 0 };
	struct cp_sse s;

	(void)state;
	assert_int_equal(cp_sse_init(&s, NULL, &cbs, NULL), 0);
	assert_int_equal(s.lim.max_line, 4096);
	assert_int_equal(s.lim.max_data, 65536);
	cp_sse_free(&s);
	assert_int_equal(cp_sse_init(&s, NULL, &none, NULL), -EINVAL);
	assert_int_equal(cp_sse_init(&s, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(cp_sse_init(&s, &big, &cbs, NULL), -EINVAL);
	cp_sse_free(&s);	/* safe after a failed init */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_whole),
		cmocka_unit_test(test_vectors_split_everywhere),
		cmocka_unit_test(test_vectors_split_in_three),
		cmocka_unit_test(test_vectors_byte_by_byte),
		cmocka_unit_test(test_cr_then_lf_in_next_chunk),
		cmocka_unit_test(test_last_event_id_across_connections),
		cmocka_unit_test(test_default_limits),
		cmocka_unit_test(test_counters_and_stream_state),
		cmocka_unit_test(test_error_is_sticky_until_reset),
		cmocka_unit_test(test_comment_callback_is_optional),
		cmocka_unit_test(test_init),
	};
	return cmocka_run_group_tests_name("sse", tests, NULL, NULL);
}
