/* Worker thread skeleton (see worker.h). */
#include "core/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "core/log.h"

struct worker {
	pthread_t thread;
	struct loop *loop;
	struct mqueue *mq;
	mqueue_h *h;
	void *arg;
	/* Guards `stopping` against worker_push: a message accepted before the stop
	 * message is queued ahead of it and so is handled; none is accepted after.
	 * Held only around a flag test and a queue push. */
	pthread_mutex_t lock;
	bool stopping;
};

static void on_msg(int id, void *data, void *arg)
{
	struct worker *w = arg;
	if (id == WORKER_MSG_STOP) {
		loop_stop(w->loop);
		return;
	}
	w->h(id, data, w->arg);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int e = loop_run(w->loop);
	if (e)
		log_error("worker: loop: %d", e);
	return NULL;
}

static void worker_free(struct worker *w)
{
	if (w->mq)
		mqueue_free(w->mq);
	if (w->loop)
		loop_free(w->loop);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

int worker_start(struct worker **wp, mqueue_h *h, void *arg)
{
	if (!wp || !h)
		return EINVAL;
	struct worker *w = calloc(1, sizeof(*w));
	if (!w)
		return ENOMEM;
	w->h = h;
	w->arg = arg;
	pthread_mutex_init(&w->lock, NULL);
	/* Created before the thread exists; from then on only the thread touches
	 * them (but for pushing, which the queue's own lock guards). */
	int e = loop_alloc(&w->loop);
	if (!e)
		e = mqueue_alloc(&w->mq, w->loop, on_msg, w);
	if (!e)
		e = pthread_create(&w->thread, NULL, worker_main, w);
	if (e) {
		worker_free(w);
		return e;
	}
	*wp = w;
	return 0;
}

int worker_push(struct worker *w, int id, void *data)
{
	if (id == WORKER_MSG_STOP)
		return EINVAL;
	pthread_mutex_lock(&w->lock);
	int e = w->stopping ? ESHUTDOWN : mqueue_push(w->mq, id, data);
	pthread_mutex_unlock(&w->lock);
	return e;
}

struct loop *worker_loop(struct worker *w)
{
	return w->loop;
}

int worker_stop(struct worker *w)
{
	if (!w)
		return 0;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	int e = mqueue_push(w->mq, WORKER_MSG_STOP, NULL);
	pthread_mutex_unlock(&w->lock);
	if (e) {
		log_error("worker: cannot queue stop: %d; leaking the worker", e);
		return e; /* the thread still runs: leaking it beats freeing under it */
	}
	pthread_join(w->thread, NULL);
	/* Nothing is left queued: the stop was the last message accepted, and the
	 * thread handled everything before it. */
	worker_free(w);
	return 0;
}
