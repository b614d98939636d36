/* Unit tests for the worker thread skeleton (src/core/worker.c): messages are
 * handled in order on the worker's own thread, stop handles what was accepted
 * and joins, and nothing is accepted once stopping. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/worker.h"

enum { N = 100, MSG_FIRST = 1, MSG_EXTRA = 1000 };

struct state {
	struct worker *w;
	pthread_t main_thread;
	/* Written on the worker thread only; read after worker_stop() joined it. */
	int got[N];
	int ngot;
	bool wrong_thread;
	bool wrong_data;
	int extra_accepted;
	int extra_handled;
	int extra_err;
};

static void on_msg(int id, void *data, void *arg)
{
	struct state *s = arg;
	if (pthread_equal(pthread_self(), s->main_thread))
		s->wrong_thread = true;
	if (id == MSG_EXTRA) {
		s->extra_handled++;
		return;
	}
	if (data != &s->got[id - MSG_FIRST])
		s->wrong_data = true;
	if (s->ngot < N)
		s->got[s->ngot++] = id;
	if (id != MSG_FIRST)
		return;
	/* Stopping begins while this runs (the test thread is in worker_stop()):
	 * push to our own queue until refused. What was accepted is queued ahead
	 * of the stop and must still be handled. */
	int e;
	for (int tries = 0; (e = worker_push(s->w, MSG_EXTRA, NULL)) == 0; tries++) {
		s->extra_accepted++;
		if (tries > 5000)
			break; /* stop never began: fails below */
		usleep(1000);
	}
	s->extra_err = e;
}

static void test_worker_order_and_stop(void **state)
{
	(void)state;
	static struct state s;
	s.main_thread = pthread_self();
	assert_int_equal(worker_start(&s.w, on_msg, &s), 0);
	assert_non_null(worker_loop(s.w));
	for (int i = 0; i < N; i++)
		assert_int_equal(worker_push(s.w, MSG_FIRST + i, &s.got[i]), 0);
	assert_int_equal(worker_push(s.w, WORKER_MSG_STOP, NULL), EINVAL); /* reserved */
	assert_int_equal(worker_stop(s.w), 0); /* joins: everything below is settled */
	assert_false(s.wrong_thread);
	assert_false(s.wrong_data);
	assert_int_equal(s.ngot, N);
	for (int i = 0; i < N; i++)
		assert_int_equal(s.got[i], MSG_FIRST + i);
	assert_int_equal(s.extra_err, ESHUTDOWN);
	assert_int_equal(s.extra_handled, s.extra_accepted);
}

static void never(int id, void *data, void *arg)
{
	(void)id;
	(void)data;
	(void)arg;
	fail();
}

static void test_worker_stop_idle(void **state)
{
	(void)state;
	struct worker *w = NULL;
	assert_int_equal(worker_start(&w, never, NULL), 0);
	assert_int_equal(worker_stop(w), 0);
	assert_int_equal(worker_stop(NULL), 0);
	assert_int_equal(worker_start(&w, NULL, NULL), EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worker_order_and_stop),
		cmocka_unit_test(test_worker_stop_idle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
