/* The media worker: a thread with its own loop and mqueue that runs relays. The
 * signalling thread creates, queries and destroys them by messages; the worker
 * answers on the mqueue given at creation (see media.h). */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/list.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/mem.h"
#include "core/mqueue.h"
#include "media/media.h"
#include "media/sockep.h"

const struct conf_opt media_opts[] = {
	{ "rtp-address", CONF_STR, "0.0.0.0", 0, 0, NULL,
	  "numeric address the RTP/RTCP sockets bind to (0.0.0.0: all IPv4 addresses, :: for IPv6)" },
	{ "rtp-ports", CONF_STR, "20000-30000", 0, 0, NULL,
	  "MIN-MAX: RTP ports (even) and RTCP ports (RTP + 1) are taken from this range" },
	{ "media-threads", CONF_INT, "1", 1, 1, NULL,
	  "media worker threads relaying RTP; one for now (several are planned)" },
};
const size_t media_opts_count = sizeof(media_opts) / sizeof(media_opts[0]);

enum { MSG_CREATE = 1, MSG_DESTROY, MSG_STATS, MSG_STOP };

struct relay {
	struct le le;
	uint64_t id;
	struct mqueue *reply;
	struct media_sockpair sp[2];
	struct media_sockep side[2];
	bool listening;
};

/* What a create message carries (refcounted: mqueue data). */
struct create {
	uint64_t id;
	struct media_sockpair sp[2];
	struct media_hint hints[2];
	bool has_hints;
	struct mqueue *reply;
};

struct idmsg {
	uint64_t id;
};

struct media_worker {
	pthread_t thread;
	struct loop *loop;
	struct mqueue *mq;
	/* Relays by creation; looked up linearly by id (a hash table when a worker
	 * runs thousands; only control messages search it, never packets). */
	struct list relays;
	struct media_batch *batch;
	/* Guards `stopping` against the push functions, as in the storage worker:
	 * nothing is queued after the stop message. */
	pthread_mutex_t lock;
	bool stopping;
};

static struct relay *relay_find(struct media_worker *w, uint64_t id)
{
	for (struct le *le = w->relays.head; le; le = le->next) {
		struct relay *r = le->data;
		if (r->id == id)
			return r;
	}
	return NULL;
}

static void relay_unlisten(struct media_worker *w, struct relay *r)
{
	for (int i = 0; i < 2; i++) {
		loop_fd_close(w->loop, r->sp[i].rtp);
		loop_fd_close(w->loop, r->sp[i].rtcp);
	}
	r->listening = false;
}

static int relay_listen(struct media_worker *w, struct relay *r)
{
	r->listening = true;
	for (int i = 0; i < 2; i++) {
		for (int c = 0; c < MEDIA_COMP_COUNT; c++) {
			struct media_sock *k = &r->side[i].sock[c];
			int e = loop_fd_listen(w->loop, k->fd, LOOP_READ, media_sockep_readable, k);
			if (e) {
				relay_unlisten(w, r);
				return e;
			}
		}
	}
	return 0;
}

static void report(struct relay *r, int id, int err, bool give_sockets)
{
	struct media_relay_report *rep = mem_zalloc(sizeof(*rep), NULL);
	if (rep) {
		rep->id = r->id;
		rep->err = err;
		for (int i = 0; i < 2; i++) {
			rep->stats[i] = r->side[i].st;
			rep->side[i] = give_sockets ? r->sp[i]
						    : (struct media_sockpair){ .rtp = -1, .rtcp = -1 };
		}
		if (mqueue_push(r->reply, id, rep) == 0)
			return;
		mem_deref(rep);
	}
	log_error("media: cannot answer for relay %llu", (unsigned long long)r->id);
	/* The caller will not get the sockets back; at least they do not leak. */
	if (give_sockets) {
		for (int i = 0; i < 2; i++) {
			close(r->sp[i].rtp);
			close(r->sp[i].rtcp);
		}
	}
}

/* A hint must be of the socket's family: sendmmsg to another would fail on
 * every packet. */
static int hint_check(const struct media_hint *h, int fd)
{
	struct sa local = { .len = sizeof(local.u) };
	if (getsockname(fd, &local.u.sa, &local.len) < 0)
		return errno;
	if ((h->rtp.len && sa_af(&h->rtp) != sa_af(&local)) ||
	    (h->rtcp.len && sa_af(&h->rtcp) != sa_af(&local)))
		return EAFNOSUPPORT;
	return 0;
}

