/* Unit tests of the store's configuration objects (issue 15: providers, trunk
 * rules, number lists) on a real SQLite file: one owner's objects never reached
 * through another's (the system's own are an owner too), the unique key per
 * kind and scope (a DID across tenants, a provider name within its owner),
 * versions (a stale writer refused), the per-owner limit's check, a create
 * inside the caller's transaction rolled back with it, a tenant's objects
 * going with it, and the scan the PBX loads. FEATURES: TRK-01, TRK-07. */
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
	return fx_tenants_setup(state, "objects");
}

static int teardown(void **state)
{
	return fx_tenants_teardown(state);
}

static int mk(struct store *st, int kind, uint64_t tenant, const char *key, uint64_t scope, const char *json,
	      struct store_obj *out)
{
	struct store_obj o = { .kind = kind, .tenant_id = tenant, .uscope = scope };
	snprintf(o.ukey, sizeof(o.ukey), "%s", key);
	o.json = mem_strndup(json, strlen(json));
	int e = store_obj_create(st, &o);
	if (out)
		*out = o;
	else
		store_obj_reset(&o);
	return e;
}

static void test_owners(void **state)
{
	struct fx_tenants *f = *state;
	struct store_obj sys, a, got = { 0 };
	assert_int_equal(mk(f->st, STORE_OBJ_PROVIDER, 0, "Carrier", 0, "{\"name\":\"Carrier\"}", &sys), 0);
	assert_int_equal(mk(f->st, STORE_OBJ_PROVIDER, f->ta, "Carrier", f->ta, "{\"name\":\"Carrier\"}", &a), 0);
	assert_int_equal(sys.version, 1);
	assert_true(sys.id && a.id && sys.id != a.id);
	/* Reached only through its owner. */
	assert_int_equal(store_obj_get(f->st, STORE_OBJ_PROVIDER, 0, sys.id, &got), 0);
	assert_string_equal(got.json, "{\"name\":\"Carrier\"}");
	assert_int_equal(store_obj_get(f->st, STORE_OBJ_PROVIDER, f->ta, sys.id, &got), ENOENT);
	assert_int_equal(store_obj_get(f->st, STORE_OBJ_PROVIDER, f->tb, a.id, &got), ENOENT);
	assert_int_equal(store_obj_get(f->st, STORE_OBJ_INBOUND_RULE, f->ta, a.id, &got), ENOENT);
	assert_int_equal(store_obj_delete(f->st, STORE_OBJ_PROVIDER, f->tb, a.id), ENOENT);
	struct store_objs *l = NULL;
	assert_int_equal(store_obj_list(f->st, STORE_OBJ_PROVIDER, f->ta, &l), 0);
	assert_int_equal(l->n, 1);
	assert_int_equal(l->v[0].id, a.id);
	mem_deref(l);
	assert_int_equal(store_obj_list(f->st, STORE_OBJ_PROVIDER, f->tb, &l), 0);
	assert_int_equal(l->n, 0);
	mem_deref(l);
	/* Unknown kinds, bad JSON. */
	assert_int_equal(mk(f->st, 0, f->ta, "", 0, "{}", NULL), EINVAL);
	assert_int_equal(mk(f->st, STORE_OBJ_KINDS, f->ta, "", 0, "{}", NULL), EINVAL);
	assert_int_equal(mk(f->st, STORE_OBJ_BLACKLISTED, f->ta, "", 0, "{not json", NULL), EINVAL);
	/* A tenant that does not exist. */
	assert_int_equal(mk(f->st, STORE_OBJ_BLACKLISTED, 999999, "", 0, "{}", NULL), ENOENT);
	store_obj_reset(&sys);
	store_obj_reset(&a);
	store_obj_reset(&got);
}

