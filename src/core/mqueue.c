/* Thread-to-thread message queue (see mqueue.h). */
#include "core/mqueue.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct mq_item {
	struct mq_item *next;
	int id;
	void *data;
};

struct mqueue {
	/* The one lock of the queue: producers on any thread append while the owner
	 * drains. It guards only the two list pointers and is held for a few
	 * instructions. */
	pthread_mutex_t lock;
	struct mq_item *head, *tail;
	int efd;
	struct loop *loop;
	mqueue_h *h;
	void *arg;
};

static void mqueue_drain(int fd, int events, void *arg)
{
	struct mqueue *mq = arg;
	uint64_t cnt;
	ssize_t r = read(fd, &cnt, sizeof(cnt));
	(void)r;
	pthread_mutex_lock(&mq->lock);
	struct mq_item *it = mq->head;
	mq->head = mq->tail = NULL;
	pthread_mutex_unlock(&mq->lock);
	while (it) {
		struct mq_item *next = it->next;
		mq->h(it->id, it->data, mq->arg);
		free(it);
		it = next;
	}
}

int mqueue_alloc(struct mqueue **mqp, struct loop *loop, mqueue_h *h, void *arg)
{
	struct mqueue *mq = calloc(1, sizeof(*mq));
	if (!mq)
		return ENOMEM;
	pthread_mutex_init(&mq->lock, NULL);
	mq->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (mq->efd < 0) {
		int e = errno;
		free(mq);
		return e;
	}
	mq->loop = loop;
	mq->h = h;
	mq->arg = arg;
	int e = loop_fd_listen(loop, mq->efd, LOOP_READ, mqueue_drain, mq);
	if (e) {
		close(mq->efd);
		free(mq);
		return e;
	}
	*mqp = mq;
	return 0;
}

int mqueue_push(struct mqueue *mq, int id, void *data)
{
	struct mq_item *it = malloc(sizeof(*it));
	if (!it)
		return ENOMEM;
	it->next = NULL;
	it->id = id;
	it->data = data;
	pthread_mutex_lock(&mq->lock);
	if (mq->tail)
		mq->tail->next = it;
	else
		mq->head = it;
	mq->tail = it;
	pthread_mutex_unlock(&mq->lock);
	uint64_t one = 1;
	ssize_t w = write(mq->efd, &one, sizeof(one));
	(void)w;
	return 0;
}

void mqueue_flush(struct mqueue *mq)
{
	mqueue_drain(mq->efd, LOOP_READ, mq);
}

void mqueue_free(struct mqueue *mq)
{
	if (!mq)
		return;
	loop_fd_close(mq->loop, mq->efd);
	close(mq->efd);
	struct mq_item *it = mq->head;
	while (it) {
		struct mq_item *next = it->next;
		free(it);
		it = next;
	}
	pthread_mutex_destroy(&mq->lock);
	free(mq);
}
