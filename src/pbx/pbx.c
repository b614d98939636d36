/* Starts the PBX modules and wires them: the directory and the location service
 * loaded at start, bindings saved in batches through the storage worker, rows the
 * API wrote re-read through it, and the calls other threads make into the
 * signalling thread. */
#include "pbx/pbx.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "core/hash.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/mqueue.h"
#include "core/rand.h"
#include "pbx/authn.h"
#include "pbx/call/call.h"
#include "pbx/directory.h"
#include "pbx/events.h"
#include "pbx/feed.h"
#include "pbx/keepalive.h"
#include "pbx/location.h"
#include "pbx/registrar/registrar.h"
#include "pbx/trunk/trunks.h"
#include "pbx/webhooks.h"
#include "sip/auth.h"

const struct conf_opt pbx_opts[] = {
	{ "auth-nonce-lifetime", CONF_INT, "300", 1, 86400, NULL,
	  "seconds a digest nonce stays fresh before a client must re-authenticate" },
	{ "auth-algorithms", CONF_STR, "MD5", 0, 0, NULL,
	  "digest algorithms challenged, most preferred first (MD5, SHA-256, SHA-512-256); MD5 alone by"
	  " default: many phones answer only the first challenge, and some (libre/baresip) refuse a 401"
	  " that offers any algorithm they lack" },
};
const size_t pbx_opts_count = sizeof(pbx_opts) / sizeof(pbx_opts[0]);

enum { MSG_TENANT = 1, MSG_USER, MSG_SYNC, MSG_OBJECTS };
#define FLUSH_MS 500      /* bindings are saved at most this late */
#define FLUSH_BATCH 2000  /* or at once when this many changes wait */
#define SYNC_TIMEOUT_S 5
#define HOUSEKEEP_MS 10000
#define TRIM_AFTER 2000 /* transactions ended since the last look that make a trim worth it */

/* A binding whose change waits to be saved. Only its id: what is saved is what
 * the location service holds when the batch goes (a row, or a delete when it is
 * gone), so many changes of one binding cost one write and no copy meanwhile. */
struct pending {
	uint64_t id;
	struct le le_hash, le_list;
};

struct pbx {
	struct loop *loop;
	struct sip_stack *sip;
	struct store *st;
	struct store_worker *worker;
	struct mqueue *mq;
	struct sip_auth *auth;
	struct security *sec;
	struct authn authn;
	struct directory *dir;
	struct location *loc;
	struct pbx_events *events;
	struct registrar *reg;
	struct keepalive *ka;
	struct call_engine *calls;
	struct trunks *trunks;
	struct feeds *feeds;
	struct webhooks *wh;
	struct hash pend_ids;
	struct list pend;
	struct tmr flush_tmr;
	struct cdr_batch *cdrs;   /* ended calls' records waiting for the worker */
	struct tmr cdr_tmr;
	struct tmr housekeep_tmr;
	size_t tsx_peak; /* most transactions seen since the last trim */
	bool closing;
};

/* --- saving bindings ------------------------------------------------------------ */

/* A batch: the rows to write, in one allocation that leaves with the batch. */
struct flush_item {
	bool del;
	struct store_location row; /* row.id is the binding's id either way */
};

struct flush_job {
	size_t n;
	struct flush_item items[];
};

static void pending_free_list(struct list *l)
{
	while (l->head) {
		struct pending *pd = l->head->data;
		list_unlink(&pd->le_list);
		list_unlink(&pd->le_hash);
		free(pd);
	}
}

static int flush_items(struct store *st, const struct flush_job *j)
{
	int e = store_tx_begin(st);
	for (size_t i = 0; !e && i < j->n; i++) {
		const struct flush_item *it = &j->items[i];
		e = it->del ? store_location_delete(st, it->row.id) : store_location_put(st, &it->row);
	}
	return store_tx_end(st, e);
}

static int flush_run(struct store *st, void *arg)
{
	struct flush_job *j = arg;
	int e = flush_items(st, j);
	if (e)
		log_error("pbx: saving %zu binding changes failed: %s", j->n, strerror(e));
	return e;
}

static void flush_done(int err, void *arg)
{
	free(arg);
}

/* Hands every waiting change to the worker (or, at shutdown, writes it here). */
static void flush(struct pbx *p)
{
	tmr_cancel(&p->flush_tmr);
	if (!p->pend.n)
		return;
	struct flush_job *j = calloc(1, sizeof(*j) + p->pend.n * sizeof(j->items[0]));
	if (!j)
		return; /* kept for the next try */
	while (p->pend.head) {
		struct pending *pd = p->pend.head->data;
		struct flush_item *it = &j->items[j->n++];
		const struct loc_binding *b = location_find(p->loc, pd->id);
		it->del = !b;
		if (b)
			location_to_store(b, &it->row);
		it->row.id = pd->id;
		list_unlink(&pd->le_hash);
		list_unlink(&pd->le_list);
		free(pd);
	}
	if (p->closing || store_worker_submit(p->worker, flush_run, flush_done, j, NULL)) {
		int e = flush_items(p->st, j);
		if (e)
			log_error("pbx: saving %zu binding changes failed: %s", j->n, strerror(e));
		flush_done(e, j);
	}
}

