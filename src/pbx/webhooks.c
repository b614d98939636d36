/* Webhooks (see webhooks.h): events into the outbox through the storage worker,
 * and the delivery thread that empties it with libcurl's multi interface.
 *
 * The delivery thread is a plain loop around curl_multi_poll(), which sleeps
 * until a transfer's socket is ready, the next row is due, or another thread
 * kicks it (curl_multi_wakeup: rows were added, a webhook was enabled). After
 * each wake it asks the store for each enabled webhook's next row (one indexed
 * lookup per webhook, however many rows wait) when something may have changed:
 * a kick, a finished transfer, or the time the earliest row became due. A
 * webhook has at most one request in flight, so its receiver sees its events in
 * order and a dead receiver holds one of the WH_PARALLEL slots, not all. */
#include "pbx/webhooks.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/list.h"
#include "core/mem.h"
#include "core/log.h"
#include "core/sa.h"

const struct conf_opt webhooks_opts[] = {
	{ "webhook-timeout", CONF_INT, "5", 1, 60, NULL,
	  "seconds a webhook request may take, connection included; longer is a failed delivery" },
	{ "webhook-retry-max", CONF_INT, "300", 1, 3600, NULL,
	  "longest wait in seconds before a failed delivery is tried again (waits double from 1 s)" },
	{ "webhook-max-age", CONF_INT, "86400", 10, 2592000, NULL,
	  "seconds after which an event its webhook has not taken is given up (logged)" },
	{ "webhook-queue-max", CONF_INT, "10000", 1, 10000000, NULL,
	  "events one tenant's webhooks may have waiting; past it the oldest are dropped (logged)" },
	{ "webhook-allow-private", CONF_BOOL, "off", 0, 0, NULL,
	  "let webhooks reach loopback, private and link-local addresses; off, a tenant admin cannot make"
	  " pbxd send requests into its own network" },
};
const size_t webhooks_opts_count = sizeof(webhooks_opts) / sizeof(webhooks_opts[0]);

#define WH_PARALLEL 16          /* requests in flight at once (one per webhook) */
#define WH_IDLE_MS 60000        /* the longest sleep when nothing is due */
#define WH_EXPIRE_EVERY_MS 60000

struct webhooks {
	struct store *st;             /* the signalling thread's, once the worker is gone */
	struct store_worker *worker;
	struct store *dst;            /* the delivery thread's own connection */
	CURLM *multi;
	pthread_t thread;
	bool curl;                    /* curl_global_init() done */
	bool running;                 /* the thread was started and not yet joined */
	bool stopped;                 /* signalling thread: write events through st */
	atomic_bool stopping, kicked;
	int timeout_s, retry_max_s;
	int64_t max_age_ms;
	uint32_t queue_max;
	bool allow_private;
	struct list xfers;            /* delivery thread: requests in flight */
	/* Which events each tenant's enabled webhooks want, so that a call of a
	 * tenant without webhooks costs the storage worker nothing. Written by the
	 * API's threads after each webhook write, read by the signalling thread. */
	pthread_mutex_t lock;
	struct hash wanted;           /* struct wanted by tenant id */
	bool all;                     /* not known (loading failed): queue everything */
};

struct wanted {
	uint64_t tenant_id;
	unsigned events;
	struct le le;
};

static struct wanted *wanted_find(struct webhooks *w, uint64_t tenant_id)
{
	LIST_FOREACH(hash_bucket(&w->wanted, hash_u64(tenant_id)), le) {
		struct wanted *x = le->data;
		if (x->tenant_id == tenant_id)
			return x;
	}
	return NULL;
}

void webhooks_tenant_set(struct webhooks *w, uint64_t tenant_id, unsigned events)
{
	if (!w || !w->wanted.buckets)
		return; /* no table: everything is queued (w->all) */
	pthread_mutex_lock(&w->lock);
	struct wanted *x = wanted_find(w, tenant_id);
	if (!x && events && (x = calloc(1, sizeof(*x)))) {
		x->tenant_id = tenant_id;
		hash_insert(&w->wanted, hash_u64(tenant_id), &x->le, x);
	} else if (!x && events) {
		w->all = true; /* no memory for the entry: never skip again */
	}
	if (x && !events) {
		list_unlink(&x->le);
		free(x);
	} else if (x) {
		x->events = events;
	}
	pthread_mutex_unlock(&w->lock);
}

static bool wanted_by(struct webhooks *w, uint64_t tenant_id, unsigned bit)
{
	pthread_mutex_lock(&w->lock);
	const struct wanted *x = w->all ? NULL : wanted_find(w, tenant_id);
	bool yes = w->all || (x && (x->events & bit));
	pthread_mutex_unlock(&w->lock);
	return yes;
}

