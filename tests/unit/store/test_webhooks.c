/* Unit tests of the store's webhooks and their outbox on a real SQLite file in a
 * temporary directory: create/read/update/delete with the per-tenant limit and
 * row versions, tenant isolation; the outbox's rows per enabled, subscribed
 * webhook, the per-tenant cap (oldest dropped), the heads in delivery order, a
 * retry that holds a whole webhook back and the resume that lets it go, expiry,
 * and what deleting a webhook or a tenant does. FEATURES: CDR-03, CDR-25, TEN-08. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/mem.h"
#include "store/store.h"
#include "store_fx.h"

static int setup(void **state)
{
	return fx_tenants_setup(state, "webhooks");
}

static int teardown(void **state)
{
	return fx_tenants_teardown(state);
}

static uint64_t mk_hook(struct store *st, uint64_t tenant, unsigned events, bool enabled)
{
	struct store_webhook w = { .tenant_id = tenant, .events = events, .enabled = enabled,
				   .auth = STORE_WH_AUTH_BASIC };
	snprintf(w.url, sizeof(w.url), "https://example.com/%llu", (unsigned long long)tenant);
	snprintf(w.username, sizeof(w.username), "user");
	snprintf(w.secret, sizeof(w.secret), "secret");
	assert_int_equal(store_webhook_create(st, &w), 0);
	return w.id;
}

static void test_crud(void **state)
{
	struct fx_tenants *f = *state;
	uint64_t id = mk_hook(f->st, f->ta, STORE_WH_EVENTS, true);
	struct store_webhook w;
	assert_int_equal(store_webhook_get(f->st, f->ta, id, &w), 0);
	assert_string_equal(w.username, "user");
	assert_string_equal(w.secret, "secret");
	assert_int_equal(w.auth, STORE_WH_AUTH_BASIC);
	assert_int_equal(w.events, STORE_WH_EVENTS);
	assert_int_equal(w.version, 1);
	/* another tenant's id is not found */
	assert_int_equal(store_webhook_get(f->st, f->tb, id, &w), ENOENT);
	assert_int_equal(store_webhook_delete(f->st, f->tb, id), ENOENT);
	/* versioned update */
	struct store_webhook stale = w;
	w.enabled = false;
	w.auth = STORE_WH_AUTH_HMAC;
	w.username[0] = '\0';
	assert_int_equal(store_webhook_update(f->st, &w), 0);
	assert_int_equal(w.version, 2);
	assert_int_equal(store_webhook_update(f->st, &stale), ESTALE);
	stale.id = 12345;
	assert_int_equal(store_webhook_update(f->st, &stale), ENOENT);
	assert_int_equal(store_webhook_get(f->st, f->ta, id, &w), 0);
	assert_false(w.enabled);
	assert_int_equal(w.auth, STORE_WH_AUTH_HMAC);
	/* refusals: no events, unknown bits, no URL, tenant 0 or unknown */
	struct store_webhook bad = w;
	bad.events = 0;
	assert_int_equal(store_webhook_create(f->st, &bad), EINVAL);
	bad.events = 4;
	assert_int_equal(store_webhook_create(f->st, &bad), EINVAL);
	bad = w;
	bad.url[0] = '\0';
	assert_int_equal(store_webhook_create(f->st, &bad), EINVAL);
	bad = w;
	bad.tenant_id = 0;
	assert_int_equal(store_webhook_create(f->st, &bad), EINVAL);
	bad.tenant_id = 999;
	assert_int_equal(store_webhook_create(f->st, &bad), ENOENT);
	/* the limit, per tenant */
	for (int i = 1; i < STORE_WEBHOOKS_MAX; i++)
		mk_hook(f->st, f->ta, STORE_WH_CALL_CDR, true);
	bad = w;
	assert_int_equal(store_webhook_create(f->st, &bad), EDQUOT);
	mk_hook(f->st, f->tb, STORE_WH_CALL_CDR, true);
	struct store_webhooks *l;
	assert_int_equal(store_webhook_list(f->st, f->ta, &l), 0);
	assert_int_equal(l->n, STORE_WEBHOOKS_MAX);
	assert_int_equal(l->v[0].id, id); /* oldest first */
	mem_deref(l);
	assert_int_equal(store_webhook_delete(f->st, f->ta, id), 0);
	assert_int_equal(store_webhook_get(f->st, f->ta, id, &w), ENOENT);
}

