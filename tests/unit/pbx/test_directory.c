/* Unit tests of the in-memory directory (src/pbx/directory.c): tenants by id and by
 * domain (case-insensitive), extensions by number and by user, put as insert or
 * replace, and the drop callback whenever an extension stops being the address it
 * was (renumbered, moved, disabled, its tenant disabled or removed). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/log.h"
#include "core/mem.h"
#include "pbx/directory.h"

struct drop_rec {
	uint64_t user_id;
	char number[STORE_EXT_SZ];
};

struct fx {
	struct directory *d;
	struct drop_rec drops[64];
	size_t ndrops;
};

static void on_drop(const struct dir_ext *x, void *arg)
{
	struct fx *f = arg;
	assert_true(f->ndrops < sizeof(f->drops) / sizeof(f->drops[0]));
	f->drops[f->ndrops].user_id = x->user_id;
	snprintf(f->drops[f->ndrops].number, sizeof(f->drops[0].number), "%s", x->number);
	f->ndrops++;
}

static int setup(void **state)
{
	log_set_level(LOG_ERROR);
	struct fx *f = calloc(1, sizeof(*f));
	if (!f || directory_alloc(&f->d, on_drop, f))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	mem_deref(f->d);
	free(f);
	return 0;
}

static struct store_tenant tenant(uint64_t id, const char *domain, bool enabled)
{
	struct store_tenant t = { .id = id, .enabled = enabled, .max_calls = 5 };
	snprintf(t.name, sizeof(t.name), "T%llu", (unsigned long long)id);
	snprintf(t.domain, sizeof(t.domain), "%s", domain);
	return t;
}

static struct store_user user(uint64_t id, uint64_t tenant_id, const char *number, bool enabled)
{
	struct store_user u = { .id = id, .tenant_id = tenant_id, .enabled = enabled };
	snprintf(u.username, sizeof(u.username), "u%llu", (unsigned long long)id);
	snprintf(u.display_name, sizeof(u.display_name), "User %llu", (unsigned long long)id);
	snprintf(u.ext_number, sizeof(u.ext_number), "%s", number);
	snprintf(u.ext_password, sizeof(u.ext_password), "secret-%llu", (unsigned long long)id);
	return u;
}

static struct dir_tenant *by_domain(struct fx *f, const char *domain)
{
	struct pl p = pl_cstr(domain);
	return directory_tenant_by_domain(f->d, &p);
}

static struct dir_ext *by_number(const struct dir_tenant *t, const char *number)
{
	struct pl p = pl_cstr(number);
	return directory_ext(t, &p);
}

static void put_tenant(struct fx *f, uint64_t id, const char *domain, bool enabled)
{
	struct store_tenant t = tenant(id, domain, enabled);
	assert_int_equal(directory_tenant_put(f->d, &t), 0);
}

static void put_user(struct fx *f, uint64_t id, uint64_t tenant_id, const char *number, bool enabled)
{
	struct store_user u = user(id, tenant_id, number, enabled);
	assert_int_equal(directory_ext_put(f->d, &u), 0);
}

/* Tenants: put, found by id and by domain in any case, replaced, removed. */
static void test_tenant_put_find_remove(void **state)
{
	struct fx *f = *state;
	put_tenant(f, 1, "Acme.Example", true);
	put_tenant(f, 2, "globex.example", true);
	assert_int_equal(directory_tenant_count(f->d), 2);
	struct dir_tenant *t = directory_tenant(f->d, 1);
	assert_non_null(t);
	assert_string_equal(t->domain, "acme.example");
	assert_true(t->enabled);
	assert_int_equal(t->max_calls, 5);
	assert_ptr_equal(by_domain(f, "acme.example"), t);
	assert_ptr_equal(by_domain(f, "ACME.EXAMPLE"), t);
	assert_ptr_equal(by_domain(f, "aCmE.eXaMpLe"), t);
	assert_ptr_equal(by_domain(f, "GLOBEX.example"), directory_tenant(f->d, 2));
	assert_null(by_domain(f, "acme.exampl"));
	assert_null(by_domain(f, "acme.example."));
	assert_null(by_domain(f, "initech.example"));
	assert_null(directory_tenant(f->d, 3));
	/* A domain given as a prefix of a longer buffer. */
	struct pl part = { "acme.example:5060", 12 };
	assert_ptr_equal(directory_tenant_by_domain(f->d, &part), t);

	/* Replaced: a new domain, the old one no longer finds it. */
	put_tenant(f, 1, "acme.test", true);
	assert_int_equal(directory_tenant_count(f->d), 2);
	assert_ptr_equal(directory_tenant(f->d, 1), t);
	assert_null(by_domain(f, "acme.example"));
	assert_ptr_equal(by_domain(f, "ACME.test"), t);

	directory_tenant_remove(f->d, 1);
	assert_int_equal(directory_tenant_count(f->d), 1);
	assert_null(directory_tenant(f->d, 1));
	assert_null(by_domain(f, "acme.test"));
	assert_non_null(by_domain(f, "globex.example"));
	directory_tenant_remove(f->d, 1); /* again: nothing */
	directory_tenant_remove(f->d, 99);
	assert_int_equal(directory_tenant_count(f->d), 1);
	assert_int_equal(f->ndrops, 0);
}