/* At start (signalling thread, before the loop): every tenant's webhooks. */
static int load_tenant(const void *row, void *arg)
{
	struct webhooks *w = arg;
	const struct store_tenant *t = row;
	struct store_webhooks *l = NULL;
	if (store_webhook_list(w->st, t->id, &l)) {
		w->all = true;
		return 0;
	}
	unsigned events = 0;
	for (size_t i = 0; i < l->n; i++)
		events |= l->v[i].enabled ? l->v[i].events : 0;
	mem_deref(l);
	webhooks_tenant_set(w, t->id, events);
	return 0;
}

/* --- events into the outbox (signalling thread, then the storage worker) ---------- */

struct enq {
	struct webhooks *w;
	uint64_t tenant_id;
	unsigned event;
	uint32_t added, dropped;
	char json[];
};

static int enq_write(struct store *st, void *arg)
{
	struct enq *q = arg;
	int e = store_outbox_add(st, q->tenant_id, q->event, q->json, store_now_ms(), q->w->queue_max, &q->added,
				 &q->dropped);
	if (e)
		log_error("webhooks: a %s event of tenant %llu is not queued: %s", store_wh_event_name(q->event),
			  (unsigned long long)q->tenant_id, strerror(e));
	if (q->dropped)
		log_warn("webhooks: tenant %llu has %u events waiting for its webhooks: the %u oldest dropped",
			 (unsigned long long)q->tenant_id, q->w->queue_max, q->dropped);
	return e;
}

/* On the worker thread (no reply queue): the delivery thread is told. */
static void enq_done(int err, void *arg)
{
	struct enq *q = arg;
	if (q->added)
		webhooks_kick(q->w);
	free(q);
}

static void on_event(const struct pbx_event *ev, void *arg)
{
	struct webhooks *w = arg;
	unsigned bit = ev->kind == PBX_EV_CALL_START ? STORE_WH_CALL_START
		     : ev->kind == PBX_EV_CALL_CDR   ? STORE_WH_CALL_CDR : 0;
	if (!bit || !ev->json || !ev->tenant_id || !wanted_by(w, ev->tenant_id, bit))
		return;
	size_t len = strlen(ev->json);
	struct enq *q = malloc(sizeof(*q) + len + 1);
	if (!q) {
		log_error("webhooks: out of memory: a %s event of tenant %llu is lost", store_wh_event_name(bit),
			  (unsigned long long)ev->tenant_id);
		return;
	}
	*q = (struct enq){ .w = w, .tenant_id = ev->tenant_id, .event = bit };
	memcpy(q->json, ev->json, len + 1);
	/* Stopping, the worker is gone: the calls hung up by the stop are queued
	 * here, as their CDRs are written (pbx.c). */
	if (w->stopped || store_worker_submit(w->worker, enq_write, enq_done, q, NULL)) {
		enq_write(w->st, q);
		enq_done(0, q);
	}
}

void webhooks_kick(struct webhooks *w)
{
	if (!w)
		return;
	atomic_store(&w->kicked, true);
	curl_multi_wakeup(w->multi);
}

/* --- one request ------------------------------------------------------------------- */

struct xfer {
	struct le le;
	struct webhooks *w;
	uint64_t row_id, webhook_id, tenant_id;
	unsigned event;
	int attempts;
	int64_t created_at;
	bool refused;           /* the address was not allowed */
	CURL *easy;
	struct curl_slist *hdrs;
	char *body;
	char err[CURL_ERROR_SIZE];
};

static void xfer_free(struct xfer *x)
{
	if (x->easy) {
		curl_multi_remove_handle(x->w->multi, x->easy);
		curl_easy_cleanup(x->easy);
	}
	curl_slist_free_all(x->hdrs);
	list_unlink(&x->le);
	free(x->body);
	free(x);
}

/* Addresses a webhook may not reach unless --webhook-allow-private: where a
 * tenant admin could otherwise make pbxd talk to its own host or network (the
 * REST API, a metadata service). */
static bool addr_refused(const struct sa *sa)
{
	if (sa_is_private(sa) || sa_is_any(sa))
		return true;
	if (sa->u.sa.sa_family == AF_INET) {
		uint32_t a = ntohl(sa->u.in.sin_addr.s_addr);
		return (a >> 24) == 0 || (a >> 28) == 0xe || (a >> 28) == 0xf; /* 0/8, multicast, reserved */
	}
	return sa->u.sa.sa_family != AF_INET6 || IN6_IS_ADDR_MULTICAST(&sa->u.in6.sin6_addr);
}