struct heads {
	size_t n;
	struct store_outbox o[16];
	char json[16][64];
};

static int take_head(const void *row, void *arg)
{
	struct heads *h = arg;
	const struct store_outbox_head *r = row;
	if (h->n < 16) {
		h->o[h->n] = r->o;
		snprintf(h->json[h->n], sizeof(h->json[0]), "%s", r->o.json);
		h->o[h->n].json = h->json[h->n];
		h->n++;
	}
	return 0;
}

static struct heads heads(struct store *st)
{
	struct heads h = { 0 };
	assert_int_equal(store_outbox_heads(st, take_head, &h), 0);
	return h;
}

static void add(struct store *st, uint64_t tenant, unsigned ev, const char *json, int64_t now, uint32_t cap,
		uint32_t want_added, uint32_t want_dropped)
{
	uint32_t added, dropped;
	assert_int_equal(store_outbox_add(st, tenant, ev, json, now, cap, &added, &dropped), 0);
	assert_int_equal(added, want_added);
	assert_int_equal(dropped, want_dropped);
}

/* CDR-03, CDR-25: an event is queued for each enabled webhook of its tenant that
 * subscribed to it, and for no other. */
static void test_outbox_add(void **state)
{
	struct fx_tenants *f = *state;
	uint64_t both = mk_hook(f->st, f->ta, STORE_WH_EVENTS, true);
	uint64_t cdr = mk_hook(f->st, f->ta, STORE_WH_CALL_CDR, true);
	mk_hook(f->st, f->ta, STORE_WH_EVENTS, false);
	mk_hook(f->st, f->tb, STORE_WH_EVENTS, true);
	add(f->st, f->ta, STORE_WH_CALL_START, "{\"e\":1}", 1000, 100, 1, 0);
	add(f->st, f->ta, STORE_WH_CALL_CDR, "{\"e\":2}", 1001, 100, 2, 0);
	struct heads h = heads(f->st);
	assert_int_equal(h.n, 2);
	assert_int_equal(h.o[0].webhook_id, both);
	assert_string_equal(h.o[0].json, "{\"e\":1}");
	assert_int_equal(h.o[0].event, STORE_WH_CALL_START);
	assert_int_equal(h.o[1].webhook_id, cdr);
	assert_string_equal(h.o[1].json, "{\"e\":2}");
	assert_int_equal(h.o[1].attempts, 0);
	assert_int_equal(h.o[1].next_attempt_at, 1001);
	assert_int_equal(h.o[1].tenant_id, f->ta);
	struct store_webhook w;
	assert_int_equal(store_webhook_get(f->st, f->ta, both, &w), 0);
	assert_int_equal(w.pending, 2);
	/* a tenant without webhooks queues nothing; bad arguments */
	uint64_t tc = fx_tenant(f->st, "c");
	add(f->st, tc, STORE_WH_CALL_CDR, "{}", 1000, 100, 0, 0);
	uint32_t a, d;
	assert_int_equal(store_outbox_add(f->st, 0, STORE_WH_CALL_CDR, "{}", 1, 1, &a, &d), EINVAL);
	assert_int_equal(store_outbox_add(f->st, f->ta, 3, "{}", 1, 1, &a, &d), EINVAL);
	assert_int_equal(store_outbox_add(f->st, f->ta, STORE_WH_CALL_CDR, "{}", 1, 0, &a, &d), EINVAL);
	/* deleting the webhook deletes its rows; deleting the tenant its webhooks */
	assert_int_equal(store_webhook_delete(f->st, f->ta, both), 0);
	h = heads(f->st);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.o[0].webhook_id, cdr);
	assert_int_equal(store_tenant_delete(f->st, f->ta), 0);
	assert_int_equal(heads(f->st).n, 0);
}

