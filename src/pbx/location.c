/* The location service (see location.h): bindings per address-of-record in a hash
 * table keyed by user id, and by binding id; one timer per binding. */
#include "pbx/location.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/hash.h"
#include "core/mem.h"
#include "sip/transport.h"

#define BUCKETS 16384

/* The bindings of one address-of-record. */
struct loc_aor {
	uint64_t user_id;
	struct list bindings; /* oldest first */
	struct le le;
};

struct location {
	struct hash aors, ids;
	struct hash conns; /* bindings of stream flows, by connection */
	size_t count;
	struct tmr_heap *th;
	loc_clock_h *wall_ms;
	loc_change_h *h;
	void *arg;
};

static struct loc_aor *aor_find(const struct location *l, uint64_t user_id)
{
	LIST_FOREACH(hash_bucket((struct hash *)&l->aors, hash_u64(user_id)), le) {
		struct loc_aor *a = le->data;
		if (a->user_id == user_id)
			return a;
	}
	return NULL;
}

const struct list *location_aor(const struct location *l, uint64_t user_id)
{
	struct loc_aor *a = aor_find(l, user_id);
	return a ? &a->bindings : NULL;
}

size_t location_aor_count(const struct location *l, uint64_t user_id)
{
	struct loc_aor *a = aor_find(l, user_id);
	return a ? a->bindings.n : 0;
}

struct loc_binding *location_find(const struct location *l, uint64_t id)
{
	LIST_FOREACH(hash_bucket((struct hash *)&l->ids, hash_u64(id)), le) {
		struct loc_binding *b = le->data;
		if (b->id == id)
			return b;
	}
	return NULL;
}

static bool pl_eq_cstr(const struct pl *p, const char *s)
{
	return strlen(s) == p->l && memcmp(s, p->p, p->l) == 0;
}

struct loc_binding *location_match(const struct location *l, const struct loc_spec *s)
{
	struct loc_aor *a = aor_find(l, s->user_id);
	if (!a)
		return NULL;
	LIST_FOREACH(&a->bindings, le) {
		struct loc_binding *b = le->data;
		if (s->instance.l) {
			/* RFC 5626 §6: a flow is the instance and reg-id; without reg-id,
			 * the instance alone (RFC 5627). */
			if (pl_eq_cstr(&s->instance, b->instance) && b->reg_id == s->reg_id)
				return b;
		} else if (!b->instance[0] && pl_eq_cstr(&s->contact, b->contact)) {
			return b;
		}
	}
	return NULL;
}

static void binding_destroy(void *arg)
{
	struct loc_binding *b = arg;
	tmr_cancel(&b->tmr);
	mem_deref(b->peer.conn);
}

static void aor_drop_if_empty(struct location *l, struct loc_aor *a)
{
	if (a->bindings.n)
		return;
	list_unlink(&a->le);
	mem_deref(a);
}

/* Off the lists and the clock; whoever still holds a reference keeps a copy
 * that no longer expires or counts. */
static void detach(struct location *l, struct loc_binding *b)
{
	tmr_cancel(&b->tmr);
	list_unlink(&b->le_aor);
	list_unlink(&b->le_id);
	list_unlink(&b->le_conn);
	l->count--;
	mem_deref(b);
}

static void unbind(struct location *l, struct loc_binding *b, enum loc_reason why)
{
	struct loc_aor *a = b->aor;
	if (l->h)
		l->h(l, b, LOC_REMOVED, why, l->arg);
	detach(l, b);
	aor_drop_if_empty(l, a);
}

void location_unbind(struct location *l, struct loc_binding *b, enum loc_reason why)
{
	unbind(l, b, why);
}

static uint32_t conn_hash(const struct sip_conn *c)
{
	return hash_u64((uint64_t)(uintptr_t)c);
}

void location_unbind_conn(struct location *l, const struct sip_conn *c, enum loc_reason why)
{
	if (!c)
		return;
	for (;;) {
		struct loc_binding *hit = NULL;
		LIST_FOREACH(hash_bucket(&l->conns, conn_hash(c)), le) {
			struct loc_binding *b = le->data;
			if (b->peer.conn == c) {
				hit = b;
				break;
			}
		}
		if (!hit)
			return;
		unbind(l, hit, why); /* the bucket changed: look again */
	}
}

void location_unbind_aor(struct location *l, uint64_t user_id, enum loc_reason why)
{
	struct loc_aor *a = aor_find(l, user_id);
	while (a && a->bindings.head) {
		bool last = a->bindings.n == 1;
		unbind(l, a->bindings.head->data, why);
		if (last)
			break; /* a was freed with its last binding */
	}
}