static void on_flush_tmr(void *arg)
{
	flush(arg);
}

static void persist(struct pbx *p, uint64_t id)
{
	LIST_FOREACH(hash_bucket(&p->pend_ids, hash_u64(id)), le) {
		if (((struct pending *)le->data)->id == id)
			return; /* already waiting: the batch takes its state then */
	}
	struct pending *pd = calloc(1, sizeof(*pd));
	if (!pd) {
		log_error("pbx: out of memory: a change of binding %llu is not saved", (unsigned long long)id);
		return;
	}
	pd->id = id;
	hash_insert(&p->pend_ids, hash_u64(pd->id), &pd->le_hash, pd);
	list_append(&p->pend, &pd->le_list, pd);
	/* Never flushed from here: a removal is reported while its binding is still
	 * in the location service, and the batch must see it gone. */
	if (p->pend.n >= FLUSH_BATCH)
		tmr_start(loop_timers(p->loop), &p->flush_tmr, 0, on_flush_tmr, p);
	else if (!tmr_active(&p->flush_tmr))
		tmr_start(loop_timers(p->loop), &p->flush_tmr, FLUSH_MS, on_flush_tmr, p);
}

/* The location service's observer: save, log, tell subscribers. */
/* A device that registered over TLS or a WebSocket is reached over that
 * connection only (pbxd does not connect out with them): once it closes the
 * device is gone, until it registers again (a browser does at once when it
 * reconnects). A TCP device may still be reached by a new connection. */
static void on_conn_closed(const struct sip_conn *c, enum sip_transport_kind kind, void *arg)
{
	struct pbx *p = arg;
	if (kind != SIP_TP_TCP && kind != SIP_TP_UDP && !p->closing)
		location_unbind_conn(p->loc, c, LOC_FLOW_CLOSED);
}

static void on_binding(struct location *l, const struct loc_binding *b, enum loc_event ev, enum loc_reason why,
		       void *arg)
{
	struct pbx *p = arg;
	persist(p, b->id);
	if (ev == LOC_REFRESHED)
		return;
	const struct dir_ext *x = directory_ext_by_user(p->dir, b->user_id);
	const struct dir_tenant *t = x ? x->tenant : NULL;
	char a[64];
	sa_str(&b->peer.addr, a, sizeof(a));
	if (ev == LOC_ADDED)
		log_info("pbx: %s@%s registered from %s (%s) as %s, %s", x ? x->number : "?", t ? t->domain : "?", a,
			 sip_transport_name(b->peer.tp), b->contact, b->user_agent[0] ? b->user_agent : "no User-Agent");
	else
		log_info("pbx: %s@%s device %s at %s %s", x ? x->number : "?", t ? t->domain : "?", b->contact, a,
			 location_reason_name(why));
	struct pbx_event e = { .kind = ev == LOC_ADDED ? PBX_EV_REGISTERED : PBX_EV_UNREGISTERED,
			       .tenant_id = b->tenant_id, .user_id = b->user_id,
			       .extension = x ? x->number : "", .binding = b, .reason = why };
	pbx_events_emit(p->events, &e);
}

/* The directory let an extension go: so do its devices. */
static void on_ext_dropped(const struct dir_ext *x, void *arg)
{
	struct pbx *p = arg;
	location_unbind_aor(p->loc, x->user_id, LOC_DROPPED);
}

/* --- calls from other threads ----------------------------------------------------- */

typedef int (sync_h)(struct pbx *p, void *arg);

/* One call: the caller waits on it; the signalling thread runs fn under the lock,
 * unless the caller gave up (then arg, on the caller's stack, is not touched). */
struct sync_call {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done, abandoned;
	sync_h *fn;
	void *arg;
	int err;
};

static void sync_destroy(void *arg)
{
	struct sync_call *c = arg;
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
}

static void sync_exec(struct pbx *p, struct sync_call *c)
{
	pthread_mutex_lock(&c->lock);
	if (!c->abandoned) {
		c->err = c->fn(p, c->arg);
		c->done = true;
		pthread_cond_signal(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);
	mem_deref(c);
}

/* The caller's side of a call: waits (bounded) until the signalling thread
 * completes c; 0, the call's error, or ETIMEDOUT. */
static int sync_wait(struct sync_call *c)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += SYNC_TIMEOUT_S;
	pthread_mutex_lock(&c->lock);
	while (!c->done) {
		if (pthread_cond_timedwait(&c->cond, &c->lock, &until) == ETIMEDOUT && !c->done) {
			c->abandoned = true;
			break;
		}
	}
	int err = c->done ? c->err : ETIMEDOUT;
	pthread_mutex_unlock(&c->lock);
	mem_deref(c);
	return err;
}

