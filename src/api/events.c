/* GET /api/events: a tenant administrator's WebSocket stream of the tenant's
 * call events (call_start, call_cdr), each a text frame holding the event's JSON,
 * the same object the webhooks POST (CDR §Push CDR to WebSocket Subscriber), and
 * of its devices registering and going (extension_registered/unregistered).
 *
 * The request is routed and authorized as any other (router.c; browsers cannot
 * set headers on a WebSocket, so the token may come as ?token=). Its answer is
 * 101, and libmicrohttpd hands the socket over (http.c). From there one thread
 * of the API, the hub, serves every such connection in its own loop
 * (core/worker): each has a feed from the PBX (pbx_feed_open, a bounded queue
 * the signalling thread fills without waiting) and an output buffer. Events are
 * taken from the feed only while the client reads what was sent; one that stops
 * reading lets its feed fill up, and is dropped when the feed overruns (close
 * 1013). Every --events-ping-interval the hub pings the client and checks the token again:
 * a session that ended (signed out, password changed, disabled, no longer an
 * administrator) ends the stream (close 1008). */
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/api_int.h"
#include "core/ws.h"
#include "core/list.h"
#include "core/log.h"
#include "core/worker.h"
#include "pbx/pbx.h"

#define WS_MAX_CONNS 64       /* streams at once, all tenants */
#define WS_FEED_MAX 256       /* events waiting for one client before it is dropped */
#define WS_IN_MAX 4096        /* a client frame's payload; clients have little to say */
#define WS_OUT_LOW (64 * 1024) /* take more events only while less than this is unsent */
/* --events-ping-interval (30 s): a ping and a check of the session each time;
 * nothing from the client in three of them and it is gone. */
#define WS_PING_MS(hub) ((hub)->api->ws_ping_ms)
#define WS_SILENCE_MS(hub) (3 * WS_PING_MS(hub))

enum { MSG_ADOPT = 1, MSG_CLOSE_ALL };

struct api_ws {
	struct api *api;
	struct worker *worker;
	/* Connections are adopted on MHD's threads and end on the hub's: the lock
	 * guards the count and the stop flag, for a test and an increment. */
	pthread_mutex_t lock;
	int count;
	bool stopping;
	struct list conns; /* hub thread */
};

struct ws_conn {
	struct le le;
	struct api_ws *hub;
	int fd;
	struct MHD_UpgradeResponseHandle *urh;
	struct pbx_feed *feed;
	uint64_t tenant_id;
	char authorization[API_AUTH_SZ]; /* checked again at each ping */
	uint8_t in[WS_IN_MAX + 14];
	size_t in_len;
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	bool closing; /* a close frame is queued: end once it is sent */
	bool writing; /* watching for writability */
	uint64_t last_in;
	struct tmr ping_tmr;
};

/* --- connections (hub thread) ----------------------------------------------------------- */

static struct loop *hub_loop(const struct ws_conn *c)
{
	return worker_loop(c->hub->worker);
}

static void conn_end(struct ws_conn *c)
{
	struct api_ws *hub = c->hub;
	tmr_cancel(&c->ping_tmr);
	if (c->le.list)
		list_unlink(&c->le);
	loop_fd_close(hub_loop(c), c->fd);
	loop_fd_close(hub_loop(c), pbx_feed_fd(c->feed));
	pbx_feed_close(c->feed);
	MHD_upgrade_action(c->urh, MHD_UPGRADE_ACTION_CLOSE);
	free(c->out);
	free(c);
	pthread_mutex_lock(&hub->lock);
	hub->count--;
	pthread_mutex_unlock(&hub->lock);
}

/* Queues a frame; ENOMEM ends nothing by itself (the caller decides). */
static int queue_frame(struct ws_conn *c, enum ws_opcode op, const void *payload, size_t len)
{
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	size_t need = c->out_len + 10 + len;
	if (need > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		while (cap < need)
			cap *= 2;
		uint8_t *b = realloc(c->out, cap);
		if (!b)
			return ENOMEM;
		c->out = b;
		c->out_cap = cap;
	}
	c->out_len += ws_frame_header(c->out + c->out_len, op, len);
	if (len)
		memcpy(c->out + c->out_len, payload, len);
	c->out_len += len;
	return 0;
}

