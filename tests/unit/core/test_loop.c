/* Unit tests for the event loop (src/core/loop.c) and the thread message queue
 * (src/core/mqueue.c) with real file descriptors, a real clock and a real second
 * thread. Each test arms a watchdog timer so that a loop that never stops fails
 * the test instead of hanging it. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/loop.h"
#include "core/mqueue.h"

struct wd {
	struct loop *l;
	struct tmr t;
	bool fired;
};

static void watchdog_h(void *arg)
{
	struct wd *w = arg;
	w->fired = true;
	loop_stop(w->l);
}

static void watchdog_start(struct wd *w, struct loop *l, uint64_t ms)
{
	memset(w, 0, sizeof(*w));
	w->l = l;
	assert_int_equal(tmr_start(loop_timers(l), &w->t, ms, watchdog_h, w), 0);
}

/* ---- a readable pipe runs its handler ---- */

struct pipe_ctx {
	struct loop *l;
	int calls;
	int events;
	char got[16];
	size_t n;
};

static void pipe_h(int fd, int events, void *arg)
{
	struct pipe_ctx *p = arg;
	p->calls++;
	p->events |= events;
	ssize_t r = read(fd, p->got + p->n, sizeof(p->got) - 1 - p->n);
	assert_true(r > 0);
	p->n += (size_t)r;
	if (p->n >= 5)
		loop_stop(p->l);
}

static void test_pipe_readable(void **state)
{
	(void)state;
	struct loop *l;
	assert_int_equal(loop_alloc(&l), 0);
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	struct pipe_ctx p = { .l = l };
	assert_int_equal(loop_fd_listen(l, fds[0], LOOP_READ, pipe_h, &p), 0);
	assert_int_equal(write(fds[1], "hello", 5), 5);
	struct wd w;
	watchdog_start(&w, l, 5000);
	assert_int_equal(loop_run(l), 0);
	assert_false(w.fired);
	assert_true(p.calls >= 1);
	assert_true(p.events & LOOP_READ);
	assert_memory_equal(p.got, "hello", 5);

	/* once the fd is no longer watched, data on it wakes nobody */
	loop_fd_close(l, fds[0]);
	int calls = p.calls;
	assert_int_equal(write(fds[1], "x", 1), 1);
	tmr_cancel(&w.t);
	watchdog_start(&w, l, 50);
	assert_int_equal(loop_run(l), 0);
	assert_true(w.fired);
	assert_int_equal(p.calls, calls);

	tmr_cancel(&w.t);
	loop_free(l);
	close(fds[0]);
	close(fds[1]);
}

static void test_fd_errors(void **state)
{
	(void)state;
	struct loop *l;
	assert_int_equal(loop_alloc(&l), 0);
	struct pipe_ctx p = { .l = l };
	assert_int_equal(loop_fd_listen(l, -1, LOOP_READ, pipe_h, &p), EBADF);
	/* a closed fd number is refused by epoll */
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(loop_fd_listen(l, fds[0], LOOP_READ, pipe_h, &p), EBADF);
	loop_fd_close(l, fds[0]); /* never watched: harmless */
	loop_fd_close(l, 100000);
	loop_free(l);
}

/* ---- a timer fires through loop_run and stops it ---- */

struct tctx {
	struct loop *l;
	struct tmr t;
	uint64_t armed_at, fired_at;
	int runs;
};

static void stop_h(void *arg)
{
	struct tctx *c = arg;
	c->runs++;
	c->fired_at = loop_clock_ms();
	loop_stop(c->l);
}

static void test_timer_stops_loop(void **state)
{
	(void)state;
	struct loop *l;
	assert_int_equal(loop_alloc(&l), 0);
	struct tctx c = { .l = l };
	struct wd w;
	watchdog_start(&w, l, 5000);
	c.armed_at = loop_now(l); /* timers count from the loop's clock */
	assert_int_equal(tmr_start(loop_timers(l), &c.t, 30, stop_h, &c), 0);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(c.runs, 1);
	assert_false(w.fired);
	assert_true(c.fired_at - c.armed_at >= 30);
	assert_true(c.fired_at - c.armed_at < 2000);
	assert_true(loop_now(l) >= c.armed_at + 30);
	assert_true(loop_now(l) <= loop_clock_ms());
	/* the loop can run again after a stop */
	assert_int_equal(tmr_start(loop_timers(l), &c.t, 0, stop_h, &c), 0);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(c.runs, 2);
	tmr_cancel(&w.t);
	loop_free(l);
}

/* ---- mqueue: another thread's messages arrive in order on the loop thread ---- */

enum { NMSG = 10000 };

struct mq_ctx {
	struct loop *l;
	struct mqueue *mq;
	pthread_t loop_thread;
	int next;        /* the id expected next */
	int bad_order;
	int bad_thread;
	int bad_data;
};

static void mq_h(int id, void *data, void *arg)
{
	struct mq_ctx *c = arg;
	if (!pthread_equal(pthread_self(), c->loop_thread))
		c->bad_thread++;
	if (id != c->next)
		c->bad_order++;
	int *v = data;
	if (!v || *v != id * 3)
		c->bad_data++;
	free(v);
	c->next++;
	if (c->next == NMSG)
		loop_stop(c->l);
}

static void *producer(void *arg)
{
	struct mq_ctx *c = arg;
	for (int i = 0; i < NMSG; i++) {
		int *v = malloc(sizeof(*v));
		if (!v)
			abort();
		*v = i * 3;
		if (mqueue_push(c->mq, i, v))
			abort();
		if (i % 1000 == 0)
			usleep(1000); /* let the consumer drain part way */
	}
	return NULL;
}

static void test_mqueue_order(void **state)
{
	(void)state;
	struct loop *l;
	assert_int_equal(loop_alloc(&l), 0);
	struct mq_ctx c = { .l = l, .loop_thread = pthread_self() };
	assert_int_equal(mqueue_alloc(&c.mq, l, mq_h, &c), 0);
	struct wd w;
	watchdog_start(&w, l, 20000);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, producer, &c), 0);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_false(w.fired);
	assert_int_equal(c.next, NMSG);
	assert_int_equal(c.bad_order, 0);
	assert_int_equal(c.bad_thread, 0);
	assert_int_equal(c.bad_data, 0);
	tmr_cancel(&w.t);
	mqueue_free(c.mq);
	loop_free(l);
}

/* Messages pushed before the loop runs are delivered once it does. */
static void test_mqueue_before_run(void **state)
{
	(void)state;
	struct loop *l;
	assert_int_equal(loop_alloc(&l), 0);
	struct mq_ctx c = { .l = l, .loop_thread = pthread_self() };
	assert_int_equal(mqueue_alloc(&c.mq, l, mq_h, &c), 0);
	for (int i = 0; i < NMSG; i++) {
		int *v = malloc(sizeof(*v));
		assert_non_null(v);
		*v = i * 3;
		assert_int_equal(mqueue_push(c.mq, i, v), 0);
	}
	struct wd w;
	watchdog_start(&w, l, 5000);
	assert_int_equal(loop_run(l), 0);
	assert_false(w.fired);
	assert_int_equal(c.next, NMSG);
	assert_int_equal(c.bad_order, 0);
	assert_int_equal(c.bad_data, 0);
	tmr_cancel(&w.t);
	mqueue_free(c.mq);
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipe_readable),
		cmocka_unit_test(test_fd_errors),
		cmocka_unit_test(test_timer_stops_loop),
		cmocka_unit_test(test_mqueue_order),
		cmocka_unit_test(test_mqueue_before_run),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
