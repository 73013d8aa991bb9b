// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the cloud answers' parsers: good answers, malformed JSON,
 * wrong types, missing fields, oversized strings, huge or fractional job
 * sizes, and answers that are not JSON at all.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cloud.h"

#define S(x) (x), strlen(x)
#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ABCDEF"

static char *long_string(size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, 'x', n);
	s[n] = '\0';
	return s;
}

static void test_register(void **state)
{
	static const char *const bad[] = {
		"",
		"not json",
		"<html>404</html>",
		"[]",
		"{\"printer_id\":\"p\",\"registration_token\":\"t\",\"claim_code\":\"c\"}",
		"{\"printer_id\":1,\"registration_token\":\"t\",\"claim_code\":\"c\",\"claim_url\":\"u\"}",
		"{\"printer_id\":\"\",\"registration_token\":\"t\",\"claim_code\":\"c\",\"claim_url\":\"u\"}",
		"{\"printer_id\":\"p\",\"registration_token\":null,\"claim_code\":\"c\",\"claim_url\":\"u\"}",
		"{\"printer_id\":\"p\",\"registration_token\":\"t\",\"claim_code\":[],\"claim_url\":\"u\"}",
		"{\"printer_id\":\"p\",\"registration_token\":\"t\",\"claim_code\":\"c\",\"claim_url\":",
	};
	struct cp_cloud_reg r;
	char buf[2048];
	char *big;

	(void)state;
	assert_int_equal(cp_cloud_parse_register(
		S("{\"printer_id\":\"p_1\",\"registration_token\":\"rt\",\"claim_code\":\"ABCD-1234\","
		  "\"claim_url\":\"https://x/claim\",\"expires_in\":600}"), &r), 0);
	assert_string_equal(r.printer_id, "p_1");
	assert_string_equal(r.token, "rt");
	assert_string_equal(r.claim_code, "ABCD-1234");
	assert_string_equal(r.claim_url, "https://x/claim");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cp_cloud_parse_register(S(bad[i]), &r), -EINVAL);
	assert_int_equal(cp_cloud_parse_register(NULL, 0, &r), -EINVAL);
	/* A claim code longer than the buffer is refused, not truncated. */
	big = long_string(sizeof(r.claim_code));
	snprintf(buf, sizeof(buf), "{\"printer_id\":\"p\",\"registration_token\":\"t\","
		 "\"claim_code\":\"%s\",\"claim_url\":\"u\"}", big);
	assert_int_equal(cp_cloud_parse_register(S(buf), &r), -EINVAL);
	free(big);
	/* Only the given length is parsed. */
	assert_int_equal(cp_cloud_parse_register("{\"printer_id\":\"p\"}garbage", 5, &r), -EINVAL);
}

static void test_claim(void **state)
{
	char secret[32], token[32];

	(void)state;
	assert_int_equal(cp_cloud_parse_claim(S("{\"status\":\"pending\"}"), secret,
					      sizeof(secret), token, sizeof(token)), 0);
	assert_int_equal(cp_cloud_parse_claim(
		S("{\"status\":\"claimed\",\"printer_secret\":\"s3\",\"access_token\":\"a1\","
		  "\"expires_in\":60}"), secret, sizeof(secret), token, sizeof(token)), 1);
	assert_string_equal(secret, "s3");
	assert_string_equal(token, "a1");
	/* Claimed without credentials, wrong types, unknown status, too long. */
	assert_int_equal(cp_cloud_parse_claim(S("{\"status\":\"claimed\"}"), secret,
					      sizeof(secret), token, sizeof(token)), -EINVAL);
	assert_int_equal(cp_cloud_parse_claim(
		S("{\"status\":\"claimed\",\"printer_secret\":5,\"access_token\":\"a\"}"),
		secret, sizeof(secret), token, sizeof(token)), -EINVAL);
	assert_int_equal(cp_cloud_parse_claim(S("{\"status\":\"maybe\"}"), secret,
					      sizeof(secret), token, sizeof(token)), -EINVAL);
	assert_int_equal(cp_cloud_parse_claim(S("{\"status\":true}"), secret, sizeof(secret),
					      token, sizeof(token)), -EINVAL);
	assert_int_equal(cp_cloud_parse_claim(S("\"pending\""), secret, sizeof(secret), token,
					      sizeof(token)), -EINVAL);
	assert_int_equal(cp_cloud_parse_claim(
		S("{\"status\":\"claimed\",\"printer_secret\":\"s\","
		  "\"access_token\":\"0123456789012345678901234567890123456789\"}"),
		secret, sizeof(secret), token, sizeof(token)), -EINVAL);
}