static void on_socket(int fd, int events, void *arg);

/* Sends what it can; ends the connection on an error or once a close is sent.
 * Returns whether the connection is still there. */
static bool flush(struct ws_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			conn_end(c);
			return false;
		}
		c->out_off += (size_t)n;
	}
	bool pending = c->out_off < c->out_len;
	if (!pending && c->closing) {
		conn_end(c);
		return false;
	}
	if (pending != c->writing) {
		c->writing = pending;
		loop_fd_listen(hub_loop(c), c->fd, LOOP_READ | (pending ? LOOP_WRITE : 0), on_socket, c);
	}
	return true;
}

/* Queues a close frame (§5.5.1) and ends the connection once it is sent.
 * Returns whether the connection is still there (the frame waits). */
static bool close_with(struct ws_conn *c, uint16_t code, const char *reason)
{
	if (c->closing)
		return true;
	uint8_t p[125];
	size_t rl = strlen(reason) < sizeof(p) - 2 ? strlen(reason) : sizeof(p) - 2;
	p[0] = (uint8_t)(code >> 8);
	p[1] = (uint8_t)code;
	memcpy(p + 2, reason, rl);
	c->closing = true;
	if (queue_frame(c, WS_CLOSE, p, rl + 2)) {
		conn_end(c);
		return false;
	}
	return flush(c);
}

/* Moves events from the feed to the output while the client keeps up. */
static void pump(struct ws_conn *c)
{
	bool overrun = false;
	while (!c->closing && c->out_len - c->out_off < WS_OUT_LOW) {
		char *json = pbx_feed_next(c->feed, &overrun);
		if (!json)
			break;
		int e = queue_frame(c, WS_TEXT, json, strlen(json));
		free(json);
		if (e) {
			overrun = true;
			break;
		}
	}
	if (overrun && !c->closing) {
		log_info("api: events: a client of tenant %llu does not keep up with its events; dropped",
			 (unsigned long long)c->tenant_id);
		/* The close frame would wait behind what the client does not read. */
		if (close_with(c, WS_CLOSE_OVERLOAD, "too slow: events were lost"))
			conn_end(c);
		return;
	}
	flush(c);
}

static void on_feed(int fd, int events, void *arg)
{
	uint64_t v;
	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: woken for events already taken */
	}
	pump(arg);
}

/* One frame from the client; false when the connection is gone. */
static bool on_frame(struct ws_conn *c, const struct ws_frame *f)
{
	switch (f->op) {
	case WS_PING:
		if (queue_frame(c, WS_PONG, f->payload, f->len)) {
			conn_end(c);
			return false;
		}
		return flush(c);
	case WS_CLOSE:
		/* §5.5.1: answered with a close, then the server closes the connection. */
		if (!c->closing) {
			c->closing = true;
			if (queue_frame(c, WS_CLOSE, f->payload, f->len >= 2 ? 2 : 0)) {
				conn_end(c);
				return false;
			}
		}
		return flush(c);
	default:
		return true; /* pongs; and data, which this stream does not take */
	}
}

static void on_readable(struct ws_conn *c)
{
	ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		conn_end(c);
		return;
	}
	c->in_len += (size_t)n;
	c->last_in = loop_now(hub_loop(c));
	for (;;) {
		struct ws_frame f;
		int e = ws_frame_parse(c->in, c->in_len, WS_IN_MAX, &f);
		if (e == EAGAIN)
			return; /* a frame fits the buffer whole: WS_IN_MAX and the longest header */
		if (e) {
			close_with(c, e == EMSGSIZE ? WS_CLOSE_TOO_BIG : WS_CLOSE_PROTOCOL,
				   e == EMSGSIZE ? "frame too large" : "protocol error");
			return;
		}
		if (!on_frame(c, &f))
			return;
		memmove(c->in, c->in + f.size, c->in_len - f.size);
		c->in_len -= f.size;
		if (c->closing)
			return; /* what follows a close is not read */
	}
}