/* The signalling thread's side when the work is not fn but something that
 * finishes later (a re-read through the worker): marks c done with err. */
static void sync_complete(struct sync_call *c, int err)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->err = err;
	c->done = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	mem_deref(c);
}

static struct sync_call *sync_new(sync_h *fn, void *arg)
{
	struct sync_call *c = mem_zalloc(sizeof(*c), sync_destroy);
	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->fn = fn;
	c->arg = arg;
	return c;
}

static int sync_run(struct pbx *p, sync_h *fn, void *arg)
{
	if (!p)
		return ENOENT;
	struct sync_call *c = sync_new(fn, arg);
	if (!c)
		return ENOMEM;
	mem_ref(c); /* the message's */
	if (mqueue_push(p->mq, MSG_SYNC, c)) {
		mem_deref(c);
		mem_deref(c);
		return ENOMEM;
	}
	return sync_wait(c);
}


/* --- rows the API wrote, re-read through the worker ------------------------------ */

struct refresh {
	struct pbx *p;
	uint64_t tenant_id, user_id; /* user_id 0: the tenant */
	struct sync_call *waiter;    /* the API request waiting for it, or NULL */
	json_t *patch;               /* a change of the user's settings to write first, or NULL */
	struct store_tenant t;
	struct store_tenant_settings ts; /* the tenant's office hours and feature codes */
	struct store_user u;
	struct store_holidays *hol;  /* the tenant's own holidays, or the user's */
};

/* Objects merge key by key, other values replace, null removes (RFC 7396: where
 * the schema lets a field be null, an optional rule set); a discriminator the
 * patch sets takes the fields that depend on it along (docs/api.md, "Extension
 * settings"). */
static const struct {
	const char *key;
	const char *const dependents[3];
} discriminators[] = {
	{ "action", { "number", "mailbox", NULL } },
	{ "mode", { "destination", "schedules", NULL } },
};

void pbx_settings_merge(json_t *dst, const json_t *patch)
{
	for (size_t i = 0; i < sizeof(discriminators) / sizeof(discriminators[0]); i++) {
		if (!json_object_get(patch, discriminators[i].key))
			continue;
		for (const char *const *d = discriminators[i].dependents; *d; d++) {
			if (!json_object_get(patch, *d))
				json_object_del(dst, *d);
		}
	}
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)patch, k, v) {
		json_t *d = json_object_get(dst, k);
		if (json_is_null(v))
			json_object_del(dst, k);
		else if (json_is_object(d) && json_is_object(v))
			pbx_settings_merge(d, v);
		else
			json_object_set_new(dst, k, json_deep_copy(v));
	}
}

/* The user's settings with the patch merged, written if nobody wrote the row
 * meanwhile (a race with the API is redone on the fresh row). */
static int settings_write(struct store *st, struct refresh *r)
{
	for (int tries = 0; tries < 5; tries++) {
		int e = store_user_get(st, r->tenant_id, r->user_id, &r->u);
		if (e)
			return e;
		json_t *cur = r->u.settings ? json_loads(r->u.settings, 0, NULL) : NULL;
		if (!json_is_object(cur)) {
			json_decref(cur);
			cur = json_object();
		}
		pbx_settings_merge(cur, r->patch);
		char *txt = json_dumps(cur, JSON_COMPACT);
		json_decref(cur);
		if (!txt)
			return ENOMEM;
		mem_deref(r->u.settings);
		r->u.settings = mem_strndup(txt, strlen(txt));
		free(txt);
		e = r->u.settings ? store_user_update(st, &r->u, 0) : ENOMEM;
		if (e != ESTALE)
			return e;
		store_user_reset(&r->u);
	}
	return ESTALE;
}

static int refresh_user(struct store *st, struct refresh *r)
{
	if (r->patch) {
		int e = settings_write(st, r);
		if (e) {
			log_error("pbx: settings of user %llu not changed: %s", (unsigned long long)r->user_id,
				  strerror(e));
			store_user_reset(&r->u);
		} else {
			return 0; /* r->u is the row as written */
		}
	}
	return store_user_get(st, r->tenant_id, r->user_id, &r->u);
}

/* The row, and what the call engine reads with it: a tenant's office hours,
 * feature codes and holidays; a user's holidays. */
static int refresh_run(struct store *st, void *arg)
{
	struct refresh *r = arg;
	int e = r->user_id ? refresh_user(st, r) : store_tenant_get(st, r->tenant_id, &r->t);
	if (!e && !r->user_id)
		e = store_tenant_settings_get(st, r->tenant_id, &r->ts);
	if (!e)
		e = store_holiday_list(st, r->tenant_id, r->user_id, &r->hol);
	return e;
}

/* On the signalling thread. The worker runs jobs in order, each after the API's
 * commit that asked for it, so the last reading applied is the latest state. */