/* Extensions: found by number within their tenant and by user id; a user of an
 * unknown tenant is refused. */
static void test_ext_put_find(void **state)
{
	struct fx *f = *state;
	put_tenant(f, 1, "acme.example", true);
	put_tenant(f, 2, "globex.example", true);
	put_user(f, 10, 1, "100", true);
	put_user(f, 11, 1, "101", true);
	put_user(f, 20, 2, "100", true);
	assert_int_equal(directory_ext_count(f->d), 3);
	struct dir_tenant *t1 = directory_tenant(f->d, 1), *t2 = directory_tenant(f->d, 2);
	struct dir_ext *x = by_number(t1, "100");
	assert_non_null(x);
	assert_int_equal(x->user_id, 10);
	assert_ptr_equal(x->tenant, t1);
	assert_string_equal(x->password, "secret-10");
	assert_string_equal(x->display_name, "User 10");
	assert_true(x->enabled);
	assert_ptr_equal(directory_ext_by_user(f->d, 10), x);
	assert_int_equal(by_number(t2, "100")->user_id, 20);
	assert_int_equal(by_number(t1, "101")->user_id, 11);
	assert_null(by_number(t2, "101"));
	assert_null(by_number(t1, "10"));
	assert_null(by_number(t1, "1000"));
	assert_null(directory_ext_by_user(f->d, 12));

	/* A put that changes only the password and the name keeps the number. */
	struct store_user u = user(10, 1, "100", true);
	snprintf(u.ext_password, sizeof(u.ext_password), "changed");
	assert_int_equal(directory_ext_put(f->d, &u), 0);
	assert_ptr_equal(by_number(t1, "100"), x);
	assert_string_equal(x->password, "changed");
	assert_int_equal(directory_ext_count(f->d), 3);
	assert_int_equal(f->ndrops, 0);

	u = user(30, 3, "300", true);
	assert_int_equal(directory_ext_put(f->d, &u), ENOENT);
	assert_null(directory_ext_by_user(f->d, 30));
	assert_int_equal(directory_ext_count(f->d), 3);

	directory_ext_remove(f->d, 11);
	assert_int_equal(f->ndrops, 1);
	assert_int_equal(f->drops[0].user_id, 11);
	assert_null(by_number(t1, "101"));
	assert_null(directory_ext_by_user(f->d, 11));
	assert_int_equal(directory_ext_count(f->d), 2);
	directory_ext_remove(f->d, 11);
	assert_int_equal(f->ndrops, 1);
}

/* A new number is another address: the old one is dropped (with the old number)
 * and no longer found, the new one is. */
static void test_ext_renumber(void **state)
{
	struct fx *f = *state;
	put_tenant(f, 1, "acme.example", true);
	put_user(f, 10, 1, "100", true);
	put_user(f, 11, 1, "101", true);
	struct dir_tenant *t = directory_tenant(f->d, 1);
	put_user(f, 10, 1, "200", true);
	assert_int_equal(f->ndrops, 1);
	assert_int_equal(f->drops[0].user_id, 10);
	assert_string_equal(f->drops[0].number, "100");
	assert_null(by_number(t, "100"));
	struct dir_ext *x = by_number(t, "200");
	assert_non_null(x);
	assert_int_equal(x->user_id, 10);
	assert_ptr_equal(directory_ext_by_user(f->d, 10), x);
	assert_int_equal(by_number(t, "101")->user_id, 11);
	assert_int_equal(directory_ext_count(f->d), 2);
	/* The freed number can be taken by another user. */
	put_user(f, 11, 1, "100", true);
	assert_int_equal(f->ndrops, 2);
	assert_int_equal(by_number(t, "100")->user_id, 11);
	assert_null(by_number(t, "101"));
	assert_int_equal(by_number(t, "200")->user_id, 10);

	/* Moved to another tenant with the same number: dropped as well. */
	put_tenant(f, 2, "globex.example", true);
	put_user(f, 10, 2, "200", true);
	assert_int_equal(f->ndrops, 3);
	assert_int_equal(f->drops[2].user_id, 10);
	assert_null(by_number(t, "200"));
	struct dir_tenant *t2 = directory_tenant(f->d, 2);
	assert_ptr_equal(by_number(t2, "200"), x);
	assert_ptr_equal(x->tenant, t2);
	assert_int_equal(directory_ext_count(f->d), 2);
	/* Removing the first tenant leaves the moved extension alone. */
	directory_tenant_remove(f->d, 1);
	assert_ptr_equal(directory_ext_by_user(f->d, 10), x);
	assert_null(directory_ext_by_user(f->d, 11));
	assert_int_equal(directory_ext_count(f->d), 1);
}

