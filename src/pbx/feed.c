/* Event feeds (see feed.h): a registry of bounded queues, one per reader, that
 * the signalling thread fills as call events happen, and as devices register
 * and go (the portal's live status).
 *
 * The signalling thread must never wait for a reader. Pushing an event costs a
 * copy of its JSON and a few pointer moves under the registry's lock; a reader
 * that has `max` events waiting gets no more and is told it overran (the API
 * then drops that client): a slow reader loses its feed, it never slows the
 * calls. */
#include "pbx/feed.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <jansson.h>
#include <stdio.h>

#include "core/log.h"
#include "core/mem.h"
#include "pbx/events.h"
#include "pbx/pbx.h"
#include "sip/transport.h"
#include "store/store.h"

struct item {
	struct item *next;
	char json[];
};

struct pbx_feed {
	struct pbx_feed *prev, *next; /* in the registry, while attached */
	struct feeds *reg;            /* NULL once detached */
	uint64_t tenant_id;
	int efd;
	size_t n, max;
	bool overrun;
	struct item *head, *tail;
};

/* Feeds are opened and closed by the API's threads while the signalling thread
 * walks them to push: one lock guards the list and every queue. It is held for
 * a few pointer moves (and, on the signalling thread, a copy of an event). */
struct feeds {
	pthread_mutex_t lock;
	struct pbx_feed *list;
};

static void push(struct pbx_feed *f, const char *json)
{
	if (f->overrun)
		return;
	size_t len = strlen(json);
	struct item *it = f->n < f->max ? malloc(sizeof(*it) + len + 1) : NULL;
	if (!it) {
		f->overrun = true; /* full (or out of memory): the reader is dropped */
	} else {
		memcpy(it->json, json, len + 1);
		it->next = NULL;
		if (f->tail)
			f->tail->next = it;
		else
			f->head = it;
		f->tail = it;
		f->n++;
	}
	uint64_t one = 1;
	if (write(f->efd, &one, sizeof(one)) < 0) {
		/* EAGAIN only at a counter near 2^64: the reader is woken already */
	}
}

/* Why a device went, as a token for programs (location_reason_name() is for logs). */
static const char *reason_token(enum loc_reason why)
{
	switch (why) {
	case LOC_EXPIRED: return "expired";
	case LOC_UNREGISTERED: return "unregistered";
	case LOC_REPLACED: return "replaced";
	case LOC_DROPPED: return "dropped";
	case LOC_ADMIN: return "admin";
	case LOC_UNREACHABLE: return "unreachable";
	case LOC_FLOW_CLOSED: return "flow_closed";
	}
	return "other";
}

/* A device that registered or went: extension_registered or
 * extension_unregistered, with the device as GET /api/users/{id}/devices shows
 * it (id, address, transport, user agent) and, when it went, why. */
static char *device_json(const struct pbx_event *ev)
{
	const struct loc_binding *b = ev->binding;
	char id[24], uid[24], tid[24], addr[64], t[24];
	snprintf(id, sizeof(id), "%llu", (unsigned long long)b->id);
	snprintf(uid, sizeof(uid), "%llu", (unsigned long long)ev->user_id);
	snprintf(tid, sizeof(tid), "%llu", (unsigned long long)ev->tenant_id);
	snprintf(t, sizeof(t), "%lld", (long long)(store_now_ms() / 1000));
	sa_str(&b->peer.addr, addr, sizeof(addr));
	bool reg = ev->kind == PBX_EV_REGISTERED;
	json_t *dev = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "address", addr, "transport",
				sip_transport_name(b->peer.tp), "user_agent", b->user_agent ? b->user_agent : "");
	if (dev && !reg)
		json_object_set_new(dev, "reason", json_string(reason_token(ev->reason)));
	json_t *o = dev ? json_pack("{s:s, s:s, s:s, s:s, s:o, s:s}", "event_type",
				    reg ? "extension_registered" : "extension_unregistered", "tenant_id", tid,
				    "user_id", uid, "extension", ev->extension ? ev->extension : "", "device", dev,
				    "time", t) : NULL;
	char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return txt;
}