/* Every connection curl makes goes through here, after name resolution: the
 * address checked is the one connected to (no DNS rebinding around it). */
static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct xfer *x = arg;
	struct sa sa;
	memset(&sa, 0, sizeof(sa));
	if (a->addrlen > sizeof(sa.u))
		return CURL_SOCKET_BAD;
	memcpy(&sa.u, &a->addr, a->addrlen);
	sa.len = a->addrlen;
	if (!x->w->allow_private && addr_refused(&sa)) {
		x->refused = true;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	return size * n; /* the answer's body is not read: its status is the answer */
}

static int add_header(struct curl_slist **l, const char *fmt, const char *v)
{
	char line[STORE_WH_SECRET_SZ + 64];
	snprintf(line, sizeof(line), fmt, v);
	struct curl_slist *n = curl_slist_append(*l, line);
	if (!n)
		return ENOMEM;
	*l = n;
	return 0;
}

/* The request's headers: JSON, which event and delivery (a receiver may see a
 * delivery twice: at least once), and the webhook's authentication. */
static int xfer_headers(struct xfer *x, const struct store_webhook *wh)
{
	char id[24], sig[2 * EVP_MAX_MD_SIZE + 1];
	snprintf(id, sizeof(id), "%llu", (unsigned long long)x->row_id);
	int e = add_header(&x->hdrs, "%s", "Content-Type: application/json");
	if (!e)
		e = add_header(&x->hdrs, "%s", "Expect:"); /* no 100-continue round trip */
	if (!e)
		e = add_header(&x->hdrs, "X-Pbxd-Event: %s", store_wh_event_name(x->event));
	if (!e)
		e = add_header(&x->hdrs, "X-Pbxd-Delivery: %s", id);
	if (!e && wh->auth == STORE_WH_AUTH_BEARER)
		e = add_header(&x->hdrs, "Authorization: Bearer %s", wh->secret);
	if (!e && wh->auth == STORE_WH_AUTH_HMAC) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;
		if (!HMAC(EVP_sha256(), wh->secret, (int)strlen(wh->secret), (const unsigned char *)x->body,
			  strlen(x->body), md, &mdlen))
			return EIO;
		for (unsigned i = 0; i < mdlen; i++)
			snprintf(sig + 2 * i, 3, "%02x", md[i]);
		e = add_header(&x->hdrs, "X-Pbxd-Signature: sha256=%s", sig);
	}
	return e;
}

static int xfer_setup(struct xfer *x, const struct store_webhook *wh)
{
	struct webhooks *w = x->w;
	CURL *c = x->easy;
	int e = xfer_headers(x, wh);
	if (e)
		return e;
	long ms = (long)w->timeout_s * 1000;
	CURLcode r = curl_easy_setopt(c, CURLOPT_URL, wh->url);
	/* http and https only, redirects not followed (a 3xx is a failure): a
	 * webhook reaches the URL its admin gave and nothing else. */
	if (!r)
		r = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (!r)
		r = curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	if (!r)
		r = curl_easy_setopt(c, CURLOPT_PROXY, ""); /* none, whatever the environment says */
	if (!r)
		r = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (!r)
		r = curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms);
	if (!r)
		r = curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms);
	if (!r)
		r = curl_easy_setopt(c, CURLOPT_POSTFIELDS, x->body);
	if (!r)
		r = curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(x->body));
	if (!r)
		r = curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->hdrs);
	if (!r)
		r = curl_easy_setopt(c, CURLOPT_USERAGENT, "pbxd/" PBXD_VERSION);
	if (!r)
		r = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	if (!r)
		r = curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->err);
	if (!r)
		r = curl_easy_setopt(c, CURLOPT_PRIVATE, x);
	if (!r)
		r = curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	if (!r)
		r = curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, x);
	if (!r && wh->auth == STORE_WH_AUTH_BASIC) {
		r = curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		if (!r)
			r = curl_easy_setopt(c, CURLOPT_USERNAME, wh->username);
		if (!r)
			r = curl_easy_setopt(c, CURLOPT_PASSWORD, wh->secret);
	}
	return r ? EINVAL : 0;
}

