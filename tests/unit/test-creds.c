// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the credentials store: round trip, mode 0600, atomic
 * replacement, damaged files, and crash safety: a crash simulated at every
 * step of a store or a delete leaves the old file or the new one, never a
 * mixture, and the next store works.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "crashpoint.h"
#include "creds.h"

static char dir[64];
static char file[128];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/test-creds.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(file, sizeof(file), "%s/" CP_CREDS_FILE, dir);
	cp_crash_hook = NULL;
	return 0;
}

static int teardown(void **state)
{
	char tmp[160];

	(void)state;
	cp_crash_hook = NULL;
	snprintf(tmp, sizeof(tmp), "%s/." CP_CREDS_FILE ".tmp", dir);
	unlink(tmp);
	unlink(file);
	return rmdir(dir);
}

static void make(struct cp_creds *c, const char *id, enum cp_creds_mark mark)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->printer_id, sizeof(c->printer_id), "%s", id);
	snprintf(c->secret, sizeof(c->secret), "secret-of-%s", id);
	snprintf(c->access_token, sizeof(c->access_token), "token-of-%s", id);
	c->mark = mark;
}

static void write_file(const char *text)
{
	FILE *f = fopen(file, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_round_trip_and_mode(void **state)
{
	static const enum cp_creds_mark marks[] = {
		CP_CREDS_REGISTERED, CP_CREDS_DELETED, CP_CREDS_SUSPENDED,
	};
	struct cp_creds in, out;
	struct stat st;
	mode_t old = umask(0);

	(void)state;
	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		make(&in, "p_1", marks[i]);
		assert_int_equal(cp_creds_store(dir, &in), 0);
		assert_int_equal(cp_creds_load(dir, &out), 0);
		assert_string_equal(out.printer_id, "p_1");
		assert_string_equal(out.secret, "secret-of-p_1");
		assert_string_equal(out.access_token, "token-of-p_1");
		assert_int_equal(out.mark, marks[i]);
		assert_int_equal(stat(file, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
	}
	umask(old);
}

static void test_replace_is_a_new_inode(void **state)
{
	struct cp_creds c;
	struct stat a, b;

	(void)state;
	make(&c, "p_1", CP_CREDS_REGISTERED);
	assert_int_equal(cp_creds_store(dir, &c), 0);
	assert_int_equal(stat(file, &a), 0);
	/* A world-readable leftover must not leak its mode into the new file. */
	chmod(file, 0644);
	make(&c, "p_2", CP_CREDS_SUSPENDED);
	assert_int_equal(cp_creds_store(dir, &c), 0);
	assert_int_equal(stat(file, &b), 0);
	assert_true(a.st_ino != b.st_ino);
	assert_int_equal(b.st_mode & 07777, 0600);
}

static void test_missing_and_damaged(void **state)
{
	static const char *const bad[] = {
		"",
		"{",
		"[]",
		"{\"printer_id\":\"p\",\"printer_secret\":\"s\",\"access_token\":\"t\"}",
		"{\"printer_id\":\"p\",\"printer_secret\":\"s\",\"access_token\":\"t\",\"state\":\"x\"}",
		"{\"printer_id\":1,\"printer_secret\":\"s\",\"access_token\":\"t\",\"state\":\"registered\"}",
		"{\"printer_id\":\"p\",\"printer_secret\":null,\"access_token\":\"t\",\"state\":\"registered\"}",
		"{\"printer_id\":\"p\",\"printer_secret\":\"s\",\"access_token\":[],\"state\":\"registered\"}",
		"{\"printer_id\":\"p\",\"printer_secret\":\"s\",\"access_token\":\"t\",\"state\":7}",
	};
	struct cp_creds c;
	char big[600];

	(void)state;
	assert_int_equal(cp_creds_load(dir, &c), -ENOENT);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(bad[i]);
		assert_int_equal(cp_creds_load(dir, &c), -EINVAL);
	}
	/* A field longer than its buffer is refused, not truncated. */
	memset(big, 'a', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	{
		char text[1024];

		snprintf(text, sizeof(text),
			 "{\"printer_id\":\"p\",\"printer_secret\":\"%s\",\"access_token\":\"t\","
			 "\"state\":\"registered\"}", big);
		write_file(text);
		assert_int_equal(cp_creds_load(dir, &c), -EINVAL);
	}
	/* A file larger than any credentials is refused. */
	{
		FILE *f = fopen(file, "w");

		assert_non_null(f);
		for (int i = 0; i < 10000; i++)
			fputc(' ', f);
		fclose(f);
		assert_int_equal(cp_creds_load(dir, &c), -EINVAL);
	}
	/* Deleting twice is fine. */
	assert_int_equal(cp_creds_delete(dir), 0);
	assert_int_equal(cp_creds_delete(dir), 0);
	assert_int_equal(cp_creds_load(dir, &c), -ENOENT);
}

static const char *crash_at;
static int crashes;

static int crash_hook(const char *point)
{
	if (strcmp(point, crash_at))
		return 0;
	crashes++;
	return 1;
}

static void test_crash_during_store(void **state)
{
	/* Where the crash happens -> which file a restart finds. */
	static const struct {
		const char *point;
		bool new_visible;
	} steps[] = {
		{ "creds-store-opened", false },
		{ "creds-store-written", false },
		{ "creds-store-synced", false },
		{ "creds-store-renamed", true },
	};
	struct cp_creds c;
	struct stat st;

	(void)state;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		make(&c, "old", CP_CREDS_REGISTERED);
		assert_int_equal(cp_creds_store(dir, &c), 0);

		crash_at = steps[i].point;
		crashes = 0;
		cp_crash_hook = crash_hook;
		make(&c, "new", CP_CREDS_SUSPENDED);
		assert_int_equal(cp_creds_store(dir, &c), -EINTR);
		assert_int_equal(crashes, 1);
		cp_crash_hook = NULL;

		/* "Restart": the file is whole, old or new, and still 0600. */
		assert_int_equal(cp_creds_load(dir, &c), 0);
		assert_string_equal(c.printer_id, steps[i].new_visible ? "new" : "old");
		assert_int_equal(c.mark, steps[i].new_visible ? CP_CREDS_SUSPENDED :
				 CP_CREDS_REGISTERED);
		assert_int_equal(stat(file, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);

		/* The leftover temporary file does not stop the next store. */
		make(&c, "after", CP_CREDS_DELETED);
		assert_int_equal(cp_creds_store(dir, &c), 0);
		assert_int_equal(cp_creds_load(dir, &c), 0);
		assert_string_equal(c.printer_id, "after");
	}
}

static void test_crash_during_delete(void **state)
{
	static const struct {
		const char *point;
		bool gone;
	} steps[] = {
		{ "creds-delete-start", false },
		{ "creds-delete-unlinked", true },
	};
	struct cp_creds c;

	(void)state;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		make(&c, "old", CP_CREDS_REGISTERED);
		assert_int_equal(cp_creds_store(dir, &c), 0);
		crash_at = steps[i].point;
		crashes = 0;
		cp_crash_hook = crash_hook;
		assert_int_equal(cp_creds_delete(dir), -EINTR);
		assert_int_equal(crashes, 1);
		cp_crash_hook = NULL;
		assert_int_equal(cp_creds_load(dir, &c), steps[i].gone ? -ENOENT : 0);
		/* Finishing the interrupted delete works. */
		assert_int_equal(cp_creds_delete(dir), 0);
		assert_int_equal(cp_creds_load(dir, &c), -ENOENT);
	}
}

static void test_store_into_missing_dir_fails_cleanly(void **state)
{
	struct cp_creds c;

	(void)state;
	make(&c, "p", CP_CREDS_REGISTERED);
	assert_int_equal(cp_creds_store("/nonexistent-dir-for-test-creds", &c), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip_and_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace_is_a_new_inode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_and_damaged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_during_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_during_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_into_missing_dir_fails_cleanly, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("creds", tests, NULL, NULL);
}
