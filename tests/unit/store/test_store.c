/* Unit tests of the store on a real SQLite file in a temporary directory:
 * migrations, ids, passwords, unique constraints, lists, sessions, concurrency,
 * and the storage worker. FEATURES ids: TEN-01, TEN-04, USR-01, USR-02, API-06, API-07. */
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

#include "core/loop.h"
#include "core/mem.h"
#include "core/mqueue.h"
#include "store/store.h"

struct fx {
	char dir[64];
	struct store *st;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/pbxd-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	store_pw_set_fast(true);
	assert_int_equal(store_open(&f->st, f->dir), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	store_close(f->st);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static uint64_t mk_tenant(struct store *st, const char *name, const char *domain, int *err)
{
	struct store_tenant t = { .enabled = true };
	snprintf(t.name, sizeof(t.name), "%s", name);
	snprintf(t.domain, sizeof(t.domain), "%s", domain);
	*err = store_tenant_create(st, &t, NULL);
	return t.id;
}

static int mk_user(struct store *st, uint64_t tenant, const char *username, const char *ext,
		   enum store_role role, uint64_t *id)
{
	struct store_user u = { .tenant_id = tenant, .role = role, .enabled = true };
	snprintf(u.username, sizeof(u.username), "%s", username);
	snprintf(u.email, sizeof(u.email), "%s@example.com", username);
	snprintf(u.ext_number, sizeof(u.ext_number), "%s", ext);
	snprintf(u.ext_password, sizeof(u.ext_password), "sip-secret-%s", ext);
	assert_int_equal(store_pw_hash("password1", u.pw_hash, sizeof(u.pw_hash)), 0);
	int e = store_user_create(st, &u);
	if (id)
		*id = u.id;
	return e;
}

/* Migrations from empty, then re-opening applies nothing and keeps the data. */
static void test_migrations(void **state)
{
	struct fx *f = *state;
	int v = 0;
	assert_int_equal(store_schema_version(f->st, &v), 0);
	assert_true(v >= 1);
	int e;
	mk_tenant(f->st, "Acme", "acme.test", &e);
	assert_int_equal(e, 0);
	store_close(f->st);
	assert_int_equal(store_open(&f->st, f->dir), 0);
	int v2 = 0;
	assert_int_equal(store_schema_version(f->st, &v2), 0);
	assert_int_equal(v, v2);
	struct store_tenant t;
	assert_int_equal(store_tenant_get_by_domain(f->st, "acme.test", &t), 0);
	assert_string_equal(t.name, "Acme");
}

/* A database written by a newer pbxd (a schema version this one does not know)
 * is refused rather than used half-understood. */
static void test_migrations_newer_refused(void **state)
{
	struct fx *f = *state;
	store_close(f->st);
	f->st = NULL;
	char path[128];
	snprintf(path, sizeof(path), "%s/pbxd.db", f->dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "INSERT INTO schema_version VALUES (999, 0)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	struct store *st = NULL;
	assert_int_equal(store_open(&st, f->dir), ENOTSUP);
	assert_null(st);
}

/* API-06: ids are 64-bit, time-ordered and strictly increasing across threads. */
#define ID_THREADS 4
#define ID_PER_THREAD 50000
static void *id_thread(void *arg)
{
	uint64_t *v = arg;
	for (int i = 0; i < ID_PER_THREAD; i++)
		v[i] = store_id_next();
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void test_ids(void **state)
{
	(void)state;
	uint64_t prev = store_id_next();
	for (int i = 0; i < 100000; i++) {
		uint64_t id = store_id_next();
		assert_true(id > prev);
		prev = id;
	}
	int64_t ms = store_id_time_ms(prev);
	assert_true(ms - store_now_ms() < 2000 && store_now_ms() - ms < 2000);

	uint64_t *all = calloc(ID_THREADS * ID_PER_THREAD, sizeof(*all));
	pthread_t th[ID_THREADS];
	for (int i = 0; i < ID_THREADS; i++)
		pthread_create(&th[i], NULL, id_thread, all + i * ID_PER_THREAD);
	for (int i = 0; i < ID_THREADS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < ID_THREADS; i++) /* each thread saw its own ids increase */
		for (int j = 1; j < ID_PER_THREAD; j++)
			assert_true(all[i * ID_PER_THREAD + j] > all[i * ID_PER_THREAD + j - 1]);
	qsort(all, ID_THREADS * ID_PER_THREAD, sizeof(*all), cmp_u64);
	for (int j = 1; j < ID_THREADS * ID_PER_THREAD; j++)
		assert_true(all[j] != all[j - 1]);
	free(all);
}

/* USR-02: the login password is stored as Argon2id, never as given. */
static void test_passwords(void **state)
{
	(void)state;
	char h[STORE_HASH_SZ];
	store_pw_set_fast(false);
	assert_int_equal(store_pw_hash("correct horse", h, sizeof(h)), 0);
	store_pw_set_fast(true);
	assert_non_null(strstr(h, "$argon2id$"));
	assert_null(strstr(h, "correct horse"));
	assert_int_equal(store_pw_verify(h, "correct horse"), 0);
	assert_int_equal(store_pw_verify(h, "wrong"), EACCES);
	assert_int_equal(store_pw_verify("garbage", "x"), EINVAL);
}

/* TEN-01: SIP domains are unique across the system, whatever their case. */
static void test_domain_unique(void **state)
{
	struct fx *f = *state;
	int e;
	mk_tenant(f->st, "A", "a.test", &e);
	assert_int_equal(e, 0);
	mk_tenant(f->st, "B", "A.TEST", &e);
	assert_int_equal(e, EEXIST);
	assert_string_equal(store_conflict_field(f->st), "domain");
	uint64_t b = mk_tenant(f->st, "B", "b.test", &e);
	assert_int_equal(e, 0);
	struct store_tenant t;
	assert_int_equal(store_tenant_get(f->st, b, &t), 0);
	snprintf(t.domain, sizeof(t.domain), "a.test");
	assert_int_equal(store_tenant_update(f->st, &t), EEXIST);
	assert_string_equal(store_conflict_field(f->st), "domain");
}

/* USR-01: extension numbers and usernames are unique within a tenant only. */
static void test_user_unique(void **state)
{
	struct fx *f = *state;
	int e;
	uint64_t a = mk_tenant(f->st, "A", "a.test", &e), b = mk_tenant(f->st, "B", "b.test", &e);
	assert_int_equal(mk_user(f->st, a, "alice", "101", STORE_ROLE_USER, NULL), 0);
	assert_int_equal(mk_user(f->st, a, "bob", "101", STORE_ROLE_USER, NULL), EEXIST);
	assert_string_equal(store_conflict_field(f->st), "extension_number");
	assert_int_equal(mk_user(f->st, a, "Alice", "102", STORE_ROLE_USER, NULL), EEXIST);
	assert_string_equal(store_conflict_field(f->st), "username");
	assert_int_equal(mk_user(f->st, b, "alice", "101", STORE_ROLE_USER, NULL), 0);

	struct store_user u = { 0 };
	assert_int_equal(store_user_get_by_ext(f->st, a, "101", &u), 0);
	assert_string_equal(u.username, "alice");
	assert_string_equal(u.ext_password, "sip-secret-101");
	assert_non_null(u.settings);
	store_user_reset(&u);
}

/* TEN-04: a tenant-scoped read never returns another tenant's row. */
static void test_tenant_scope(void **state)
{
	struct fx *f = *state;
	int e;
	uint64_t a = mk_tenant(f->st, "A", "a.test", &e), b = mk_tenant(f->st, "B", "b.test", &e);
	uint64_t ua;
	assert_int_equal(mk_user(f->st, a, "alice", "101", STORE_ROLE_USER, &ua), 0);
	struct store_user u = { 0 };
	assert_int_equal(store_user_get(f->st, b, ua, &u), ENOENT);
	assert_int_equal(store_user_delete(f->st, b, ua), ENOENT);
	assert_int_equal(store_user_get(f->st, a, ua, &u), 0);
	u.tenant_id = b; /* an update cannot move a row to another tenant */
	assert_int_equal(store_user_update(f->st, &u, 0), ENOENT);
	store_user_reset(&u);
}

/* Deleting a tenant removes its users and their sessions; first admin is atomic. */
static void test_tenant_cascade(void **state)
{
	struct fx *f = *state;
	struct store_tenant t = { .enabled = true };
	snprintf(t.name, sizeof(t.name), "C");
	snprintf(t.domain, sizeof(t.domain), "c.test");
	struct store_user adm = { .role = STORE_ROLE_ADMIN, .enabled = true };
	snprintf(adm.username, sizeof(adm.username), "boss");
	snprintf(adm.ext_number, sizeof(adm.ext_number), "100");
	assert_int_equal(store_tenant_create(f->st, &t, &adm), 0);
	assert_int_equal(adm.tenant_id, t.id);

	struct store_session s = { .grant_id = 7, .user_id = adm.id, .tenant_id = t.id,
				   .expires_at = store_now_ms() + 60000 };
	memset(s.hash, 0xab, 32);
	assert_int_equal(store_session_put(f->st, &s), 0);

	/* a second tenant with a taken domain leaves no user behind */
	struct store_tenant t2 = t;
	struct store_user adm2 = adm;
	assert_int_equal(store_tenant_create(f->st, &t2, &adm2), EEXIST);
	assert_string_equal(store_conflict_field(f->st), "domain");
	uint64_t n = 99;
	assert_int_equal(store_user_count(f->st, t2.id, &n), 0);
	assert_int_equal(n, 0);

	assert_int_equal(store_tenant_delete(f->st, t.id), 0);
	struct store_session got;
	assert_int_equal(store_session_get(f->st, s.hash, &got), ENOENT);
	assert_int_equal(store_user_count(f->st, t.id, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_tenant_delete(f->st, t.id), ENOENT);
}

/* API-07: filter, search, order, skip and top; count is before paging. */
static void test_lists(void **state)
{
	struct fx *f = *state;
	int e;
	uint64_t a = mk_tenant(f->st, "A", "a.test", &e), b = mk_tenant(f->st, "B", "b.test", &e);
	for (int i = 0; i < 30; i++) {
		char name[32], ext[8];
		snprintf(name, sizeof(name), "user%02d", i);
		snprintf(ext, sizeof(ext), "%d", 100 + i);
		assert_int_equal(mk_user(f->st, a, name, ext, i % 10 == 0 ? STORE_ROLE_ADMIN : STORE_ROLE_USER, NULL), 0);
	}
	assert_int_equal(mk_user(f->st, b, "other", "100", STORE_ROLE_ADMIN, NULL), 0);

	struct store_query q;
	store_query_init(&q);
	struct store_users *l = NULL;
	assert_int_equal(store_user_list(f->st, a, &q, &l), 0);
	assert_int_equal(l->count, 30);
	assert_int_equal(l->n, 20);
	assert_null(l->v[0].settings);
	l = mem_deref(l);

	q.cond[0].field = store_field_find(STORE_KIND_USER, "role");
	q.cond[0].op = STORE_OP_EQ;
	snprintf(q.cond[0].sval, sizeof(q.cond[0].sval), "admin");
	q.ncond = 1;
	assert_int_equal(store_user_list(f->st, a, &q, &l), 0);
	assert_int_equal(l->count, 3);
	l = mem_deref(l);

	store_query_init(&q);
	snprintf(q.search, sizeof(q.search), "USER1");
	q.orderby = store_field_find(STORE_KIND_USER, "username");
	q.desc = true;
	q.skip = 2;
	q.top = 3;
	assert_int_equal(store_user_list(f->st, a, &q, &l), 0);
	assert_int_equal(l->count, 10);
	assert_int_equal(l->n, 3);
	assert_string_equal(l->v[0].username, "user17");
	assert_string_equal(l->v[2].username, "user15");
	l = mem_deref(l);

	q.top = 101;
	assert_int_equal(store_user_list(f->st, a, &q, &l), EINVAL);

	struct store_tenants *tl = NULL;
	store_query_init(&q);
	q.cond[0].field = store_field_find(STORE_KIND_TENANT, "domain");
	q.cond[0].op = STORE_OP_NE;
	snprintf(q.cond[0].sval, sizeof(q.cond[0].sval), "a.test");
	q.ncond = 1;
	assert_int_equal(store_tenant_list(f->st, &q, &tl), 0);
	assert_int_equal(tl->count, 1);
	assert_string_equal(tl->v[0].domain, "b.test");
	mem_deref(tl);
}

/* Sessions: put, get, delete by grant, purge of the expired. */
static void test_sessions(void **state)
{
	struct fx *f = *state;
	struct store_admin ad = { .enabled = true };
	snprintf(ad.username, sizeof(ad.username), "admin");
	snprintf(ad.pw_hash, sizeof(ad.pw_hash), "x");
	assert_int_equal(store_admin_create(f->st, &ad), 0);
	struct store_admin dup = ad;
	snprintf(dup.username, sizeof(dup.username), "ADMIN");
	assert_int_equal(store_admin_create(f->st, &dup), EEXIST);

	struct store_session s1 = { .grant_id = 1, .admin_id = ad.id, .expires_at = store_now_ms() + 60000 };
	struct store_session s2 = s1, s3 = s1;
	memset(s1.hash, 1, 32);
	memset(s2.hash, 2, 32);
	s2.kind = STORE_SESSION_REFRESH;
	memset(s3.hash, 3, 32);
	s3.grant_id = 2;
	s3.expires_at = store_now_ms() - 1;
	assert_int_equal(store_session_put(f->st, &s1), 0);
	assert_int_equal(store_session_put(f->st, &s2), 0);
	assert_int_equal(store_session_put(f->st, &s3), 0);
	struct store_session g;
	assert_int_equal(store_session_get(f->st, s2.hash, &g), 0);
	assert_int_equal(g.kind, STORE_SESSION_REFRESH);
	assert_int_equal(g.admin_id, ad.id);
	assert_int_equal(g.user_id, 0);
	assert_int_equal(store_session_purge(f->st, store_now_ms()), 0);
	assert_int_equal(store_session_get(f->st, s3.hash, &g), ENOENT);
	assert_int_equal(store_session_delete_grant(f->st, 1), 0);
	assert_int_equal(store_session_get(f->st, s1.hash, &g), ENOENT);
	assert_int_equal(store_session_get(f->st, s2.hash, &g), ENOENT);
}

/* tenant_id 0 is no wildcard: per-tenant calls refuse it, and lists never read
 * the secrets they do not return. */
static void test_tenant_required(void **state)
{
	struct fx *f = *state;
	int e;
	uint64_t a = mk_tenant(f->st, "A", "a.test", &e), id;
	assert_int_equal(mk_user(f->st, a, "alice", "100", STORE_ROLE_USER, &id), 0);
	struct store_user u = { 0 };
	assert_int_equal(store_user_get(f->st, 0, id, &u), EINVAL);
	assert_int_equal(store_user_get_by_name(f->st, 0, "alice", &u), EINVAL);
	assert_int_equal(store_user_get_by_ext(f->st, 0, "100", &u), EINVAL);
	assert_int_equal(store_user_delete(f->st, 0, id), EINVAL);
	uint64_t n;
	assert_int_equal(store_user_count(f->st, 0, &n), EINVAL);
	struct store_query q;
	store_query_init(&q);
	struct store_users *l = NULL;
	assert_int_equal(store_user_list(f->st, 0, &q, &l), EINVAL);
	assert_null(l);
	assert_int_equal(store_user_list(f->st, a, &q, &l), 0);
	assert_int_equal(l->n, 1);
	assert_string_equal(l->v[0].username, "alice");
	assert_string_equal(l->v[0].pw_hash, "");
	assert_string_equal(l->v[0].ext_password, "");
	mem_deref(l);
	assert_int_equal(store_user_get(f->st, a, id, &u), 0);
	assert_true(u.pw_hash[0] != '\0');
	store_user_reset(&u);
}

static void put_session(struct store *st, uint8_t tag, uint64_t grant, uint64_t parent, uint64_t admin,
			uint64_t user, uint64_t tenant, enum store_session_kind kind)
{
	struct store_session s = { .grant_id = grant, .parent_grant = parent, .kind = kind, .admin_id = admin,
				   .user_id = user, .tenant_id = tenant, .expires_at = store_now_ms() + 60000 };
	memset(s.hash, tag, 32);
	assert_int_equal(store_session_put(st, &s), 0);
}

static bool have_session(struct store *st, uint8_t tag)
{
	uint8_t h[32];
	struct store_session g;
	memset(h, tag, 32);
	return store_session_get(st, h, &g) == 0;
}

/* Ending a principal's sessions (but one grant), a tenant's, and a grant with
 * the grants switched from it. */
static void test_session_revoke(void **state)
{
	struct fx *f = *state;
	int e;
	uint64_t a = mk_tenant(f->st, "A", "a.test", &e), u1, u2;
	assert_int_equal(mk_user(f->st, a, "u1", "101", STORE_ROLE_USER, &u1), 0);
	assert_int_equal(mk_user(f->st, a, "u2", "102", STORE_ROLE_USER, &u2), 0);
	struct store_admin ad = { .enabled = true };
	snprintf(ad.username, sizeof(ad.username), "admin");
	snprintf(ad.pw_hash, sizeof(ad.pw_hash), "x");
	assert_int_equal(store_admin_create(f->st, &ad), 0);
	put_session(f->st, 1, 10, 0, 0, u1, a, STORE_SESSION_ACCESS);
	put_session(f->st, 2, 10, 0, 0, u1, a, STORE_SESSION_REFRESH);
	put_session(f->st, 3, 11, 0, 0, u1, a, STORE_SESSION_ACCESS);
	put_session(f->st, 4, 12, 0, 0, u2, a, STORE_SESSION_ACCESS);
	put_session(f->st, 5, 20, 0, ad.id, 0, 0, STORE_SESSION_ACCESS);
	put_session(f->st, 6, 21, 20, ad.id, 0, a, STORE_SESSION_ACCESS); /* switched from 20 */
	put_session(f->st, 7, 22, 0, ad.id, 0, 0, STORE_SESSION_ACCESS);

	assert_int_equal(store_session_delete_user(f->st, u1, 10), 0);
	assert_true(have_session(f->st, 1) && have_session(f->st, 2));
	assert_false(have_session(f->st, 3));
	assert_true(have_session(f->st, 4));

	assert_int_equal(store_session_delete_admin(f->st, ad.id, 20), 0);
	assert_true(have_session(f->st, 5) && have_session(f->st, 6));
	assert_false(have_session(f->st, 7));

	assert_int_equal(store_session_delete_grant(f->st, 20), 0);
	assert_false(have_session(f->st, 5) || have_session(f->st, 6));

	assert_int_equal(store_session_delete_user(f->st, u2, 0), 0); /* keeping none */
	assert_false(have_session(f->st, 4));
	assert_true(have_session(f->st, 1));

	put_session(f->st, 8, 23, 0, ad.id, 0, a, STORE_SESSION_ACCESS);
	assert_int_equal(store_session_delete_tenant(f->st, a), 0);
	assert_false(have_session(f->st, 1) || have_session(f->st, 8));
}

/* A refresh token is spent once: the successors take its grant and principal;
 * a second spend is a replay that ends the grant; expired tokens are ENOENT. */
static void test_session_spend(void **state)
{
	struct fx *f = *state;
	int e;
	uint64_t a = mk_tenant(f->st, "A", "a.test", &e), u1;
	assert_int_equal(mk_user(f->st, a, "u1", "101", STORE_ROLE_USER, &u1), 0);
	put_session(f->st, 1, 10, 0, 0, u1, a, STORE_SESSION_ACCESS);
	put_session(f->st, 2, 10, 0, 0, u1, a, STORE_SESSION_REFRESH);
	uint8_t h[32];
	memset(h, 1, 32);
	struct store_session old, next[2] = { { .kind = STORE_SESSION_ACCESS }, { .kind = STORE_SESSION_REFRESH } };
	next[0].expires_at = next[1].expires_at = store_now_ms() + 60000;
	memset(next[0].hash, 3, 32);
	memset(next[1].hash, 4, 32);
	assert_int_equal(store_session_spend(f->st, h, store_now_ms(), &old, next), ENOENT); /* an access token */
	memset(h, 2, 32);
	assert_int_equal(store_session_spend(f->st, h, store_now_ms(), &old, next), 0);
	assert_int_equal(old.grant_id, 10);
	assert_int_equal(old.user_id, u1);
	struct store_session g;
	assert_int_equal(store_session_get(f->st, next[1].hash, &g), 0);
	assert_int_equal(g.grant_id, 10);
	assert_int_equal(g.tenant_id, a);
	assert_int_equal(g.kind, STORE_SESSION_REFRESH);
	assert_true(have_session(f->st, 1));

	memset(next[0].hash, 5, 32);
	memset(next[1].hash, 6, 32);
	assert_int_equal(store_session_spend(f->st, h, store_now_ms(), &old, next), EALREADY);
	assert_false(have_session(f->st, 1) || have_session(f->st, 3) || have_session(f->st, 4) ||
		     have_session(f->st, 5));

	put_session(f->st, 7, 30, 0, 0, u1, a, STORE_SESSION_REFRESH);
	memset(h, 7, 32);
	assert_int_equal(store_session_spend(f->st, h, store_now_ms() + 120000, &old, next), ENOENT); /* expired */
	assert_true(have_session(f->st, 7));
}

/* One writer and two readers on their own connections (WAL): no errors, and the
 * readers see counts that only grow. */
struct conc {
	const char *dir;
	uint64_t tenant;
	int err;
	int reads;
	volatile int done;
};

static void *writer(void *arg)
{
	struct conc *c = arg;
	struct store *st;
	c->err = store_open(&st, c->dir);
	for (int i = 0; i < 300 && !c->err; i++) {
		char name[32], ext[8];
		snprintf(name, sizeof(name), "w%03d", i);
		snprintf(ext, sizeof(ext), "%d", 1000 + i);
		c->err = mk_user(st, c->tenant, name, ext, STORE_ROLE_USER, NULL);
	}
	store_close(st);
	c->done = 1;
	return NULL;
}

struct rd {
	struct conc *c;
	int err;
	int reads;
};

static void *reader(void *arg)
{
	struct rd *r = arg;
	struct store *st;
	r->err = store_open(&st, r->c->dir);
	uint64_t last = 0;
	while (!r->err && !r->c->done) {
		struct store_query q;
		store_query_init(&q);
		struct store_users *l = NULL;
		r->err = store_user_list(st, r->c->tenant, &q, &l);
		if (!r->err) {
			if (l->count < last)
				r->err = ERANGE;
			last = l->count;
			r->reads++;
		}
		mem_deref(l);
	}
	store_close(st);
	return NULL;
}

static void test_concurrent(void **state)
{
	struct fx *f = *state;
	int e;
	struct conc c = { .dir = f->dir, .tenant = mk_tenant(f->st, "A", "a.test", &e) };
	struct rd r[2] = { { .c = &c }, { .c = &c } };
	pthread_t tw, tr[2];
	pthread_create(&tr[0], NULL, reader, &r[0]);
	pthread_create(&tr[1], NULL, reader, &r[1]);
	pthread_create(&tw, NULL, writer, &c);
	pthread_join(tw, NULL);
	pthread_join(tr[0], NULL);
	pthread_join(tr[1], NULL);
	assert_int_equal(c.err, 0);
	assert_int_equal(r[0].err, 0);
	assert_int_equal(r[1].err, 0);
	assert_true(r[0].reads > 0 && r[1].reads > 0);
	uint64_t n;
	assert_int_equal(store_user_count(f->st, c.tenant, &n), 0);
	assert_int_equal(n, 300);
}

/* Issue 17.1: an update made on a row read before another writer's commit is
 * refused (ESTALE), writes nothing, and succeeds once redone on a fresh read:
 * an acknowledged write is never undone by a stale one. */
static void test_versioned_update(void **state)
{
	struct fx *f = *state;
	int e;
	uint64_t a = mk_tenant(f->st, "A", "a.test", &e), id;
	assert_int_equal(mk_user(f->st, a, "alice", "101", STORE_ROLE_USER, &id), 0);
	struct store_user r1 = { 0 }, r2 = { 0 }, now = { 0 };
	assert_int_equal(store_user_get(f->st, a, id, &r1), 0);
	assert_int_equal(store_user_get(f->st, a, id, &r2), 0);
	assert_int_equal(r1.version, 1);
	r1.enabled = false; /* the admin's disable commits first */
	assert_int_equal(store_user_update(f->st, &r1, 0), 0);
	assert_int_equal(r1.version, 2);
	snprintf(r2.display_name, sizeof(r2.display_name), "Alice"); /* read before it */
	assert_int_equal(store_user_update(f->st, &r2, 0), ESTALE);
	assert_int_equal(r2.version, 1);
	assert_int_equal(store_user_get(f->st, a, id, &now), 0);
	assert_false(now.enabled);
	assert_string_equal(now.display_name, "");
	snprintf(now.display_name, sizeof(now.display_name), "Alice");
	assert_int_equal(store_user_update(f->st, &now, 0), 0);
	store_user_reset(&now);
	assert_int_equal(store_user_get(f->st, a, id, &now), 0);
	assert_false(now.enabled);
	assert_string_equal(now.display_name, "Alice");
	assert_int_equal(now.version, 3);
	store_user_reset(&r1);
	store_user_reset(&r2);
	store_user_reset(&now);

	/* Tenants and admins are versioned the same way. */
	struct store_tenant t1, t2;
	assert_int_equal(store_tenant_get(f->st, a, &t1), 0);
	assert_int_equal(store_tenant_get(f->st, a, &t2), 0);
	t1.max_users = 9;
	assert_int_equal(store_tenant_update(f->st, &t1), 0);
	t2.max_calls = 3;
	assert_int_equal(store_tenant_update(f->st, &t2), ESTALE);
	struct store_admin ad = { .enabled = true }, ad2;
	snprintf(ad.username, sizeof(ad.username), "root2");
	snprintf(ad.pw_hash, sizeof(ad.pw_hash), "x");
	assert_int_equal(store_admin_create(f->st, &ad), 0);
	ad2 = ad;
	ad.enabled = false;
	assert_int_equal(store_admin_update(f->st, &ad, 0), 0);
	assert_int_equal(store_admin_update(f->st, &ad2, 0), ESTALE);
	assert_int_equal(store_admin_get(f->st, ad.id, &ad2), 0);
	assert_false(ad2.enabled);
}

static void put_gen_session(struct store *st, uint8_t tag, uint64_t grant, uint64_t user, uint64_t tenant, int64_t gen)
{
	struct store_session s = { .grant_id = grant, .user_id = user, .tenant_id = tenant, .cred_gen = gen,
				   .expires_at = store_now_ms() + 60000 };
	memset(s.hash, tag, sizeof(s.hash));
	assert_int_equal(store_session_put(st, &s), 0);
}

/* Issue 17.2: a new password or a disable moves the credential generation and
 * ends the sessions in the same transaction, but the changer's own grant, which
 * takes the new generation; other edits and enabling leave both alone. */
static void test_cred_gen(void **state)
{
	struct fx *f = *state;
	int e;
	uint64_t a = mk_tenant(f->st, "A", "a.test", &e), id;
	assert_int_equal(mk_user(f->st, a, "alice", "101", STORE_ROLE_USER, &id), 0);
	put_gen_session(f->st, 1, 10, id, a, 1);
	put_gen_session(f->st, 2, 20, id, a, 1);
	struct store_user u = { 0 };
	struct store_session s;
	assert_int_equal(store_user_get(f->st, a, id, &u), 0);
	assert_int_equal(u.cred_gen, 1);
	snprintf(u.display_name, sizeof(u.display_name), "Alice");
	assert_int_equal(store_user_update(f->st, &u, 0), 0);
	assert_int_equal(u.cred_gen, 1);
	uint8_t h1[32], h2[32];
	memset(h1, 1, 32);
	memset(h2, 2, 32);
	assert_int_equal(store_session_get(f->st, h1, &s), 0);

	assert_int_equal(store_pw_hash("password2", u.pw_hash, sizeof(u.pw_hash)), 0);
	assert_int_equal(store_user_update(f->st, &u, 20), 0); /* grant 20 changed it */
	assert_int_equal(u.cred_gen, 2);
	assert_int_equal(store_session_get(f->st, h1, &s), ENOENT);
	assert_int_equal(store_session_get(f->st, h2, &s), 0);
	assert_int_equal(s.cred_gen, 2);

	u.enabled = false;
	assert_int_equal(store_user_update(f->st, &u, 0), 0);
	assert_int_equal(u.cred_gen, 3);
	assert_int_equal(store_session_get(f->st, h2, &s), ENOENT);
	u.enabled = true;
	assert_int_equal(store_user_update(f->st, &u, 0), 0);
	assert_int_equal(u.cred_gen, 3);
	store_user_reset(&u);

	/* Disabling the tenant moves every user's generation and ends its sessions. */
	put_gen_session(f->st, 3, 30, id, a, 3);
	struct store_tenant t;
	assert_int_equal(store_tenant_get(f->st, a, &t), 0);
	t.enabled = false;
	assert_int_equal(store_tenant_update(f->st, &t), 0);
	uint8_t h3[32];
	memset(h3, 3, 32);
	assert_int_equal(store_session_get(f->st, h3, &s), ENOENT);
	assert_int_equal(store_user_get(f->st, a, id, &u), 0);
	assert_int_equal(u.cred_gen, 4);
	store_user_reset(&u);
}

/* Issue 17.7: max_users holds under concurrent creates (20 threads, limit 5). */
struct quota_run {
	const char *dir;
	uint64_t tenant;
	int idx;
	int err;
};

static void *quota_creator(void *arg)
{
	struct quota_run *q = arg;
	struct store *st;
	if (store_open(&st, q->dir)) {
		q->err = EIO;
		return NULL;
	}
	char name[16], ext[16];
	snprintf(name, sizeof(name), "u%d", q->idx);
	snprintf(ext, sizeof(ext), "%d", 200 + q->idx);
	struct store_user u = { .tenant_id = q->tenant, .enabled = true };
	snprintf(u.username, sizeof(u.username), "%s", name);
	snprintf(u.email, sizeof(u.email), "%s@example.com", name);
	snprintf(u.ext_number, sizeof(u.ext_number), "%s", ext);
	snprintf(u.pw_hash, sizeof(u.pw_hash), "x");
	q->err = store_user_create(st, &u);
	store_close(st);
	return NULL;
}

static void test_max_users_concurrent(void **state)
{
	struct fx *f = *state;
	for (int trial = 0; trial < 5; trial++) {
		struct store_tenant t = { .enabled = true, .max_users = 5 };
		snprintf(t.name, sizeof(t.name), "Q%d", trial);
		snprintf(t.domain, sizeof(t.domain), "q%d.test", trial);
		assert_int_equal(store_tenant_create(f->st, &t, NULL), 0);
		struct quota_run q[20];
		pthread_t th[20];
		for (int i = 0; i < 20; i++) {
			q[i] = (struct quota_run){ .dir = f->dir, .tenant = t.id, .idx = i };
			pthread_create(&th[i], NULL, quota_creator, &q[i]);
		}
		int ok = 0, full = 0;
		for (int i = 0; i < 20; i++) {
			pthread_join(th[i], NULL);
			ok += q[i].err == 0;
			full += q[i].err == EDQUOT;
		}
		uint64_t n;
		assert_int_equal(store_user_count(f->st, t.id, &n), 0);
		assert_int_equal(n, 5);
		assert_int_equal(ok, 5);
		assert_int_equal(full, 15);
	}
}

/* The worker runs jobs in order on its own thread and reports each one back on
 * the submitting thread's queue. */
struct wjob {
	int seq;
	int *order;
	int *ndone;
	int err;
	struct loop *loop;
	pthread_t submitter;
	bool on_submitter;
};

static int wjob_run(struct store *st, void *arg)
{
	struct wjob *j = arg;
	j->order[j->seq] = j->seq;
	int e;
	char name[32], dom[32];
	snprintf(name, sizeof(name), "T%d", j->seq);
	snprintf(dom, sizeof(dom), "t%d.test", j->seq);
	mk_tenant(st, name, dom, &e);
	return j->seq == 3 ? EEXIST : e; /* job 3 reports an error back */
}

static void wjob_done(int err, void *arg)
{
	struct wjob *j = arg;
	j->err = err;
	j->on_submitter = pthread_equal(pthread_self(), j->submitter);
	if (++*j->ndone == 20)
		loop_stop(j->loop);
}

static void on_reply(int id, void *data, void *arg)
{
	assert_int_equal(id, STORE_WORKER_MSG);
	store_worker_done(data);
}

static void test_worker(void **state)
{
	struct fx *f = *state;
	struct store_worker *w;
	assert_int_equal(store_worker_start(&w, f->dir), 0);
	struct loop *loop;
	struct mqueue *mq;
	assert_int_equal(loop_alloc(&loop), 0);
	assert_int_equal(mqueue_alloc(&mq, loop, on_reply, NULL), 0);
	int order[20], ndone = 0;
	struct wjob jobs[20];
	for (int i = 0; i < 20; i++) {
		jobs[i] = (struct wjob){ .seq = i, .order = order, .ndone = &ndone, .loop = loop,
					 .submitter = pthread_self(), .err = -1 };
		assert_int_equal(store_worker_submit(w, wjob_run, wjob_done, &jobs[i], mq), 0);
	}
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(ndone, 20);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(order[i], i);
		assert_int_equal(jobs[i].err, i == 3 ? EEXIST : 0);
		assert_true(jobs[i].on_submitter);
	}
	/* a job without a reply queue completes on the worker; stop waits for it */
	int nd = 0;
	struct wjob last = { .seq = 0, .order = order, .ndone = &nd, .loop = loop };
	assert_int_equal(store_worker_submit(w, wjob_run, NULL, &last, NULL), 0);
	store_worker_stop(w);
	struct store_tenants *tl;
	struct store_query q;
	store_query_init(&q);
	assert_int_equal(store_tenant_list(f->st, &q, &tl), 0);
	assert_int_equal(tl->count, 20);
	mem_deref(tl);
	mqueue_free(mq);
	loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrations_newer_refused, setup, teardown),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_passwords),
		cmocka_unit_test_setup_teardown(test_domain_unique, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_unique, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tenant_scope, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tenant_cascade, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tenant_required, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_revoke, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_spend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_versioned_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cred_gen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_users_concurrent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worker, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
