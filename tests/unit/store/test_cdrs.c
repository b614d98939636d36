/* Unit tests of the store's CDRs on a real SQLite file in a temporary directory:
 * insert and list (newest first, the JSON and the call log kept), each filter,
 * paging, tenant isolation, users' call logs and what deleting a user or a
 * tenant does to them, refusals that write nothing, a savepoint inside a batch,
 * the purge, and two threads inserting at once. FEATURES ids: CDR-01, CDR-26,
 * TEN-04. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/mem.h"
#include "store/store.h"
#include "store_fx.h"

struct fx {
	char dir[64];
	struct store *st;
	uint64_t ta, tb;         /* tenants A and B */
	uint64_t alice, bob, bea; /* alice, bob in A; bea in B */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->st = fx_store_open(f->dir, sizeof(f->dir), "cdrs");
	f->ta = fx_tenant(f->st, "a");
	f->tb = fx_tenant(f->st, "b");
	f->alice = fx_user(f->st, f->ta, "alice", "101");
	f->bob = fx_user(f->st, f->ta, "bob", "102");
	f->bea = fx_user(f->st, f->tb, "bea", "101");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	fx_store_close(f->st, f->dir);
	free(f);
	return 0;
}

/* A CDR of tenant at start (seconds) from caller to callee, in the given users'
 * call logs; its JSON carries the id so a listed record can be told apart. */
static int put(struct store *st, uint64_t tenant, int64_t start, const char *caller, const char *callee,
	       const char *dir, uint64_t u1, uint64_t u2, uint64_t *id)
{
	char json[256];
	struct store_cdr c = { .id = store_id_next(), .tenant_id = tenant, .session_id = store_id_next(),
			       .start_time = start, .answered_time = start + 2, .ended_time = start + 60,
			       .json = json };
	snprintf(c.caller, sizeof(c.caller), "%s", caller);
	snprintf(c.callee, sizeof(c.callee), "%s", callee);
	snprintf(c.direction, sizeof(c.direction), "%s", dir);
	snprintf(json, sizeof(json), "{\"caller\":\"%s\",\"callee\":\"%s\",\"start_time\":\"%lld\",\"n\":%llu}",
		 caller, callee, (long long)start, (unsigned long long)c.id);
	if (u1)
		c.users[c.nusers++] = u1;
	if (u2)
		c.users[c.nusers++] = u2;
	if (id)
		*id = c.id;
	return store_cdr_insert(st, &c);
}

static struct store_cdrs *list(struct store *st, uint64_t tenant, const struct store_cdr_filter *f)
{
	struct store_cdrs *l = NULL;
	assert_int_equal(store_cdr_list(st, tenant, f, &l), 0);
	assert_non_null(l);
	return l;
}

static uint64_t count(struct store *st, uint64_t tenant, const struct store_cdr_filter *f)
{
	struct store_cdrs *l = list(st, tenant, f);
	uint64_t n = l->count;
	mem_deref(l);
	return n;
}

static int64_t rows(const struct fx *f, const char *sql)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/pbxd.db", f->dir);
	sqlite3 *db;
	sqlite3_stmt *stmt;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	int64_t n = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return n;
}

