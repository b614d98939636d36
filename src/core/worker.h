/* A worker thread: its own loop and mqueue, fed by messages from any thread. The
 * skeleton shared by the storage and media workers; what a worker does is its
 * message handler. */
#ifndef CORE_WORKER_H
#define CORE_WORKER_H

#include <limits.h>

#include "core/loop.h"
#include "core/mqueue.h"

/* The mqueue id worker_stop() uses; the handler never sees it, and users' ids
 * must differ from it. */
enum { WORKER_MSG_STOP = INT_MIN };

struct worker;

/* Creates the loop and the mqueue, then the thread, so worker_push() works as
 * soon as this returns. h(id, data, arg) runs on the worker thread for each
 * message, in order. Free with worker_stop(). */
int worker_start(struct worker **wp, mqueue_h *h, void *arg);
/* Any thread: queues (id, data); data's ownership passes to the handler, but
 * stays the caller's on error. ESHUTDOWN once worker_stop() has begun: every
 * message accepted is queued before the stop and so is handled. */
int worker_push(struct worker *w, int id, void *data);
/* The worker's loop, for the handler to watch file descriptors in (worker
 * thread only, as any loop). */
struct loop *worker_loop(struct worker *w);
/* Handles every message already pushed, stops and joins the thread, frees the
 * worker; 0. If the stop cannot be queued the thread still runs: this logs it,
 * leaks the worker rather than free what the thread uses, and returns the
 * error (the caller must then leak what its handler uses, too). NULL: 0. */
int worker_stop(struct worker *w);

#endif
