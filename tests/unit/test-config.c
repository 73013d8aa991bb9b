// SPDX-License-Identifier: GPL-2.0
/* Unit tests of cloudprintd's configuration parser. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

static int parse(const char *json, struct cp_config *c, char *err, size_t n)
{
	cp_config_defaults(c);
	err[0] = '\0';
	return cp_config_parse(json, strlen(json), c, err, n);
}

static void test_minimal_config_gets_the_defaults(void **state)
{
	struct cp_config c;
	char err[256];

	(void)state;
	assert_int_equal(parse("{\"server\":\"https://127.0.0.1:8443/\"}", &c, err, sizeof(err)), 0);
	assert_string_equal(c.server, "https://127.0.0.1:8443");
	assert_int_equal(c.mode, CP_MODE_POLL);
	assert_int_equal(c.policy, CP_POLICY_DELETE);
	assert_int_equal(c.poll_interval_ms, 10000);
	assert_int_equal(c.n_patterns, 1);
	assert_int_equal(c.patterns[0].status, 404);
	assert_string_equal(c.patterns[0].field, "error.code");
	assert_string_equal(c.patterns[0].value, "printer_deleted");
	assert_int_equal(c.confirm_count, 1);
	assert_int_equal(c.heartbeat_interval_ms, 60000);
	assert_int_equal(c.stream_timeout_ms, 40000);
	assert_int_equal(c.stream_grace_ms, 5000);
}

static void test_every_key(void **state)
{
	static const char json[] =
		"{\"server\":\"https://cloud.example\",\"ca_file\":\"/etc/ca.pem\","
		"\"state_dir\":\"/tmp/st\",\"control_socket\":\"/run/x.sock\","
		"\"control_group\":\"lp\",\"admin_group\":\"lpadmin\","
		"\"printer_name\":\"Lobby\",\"engine\":2,\"mode\":\"push\",\"policy\":\"ask\","
		"\"poll_interval\":1.5,\"poll_jitter\":20,\"request_timeout\":5,"
		"\"backoff_base\":0.5,\"backoff_cap\":60,\"confirm_count\":3,"
		"\"heartbeat_interval\":30,\"stream_timeout\":7.5,\"stream_grace\":0,"
		"\"log_level\":\"debug\",\"patterns\":[{\"status\":410},"
		"{\"status\":403,\"json_field\":\"err.reason\",\"json_value\":\"revoked\"}]}";
	struct cp_config c;
	char err[256];

	(void)state;
	assert_int_equal(parse(json, &c, err, sizeof(err)), 0);
	assert_string_equal(c.ca_file, "/etc/ca.pem");
	assert_string_equal(c.control_group, "lp");
	assert_string_equal(c.admin_group, "lpadmin");
	assert_string_equal(c.state_dir, "/tmp/st");
	assert_string_equal(c.control_socket, "/run/x.sock");
	assert_string_equal(c.printer_name, "Lobby");
	assert_int_equal(c.engine, 2);
	assert_int_equal(c.mode, CP_MODE_PUSH);
	assert_int_equal(c.policy, CP_POLICY_ASK);
	assert_int_equal(c.poll_interval_ms, 1500);
	assert_int_equal(c.poll_jitter_pct, 20);
	assert_int_equal(c.request_timeout_ms, 5000);
	assert_int_equal(c.backoff_base_ms, 500);
	assert_int_equal(c.backoff_cap_ms, 60000);
	assert_int_equal(c.confirm_count, 3);
	assert_int_equal(c.heartbeat_interval_ms, 30000);
	assert_int_equal(c.stream_timeout_ms, 7500);
	assert_int_equal(c.stream_grace_ms, 0);
	assert_int_equal(c.log_level, CP_LOG_DEBUG);
	assert_int_equal(c.n_patterns, 2);
	assert_int_equal(c.patterns[0].status, 410);
	assert_string_equal(c.patterns[0].field, "");
	assert_string_equal(c.patterns[1].field, "err.reason");
	assert_string_equal(c.patterns[1].value, "revoked");
}

struct bad {
	const char *json;
	const char *must_say;	/* the error names this */
};