/* Starts the POST of h's row; 0, or an errno (nothing in flight then). */
static int xfer_start(struct webhooks *w, const struct store_outbox_head *h)
{
	struct xfer *x = calloc(1, sizeof(*x));
	if (!x)
		return ENOMEM;
	*x = (struct xfer){ .w = w, .row_id = h->o.id, .webhook_id = h->wh.id, .tenant_id = h->o.tenant_id,
			    .event = h->o.event, .attempts = h->o.attempts, .created_at = h->o.created_at };
	list_append(&w->xfers, &x->le, x);
	x->body = strdup(h->o.json);
	x->easy = curl_easy_init();
	int e = x->body && x->easy ? xfer_setup(x, &h->wh) : ENOMEM;
	if (!e && curl_multi_add_handle(w->multi, x->easy) != CURLM_OK)
		e = ENOMEM;
	if (e) {
		/* not added: xfer_free's remove is a no-op for a handle not in the multi */
		xfer_free(x);
		log_error("webhooks: cannot start a delivery to webhook %llu: %s", (unsigned long long)h->wh.id,
			  strerror(e));
	}
	return e;
}

/* --- the delivery thread ------------------------------------------------------------- */

static int64_t backoff_ms(const struct webhooks *w, int attempts)
{
	int shift = attempts - 1 < 20 ? attempts - 1 : 20;
	int64_t s = (int64_t)1 << (shift < 0 ? 0 : shift);
	return (s < w->retry_max_s ? s : w->retry_max_s) * 1000;
}

/* A request ended: the row goes (2xx, or too old), or waits for its next try. */
static void finish(struct webhooks *w, struct xfer *x, CURLcode res, long code)
{
	int64_t now = store_now_ms();
	if (res == CURLE_OK && code >= 200 && code < 300) {
		store_outbox_delete(w->dst, x->row_id);
		if (x->attempts) {
			/* It answers again: what it held back is due now. */
			store_outbox_resume(w->dst, x->webhook_id, now);
			log_info("webhooks: webhook %llu of tenant %llu took delivery %llu after %d failed attempts",
				 (unsigned long long)x->webhook_id, (unsigned long long)x->tenant_id,
				 (unsigned long long)x->row_id, x->attempts);
		}
		return;
	}
	char why[CURL_ERROR_SIZE + 64];
	if (x->refused)
		snprintf(why, sizeof(why), "its address is loopback, private or reserved (--webhook-allow-private)");
	else if (res != CURLE_OK)
		snprintf(why, sizeof(why), "%s", x->err[0] ? x->err : curl_easy_strerror(res));
	else
		snprintf(why, sizeof(why), "HTTP %ld", code);
	int attempts = x->attempts + 1;
	if (now - x->created_at >= w->max_age_ms) {
		store_outbox_delete(w->dst, x->row_id);
		log_warn("webhooks: delivery %llu (%s) to webhook %llu of tenant %llu given up after %d attempts: %s",
			 (unsigned long long)x->row_id, store_wh_event_name(x->event), (unsigned long long)x->webhook_id,
			 (unsigned long long)x->tenant_id, attempts, why);
		return;
	}
	/* No answer, or an answer that says "not now": the receiver is down, and
	 * its webhook's other events wait with this one. Any other answer refuses
	 * this event alone. */
	bool down = res != CURLE_OK || code >= 500 || code == 408 || code == 429;
	int64_t wait = backoff_ms(w, attempts);
	store_outbox_retry(w->dst, x->row_id, attempts, now + wait, down);
	log_warn("webhooks: delivery %llu (%s) to webhook %llu of tenant %llu failed (%s); attempt %d, next in %lld s",
		 (unsigned long long)x->row_id, store_wh_event_name(x->event), (unsigned long long)x->webhook_id,
		 (unsigned long long)x->tenant_id, why, attempts, (long long)(wait / 1000));
}

/* Finished transfers: whether there were any. */
static bool reap(struct webhooks *w)
{
	bool any = false;
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(w->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct xfer *x = NULL;
		long code = 0;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
		CURLcode res = m->data.result; /* m is invalid once its handle is removed */
		if (x) {
			finish(w, x, res, code);
			xfer_free(x);
		}
		any = true;
	}
	return any;
}

struct fill {
	struct webhooks *w;
	int64_t now, next; /* next: when the earliest row not started is due */
};

static bool in_flight(const struct webhooks *w, uint64_t webhook_id)
{
	LIST_FOREACH(&w->xfers, le) {
		if (((struct xfer *)le->data)->webhook_id == webhook_id)
			return true;
	}
	return false;
}

static int fill_one(const void *row, void *arg)
{
	struct fill *f = arg;
	const struct store_outbox_head *h = row;
	if (in_flight(f->w, h->wh.id))
		return 0; /* its end looks again */
	if (h->o.next_attempt_at > f->now) {
		if (h->o.next_attempt_at < f->next)
			f->next = h->o.next_attempt_at;
		return 0;
	}
	if (f->w->xfers.n >= WH_PARALLEL)
		return 0; /* a slot's end looks again */
	if (xfer_start(f->w, h) && f->now + 1000 < f->next)
		f->next = f->now + 1000;
	return 0;
}

