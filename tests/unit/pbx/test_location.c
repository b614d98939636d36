/* Unit tests of the location service (src/pbx/location.c) on a virtual clock: bind,
 * refresh and unbind; matching by +sip.instance and reg-id or by Contact URI; a
 * refresh keeps the binding's id and list position; expiry through the timer heap;
 * unbinding a whole AOR; the observer's events in order; restore and the store
 * form; strings over the store's field sizes; a binding held past its unbind. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/timer.h"
#include "pbx/location.h"

#define T0 1700000000000LL /* the virtual wall clock's start, ms since the epoch */

static int64_t g_wall;
static int64_t wall(void) { return g_wall; }

struct ev {
	uint64_t id;
	uint64_t user_id;
	enum loc_event ev;
	enum loc_reason why;
	char contact[STORE_CONTACT_SZ];
};

struct fx {
	struct tmr_heap th;
	struct location *l;
	struct sip_peer peer;
	struct ev evs[64];
	size_t nev;
};

static void on_change(struct location *l, const struct loc_binding *b, enum loc_event ev, enum loc_reason why,
		      void *arg)
{
	(void)l;
	struct fx *f = arg;
	assert_true(f->nev < sizeof(f->evs) / sizeof(f->evs[0]));
	struct ev *e = &f->evs[f->nev++];
	e->id = b->id;
	e->user_id = b->user_id;
	e->ev = ev;
	e->why = why;
	snprintf(e->contact, sizeof(e->contact), "%s", b->contact);
}

static int setup(void **state)
{
	log_set_level(LOG_ERROR);
	struct fx *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	g_wall = T0;
	tmr_heap_init(&f->th, 1000);
	if (location_alloc(&f->l, &f->th, wall, on_change, f))
		return -1;
	f->peer.tp = SIP_TP_UDP;
	f->peer.fd = -1;
	if (sa_set(&f->peer.addr, "192.0.2.10", 5062))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	mem_deref(f->l);
	assert_int_equal(tmr_heap_count(&f->th), 0);
	tmr_heap_close(&f->th);
	free(f);
	return 0;
}

/* Moves both clocks (the wall clock of expires_at and the timer heap) by ms. */
static void advance(struct fx *f, int64_t ms)
{
	g_wall += ms;
	tmr_heap_advance(&f->th, f->th.now + (uint64_t)ms);
}

static struct loc_spec spec(struct fx *f, uint64_t user, const char *contact, const char *instance,
			    uint32_t reg_id, int64_t expires_in_ms)
{
	struct loc_spec s = {
		.tenant_id = 7,
		.user_id = user,
		.contact = pl_cstr(contact),
		.instance = pl_cstr(instance ? instance : ""),
		.path = pl_cstr(""),
		.user_agent = pl_cstr("UnitPhone/1.0"),
		.call_id = pl_cstr("call-1@test"),
		.cseq = 1,
		.reg_id = reg_id,
		.q = -1,
		.expires_at = g_wall + expires_in_ms,
		.peer = &f->peer,
	};
	return s;
}

static struct loc_binding *bind_new(struct fx *f, uint64_t user, const char *contact, const char *instance,
				    uint32_t reg_id, int64_t expires_in_ms)
{
	struct loc_spec s = spec(f, user, contact, instance, reg_id, expires_in_ms);
	struct loc_binding *b = NULL;
	assert_null(location_match(f->l, &s));
	assert_int_equal(location_bind(f->l, NULL, &s, &b), 0);
	assert_non_null(b);
	return b;
}

static struct loc_binding *nth(struct fx *f, uint64_t user, size_t n)
{
	const struct list *l = location_aor(f->l, user);
	assert_non_null(l);
	size_t i = 0;
	LIST_FOREACH(l, le) {
		if (i++ == n)
			return le->data;
	}
	return NULL;
}