static const struct bad bads[] = {
	{ "", "not valid JSON" },
	{ "{\"server\":", "not valid JSON" },
	{ "[]", "must be a JSON object" },
	{ "{}", "'server': is required" },
	{ "{\"server\":\"http://plain\"}", "'server': must be an https:// URL" },
	{ "{\"server\":\"https://\"}", "'server': must be an https:// URL" },
	{ "{\"server\":42}", "'server': must be a string" },
	{ "{\"server\":\"https://a\",\"sever\":1}", "'sever': unknown key" },
	{ "{\"server\":\"https://a\",\"server\":\"https://b\"}", "'server': given twice" },
	{ "{\"server\":\"https://a\",\"poll_interval\":0}", "'poll_interval': must be between" },
	{ "{\"server\":\"https://a\",\"poll_interval\":\"10\"}", "'poll_interval': must be a number" },
	{ "{\"server\":\"https://a\",\"poll_interval\":1e999}", "'poll_interval'" },
	{ "{\"server\":\"https://a\",\"poll_jitter\":51}", "'poll_jitter': must be between 0 and 50" },
	{ "{\"server\":\"https://a\",\"poll_jitter\":1.5}", "'poll_jitter': must be a whole number" },
	{ "{\"server\":\"https://a\",\"engine\":16}", "'engine': must be between 0 and 15" },
	{ "{\"server\":\"https://a\",\"engine\":-1}", "'engine'" },
	{ "{\"server\":\"https://a\",\"mode\":\"pull\"}", "'mode': must be one of poll, push" },
	{ "{\"server\":\"https://a\",\"policy\":\"nuke\"}",
	  "'policy': must be one of delete, suspend, keep, ask" },
	{ "{\"server\":\"https://a\",\"policy\":null}", "'policy'" },
	{ "{\"server\":\"https://a\",\"log_level\":3}", "'log_level'" },
	{ "{\"server\":\"https://a\",\"state_dir\":\"relative\"}", "'state_dir': must be an absolute path" },
	{ "{\"server\":\"https://a\",\"confirm_count\":0}", "'confirm_count'" },
	{ "{\"server\":\"https://a\",\"heartbeat_interval\":0.5}",
	  "'heartbeat_interval': must be between 1 and 86400 seconds" },
	{ "{\"server\":\"https://a\",\"stream_timeout\":\"40\"}",
	  "'stream_timeout': must be a number of seconds" },
	{ "{\"server\":\"https://a\",\"stream_grace\":-1}",
	  "'stream_grace': must be between 0 and 600 seconds" },
	{ "{\"server\":\"https://a\",\"backoff_base\":10,\"backoff_cap\":5}",
	  "'backoff_cap': must not be less than backoff_base" },
	{ "{\"server\":\"https://a\",\"patterns\":{}}", "'patterns': must be an array" },
	{ "{\"server\":\"https://a\",\"patterns\":[]}", "'patterns': must have 1 to 16" },
	{ "{\"server\":\"https://a\",\"patterns\":[1]}", "'patterns[0]': must be an object" },
	{ "{\"server\":\"https://a\",\"patterns\":[{}]}", "'patterns[0]': needs a status" },
	{ "{\"server\":\"https://a\",\"patterns\":[{\"status\":99}]}", "'patterns[0]': must be between 100" },
	{ "{\"server\":\"https://a\",\"patterns\":[{\"status\":404,\"json_value\":\"x\"}]}",
	  "json_value needs json_field" },
	{ "{\"server\":\"https://a\",\"patterns\":[{\"status\":404,\"json_field\":\"a\"}]}",
	  "json_field needs json_value" },
	{ "{\"server\":\"https://a\",\"patterns\":[{\"status\":404,\"json_field\":\"a..b\",\"json_value\":\"x\"}]}",
	  "dotted path" },
	{ "{\"server\":\"https://a\",\"patterns\":[{\"status\":404,\"colour\":\"red\"}]}",
	  "unknown key 'colour'" },
	{ "{\"server\":\"https://a\",\"printer_name\":\"two\\nlines\"}", "'printer_name': must be one line" },
	{ "{\"server\":\"https://a\",\"admin_group\":\"\"}", "'admin_group': must name a group" },
	{ "{\"server\":\"https://a\",\"control_group\":7}", "'control_group': must be a string" },
};

