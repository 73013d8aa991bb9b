// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the ledger of printed jobs: add, find, remove, a full
 * ledger forgetting its oldest entry, the file's round trip, an empty
 * ledger removing the file, damaged files refused, and a crash at every
 * step of a store leaving the old ledger or the new one.
 */
#include <errno.h>
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
#include "ledger.h"

static char dir[64];
static char file[128];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/test-ledger.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(file, sizeof(file), "%s/" CP_LEDGER_FILE, dir);
	cp_crash_hook = NULL;
	return 0;
}

static int teardown(void **state)
{
	char tmp[160];

	(void)state;
	cp_crash_hook = NULL;
	snprintf(tmp, sizeof(tmp), "%s/." CP_LEDGER_FILE ".tmp", dir);
	unlink(tmp);
	unlink(file);
	return rmdir(dir);
}

static void test_add_find_remove(void **state)
{
	static struct cp_ledger l;
	struct cp_ledger_entry *e;
	bool dropped;

	(void)state;
	memset(&l, 0, sizeof(l));
	assert_null(cp_ledger_find(&l, "j_1"));
	e = cp_ledger_add(&l, "j_1", 7, 100, &dropped);
	assert_non_null(e);
	assert_false(dropped);
	assert_int_equal(e->state, CP_LEDGER_HANDED);
	e->state = CP_LEDGER_PRINTED;
	e->crc32 = 0xdeadbeef;
	assert_non_null(cp_ledger_add(&l, "j_2", 8, 200, &dropped));
	assert_ptr_equal(cp_ledger_find(&l, "j_1"), &l.e[0]);
	assert_int_equal(cp_ledger_find(&l, "j_2")->engine_job, 8);
	/* Adding again resets the entry and makes it the newest. */
	e = cp_ledger_add(&l, "j_1", 9, 100, &dropped);
	assert_int_equal(l.n, 2);
	assert_ptr_equal(e, &l.e[1]);
	assert_int_equal(e->state, CP_LEDGER_HANDED);
	assert_int_equal(e->engine_job, 9);
	assert_true(cp_ledger_remove(&l, "j_2"));
	assert_false(cp_ledger_remove(&l, "j_2"));
	assert_int_equal(l.n, 1);
	assert_string_equal(l.e[0].id, "j_1");
	/* An id too long for an entry is refused, not cut. */
	{
		char big[100];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		assert_null(cp_ledger_add(&l, big, 1, 1, &dropped));
		assert_int_equal(l.n, 1);
	}
}

static void test_full_forgets_oldest(void **state)
{
	static struct cp_ledger l;
	char id[32];
	bool dropped;

	(void)state;
	memset(&l, 0, sizeof(l));
	for (int i = 0; i < CP_LEDGER_MAX; i++) {
		snprintf(id, sizeof(id), "j_%d", i);
		assert_non_null(cp_ledger_add(&l, id, i + 1, 1, &dropped));
		assert_false(dropped);
	}
	assert_non_null(cp_ledger_add(&l, "j_new", 999, 1, &dropped));
	assert_true(dropped);
	assert_int_equal(l.n, CP_LEDGER_MAX);
	assert_null(cp_ledger_find(&l, "j_0"));
	assert_non_null(cp_ledger_find(&l, "j_1"));
	assert_string_equal(l.e[CP_LEDGER_MAX - 1].id, "j_new");
}

static void test_round_trip(void **state)
{
	static struct cp_ledger in, out;
	struct cp_ledger_entry *e;
	struct stat st;
	bool dropped;

	(void)state;
	memset(&in, 0, sizeof(in));
	assert_int_equal(cp_ledger_load(dir, &out), -ENOENT);
	assert_int_equal(out.n, 0);
	cp_ledger_add(&in, "j_a", 1, 5 << 20, &dropped);
	e = cp_ledger_add(&in, "j_b", 2, 10, &dropped);
	e->state = CP_LEDGER_PRINTED;
	e->crc32 = 4294967295u;
	e = cp_ledger_add(&in, "j_c", 3, 11, &dropped);
	e->state = CP_LEDGER_ENDED;
	assert_int_equal(cp_ledger_store(dir, &in), 0);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(cp_ledger_load(dir, &out), 0);
	assert_int_equal(out.n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(out.e[i].id, in.e[i].id);
		assert_int_equal(out.e[i].engine_job, in.e[i].engine_job);
		assert_int_equal(out.e[i].size, in.e[i].size);
		assert_int_equal(out.e[i].state, in.e[i].state);
		assert_int_equal(out.e[i].crc32, in.e[i].crc32);
	}
	/* Empty: no file. */
	in.n = 0;
	assert_int_equal(cp_ledger_store(dir, &in), 0);
	assert_int_equal(stat(file, &st), -1);
	assert_int_equal(cp_ledger_load(dir, &out), -ENOENT);
}

static void test_damaged(void **state)
{
	static const char *const bad[] = {
		"",
		"[",
		"{}",
		"[1]",
		"[{\"job_id\":\"j\",\"engine_job\":1,\"size\":1,\"state\":\"handed\"}]",
		"[{\"job_id\":\"j\",\"engine_job\":1,\"size\":1,\"state\":\"lost\",\"crc32\":0}]",
		"[{\"job_id\":\"\",\"engine_job\":1,\"size\":1,\"state\":\"handed\",\"crc32\":0}]",
		"[{\"job_id\":\"j\",\"engine_job\":-1,\"size\":1,\"state\":\"handed\",\"crc32\":0}]",
		"[{\"job_id\":\"j\",\"engine_job\":1,\"size\":1,\"state\":\"handed\",\"crc32\":4294967296}]",
	};
	static struct cp_ledger l;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		FILE *f = fopen(file, "w");

		assert_non_null(f);
		fputs(bad[i], f);
		fclose(f);
		l.n = 5;
		assert_int_equal(cp_ledger_load(dir, &l), -EINVAL);
		assert_int_equal(l.n, 0);
	}
}

static const char *crash_at;

static int crash_hook(const char *point)
{
	return !strcmp(point, crash_at);
}

static void test_crash_during_store(void **state)
{
	static const struct {
		const char *point;
		size_t visible;		/* entries a restart finds */
	} steps[] = {
		{ "ledger-store-opened", 1 },
		{ "ledger-store-written", 1 },
		{ "ledger-store-synced", 1 },
		{ "ledger-store-renamed", 2 },
	};
	static struct cp_ledger l, out;
	bool dropped;

	(void)state;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		memset(&l, 0, sizeof(l));
		cp_ledger_add(&l, "j_old", 1, 1, &dropped);
		assert_int_equal(cp_ledger_store(dir, &l), 0);
		cp_ledger_add(&l, "j_new", 2, 1, &dropped);
		crash_at = steps[i].point;
		cp_crash_hook = crash_hook;
		assert_int_equal(cp_ledger_store(dir, &l), -EINTR);
		cp_crash_hook = NULL;
		assert_int_equal(cp_ledger_load(dir, &out), 0);
		assert_int_equal(out.n, steps[i].visible);
		assert_string_equal(out.e[0].id, "j_old");
		/* The next store works over whatever the crash left. */
		assert_int_equal(cp_ledger_store(dir, &l), 0);
		assert_int_equal(cp_ledger_load(dir, &out), 0);
		assert_int_equal(out.n, 2);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_find_remove),
		cmocka_unit_test(test_full_forgets_oldest),
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_during_store, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