/* Starts what is due; returns when the next row not started is due. */
static int64_t fill(struct webhooks *w, int64_t now)
{
	struct fill f = { w, now, INT64_MAX };
	int e = store_outbox_heads(w->dst, fill_one, &f);
	if (e) {
		log_error("webhooks: cannot read the outbox: %s", strerror(e));
		return now + 1000;
	}
	return f.next;
}

static void expire(struct webhooks *w, int64_t now)
{
	uint32_t n = 0;
	if (!store_outbox_expire(w->dst, now - w->max_age_ms, &n) && n)
		log_warn("webhooks: %u events older than %lld s given up undelivered", n,
			 (long long)(w->max_age_ms / 1000));
}

static void *deliver_main(void *arg)
{
	struct webhooks *w = arg;
	int64_t now = store_now_ms(), next_due = 0, next_expire = 0;
	/* A start is a good time to try again: whatever waited is due now. */
	if (store_outbox_resume(w->dst, 0, now))
		log_error("webhooks: cannot read the outbox at start");
	bool look = true;
	while (!atomic_load(&w->stopping)) {
		now = store_now_ms();
		if (now >= next_expire) {
			expire(w, now);
			next_expire = now + WH_EXPIRE_EVERY_MS;
		}
		if (atomic_exchange(&w->kicked, false) || look || now >= next_due)
			next_due = fill(w, now);
		int running;
		curl_multi_perform(w->multi, &running);
		look = reap(w);
		if (look)
			continue;
		int64_t until = next_due < next_expire ? next_due : next_expire;
		int64_t wait = until - now;
		wait = wait < 0 ? 0 : wait > WH_IDLE_MS ? WH_IDLE_MS : wait;
		curl_multi_poll(w->multi, NULL, 0, (int)wait, NULL);
	}
	/* What was in flight is sent again at the next start. */
	while (w->xfers.head)
		xfer_free(w->xfers.head->data);
	return NULL;
}

/* --- start and stop -------------------------------------------------------------------- */

int webhooks_alloc(struct webhooks **wp, const struct conf *conf, struct pbx_events *ev, struct store *st,
		   struct store_worker *worker)
{
	struct webhooks *w = calloc(1, sizeof(*w));
	if (!w)
		return ENOMEM;
	w->st = st;
	w->worker = worker;
	w->timeout_s = (int)conf_int(conf, "webhook-timeout");
	w->retry_max_s = (int)conf_int(conf, "webhook-retry-max");
	w->max_age_ms = conf_int(conf, "webhook-max-age") * 1000;
	w->queue_max = (uint32_t)conf_int(conf, "webhook-queue-max");
	w->allow_private = conf_bool(conf, "webhook-allow-private");
	pthread_mutex_init(&w->lock, NULL);
	if (hash_init(&w->wanted, 256) || store_tenant_scan(st, load_tenant, w))
		w->all = true;
	/* Before any thread: curl's global state is set up once. */
	int e = curl_global_init(CURL_GLOBAL_DEFAULT) ? EIO : 0;
	w->curl = !e;
	if (!e && !(w->multi = curl_multi_init()))
		e = ENOMEM;
	/* Without a data dir (a test harness's configuration) nothing is delivered. */
	const char *dir = conf_str(conf, "data-dir");
	if (!e && dir)
		e = store_open(&w->dst, dir);
	if (!e && dir)
		e = pbx_events_subscribe(ev, on_event, w);
	if (!e && dir) {
		e = pthread_create(&w->thread, NULL, deliver_main, w);
		w->running = !e;
	}
	if (e) {
		log_error("webhooks: cannot start: %s", strerror(e));
		webhooks_free(w);
		return e;
	}
	*wp = w;
	return 0;
}

void webhooks_stop(struct webhooks *w)
{
	if (!w)
		return;
	w->stopped = true;
	if (!w->running)
		return;
	atomic_store(&w->stopping, true);
	curl_multi_wakeup(w->multi);
	pthread_join(w->thread, NULL);
	w->running = false;
}

void webhooks_free(struct webhooks *w)
{
	if (!w)
		return;
	webhooks_stop(w);
	if (w->dst)
		store_close(w->dst);
	if (w->multi)
		curl_multi_cleanup(w->multi);
	if (w->curl)
		curl_global_cleanup();
	for (uint32_t i = 0; w->wanted.buckets && i <= w->wanted.mask; i++) {
		while (w->wanted.buckets[i].head) {
			struct wanted *x = w->wanted.buckets[i].head->data;
			list_unlink(&x->le);
			free(x);
		}
	}
	hash_close(&w->wanted);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