static void refresh_done(int err, void *arg)
{
	struct refresh *r = arg;
	struct pbx *p = r->p;
	if (!r->user_id) {
		if (err == ENOENT)
			directory_tenant_remove(p->dir, r->tenant_id);
		else if (!err && !(err = directory_tenant_put(p->dir, &r->t)))
			err = directory_tenant_settings_put(p->dir, &r->ts);
	} else {
		if (err == ENOENT)
			directory_ext_remove(p->dir, r->user_id);
		else if (!err)
			err = directory_ext_put(p->dir, &r->u);
		store_user_reset(&r->u);
	}
	if (!err)
		err = directory_holidays_put(p->dir, r->tenant_id, r->user_id, r->hol);
	mem_deref(r->hol);
	if (err && err != ENOENT)
		log_error("pbx: cannot re-read %s %llu: %s", r->user_id ? "user" : "tenant",
			  (unsigned long long)(r->user_id ? r->user_id : r->tenant_id), strerror(err));
	sync_complete(r->waiter, err == ENOENT ? 0 : err);
	json_decref(r->patch);
	free(r);
}

static int refresh_submit(struct pbx *p, uint64_t tenant_id, uint64_t user_id, struct sync_call *waiter,
			  json_t *patch)
{
	struct refresh *r = calloc(1, sizeof(*r));
	if (!r) {
		sync_complete(waiter, ENOMEM);
		json_decref(patch);
		return ENOMEM;
	}
	r->p = p;
	r->tenant_id = tenant_id;
	r->user_id = user_id;
	r->waiter = waiter;
	r->patch = patch;
	int err = store_worker_submit(p->worker, refresh_run, refresh_done, r, p->mq);
	if (err) {
		sync_complete(waiter, err);
		json_decref(patch);
		free(r);
	}
	return err;
}

static void refresh_start(struct pbx *p, uint64_t tenant_id, uint64_t user_id, struct sync_call *waiter)
{
	refresh_submit(p, tenant_id, user_id, waiter, NULL);
}

/* A feature code dialled by a user (the call engine): the change is written
 * through the worker, then applied to the directory like any the API makes. */
static int on_settings_patch(uint64_t tenant_id, uint64_t user_id, const char *patch, void *arg)
{
	struct pbx *p = arg;
	json_t *j = json_loads(patch, 0, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		return EINVAL;
	}
	return refresh_submit(p, tenant_id, user_id, NULL, j);
}

struct notice {
	uint64_t tenant_id, user_id;
	struct sync_call *waiter;
};

/* Posts the notice and waits until the signalling thread has applied what the
 * store now holds: when the API answers, the PBX knows (a phone can register
 * with an extension the moment its 201 arrives). */
static void notify(struct pbx *p, int id, uint64_t tenant_id, uint64_t user_id, bool wait)
{
	if (!p)
		return;
	struct notice *n = malloc(sizeof(*n));
	struct sync_call *c = wait ? sync_new(NULL, NULL) : NULL;
	if (!wait && n) {
		*n = (struct notice){ tenant_id, user_id, NULL };
		if (mqueue_push(p->mq, id, n))
			free(n);
		return;
	}
	if (!n || !c) {
		free(n);
		mem_deref(c);
		return;
	}
	n->tenant_id = tenant_id;
	n->user_id = user_id;
	n->waiter = mem_ref(c);
	if (mqueue_push(p->mq, id, n)) {
		mem_deref(n->waiter);
		free(n);
		mem_deref(c);
		return;
	}
	int err = sync_wait(c);
	if (err)
		log_warn("pbx: the change of %s %llu is not applied yet: %s", user_id ? "user" : "tenant",
			 (unsigned long long)(user_id ? user_id : tenant_id), strerror(err));
}

void pbx_notify_tenant(struct pbx *p, uint64_t tenant_id, bool wait)
{
	notify(p, MSG_TENANT, tenant_id, 0, wait);
}

void pbx_notify_user(struct pbx *p, uint64_t tenant_id, uint64_t user_id, bool wait)
{
	notify(p, MSG_USER, tenant_id, user_id, wait);
}

/* The trunks' configuration is read whole on the worker (host names resolved
 * there, never on this thread) and applied here. */
struct objects_job {
	struct pbx *p;
	struct sync_call *waiter;
	struct trunk_conf *conf;
};

static int objects_run(struct store *st, void *arg)
{
	struct objects_job *j = arg;
	return trunks_conf_load(st, &j->conf);
}

static void objects_done(int err, void *arg)
{
	struct objects_job *j = arg;
	if (!err && !j->p->closing)
		trunks_conf_apply(j->p->trunks, j->conf);
	else if (err)
		log_error("pbx: cannot re-read the trunks' configuration: %s", strerror(err));
	mem_deref(j->conf);
	sync_complete(j->waiter, err);
	free(j);
}

