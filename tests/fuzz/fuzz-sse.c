// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target of the SSE parser (helper/sse.c).
 *
 * Input: byte 0 picks the limits, byte 1 (low 4 bits) the number k of
 * chosen chunk lengths, the next k bytes those lengths (0..255, cycled
 * until the stream is consumed); the rest is the stream.
 *
 * The stream is parsed four ways, each as two connections (the stream, end
 * of stream, the same stream again on the same parser):
 *   - whole, in one cp_sse_feed();
 *   - in the chunks the input chose;
 *   - byte by byte;
 *   - by a deliberately simple whole-buffer model of the WHATWG rules below,
 *     written without the incremental machinery.
 * All four must serialise to the same bytes: every event and comment, the
 * return codes, the line and comment counters, the committed last event ID
 * and the reconnection time after each end of stream.  Invariants of each
 * event (NUL terminators, sizes within the limits) are checked in the
 * callback.  Any difference aborts, which libFuzzer reports as a crash.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n);

/* ---- serialisation ---------------------------------------------------- */

struct out {
	char *buf;
	size_t len, cap;
	struct cp_sse_limits lim;
};

static void put(struct out *o, const void *p, size_t n)
{
	if (n > SIZE_MAX / 4 - o->len)
		abort();
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

static void put_u64(struct out *o, char tag, uint64_t v)
{
	put(o, &tag, 1);
	put(o, &v, sizeof(v));
}

static void put_blob(struct out *o, char tag, const char *p, size_t n)
{
	put_u64(o, tag, n);
	put(o, p, n);
}

/* What both implementations report for one event or comment; the same
 * "STOP" payloads make both stop with the same error. */
static int rec_event(struct out *o, const char *type, size_t type_len,
		     const char *data, size_t data_len, const char *id, size_t id_len,
		     bool has_retry, uint32_t retry_ms)
{
	put_blob(o, 'T', type, type_len);
	put_blob(o, 'D', data, data_len);
	put_blob(o, 'I', id, id_len);
	put_u64(o, 'R', has_retry ? (uint64_t)retry_ms : UINT64_MAX);
	if (data_len == 4 && !memcmp(data, "STOP", 4))
		return -ECANCELED;
	return 0;
}

static int rec_comment(struct out *o, const char *text, size_t len)
{
	put_blob(o, 'C', text, len);
	if (len == 4 && !memcmp(text, "STOP", 4))
		return -EPIPE;
	return 0;
}

/* ---- the parser under test ------------------------------------------- */

static int on_event(void *ctx, const struct cp_sse_event *ev)
{
	struct out *o = ctx;

	if (ev->data_len > o->lim.max_data || ev->data[ev->data_len] != '\0' ||
	    ev->type_len == 0 ||
	    (ev->type_len > o->lim.max_line && strcmp(ev->type, "message")) ||
	    ev->type[ev->type_len] != '\0' ||
	    ev->id_len >= o->lim.max_line || strlen(ev->id) != ev->id_len)
		abort();
	return rec_event(o, ev->type, ev->type_len, ev->data, ev->data_len,
			 ev->id, ev->id_len, ev->has_retry, ev->retry_ms);
}

static int on_comment(void *ctx, const char *text, size_t len)
{
	struct out *o = ctx;

	if (len >= o->lim.max_line)
		abort();
	return rec_comment(o, text, len);
}

static const struct cp_sse_callbacks cbs = {
	.on_event = on_event,
	.on_comment = on_comment,
};

enum mode { WHOLE, CHUNKS, BYTES };

/* One connection's stream; returns the (sticky) result. */
static int feed_stream(struct cp_sse *s, enum mode m, const uint8_t *split, size_t k,
		       const char *data, size_t n)
{
	size_t off = 0, i = 0;
	int r = 0, first = 0;

	while (off < n) {
		size_t c = n - off;

		if (m == BYTES) {
			c = 1;
		} else if (m == CHUNKS && k) {
			size_t want = split[i++ % k];

			if (!want) {	/* an empty chunk, then one byte */
				if (cp_sse_feed(s, data + off, 0) != first)
					abort();
				want = 1;
			}
			if (want < c)
				c = want;
		}
		r = cp_sse_feed(s, data + off, c);
		if (r && !first)
			first = r;
		if (first && r != first)	/* errors are sticky */
			abort();
		if (s->line_len > s->lim.max_line || s->data_len > s->lim.max_data)
			abort();
		off += c;
	}
	return r;
}

static void after_eof(struct out *o, int r, size_t id_len, const char *id,
		      uint64_t lines, uint64_t comments, bool has_retry, uint32_t retry)
{
	put_u64(o, 'E', (uint64_t)(int64_t)r);
	put_blob(o, 'L', id, id_len);
	put_u64(o, 'N', lines);
	put_u64(o, 'M', comments);
	put_u64(o, 'S', has_retry ? (uint64_t)retry : UINT64_MAX);
}

static void run(const struct cp_sse_limits *lim, enum mode m, const uint8_t *split,
		size_t k, const char *data, size_t n, struct out *o)
{
	struct cp_sse s;
	int conn, r = 0, r2;

	if (cp_sse_init(&s, lim, &cbs, o))
		abort();
	o->lim = s.lim;
	for (conn = 0; conn < 2 && !r; conn++) {
		const char *id;
		size_t id_len;

		r = feed_stream(&s, m, split, k, data, n);
		r2 = cp_sse_finish(&s);
		if (r2 != r || (r && r != -EMSGSIZE && r != -ECANCELED && r != -EPIPE))
			abort();
		id = cp_sse_last_event_id(&s, &id_len);
		if (strlen(id) != id_len || id_len >= s.lim.max_line)
			abort();
		after_eof(o, r, id_len, id, s.lines, s.comments, s.has_retry_ms, s.retry_ms);
	}
	cp_sse_free(&s);
}

/* ---- the model ------------------------------------------------------- */

struct model {
	struct cp_sse_limits lim;
	char *data, *type, *id, *last_id;	/* grown with realloc */
	size_t data_len, type_len, id_len, last_id_len;
	bool data_seen, blk_retry_seen, retry_seen;
	uint32_t blk_retry, retry;
	uint64_t lines, comments;
};

static void set_buf(char **b, size_t *blen, const char *v, size_t vlen)
{
	char *nb = realloc(*b, vlen + 1);

	if (!nb)
		abort();
	if (vlen)
		memcpy(nb, v, vlen);
	nb[vlen] = '\0';
	*b = nb;
	*blen = vlen;
}

static bool all_digits(const char *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i] < '0' || v[i] > '9')
			return false;
	return n > 0;
}