static void test_keys_and_versions(void **state)
{
	struct fx_tenants *f = *state;
	struct store_obj r1, got = { 0 };
	/* A DID is unique across tenants (scope 0)... */
	assert_int_equal(mk(f->st, STORE_OBJ_INBOUND_RULE, f->ta, "18800606", 0, "{\"did\":\"18800606\"}", &r1), 0);
	assert_int_equal(mk(f->st, STORE_OBJ_INBOUND_RULE, f->tb, "18800606", 0, "{}", NULL), EEXIST);
	assert_string_equal(store_conflict_field(f->st), "key");
	/* ...a name within its scope; objects without a key never conflict. */
	assert_int_equal(mk(f->st, STORE_OBJ_COUNTRY_CODE, f->ta, "44", f->ta, "{}", NULL), 0);
	assert_int_equal(mk(f->st, STORE_OBJ_COUNTRY_CODE, f->tb, "44", f->tb, "{}", NULL), 0);
	assert_int_equal(mk(f->st, STORE_OBJ_COUNTRY_CODE, f->ta, "44", f->ta, "{}", NULL), EEXIST);
	assert_int_equal(mk(f->st, STORE_OBJ_OUTBOUND_RULE, f->ta, "", 0, "{}", NULL), 0);
	assert_int_equal(mk(f->st, STORE_OBJ_OUTBOUND_RULE, f->ta, "", 0, "{}", NULL), 0);
	/* Versions: the second writer of version 1 is stale. */
	struct store_obj w1 = r1, w2 = r1;
	w1.json = mem_strndup("{\"did\":\"1\"}", 11);
	w2.json = mem_strndup("{\"did\":\"2\"}", 11);
	assert_int_equal(store_obj_update(f->st, &w1), 0);
	assert_int_equal(w1.version, 2);
	assert_int_equal(store_obj_update(f->st, &w2), ESTALE);
	assert_int_equal(store_obj_get(f->st, STORE_OBJ_INBOUND_RULE, f->ta, r1.id, &got), 0);
	assert_string_equal(got.json, "{\"did\":\"1\"}");
	/* An update onto another's key conflicts. */
	struct store_obj r2;
	assert_int_equal(mk(f->st, STORE_OBJ_INBOUND_RULE, f->tb, "555", 0, "{}", &r2), 0);
	snprintf(r2.ukey, sizeof(r2.ukey), "18800606");
	assert_int_equal(store_obj_update(f->st, &r2), EEXIST);
	store_obj_reset(&w1);
	store_obj_reset(&w2);
	store_obj_reset(&r2);
	store_obj_reset(&got);
	mem_deref(r1.json);
}

static void test_tx_and_cascade(void **state)
{
	struct fx_tenants *f = *state;
	/* A create in the caller's transaction goes with its rollback. */
	assert_int_equal(store_tx_begin(f->st), 0);
	assert_int_equal(mk(f->st, STORE_OBJ_BLACKLISTED, f->ta, "123", f->ta, "{}", NULL), 0);
	assert_int_equal(mk(f->st, STORE_OBJ_BLACKLISTED, f->ta, "123", f->ta, "{}", NULL), EEXIST);
	assert_int_equal(store_tx_end(f->st, EINVAL), EINVAL);
	struct store_objs *l = NULL;
	assert_int_equal(store_obj_list(f->st, STORE_OBJ_BLACKLISTED, f->ta, &l), 0);
	assert_int_equal(l->n, 0);
	mem_deref(l);
	/* Committed, then the tenant deleted: its objects go, the system's stay. */
	assert_int_equal(mk(f->st, STORE_OBJ_BLACKLISTED, f->ta, "123", f->ta, "{}", NULL), 0);
	assert_int_equal(mk(f->st, STORE_OBJ_BLACKLISTED, f->tb, "123", f->tb, "{}", NULL), 0);
	assert_int_equal(mk(f->st, STORE_OBJ_PROVIDER, 0, "P", 0, "{}", NULL), 0);
	assert_int_equal(store_tenant_delete(f->st, f->ta), 0);
	assert_int_equal(store_obj_list(f->st, STORE_OBJ_BLACKLISTED, f->ta, &l), 0);
	assert_int_equal(l->n, 0);
	mem_deref(l);
	assert_int_equal(store_obj_list(f->st, STORE_OBJ_BLACKLISTED, f->tb, &l), 0);
	assert_int_equal(l->n, 1);
	mem_deref(l);
	assert_int_equal(store_obj_list(f->st, STORE_OBJ_PROVIDER, 0, &l), 0);
	assert_int_equal(l->n, 1);
	mem_deref(l);
}

static int count_row(const void *row, void *arg)
{
	const struct store_obj *o = row;
	unsigned *n = arg;
	assert_non_null(o->json);
	(*n)++;
	return 0;
}

static void test_scan(void **state)
{
	struct fx_tenants *f = *state;
	assert_int_equal(mk(f->st, STORE_OBJ_DISALLOWED_CODE, f->ta, "900", f->ta, "{\"code\":\"900\"}", NULL), 0);
	assert_int_equal(mk(f->st, STORE_OBJ_DISALLOWED_CODE, f->tb, "900", f->tb, "{\"code\":\"900\"}", NULL), 0);
	assert_int_equal(mk(f->st, STORE_OBJ_DISALLOWED_CODE, 0, "", 0, "{}", NULL), 0);
	assert_int_equal(mk(f->st, STORE_OBJ_BLACKLISTED, f->ta, "1", f->ta, "{}", NULL), 0);
	unsigned n = 0;
	assert_int_equal(store_obj_scan(f->st, STORE_OBJ_DISALLOWED_CODE, count_row, &n), 0);
	assert_int_equal(n, 3);
	struct store_obj o = { 0 };
	assert_int_equal(store_obj_get(f->st, STORE_OBJ_DISALLOWED_CODE, f->ta, 1, &o), ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_owners, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_and_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_and_cascade, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