static void objects_start(struct pbx *p, struct sync_call *waiter)
{
	struct objects_job *j = calloc(1, sizeof(*j));
	int err = j ? 0 : ENOMEM;
	if (j) {
		j->p = p;
		j->waiter = waiter;
		err = store_worker_submit(p->worker, objects_run, objects_done, j, p->mq);
	}
	if (err) {
		free(j);
		sync_complete(waiter, err);
	}
}

void pbx_notify_objects(struct pbx *p, int kind, bool wait)
{
	/* Every kind is read again: the lookups join them (a rule names its provider). */
	(void)kind;
	notify(p, MSG_OBJECTS, 0, 0, wait);
}

/* --- calls from other threads ----------------------------------------------------- */

static void on_msg(int id, void *data, void *arg)
{
	struct pbx *p = arg;
	switch (id) {
	case STORE_WORKER_MSG:
		store_worker_done(data);
		return;
	case MSG_TENANT:
	case MSG_USER: {
		struct notice *n = data;
		refresh_start(p, n->tenant_id, id == MSG_USER ? n->user_id : 0, n->waiter);
		free(n);
		return;
	}
	case MSG_SYNC:
		sync_exec(p, data);
		return;
	case MSG_OBJECTS: {
		struct notice *n = data;
		objects_start(p, n->waiter);
		free(n);
		return;
	}
	}
}

struct devices_q {
	uint64_t tenant_id, user_id, device_id;
	struct store_location *v;
	size_t n;
};

static int devices_h(struct pbx *p, void *arg)
{
	struct devices_q *q = arg;
	const struct dir_ext *x = directory_ext_by_user(p->dir, q->user_id);
	if (!x || x->tenant->id != q->tenant_id)
		return 0; /* no devices: the API has already said whether the user exists */
	const struct list *l = location_aor(p->loc, q->user_id);
	if (!l || !l->n)
		return 0;
	q->v = calloc(l->n, sizeof(*q->v));
	if (!q->v)
		return ENOMEM;
	LIST_FOREACH(l, le)
		location_to_store(le->data, &q->v[q->n++]);
	return 0;
}

int pbx_devices(struct pbx *p, uint64_t tenant_id, uint64_t user_id, struct store_location **out, size_t *n)
{
	struct devices_q q = { .tenant_id = tenant_id, .user_id = user_id };
	int e = sync_run(p, devices_h, &q);
	*out = q.v;
	*n = q.n;
	return e;
}

static int unregister_h(struct pbx *p, void *arg)
{
	struct devices_q *q = arg;
	struct loc_binding *b = location_find(p->loc, q->device_id);
	if (!b || b->user_id != q->user_id || b->tenant_id != q->tenant_id)
		return ENOENT;
	location_unbind(p->loc, b, LOC_ADMIN);
	return 0;
}

struct webcred_q {
	uint64_t tenant_id, user_id;
	struct pbx_webcred *out;
};

static int webcred_h(struct pbx *p, void *arg)
{
	struct webcred_q *q = arg;
	struct dir_ext *x = directory_ext_by_user(p->dir, q->user_id);
	if (!x || x->tenant->id != q->tenant_id || !directory_usable(x) || !x->number[0])
		return ENOENT;
	int64_t now = store_now_ms();
	struct dir_webcred *w = &x->webcred[0];
	for (size_t i = 0; i < DIR_WEBCRED_MAX; i++) {
		if (x->webcred[i].expires_ms <= now) {
			w = &x->webcred[i];
			break;
		}
		if (x->webcred[i].expires_ms < w->expires_ms)
			w = &x->webcred[i];
	}
	if (rand_chars(w->id, DIR_WEBCRED_ID_SZ - 1) || rand_chars(w->secret, DIR_WEBCRED_SECRET_SZ - 1)) {
		memset(w, 0, sizeof(*w));
		return EIO;
	}
	w->expires_ms = now + PBX_WEBCRED_TTL_S * 1000LL;
	struct pbx_webcred *o = q->out;
	snprintf(o->username, sizeof(o->username), "%s~%s", x->number, w->id);
	snprintf(o->password, sizeof(o->password), "%s", w->secret);
	snprintf(o->number, sizeof(o->number), "%s", x->number);
	snprintf(o->domain, sizeof(o->domain), "%s", x->tenant->domain);
	snprintf(o->display_name, sizeof(o->display_name), "%s", x->display_name);
	o->expires_ms = w->expires_ms;
	return 0;
}

int pbx_webcred_new(struct pbx *p, uint64_t tenant_id, uint64_t user_id, struct pbx_webcred *out)
{
	struct webcred_q q = { .tenant_id = tenant_id, .user_id = user_id, .out = out };
	memset(out, 0, sizeof(*out));
	return sync_run(p, webcred_h, &q);
}

struct status_q {
	uint64_t tenant_id, user_id;
	char *out;
	size_t size;
};

static int status_h(struct pbx *p, void *arg)
{
	struct status_q *q = arg;
	return call_engine_status(p->calls, q->tenant_id, q->user_id, q->out, q->size);
}

