// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target of the SSE parser (helper/sse.c).
 *
 * Input: byte 0 picks the limits, byte 1 the number of chunk boundaries k
 * (0..15), the next k bytes the chunk lengths; the rest is the stream.  The
 * stream is parsed whole and in those chunks; both must give the same
 * serialised events/comments and the same return codes, and no event's data
 * may exceed the limit.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n);

struct out {
	char *buf;
	size_t len, cap;
	size_t max_data;
};

static void put(struct out *o, const void *p, size_t n)
{
	if (o->len + n > o->cap) {
		size_t cap = (o->len + n) * 2 + 64;
		char *b = realloc(o->buf, cap);

		if (!b)
			abort();
		o->buf = b;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static void put_blob(struct out *o, char tag, const char *p, size_t n)
{
	put(o, &tag, 1);
	put(o, &n, sizeof(n));
	put(o, p, n);
}

static int on_event(void *ctx, const struct cp_sse_event *ev)
{
	struct out *o = ctx;

	if (ev->data_len > o->max_data || ev->data[ev->data_len] != '\0' ||
	    ev->type_len == 0 || ev->type[ev->type_len] != '\0' ||
	    strlen(ev->id) != ev->id_len)
		abort();
	put_blob(o, 'T', ev->type, ev->type_len);
	put_blob(o, 'D', ev->data, ev->data_len);
	put_blob(o, 'I', ev->id, ev->id_len);
	put(o, &ev->has_retry, sizeof(ev->has_retry));
	if (ev->has_retry)
		put(o, &ev->retry_ms, sizeof(ev->retry_ms));
	/* a data value "STOP" exercises the callback error path */
	if (ev->data_len == 4 && !memcmp(ev->data, "STOP", 4))
		return -ECANCELED;
	return 0;
}

static int on_comment(void *ctx, const char *text, size_t len)
{
	put_blob(ctx, 'C', text, len);
	return 0;
}

static const struct cp_sse_callbacks cbs = {
	.on_event = on_event,
	.on_comment = on_comment,
};

static void run(const struct cp_sse_limits *lim, const uint8_t *split, size_t k,
		const char *data, size_t n, struct out *o)
{
	struct cp_sse s;
	size_t off = 0, i;
	int r = 0, r2;

	if (cp_sse_init(&s, lim, &cbs, o))
		abort();
	for (i = 0; i < k && off < n; i++) {
		size_t c = split[i] < n - off ? split[i] : n - off;

		r = cp_sse_feed(&s, data + off, c);
		off += c;
	}
	if (off < n)
		r = cp_sse_feed(&s, data + off, n - off);
	put(o, &r, sizeof(r));
	r2 = cp_sse_finish(&s);
	put(o, &r2, sizeof(r2));
	if (r2 != r || (r && r != -EMSGSIZE && r != -ECANCELED))
		abort();
	if (s.line_len > lim->max_line || s.data_len > lim->max_data)
		abort();
	cp_sse_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
	static const struct cp_sse_limits lims[4] = {
		{ 16, 32 }, { 64, 100 }, { 4096, 65536 }, { 1, 1 },
	};
	struct cp_sse_limits lim;
	struct out whole = { 0 }, chunked = { 0 };
	size_t k;

	if (n < 2)
		return 0;
	lim = lims[in[0] & 3];
	k = in[1] & 15;
	if (n < 2 + k)
		return 0;
	whole.max_data = chunked.max_data = lim.max_data;
	run(&lim, NULL, 0, (const char *)in + 2 + k, n - 2 - k, &whole);
	run(&lim, in + 2, k, (const char *)in + 2 + k, n - 2 - k, &chunked);
	if (whole.len != chunked.len || memcmp(whole.buf, chunked.buf, whole.len))
		abort();
	free(whole.buf);
	free(chunked.buf);
	return 0;
}