/* Disabling a user, or its tenant, drops its extensions; directory_usable says
 * whether both are enabled. */
static void test_disable_drops(void **state)
{
	struct fx *f = *state;
	put_tenant(f, 1, "acme.example", true);
	put_user(f, 10, 1, "100", true);
	put_user(f, 11, 1, "101", true);
	put_user(f, 12, 1, "102", false);
	struct dir_ext *x10 = directory_ext_by_user(f->d, 10);
	struct dir_ext *x11 = directory_ext_by_user(f->d, 11);
	struct dir_ext *x12 = directory_ext_by_user(f->d, 12);
	assert_true(directory_usable(x10));
	assert_true(directory_usable(x11));
	assert_false(directory_usable(x12)); /* a disabled user */
	assert_false(directory_usable(NULL));
	assert_int_equal(f->ndrops, 0);

	put_user(f, 10, 1, "100", false);
	assert_int_equal(f->ndrops, 1);
	assert_int_equal(f->drops[0].user_id, 10);
	assert_false(directory_usable(x10));
	/* Still found (the registrar answers it like a wrong password). */
	assert_ptr_equal(directory_ext_by_user(f->d, 10), x10);
	assert_ptr_equal(by_number(directory_tenant(f->d, 1), "100"), x10);
	/* Disabled again: nothing more to drop. */
	put_user(f, 10, 1, "100", false);
	assert_int_equal(f->ndrops, 1);
	/* Re-enabled: usable, no drop. */
	put_user(f, 10, 1, "100", true);
	assert_int_equal(f->ndrops, 1);
	assert_true(directory_usable(x10));

	/* The tenant disabled: its extensions are dropped, none usable. */
	f->ndrops = 0;
	put_tenant(f, 1, "acme.example", false);
	assert_true(f->ndrops >= 2);
	bool saw10 = false, saw11 = false;
	for (size_t i = 0; i < f->ndrops; i++) {
		saw10 |= f->drops[i].user_id == 10;
		saw11 |= f->drops[i].user_id == 11;
	}
	assert_true(saw10 && saw11);
	assert_false(directory_usable(x10));
	assert_false(directory_usable(x11));
	assert_int_equal(directory_ext_count(f->d), 3);
	/* Disabled again: no more drops. */
	size_t n = f->ndrops;
	put_tenant(f, 1, "acme.example", false);
	assert_int_equal(f->ndrops, n);
	/* Re-enabled: usable again. */
	put_tenant(f, 1, "acme.example", true);
	assert_int_equal(f->ndrops, n);
	assert_true(directory_usable(x10));
	assert_true(directory_usable(x11));
	assert_false(directory_usable(x12));
}

/* Removing a tenant drops and removes its extensions, and only its. */
static void test_tenant_remove_removes_exts(void **state)
{
	struct fx *f = *state;
	put_tenant(f, 1, "acme.example", true);
	put_tenant(f, 2, "globex.example", true);
	put_user(f, 10, 1, "100", true);
	put_user(f, 11, 1, "101", true);
	put_user(f, 20, 2, "100", true);
	assert_int_equal(directory_ext_count(f->d), 3);
	directory_tenant_remove(f->d, 1);
	assert_int_equal(f->ndrops, 2);
	assert_int_equal(directory_tenant_count(f->d), 1);
	assert_int_equal(directory_ext_count(f->d), 1);
	assert_null(directory_ext_by_user(f->d, 10));
	assert_null(directory_ext_by_user(f->d, 11));
	struct dir_ext *x = directory_ext_by_user(f->d, 20);
	assert_non_null(x);
	assert_ptr_equal(by_number(directory_tenant(f->d, 2), "100"), x);
	/* The users come back once the tenant does (a new id, the same domain). */
	put_tenant(f, 3, "acme.example", true);
	put_user(f, 10, 3, "100", true);
	assert_int_equal(by_number(by_domain(f, "acme.example"), "100")->user_id, 10);
	assert_int_equal(directory_ext_count(f->d), 2);
}

/* Many tenants and extensions: counts and lookups hold, and freeing the directory
 * frees them (ASan checks leaks). */