int pbx_user_status(struct pbx *p, uint64_t tenant_id, uint64_t user_id, char *out, size_t size)
{
	struct status_q q = { tenant_id, user_id, out, size };
	out[0] = '\0';
	return sync_run(p, status_h, &q);
}

struct provider_q {
	uint64_t id;
	struct pbx_provider_status *out;
};

static int provider_h(struct pbx *p, void *arg)
{
	struct provider_q *q = arg;
	return trunks_status(p->trunks, q->id, q->out);
}

int pbx_provider_status(struct pbx *p, uint64_t provider_id, struct pbx_provider_status *out)
{
	if (!p)
		return ENOENT;
	struct provider_q q = { provider_id, out };
	return sync_run(p, provider_h, &q);
}

static int stats_h(struct pbx *p, void *arg)
{
	struct pbx_stats *s = arg;
	s->tenants = directory_tenant_count(p->dir);
	s->extensions = directory_ext_count(p->dir);
	s->devices = location_count(p->loc);
	s->calls = call_engine_active(p->calls);
	return 0;
}

int pbx_stats(struct pbx *p, struct pbx_stats *out)
{
	memset(out, 0, sizeof(*out));
	return sync_run(p, stats_h, out);
}

static int sip_tls_reload_h(struct pbx *p, void *arg)
{
	(void)arg;
	return sip_stack_tls_reload(p->sip);
}

int pbx_sip_tls_reload(struct pbx *p)
{
	return sync_run(p, sip_tls_reload_h, NULL);
}

int pbx_device_unregister(struct pbx *p, uint64_t tenant_id, uint64_t user_id, uint64_t device_id)
{
	struct devices_q q = { .tenant_id = tenant_id, .user_id = user_id, .device_id = device_id };
	return sync_run(p, unregister_h, &q);
}

struct counts_q {
	const uint64_t *users;
	size_t n;
	unsigned *counts;
};

static int counts_h(struct pbx *p, void *arg)
{
	struct counts_q *q = arg;
	for (size_t i = 0; i < q->n; i++)
		q->counts[i] = (unsigned)location_aor_count(p->loc, q->users[i]);
	return 0;
}

int pbx_device_counts(struct pbx *p, const uint64_t *users, size_t n, unsigned *counts)
{
	struct counts_q q = { users, n, counts };
	memset(counts, 0, n * sizeof(*counts));
	return sync_run(p, counts_h, &q);
}

struct bans_q {
	struct security_ban *v;
	size_t n;
	const char *address;
};

static int bans_h(struct pbx *p, void *arg)
{
	struct bans_q *q = arg;
	size_t n = security_bans(p->sec, NULL, 0);
	if (!n)
		return 0;
	q->v = calloc(n, sizeof(*q->v));
	if (!q->v)
		return ENOMEM;
	q->n = security_bans(p->sec, q->v, n);
	return 0;
}

int pbx_bans(struct pbx *p, struct security_ban **out, size_t *n)
{
	struct bans_q q = { 0 };
	int e = sync_run(p, bans_h, &q);
	*out = q.v;
	*n = q.n;
	return e;
}

static int lift_h(struct pbx *p, void *arg)
{
	struct bans_q *q = arg;
	return security_unban(p->sec, q->address);
}

int pbx_ban_lift(struct pbx *p, const char *address)
{
	struct bans_q q = { .address = address };
	return sync_run(p, lift_h, &q);
}

/* --- calls ------------------------------------------------------------------------ */

struct calls_q {
	uint64_t tenant_id, user_id, session_id;
	struct pbx_call_info *v;
	size_t n;
};

static int calls_h(struct pbx *p, void *arg)
{
	struct calls_q *q = arg;
	return call_engine_list(p->calls, q->tenant_id, q->user_id, &q->v, &q->n);
}

int pbx_calls(struct pbx *p, uint64_t tenant_id, uint64_t user_id, struct pbx_call_info **out, size_t *n)
{
	struct calls_q q = { .tenant_id = tenant_id, .user_id = user_id };
	int e = sync_run(p, calls_h, &q);
	*out = q.v;
	*n = q.n;
	return e;
}

static int hangup_h(struct pbx *p, void *arg)
{
	struct calls_q *q = arg;
	return call_engine_hangup(p->calls, q->tenant_id, q->session_id);
}

int pbx_call_hangup(struct pbx *p, uint64_t tenant_id, uint64_t session_id)
{
	struct calls_q q = { .tenant_id = tenant_id, .session_id = session_id };
	return sync_run(p, hangup_h, &q);
}

/* Records of ended calls are written in batches: one transaction for the calls
 * that ended within CDR_BATCH_MS (at most CDR_BATCH_MAX), not one per call. */
enum { CDR_BATCH_MAX = 64, CDR_BATCH_MS = 50 };
struct cdr_batch {
	size_t n;
	struct store_cdr *v[CDR_BATCH_MAX];
};

