/* The media worker: a thread with its own loop and mqueue that runs relays. The
 * signalling thread creates, queries and destroys them by messages; the worker
 * answers on the mqueue given at creation (see media.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/list.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/mem.h"
#include "core/mqueue.h"
#include "core/worker.h"
#include "media/media.h"
#include "media/sockep.h"
#include "media/webrtc.h"
#include "media/uring.h"
#include "media/xcode.h"

const struct conf_opt media_opts[] = {
	{ "rtp-address", CONF_STR, "", 0, 0, NULL,
	  "numeric address the RTP/RTCP sockets bind to and SDP names; unset: the --sip-address when it is"
	  " one address, else every IPv4 address (0.0.0.0, with SDP naming the address each leg's"
	  " signalling reached)" },
	{ "rtp-ports", CONF_STR, "20000-30000", 0, 0, NULL,
	  "MIN-MAX: RTP ports (even) and RTCP ports (RTP + 1) are taken from this range" },
	{ "media-io-uring", CONF_BOOL, "on", 0, 0, NULL,
	  "media workers receive and send through io_uring where the kernel allows it (fewer system calls per"
	  " packet); off: epoll with recvmmsg/sendmmsg" },
	{ "media-threads", CONF_INT, "1", 1, MEDIA_WORKERS_MAX, NULL,
	  "media worker threads relaying RTP; calls are spread over them in turn (one per core the media"
	  " needs: a worker relays about a core's worth of packets)" },
};
const size_t media_opts_count = sizeof(media_opts) / sizeof(media_opts[0]);

enum { MSG_CREATE = 1, MSG_DESTROY, MSG_STATS, MSG_HINT, MSG_DTMF, MSG_WEBRTC, MSG_CODECS };

struct relay {
	struct le le;
	uint64_t id;
	struct mqueue *reply;
	uint32_t te_clock[2];
	struct media_sockpair sp[2];
	struct media_sockep side[2];
	struct media_webrtc *wr[2]; /* a browser's side, or NULL */
	struct media_xcode *xc[2];  /* what side i sends, transcoded for the other; or NULL */
};

/* What a create message carries (refcounted: mqueue data). */
struct create {
	uint64_t id;
	struct media_sockpair sp[2];
	struct media_hint hints[2];
	bool has_hints;
	struct media_webrtc_params wr[2];
	bool has_wr[2];
	struct media_dtls_cert *cert;
	struct mqueue *reply;
};

struct idmsg {
	uint64_t id;
};

struct webrtcmsg {
	uint64_t id;
	int side;
	struct media_webrtc_params p;
	struct media_dtls_cert *cert;
};

struct codecsmsg {
	uint64_t id;
	struct media_codec_side side[2];
};

struct hintmsg {
	uint64_t id;
	int side;
	struct media_hint hint;
	int pt;          /* MSG_DTMF */
	uint32_t clock;
};

struct media_worker {
	/* Thread, loop and queue; nothing is queued after the stop (worker.h). */
	struct worker *wk;
	/* Relays by creation; looked up linearly by id (a hash table when a worker
	 * runs thousands; only control messages search it, never packets). */
	struct list relays;
	struct media_batch *batch;
	struct media_batch *scratch; /* transcoders' output (delivery is synchronous: one serves all) */
	bool want_uring, uring_tried;
	struct media_uring *uring;   /* packet I/O through io_uring, or NULL: epoll (uring.h) */
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
		for (int c = 0; c < MEDIA_COMP_COUNT; c++) {
			struct media_sock *k = &r->side[i].sock[c];
			if (k->uslot)
				media_uring_unlisten(w->uring, k);
			else
				loop_fd_close(worker_loop(w->wk), k->fd);
		}
	}
}

/* The first relay decides how this worker reads and writes packets: through
 * io_uring when it is wanted and the kernel has it, else with epoll. On the
 * worker's thread: the receives it submits run their work here. */