static void on_create(struct media_worker *w, struct create *c)
{
	struct relay tmp = { .id = c->id, .reply = c->reply, .sp = { c->sp[0], c->sp[1] } };
	int e = relay_find(w, c->id) ? EEXIST : 0;
	for (int i = 0; i < 2 && !e && c->has_hints; i++)
		e = hint_check(&c->hints[i], c->sp[i].rtp);
	struct relay *r = e ? NULL : calloc(1, sizeof(*r));
	if (!e && !r)
		e = ENOMEM;
	if (!e) {
		*r = tmp;
		for (int i = 0; i < 2; i++)
			media_sockep_init(&r->side[i], &c->sp[i], c->has_hints ? &c->hints[i] : NULL,
					  w->batch);
		/* The relay is nothing more than this: each side's peer is the other. */
		r->side[0].ep.peer = &r->side[1].ep;
		r->side[1].ep.peer = &r->side[0].ep;
		e = relay_listen(w, r);
	}
	if (e) {
		report(&tmp, MEDIA_MSG_DONE, e, true);
		free(r);
		return;
	}
	list_append(&w->relays, &r->le, r);
}

static void relay_free(struct media_worker *w, struct relay *r)
{
	relay_unlisten(w, r);
	list_unlink(&r->le);
	free(r);
}

static void on_msg(int id, void *data, void *arg)
{
	struct media_worker *w = arg;
	switch (id) {
	case MSG_CREATE:
		on_create(w, data);
		break;
	case MSG_DESTROY:
	case MSG_STATS: {
		uint64_t rid = ((struct idmsg *)data)->id;
		struct relay *r = relay_find(w, rid);
		if (!r) {
			log_warn("media: no relay %llu", (unsigned long long)rid);
			break;
		}
		if (id == MSG_STATS) {
			report(r, MEDIA_MSG_STATS, 0, false);
			break;
		}
		relay_unlisten(w, r);
		report(r, MEDIA_MSG_DONE, 0, true);
		relay_free(w, r);
		break;
	}
	case MSG_STOP:
		loop_stop(w->loop);
		break;
	}
	mem_deref(data);
}

static void *worker_main(void *arg)
{
	struct media_worker *w = arg;
	int e = loop_run(w->loop);
	if (e)
		log_error("media worker: loop: %d", e);
	return NULL;
}

static void worker_free(struct media_worker *w)
{
	/* Relays left running at stop: their sockets close with them. */
	while (w->relays.head) {
		struct relay *r = w->relays.head->data;
		for (int i = 0; i < 2; i++) {
			close(r->sp[i].rtp);
			close(r->sp[i].rtcp);
		}
		relay_free(w, r);
	}
	mqueue_free(w->mq);
	loop_free(w->loop);
	free(w->batch);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

int media_worker_start(struct media_worker **wp)
{
	struct media_worker *w = calloc(1, sizeof(*w));
	if (!w)
		return ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	/* Created before the thread exists, so the push functions work as soon as
	 * this returns; from then on only the worker thread touches them. */
	w->batch = calloc(1, sizeof(*w->batch));
	int e = w->batch ? 0 : ENOMEM;
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

static int push(struct media_worker *w, int id, void *data)
{
	pthread_mutex_lock(&w->lock);
	int e = w->stopping ? ESHUTDOWN : mqueue_push(w->mq, id, data);
	pthread_mutex_unlock(&w->lock);
	if (e)
		mem_deref(data);
	return e;
}

void media_worker_stop(struct media_worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	int e = mqueue_push(w->mq, MSG_STOP, NULL);
	pthread_mutex_unlock(&w->lock);
	if (e) {
		log_error("media worker: cannot queue stop: %d", e);
		return; /* the thread still runs: leaking it beats freeing under it */
	}
	pthread_join(w->thread, NULL);
	/* Messages queued before the stop but after the loop's last pass. */
	mqueue_flush(w->mq);
	worker_free(w);
}

int media_relay_create(struct media_worker *w, uint64_t id, const struct media_sockpair side[2],
		       const struct media_hint hints[2], struct mqueue *reply)
{
	if (!side || !reply)
		return EINVAL;
	struct create *c = mem_zalloc(sizeof(*c), NULL);
	if (!c)
		return ENOMEM;
	c->id = id;
	c->sp[0] = side[0];
	c->sp[1] = side[1];
	if (hints) {
		c->hints[0] = hints[0];
		c->hints[1] = hints[1];
		c->has_hints = true;
	}
	c->reply = reply;
	return push(w, MSG_CREATE, c);
}

static int push_id(struct media_worker *w, int msg, uint64_t id)
{
	struct idmsg *m = mem_zalloc(sizeof(*m), NULL);
	if (!m)
		return ENOMEM;
	m->id = id;
	return push(w, msg, m);
}

int media_relay_destroy(struct media_worker *w, uint64_t id)
{
	return push_id(w, MSG_DESTROY, id);
}

int media_relay_stats(struct media_worker *w, uint64_t id)
{
	return push_id(w, MSG_STATS, id);
}
