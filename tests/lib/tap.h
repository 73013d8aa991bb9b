/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small test harness in the spirit of kselftest_harness.h: each TEST()
 * runs in its own forked child with a timeout, and the results come out as
 * TAP ("ok N - name" / "not ok N - name").  CHECK() failures print where
 * and why, then end the test.
 *
 *	TEST(writes_round_trip) { CHECK(do_it() == 0, "do_it: %m"); }
 *	int main(int argc, char **argv) { return tap_main(argc, argv); }
 *
 * argv[1], if given, runs only the tests whose name contains it.
 */
#ifndef TESTS_LIB_TAP_H
#define TESTS_LIB_TAP_H

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TAP_MAX_TESTS	128
#define TAP_TIMEOUT_S	120

struct tap_test {
	const char *name;
	void (*fn)(void);
	unsigned int timeout;
};

static struct tap_test tap_tests[TAP_MAX_TESTS];
static int tap_ntests;

static inline void tap_register(const char *name, void (*fn)(void), unsigned int timeout)
{
	if (tap_ntests < TAP_MAX_TESTS)
		tap_tests[tap_ntests++] = (struct tap_test){ name, fn, timeout };
}

#define TEST_TIMEOUT(name, secs)						\
	static void test_##name(void);						\
	static void __attribute__((constructor)) tap_reg_##name(void)		\
	{ tap_register(#name, test_##name, secs); }				\
	static void test_##name(void)
#define TEST(name) TEST_TIMEOUT(name, TAP_TIMEOUT_S)

/* Print a diagnostic line (TAP comment). */
static inline void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

#define CHECK(cond, ...) do {							\
	if (!(cond)) {								\
		int tap_errno = errno;						\
		printf("#   %s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
		errno = tap_errno;						\
		printf(__VA_ARGS__);						\
		printf("\n");							\
		fflush(stdout);							\
		_exit(1);							\
	}									\
} while (0)

/* Expect a call returning -1 to fail with errno @err. */
#define CHECK_ERRNO(call, err, what) do {					\
	errno = 0;								\
	long tap_r = (long)(call);						\
	CHECK(tap_r == -1 && errno == (err), "%s: want %s, got r=%ld errno=%s",	\
	      what, strerror(err), tap_r, strerror(errno));			\
} while (0)

static inline int tap_main(int argc, char **argv)
{
	int i, n = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < tap_ntests; i++)
		if (argc < 2 || strstr(tap_tests[i].name, argv[1]))
			n++;
	printf("1..%d\n", n);
	n = 0;
	for (i = 0; i < tap_ntests; i++) {
		struct tap_test *t = &tap_tests[i];
		int status = 0;
		pid_t pid;

		if (argc >= 2 && !strstr(t->name, argv[1]))
			continue;
		n++;
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			setpgid(0, 0);
			alarm(t->timeout);
			t->fn();
			_exit(0);
		}
		waitpid(pid, &status, 0);
		/* Reap whatever the test left behind. */
		kill(-pid, SIGKILL);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			printf("ok %d - %s\n", n, t->name);
		} else {
			if (WIFSIGNALED(status))
				printf("#   killed by signal %d%s\n", WTERMSIG(status),
				       WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
			printf("not ok %d - %s\n", n, t->name);
			failed++;
		}
	}
	return failed ? 1 : 0;
}

#endif /* TESTS_LIB_TAP_H */