static void test_bad_configs_name_the_key(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		struct cp_config c;
		char err[256];
		int r = parse(bads[i].json, &c, err, sizeof(err));

		if (r != -EINVAL || !strstr(err, bads[i].must_say))
			fail_msg("config %s: got %d \"%s\", want an error saying \"%s\"",
				 bads[i].json, r, err, bads[i].must_say);
	}
}

/* Patterns that would read success, token expiry or transient faults as deletions. */
static void test_dangerous_patterns_are_refused(void **state)
{
	static const struct {
		int status;
		const char *why;
	} refused[] = {
		{ 100, "informational" }, { 200, "success" }, { 204, "success" },
		{ 299, "success" }, { 302, "redirect" }, { 401, "token" }, { 429, "rate limit" },
		{ 500, "server error" }, { 503, "server error" }, { 599, "server error" },
	};
	static const int allowed[] = { 400, 403, 404, 409, 410, 451, 499 };
	struct cp_config c;
	char json[512], err[256], want[64];

	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		/* With or without a body condition: the status alone decides. */
		for (int body = 0; body < 2; body++) {
			snprintf(json, sizeof(json),
				 "{\"server\":\"https://a\",\"patterns\":[{\"status\":404,"
				 "\"json_field\":\"e\",\"json_value\":\"x\"},{\"status\":%d%s}]}",
				 refused[i].status,
				 body ? ",\"json_field\":\"error.code\",\"json_value\":\"gone\"" : "");
			snprintf(want, sizeof(want), "'patterns[1]': status %d can never mean deleted",
				 refused[i].status);
			if (parse(json, &c, err, sizeof(err)) != -EINVAL || !strstr(err, want) ||
			    !strstr(err, refused[i].why))
				fail_msg("%s: got \"%s\", want \"%s\" and \"%s\"", json, err, want,
					 refused[i].why);
		}
	}
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		snprintf(json, sizeof(json), "{\"server\":\"https://a\",\"patterns\":[{\"status\":%d,"
			 "\"json_field\":\"error.code\",\"json_value\":\"gone\"}]}", allowed[i]);
		if (parse(json, &c, err, sizeof(err)))
			fail_msg("%s refused: %s", json, err);
		assert_string_equal(c.warnings, "");
	}
}

static void test_status_only_patterns_warn(void **state)
{
	struct cp_config c;
	char err[256];

	(void)state;
	assert_int_equal(parse("{\"server\":\"https://a\"}", &c, err, sizeof(err)), 0);
	assert_string_equal(c.warnings, "");
	assert_int_equal(parse("{\"server\":\"https://a\",\"patterns\":[{\"status\":410},"
			       "{\"status\":404,\"json_field\":\"error.code\",\"json_value\":\"d\"},"
			       "{\"status\":404}]}", &c, err, sizeof(err)), 0);
	assert_int_equal(c.n_patterns, 3);
	assert_non_null(strstr(c.warnings, "'patterns[0]': status 410 alone matches any body"));
	assert_non_null(strstr(c.warnings, "\nconfig key 'patterns[2]': status 404 alone"));
	assert_null(strstr(c.warnings, "patterns[1]"));
}

#define PIN_A "sha256//YhKJKSzoTt2b5FP18fvpHo7fJYqQCjAa3HWY3tvRMwE="
#define PIN_B "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