static void test_token(void **state)
{
	char token[16];

	(void)state;
	assert_int_equal(cp_cloud_parse_token(S("{\"access_token\":\"t2\",\"expires_in\":5}"),
					      token, sizeof(token)), 0);
	assert_string_equal(token, "t2");
	assert_int_equal(cp_cloud_parse_token(S("{\"access_token\":\"\"}"), token,
					      sizeof(token)), -EINVAL);
	assert_int_equal(cp_cloud_parse_token(S("{\"access_token\":{}}"), token,
					      sizeof(token)), -EINVAL);
	assert_int_equal(cp_cloud_parse_token(S("{\"access_token\":\"0123456789abcdef\"}"),
					      token, sizeof(token)), -EINVAL);
	assert_int_equal(cp_cloud_parse_token(S("{}"), token, sizeof(token)), -EINVAL);
	assert_int_equal(cp_cloud_parse_token(S("nul\0l"), token, sizeof(token)), -EINVAL);
}

static void test_jobs(void **state)
{
	static struct cp_cloud_job jobs[CP_CLOUD_JOBS_MAX];
	size_t n, skipped;

	(void)state;
	assert_int_equal(cp_cloud_parse_jobs(S("{\"jobs\":[],\"poll_interval\":1}"), 1000, jobs,
					     CP_CLOUD_JOBS_MAX, &n, &skipped, NULL), 0);
	assert_int_equal(n, 0);
	assert_int_equal(cp_cloud_parse_jobs(S(
		"{\"jobs\":[{\"id\":\"j1\",\"name\":\"a.pdf\",\"size\":10,\"sha256\":\"" SHA "\","
		"\"data_url\":\"https://h/v1/jobs/j1/data\"},"
		"{\"id\":\"j2\",\"size\":10,\"sha256\":\"" SHA "\",\"data_url\":\"u\"},"
		"{\"id\":\"j3\",\"size\":1e300,\"sha256\":\"" SHA "\",\"data_url\":\"u\"},"
		"{\"id\":\"j4\",\"size\":1001,\"sha256\":\"" SHA "\",\"data_url\":\"u\"},"
		"{\"id\":\"j5\",\"size\":1.5,\"sha256\":\"" SHA "\",\"data_url\":\"u\"},"
		"{\"id\":\"j6\",\"size\":-1,\"sha256\":\"" SHA "\",\"data_url\":\"u\"},"
		"{\"id\":\"j7\",\"size\":\"10\",\"sha256\":\"" SHA "\",\"data_url\":\"u\"},"
		"{\"id\":\"j8\",\"size\":10,\"sha256\":\"abc\",\"data_url\":\"u\"},"
		"{\"id\":\"j9\",\"size\":10,\"sha256\":\"" SHA "\",\"data_url\":7},"
		"{\"size\":10},"
		"{\"id\":42},"
		"\"j10\","
		"{\"id\":\"j11\",\"size\":1000,\"sha256\":\"" SHA "\",\"data_url\":\"u\"}"
		"]}"), 1000, jobs, CP_CLOUD_JOBS_MAX, &n, &skipped, NULL), 0);
	assert_int_equal(n, 10);
	assert_int_equal(skipped, 3);
	assert_string_equal(jobs[0].id, "j1");
	assert_string_equal(jobs[0].name, "a.pdf");
	assert_int_equal(jobs[0].size, 10);
	assert_string_equal(jobs[0].data_url, "https://h/v1/jobs/j1/data");
	assert_null(jobs[0].refused);
	assert_string_equal(jobs[1].name, "");
	assert_null(jobs[1].refused);
	for (int i = 2; i <= 8; i++) {
		assert_non_null(jobs[i].refused);
		assert_int_equal(jobs[i].size, 0);
	}
	assert_string_equal(jobs[2].refused, "size refused by the printer");
	assert_string_equal(jobs[3].refused, "size refused by the printer");
	assert_string_equal(jobs[9].id, "j11");
	assert_null(jobs[9].refused);
	assert_int_equal(jobs[9].size, 1000);

	/* Not a jobs list at all. */
	assert_int_equal(cp_cloud_parse_jobs(S("{\"jobs\":{}}"), 1000, jobs, CP_CLOUD_JOBS_MAX,
					     &n, &skipped, NULL), -EINVAL);
	assert_int_equal(cp_cloud_parse_jobs(S("{\"job\":[]}"), 1000, jobs, CP_CLOUD_JOBS_MAX,
					     &n, &skipped, NULL), -EINVAL);
	assert_int_equal(cp_cloud_parse_jobs(S("<html><body>Sign in</body></html>"), 1000, jobs,
					     CP_CLOUD_JOBS_MAX, &n, &skipped, NULL), -EINVAL);
	assert_int_equal(cp_cloud_parse_jobs(S("{\"jobs\":[{\"id\":\"j1\""), 1000, jobs,
					     CP_CLOUD_JOBS_MAX, &n, &skipped, NULL), -EINVAL);
}