static uint32_t to_ms(const char *v, size_t n)
{
	uint64_t ms = 0;
	size_t i;

	for (i = 0; i < n && ms < UINT32_MAX; i++)
		ms = ms * 10 + (uint64_t)(v[i] - '0');
	return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

static int model_line(struct model *md, struct out *o, const char *l, size_t len)
{
	const char *colon = memchr(l, ':', len);
	const char *v = l + len;
	size_t flen = len, vlen = 0;
	int r;

	md->lines++;
	if (len == 0) {
		set_buf(&md->last_id, &md->last_id_len, md->id, md->id_len);
		r = 0;
		if (md->data_seen)
			r = rec_event(o, md->type_len ? md->type : "message",
				      md->type_len ? md->type_len : 7,
				      md->data_len ? md->data : "", md->data_len,
				      md->id_len ? md->id : "", md->id_len,
				      md->blk_retry_seen, md->blk_retry);
		md->data_len = md->type_len = 0;
		md->data_seen = md->blk_retry_seen = false;
		return r;
	}
	if (colon == l) {
		md->comments++;
		return rec_comment(o, l + 1, len - 1);
	}
	if (colon) {
		flen = (size_t)(colon - l);
		v = colon + 1;
		vlen = len - flen - 1;
		if (vlen > 0 && v[0] == ' ')
			v++, vlen--;
	}
	if (flen == 4 && !memcmp(l, "data", 4)) {
		size_t add = vlen + (md->data_seen ? 1 : 0);
		char *nb;

		if (md->data_len + add > md->lim.max_data)
			return -EMSGSIZE;
		nb = realloc(md->data, md->data_len + add + 1);
		if (!nb)
			abort();
		md->data = nb;
		if (md->data_seen)
			md->data[md->data_len++] = '\n';
		memcpy(md->data + md->data_len, v, vlen);
		md->data_len += vlen;
		md->data_seen = true;
	} else if (flen == 5 && !memcmp(l, "event", 5)) {
		set_buf(&md->type, &md->type_len, v, vlen);
	} else if (flen == 2 && !memcmp(l, "id", 2)) {
		if (!memchr(v, '\0', vlen))
			set_buf(&md->id, &md->id_len, v, vlen);
	} else if (flen == 5 && !memcmp(l, "retry", 5)) {
		if (all_digits(v, vlen)) {
			md->retry = md->blk_retry = to_ms(v, vlen);
			md->retry_seen = md->blk_retry_seen = true;
		}
	}
	return 0;
}

static int model_stream(struct model *md, struct out *o, const char *p, size_t n)
{
	static const char bom[3] = { '\xef', '\xbb', '\xbf' };
	size_t pos = 0;

	if (n >= 3 && !memcmp(p, bom, 3))
		pos = 3;
	else if (n < 3 && !memcmp(p, bom, n))
		return 0;	/* a BOM cut short by the end: nothing */
	while (pos < n) {
		size_t e = pos;
		int r;

		while (e < n && p[e] != '\r' && p[e] != '\n')
			e++;
		if (e - pos > md->lim.max_line)
			return -EMSGSIZE;
		if (e == n)
			break;	/* incomplete line: discarded */
		r = model_line(md, o, p + pos, e - pos);
		if (r)
			return r;
		pos = e + (p[e] == '\r' && e + 1 < n && p[e + 1] == '\n' ? 2 : 1);
	}
	return 0;
}

static void model_run(const struct cp_sse_limits *lim, const char *p, size_t n,
		      struct out *o)
{
	struct model md = { .lim = *lim };
	int conn, r = 0;

	for (conn = 0; conn < 2 && !r; conn++) {
		r = model_stream(&md, o, p, n);
		if (!r)	/* end of stream: drop the block, roll the id back */
			set_buf(&md.id, &md.id_len, md.last_id ? md.last_id : "",
				md.last_id_len);
		md.data_len = md.type_len = 0;
		md.data_seen = md.blk_retry_seen = false;
		after_eof(o, r, md.last_id_len, md.last_id ? md.last_id : "",
			  md.lines, md.comments, md.retry_seen, md.retry);
	}
	free(md.data);
	free(md.type);
	free(md.id);
	free(md.last_id);
}

/* ---- entry ------------------------------------------------------------ */

static void same(const struct out *a, const struct out *b)
{
	if (a->len != b->len || memcmp(a->buf, b->buf, a->len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
	static const struct cp_sse_limits lims[8] = {
		{ 16, 32 }, { 64, 100 }, { 0, 0 }, { 1, 1 },
		{ 2, 1 }, { 5, 200 }, { 200, 5 }, { 8, 8 },
	};
	struct cp_sse_limits lim;
	struct out o[4] = { { 0 } };
	const uint8_t *split;
	const char *data;
	size_t k, i;

	if (n < 2)
		return 0;
	lim = lims[in[0] & 7];
	k = in[1] & 15;
	if (n < 2 + k)
		return 0;
	split = in + 2;
	data = (const char *)in + 2 + k;
	n -= 2 + k;

	run(&lim, WHOLE, NULL, 0, data, n, &o[0]);
	run(&lim, CHUNKS, split, k, data, n, &o[1]);
	run(&lim, BYTES, NULL, 0, data, n, &o[2]);
	if (!lim.max_line)
		lim = o[0].lim;	/* the model needs the defaults spelt out */
	model_run(&lim, data, n, &o[3]);
	for (i = 1; i < 4; i++)
		same(&o[0], &o[i]);
	for (i = 0; i < 4; i++)
		free(o[i].buf);
	return 0;
}
