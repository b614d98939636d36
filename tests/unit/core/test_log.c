/* Unit tests for the rate limiter of the log (src/core/log.c), on a virtual clock
 * with the lines written to a pipe: a call site writes its burst and then is
 * suppressed; it earns one line per interval and that line is preceded by the
 * count of what was dropped; sites are limited independently; a site that went
 * quiet has its count written by the next line of any site, or by log_flush; the
 * bucket never holds more than one burst; the level filter comes first; counts
 * are exact when several threads log at once; a long line is cut, not lost. */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/log.h"

enum { BURST = 3, INTERVAL = 1000 };

static int pfd[2];
static uint64_t vnow;

static uint64_t vclock(void)
{
	return __atomic_load_n(&vnow, __ATOMIC_RELAXED);
}

static int setup(void **state)
{
	assert_int_equal(pipe2(pfd, O_NONBLOCK | O_CLOEXEC), 0);
	log_set_fd(pfd[1]);
	vnow = 1000000;
	log_set_clock(vclock);
	log_set_level(LOG_DEBUG);
	log_limit_set(BURST, INTERVAL);
	return 0;
}

static int teardown(void **state)
{
	log_set_fd(2);
	log_set_clock(NULL);
	log_limit_set(LOG_LIMIT_BURST, LOG_LIMIT_INTERVAL_MS);
	log_set_level(LOG_INFO);
	close(pfd[0]);
	close(pfd[1]);
	return 0;
}

/* Everything written since the last call (the pipe holds 64 KiB; tests write less). */
static char *drain(void)
{
	static char buf[65536];
	size_t n = 0;
	ssize_t r;
	while (n < sizeof(buf) - 1 && (r = read(pfd[0], buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	return buf;
}

static size_t count(const char *text, const char *needle)
{
	size_t n = 0;
	for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static void flood_a(int n)
{
	for (int i = 0; i < n; i++)
		log_warn("site A line %d", i);
}

static void test_burst_then_suppressed(void **state)
{
	flood_a(10);
	char *out = drain();
	assert_int_equal(count(out, "site A line"), BURST);
	assert_non_null(strstr(out, "site A line 2\n"));
	assert_null(strstr(out, "suppressed"));

	vnow += INTERVAL;
	log_warn("site A line %d", 10);
	out = drain();
	assert_non_null(strstr(out, "warn  (7 similar lines suppressed: \"site A line %d\")\n"));
	assert_non_null(strstr(out, "site A line 10\n"));
	/* the count comes before the line that follows it */
	assert_true(strstr(out, "suppressed") < strstr(out, "site A line 10"));

	/* one token per interval: the next line at the same instant is dropped */
	log_warn("site A line %d", 11);
	assert_int_equal(strlen(drain()), 0);
}

static void test_sites_independent(void **state)
{
	flood_a(10);
	drain();
	for (int i = 0; i < BURST; i++)
		log_info("site B line %d", i);
	char *out = drain();
	assert_int_equal(count(out, "site B line"), BURST);
	assert_null(strstr(out, "site A"));
}

static void test_quiet_site_swept(void **state)
{
	flood_a(BURST + 2);
	drain();
	/* before A has earned a token its count is not due */
	log_info("site C");
	char *out = drain();
	assert_null(strstr(out, "suppressed"));
	vnow += INTERVAL;
	log_info("site C");
	out = drain();
	assert_non_null(strstr(out, "(2 similar lines suppressed: \"site A line %d\")"));
	assert_non_null(strstr(out, "site C\n"));
	/* paid once */
	vnow += INTERVAL;
	log_info("site C");
	assert_null(strstr(drain(), "suppressed"));
}

static void test_flush(void **state)
{
	flood_a(BURST + 4);
	drain();
	log_flush();
	char *out = drain();
	assert_int_equal(count(out, "\n"), 1);
	assert_non_null(strstr(out, "(4 similar lines suppressed"));
	log_flush();
	assert_int_equal(strlen(drain()), 0);
}

static void test_refill_capped_at_burst(void **state)
{
	log_warn("site D");
	drain();
	vnow += 1000 * INTERVAL;
	for (int i = 0; i < 10; i++)
		log_warn("site D");
	assert_int_equal(count(drain(), "site D\n"), BURST);
	/* a partial interval earns nothing; the rest of it still counts */
	vnow += INTERVAL / 2;
	log_warn("site D");
	vnow += INTERVAL / 2;
	log_warn("site D");
	char *out = drain();
	assert_int_equal(count(out, "site D\n"), 1);
	assert_non_null(strstr(out, "(8 similar lines suppressed"));
}

static void test_limit_off(void **state)
{
	log_limit_set(0, INTERVAL);
	flood_a(50);
	assert_int_equal(count(drain(), "site A line"), 50);
}

static void test_level_filter_first(void **state)
{
	log_set_level(LOG_WARN);
	for (int i = 0; i < 10; i++)
		log_info("site E");
	log_debug("site E debug");
	assert_int_equal(strlen(drain()), 0);
	log_flush();
	assert_int_equal(strlen(drain()), 0);
	log_set_level(LOG_DEBUG);
}

enum { THREADS = 4, PER_THREAD = 5000 };

static void *thread_main(void *arg)
{
	for (int i = 0; i < PER_THREAD; i++)
		log_error("site F from a thread");
	return NULL;
}

static void test_threads_count_exactly(void **state)
{
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, thread_main, NULL), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	log_flush();
	char *out = drain();
	assert_int_equal(count(out, "site F from a thread\n"), BURST);
	char want[96];
	snprintf(want, sizeof(want), "error (%d similar lines suppressed", THREADS * PER_THREAD - BURST);
	assert_non_null(strstr(out, want));
}

static void test_long_line_cut(void **state)
{
	static char big[20000];
	memset(big, 'x', sizeof(big) - 1);
	log_info("%s", big);
	char *out = drain();
	size_t n = strlen(out);
	assert_true(n > 8000 && n <= 8192);
	assert_int_equal(out[n - 1], '\n');
	assert_int_equal(count(out, "\n"), 1);
}

static void test_summary_names_first_line_of_format(void **state)
{
	for (int i = 0; i < BURST + 1; i++)
		log_info("site G %d\n%s", i, "second line");
	drain();
	log_flush();
	char *out = drain();
	assert_non_null(strstr(out, "(1 similar lines suppressed: \"site G %d\")\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_burst_then_suppressed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sites_independent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quiet_site_swept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refill_capped_at_burst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limit_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_filter_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads_count_exactly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_line_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_summary_names_first_line_of_format, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