/* The per-tenant cap: past it the oldest rows go, and only the tenant's own. */
static void test_outbox_cap(void **state)
{
	struct fx_tenants *f = *state;
	uint64_t w = mk_hook(f->st, f->ta, STORE_WH_CALL_CDR, true);
	mk_hook(f->st, f->tb, STORE_WH_CALL_CDR, true);
	add(f->st, f->tb, STORE_WH_CALL_CDR, "{\"b\":0}", 1, 3, 1, 0);
	char json[32];
	for (int i = 0; i < 5; i++) {
		snprintf(json, sizeof(json), "{\"n\":%d}", i);
		add(f->st, f->ta, STORE_WH_CALL_CDR, json, 10 + i, 3, 1, i < 3 ? 0 : 1);
	}
	struct store_webhook sw;
	assert_int_equal(store_webhook_get(f->st, f->ta, w, &sw), 0);
	assert_int_equal(sw.pending, 3);
	struct heads h = heads(f->st);
	assert_int_equal(h.n, 2);
	assert_string_equal(h.o[0].json, "{\"b\":0}");
	assert_string_equal(h.o[1].json, "{\"n\":2}"); /* 0 and 1 dropped */
}

/* Delivery order and retries: a row refused alone waits alone; a receiver that
 * is down holds its webhook's rows back until resumed; expiry by creation time. */
static void test_outbox_retry(void **state)
{
	struct fx_tenants *f = *state;
	uint64_t w1 = mk_hook(f->st, f->ta, STORE_WH_CALL_CDR, true);
	uint64_t w2 = mk_hook(f->st, f->tb, STORE_WH_CALL_CDR, true);
	add(f->st, f->ta, STORE_WH_CALL_CDR, "{\"a\":1}", 100, 100, 1, 0);
	add(f->st, f->ta, STORE_WH_CALL_CDR, "{\"a\":2}", 101, 100, 1, 0);
	add(f->st, f->tb, STORE_WH_CALL_CDR, "{\"b\":1}", 102, 100, 1, 0);
	struct heads h = heads(f->st);
	assert_int_equal(h.n, 2);
	assert_int_equal(h.o[0].webhook_id, w1);
	uint64_t a1 = h.o[0].id;
	/* refused alone: the next row of w1 comes first now */
	assert_int_equal(store_outbox_retry(f->st, a1, 1, 5000, false), 0);
	h = heads(f->st);
	assert_int_equal(h.n, 2);
	assert_string_equal(h.o[0].json, "{\"a\":2}");
	assert_string_equal(h.o[1].json, "{\"b\":1}");
	/* receiver down: all of w1 waits until 9000, w2 not */
	assert_int_equal(store_outbox_retry(f->st, a1, 2, 9000, true), 0);
	h = heads(f->st);
	assert_int_equal(h.o[0].webhook_id, w2);
	assert_int_equal(h.o[1].webhook_id, w1);
	assert_int_equal(h.o[1].next_attempt_at, 9000);
	assert_int_equal(h.o[1].id, a1); /* equal times: the oldest first */
	assert_int_equal(h.o[1].attempts, 2);
	/* it answers again: its rows are due now */
	assert_int_equal(store_outbox_resume(f->st, w1, 200), 0);
	h = heads(f->st);
	assert_int_equal(h.o[1].webhook_id, w1);
	assert_int_equal(h.o[1].next_attempt_at, 200);
	assert_int_equal(h.o[1].id, a1);
	/* a disabled webhook has no head */
	struct store_webhook sw;
	assert_int_equal(store_webhook_get(f->st, f->tb, w2, &sw), 0);
	sw.enabled = false;
	assert_int_equal(store_webhook_update(f->st, &sw), 0);
	assert_int_equal(heads(f->st).n, 1);
	/* delivered */
	assert_int_equal(store_outbox_delete(f->st, a1), 0);
	assert_int_equal(store_outbox_delete(f->st, a1), 0);
	h = heads(f->st);
	assert_string_equal(h.o[0].json, "{\"a\":2}");
	/* expiry by creation time (w2's row, created at 102, too) */
	uint32_t n;
	assert_int_equal(store_outbox_expire(f->st, 102, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_outbox_expire(f->st, 103, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(heads(f->st).n, 0);
	assert_int_equal(store_webhook_get(f->st, f->tb, w2, &sw), 0);
	assert_int_equal(sw.pending, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_crud, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_add, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_retry, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