/* CDR-01: what is inserted is listed back whole, newest start first. */
static void test_insert_list(void **state)
{
	struct fx *f = *state;
	uint64_t id[3];
	assert_int_equal(put(f->st, f->ta, 1000, "101", "102", "ext", f->alice, f->bob, &id[0]), 0);
	assert_int_equal(put(f->st, f->ta, 3000, "101", "5551234", "out", f->alice, 0, &id[1]), 0);
	assert_int_equal(put(f->st, f->ta, 2000, "5559876", "102", "in", f->bob, 0, &id[2]), 0);
	struct store_cdr_filter q;
	store_cdr_filter_init(&q);
	assert_int_equal(q.top, 20);
	struct store_cdrs *l = list(f->st, f->ta, &q);
	assert_int_equal(l->count, 3);
	assert_int_equal(l->n, 3);
	assert_int_equal(l->v[0].id, id[1]);
	assert_int_equal(l->v[1].id, id[2]);
	assert_int_equal(l->v[2].id, id[0]);
	const struct store_cdr *c = &l->v[2];
	assert_int_equal(c->tenant_id, f->ta);
	assert_int_equal(c->start_time, 1000);
	assert_int_equal(c->answered_time, 1002);
	assert_int_equal(c->ended_time, 1060);
	assert_string_equal(c->caller, "101");
	assert_string_equal(c->callee, "102");
	assert_string_equal(c->direction, "ext");
	assert_int_equal(c->status_code, 0);
	assert_int_equal(c->nusers, 2);
	assert_true((c->users[0] == f->alice && c->users[1] == f->bob) ||
		    (c->users[0] == f->bob && c->users[1] == f->alice));
	char want[256];
	snprintf(want, sizeof(want), "{\"caller\":\"101\",\"callee\":\"102\",\"start_time\":\"1000\",\"n\":%llu}",
		 (unsigned long long)id[0]);
	assert_string_equal(c->json, want);
	assert_int_equal(l->v[0].nusers, 1);
	mem_deref(l);

	/* Same start time: the later id first, so pages never overlap. */
	uint64_t tie;
	assert_int_equal(put(f->st, f->ta, 3000, "103", "104", "ext", 0, 0, &tie), 0);
	l = list(f->st, f->ta, &q);
	assert_int_equal(l->v[0].id, tie);
	assert_int_equal(l->v[0].nusers, 0);
	assert_int_equal(l->v[1].id, id[1]);
	mem_deref(l);

	/* A status code is kept. */
	char json[] = "{}";
	struct store_cdr failed = { .id = store_id_next(), .tenant_id = f->ta, .start_time = 50, .ended_time = 80,
				    .direction = "ext", .status_code = 486, .json = json };
	assert_int_equal(store_cdr_insert(f->st, &failed), 0);
	q.top = 1;
	q.to = 51;
	l = list(f->st, f->ta, &q);
	assert_int_equal(l->n, 1);
	assert_int_equal(l->v[0].status_code, 486);
	assert_int_equal(l->v[0].answered_time, 0);
	mem_deref(l);
}

/* Each filter alone and together: time range [from, to), caller, callee,
 * direction, the user's call log. */