/* A binding is added, found by id and by its AOR, refreshed in place, and unbound. */
static void test_bind_refresh_unbind(void **state)
{
	struct fx *f = *state;
	struct loc_binding *b = bind_new(f, 42, "sip:100@192.0.2.10:5062", NULL, 0, 60000);
	uint64_t id = b->id;
	assert_true(id != 0);
	assert_int_equal(location_count(f->l), 1);
	assert_int_equal(location_aor_count(f->l, 42), 1);
	assert_ptr_equal(location_find(f->l, id), b);
	assert_string_equal(b->contact, "sip:100@192.0.2.10:5062");
	assert_string_equal(b->instance, "");
	assert_string_equal(b->user_agent, "UnitPhone/1.0");
	assert_int_equal(b->tenant_id, 7);
	assert_int_equal(b->expires_at, T0 + 60000);
	assert_int_equal(b->created_at, T0);
	assert_int_equal(b->updated_at, T0);
	assert_true(sa_eq(&b->peer.addr, &f->peer.addr));

	advance(f, 10000);
	struct loc_spec s = spec(f, 42, "sip:100@192.0.2.10:5062", NULL, 0, 120000);
	s.cseq = 2;
	struct loc_binding *m = location_match(f->l, &s);
	assert_ptr_equal(m, b);
	struct loc_binding *r = NULL;
	assert_int_equal(location_bind(f->l, m, &s, &r), 0);
	assert_non_null(r);
	assert_int_equal(r->id, id);
	assert_ptr_equal(location_find(f->l, id), r);
	assert_int_equal(location_count(f->l), 1);
	assert_int_equal(location_aor_count(f->l, 42), 1);
	assert_int_equal(r->cseq, 2);
	assert_int_equal(r->created_at, T0);
	assert_int_equal(r->updated_at, T0 + 10000);
	assert_int_equal(r->expires_at, T0 + 10000 + 120000);

	location_unbind(f->l, r, LOC_UNREGISTERED);
	assert_int_equal(location_count(f->l), 0);
	assert_int_equal(location_aor_count(f->l, 42), 0);
	assert_null(location_aor(f->l, 42));
	assert_null(location_find(f->l, id));
	assert_int_equal(tmr_heap_count(&f->th), 0);
}

/* With +sip.instance, a binding is the instance and reg-id (RFC 5626); without,
 * the Contact URI. An instance binding is not matched by its Contact alone. */
static void test_match_instance_and_contact(void **state)
{
	struct fx *f = *state;
	const char *inst = "\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"";
	struct loc_binding *i1 = bind_new(f, 42, "sip:100@192.0.2.10:5062;ob", inst, 1, 60000);
	struct loc_binding *i2 = bind_new(f, 42, "sip:100@192.0.2.11:5062;ob", inst, 2, 60000);
	struct loc_binding *c = bind_new(f, 42, "sip:100@192.0.2.12:5062", NULL, 0, 60000);
	assert_int_equal(location_aor_count(f->l, 42), 3);

	/* The same instance and reg-id from a new address (a new flow): found. */
	struct loc_spec s = spec(f, 42, "sip:100@198.51.100.1:7000;ob", inst, 1, 60000);
	assert_ptr_equal(location_match(f->l, &s), i1);
	s.reg_id = 2;
	assert_ptr_equal(location_match(f->l, &s), i2);
	s.reg_id = 3;
	assert_null(location_match(f->l, &s));
	/* Another instance with i1's Contact: not i1. */
	s = spec(f, 42, "sip:100@192.0.2.10:5062;ob", "\"<urn:uuid:other>\"", 1, 60000);
	assert_null(location_match(f->l, &s));
	/* i1's Contact without an instance: not i1 either. */
	s = spec(f, 42, "sip:100@192.0.2.10:5062;ob", NULL, 0, 60000);
	assert_null(location_match(f->l, &s));
	/* By Contact URI. */
	s = spec(f, 42, "sip:100@192.0.2.12:5062", NULL, 0, 60000);
	assert_ptr_equal(location_match(f->l, &s), c);
	s = spec(f, 42, "sip:100@192.0.2.12:5063", NULL, 0, 60000);
	assert_null(location_match(f->l, &s));
	/* Another user's AOR. */
	s = spec(f, 43, "sip:100@192.0.2.12:5062", NULL, 0, 60000);
	assert_null(location_match(f->l, &s));
}