static void test_many(void **state)
{
	struct fx *f = *state;
	for (uint64_t t = 1; t <= 50; t++) {
		char dom[64];
		snprintf(dom, sizeof(dom), "t%llu.example", (unsigned long long)t);
		put_tenant(f, t, dom, true);
		for (uint64_t u = 0; u < 40; u++) {
			char num[16];
			snprintf(num, sizeof(num), "%llu", (unsigned long long)(100 + u));
			put_user(f, t * 1000 + u, t, num, true);
		}
	}
	assert_int_equal(directory_tenant_count(f->d), 50);
	assert_int_equal(directory_ext_count(f->d), 2000);
	struct dir_tenant *t = by_domain(f, "T37.EXAMPLE");
	assert_non_null(t);
	assert_int_equal(t->id, 37);
	assert_int_equal(by_number(t, "139")->user_id, 37039);
	assert_int_equal(f->ndrops, 0);
}

/* Office hours, feature codes and holidays: parsed when put, per tenant and per
 * extension; what does not parse counts as none (open at all times, the
 * default codes, the holiday skipped); a tenant's zone comes with its row. */
static void test_office_hours_holidays_codes(void **state)
{
	struct fx *f = *state;
	struct store_tenant t = tenant(1, "acme.example", true);
	snprintf(t.timezone, sizeof(t.timezone), "Europe/Paris");
	assert_int_equal(directory_tenant_put(f->d, &t), 0);
	put_user(f, 10, 1, "100", true);
	struct dir_tenant *dt = directory_tenant(f->d, 1);
	struct dir_ext *x = directory_ext_by_user(f->d, 10);
	assert_string_equal(dt->tz, "Europe/Paris");
	assert_false(dt->has_hours);
	assert_null(dt->holidays);
	assert_string_equal(dt->codes.code[FEATURE_DND_ON], "*78");

	struct store_tenant_settings s = { .tenant_id = 1 };
	snprintf(s.office_hours, sizeof(s.office_hours), "{\"mon\":[{\"start\":\"09:00\",\"end\":\"17:00\"}]}");
	snprintf(s.feature_codes, sizeof(s.feature_codes), "{\"dnd_on\":\"*11\"}");
	assert_int_equal(directory_tenant_settings_put(f->d, &s), 0);
	assert_true(dt->has_hours);
	assert_int_equal(dt->hours.n, 1);
	assert_string_equal(dt->codes.code[FEATURE_DND_ON], "*11");
	/* a row put again keeps them: they come with their own put */
	assert_int_equal(directory_tenant_put(f->d, &t), 0);
	assert_true(dt->has_hours);
	snprintf(s.office_hours, sizeof(s.office_hours), "{\"mon\":\"all\"}");
	snprintf(s.feature_codes, sizeof(s.feature_codes), "{\"dnd_on\":\"*79\"}");
	assert_int_equal(directory_tenant_settings_put(f->d, &s), 0);
	assert_false(dt->has_hours);
	assert_string_equal(dt->codes.code[FEATURE_DND_ON], "*78");
	s.tenant_id = 99;
	assert_int_equal(directory_tenant_settings_put(f->d, &s), ENOENT);

	struct store_holiday rows[2] = {
		{ .id = 1, .tenant_id = 1, .json = "{\"start_date\":\"2031-12-25\"}" },
		{ .id = 2, .tenant_id = 1, .json = "{\"start_date\":\"2031-13-01\"}" }, /* skipped */
	};
	struct store_holidays hs = { .n = 2, .v = rows };
	assert_int_equal(directory_holidays_put(f->d, 1, 0, &hs), 0);
	assert_non_null(dt->holidays);
	assert_int_equal(dt->holidays->n, 1);
	struct tz_tm xmas = { .year = 2031, .month = 12, .day = 25, .hour = 10 };
	assert_true(sched_holidays_in(dt->holidays, &xmas));
	assert_null(x->holidays);
	rows[0].user_id = rows[1].user_id = 10;
	assert_int_equal(directory_holidays_put(f->d, 1, 10, &hs), 0);
	assert_int_equal(x->holidays->n, 1);
	assert_int_equal(directory_holiday_add(f->d, &rows[0]), 0);
	assert_int_equal(x->holidays->n, 2);
	assert_int_equal(directory_holidays_put(f->d, 1, 10, NULL), 0);
	assert_null(x->holidays);
	/* an owner not there, or the user in another tenant */
	assert_int_equal(directory_holidays_put(f->d, 1, 11, &hs), ENOENT);
	assert_int_equal(directory_holidays_put(f->d, 2, 10, &hs), ENOENT);
	assert_int_equal(directory_holidays_put(f->d, 2, 0, &hs), ENOENT);
	/* freed with their owners (the sanitizer build checks) */
	directory_ext_remove(f->d, 10);
	directory_tenant_remove(f->d, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tenant_put_find_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ext_put_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ext_renumber, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disable_drops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tenant_remove_removes_exts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_office_hours_holidays_codes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