static void test_filters(void **state)
{
	struct fx *f = *state;
	static const char *const dirs[] = { "ext", "in", "out", "in2out" };
	for (int i = 0; i < 40; i++) {
		char caller[8], callee[8];
		snprintf(caller, sizeof(caller), "10%d", i % 4);
		snprintf(callee, sizeof(callee), "20%d", i % 5);
		assert_int_equal(put(f->st, f->ta, 1000 + i * 10, caller, callee, dirs[i % 4],
				     i % 2 ? f->alice : 0, i % 3 ? 0 : f->bob, NULL), 0);
	}
	struct store_cdr_filter q;
	store_cdr_filter_init(&q);
	q.top = 100;
	assert_int_equal(count(f->st, f->ta, &q), 40);
	q.from = 1100; /* i >= 10 */
	assert_int_equal(count(f->st, f->ta, &q), 30);
	q.to = 1200; /* i < 20: the end is left out */
	assert_int_equal(count(f->st, f->ta, &q), 10);
	struct store_cdrs *l = list(f->st, f->ta, &q);
	for (size_t i = 0; i < l->n; i++)
		assert_true(l->v[i].start_time >= 1100 && l->v[i].start_time < 1200);
	assert_int_equal(l->v[0].start_time, 1190);
	mem_deref(l);
	q.from = 0;
	assert_int_equal(count(f->st, f->ta, &q), 20); /* only the end */

	store_cdr_filter_init(&q);
	snprintf(q.caller, sizeof(q.caller), "101");
	assert_int_equal(count(f->st, f->ta, &q), 10);
	snprintf(q.callee, sizeof(q.callee), "201"); /* i % 4 == 1 and i % 5 == 1: 1, 21 */
	assert_int_equal(count(f->st, f->ta, &q), 2);
	snprintf(q.caller, sizeof(q.caller), "10"); /* exact match, not a prefix */
	assert_int_equal(count(f->st, f->ta, &q), 0);

	store_cdr_filter_init(&q);
	for (int d = 0; d < 4; d++) {
		snprintf(q.direction, sizeof(q.direction), "%s", dirs[d]);
		l = list(f->st, f->ta, &q);
		assert_int_equal(l->count, 10);
		for (size_t i = 0; i < l->n; i++)
			assert_string_equal(l->v[i].direction, dirs[d]);
		mem_deref(l);
	}
	snprintf(q.direction, sizeof(q.direction), "uphill");
	assert_int_equal(count(f->st, f->ta, &q), 0);

	/* A user's call log: alice is in the odd ones, bob in every third. */
	store_cdr_filter_init(&q);
	q.user_id = f->alice;
	assert_int_equal(count(f->st, f->ta, &q), 20);
	q.user_id = f->bob;
	assert_int_equal(count(f->st, f->ta, &q), 14);
	snprintf(q.direction, sizeof(q.direction), "ext"); /* i % 4 == 0 and i % 3 == 0: 0, 12, 24, 36 */
	q.from = 1100;
	assert_int_equal(count(f->st, f->ta, &q), 3);
	/* bea is another tenant's user: nothing of A's is in her log */
	store_cdr_filter_init(&q);
	q.user_id = f->bea;
	assert_int_equal(count(f->st, f->ta, &q), 0);
}

/* Pages: skip and top over a stable order; the count is of all matches. */
static void test_paging(void **state)
{
	struct fx *f = *state;
	uint64_t ids[25];
	for (int i = 0; i < 25; i++)
		assert_int_equal(put(f->st, f->ta, 5000 - i, "101", "102", "ext", 0, 0, &ids[i]), 0);
	struct store_cdr_filter q;
	store_cdr_filter_init(&q);
	size_t seen = 0;
	q.top = 10;
	for (q.skip = 0; q.skip < 30; q.skip += 10) {
		struct store_cdrs *l = list(f->st, f->ta, &q);
		assert_int_equal(l->count, 25);
		assert_int_equal(l->n, q.skip < 20 ? 10 : 5);
		for (size_t i = 0; i < l->n; i++)
			assert_int_equal(l->v[i].id, ids[seen++]);
		mem_deref(l);
	}
	assert_int_equal(seen, 25);
	q.skip = 1000;
	struct store_cdrs *l = list(f->st, f->ta, &q);
	assert_int_equal(l->count, 25);
	assert_int_equal(l->n, 0);
	mem_deref(l);
	q.skip = 0;
	q.top = STORE_PAGE_MAX;
	l = list(f->st, f->ta, &q);
	assert_int_equal(l->n, 25);
	mem_deref(l);
	q.top = 0;
	assert_int_equal(store_cdr_list(f->st, f->ta, &q, &l), EINVAL);
	q.top = STORE_PAGE_MAX + 1;
	assert_int_equal(store_cdr_list(f->st, f->ta, &q, &l), EINVAL);
}

/* TEN-04: one tenant's list never shows another's CDRs; a user of another
 * tenant named in a CDR is left out of its call log; a tenant's CDRs and logs
 * go with the tenant. */
