/* Unit tests for the timer heap (src/core/timer.c), on a virtual clock: deadline
 * order over many random timers, arming order for equal deadlines, cancel from
 * the middle, re-arming, handlers that arm and cancel other timers while the heap
 * is advancing, tmr_heap_next and tmr_left. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/timer.h"

/* A record of what fired, and at what heap time. */
struct fired {
	struct tmr_heap *th;
	size_t n;
	int ids[64];
	uint64_t at[64];
};

struct ev {
	struct tmr t;
	struct fired *log;
	int id;
};

static void log_h(void *arg)
{
	struct ev *e = arg;
	struct fired *f = e->log;
	assert_true(f->n < 64);
	f->ids[f->n] = e->id;
	f->at[f->n] = f->th->now;
	f->n++;
}

static void ev_start(struct tmr_heap *th, struct ev *e, struct fired *f, int id, uint64_t delay)
{
	e->log = f;
	e->id = id;
	assert_int_equal(tmr_start(th, &e->t, delay, log_h, e), 0);
}

/* ---- many random timers fire in deadline order ---- */

enum { NRAND = 10000 };

struct rt {
	struct tmr t;
	uint64_t deadline;
	uint64_t *last;
	size_t *count;
	struct tmr_heap *th;
};

static void rand_h(void *arg)
{
	struct rt *r = arg;
	assert_true(r->deadline >= *r->last);
	/* fired no earlier than its deadline, and (stepping by 1 ms) not later */
	assert_int_equal(r->th->now, r->deadline);
	*r->last = r->deadline;
	(*r->count)++;
}

static void test_random_order(void **state)
{
	(void)state;
	struct tmr_heap th;
	tmr_heap_init(&th, 1000);
	struct rt *v = calloc(NRAND, sizeof(*v));
	assert_non_null(v);
	uint64_t last = 0;
	size_t count = 0;
	srand(12345);
	uint64_t maxd = 0;
	for (size_t i = 0; i < NRAND; i++) {
		uint64_t d = (uint64_t)(rand() % 5000);
		v[i] = (struct rt){ .deadline = 1000 + d, .last = &last, .count = &count, .th = &th };
		assert_int_equal(tmr_start(&th, &v[i].t, d, rand_h, &v[i]), 0);
		if (d > maxd)
			maxd = d;
	}
	assert_int_equal(tmr_heap_count(&th), NRAND);
	/* cancel every seventh one: the heap must stay ordered after removals */
	size_t cancelled = 0;
	for (size_t i = 0; i < NRAND; i += 7) {
		tmr_cancel(&v[i].t);
		assert_false(tmr_active(&v[i].t));
		cancelled++;
	}
	assert_int_equal(tmr_heap_count(&th), NRAND - cancelled);
	for (uint64_t now = 1000; now <= 1000 + maxd; now++)
		tmr_heap_advance(&th, now);
	assert_int_equal(count, NRAND - cancelled);
	assert_int_equal(tmr_heap_count(&th), 0);
	assert_int_equal(tmr_heap_next(&th), -1);
	tmr_heap_close(&th);
	free(v);
}

/* One big jump fires everything, still in deadline order. */
static void jump_h(void *arg)
{
	struct rt *r = arg;
	assert_true(r->deadline >= *r->last);
	*r->last = r->deadline;
	(*r->count)++;
}

static void test_random_order_one_jump(void **state)
{
	(void)state;
	struct tmr_heap th;
	tmr_heap_init(&th, 0);
	struct rt *v = calloc(NRAND, sizeof(*v));
	assert_non_null(v);
	uint64_t last = 0;
	size_t count = 0;
	srand(777);
	for (size_t i = 0; i < NRAND; i++) {
		uint64_t d = (uint64_t)(rand() % 100000);
		v[i] = (struct rt){ .deadline = d, .last = &last, .count = &count, .th = &th };
		assert_int_equal(tmr_start(&th, &v[i].t, d, jump_h, &v[i]), 0);
	}
	tmr_heap_advance(&th, 49999);
	size_t half = count;
	assert_true(half > 0 && half < NRAND);
	for (size_t i = 0; i < NRAND; i++)
		assert_int_equal(tmr_active(&v[i].t), v[i].deadline > 49999);
	tmr_heap_advance(&th, 100000);
	assert_int_equal(count, NRAND);
	tmr_heap_close(&th);
	free(v);
}

