// SPDX-License-Identifier: GPL-2.0
/* Unit tests of the UEL/PJL job splitter (helper/usb-split.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "usb-split.h"

#define UEL USB_SPLIT_UEL

struct split_case {
	const char *name;
	const char *stream;
	/* Job ends as offsets just past the boundary, -1 terminated. */
	long ends[8];
	int content_at_end;	/* content of the trailing, unfinished job */
};

static const struct split_case cases[] = {
	{ "raw data, no UEL", "hello world", { -1 }, 1 },
	{ "UEL data UEL", UEL "data" UEL, { 22, -1 }, 0 },
	{ "two jobs separated by UEL", UEL "one" UEL "two" UEL, { 21, 33, -1 }, 0 },
	{ "two jobs with UEL UEL between", UEL "one" UEL UEL "two" UEL, { 21, 42, -1 }, 0 },
	{ "PJL job with EOJ is one job",
	  UEL "@PJL JOB NAME=\"a\"\r\n@PJL ENTER LANGUAGE=PCL\r\n\x1b" "Etext\x1b" "E"
	  UEL "@PJL EOJ\r\n" UEL,
	  { 89, -1 }, 0 },
	{ "PJL settings only is not a job", UEL "@PJL SET RESOLUTION=600\r\n" UEL "@PJL\r\n", { -1 }, 0 },
	{ "data without UEL then UEL ends it", "data" UEL "next", { 13, -1 }, 1 },
	{ "PCL escape right after UEL is content", UEL "\x1b" "E" UEL, { 20, -1 }, 0 },
	{ "partial UEL inside data", UEL "\x1b%-123" "x" UEL, { 25, -1 }, 0 },
	{ "PJL comment then data", UEL "@PJL COMMENT hi\r\n%!PS\n" UEL, { 40, -1 }, 0 },
};

static void run_case(const struct split_case *c, size_t chunk)
{
	struct usb_split s;
	size_t len = strlen(c->stream), off = 0;
	long got[8];
	int n = 0, i;

	usb_split_init(&s);
	while (off < len) {
		size_t lim = len - off < chunk ? len - off : chunk;
		size_t done = 0;

		while (done < lim) {
			bool end;
			size_t k = usb_split_feed(&s, (const uint8_t *)c->stream + off + done,
						  lim - done, &end);

			assert_true(k >= 1);
			done += k;
			if (end) {
				assert_true(n < 7);
				got[n++] = (long)(off + done);
			}
		}
		off += lim;
	}
	for (i = 0; c->ends[i] >= 0; i++) {
		if (i >= n)
			fail_msg("%s (chunk %zu): missing end %d", c->name, chunk, i);
		if (got[i] != c->ends[i])
			fail_msg("%s (chunk %zu): end %d at %ld, want %ld", c->name, chunk,
				 i, got[i], c->ends[i]);
	}
	if (n != i)
		fail_msg("%s (chunk %zu): %d ends, want %d", c->name, chunk, n, i);
	assert_int_equal(usb_split_has_content(&s), c->content_at_end);
}

static void test_table(void **state)
{
	size_t i, chunk;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (chunk = 1; chunk <= 128; chunk = chunk < 16 ? chunk + 1 : chunk * 2)
			run_case(&cases[i], chunk);
}

static void test_reset_forgets_job(void **state)
{
	struct usb_split s;
	bool end;

	(void)state;
	usb_split_init(&s);
	usb_split_feed(&s, (const uint8_t *)"abc", 3, &end);
	assert_false(end);
	assert_true(usb_split_started(&s));
	usb_split_reset(&s);
	assert_false(usb_split_started(&s));
	assert_false(usb_split_has_content(&s));
}

static void test_long_pjl_line(void **state)
{
	struct usb_split s;
	char buf[600];
	bool end;
	size_t k;

	(void)state;
	usb_split_init(&s);
	memcpy(buf, UEL "@PJL COMMENT ", 22);
	memset(buf + 22, 'x', 400);
	memcpy(buf + 422, "\r\n" UEL, 11);
	k = 433;
	assert_int_equal(usb_split_feed(&s, (const uint8_t *)buf, k, &end), k);
	assert_false(end);
	assert_false(usb_split_has_content(&s));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_reset_forgets_job),
		cmocka_unit_test(test_long_pjl_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