static void test_public_key_pins(void **state)
{
	static const char *const bad[] = {
		"YhKJKSzoTt2b5FP18fvpHo7fJYqQCjAa3HWY3tvRMwE=",		/* no sha256// */
		"sha1//YhKJKSzoTt2b5FP18fvpHo7fJYqQCjAa3HWY3tvRMwE=",
		"sha256//YhKJKSzoTt2b5FP18fvpHo7fJYqQCjAa3HWY3tvRMw=",	/* 31 bytes */
		"sha256//YhKJKSzoTt2b5FP18fvpHo7fJYqQCjAa3HWY3tvRMwEA",	/* no padding */
		"sha256//YhKJKSzoTt2b5FP18fvpHo7fJYqQCjAa3HWY3tvRM!E=",
		PIN_A ";",
		PIN_A ";;" PIN_B,
		PIN_A " " PIN_B,
		"/etc/server-key.pem",
	};
	struct cp_config c;
	char json[512], err[256];

	(void)state;
	assert_int_equal(parse("{\"server\":\"https://a\",\"pinned_public_key\":\"" PIN_A "\"}",
			       &c, err, sizeof(err)), 0);
	assert_string_equal(c.pinned_public_key, PIN_A);
	assert_int_equal(parse("{\"server\":\"https://a\",\"pinned_public_key\":\""
			       PIN_A ";" PIN_B "\"}", &c, err, sizeof(err)), 0);
	assert_string_equal(c.pinned_public_key, PIN_A ";" PIN_B);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(json, sizeof(json), "{\"server\":\"https://a\",\"pinned_public_key\":\"%s\"}",
			 bad[i]);
		if (parse(json, &c, err, sizeof(err)) != -EINVAL ||
		    !strstr(err, "'pinned_public_key': must be sha256//BASE64"))
			fail_msg("%s: got \"%s\"", bad[i], err);
	}
}