/* ---- equal deadlines fire in arming order ---- */

static void test_equal_deadlines_fifo(void **state)
{
	(void)state;
	struct tmr_heap th;
	tmr_heap_init(&th, 0);
	struct fired f = { .th = &th };
	struct ev e[40];
	memset(e, 0, sizeof(e)); /* a timer starts out zeroed, like its owner */
	/* arm in an order whose ids are not sorted, all for the same instant */
	for (int i = 0; i < 40; i++)
		ev_start(&th, &e[i], &f, (i * 17) % 40, 100);
	tmr_heap_advance(&th, 99);
	assert_int_equal(f.n, 0);
	tmr_heap_advance(&th, 100);
	assert_int_equal(f.n, 40);
	for (int i = 0; i < 40; i++) {
		assert_int_equal(f.ids[i], (i * 17) % 40);
		assert_int_equal(f.at[i], 100);
	}
	tmr_heap_close(&th);
}

/* A timer re-armed for the same deadline goes behind the others armed for it. */
static void test_rearm_same_deadline_goes_last(void **state)
{
	(void)state;
	struct tmr_heap th;
	tmr_heap_init(&th, 0);
	struct fired f = { .th = &th };
	struct ev a, b, c;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	ev_start(&th, &a, &f, 1, 50);
	ev_start(&th, &b, &f, 2, 50);
	ev_start(&th, &c, &f, 3, 50);
	ev_start(&th, &a, &f, 1, 50); /* re-arm a */
	assert_int_equal(tmr_heap_count(&th), 3);
	tmr_heap_advance(&th, 50);
	assert_int_equal(f.n, 3);
	assert_int_equal(f.ids[0], 2);
	assert_int_equal(f.ids[1], 3);
	assert_int_equal(f.ids[2], 1);
	tmr_heap_close(&th);
}

/* Every loop thread has its own heap; arming on one thread must not disturb the
 * arming order of equal deadlines on another. */
enum { NTHREADS = 4, NROUNDS = 20000, NPER = 32 };

struct fifo_run {
	int fired[NPER];
	int n;
	long bad;
};

struct fifo_ev {
	struct tmr t;
	struct fifo_run *run;
	int id;
};

static void fifo_h(void *arg)
{
	struct fifo_ev *e = arg;
	e->run->fired[e->run->n++] = e->id;
}

static void *fifo_thread(void *arg)
{
	struct fifo_run *run = arg;
	struct fifo_ev ev[NPER];
	memset(ev, 0, sizeof(ev));
	struct tmr_heap th;
	tmr_heap_init(&th, 0);
	for (int r = 0; r < NROUNDS; r++) {
		for (int i = 0; i < NPER; i++) {
			ev[i].run = run;
			ev[i].id = i;
			tmr_start(&th, &ev[i].t, 1, fifo_h, &ev[i]);
		}
		run->n = 0;
		tmr_heap_advance(&th, th.now + 1);
		for (int i = 0; i < NPER; i++)
			run->bad += run->n != NPER || run->fired[i] != i;
	}
	tmr_heap_close(&th);
	return NULL;
}

static void test_threads_keep_fifo(void **state)
{
	(void)state;
	pthread_t th[NTHREADS];
	struct fifo_run runs[NTHREADS];
	memset(runs, 0, sizeof(runs));
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, fifo_thread, &runs[i]), 0);
	for (int i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(runs[i].bad, 0);
	}
}

/* ---- cancel from the middle, re-arm ---- */

static void test_cancel_middle(void **state)
{
	(void)state;
	struct tmr_heap th;
	tmr_heap_init(&th, 0);
	struct fired f = { .th = &th };
	struct ev e[9];
	memset(e, 0, sizeof(e));
	for (int i = 0; i < 9; i++)
		ev_start(&th, &e[i], &f, i, (uint64_t)(10 * (i + 1)));
	tmr_cancel(&e[4].t); /* 50 */
	tmr_cancel(&e[0].t); /* the root */
	tmr_cancel(&e[8].t); /* the last */
	tmr_cancel(&e[8].t); /* twice is harmless */
	assert_int_equal(tmr_heap_count(&th), 6);
	assert_false(tmr_active(&e[4].t));
	assert_true(tmr_active(&e[5].t));
	tmr_heap_advance(&th, 1000);
	int want[] = { 1, 2, 3, 5, 6, 7 };
	assert_int_equal(f.n, 6);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(f.ids[i], want[i]);
		assert_int_equal(f.at[i], 1000);
	}
	tmr_heap_close(&th);
}