static void on_event(const struct pbx_event *ev, void *arg)
{
	struct feeds *r = arg;
	char *dev = NULL;
	const char *json = ev->json;
	if (ev->kind == PBX_EV_REGISTERED || ev->kind == PBX_EV_UNREGISTERED) {
		/* made only when one of the tenant's feeds will read it (a storm of
		 * registrations with nobody watching costs nothing here) */
		bool wanted = false;
		pthread_mutex_lock(&r->lock);
		for (struct pbx_feed *f = r->list; f && !wanted; f = f->next)
			wanted = f->tenant_id == ev->tenant_id;
		pthread_mutex_unlock(&r->lock);
		if (!wanted || !ev->binding)
			return;
		json = dev = device_json(ev);
	} else if (ev->kind != PBX_EV_CALL_START && ev->kind != PBX_EV_CALL_CDR && ev->kind != PBX_EV_CALL_ANSWERED) {
		return;
	}
	if (!json)
		return;
	pthread_mutex_lock(&r->lock);
	for (struct pbx_feed *f = r->list; f; f = f->next) {
		if (f->tenant_id == ev->tenant_id)
			push(f, json);
	}
	pthread_mutex_unlock(&r->lock);
	free(dev);
}

int feeds_alloc(struct feeds **fp, struct pbx_events *ev)
{
	struct feeds *r = calloc(1, sizeof(*r));
	if (!r)
		return ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	int e = pbx_events_subscribe(ev, on_event, r);
	if (e) {
		feeds_free(r);
		return e;
	}
	*fp = r;
	return 0;
}

static void unlink_feed(struct feeds *r, struct pbx_feed *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		r->list = f->next;
	if (f->next)
		f->next->prev = f->prev;
	f->prev = f->next = NULL;
	f->reg = NULL;
}

void feeds_free(struct feeds *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	if (r->list)
		log_error("pbx: event feeds still open at stop; detached");
	while (r->list)
		unlink_feed(r, r->list);
	pthread_mutex_unlock(&r->lock);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

int feeds_open(struct feeds *r, uint64_t tenant_id, size_t max, struct pbx_feed **out)
{
	if (!tenant_id || !max)
		return EINVAL;
	struct pbx_feed *f = calloc(1, sizeof(*f));
	if (!f)
		return ENOMEM;
	f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (f->efd < 0) {
		int e = errno;
		free(f);
		return e;
	}
	f->tenant_id = tenant_id;
	f->max = max;
	pthread_mutex_lock(&r->lock);
	f->reg = r;
	f->next = r->list;
	if (r->list)
		r->list->prev = f;
	r->list = f;
	pthread_mutex_unlock(&r->lock);
	*out = f;
	return 0;
}

int pbx_feed_fd(const struct pbx_feed *f)
{
	return f->efd;
}

/* The registry's lock guards the queue while attached; a detached feed is
 * the reader's alone. */
char *pbx_feed_next(struct pbx_feed *f, bool *overrun)
{
	struct feeds *r = f->reg;
	if (r)
		pthread_mutex_lock(&r->lock);
	struct item *it = f->head;
	if (it) {
		f->head = it->next;
		if (!f->head)
			f->tail = NULL;
		f->n--;
	}
	*overrun = f->overrun;
	if (r)
		pthread_mutex_unlock(&r->lock);
	if (!it)
		return NULL;
	/* The item's text moves to the front of its own allocation: one malloc per event. */
	char *s = (char *)it;
	memmove(s, it->json, strlen(it->json) + 1);
	return s;
}

void pbx_feed_close(struct pbx_feed *f)
{
	if (!f)
		return;
	struct feeds *r = f->reg;
	if (r) {
		pthread_mutex_lock(&r->lock);
		unlink_feed(r, f);
		pthread_mutex_unlock(&r->lock);
	}
	while (f->head) {
		struct item *it = f->head;
		f->head = it->next;
		free(it);
	}
	close(f->efd);
	free(f);
}