static void test_oversized_values_are_refused(void **state)
{
	struct cp_config c;
	char json[2048], err[256];

	(void)state;
	snprintf(json, sizeof(json), "{\"server\":\"https://a\",\"printer_name\":\"%0100d\"}", 0);
	assert_int_equal(parse(json, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'printer_name': longer than 63"));
	snprintf(json, sizeof(json), "{\"server\":\"https://a\",\"ca_file\":\"/%0300d\"}", 0);
	assert_int_equal(parse(json, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'ca_file': longer than"));
}

static void test_load_from_file(void **state)
{
	char path[] = "/tmp/cp-config-XXXXXX";
	struct cp_config c;
	char err[256];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_true(write(fd, "{\"server\":\"https://x\"}", 22) == 22);
	close(fd);
	assert_int_equal(cp_config_load(path, &c, err, sizeof(err)), 0);
	assert_string_equal(c.server, "https://x");
	unlink(path);
	assert_int_equal(cp_config_load(path, &c, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
	assert_int_equal(cp_config_load("/tmp", &c, err, sizeof(err)), -EINVAL);
}

/* Write @text to a temporary file and load it; the error in @err. */
static int load_text(const char *text, char *path, struct cp_config *c, char *err, size_t n)
{
	int fd, r;

	strcpy(path, "/tmp/cp-config-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_true(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	r = cp_config_load(path, c, err, n);
	unlink(path);
	return r;
}

static void test_load_errors_name_file_line_and_column(void **state)
{
	static const struct {
		const char *text;
		const char *where;	/* after the path */
	} cases[] = {
		{ "{\n  \"server\": \"https://a\",\n  \"poll_interval\": 0\n}\n",
		  ":3:3: config key 'poll_interval': must be between" },
		{ "{\"server\": \"https://a\",\n\t\"colour\": \"red\"}", ":2:2: config key 'colour'" },
		{ "{\"server\": \"https://a\", \"patterns\": [\n {\"status\": 404, \"json_field\": \"a,]\","
		  " \"json_value\": \"}\"},\n   {\"status\": 503}]}",
		  ":3:4: config key 'patterns[1]': status 503 can never mean deleted" },
		{ "{\"x\": [1, [2, {\"y\": \"\\\"\"}]],\n \"server\": \"https://a\"}", ":1:2: config key 'x'" },
		{ "{\n  \"server\": \"https://a\",\n  \"poll_interval\": 1,,\n}", ":3:23: not valid JSON" },
		{ "{\"poll_interval\": 1}", ": config key 'server': is required" },
	};
	struct cp_config c;
	char path[64], err[512], want[600];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(load_text(cases[i].text, path, &c, err, sizeof(err)), -EINVAL);
		snprintf(want, sizeof(want), "%s%s", path, cases[i].where);
		if (strncmp(err, want, strlen(want)))
			fail_msg("case %zu: got \"%s\", want \"%s...\"", i, err, want);
	}
}

static void test_server_urls_checked_by_curl(void **state)
{
	static const struct {
		const char *url;
		const char *must_say;	/* NULL: valid */
	} cases[] = {
		{ "https://cloud.example", NULL },
		{ "https://127.0.0.1:8443/", NULL },
		{ "https://[::1]:8443", NULL },
		{ "https://cloud.example/base", NULL },
		{ "https://a:99999", "not a usable URL" },
		{ "https://a b", "not a usable URL" },
		{ "https://[::1", "not a usable URL" },
		{ "https://user@a", "without a user name" },
		{ "https://a/x?y=1", "without a query" },
		{ "https://a/#top", "without a fragment" },
		{ "http://a", "must be an https:// URL" },
	};
	struct cp_config c;
	char json[256], err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r;

		snprintf(json, sizeof(json), "{\"server\":\"%s\"}", cases[i].url);
		r = parse(json, &c, err, sizeof(err));
		if (cases[i].must_say ? r != -EINVAL || !strstr(err, cases[i].must_say) ||
		    !strstr(err, "'server'") : r != 0)
			fail_msg("%s: got %d \"%s\", want %s", cases[i].url, r, err,
				 cases[i].must_say ? cases[i].must_say : "valid");
	}
}

static void test_paths_checked(void **state)
{
	struct cp_config c;
	char dir[] = "/tmp/cp-paths-XXXXXX", path[300], err[256];

	(void)state;
	assert_non_null(mkdtemp(dir));
	cp_config_defaults(&c);
	snprintf(c.state_dir, sizeof(c.state_dir), "%s/state", dir);	/* creatable */
	snprintf(c.control_socket, sizeof(c.control_socket), "%s/s.sock", dir);
	assert_int_equal(cp_config_check_paths(&c, err, sizeof(err)), 0);
	snprintf(c.ca_file, sizeof(c.ca_file), "%s/ca.pem", dir);
	assert_int_equal(cp_config_check_paths(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'ca_file'"));
	assert_non_null(strstr(err, "No such file"));
	snprintf(c.ca_file, sizeof(c.ca_file), "%s", dir);
	assert_int_equal(cp_config_check_paths(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	c.ca_file[0] = '\0';
	snprintf(c.state_dir, sizeof(c.state_dir), "%s/no/state", dir);
	assert_int_equal(cp_config_check_paths(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'state_dir'"));
	snprintf(c.state_dir, sizeof(c.state_dir), "%s", dir);
	snprintf(c.control_socket, sizeof(c.control_socket), "%s/no/s.sock", dir);
	assert_int_equal(cp_config_check_paths(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'control_socket'"));
	snprintf(path, sizeof(path), "%s", dir);
	assert_int_equal(rmdir(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_config_gets_the_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_bad_configs_name_the_key),
		cmocka_unit_test(test_dangerous_patterns_are_refused),
		cmocka_unit_test(test_status_only_patterns_warn),
		cmocka_unit_test(test_public_key_pins),
		cmocka_unit_test(test_oversized_values_are_refused),
		cmocka_unit_test(test_load_from_file),
		cmocka_unit_test(test_load_errors_name_file_line_and_column),
		cmocka_unit_test(test_server_urls_checked_by_curl),
		cmocka_unit_test(test_paths_checked),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
