/* The storage worker: a thread with its own loop, queue and database connection,
 * so that threads which must never block (signalling) hand it their writes. */
#include <errno.h>
#include <stdlib.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/mqueue.h"
#include "core/worker.h"
#include "store/store.h"

enum { MSG_JOB = 1 };

struct job {
	store_job_h *run;
	store_done_h *done;
	void *arg;
	struct mqueue *reply;
	int err;
};

struct store_worker {
	/* Jobs accepted before the stop run; none is accepted after (worker.h). */
	struct worker *wk;
	struct store *st;
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
	(void)id; /* MSG_JOB, the only one */
	struct job *j = data;
	j->err = j->run(w->st, j->arg);
	if (j->reply && mqueue_push(j->reply, STORE_WORKER_MSG, j) == 0)
		return;
	job_finish(j);
}

int store_worker_start(struct store_worker **wp, const char *data_dir)
{
	struct store_worker *w = calloc(1, sizeof(*w));
	if (!w)
		return ENOMEM;
	/* Everything is created here, before the thread exists, so that submit works
	 * as soon as this returns; from then on only the worker thread touches it. */
	int e = store_open(&w->st, data_dir);
	if (!e)
		e = worker_start(&w->wk, on_msg, w);
	if (e) {
		store_close(w->st);
		free(w);
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
	int e = worker_push(w->wk, MSG_JOB, j);
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
	if (worker_stop(w->wk)) {
		/* The thread still runs with w and its connection: leak them. */
		log_error("store worker: not stopped; leaking it");
		return;
	}
	store_close(w->st);
	free(w);
}
