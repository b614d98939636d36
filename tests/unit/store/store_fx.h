/* What the store's unit tests share: a database in a fresh temporary folder,
 * removed afterwards, and tenants and users made in it (cmocka asserts). */
#ifndef TESTS_UNIT_STORE_STORE_FX_H
#define TESTS_UNIT_STORE_STORE_FX_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

/* Opens a store in a new folder /tmp/pbxd-NAME-XXXXXX, written into dir. */
static inline struct store *fx_store_open(char *dir, size_t size, const char *name)
{
	snprintf(dir, size, "/tmp/pbxd-%s-XXXXXX", name);
	assert_non_null(mkdtemp(dir));
	struct store *st = NULL;
	assert_int_equal(store_open(&st, dir), 0);
	return st;
}

static inline void fx_store_close(struct store *st, const char *dir)
{
	store_close(st);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* A tenant NAME with domain NAME.test. */
static inline uint64_t fx_tenant(struct store *st, const char *name)
{
	struct store_tenant t = { .enabled = true };
	snprintf(t.name, sizeof(t.name), "%s", name);
	snprintf(t.domain, sizeof(t.domain), "%s.test", name);
	assert_int_equal(store_tenant_create(st, &t, NULL), 0);
	return t.id;
}

/* A user of tenant with extension ext (SIP password sip-secret-EXT). */
static inline uint64_t fx_user(struct store *st, uint64_t tenant, const char *username, const char *ext)
{
	struct store_user u = { .tenant_id = tenant, .role = STORE_ROLE_USER, .enabled = true };
	snprintf(u.username, sizeof(u.username), "%s", username);
	snprintf(u.email, sizeof(u.email), "%s@example.com", username);
	snprintf(u.ext_number, sizeof(u.ext_number), "%s", ext);
	snprintf(u.ext_password, sizeof(u.ext_password), "sip-secret-%s", ext);
	snprintf(u.pw_hash, sizeof(u.pw_hash), "x");
	assert_int_equal(store_user_create(st, &u), 0);
	return u.id;
}

/* The fixture of tests that need a store and two tenants, a and b. */
struct fx_tenants {
	char dir[64];
	struct store *st;
	uint64_t ta, tb;
};

static inline int fx_tenants_setup(void **state, const char *name)
{
	struct fx_tenants *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->st = fx_store_open(f->dir, sizeof(f->dir), name);
	f->ta = fx_tenant(f->st, "a");
	f->tb = fx_tenant(f->st, "b");
	*state = f;
	return 0;
}

static inline int fx_tenants_teardown(void **state)
{
	struct fx_tenants *f = *state;
	fx_store_close(f->st, f->dir);
	free(f);
	return 0;
}

#endif