static void test_rearm_moves_deadline(void **state)
{
	(void)state;
	struct tmr_heap th;
	tmr_heap_init(&th, 0);
	struct fired f = { .th = &th };
	struct ev a, b;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ev_start(&th, &a, &f, 1, 100);
	ev_start(&th, &b, &f, 2, 200);
	ev_start(&th, &a, &f, 1, 300); /* later */
	assert_int_equal(tmr_heap_count(&th), 2);
	assert_int_equal(tmr_left(&a.t), 300);
	tmr_heap_advance(&th, 150);
	assert_int_equal(f.n, 0);
	tmr_heap_advance(&th, 200);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.ids[0], 2);
	ev_start(&th, &a, &f, 1, 10); /* earlier: now 200 + 10 */
	assert_int_equal(tmr_left(&a.t), 10);
	tmr_heap_advance(&th, 209);
	assert_int_equal(f.n, 1);
	tmr_heap_advance(&th, 210);
	assert_int_equal(f.n, 2);
	assert_int_equal(f.ids[1], 1);
	assert_int_equal(f.at[1], 210);
	/* and a fired timer can be armed again */
	assert_false(tmr_active(&a.t));
	ev_start(&th, &a, &f, 1, 5);
	tmr_heap_advance(&th, 215);
	assert_int_equal(f.n, 3);
	tmr_heap_close(&th);
}

/* ---- handlers that arm and cancel other timers during advance ---- */

struct chain {
	struct tmr_heap *th;
	struct ev *victim;   /* cancelled by the first handler */
	struct ev *spawned;  /* armed by the first handler */
	struct ev *now0;     /* armed with delay 0: due within the same advance */
	struct fired *log;
	struct tmr self;
	struct tmr periodic;
	int periodic_runs;
};

static void chain_h(void *arg)
{
	struct chain *c = arg;
	c->log->ids[c->log->n] = 100;
	c->log->at[c->log->n++] = c->th->now;
	tmr_cancel(&c->victim->t);
	ev_start(c->th, c->spawned, c->log, 200, 25);
	ev_start(c->th, c->now0, c->log, 300, 0);
}

static void periodic_h(void *arg)
{
	struct chain *c = arg;
	if (++c->periodic_runs < 5)
		tmr_start(c->th, &c->periodic, 10, periodic_h, c);
}

static void test_handler_arms_and_cancels(void **state)
{
	(void)state;
	struct tmr_heap th;
	tmr_heap_init(&th, 0);
	struct fired f = { .th = &th };
	struct ev victim, spawned, now0, other;
	struct chain c = { .th = &th, .victim = &victim, .spawned = &spawned, .now0 = &now0, .log = &f };
	memset(&c.self, 0, sizeof(c.self));
	memset(&c.periodic, 0, sizeof(c.periodic));
	memset(&victim, 0, sizeof(victim));
	memset(&spawned, 0, sizeof(spawned));
	memset(&now0, 0, sizeof(now0));
	memset(&other, 0, sizeof(other));
	assert_int_equal(tmr_start(&th, &c.self, 10, chain_h, &c), 0);
	ev_start(&th, &victim, &f, 1, 20);
	ev_start(&th, &other, &f, 2, 30);
	assert_int_equal(tmr_start(&th, &c.periodic, 10, periodic_h, &c), 0);

	tmr_heap_advance(&th, 30);
	/* chain at 10 (as of now=30); victim never; now0 in the same advance; other at 30;
	 * spawned is due at 30 + 25 */
	assert_int_equal(f.n, 3);
	assert_int_equal(f.ids[0], 100);
	assert_int_equal(f.ids[1], 2);
	assert_int_equal(f.ids[2], 300);
	assert_false(tmr_active(&victim.t));
	assert_true(tmr_active(&spawned.t));
	assert_int_equal(tmr_left(&spawned.t), 25);
	/* the periodic timer re-arms itself relative to the heap's now */
	assert_int_equal(c.periodic_runs, 1);
	for (uint64_t t = 31; t <= 100; t++)
		tmr_heap_advance(&th, t);
	assert_int_equal(c.periodic_runs, 5);
	assert_false(tmr_active(&c.periodic));
	assert_int_equal(f.n, 4);
	assert_int_equal(f.ids[3], 200);
	assert_int_equal(f.at[3], 55);
	assert_int_equal(tmr_heap_count(&th), 0);
	tmr_heap_close(&th);
}