/* A refresh keeps the device's id and its place in the AOR's list (forking order). */
static void test_refresh_keeps_position(void **state)
{
	struct fx *f = *state;
	uint64_t a = bind_new(f, 42, "sip:a@192.0.2.1", NULL, 0, 60000)->id;
	uint64_t b = bind_new(f, 42, "sip:b@192.0.2.2", NULL, 0, 60000)->id;
	uint64_t c = bind_new(f, 42, "sip:c@192.0.2.3", NULL, 0, 60000)->id;
	assert_true(a < b && b < c);
	advance(f, 1000);
	struct loc_spec s = spec(f, 42, "sip:b@192.0.2.2", NULL, 0, 60000);
	struct loc_binding *m = location_match(f->l, &s);
	assert_non_null(m);
	assert_int_equal(location_bind(f->l, m, &s, NULL), 0);
	assert_int_equal(location_aor_count(f->l, 42), 3);
	assert_int_equal(nth(f, 42, 0)->id, a);
	assert_int_equal(nth(f, 42, 1)->id, b);
	assert_int_equal(nth(f, 42, 2)->id, c);
	/* The first and the last too. */
	s = spec(f, 42, "sip:a@192.0.2.1", NULL, 0, 60000);
	assert_int_equal(location_bind(f->l, location_match(f->l, &s), &s, NULL), 0);
	s = spec(f, 42, "sip:c@192.0.2.3", NULL, 0, 60000);
	assert_int_equal(location_bind(f->l, location_match(f->l, &s), &s, NULL), 0);
	assert_int_equal(nth(f, 42, 0)->id, a);
	assert_int_equal(nth(f, 42, 1)->id, b);
	assert_int_equal(nth(f, 42, 2)->id, c);
	assert_int_equal(location_count(f->l), 3);
}

/* A binding's timer removes it at expires_at (LOC_EXPIRED); a refresh moves it. */
static void test_expiry(void **state)
{
	struct fx *f = *state;
	uint64_t id1 = bind_new(f, 42, "sip:a@192.0.2.1", NULL, 0, 60000)->id;
	uint64_t id2 = bind_new(f, 42, "sip:b@192.0.2.2", NULL, 0, 30000)->id;
	assert_int_equal(tmr_heap_count(&f->th), 2);
	f->nev = 0;

	advance(f, 29999);
	assert_int_equal(f->nev, 0);
	assert_int_equal(location_count(f->l), 2);
	advance(f, 1);
	assert_int_equal(f->nev, 1);
	assert_int_equal(f->evs[0].ev, LOC_REMOVED);
	assert_int_equal(f->evs[0].why, LOC_EXPIRED);
	assert_int_equal(f->evs[0].id, id2);
	assert_null(location_find(f->l, id2));
	assert_int_equal(location_count(f->l), 1);

	/* Refreshed at 40 s for 60 s more: it outlives its first deadline (60 s). */
	advance(f, 10000);
	struct loc_spec s = spec(f, 42, "sip:a@192.0.2.1", NULL, 0, 60000);
	assert_int_equal(location_bind(f->l, location_match(f->l, &s), &s, NULL), 0);
	assert_int_equal(tmr_heap_count(&f->th), 1);
	f->nev = 0;
	advance(f, 30000); /* 70 s */
	assert_int_equal(f->nev, 0);
	assert_non_null(location_find(f->l, id1));
	advance(f, 29999); /* 99.999 s */
	assert_int_equal(f->nev, 0);
	advance(f, 1); /* 100 s */
	assert_int_equal(f->nev, 1);
	assert_int_equal(f->evs[0].ev, LOC_REMOVED);
	assert_int_equal(f->evs[0].why, LOC_EXPIRED);
	assert_int_equal(f->evs[0].id, id1);
	assert_int_equal(location_count(f->l), 0);
	assert_null(location_aor(f->l, 42));
	assert_int_equal(tmr_heap_count(&f->th), 0);

	/* Already past its time when bound: gone on the next turn of the heap. */
	bind_new(f, 42, "sip:late@192.0.2.9", NULL, 0, -5000);
	advance(f, 0);
	assert_int_equal(location_count(f->l), 0);
}

/* location_unbind_aor ends every binding of one AOR and no other. */
static void test_unbind_aor(void **state)
{
	struct fx *f = *state;
	bind_new(f, 42, "sip:a@192.0.2.1", NULL, 0, 60000);
	bind_new(f, 42, "sip:b@192.0.2.2", NULL, 0, 60000);
	bind_new(f, 42, "sip:c@192.0.2.3", NULL, 0, 60000);
	uint64_t other = bind_new(f, 43, "sip:d@192.0.2.4", NULL, 0, 60000)->id;
	f->nev = 0;
	location_unbind_aor(f->l, 42, LOC_DROPPED);
	assert_int_equal(f->nev, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(f->evs[i].ev, LOC_REMOVED);
		assert_int_equal(f->evs[i].why, LOC_DROPPED);
		assert_int_equal(f->evs[i].user_id, 42);
	}
	assert_int_equal(location_count(f->l), 1);
	assert_int_equal(location_aor_count(f->l, 42), 0);
	assert_null(location_aor(f->l, 42));
	assert_non_null(location_find(f->l, other));
	assert_int_equal(tmr_heap_count(&f->th), 1);
	/* An AOR with nothing bound: nothing happens. */
	location_unbind_aor(f->l, 42, LOC_DROPPED);
	location_unbind_aor(f->l, 999, LOC_DROPPED);
	assert_int_equal(f->nev, 3);
	assert_int_equal(location_count(f->l), 1);
	/* Nothing fires later for the unbound ones. */
	advance(f, 120000);
	assert_int_equal(f->nev, 4);
	assert_int_equal(f->evs[3].id, other);
	assert_int_equal(location_count(f->l), 0);
}