static void on_socket(int fd, int events, void *arg)
{
	struct ws_conn *c = arg;
	if ((events & LOOP_WRITE) && !flush(c))
		return;
	if (events & LOOP_READ)
		on_readable(c);
}

/* The token is checked as the route checked it, with a pooled store connection. */
static bool still_admin(struct ws_conn *c)
{
	struct api *a = c->hub->api;
	struct api_req rq = { .api = a, .authorization = c->authorization };
	struct api_resp rs = { 0 };
	rq.st = api_store_get(a);
	int e = api_authenticate(&rq, &rs);
	api_store_put(a, rq.st);
	json_decref(rs.body);
	return !e && rq.who.tenant_admin && rq.who.tenant_id == c->tenant_id;
}

static void on_ping(void *arg)
{
	struct ws_conn *c = arg;
	/* Silent too long, or a close frame not taken since the last tick: gone. */
	if (c->closing || loop_now(hub_loop(c)) - c->last_in > WS_SILENCE_MS(c->hub)) {
		conn_end(c);
		return;
	}
	tmr_start(loop_timers(hub_loop(c)), &c->ping_tmr, WS_PING_MS(c->hub), on_ping, c);
	if (!still_admin(c)) {
		close_with(c, WS_CLOSE_POLICY, "the session ended");
		return;
	}
	if (queue_frame(c, WS_PING, NULL, 0))
		conn_end(c);
	else
		flush(c);
}

static void adopt(struct api_ws *hub, struct ws_conn *c)
{
	struct loop *l = worker_loop(hub->worker);
	int fl = fcntl(c->fd, F_GETFL);
	if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    loop_fd_listen(l, c->fd, LOOP_READ, on_socket, c) ||
	    loop_fd_listen(l, pbx_feed_fd(c->feed), LOOP_READ, on_feed, c)) {
		conn_end(c);
		return;
	}
	list_append(&hub->conns, &c->le, c);
	c->last_in = loop_now(l);
	tmr_start(loop_timers(l), &c->ping_tmr, WS_PING_MS(hub), on_ping, c);
	log_info("api: events: a stream of tenant %llu opened", (unsigned long long)c->tenant_id);
	if (c->in_len) /* bytes that came with the handshake */
		on_readable(c);
}

static void on_msg(int id, void *data, void *arg)
{
	struct api_ws *hub = arg;
	if (id == MSG_ADOPT) {
		adopt(hub, data);
		return;
	}
	while (hub->conns.head) {
		struct ws_conn *c = hub->conns.head->data;
		if (close_with(c, WS_CLOSE_GOING_AWAY, "pbxd is stopping"))
			conn_end(c); /* not all sent: the stop does not wait */
	}
}

/* --- any thread ------------------------------------------------------------------------ */

