// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the non-blocking job feed, against a real pipe whose size
 * is set to one page so that "full" is exact.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "jobfeed.h"

#define PIPE_BYTES 4096

struct pipe_pair {
	int rd, wr;
};

static int pipe_setup(void **state)
{
	static struct pipe_pair p;
	int fds[2];

	assert_int_equal(pipe2(fds, O_NONBLOCK), 0);
	assert_int_equal(fcntl(fds[1], F_SETPIPE_SZ, PIPE_BYTES), PIPE_BYTES);
	p.rd = fds[0];
	p.wr = fds[1];
	*state = &p;
	return 0;
}

static int pipe_teardown(void **state)
{
	struct pipe_pair *p = *state;

	if (p->rd >= 0)
		close(p->rd);
	close(p->wr);
	return 0;
}

static void pattern(char *buf, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(seed + i * 7);
}

/* Read exactly @len bytes that are waiting in the pipe. */
static void drain(struct pipe_pair *p, char *out, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(p->rd, out + got, len - got);

		assert_true(n > 0);
		got += n;
	}
}

static void test_room_takes_all(void **state)
{
	struct pipe_pair *p = *state;
	struct cp_jobfeed f;
	char in[100], out[100];

	pattern(in, sizeof(in), 1);
	cp_jobfeed_init(&f, p->wr);
	assert_int_equal(cp_jobfeed_offer(&f, in, sizeof(in)), CP_FEED_TAKEN);
	assert_false(cp_jobfeed_pending(&f));
	assert_int_equal(f.written, sizeof(in));
	drain(p, out, sizeof(out));
	assert_memory_equal(in, out, sizeof(in));
}

/* 6000 bytes into 4096 of room: all taken, 1904 stashed, next chunk refused. */
static void test_partial_write_stashes_the_rest(void **state)
{
	struct pipe_pair *p = *state;
	static char in[6000], more[10], out[6010];
	struct cp_jobfeed f;

	pattern(in, sizeof(in), 3);
	pattern(more, sizeof(more), 99);
	cp_jobfeed_init(&f, p->wr);
	assert_int_equal(cp_jobfeed_offer(&f, in, sizeof(in)), CP_FEED_TAKEN);
	assert_true(cp_jobfeed_pending(&f));
	assert_int_equal(f.written, PIPE_BYTES);
	assert_int_equal(cp_jobfeed_offer(&f, more, sizeof(more)), CP_FEED_FULL);
	assert_int_equal(cp_jobfeed_flush(&f), CP_FEED_FULL);
	assert_int_equal(f.written, PIPE_BYTES);

	drain(p, out, PIPE_BYTES);
	assert_int_equal(cp_jobfeed_flush(&f), CP_FEED_TAKEN);
	assert_false(cp_jobfeed_pending(&f));
	assert_int_equal(f.written, sizeof(in));
	assert_int_equal(cp_jobfeed_offer(&f, more, sizeof(more)), CP_FEED_TAKEN);
	drain(p, out + PIPE_BYTES, sizeof(in) + sizeof(more) - PIPE_BYTES);
	/* In order, nothing lost, nothing twice. */
	assert_memory_equal(out, in, sizeof(in));
	assert_memory_equal(out + sizeof(in), more, sizeof(more));
}

static void test_full_file_takes_nothing(void **state)
{
	struct pipe_pair *p = *state;
	static char in[PIPE_BYTES];
	struct cp_jobfeed f;

	cp_jobfeed_init(&f, p->wr);
	assert_int_equal(cp_jobfeed_offer(&f, in, sizeof(in)), CP_FEED_TAKEN);
	assert_false(cp_jobfeed_pending(&f));
	assert_int_equal(cp_jobfeed_offer(&f, in, 1), CP_FEED_FULL);
	assert_false(cp_jobfeed_pending(&f));
	assert_int_equal(f.written, PIPE_BYTES);
}

static void test_empty_offer_is_taken(void **state)
{
	struct pipe_pair *p = *state;
	struct cp_jobfeed f;

	cp_jobfeed_init(&f, p->wr);
	assert_int_equal(cp_jobfeed_offer(&f, "", 0), CP_FEED_TAKEN);
	assert_int_equal(f.written, 0);
}

/* The reader is gone (a flushed job): the error comes back, nothing hangs. */
static void test_write_error_is_returned(void **state)
{
	struct pipe_pair *p = *state;
	static char in[6000];
	struct cp_jobfeed f;

	cp_jobfeed_init(&f, p->wr);
	assert_int_equal(cp_jobfeed_offer(&f, in, sizeof(in)), CP_FEED_TAKEN);
	close(p->rd);
	p->rd = -1;
	assert_int_equal(cp_jobfeed_flush(&f), -EPIPE);
	assert_int_equal(cp_jobfeed_offer(&f, in, 1), -EPIPE);
	/* The stash is freed here; AddressSanitizer reports it otherwise. */
	cp_jobfeed_release(&f);
	assert_false(cp_jobfeed_pending(&f));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_room_takes_all, pipe_setup, pipe_teardown),
		cmocka_unit_test_setup_teardown(test_partial_write_stashes_the_rest, pipe_setup,
						pipe_teardown),
		cmocka_unit_test_setup_teardown(test_full_file_takes_nothing, pipe_setup,
						pipe_teardown),
		cmocka_unit_test_setup_teardown(test_empty_offer_is_taken, pipe_setup,
						pipe_teardown),
		cmocka_unit_test_setup_teardown(test_write_error_is_returned, pipe_setup,
						pipe_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
