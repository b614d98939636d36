/* Binary min-heap of embedded timers (see timer.h). */
#include "core/timer.h"

#include <errno.h>
#include <stdlib.h>

/* Per thread: every loop thread arms timers, and a shared counter was a data race
 * whose lost updates could move it backwards, breaking arming order for equal
 * deadlines. A heap is only ever used by its own thread, so a counter per thread
 * keeps each heap's sequence increasing. */
static _Thread_local uint64_t tmr_seq_next;

static bool before(const struct tmr *a, const struct tmr *b)
{
	return a->expires < b->expires || (a->expires == b->expires && a->seq < b->seq);
}

static void place(struct tmr_heap *th, size_t i, struct tmr *t)
{
	th->v[i] = t;
	t->idx = i;
}

static void sift_up(struct tmr_heap *th, size_t i)
{
	struct tmr *t = th->v[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!before(t, th->v[p]))
			break;
		place(th, i, th->v[p]);
		i = p;
	}
	place(th, i, t);
}

static void sift_down(struct tmr_heap *th, size_t i)
{
	struct tmr *t = th->v[i];
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		struct tmr *best = t;
		if (l < th->n && before(th->v[l], best)) {
			m = l;
			best = th->v[l];
		}
		if (l + 1 < th->n && before(th->v[l + 1], best)) {
			m = l + 1;
			best = th->v[l + 1];
		}
		if (m == i)
			break;
		place(th, i, best);
		i = m;
	}
	place(th, i, t);
}

void tmr_heap_init(struct tmr_heap *th, uint64_t now)
{
	th->v = NULL;
	th->n = th->cap = 0;
	th->now = now;
}

void tmr_heap_close(struct tmr_heap *th)
{
	for (size_t i = 0; i < th->n; i++)
		th->v[i]->heap = NULL;
	free(th->v);
	th->v = NULL;
	th->n = th->cap = 0;
}

void tmr_cancel(struct tmr *t)
{
	struct tmr_heap *th = t->heap;
	if (!th)
		return;
	size_t i = t->idx;
	t->heap = NULL;
	th->n--;
	if (i == th->n)
		return;
	place(th, i, th->v[th->n]);
	if (i > 0 && before(th->v[i], th->v[(i - 1) / 2]))
		sift_up(th, i);
	else
		sift_down(th, i);
}

int tmr_start(struct tmr_heap *th, struct tmr *t, uint64_t delay_ms, tmr_h *h, void *arg)
{
	tmr_cancel(t);
	if (th->n == th->cap) {
		size_t ncap = th->cap ? th->cap * 2 : 64;
		struct tmr **nv = realloc(th->v, ncap * sizeof(*nv));
		if (!nv)
			return ENOMEM;
		th->v = nv;
		th->cap = ncap;
	}
	t->heap = th;
	t->expires = th->now + delay_ms;
	t->seq = tmr_seq_next++;
	t->h = h;
	t->arg = arg;
	place(th, th->n++, t);
	sift_up(th, t->idx);
	return 0;
}

uint64_t tmr_left(const struct tmr *t)
{
	if (!t->heap || t->expires <= t->heap->now)
		return 0;
	return t->expires - t->heap->now;
}

void tmr_heap_advance(struct tmr_heap *th, uint64_t now)
{
	if (now > th->now)
		th->now = now;
	while (th->n && th->v[0]->expires <= th->now) {
		struct tmr *t = th->v[0];
		tmr_cancel(t);
		t->h(t->arg);
	}
}

int64_t tmr_heap_next(const struct tmr_heap *th)
{
	if (!th->n)
		return -1;
	uint64_t e = th->v[0]->expires;
	return e <= th->now ? 0 : (int64_t)(e - th->now);
}