static void io_choose(struct media_worker *w)
{
	if (w->uring_tried)
		return;
	w->uring_tried = true;
	if (!w->want_uring)
		return;
	int e = media_uring_alloc(&w->uring, worker_loop(w->wk), w->batch);
	if (e) {
		log_info("media worker: io_uring not available (%s): epoll and recvmmsg/sendmmsg", strerror(e));
		return;
	}
	w->batch->uring = w->uring;
}

static int relay_listen(struct media_worker *w, struct relay *r)
{
	io_choose(w);
	for (int i = 0; i < 2; i++) {
		for (int c = 0; c < MEDIA_COMP_COUNT; c++) {
			struct media_sock *k = &r->side[i].sock[c];
			/* A socket the ring cannot take (its table full) is read on
			 * epoll wake-ups; what it relays still leaves through the ring. */
			int e = w->uring ? media_uring_listen(w->uring, k) : -1;
			if (e)
				e = loop_fd_listen(worker_loop(w->wk), k->fd, LOOP_READ, media_sockep_readable, k);
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
		for (int i = 0; i < 2; i++)
			media_sockpair_close(&r->sp[i]);
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

/* The relay is nothing more than this: each side's peer is the other, through
 * a browser side's decryption and encryption, and a transcoder when the sides
 * send different codecs. */
static void relay_wire(struct relay *r)
{
	for (int i = 0; i < 2; i++) {
		struct media_endpoint *far = r->wr[1 - i] ? media_webrtc_out(r->wr[1 - i]) : &r->side[1 - i].ep;
		if (r->xc[i]) {
			media_xcode_far_set(r->xc[i], far);
			far = media_xcode_ep(r->xc[i]);
		}
		if (r->wr[i])
			media_webrtc_far_set(r->wr[i], far);
		else
			r->side[i].ep.peer = far;
	}
}

/* New codecs of the sides: transcoders made (or dropped) to match. */
static void on_codecs(struct media_worker *w, const struct codecsmsg *m)
{
	struct relay *r = relay_find(w, m->id);
	if (!r)
		return;
	const struct media_codec_side *s = m->side;
	bool want = media_codec_transcodable(s[0].codec, s[1].codec);
	struct media_xcode *nx[2] = { NULL, NULL };
	for (int i = 0; i < 2 && want; i++) {
		int e = media_xcode_alloc(&nx[i], &s[i], &s[1 - i], w->scratch);
		if (e) {
			log_warn("media: relay %llu: no transcoder: %s", (unsigned long long)m->id, strerror(e));
			media_xcode_free(nx[0]);
			return;
		}
	}
	for (int i = 0; i < 2; i++) {
		media_xcode_free(r->xc[i]);
		r->xc[i] = nx[i];
	}
	relay_wire(r);
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
			media_sockep_init(&r->side[i], &c->sp[i],
					  c->has_hints && !c->has_wr[i] ? &c->hints[i] : NULL, w->batch);
		for (int i = 0; i < 2 && !e; i++) {
			if (c->has_wr[i])
				e = media_webrtc_alloc(&r->wr[i], &c->wr[i], c->cert, &r->side[i],
						       loop_timers(worker_loop(w->wk)));
		}
		if (!e)
			relay_wire(r);
		if (!e)
			e = relay_listen(w, r);
	}
	if (e) {
		report(&tmp, MEDIA_MSG_DONE, e, true);
		if (r) {
			for (int i = 0; i < 2; i++)
				media_webrtc_free(r->wr[i]);
		}
		free(r);
		return;
	}
	list_append(&w->relays, &r->le, r);
}

static void on_webrtc(struct media_worker *w, struct webrtcmsg *m)
{
	struct relay *r = relay_find(w, m->id);
	if (!r) {
		log_warn("media: no relay %llu", (unsigned long long)m->id);
		return;
	}
	if (r->wr[m->side] && media_webrtc_update(r->wr[m->side], &m->p) == 0)
		return;
	struct media_webrtc *nw = NULL;
	int e = media_webrtc_alloc(&nw, &m->p, m->cert, &r->side[m->side], loop_timers(worker_loop(w->wk)));
	if (e) {
		log_warn("media: relay %llu: no WebRTC side: %s", (unsigned long long)m->id, strerror(e));
		return;
	}
	media_webrtc_free(r->wr[m->side]);
	r->wr[m->side] = nw;
	relay_wire(r);
}

static const char dtmf_chars[] = "0123456789*#ABCD!";

static void on_dtmf(struct media_sockep *s, uint8_t event, uint16_t duration, void *arg)
{
	struct relay *r = arg;
	int side = s == &r->side[0] ? 0 : 1;
	struct media_dtmf *d = mem_zalloc(sizeof(*d), NULL);
	if (!d)
		return;
	d->id = r->id;
	d->side = side;
	d->digit = event < sizeof(dtmf_chars) - 1 ? dtmf_chars[event] : '?';
	d->duration_ms = r->te_clock[side] ? (uint32_t)duration * 1000u / r->te_clock[side] : 0;
	if (mqueue_push(r->reply, MEDIA_MSG_DTMF, d))
		mem_deref(d);
}

/* After relay_unlisten (and the report that gave the sockets back). */
static void relay_free(struct relay *r)
{
	for (int i = 0; i < 2; i++) {
		media_webrtc_free(r->wr[i]);
		media_xcode_free(r->xc[i]);
	}
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
	case MSG_HINT: {
		struct hintmsg *m = data;
		struct relay *r = relay_find(w, m->id);
		if (!r)
			log_warn("media: no relay %llu", (unsigned long long)m->id);
		else if (!r->wr[m->side] && hint_check(&m->hint, r->sp[m->side].rtp) == 0)
			media_sockep_hint(&r->side[m->side], &m->hint);
		break;
	}
	case MSG_DTMF: {
		struct hintmsg *m = data;
		struct relay *r = relay_find(w, m->id);
		if (!r)
			break;
		struct media_sockep *s = &r->side[m->side];
		s->te_pt = m->pt;
		s->te_seen = false;
		s->dtmf = on_dtmf;
		s->dtmf_arg = r;
		r->te_clock[m->side] = m->clock;
		break;
	}
	case MSG_WEBRTC:
		on_webrtc(w, data);
		break;
	case MSG_CODECS:
		on_codecs(w, data);
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
		/* Off the loop before the sockets go back: once the caller has them
		 * it closes them, and their numbers may at once belong to new sockets
		 * (another relay's here); a late EPOLL_CTL_DEL would then remove
		 * those, or fail on a descriptor still open elsewhere and leave a
		 * stale registration that makes the next listen on it fail. */
		relay_unlisten(w, r);
		report(r, MEDIA_MSG_DONE, 0, true);
		relay_free(r);
		break;
	}
	}
	mem_deref(data);
}

