/* Timers on a binary min-heap. A timer is embedded in its owner (a transaction has
 * its timers inside it), so arming never allocates; start and cancel are O(log n).
 * The heap's clock is whatever its owner sets: the event loop feeds it monotonic
 * milliseconds, tests feed it a virtual clock. */
#ifndef CORE_TIMER_H
#define CORE_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tmr;
typedef void (tmr_h)(void *arg);

struct tmr_heap {
	struct tmr **v;
	size_t n, cap;
	uint64_t now; /* milliseconds */
};

struct tmr {
	struct tmr_heap *heap; /* NULL when not armed */
	uint64_t expires;
	uint64_t seq; /* equal deadlines fire in arming order */
	size_t idx;
	tmr_h *h;
	void *arg;
};

void tmr_heap_init(struct tmr_heap *th, uint64_t now);
void tmr_heap_close(struct tmr_heap *th);
/* Arms (or re-arms) t to fire delay_ms from the heap's now. */
int tmr_start(struct tmr_heap *th, struct tmr *t, uint64_t delay_ms, tmr_h *h, void *arg);
void tmr_cancel(struct tmr *t);
static inline bool tmr_active(const struct tmr *t) { return t->heap != NULL; }
/* Milliseconds until t fires (0 if due or not armed). */
uint64_t tmr_left(const struct tmr *t);
/* Sets now and fires every timer due by it; a handler may arm or cancel timers. */
void tmr_heap_advance(struct tmr_heap *th, uint64_t now);
/* Milliseconds until the next deadline, or -1 when no timer is armed. */
int64_t tmr_heap_next(const struct tmr_heap *th);
static inline size_t tmr_heap_count(const struct tmr_heap *th) { return th->n; }

#endif