/* One transaction; a record that fails is rolled back alone (its own savepoint,
 * store_cdr_insert) and the others are kept. */
static int cdrs_save(struct store *st, void *arg)
{
	struct cdr_batch *b = arg;
	int e = store_tx_begin(st);
	for (size_t i = 0; !e && i < b->n; i++) {
		int ce = store_cdr_insert(st, b->v[i]);
		if (ce)
			log_error("pbx: CDR %llu not saved: %s", (unsigned long long)b->v[i]->id, strerror(ce));
	}
	e = store_tx_end(st, e);
	if (e)
		log_error("pbx: %zu CDRs not saved: %s", b->n, strerror(e));
	return e;
}

static void cdrs_saved(int err, void *arg)
{
	(void)err;
	struct cdr_batch *b = arg;
	for (size_t i = 0; i < b->n; i++)
		call_cdr_free(b->v[i]);
	free(b);
}

static void cdrs_flush(struct pbx *p)
{
	tmr_cancel(&p->cdr_tmr);
	struct cdr_batch *b = p->cdrs;
	p->cdrs = NULL;
	if (!b)
		return;
	/* Closing, the worker is gone: the calls hung up at the stop are written
	 * here, as the last bindings are. */
	if (p->closing || store_worker_submit(p->worker, cdrs_save, cdrs_saved, b, NULL))
		cdrs_saved(cdrs_save(p->st, b), b);
}

static void on_cdr_tmr(void *arg)
{
	cdrs_flush(arg);
}

/* A call ended: its record is published and kept (the worker writes it). */
static void on_cdr(struct store_cdr *cdr, void *arg)
{
	struct pbx *p = arg;
	struct pbx_event ev = { .kind = PBX_EV_CALL_CDR, .tenant_id = cdr->tenant_id, .json = cdr->json };
	pbx_events_emit(p->events, &ev);
	if (!p->cdrs && !(p->cdrs = calloc(1, sizeof(*p->cdrs)))) {
		struct cdr_batch one = { .n = 1, .v = { cdr } };
		cdrs_save(p->st, &one); /* no memory for a batch: this one now */
		call_cdr_free(cdr);
		return;
	}
	p->cdrs->v[p->cdrs->n++] = cdr;
	if (p->closing || p->cdrs->n == CDR_BATCH_MAX)
		cdrs_flush(p);
	else if (!tmr_active(&p->cdr_tmr))
		tmr_start(loop_timers(p->loop), &p->cdr_tmr, CDR_BATCH_MS, on_cdr_tmr, p);
}

static void on_call_start(uint64_t tenant_id, const char *json, void *arg)
{
	struct pbx *p = arg;
	struct pbx_event ev = { .kind = PBX_EV_CALL_START, .tenant_id = tenant_id, .json = json };
	pbx_events_emit(p->events, &ev);
}

static void on_call_answered(uint64_t tenant_id, const char *json, void *arg)
{
	struct pbx *p = arg;
	struct pbx_event ev = { .kind = PBX_EV_CALL_ANSWERED, .tenant_id = tenant_id, .json = json };
	pbx_events_emit(p->events, &ev);
}

/* --- event feeds and webhooks: their modules (feed.c, webhooks.c) do the work ------ */

int pbx_feed_open(struct pbx *p, uint64_t tenant_id, size_t max, struct pbx_feed **fp)
{
	return p ? feeds_open(p->feeds, tenant_id, max, fp) : ENOENT;
}

void pbx_webhooks_changed(struct pbx *p, uint64_t tenant_id, unsigned events)
{
	if (!p)
		return;
	webhooks_tenant_set(p->wh, tenant_id, events);
	webhooks_kick(p->wh);
}

/* --- housekeeping ---------------------------------------------------------------- */

/* After a storm (thousands of phones registering at once) the transactions that
 * absorbed their retransmissions end 32 s later, but malloc keeps their memory:
 * once many have ended, it is handed back, so that the resident size follows what
 * pbxd holds (its bindings), not the worst minute it had. */
static void on_housekeep(void *arg)
{
	struct pbx *p = arg;
	size_t n = sip_tsx_layer_count(sip_stack_tsx(p->sip));
	if (n > p->tsx_peak)
		p->tsx_peak = n;
	if (p->tsx_peak - n >= TRIM_AFTER) {
		malloc_trim(0);
		p->tsx_peak = n;
	}
	tmr_start(loop_timers(p->loop), &p->housekeep_tmr, HOUSEKEEP_MS, on_housekeep, p);
}

/* --- start and stop --------------------------------------------------------------- */

static uint64_t mono_ms(void *arg)
{
	return loop_now(arg);
}

static int restore_one(const void *row, void *arg)
{
	struct pbx *p = arg;
	const struct store_location *sl = row;
	const struct dir_ext *x = directory_ext_by_user(p->dir, sl->user_id);
	if (!directory_usable(x)) {
		persist(p, sl->id); /* disabled since: not restored, and deleted at the first save */
		return 0;
	}
	if (location_restore(p->loc, sl))
		log_warn("pbx: binding %llu not restored", (unsigned long long)sl->id);
	return 0;
}