/* The bindings of one connection go when it closes, whatever their AOR; those
 * of other connections and of UDP stay; a refresh over a new connection moves
 * the binding to it. The connections are stand-ins (only compared and held). */
static void test_unbind_conn(void **state)
{
	struct fx *f = *state;
	struct sip_conn *c1 = mem_zalloc(16, NULL), *c2 = mem_zalloc(16, NULL);
	assert_non_null(c1);
	assert_non_null(c2);
	f->peer.tp = SIP_TP_WSS;
	f->peer.conn = c1;
	bind_new(f, 42, "sip:a@x.invalid;transport=ws", NULL, 0, 60000);
	bind_new(f, 43, "sip:b@x.invalid;transport=ws", NULL, 0, 60000);
	struct loc_binding *moved = bind_new(f, 44, "sip:c@x.invalid;transport=ws", NULL, 0, 60000);
	f->peer.conn = c2;
	uint64_t kept = bind_new(f, 42, "sip:d@y.invalid;transport=ws", NULL, 0, 60000)->id;
	struct loc_spec s = spec(f, 44, "sip:c@x.invalid;transport=ws", NULL, 0, 60000);
	assert_ptr_equal(location_match(f->l, &s), moved);
	assert_int_equal(location_bind(f->l, moved, &s, &moved), 0); /* now over c2 */
	f->peer.tp = SIP_TP_UDP;
	f->peer.conn = NULL;
	bind_new(f, 45, "sip:e@192.0.2.5", NULL, 0, 60000);
	f->nev = 0;
	location_unbind_conn(f->l, c1, LOC_FLOW_CLOSED);
	assert_int_equal(f->nev, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(f->evs[i].ev, LOC_REMOVED);
		assert_int_equal(f->evs[i].why, LOC_FLOW_CLOSED);
	}
	assert_int_equal(location_count(f->l), 3);
	assert_non_null(location_find(f->l, kept));
	assert_int_equal(location_aor_count(f->l, 44), 1);
	location_unbind_conn(f->l, c1, LOC_FLOW_CLOSED); /* nothing left on it */
	location_unbind_conn(f->l, NULL, LOC_FLOW_CLOSED);
	assert_int_equal(f->nev, 2);
	location_unbind_conn(f->l, c2, LOC_FLOW_CLOSED);
	assert_int_equal(f->nev, 4);
	assert_int_equal(location_count(f->l), 1);
	assert_string_equal(location_reason_name(LOC_FLOW_CLOSED), "its connection closed");
	mem_deref(c1);
	mem_deref(c2);
}

/* The observer sees ADDED, REFRESHED, REMOVED, in that order, for one id. */
static void test_observer_order(void **state)
{
	struct fx *f = *state;
	struct loc_binding *b = bind_new(f, 42, "sip:a@192.0.2.1", NULL, 0, 60000);
	uint64_t id = b->id;
	struct loc_spec s = spec(f, 42, "sip:a@192.0.2.1", NULL, 0, 60000);
	assert_int_equal(location_bind(f->l, location_match(f->l, &s), &s, &b), 0);
	location_unbind(f->l, b, LOC_UNREGISTERED);
	bind_new(f, 42, "sip:b@192.0.2.2", NULL, 0, 1000);
	advance(f, 1000);
	assert_int_equal(f->nev, 5);
	assert_int_equal(f->evs[0].ev, LOC_ADDED);
	assert_int_equal(f->evs[1].ev, LOC_REFRESHED);
	assert_int_equal(f->evs[2].ev, LOC_REMOVED);
	assert_int_equal(f->evs[2].why, LOC_UNREGISTERED);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(f->evs[i].id, id);
	assert_int_equal(f->evs[3].ev, LOC_ADDED);
	assert_int_equal(f->evs[4].ev, LOC_REMOVED);
	assert_int_equal(f->evs[4].why, LOC_EXPIRED);
	assert_int_equal(f->evs[3].id, f->evs[4].id);
	assert_string_equal(f->evs[4].contact, "sip:b@192.0.2.2");
}

