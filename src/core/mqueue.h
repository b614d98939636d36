/* Message queue between threads, woken through an eventfd that the receiving
 * thread's loop watches. This is how threads talk in pbxd: they pass messages and
 * never share mutable structs. */
#ifndef CORE_MQUEUE_H
#define CORE_MQUEUE_H

#include "core/loop.h"

struct mqueue;
/* Runs on the receiving thread for each message, in order. */
typedef void (mqueue_h)(int id, void *data, void *arg);

/* Created by the receiving thread, which owns it; handler runs in its loop. */
/* Not reference counted: free with mqueue_free(). */
int mqueue_alloc(struct mqueue **mqp, struct loop *loop, mqueue_h *h, void *arg);
/* Any thread: queues (id, data); data's ownership passes to the handler. */
int mqueue_push(struct mqueue *mq, int id, void *data);
/* The receiving thread handles what is queued now, without waiting for its loop
 * (at shutdown, once the loop has stopped: what other threads sent last is then
 * handled rather than dropped). */
void mqueue_flush(struct mqueue *mq);
/* Drops what is still queued (its data is not freed: flush first). */
void mqueue_free(struct mqueue *mq);

#endif