void api_ws_adopt(struct api *a, uint64_t tenant_id, const char *authorization, const char *extra, size_t extra_len,
		  int sock, struct MHD_UpgradeResponseHandle *urh)
{
	struct api_ws *hub = a->ws;
	struct ws_conn *c = calloc(1, sizeof(*c));
	bool stopping = false;
	if (c && hub && extra_len <= sizeof(c->in) && pbx_feed_open(a->pbx, tenant_id, WS_FEED_MAX, &c->feed) == 0) {
		c->hub = hub;
		c->fd = sock;
		c->urh = urh;
		c->tenant_id = tenant_id;
		snprintf(c->authorization, sizeof(c->authorization), "%s", authorization);
		memcpy(c->in, extra, extra_len);
		c->in_len = extra_len;
		/* The test and the push under one lock with the stop's flag: a stream
		 * queued here is ahead of the stop's close-all, so it too gets its
		 * close 1001; none is queued after. */
		pthread_mutex_lock(&hub->lock);
		stopping = hub->stopping;
		bool ok = !stopping && hub->count < WS_MAX_CONNS && worker_push(hub->worker, MSG_ADOPT, c) == 0;
		if (ok)
			hub->count++;
		pthread_mutex_unlock(&hub->lock);
		if (ok)
			return;
		pbx_feed_close(c->feed);
	}
	free(c);
	if (stopping) {
		/* The 101 went out just as pbxd began to stop: the stream still ends
		 * the way every stream does then (close 1001), not with a bare EOF. */
		static const uint8_t going_away[] = { 0x88, 18, 0x03, 0xe9, 'p', 'b', 'x', 'd', ' ', 'i', 's', ' ',
						      's', 't', 'o', 'p', 'p', 'i', 'n', 'g' };
		ssize_t n = send(sock, going_away, sizeof(going_away), MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)n;
	}
	MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

bool api_ws_full(struct api *a)
{
	struct api_ws *hub = a->ws;
	if (!hub || !a->pbx)
		return true;
	pthread_mutex_lock(&hub->lock);
	bool full = hub->stopping || hub->count >= WS_MAX_CONNS;
	pthread_mutex_unlock(&hub->lock);
	return full;
}

int api_ws_start(struct api *a)
{
	struct api_ws *hub = calloc(1, sizeof(*hub));
	if (!hub)
		return ENOMEM;
	hub->api = a;
	pthread_mutex_init(&hub->lock, NULL);
	int e = worker_start(&hub->worker, on_msg, hub);
	if (e) {
		pthread_mutex_destroy(&hub->lock);
		free(hub);
		return e;
	}
	a->ws = hub;
	return 0;
}

void api_ws_stop(struct api *a)
{
	struct api_ws *hub = a->ws;
	if (!hub || !hub->worker)
		return;
	pthread_mutex_lock(&hub->lock);
	hub->stopping = true;
	/* Every stream ends (in the hub: it owns them) before the thread stops. */
	int e = worker_push(hub->worker, MSG_CLOSE_ALL, NULL);
	pthread_mutex_unlock(&hub->lock);
	if (e)
		log_error("api: events: cannot end the streams: %d", e);
	if (worker_stop(hub->worker) == 0)
		hub->worker = NULL;
}

/* After MHD stopped: until then a handshake answered 101 may still be handed
 * over (api_ws_adopt), and it needs the hub to learn that pbxd is stopping. */
void api_ws_free(struct api *a)
{
	struct api_ws *hub = a->ws;
	if (!hub || hub->worker)
		return; /* the thread still runs: leaked with what it uses */
	pthread_mutex_destroy(&hub->lock);
	free(hub);
	a->ws = NULL;
}

/* --- the route ----------------------------------------------------------------------- */

/* Checks the handshake (RFC 6455 §4.2.1); the answer, 101, is sent by http.c. */
void api_h_events(struct api_req *rq, struct api_resp *rs)
{
	for (size_t i = 0; i < rq->nquery; i++) {
		if (strcmp(rq->query[i].key, "token") != 0) {
			api_error(rs, 400, "unknown_field", rq->query[i].key, "%.64s: unknown query option",
				  rq->query[i].key);
			return;
		}
	}
	if (!rq->ws.upgrade) {
		api_error(rs, 426, "upgrade_required", NULL, "this is a WebSocket: send Upgrade: websocket,"
			  " Connection: Upgrade, Sec-WebSocket-Version: 13 and a Sec-WebSocket-Key");
		return;
	}
	if (!rq->ws.version || strcmp(rq->ws.version, "13") != 0) {
		api_error(rs, 426, "upgrade_required", "Sec-WebSocket-Version", "WebSocket version 13 only");
		return;
	}
	if (!rq->ws.key || ws_accept_key(rq->ws.key, rs->ws_accept)) {
		api_error(rs, 400, "invalid_field", "Sec-WebSocket-Key", "Sec-WebSocket-Key: must be 16 bytes in"
			  " base64");
		return;
	}
	if (api_ws_full(rq->api)) {
		rs->retry_after = 5;
		api_error(rs, 503, "busy", NULL, "too many event streams open; retry later");
		return;
	}
	rs->ws_tenant = rq->who.tenant_id;
	rs->status = 101;
}