static void test_tenants(void **state)
{
	struct fx *f = *state;
	uint64_t a, b;
	assert_int_equal(put(f->st, f->ta, 100, "101", "102", "ext", f->alice, f->bea, &a), 0);
	assert_int_equal(put(f->st, f->tb, 200, "101", "102", "ext", f->bea, f->alice, &b), 0);
	struct store_cdr_filter q;
	store_cdr_filter_init(&q);
	struct store_cdrs *l = list(f->st, f->ta, &q);
	assert_int_equal(l->count, 1);
	assert_int_equal(l->v[0].id, a);
	assert_int_equal(l->v[0].nusers, 1);
	assert_int_equal(l->v[0].users[0], f->alice);
	mem_deref(l);
	l = list(f->st, f->tb, &q);
	assert_int_equal(l->count, 1);
	assert_int_equal(l->v[0].id, b);
	assert_int_equal(l->v[0].users[0], f->bea);
	mem_deref(l);
	q.user_id = f->alice; /* in B's list, by A's user: nothing */
	assert_int_equal(count(f->st, f->tb, &q), 0);
	q.user_id = f->bea;
	assert_int_equal(count(f->st, f->ta, &q), 0);
	assert_int_equal(count(f->st, f->tb, &q), 1);
	assert_int_equal(store_cdr_list(f->st, 0, &q, &l), EINVAL);
	q.user_id = 0;
	assert_int_equal(count(f->st, 987654321, &q), 0);

	assert_int_equal(store_tenant_delete(f->st, f->tb), 0);
	assert_int_equal(rows(f, "SELECT count(*) FROM cdrs"), 1);
	assert_int_equal(rows(f, "SELECT count(*) FROM cdr_users"), 1);
	assert_int_equal(count(f->st, f->ta, &q), 1);
	assert_int_equal(count(f->st, f->tb, &q), 0);
}

/* A deleted user's call-log rows go with the user; the CDR stays the tenant's,
 * and the other party's log keeps it. */
static void test_user_deleted(void **state)
{
	struct fx *f = *state;
	assert_int_equal(put(f->st, f->ta, 100, "101", "102", "ext", f->alice, f->bob, NULL), 0);
	assert_int_equal(put(f->st, f->ta, 200, "101", "500", "out", f->alice, 0, NULL), 0);
	assert_int_equal(store_user_delete(f->st, f->ta, f->alice), 0);
	assert_int_equal(rows(f, "SELECT count(*) FROM cdr_users"), 1);
	struct store_cdr_filter q;
	store_cdr_filter_init(&q);
	assert_int_equal(count(f->st, f->ta, &q), 2);
	q.user_id = f->alice;
	assert_int_equal(count(f->st, f->ta, &q), 0);
	q.user_id = f->bob;
	struct store_cdrs *l = list(f->st, f->ta, &q);
	assert_int_equal(l->count, 1);
	assert_int_equal(l->v[0].nusers, 1);
	assert_int_equal(l->v[0].users[0], f->bob);
	mem_deref(l);
	/* A CDR naming the deleted user (the call ended after the delete) is still
	 * stored, without the dangling row. */
	assert_int_equal(put(f->st, f->ta, 300, "102", "101", "ext", f->bob, f->alice, NULL), 0);
	assert_int_equal(rows(f, "SELECT count(*) FROM cdr_users"), 2);
	assert_int_equal(rows(f, "SELECT count(*) FROM cdr_users WHERE user_id NOT IN (SELECT id FROM users)"), 0);
}

/* Refusals write nothing: missing id, tenant or JSON, bad JSON, an unknown
 * direction, too many users (EINVAL); a known id (EEXIST); a tenant that is
 * gone (ENOENT). A user listed twice is one row. */
