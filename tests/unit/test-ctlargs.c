// SPDX-License-Identifier: GPL-2.0
/* Unit tests of cloudprintctl's command line. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctlargs.h"

/* Split @cmdline on spaces into argv (argv[0] = "cloudprintctl"). */
static int parse(const char *cmdline, struct cp_ctl_args *a, char *err, size_t errlen)
{
	static char buf[256];
	char *argv[16] = { "cloudprintctl" };
	int argc = 1;

	snprintf(buf, sizeof(buf), "%s", cmdline);
	for (char *t = strtok(buf, " "); t && argc < 15; t = strtok(NULL, " "))
		argv[argc++] = t;
	err[0] = '\0';
	return cp_ctl_parse_args(argc, argv, a, err, errlen);
}

static const struct {
	const char *cmdline;
	const char *line;	/* sent to the daemon */
	const char *socket;
	bool json;
} goods[] = {
	{ "status", "status", NULL, false },
	{ "status --json", "status", NULL, true },
	{ "--json status", "status", NULL, true },
	{ "-s /tmp/x.sock status", "status", "/tmp/x.sock", false },
	{ "status -s /tmp/x.sock", "status", "/tmp/x.sock", false },
	{ "status --json -s /a", "status", "/a", true },
	{ "--socket=/b register", "register", "/b", false },
	{ "unregister", "unregister", NULL, false },
	{ "resume", "resume", NULL, false },
	{ "resolve keep", "resolve keep", NULL, false },
	{ "resolve delete -s /c", "resolve delete", "/c", false },
	{ "policy ask", "policy ask", NULL, false },
	{ "policy -s /d suspend", "policy suspend", "/d", false },
};

static void test_options_anywhere(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		struct cp_ctl_args a;
		char err[160];

		if (parse(goods[i].cmdline, &a, err, sizeof(err)))
			fail_msg("'%s' refused: %s", goods[i].cmdline, err);
		assert_int_equal(a.action, CP_CTL_RUN);
		assert_string_equal(a.line, goods[i].line);
		assert_int_equal(a.json, goods[i].json);
		if (goods[i].socket)
			assert_string_equal(a.socket, goods[i].socket);
		else
			assert_null(a.socket);
	}
}

static const struct {
	const char *cmdline;
	const char *must_say;
} bads[] = {
	{ "", "no command given" },
	{ "frobnicate", "unknown command 'frobnicate'" },
	{ "STATUS", "unknown command 'STATUS'" },
	{ "-x status", "unknown option '-x'" },
	{ "status -s", "option '-s' needs a socket path" },
	{ "status now", "'status' takes no argument, not 'now'" },
	{ "register --json", "--json goes with status only, not 'register'" },
	{ "policy", "'policy' needs one of delete, suspend, keep or ask" },
	{ "policy nuke", "'policy' needs one of delete, suspend, keep or ask" },
	{ "resolve ask", "'resolve' needs one of delete, suspend or keep" },
	{ "resolve keep now", "too many arguments: 'now'" },
	{ "policy keep a b c", "too many arguments: 'a'" },
};

static void test_bad_command_lines_say_why(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		struct cp_ctl_args a;
		char err[160];
		int r = parse(bads[i].cmdline, &a, err, sizeof(err));

		if (r != -EINVAL || !strstr(err, bads[i].must_say))
			fail_msg("'%s': got %d \"%s\", want \"%s\"", bads[i].cmdline, r, err,
				 bads[i].must_say);
	}
}

static void test_help_and_version_win(void **state)
{
	struct cp_ctl_args a;
	char err[160];

	(void)state;
	assert_int_equal(parse("--version", &a, err, sizeof(err)), 0);
	assert_int_equal(a.action, CP_CTL_VERSION);
	assert_int_equal(parse("status --help", &a, err, sizeof(err)), 0);
	assert_int_equal(a.action, CP_CTL_HELP);
	assert_int_equal(parse("-h", &a, err, sizeof(err)), 0);
	assert_int_equal(a.action, CP_CTL_HELP);
	assert_int_equal(parse("frobnicate --version", &a, err, sizeof(err)), 0);
	assert_int_equal(a.action, CP_CTL_VERSION);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options_anywhere),
		cmocka_unit_test(test_bad_command_lines_say_why),
		cmocka_unit_test(test_help_and_version_win),
	};
	return cmocka_run_group_tests_name("ctlargs", tests, NULL, NULL);
}
