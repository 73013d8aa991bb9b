// SPDX-License-Identifier: GPL-2.0
/* Incremental text/event-stream parser (WHATWG server-sent events). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

static const unsigned char bom[3] = { 0xef, 0xbb, 0xbf };

static void clear_block(struct cp_sse *s)
{
	s->data_len = 0;
	s->data_seen = false;
	s->type_len = 0;
	s->blk_has_retry = false;
	s->blk_retry = 0;
}

static void clear_stream(struct cp_sse *s)
{
	clear_block(s);
	memcpy(s->id, s->last_id, s->last_id_len);
	s->id_len = s->last_id_len;
	s->line_len = 0;
	s->bom_pos = 0;
	s->bom_done = false;
	s->last_cr = false;
}

static int fail(struct cp_sse *s, int err)
{
	s->err = err;
	return err;
}

/* A blank line: commit the last event ID, then dispatch if there is data. */
static int dispatch(struct cp_sse *s)
{
	struct cp_sse_event ev;
	int r;

	memcpy(s->last_id, s->id, s->id_len);
	s->last_id_len = s->id_len;
	s->last_id[s->last_id_len] = '\0';
	if (!s->data_seen) {
		clear_block(s);
		return 0;
	}
	s->data[s->data_len] = '\0';
	if (s->type_len) {
		s->type[s->type_len] = '\0';
		ev.type = s->type;
		ev.type_len = s->type_len;
	} else {
		ev.type = "message";
		ev.type_len = strlen("message");
	}
	ev.data = s->data;
	ev.data_len = s->data_len;
	s->id[s->id_len] = '\0';
	ev.id = s->id;
	ev.id_len = s->id_len;
	ev.has_retry = s->blk_has_retry;
	ev.retry_ms = s->blk_retry;
	r = s->cb.on_event(s->ctx, &ev);
	clear_block(s);
	return r < 0 ? r : 0;
}

static bool field_is(const char *f, size_t flen, const char *name)
{
	size_t n = strlen(name);

	return flen == n && memcmp(f, name, n) == 0;
}

static void set_retry(struct cp_sse *s, const char *v, size_t vlen)
{
	uint64_t ms = 0;
	size_t i;

	if (!vlen)
		return;
	for (i = 0; i < vlen; i++) {
		if (v[i] < '0' || v[i] > '9')
			return;
	}
	for (i = 0; i < vlen; i++) {
		ms = ms * 10 + (uint64_t)(v[i] - '0');
		if (ms > UINT32_MAX)
			ms = UINT32_MAX;	/* saturate; keeps ms * 10 in range */
	}
	s->blk_has_retry = true;
	s->blk_retry = (uint32_t)ms;
	s->has_retry_ms = true;
	s->retry_ms = (uint32_t)ms;
}

static int process_line(struct cp_sse *s)
{
	const char *l = s->line, *colon, *v;
	size_t len = s->line_len, flen, vlen;

	s->lines++;
	if (!len)
		return dispatch(s);
	if (l[0] == ':') {
		s->comments++;
		if (s->cb.on_comment) {
			int r = s->cb.on_comment(s->ctx, l + 1, len - 1);

			if (r < 0)
				return r;
		}
		return 0;
	}
	colon = memchr(l, ':', len);
	if (colon) {
		flen = (size_t)(colon - l);
		v = colon + 1;
		vlen = len - flen - 1;
		if (vlen && *v == ' ') {
			v++;
			vlen--;
		}
	} else {
		flen = len;
		v = l + len;
		vlen = 0;
	}

	if (field_is(l, flen, "event")) {
		memcpy(s->type, v, vlen);	/* vlen < max_line */
		s->type_len = vlen;
	} else if (field_is(l, flen, "data")) {
		size_t sep = s->data_seen ? 1 : 0;

		if (s->data_len + sep + vlen > s->lim.max_data ||
		    s->data_len + sep + vlen < s->data_len)
			return -EMSGSIZE;
		if (sep)
			s->data[s->data_len++] = '\n';
		memcpy(s->data + s->data_len, v, vlen);
		s->data_len += vlen;
		s->data_seen = true;
	} else if (field_is(l, flen, "id")) {
		if (!memchr(v, '\0', vlen)) {
			memcpy(s->id, v, vlen);
			s->id_len = vlen;
		}
	} else if (field_is(l, flen, "retry")) {
		set_retry(s, v, vlen);
	}
	/* any other field is ignored */
	return 0;
}