static void test_refusals(void **state)
{
	struct fx *f = *state;
	char json[] = "{\"a\":1}", bad[] = "{\"a\":";
	struct store_cdr c = { .id = store_id_next(), .tenant_id = f->ta, .start_time = 10, .ended_time = 20,
			       .caller = "101", .callee = "102", .direction = "ext", .json = json };
	struct store_cdr x = c;
	x.id = 0;
	assert_int_equal(store_cdr_insert(f->st, &x), EINVAL);
	x = c;
	x.tenant_id = 0;
	assert_int_equal(store_cdr_insert(f->st, &x), EINVAL);
	x = c;
	x.json = NULL;
	assert_int_equal(store_cdr_insert(f->st, &x), EINVAL);
	x = c;
	x.json = bad;
	assert_int_equal(store_cdr_insert(f->st, &x), EINVAL);
	x = c;
	snprintf(x.direction, sizeof(x.direction), "inbound");
	assert_int_equal(store_cdr_insert(f->st, &x), EINVAL);
	x = c;
	x.nusers = STORE_CDR_USERS + 1;
	assert_int_equal(store_cdr_insert(f->st, &x), EINVAL);
	x = c;
	x.tenant_id = 987654321;
	x.users[x.nusers++] = f->alice;
	assert_int_equal(store_cdr_insert(f->st, &x), ENOENT);
	assert_int_equal(rows(f, "SELECT count(*) FROM cdrs"), 0);
	assert_int_equal(rows(f, "SELECT count(*) FROM cdr_users"), 0);

	c.users[c.nusers++] = f->alice;
	c.users[c.nusers++] = f->alice;
	assert_int_equal(store_cdr_insert(f->st, &c), 0);
	assert_int_equal(rows(f, "SELECT count(*) FROM cdr_users"), 1);
	c.users[c.nusers++] = f->bob;
	assert_int_equal(store_cdr_insert(f->st, &c), EEXIST); /* a retried job */
	assert_int_equal(rows(f, "SELECT count(*) FROM cdrs"), 1);
	assert_int_equal(rows(f, "SELECT count(*) FROM cdr_users"), 1);

	/* The full call log of 16 users is taken. */
	x = c;
	x.id = store_id_next();
	x.nusers = STORE_CDR_USERS;
	for (size_t i = 0; i < STORE_CDR_USERS; i++) {
		char name[16], ext[8];
		snprintf(name, sizeof(name), "u%zu", i);
		snprintf(ext, sizeof(ext), "3%02zu", i);
		x.users[i] = fx_user(f->st, f->ta, name, ext);
	}
	assert_int_equal(store_cdr_insert(f->st, &x), 0);
	struct store_cdr_filter q;
	store_cdr_filter_init(&q);
	q.user_id = x.users[STORE_CDR_USERS - 1];
	struct store_cdrs *l = list(f->st, f->ta, &q);
	assert_int_equal(l->count, 1);
	assert_int_equal(l->v[0].nusers, STORE_CDR_USERS);
	mem_deref(l);
}

/* Inside the worker's batch a failing CDR undoes only itself. */
static void test_in_batch(void **state)
{
	struct fx *f = *state;
	uint64_t first;
	assert_int_equal(store_tx_begin(f->st), 0);
	assert_int_equal(put(f->st, f->ta, 100, "101", "102", "ext", f->alice, 0, &first), 0);
	char json[] = "{}";
	struct store_cdr dup = { .id = first, .tenant_id = f->ta, .direction = "ext", .json = json };
	dup.users[dup.nusers++] = f->bob;
	assert_int_equal(store_cdr_insert(f->st, &dup), EEXIST);
	assert_int_equal(put(f->st, f->ta, 200, "101", "102", "uphill", f->alice, 0, NULL), EINVAL);
	assert_int_equal(put(f->st, f->ta, 300, "102", "101", "ext", f->bob, 0, NULL), 0);
	assert_int_equal(store_tx_end(f->st, 0), 0);
	assert_int_equal(rows(f, "SELECT count(*) FROM cdrs"), 2);
	assert_int_equal(rows(f, "SELECT count(*) FROM cdr_users"), 2);
	struct store_cdr_filter q;
	store_cdr_filter_init(&q);
	q.user_id = f->bob;
	assert_int_equal(count(f->st, f->ta, &q), 1);
}

/* The purge deletes every tenant's CDRs that started before the limit, with
 * their call logs, however many there are (it works in chunks). */