static void store_row(struct store_location *sl, uint64_t id, uint64_t user, int64_t expires_at)
{
	memset(sl, 0, sizeof(*sl));
	sl->id = id;
	sl->tenant_id = 7;
	sl->user_id = user;
	snprintf(sl->contact, sizeof(sl->contact), "sip:r%llu@203.0.113.5:5070;transport=tcp", (unsigned long long)id);
	snprintf(sl->instance, sizeof(sl->instance), "\"<urn:uuid:restored>\"");
	sl->reg_id = 1;
	sl->q = 500;
	snprintf(sl->path, sizeof(sl->path), "<sip:edge.example.net;lr>");
	snprintf(sl->transport, sizeof(sl->transport), "tcp");
	snprintf(sl->address, sizeof(sl->address), "203.0.113.5");
	sl->port = 40123;
	snprintf(sl->local_address, sizeof(sl->local_address), "192.0.2.1");
	sl->local_port = 5060;
	snprintf(sl->user_agent, sizeof(sl->user_agent), "Restored/2");
	snprintf(sl->call_id, sizeof(sl->call_id), "cid-restored");
	sl->cseq = 77;
	sl->expires_at = expires_at;
	sl->created_at = T0 - 100000;
	sl->updated_at = T0 - 50000;
}

/* Rows the store kept come back unless already expired, and expire on time. */
static void test_restore(void **state)
{
	struct fx *f = *state;
	struct store_location sl;
	store_row(&sl, 1001, 42, T0 - 1);
	assert_int_equal(location_restore(f->l, &sl), 0);
	store_row(&sl, 1002, 42, T0); /* expires right now: gone too */
	assert_int_equal(location_restore(f->l, &sl), 0);
	assert_int_equal(location_count(f->l), 0);
	assert_null(location_find(f->l, 1001));
	assert_null(location_aor(f->l, 42));
	assert_int_equal(tmr_heap_count(&f->th), 0);

	store_row(&sl, 1003, 42, T0 + 30000);
	assert_int_equal(location_restore(f->l, &sl), 0);
	assert_int_equal(location_count(f->l), 1);
	struct loc_binding *b = location_find(f->l, 1003);
	assert_non_null(b);
	assert_int_equal(b->user_id, 42);
	assert_int_equal(b->peer.tp, SIP_TP_TCP);
	assert_int_equal(sa_port(&b->peer.addr), 40123);
	assert_int_equal(b->created_at, T0 - 100000);
	/* A REGISTER of the same instance and reg-id refreshes the restored one. */
	struct loc_spec s = spec(f, 42, "sip:new@203.0.113.5", "\"<urn:uuid:restored>\"", 1, 60000);
	assert_ptr_equal(location_match(f->l, &s), b);
	f->nev = 0;
	advance(f, 30000);
	assert_int_equal(f->nev, 1);
	assert_int_equal(f->evs[0].id, 1003);
	assert_int_equal(f->evs[0].why, LOC_EXPIRED);
	assert_int_equal(location_count(f->l), 0);
}

static void assert_rows_equal(const struct store_location *a, const struct store_location *b)
{
	assert_int_equal(a->id, b->id);
	assert_int_equal(a->tenant_id, b->tenant_id);
	assert_int_equal(a->user_id, b->user_id);
	assert_string_equal(a->contact, b->contact);
	assert_string_equal(a->instance, b->instance);
	assert_int_equal(a->reg_id, b->reg_id);
	assert_int_equal(a->q, b->q);
	assert_string_equal(a->path, b->path);
	assert_int_equal(strcasecmp(a->transport, b->transport), 0); /* "tcp" comes back as "TCP" */
	assert_string_equal(a->address, b->address);
	assert_int_equal(a->port, b->port);
	assert_string_equal(a->local_address, b->local_address);
	assert_int_equal(a->local_port, b->local_port);
	assert_string_equal(a->user_agent, b->user_agent);
	assert_string_equal(a->call_id, b->call_id);
	assert_int_equal(a->cseq, b->cseq);
	assert_int_equal(a->expires_at, b->expires_at);
	assert_int_equal(a->created_at, b->created_at);
	assert_int_equal(a->updated_at, b->updated_at);
}