static int auth_setup(struct pbx *p, const struct conf *conf)
{
	int err = sip_auth_alloc(&p->auth, (uint32_t)conf_int(conf, "auth-nonce-lifetime"));
	enum sip_auth_alg algs[4];
	size_t nalg = 0;
	if (!err && (sip_auth_offer_parse(conf_str(conf, "auth-algorithms"), algs, 4, &nalg) ||
		     sip_auth_offer_set(p->auth, algs, nalg))) {
		log_error("auth-algorithms: '%s' is not a list of MD5, SHA-256, SHA-512-256",
			  conf_str(conf, "auth-algorithms"));
		err = EINVAL;
	}
	return err;
}

int pbx_alloc(struct pbx **pp, struct loop *loop, struct sip_stack *sip, const struct conf *conf, struct store *st,
	      struct store_worker *worker)
{
	struct pbx *p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	p->loop = loop;
	p->sip = sip;
	p->st = st;
	p->worker = worker;
	int err = hash_init(&p->pend_ids, 4096) ? ENOMEM : 0;
	if (!err)
		err = mqueue_alloc(&p->mq, loop, on_msg, p);
	if (!err)
		err = auth_setup(p, conf);
	if (!err)
		err = security_alloc(&p->sec, conf, mono_ms, loop);
	if (!err)
		err = pbx_events_alloc(&p->events);
	if (!err)
		err = feeds_alloc(&p->feeds, p->events);
	if (!err)
		err = webhooks_alloc(&p->wh, conf, p->events, st, worker);
	if (!err)
		err = directory_alloc(&p->dir, on_ext_dropped, p);
	if (!err)
		err = location_alloc(&p->loc, loop_timers(loop), store_now_ms, on_binding, p);
	if (!err)
		err = directory_load(p->dir, st);
	if (!err) {
		err = store_location_scan(st, store_now_ms(), restore_one, p);
		if (!err)
			log_info("pbx: %zu registered devices restored", location_count(p->loc));
	}
	if (!err) {
		p->authn = (struct authn){ .auth = p->auth, .sec = p->sec };
		sip_stack_filter_set(sip, security_filter, p->sec);
		err = registrar_alloc(&p->reg, sip, conf, p->dir, p->loc, &p->authn);
	}
	if (!err)
		sip_transport_close_handler_set(sip_stack_transport(sip), on_conn_closed, p);
	if (!err)
		err = trunks_alloc(&p->trunks, loop, sip, conf);
	if (!err) {
		struct trunk_conf *tc = NULL;
		if (!(err = trunks_conf_load(st, &tc)))
			trunks_conf_apply(p->trunks, tc);
		mem_deref(tc);
	}
	if (!err)
		err = keepalive_alloc(&p->ka, loop, sip, p->loc, conf);
	if (!err)
		tmr_start(loop_timers(loop), &p->housekeep_tmr, HOUSEKEEP_MS, on_housekeep, p);
	if (!err) {
		const struct call_deps cd = { .loop = loop, .sip = sip, .conf = conf, .dir = p->dir, .loc = p->loc,
					      .authn = &p->authn, .trunks = p->trunks, .cdr = on_cdr, .start = on_call_start,
					      .answered = on_call_answered,
					      .settings_patch = on_settings_patch, .arg = p };
		err = call_engine_alloc(&p->calls, &cd);
	}
	if (err) {
		pbx_free(p);
		return err;
	}
	*pp = p;
	return 0;
}

void pbx_free(struct pbx *p)
{
	if (!p)
		return;
	p->closing = true;
	webhooks_stop(p->wh);
	tmr_cancel(&p->housekeep_tmr);
	/* What the worker and the API sent last is handled, not dropped. */
	if (p->mq)
		mqueue_flush(p->mq);
	if (p->sip) {
		sip_stack_filter_set(p->sip, NULL, NULL);
		sip_transport_close_handler_set(sip_stack_transport(p->sip), NULL, NULL);
	}
	call_engine_free(p->calls);
	trunks_free(p->trunks);
	cdrs_flush(p); /* the records of the calls the stop ended, with those waiting */
	webhooks_free(p->wh);
	feeds_free(p->feeds);
	p->ka = mem_deref(p->ka);
	p->reg = mem_deref(p->reg);
	if (p->loc)
		flush(p);
	/* The bindings stay saved: they are not unregistered by a stop. */
	p->loc = mem_deref(p->loc);
	pending_free_list(&p->pend);
	p->dir = mem_deref(p->dir);
	p->events = mem_deref(p->events);
	p->sec = mem_deref(p->sec);
	p->auth = mem_deref(p->auth);
	mqueue_free(p->mq);
	hash_close(&p->pend_ids);
	free(p);
}