static void test_purge(void **state)
{
	struct fx *f = *state;
	assert_int_equal(store_tx_begin(f->st), 0);
	for (int i = 0; i < 2600; i++)
		assert_int_equal(put(f->st, i % 2 ? f->ta : f->tb, 1000 + i, "101", "102", "ext",
				     i % 2 ? f->alice : f->bea, 0, NULL), 0);
	assert_int_equal(store_tx_end(f->st, 0), 0);
	assert_int_equal(store_cdr_purge(f->st, 500), 0); /* nothing that old */
	assert_int_equal(rows(f, "SELECT count(*) FROM cdrs"), 2600);
	assert_int_equal(store_cdr_purge(f->st, 1000 + 2500), 0);
	assert_int_equal(rows(f, "SELECT count(*) FROM cdrs"), 100);
	assert_int_equal(rows(f, "SELECT count(*) FROM cdr_users"), 100);
	assert_int_equal(rows(f, "SELECT min(start_time) FROM cdrs"), 3500);
	struct store_cdr_filter q;
	store_cdr_filter_init(&q);
	q.user_id = f->alice;
	assert_int_equal(count(f->st, f->ta, &q), 50);
	assert_int_equal(store_cdr_purge(f->st, 1000000), 0);
	assert_int_equal(rows(f, "SELECT count(*) FROM cdrs"), 0);
	assert_int_equal(rows(f, "SELECT count(*) FROM cdr_users"), 0);
}

/* Two threads, each with its own connection (as the storage worker and an HTTP
 * thread would), insert at once while a third lists: every insert lands. */
#define CONC_PER_THREAD 300
struct conc {
	const struct fx *f;
	int64_t base;
	int failures;
	int lists;
};

static void *inserter(void *arg)
{
	struct conc *c = arg;
	struct store *st;
	if (store_open(&st, c->f->dir)) {
		c->failures = -1;
		return NULL;
	}
	for (int i = 0; i < CONC_PER_THREAD; i++) {
		if (put(st, c->f->ta, c->base + i, "101", "102", "ext", c->f->alice, c->f->bob, NULL))
			c->failures++;
	}
	store_close(st);
	return NULL;
}

static void *lister(void *arg)
{
	struct conc *c = arg;
	struct store *st;
	if (store_open(&st, c->f->dir)) {
		c->failures = -1;
		return NULL;
	}
	struct store_cdr_filter q;
	store_cdr_filter_init(&q);
	q.user_id = c->f->bob;
	for (int i = 0; i < 50; i++) {
		struct store_cdrs *l;
		if (store_cdr_list(st, c->f->ta, &q, &l))
			c->failures++;
		else
			mem_deref(l);
		c->lists++;
	}
	store_close(st);
	return NULL;
}

static void test_concurrent(void **state)
{
	struct fx *f = *state;
	struct conc c[3] = { { f, 10000, 0, 0 }, { f, 20000, 0, 0 }, { f, 0, 0, 0 } };
	pthread_t th[3];
	pthread_create(&th[0], NULL, inserter, &c[0]);
	pthread_create(&th[1], NULL, inserter, &c[1]);
	pthread_create(&th[2], NULL, lister, &c[2]);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(c[0].failures, 0);
	assert_int_equal(c[1].failures, 0);
	assert_int_equal(c[2].failures, 0);
	assert_int_equal(c[2].lists, 50);
	assert_int_equal(rows(f, "SELECT count(*) FROM cdrs"), 2 * CONC_PER_THREAD);
	assert_int_equal(rows(f, "SELECT count(*) FROM cdr_users"), 4 * CONC_PER_THREAD);
	struct store_cdr_filter q;
	store_cdr_filter_init(&q);
	q.user_id = f->alice;
	q.from = 20000;
	assert_int_equal(count(f->st, f->ta, &q), CONC_PER_THREAD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_insert_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tenants, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_deleted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