static void on_expire(void *arg)
{
	struct loc_binding *b = arg;
	unbind(b->loc, b, LOC_EXPIRED);
}

static void arm(struct location *l, struct loc_binding *b)
{
	int64_t left = b->expires_at - l->wall_ms();
	tmr_start(l->th, &b->tmr, left > 0 ? (uint64_t)left : 0, on_expire, b);
}

/* One allocation holds the binding and its strings. */
static struct loc_binding *binding_new(const struct pl *str[5])
{
	size_t need = sizeof(struct loc_binding);
	for (int i = 0; i < 5; i++)
		need += str[i]->l + 1;
	struct loc_binding *b = mem_zalloc(need, binding_destroy);
	if (!b)
		return NULL;
	char *p = (char *)(b + 1);
	const char **dst[5] = { &b->contact, &b->instance, &b->path, &b->user_agent, &b->call_id };
	for (int i = 0; i < 5; i++) {
		if (str[i]->l)
			memcpy(p, str[i]->p, str[i]->l);
		p[str[i]->l] = '\0';
		*dst[i] = p;
		p += str[i]->l + 1;
	}
	return b;
}

static struct loc_aor *aor_get(struct location *l, uint64_t user_id)
{
	struct loc_aor *a = aor_find(l, user_id);
	if (a)
		return a;
	a = mem_zalloc(sizeof(*a), NULL);
	if (!a)
		return NULL;
	a->user_id = user_id;
	hash_insert(&l->aors, hash_u64(user_id), &a->le, a);
	return a;
}

/* A binding made from s in its AOR's table, not yet linked anywhere. */
static struct loc_binding *binding_make(struct location *l, const struct loc_spec *s, int *err)
{
	const struct pl *str[5] = { &s->contact, &s->instance, &s->path, &s->user_agent, &s->call_id };
	const size_t max[5] = { STORE_CONTACT_SZ, STORE_INSTANCE_SZ, STORE_CONTACT_SZ, STORE_UA_SZ,
				STORE_CALLID_SZ };
	for (int i = 0; i < 5; i++) {
		if (str[i]->l >= max[i]) {
			*err = EINVAL;
			return NULL;
		}
	}
	struct loc_aor *a = aor_get(l, s->user_id);
	struct loc_binding *b = a ? binding_new(str) : NULL;
	if (!b) {
		if (a)
			aor_drop_if_empty(l, a);
		*err = ENOMEM;
		return NULL;
	}
	b->loc = l;
	b->aor = a;
	b->tenant_id = s->tenant_id;
	b->user_id = s->user_id;
	b->cseq = s->cseq;
	b->reg_id = s->reg_id;
	b->q = s->q;
	b->expires_at = s->expires_at;
	b->peer = *s->peer;
	b->peer.conn = mem_ref(s->peer->conn);
	return b;
}

/* Into the id table and on the clock (the AOR list is the caller's). */
static void binding_link(struct location *l, struct loc_binding *b)
{
	hash_insert(&l->ids, hash_u64(b->id), &b->le_id, b);
	if (b->peer.conn)
		hash_insert(&l->conns, conn_hash(b->peer.conn), &b->le_conn, b);
	l->count++;
	arm(l, b);
}

int location_bind(struct location *l, struct loc_binding *old, const struct loc_spec *s, struct loc_binding **out)
{
	int err;
	struct loc_binding *b = binding_make(l, s, &err);
	if (!b)
		return err;
	int64_t now = l->wall_ms();
	b->updated_at = now;
	if (old) {
		/* A refresh keeps the device's id and place in the list: it is the same
		 * device to the API and to forking order. */
		b->id = old->id;
		b->created_at = old->created_at;
		list_insert_before(&old->le_aor, &b->le_aor, b);
		detach(l, old);
	} else {
		b->id = store_id_next();
		b->created_at = now;
		list_append(&b->aor->bindings, &b->le_aor, b);
	}
	binding_link(l, b);
	if (l->h)
		l->h(l, b, old ? LOC_REFRESHED : LOC_ADDED, LOC_EXPIRED, l->arg);
	if (out)
		*out = b;
	return 0;
}

static enum sip_transport_kind tp_kind(const char *name)
{
	for (int k = 0; k < SIP_TP_COUNT; k++) {
		if (strcasecmp(name, sip_transport_name((enum sip_transport_kind)k)) == 0)
			return (enum sip_transport_kind)k;
	}
	return SIP_TP_UDP;
}