/* location_to_store, then location_restore into another service, then
 * location_to_store again: the same row, IPv6 and a local address included. */
static void test_store_round_trip(void **state)
{
	struct fx *f = *state;
	f->peer.tp = SIP_TP_TLS;
	assert_int_equal(sa_set(&f->peer.addr, "2001:db8::7", 5061), 0);
	assert_int_equal(sa_set(&f->peer.local, "2001:db8::1", 5061), 0);
	struct loc_spec s = spec(f, 42, "sips:100@[2001:db8::7]:5061;transport=tls", "\"<urn:uuid:rt>\"", 3, 90000);
	s.path = pl_cstr("<sip:p1.example.net;lr>,<sip:p2.example.net;lr>");
	s.q = 700;
	s.cseq = 9;
	struct loc_binding *b = NULL;
	assert_int_equal(location_bind(f->l, NULL, &s, &b), 0);
	struct store_location r1, r2;
	location_to_store(b, &r1);
	assert_int_equal(r1.id, b->id);
	assert_string_equal(r1.contact, "sips:100@[2001:db8::7]:5061;transport=tls");
	assert_string_equal(r1.instance, "\"<urn:uuid:rt>\"");
	assert_string_equal(r1.path, "<sip:p1.example.net;lr>,<sip:p2.example.net;lr>");
	assert_int_equal(strcasecmp(r1.transport, "tls"), 0); /* the API lower-cases it */
	assert_string_equal(r1.address, "2001:db8::7");
	assert_int_equal(r1.port, 5061);
	assert_string_equal(r1.local_address, "2001:db8::1");
	assert_int_equal(r1.local_port, 5061);
	assert_int_equal(r1.reg_id, 3);
	assert_int_equal(r1.q, 700);
	assert_int_equal(r1.cseq, 9);
	assert_int_equal(r1.expires_at, T0 + 90000);

	struct tmr_heap th2;
	tmr_heap_init(&th2, 0);
	struct location *l2 = NULL;
	assert_int_equal(location_alloc(&l2, &th2, wall, NULL, NULL), 0);
	assert_int_equal(location_restore(l2, &r1), 0);
	struct loc_binding *b2 = location_find(l2, r1.id);
	assert_non_null(b2);
	location_to_store(b2, &r2);
	assert_rows_equal(&r1, &r2);
	mem_deref(l2);
	assert_int_equal(tmr_heap_count(&th2), 0);
	tmr_heap_close(&th2);

	/* And from a restored row (IPv4, no local address). */
	struct store_location r3, r4;
	store_row(&r3, 2001, 43, T0 + 5000);
	r3.local_address[0] = '\0';
	r3.local_port = 0;
	assert_int_equal(location_restore(f->l, &r3), 0);
	location_to_store(location_find(f->l, 2001), &r4);
	assert_rows_equal(&r3, &r4);
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* A string the store could not hold is refused with EINVAL and binds nothing;
 * one byte less fits. */
static void test_too_long(void **state)
{
	struct fx *f = *state;
	char *big = repeat('x', STORE_CONTACT_SZ + 100);
	struct loc_spec s = spec(f, 42, "sip:a@192.0.2.1", NULL, 0, 60000);
	struct loc_binding *b = NULL;

	struct { struct pl *field; size_t sz; } cases[] = {
		{ &s.contact, STORE_CONTACT_SZ },
		{ &s.instance, STORE_INSTANCE_SZ },
		{ &s.path, STORE_CONTACT_SZ },
		{ &s.user_agent, STORE_UA_SZ },
		{ &s.call_id, STORE_CALLID_SZ },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = spec(f, 42, "sip:a@192.0.2.1", NULL, 0, 60000);
		*cases[i].field = (struct pl){ big, cases[i].sz };
		assert_int_equal(location_bind(f->l, NULL, &s, &b), EINVAL);
		assert_int_equal(location_count(f->l), 0);
		assert_null(location_aor(f->l, 42));
		assert_int_equal(f->nev, 0);
		assert_int_equal(tmr_heap_count(&f->th), 0);
	}
	/* Refused as a refresh too: the old binding stays as it was. */
	struct loc_binding *old = bind_new(f, 42, "sip:a@192.0.2.1", NULL, 0, 60000);
	uint64_t id = old->id;
	s = spec(f, 42, "sip:a@192.0.2.1", NULL, 0, 120000);
	s.user_agent = (struct pl){ big, STORE_UA_SZ };
	assert_int_equal(location_bind(f->l, old, &s, NULL), EINVAL);
	assert_ptr_equal(location_find(f->l, id), old);
	assert_int_equal(old->expires_at, T0 + 60000);
	location_unbind(f->l, old, LOC_UNREGISTERED);

	/* The largest that fits, each field at once, and survives the store form. */
	s = spec(f, 42, "sip:a@192.0.2.1", NULL, 0, 60000);
	s.contact = (struct pl){ big, STORE_CONTACT_SZ - 1 };
	s.instance = (struct pl){ big, STORE_INSTANCE_SZ - 1 };
	s.path = (struct pl){ big, STORE_CONTACT_SZ - 1 };
	s.user_agent = (struct pl){ big, STORE_UA_SZ - 1 };
	s.call_id = (struct pl){ big, STORE_CALLID_SZ - 1 };
	assert_int_equal(location_bind(f->l, NULL, &s, &b), 0);
	struct store_location r;
	location_to_store(b, &r);
	assert_int_equal(strlen(r.contact), STORE_CONTACT_SZ - 1);
	assert_int_equal(strlen(r.instance), STORE_INSTANCE_SZ - 1);
	assert_int_equal(strlen(r.path), STORE_CONTACT_SZ - 1);
	assert_int_equal(strlen(r.user_agent), STORE_UA_SZ - 1);
	assert_int_equal(strlen(r.call_id), STORE_CALLID_SZ - 1);
	free(big);
}

/* A binding someone still holds (mem_ref) after its unbind is off the clock: its
 * timer never fires, no second REMOVED, and the count does not go down twice. */
static void test_held_binding_does_not_fire(void **state)
{
	struct fx *f = *state;
	struct loc_binding *b = bind_new(f, 42, "sip:a@192.0.2.1", NULL, 0, 10000);
	bind_new(f, 42, "sip:b@192.0.2.2", NULL, 0, 60000);
	mem_ref(b);
	f->nev = 0;
	location_unbind(f->l, b, LOC_UNREGISTERED);
	assert_int_equal(f->nev, 1);
	assert_int_equal(location_count(f->l), 1);
	assert_false(tmr_active(&b->tmr));
	advance(f, 20000);
	assert_int_equal(f->nev, 1);
	assert_int_equal(location_count(f->l), 1);
	assert_int_equal(location_aor_count(f->l, 42), 1);
	mem_deref(b);

	/* The same for the old copy of a refreshed binding. */
	struct loc_spec s = spec(f, 42, "sip:b@192.0.2.2", NULL, 0, 60000);
	struct loc_binding *old = location_match(f->l, &s);
	assert_non_null(old);
	mem_ref(old);
	s.expires_at = g_wall + 120000;
	assert_int_equal(location_bind(f->l, old, &s, NULL), 0);
	assert_false(tmr_active(&old->tmr));
	f->nev = 0;
	advance(f, 60000); /* past the old copy's deadline */
	assert_int_equal(f->nev, 0);
	assert_int_equal(location_count(f->l), 1);
	mem_deref(old);
	advance(f, 60000);
	assert_int_equal(f->nev, 1);
	assert_int_equal(location_count(f->l), 0);
}

/* Freeing the service with bindings cancels their timers and tells nobody. */
static void test_free_with_bindings(void **state)
{
	struct fx *f = *state;
	for (int i = 0; i < 20; i++) {
		char c[64];
		snprintf(c, sizeof(c), "sip:%d@192.0.2.1", i);
		bind_new(f, (uint64_t)(i % 4), c, NULL, 0, 60000 + i);
	}
	assert_int_equal(location_count(f->l), 20);
	assert_int_equal(tmr_heap_count(&f->th), 20);
	f->nev = 0;
	f->l = mem_deref(f->l);
	assert_int_equal(f->nev, 0);
	assert_int_equal(tmr_heap_count(&f->th), 0);
	advance(f, 120000);
	assert_int_equal(f->nev, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bind_refresh_unbind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_match_instance_and_contact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_keeps_position, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unbind_aor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unbind_conn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_observer_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_binding_does_not_fire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_with_bindings, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