/* After the thread is joined (the loop is gone, nothing to unlisten from):
 * relays left running at stop close their sockets. */
static void worker_free(struct media_worker *w)
{
	media_uring_free(w->uring);
	while (w->relays.head) {
		struct relay *r = w->relays.head->data;
		list_unlink(&r->le);
		for (int i = 0; i < 2; i++) {
			media_webrtc_free(r->wr[i]);
			media_xcode_free(r->xc[i]);
			media_sockpair_close(&r->sp[i]);
		}
		free(r);
	}
	free(w->batch);
	free(w->scratch);
	free(w);
}

int media_worker_start(struct media_worker **wp)
{
	return media_worker_start_io(wp, true);
}

int media_worker_start_io(struct media_worker **wp, bool uring)
{
	struct media_worker *w = calloc(1, sizeof(*w));
	if (!w)
		return ENOMEM;
	w->want_uring = uring;
	/* Created before the thread exists, so the push functions work as soon as
	 * this returns; from then on only the worker thread touches them. */
	w->batch = calloc(1, sizeof(*w->batch));
	w->scratch = calloc(1, sizeof(*w->scratch));
	int e = w->batch && w->scratch ? 0 : ENOMEM;
	if (w->batch)
		media_batch_init(w->batch);
	if (!e)
		e = worker_start(&w->wk, on_msg, w);
	if (e) {
		worker_free(w);
		return e;
	}
	*wp = w;
	return 0;
}