int location_restore(struct location *l, const struct store_location *sl)
{
	if (sl->expires_at <= l->wall_ms())
		return 0;
	struct sip_peer peer = { .tp = tp_kind(sl->transport), .fd = -1 };
	if (sa_set(&peer.addr, sl->address, sl->port))
		return EINVAL;
	if (sl->local_address[0])
		sa_set(&peer.local, sl->local_address, sl->local_port);
	/* The connection it registered over is gone with the old process: a request
	 * to it opens a new one to the address it came from. */
	peer.reconnect_port = sl->port;
	struct loc_spec s = { .tenant_id = sl->tenant_id, .user_id = sl->user_id,
			      .contact = pl_cstr(sl->contact), .instance = pl_cstr(sl->instance),
			      .path = pl_cstr(sl->path), .user_agent = pl_cstr(sl->user_agent),
			      .call_id = pl_cstr(sl->call_id), .cseq = sl->cseq, .reg_id = sl->reg_id,
			      .q = sl->q, .expires_at = sl->expires_at, .peer = &peer };
	int err;
	struct loc_binding *b = binding_make(l, &s, &err);
	if (!b)
		return err;
	b->id = sl->id;
	b->created_at = sl->created_at;
	b->updated_at = sl->updated_at;
	list_append(&b->aor->bindings, &b->le_aor, b);
	binding_link(l, b);
	return 0;
}

void location_to_store(const struct loc_binding *b, struct store_location *o)
{
	memset(o, 0, sizeof(*o));
	o->id = b->id;
	o->tenant_id = b->tenant_id;
	o->user_id = b->user_id;
	snprintf(o->contact, sizeof(o->contact), "%s", b->contact);
	snprintf(o->instance, sizeof(o->instance), "%s", b->instance);
	snprintf(o->path, sizeof(o->path), "%s", b->path);
	snprintf(o->user_agent, sizeof(o->user_agent), "%s", b->user_agent);
	snprintf(o->call_id, sizeof(o->call_id), "%s", b->call_id);
	snprintf(o->transport, sizeof(o->transport), "%s", sip_transport_name(b->peer.tp));
	for (char *c = o->transport; *c; c++) /* lower case, as store.h keeps it */
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
	sa_ntop(&b->peer.addr, o->address, sizeof(o->address));
	o->port = sa_port(&b->peer.addr);
	if (sa_af(&b->peer.local)) {
		sa_ntop(&b->peer.local, o->local_address, sizeof(o->local_address));
		o->local_port = sa_port(&b->peer.local);
	}
	o->reg_id = b->reg_id;
	o->q = b->q;
	o->cseq = b->cseq;
	o->expires_at = b->expires_at;
	o->created_at = b->created_at;
	o->updated_at = b->updated_at;
}

size_t location_count(const struct location *l) { return l->count; }

uint32_t location_buckets(const struct location *l) { return l->ids.mask + 1; }

void location_walk(struct location *l, uint32_t from, uint32_t to, void (*fn)(struct loc_binding *b, void *arg),
		   void *arg)
{
	for (uint32_t i = from; i < to && i <= l->ids.mask; i++) {
		for (struct le *le = l->ids.buckets[i].head, *next; le; le = next) {
			next = le->next; /* fn may unbind this binding */
			fn(le->data, arg);
		}
	}
}

const char *location_reason_name(enum loc_reason why)
{
	switch (why) {
	case LOC_EXPIRED: return "expired";
	case LOC_UNREGISTERED: return "unregistered";
	case LOC_REPLACED: return "replaced";
	case LOC_DROPPED: return "dropped";
	case LOC_ADMIN: return "unregistered by an administrator";
	case LOC_UNREACHABLE: return "unreachable (no answer to keep-alives)";
	case LOC_FLOW_CLOSED: return "its connection closed";
	}
	return "?";
}

static void loc_destroy(void *arg)
{
	struct location *l = arg;
	l->h = NULL; /* no events while tearing down */
	for (uint32_t i = 0; i <= l->aors.mask; i++) {
		while (l->aors.buckets && l->aors.buckets[i].head) {
			struct loc_aor *a = l->aors.buckets[i].head->data;
			location_unbind_aor(l, a->user_id, LOC_DROPPED);
		}
	}
	hash_close(&l->aors);
	hash_close(&l->ids);
	hash_close(&l->conns);
}

int location_alloc(struct location **lp, struct tmr_heap *th, loc_clock_h *wall_ms, loc_change_h *h, void *arg)
{
	struct location *l = mem_zalloc(sizeof(*l), loc_destroy);
	if (!l)
		return ENOMEM;
	l->th = th;
	l->wall_ms = wall_ms;
	l->h = h;
	l->arg = arg;
	if (hash_init(&l->aors, BUCKETS) || hash_init(&l->ids, BUCKETS) || hash_init(&l->conns, BUCKETS)) {
		mem_deref(l);
		return ENOMEM;
	}
	*lp = l;
	return 0;
}