static int append(struct cp_sse *s, const char *p, size_t n)
{
	if (n > s->lim.max_line - s->line_len)
		return -EMSGSIZE;
	memcpy(s->line + s->line_len, p, n);
	s->line_len += n;
	return 0;
}

int cp_sse_feed(struct cp_sse *s, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	int r;

	if (s->err)
		return s->err;
	if (!len)
		return 0;

	/* A BOM may be split over chunks: match it byte by byte. */
	while (!s->bom_done && p < end) {
		if ((unsigned char)*p == bom[s->bom_pos]) {
			p++;
			if (++s->bom_pos == sizeof(bom))
				s->bom_done = true;
			continue;
		}
		/* Not a BOM: the bytes matched so far are line content. */
		s->bom_done = true;
		r = append(s, (const char *)bom, s->bom_pos);
		if (r < 0)
			return fail(s, r);
	}

	while (p < end) {
		const char *q = p;

		if (s->last_cr) {
			s->last_cr = false;
			if (*p == '\n') {
				p++;
				continue;
			}
		}
		while (q < end && *q != '\n' && *q != '\r')
			q++;
		r = append(s, p, (size_t)(q - p));
		if (r < 0)
			return fail(s, r);
		if (q == end)
			break;
		s->last_cr = *q == '\r';
		p = q + 1;
		r = process_line(s);
		s->line_len = 0;
		if (r < 0)
			return fail(s, r);
	}
	return 0;
}

int cp_sse_finish(struct cp_sse *s)
{
	if (s->err)
		return s->err;
	clear_stream(s);
	return 0;
}

const char *cp_sse_last_event_id(const struct cp_sse *s, size_t *len)
{
	if (len)
		*len = s->last_id_len;
	return s->last_id;
}

void cp_sse_reset(struct cp_sse *s)
{
	s->last_id_len = 0;
	s->last_id[0] = '\0';
	clear_stream(s);
	s->lines = 0;
	s->comments = 0;
	s->retry_ms = 0;
	s->has_retry_ms = false;
	s->err = 0;
}

void cp_sse_free(struct cp_sse *s)
{
	free(s->line);
	free(s->data);
	free(s->type);
	free(s->id);
	free(s->last_id);
	memset(s, 0, sizeof(*s));
}

int cp_sse_init(struct cp_sse *s, const struct cp_sse_limits *lim,
		const struct cp_sse_callbacks *cb, void *ctx)
{
	memset(s, 0, sizeof(*s));
	if (!cb || !cb->on_event)
		return -EINVAL;
	s->lim.max_line = lim && lim->max_line ? lim->max_line : CP_SSE_DEFAULT_MAX_LINE;
	s->lim.max_data = lim && lim->max_data ? lim->max_data : CP_SSE_DEFAULT_MAX_DATA;
	if (s->lim.max_line > CP_SSE_LIMIT_CAP || s->lim.max_data > CP_SSE_LIMIT_CAP)
		return -EINVAL;
	s->cb = *cb;
	s->ctx = ctx;
	s->line = malloc(s->lim.max_line + 1);
	s->type = malloc(s->lim.max_line + 1);
	s->id = malloc(s->lim.max_line + 1);
	s->last_id = malloc(s->lim.max_line + 1);
	s->data = malloc(s->lim.max_data + 1);
	if (!s->line || !s->type || !s->id || !s->last_id || !s->data) {
		cp_sse_free(s);
		return -ENOMEM;
	}
	cp_sse_reset(s);
	return 0;
}