static int push(struct media_worker *w, int id, void *data)
{
	int e = worker_push(w->wk, id, data);
	if (e)
		mem_deref(data);
	return e;
}

void media_worker_stop(struct media_worker *w)
{
	if (!w)
		return;
	if (worker_stop(w->wk)) {
		/* The thread still runs with w and its relays: leak them. */
		log_error("media worker: not stopped; leaking it");
		return;
	}
	worker_free(w);
}

static void create_destroy(void *arg)
{
	struct create *c = arg;
	mem_deref(c->cert);
}

int media_relay_create(struct media_worker *w, uint64_t id, const struct media_sockpair side[2],
		       const struct media_hint hints[2], struct mqueue *reply)
{
	return media_relay_create_webrtc(w, id, side, hints, NULL, NULL, reply);
}

int media_relay_create_webrtc(struct media_worker *w, uint64_t id, const struct media_sockpair side[2],
			      const struct media_hint hints[2], const struct media_webrtc_params *webrtc[2],
			      struct media_dtls_cert *cert, struct mqueue *reply)
{
	if (!side || !reply || (webrtc && (webrtc[0] || webrtc[1]) && !cert))
		return EINVAL;
	struct create *c = mem_zalloc(sizeof(*c), create_destroy);
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
	for (int i = 0; webrtc && i < 2; i++) {
		if (webrtc[i]) {
			c->wr[i] = *webrtc[i];
			c->has_wr[i] = true;
		}
	}
	c->cert = mem_ref(cert);
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

int media_relay_hint(struct media_worker *w, uint64_t id, int side, const struct media_hint *hint)
{
	if (side < 0 || side > 1 || !hint)
		return EINVAL;
	struct hintmsg *m = mem_zalloc(sizeof(*m), NULL);
	if (!m)
		return ENOMEM;
	*m = (struct hintmsg){ .id = id, .side = side, .hint = *hint };
	return push(w, MSG_HINT, m);
}

static void webrtcmsg_destroy(void *arg)
{
	struct webrtcmsg *m = arg;
	mem_deref(m->cert);
}

int media_relay_webrtc(struct media_worker *w, uint64_t id, int side, const struct media_webrtc_params *p,
		       struct media_dtls_cert *cert)
{
	if (side < 0 || side > 1 || !p || !cert)
		return EINVAL;
	struct webrtcmsg *m = mem_zalloc(sizeof(*m), webrtcmsg_destroy);
	if (!m)
		return ENOMEM;
	m->id = id;
	m->side = side;
	m->p = *p;
	m->cert = mem_ref(cert);
	return push(w, MSG_WEBRTC, m);
}

int media_relay_codecs(struct media_worker *w, uint64_t id, const struct media_codec_side side[2])
{
	for (int i = 0; i < 2; i++) {
		if (side[i].pt < -1 || side[i].pt > 127 || side[i].te_pt < -1 || side[i].te_pt > 127)
			return EINVAL;
	}
	struct codecsmsg *m = mem_zalloc(sizeof(*m), NULL);
	if (!m)
		return ENOMEM;
	m->id = id;
	m->side[0] = side[0];
	m->side[1] = side[1];
	return push(w, MSG_CODECS, m);
}

int media_relay_dtmf(struct media_worker *w, uint64_t id, int side, int pt, uint32_t clock)
{
	if (side < 0 || side > 1 || pt < -1 || pt > 127)
		return EINVAL;
	struct hintmsg *m = mem_zalloc(sizeof(*m), NULL);
	if (!m)
		return ENOMEM;
	*m = (struct hintmsg){ .id = id, .side = side, .pt = pt, .clock = clock };
	return push(w, MSG_DTMF, m);
}
