// SPDX-License-Identifier: GPL-2.0
/* Unit tests of the capped, fully jittered exponential backoff. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "backoff.h"

static uint32_t fixed_rand(void *ctx)
{
	return *(uint32_t *)ctx;
}

static void test_ceiling_doubles_then_caps(void **state)
{
	static const uint32_t want[] = { 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000 };
	struct cp_backoff b;
	uint32_t max = UINT32_MAX;

	(void)state;
	cp_backoff_init(&b, 500, 30000);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(cp_backoff_ceiling(&b), want[i]);
		/* The largest random sample gives exactly the ceiling. */
		assert_int_equal(cp_backoff_next(&b, fixed_rand, &max), want[i]);
	}
}

static void test_no_overflow_after_many_attempts(void **state)
{
	struct cp_backoff b;
	uint32_t max = UINT32_MAX;

	(void)state;
	cp_backoff_init(&b, 3000, UINT32_MAX);
	for (int i = 0; i < 1000; i++)
		cp_backoff_next(&b, fixed_rand, &max);
	assert_int_equal(cp_backoff_ceiling(&b), UINT32_MAX);
}

static void test_zero_sample_gives_zero_wait(void **state)
{
	struct cp_backoff b;
	uint32_t zero = 0;

	(void)state;
	cp_backoff_init(&b, 1000, 60000);
	for (int i = 0; i < 10; i++)
		assert_int_equal(cp_backoff_next(&b, fixed_rand, &zero), 0);
}

static void test_reset_starts_again(void **state)
{
	struct cp_backoff b;
	uint32_t max = UINT32_MAX;

	(void)state;
	cp_backoff_init(&b, 100, 10000);
	for (int i = 0; i < 5; i++)
		cp_backoff_next(&b, fixed_rand, &max);
	assert_int_equal(cp_backoff_ceiling(&b), 3200);
	cp_backoff_reset(&b);
	assert_int_equal(cp_backoff_ceiling(&b), 100);
}

static void test_bad_parameters_are_made_sane(void **state)
{
	struct cp_backoff b;

	(void)state;
	cp_backoff_init(&b, 0, 0);
	assert_int_equal(cp_backoff_ceiling(&b), 1);
	cp_backoff_init(&b, 5000, 10);
	assert_int_equal(cp_backoff_ceiling(&b), 5000);
}

/* Full jitter: samples spread over [0, ceiling], mean near ceiling / 2. */
static void test_jitter_is_spread_over_the_whole_range(void **state)
{
	enum { N = 20000, BUCKETS = 10 };
	unsigned int hist[BUCKETS] = { 0 };
	struct cp_backoff b;
	double sum = 0;

	(void)state;
	for (int i = 0; i < N; i++) {
		uint32_t w;

		cp_backoff_init(&b, 10000, 10000);
		w = cp_backoff_next(&b, cp_rand, NULL);
		assert_true(w <= 10000);
		sum += w;
		hist[w * BUCKETS / 10001]++;
	}
	assert_true(sum / N > 4700 && sum / N < 5300);
	for (int i = 0; i < BUCKETS; i++)
		assert_true(hist[i] > N / BUCKETS * 8 / 10 && hist[i] < N / BUCKETS * 12 / 10);
}

static void test_retry_after_is_honoured_within_a_limit(void **state)
{
	(void)state;
	assert_int_equal(cp_backoff_retry_after(100, 5, 60000), 5000);
	assert_int_equal(cp_backoff_retry_after(9000, 5, 60000), 9000);
	assert_int_equal(cp_backoff_retry_after(100, 86400, 60000), 60000);
	assert_int_equal(cp_backoff_retry_after(100, 0, 60000), 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ceiling_doubles_then_caps),
		cmocka_unit_test(test_no_overflow_after_many_attempts),
		cmocka_unit_test(test_zero_sample_gives_zero_wait),
		cmocka_unit_test(test_reset_starts_again),
		cmocka_unit_test(test_bad_parameters_are_made_sane),
		cmocka_unit_test(test_jitter_is_spread_over_the_whole_range),
		cmocka_unit_test(test_retry_after_is_honoured_within_a_limit),
	};
	return cmocka_run_group_tests_name("backoff", tests, NULL, NULL);
}