static uint32_t advice(const char *body, size_t len)
{
	static struct cp_cloud_job jobs[CP_CLOUD_JOBS_MAX];
	size_t n, skipped;
	uint32_t ms = 12345;

	assert_int_equal(cp_cloud_parse_jobs(body, len, 1000, jobs, CP_CLOUD_JOBS_MAX, &n,
					     &skipped, &ms), 0);
	return ms;
}

/* The poll_interval a jobs answer advises: seconds within 1..86400, or nothing. */
static void test_jobs_poll_advice(void **state)
{
	static struct cp_cloud_job jobs[CP_CLOUD_JOBS_MAX];
	size_t n, skipped;
	uint32_t ms = 12345;

	(void)state;
	assert_int_equal(advice(S("{\"jobs\":[],\"poll_interval\":10}")), 10000);
	assert_int_equal(advice(S("{\"jobs\":[],\"poll_interval\":1}")), 1000);
	assert_int_equal(advice(S("{\"jobs\":[],\"poll_interval\":2.5}")), 2500);
	assert_int_equal(advice(S("{\"jobs\":[],\"poll_interval\":86400}")), 86400000);
	assert_int_equal(advice(S("{\"jobs\":[]}")), 0);
	/* Out of range, wrong type: not usable, said so. */
	assert_int_equal(advice(S("{\"jobs\":[],\"poll_interval\":0.5}")), CP_CLOUD_POLL_ADVICE_BAD);
	assert_int_equal(advice(S("{\"jobs\":[],\"poll_interval\":0}")), CP_CLOUD_POLL_ADVICE_BAD);
	assert_int_equal(advice(S("{\"jobs\":[],\"poll_interval\":-10}")), CP_CLOUD_POLL_ADVICE_BAD);
	assert_int_equal(advice(S("{\"jobs\":[],\"poll_interval\":1e9}")), CP_CLOUD_POLL_ADVICE_BAD);
	assert_int_equal(advice(S("{\"jobs\":[],\"poll_interval\":\"10\"}")),
			 CP_CLOUD_POLL_ADVICE_BAD);
	assert_int_equal(advice(S("{\"jobs\":[],\"poll_interval\":null}")),
			 CP_CLOUD_POLL_ADVICE_BAD);
	/* No jobs list: no advice taken from it either. */
	assert_int_equal(cp_cloud_parse_jobs(S("{\"poll_interval\":10}"), 1000, jobs,
					     CP_CLOUD_JOBS_MAX, &n, &skipped, &ms), -EINVAL);
	assert_int_equal(ms, 0);
}

