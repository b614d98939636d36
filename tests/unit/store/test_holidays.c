/* Unit tests of the store's office hours, feature codes and holidays on a real
 * SQLite file in a temporary directory: a tenant's time zone kept with its row;
 * its settings row written on first use (version 0 is the insert) and versioned
 * after, a second writer of the same version refused (ESTALE); holidays per
 * owner (the tenant's, each user's) never reached through another owner, the
 * per-owner limit, row versions, and what deleting a user or a tenant takes
 * along; the scans the signalling thread loads at start. FEATURES: OH-01, OH-03,
 * OH-04, CALL-14. */
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

struct fx {
	char dir[64];
	struct store *st;
	uint64_t ta, tb, ua, ub; /* ua: a user of ta, ub of tb */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->st = fx_store_open(f->dir, sizeof(f->dir), "holidays");
	f->ta = fx_tenant(f->st, "a");
	f->tb = fx_tenant(f->st, "b");
	f->ua = fx_user(f->st, f->ta, "ann", "103");
	f->ub = fx_user(f->st, f->tb, "bob", "103");
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

static void test_timezone(void **state)
{
	struct fx *f = *state;
	struct store_tenant t;
	assert_int_equal(store_tenant_get(f->st, f->ta, &t), 0);
	assert_string_equal(t.timezone, "");
	snprintf(t.timezone, sizeof(t.timezone), "Europe/Paris");
	assert_int_equal(store_tenant_update(f->st, &t), 0);
	struct store_tenant again;
	assert_int_equal(store_tenant_get(f->st, f->ta, &again), 0);
	assert_string_equal(again.timezone, "Europe/Paris");
	struct store_tenant c = { .enabled = true };
	snprintf(c.name, sizeof(c.name), "c");
	snprintf(c.domain, sizeof(c.domain), "c.test");
	snprintf(c.timezone, sizeof(c.timezone), "Asia/Tokyo");
	assert_int_equal(store_tenant_create(f->st, &c, NULL), 0);
	assert_int_equal(store_tenant_get_by_domain(f->st, "c.test", &again), 0);
	assert_string_equal(again.timezone, "Asia/Tokyo");
	int v = 0;
	assert_int_equal(store_schema_version(f->st, &v), 0);
	assert_true(v >= 7);
}

static int count_settings(const void *row, void *arg)
{
	const struct store_tenant_settings *s = row;
	(*(int *)arg)++;
	assert_true(s->version > 0);
	return 0;
}

static void test_settings_versions(void **state)
{
	struct fx *f = *state;
	struct store_tenant_settings s, other;
	assert_int_equal(store_tenant_settings_get(f->st, f->ta, &s), 0);
	assert_int_equal(s.version, 0);
	assert_string_equal(s.office_hours, "");
	assert_string_equal(s.feature_codes, "");
	other = s;
	snprintf(s.office_hours, sizeof(s.office_hours), "{\"mon\":[]}");
	assert_int_equal(store_tenant_settings_update(f->st, &s), 0);
	assert_int_equal(s.version, 1);
	/* a second first write loses */
	snprintf(other.feature_codes, sizeof(other.feature_codes), "{\"dnd_on\":\"*11\"}");
	assert_int_equal(store_tenant_settings_update(f->st, &other), ESTALE);
	assert_int_equal(store_tenant_settings_get(f->st, f->ta, &other), 0);
	assert_string_equal(other.office_hours, "{\"mon\":[]}");
	assert_string_equal(other.feature_codes, ""); /* as the first writer wrote it */
	snprintf(other.feature_codes, sizeof(other.feature_codes), "{\"dnd_on\":\"*11\"}");
	assert_int_equal(store_tenant_settings_update(f->st, &other), 0);
	assert_int_equal(other.version, 2);
	assert_int_equal(store_tenant_settings_update(f->st, &s), ESTALE); /* s read version 1 */
	assert_int_equal(store_tenant_settings_get(f->st, f->ta, &s), 0);
	assert_string_equal(s.feature_codes, "{\"dnd_on\":\"*11\"}");
	/* tenants apart; unknown ones */
	assert_int_equal(store_tenant_settings_get(f->st, f->tb, &s), 0);
	assert_int_equal(s.version, 0);
	assert_int_equal(store_tenant_settings_get(f->st, 12345, &s), ENOENT);
	s.tenant_id = 12345;
	s.version = 0;
	assert_int_equal(store_tenant_settings_update(f->st, &s), ENOENT);
	s.version = 3;
	assert_int_equal(store_tenant_settings_update(f->st, &s), ENOENT);
	assert_int_equal(store_tenant_settings_get(f->st, 0, &s), EINVAL);
	int n = 0;
	assert_int_equal(store_tenant_settings_scan(f->st, count_settings, &n), 0);
	assert_int_equal(n, 1);
	/* the row goes with its tenant */
	assert_int_equal(store_tenant_delete(f->st, f->ta), 0);
	n = 0;
	assert_int_equal(store_tenant_settings_scan(f->st, count_settings, &n), 0);
	assert_int_equal(n, 0);
}

static uint64_t mk_holiday(struct store *st, uint64_t tenant, uint64_t user, const char *name, int expect)
{
	struct store_holiday h = { .tenant_id = tenant, .user_id = user };
	snprintf(h.name, sizeof(h.name), "%s", name);
	snprintf(h.json, sizeof(h.json), "{\"start_date\":\"2031-01-01\"}");
	assert_int_equal(store_holiday_create(st, &h), expect);
	return h.id;
}

static void test_holidays_per_owner(void **state)
{
	struct fx *f = *state;
	uint64_t th = mk_holiday(f->st, f->ta, 0, "tenant's", 0);
	uint64_t uh = mk_holiday(f->st, f->ta, f->ua, "ann's", 0);
	struct store_holiday h;
	assert_int_equal(store_holiday_get(f->st, f->ta, 0, th, &h), 0);
	assert_string_equal(h.name, "tenant's");
	assert_int_equal(h.user_id, 0);
	assert_int_equal(h.version, 1);
	assert_int_equal(store_holiday_get(f->st, f->ta, f->ua, uh, &h), 0);
	assert_int_equal(h.user_id, f->ua);
	/* never through another owner */
	assert_int_equal(store_holiday_get(f->st, f->ta, 0, uh, &h), ENOENT);
	assert_int_equal(store_holiday_get(f->st, f->ta, f->ua, th, &h), ENOENT);
	assert_int_equal(store_holiday_get(f->st, f->tb, 0, th, &h), ENOENT);
	assert_int_equal(store_holiday_delete(f->st, f->tb, 0, th), ENOENT);
	assert_int_equal(store_holiday_delete(f->st, f->ta, f->ua, th), ENOENT);
	/* an owner that is not there, or a user of another tenant */
	mk_holiday(f->st, f->ta, f->ub, "bob's in a", ENOENT);
	mk_holiday(f->st, 12345, 0, "nobody's", ENOENT);
	mk_holiday(f->st, 0, 0, "no tenant", EINVAL);
	struct store_holidays *l;
	assert_int_equal(store_holiday_list(f->st, f->ta, 0, &l), 0);
	assert_int_equal(l->n, 1);
	assert_int_equal(l->v[0].id, th);
	mem_deref(l);
	assert_int_equal(store_holiday_list(f->st, f->ta, f->ua, &l), 0);
	assert_int_equal(l->n, 1);
	assert_int_equal(l->v[0].id, uh);
	mem_deref(l);
	assert_int_equal(store_holiday_list(f->st, f->tb, 0, &l), 0);
	assert_int_equal(l->n, 0);
	mem_deref(l);
}

static void test_holiday_versions(void **state)
{
	struct fx *f = *state;
	uint64_t id = mk_holiday(f->st, f->ta, 0, "x", 0);
	struct store_holiday a, b;
	assert_int_equal(store_holiday_get(f->st, f->ta, 0, id, &a), 0);
	b = a;
	snprintf(a.name, sizeof(a.name), "renamed");
	assert_int_equal(store_holiday_update(f->st, &a), 0);
	assert_int_equal(a.version, 2);
	snprintf(b.json, sizeof(b.json), "{\"start_date\":\"2032-01-01\"}");
	assert_int_equal(store_holiday_update(f->st, &b), ESTALE);
	snprintf(a.json, sizeof(a.json), "not json");
	assert_int_equal(store_holiday_update(f->st, &a), EINVAL);
	assert_int_equal(store_holiday_get(f->st, f->ta, 0, id, &b), 0);
	assert_string_equal(b.name, "renamed");
	assert_string_equal(b.json, "{\"start_date\":\"2031-01-01\"}");
	b.user_id = f->ua; /* another owner's row is not there */
	assert_int_equal(store_holiday_update(f->st, &b), ENOENT);
	assert_int_equal(store_holiday_delete(f->st, f->ta, 0, id), 0);
	assert_int_equal(store_holiday_delete(f->st, f->ta, 0, id), ENOENT);
}

static void test_holiday_limit(void **state)
{
	struct fx *f = *state;
	for (int i = 0; i < STORE_HOLIDAYS_MAX; i++)
		mk_holiday(f->st, f->ta, f->ua, "h", 0);
	mk_holiday(f->st, f->ta, f->ua, "one too many", EDQUOT);
	mk_holiday(f->st, f->ta, 0, "the tenant's own limit is its own", 0);
	struct store_holidays *l;
	assert_int_equal(store_holiday_list(f->st, f->ta, f->ua, &l), 0);
	assert_int_equal(l->n, STORE_HOLIDAYS_MAX);
	mem_deref(l);
}

struct seen {
	int tenant, user;
	uint64_t ua;
};

static int count_holidays(const void *row, void *arg)
{
	const struct store_holiday *h = row;
	struct seen *s = arg;
	if (h->user_id == s->ua)
		s->user++;
	else if (!h->user_id)
		s->tenant++;
	return 0;
}

static void test_cascades_and_scan(void **state)
{
	struct fx *f = *state;
	mk_holiday(f->st, f->ta, 0, "t", 0);
	mk_holiday(f->st, f->ta, f->ua, "u", 0);
	mk_holiday(f->st, f->tb, f->ub, "b", 0);
	struct seen s = { .ua = f->ua };
	assert_int_equal(store_holiday_scan(f->st, count_holidays, &s), 0);
	assert_int_equal(s.tenant, 1);
	assert_int_equal(s.user, 1);
	assert_int_equal(store_user_delete(f->st, f->ta, f->ua), 0);
	s = (struct seen){ .ua = f->ua };
	assert_int_equal(store_holiday_scan(f->st, count_holidays, &s), 0);
	assert_int_equal(s.user, 0);
	assert_int_equal(s.tenant, 1);
	assert_int_equal(store_tenant_delete(f->st, f->ta), 0);
	s = (struct seen){ .ua = f->ua };
	assert_int_equal(store_holiday_scan(f->st, count_holidays, &s), 0);
	assert_int_equal(s.tenant, 0); /* only tb's user's is left */
}

int main(void)
{
	store_pw_set_fast(true);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_timezone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_settings_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_holidays_per_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_holiday_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_holiday_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cascades_and_scan, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
