/* The storage worker: a thread with its own loop, queue and database connection,
 * so that threads which must never block (signalling) hand it their writes. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/mem.h"
#include "core/mqueue.h"
#include "store/store.h"

enum { MSG_JOB = 1, MSG_STOP = 2 };

struct job {
	store_job_h *run;
	store_done_h *done;
	void *arg;
	struct mqueue *reply;
	int err;
};

struct store_worker {
	pthread_t thread;
	struct loop *loop;
	struct mqueue *mq;
	struct store *st;
	/* Guards `stopping` against submit: a job accepted before the stop message is
	 * queued ahead of it and so runs; none is accepted after. Held only around a
	 * flag test and a queue push. */
	pthread_mutex_t lock;
	bool stopping;
};

static void job_finish(struct job *j)
{
	if (j->done)
		j->done(j->err, j->arg);
	mem_deref(j);
}

static void on_msg(int id, void *data, void *arg)
{
	struct store_worker *w = arg;
	if (id == MSG_STOP) {
		loop_stop(w->loop);
		return;
	}
	struct job *j = data;
	j->err = j->run(w->st, j->arg);
	if (j->reply && mqueue_push(j->reply, STORE_WORKER_MSG, j) == 0)
		return;
	job_finish(j);
}

static void *worker_main(void *arg)
{
	struct store_worker *w = arg;
	int e = loop_run(w->loop);
	if (e)
		log_error("store worker: loop: %d", e);
	return NULL;
}

static void worker_free(struct store_worker *w)
{
	mqueue_free(w->mq);
	loop_free(w->loop);
	store_close(w->st);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

int store_worker_start(struct store_worker **wp, const char *data_dir)
{
	struct store_worker *w = calloc(1, sizeof(*w));
	if (!w)
		return ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	/* Everything is created here, before the thread exists, so that submit works
	 * as soon as this returns; from then on only the worker thread touches them. */
	int e = store_open(&w->st, data_dir);
	if (!e)
		e = loop_alloc(&w->loop);
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

int store_worker_submit(struct store_worker *w, store_job_h *run, store_done_h *done, void *arg,
			struct mqueue *reply)
{
	if (!run)
		return EINVAL;
	struct job *j = mem_zalloc(sizeof(*j), NULL);
	if (!j)
		return ENOMEM;
	j->run = run;
	j->done = done;
	j->arg = arg;
	j->reply = reply;
	pthread_mutex_lock(&w->lock);
	int e = w->stopping ? ESHUTDOWN : mqueue_push(w->mq, MSG_JOB, j);
	pthread_mutex_unlock(&w->lock);
	if (e)
		mem_deref(j);
	return e;
}

void store_worker_done(void *msg)
{
	job_finish(msg);
}

void store_worker_stop(struct store_worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	int e = mqueue_push(w->mq, MSG_STOP, NULL);
	pthread_mutex_unlock(&w->lock);
	if (e)
		log_error("store worker: cannot queue stop: %d", e);
	else
		pthread_join(w->thread, NULL);
	worker_free(w);
}