static void test_jobs_many_and_long(void **state)
{
	static struct cp_cloud_job jobs[CP_CLOUD_JOBS_MAX];
	size_t n, skipped, len = 0, cap = 1 << 20;
	char *body = malloc(cap), *big = long_string(5000);

	(void)state;
	assert_non_null(body);
	/* More entries than taken per answer: the first ones only. */
	len += snprintf(body + len, cap - len, "{\"jobs\":[");
	for (int i = 0; i < 100; i++)
		len += snprintf(body + len, cap - len, "%s{\"id\":\"j%d\",\"size\":1,"
				"\"sha256\":\"" SHA "\",\"data_url\":\"u\"}", i ? "," : "", i);
	len += snprintf(body + len, cap - len, "]}");
	assert_int_equal(cp_cloud_parse_jobs(body, len, 10, jobs, CP_CLOUD_JOBS_MAX, &n,
					     &skipped, NULL), 0);
	assert_int_equal(n, CP_CLOUD_JOBS_MAX);
	assert_string_equal(jobs[CP_CLOUD_JOBS_MAX - 1].id, "j31");

	/* An id longer than the buffer: skipped; a long name: truncated; a long URL: refused. */
	len = snprintf(body, cap, "{\"jobs\":[{\"id\":\"%s\",\"size\":1,\"sha256\":\"" SHA "\","
		       "\"data_url\":\"u\"},{\"id\":\"a\",\"name\":\"%s\",\"size\":1,"
		       "\"sha256\":\"" SHA "\",\"data_url\":\"%s\"}]}", big, big, big);
	assert_int_equal(cp_cloud_parse_jobs(body, len, 10, jobs, CP_CLOUD_JOBS_MAX, &n,
					     &skipped, NULL), 0);
	assert_int_equal(n, 1);
	assert_int_equal(skipped, 1);
	assert_int_equal(strlen(jobs[0].name), sizeof(jobs[0].name) - 1);
	assert_string_equal(jobs[0].refused, "bad data_url");

	/* Deep nesting does not crash the parser. */
	len = 0;
	for (int i = 0; i < 10000; i++)
		body[len++] = '[';
	body[len] = '\0';
	assert_int_equal(cp_cloud_parse_jobs(body, len, 10, jobs, CP_CLOUD_JOBS_MAX, &n,
					     &skipped, NULL), -EINVAL);
	free(big);
	free(body);
}

/* A push-mode job event carries one job object. */
static void test_job_event(void **state)
{
	static const char *const bad[] = {
		"", "not json", "[]", "null", "\"job\"", "{}", "{\"id\":7}", "{\"id\":\"\"}",
		"{\"id\":\"j\"",
	};
	struct cp_cloud_job j;

	(void)state;
	assert_int_equal(cp_cloud_parse_job(S("{\"id\":\"j1\",\"name\":\"memo.txt\",\"size\":4,"
					      "\"sha256\":\"" SHA "\",\"data_url\":\"https://c/d\"}"),
					    1024, &j), 0);
	assert_string_equal(j.id, "j1");
	assert_string_equal(j.name, "memo.txt");
	assert_int_equal(j.size, 4);
	assert_string_equal(j.data_url, "https://c/d");
	assert_null(j.refused);
	/* Of the right shape but not printable: refused with a reason. */
	assert_int_equal(cp_cloud_parse_job(S("{\"id\":\"j2\",\"size\":4096,\"sha256\":\"" SHA
					      "\",\"data_url\":\"https://c/d\"}"), 1024, &j), 0);
	assert_string_equal(j.refused, "size refused by the printer");
	assert_int_equal(cp_cloud_parse_job(S("{\"id\":\"j3\",\"size\":4,\"sha256\":\"00\","
					      "\"data_url\":\"https://c/d\"}"), 1024, &j), 0);
	assert_string_equal(j.refused, "bad sha256");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cp_cloud_parse_job(S(bad[i]), 1024, &j), -EINVAL);
	assert_int_equal(cp_cloud_parse_job(NULL, 0, 1024, &j), -EINVAL);
}

static void test_heartbeat(void **state)
{
	static const char *const bad[] = {
		"", "{}", "[]", "{\"next_heartbeat\":0}", "{\"next_heartbeat\":-5}",
		"{\"next_heartbeat\":1.5}", "{\"next_heartbeat\":86401}",
		"{\"next_heartbeat\":\"60\"}", "{\"next_heartbeat\":null}", "<html></html>",
	};
	uint32_t n = 0;

	(void)state;
	assert_int_equal(cp_cloud_parse_heartbeat(S("{\"next_heartbeat\":60}"), &n), 0);
	assert_int_equal(n, 60);
	assert_int_equal(cp_cloud_parse_heartbeat(S("{\"next_heartbeat\":1,\"x\":[]}"), &n), 0);
	assert_int_equal(n, 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = 99;
		assert_int_equal(cp_cloud_parse_heartbeat(S(bad[i]), &n), -EINVAL);
		assert_int_equal(n, 99);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register),
		cmocka_unit_test(test_claim),
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_jobs),
		cmocka_unit_test(test_jobs_poll_advice),
		cmocka_unit_test(test_jobs_many_and_long),
		cmocka_unit_test(test_job_event),
		cmocka_unit_test(test_heartbeat),
	};

	return cmocka_run_group_tests_name("cloud", tests, NULL, NULL);
}