/* A handler cancelling a timer that is due in the same advance stops it firing. */
struct cancel_pair {
	struct tmr a, b;
	int a_runs, b_runs;
};

static void pair_b_h(void *arg)
{
	struct cancel_pair *p = arg;
	p->b_runs++;
}

static void pair_a_h(void *arg)
{
	struct cancel_pair *p = arg;
	p->a_runs++;
	tmr_cancel(&p->b);
}

static void test_cancel_due_timer_in_handler(void **state)
{
	(void)state;
	struct tmr_heap th;
	tmr_heap_init(&th, 0);
	struct cancel_pair p;
	memset(&p, 0, sizeof(p));
	assert_int_equal(tmr_start(&th, &p.a, 5, pair_a_h, &p), 0);
	assert_int_equal(tmr_start(&th, &p.b, 6, pair_b_h, &p), 0);
	tmr_heap_advance(&th, 10);
	assert_int_equal(p.a_runs, 1);
	assert_int_equal(p.b_runs, 0);
	assert_int_equal(tmr_heap_count(&th), 0);
	tmr_heap_close(&th);
}

/* ---- tmr_heap_next, tmr_left ---- */

static void nop_h(void *arg)
{
	(void)arg;
}

static void test_next_and_left(void **state)
{
	(void)state;
	struct tmr_heap th;
	tmr_heap_init(&th, 5000);
	struct tmr a, b;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	assert_int_equal(tmr_heap_next(&th), -1);
	assert_int_equal(tmr_left(&a), 0); /* not armed */
	assert_int_equal(tmr_start(&th, &a, 300, nop_h, NULL), 0);
	assert_int_equal(tmr_start(&th, &b, 120, nop_h, NULL), 0);
	assert_int_equal(tmr_heap_next(&th), 120);
	assert_int_equal(tmr_left(&a), 300);
	assert_int_equal(tmr_left(&b), 120);
	tmr_heap_advance(&th, 5100);
	assert_int_equal(tmr_heap_next(&th), 20);
	assert_int_equal(tmr_left(&a), 200);
	assert_int_equal(tmr_left(&b), 20);
	tmr_cancel(&b);
	assert_int_equal(tmr_heap_next(&th), 200);
	assert_int_equal(tmr_left(&b), 0);
	/* the clock never goes backwards */
	tmr_heap_advance(&th, 10);
	assert_int_equal(th.now, 5100);
	assert_int_equal(tmr_left(&a), 200);
	/* due but not yet advanced past: next is 0 */
	th.now = 5400;
	assert_int_equal(tmr_heap_next(&th), 0);
	assert_int_equal(tmr_left(&a), 0);
	assert_true(tmr_active(&a));
	tmr_heap_advance(&th, 5400);
	assert_false(tmr_active(&a));
	assert_int_equal(tmr_heap_next(&th), -1);
	tmr_heap_close(&th);
}

/* tmr_heap_close disarms what is left, so owners can still cancel safely. */
static void test_close_disarms(void **state)
{
	(void)state;
	struct tmr_heap th;
	tmr_heap_init(&th, 0);
	struct tmr t[100];
	memset(t, 0, sizeof(t));
	for (int i = 0; i < 100; i++)
		assert_int_equal(tmr_start(&th, &t[i], (uint64_t)i, nop_h, NULL), 0);
	assert_int_equal(tmr_heap_count(&th), 100);
	tmr_heap_close(&th);
	for (int i = 0; i < 100; i++) {
		assert_false(tmr_active(&t[i]));
		tmr_cancel(&t[i]);
	}
	assert_int_equal(tmr_heap_count(&th), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_order),
		cmocka_unit_test(test_random_order_one_jump),
		cmocka_unit_test(test_equal_deadlines_fifo),
		cmocka_unit_test(test_rearm_same_deadline_goes_last),
		cmocka_unit_test(test_threads_keep_fifo),
		cmocka_unit_test(test_cancel_middle),
		cmocka_unit_test(test_rearm_moves_deadline),
		cmocka_unit_test(test_handler_arms_and_cancels),
		cmocka_unit_test(test_cancel_due_timer_in_handler),
		cmocka_unit_test(test_next_and_left),
		cmocka_unit_test(test_close_disarms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
