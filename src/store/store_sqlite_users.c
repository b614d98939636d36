/* SQLite backend: tenant users and their extension. Creates check the tenant's
 * max_users in the insert's transaction; updates are versioned (store.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "store/store_sqlite_int.h"

/* --- users ---------------------------------------------------------------------------- */

void store_sq_user_fill(sqlite3_stmt *stmt, void *out)
{
	struct store_user *u = out;
	u->id = (uint64_t)sqlite3_column_int64(stmt, 0);
	u->tenant_id = (uint64_t)sqlite3_column_int64(stmt, 1);
	store_sq_col_text(stmt, 2, u->username, sizeof(u->username));
	store_sq_col_text(stmt, 3, u->pw_hash, sizeof(u->pw_hash));
	store_sq_col_text(stmt, 4, u->email, sizeof(u->email));
	store_sq_col_text(stmt, 5, u->display_name, sizeof(u->display_name));
	const unsigned char *role = sqlite3_column_text(stmt, 6);
	u->role = role && strcmp((const char *)role, "admin") == 0 ? STORE_ROLE_ADMIN : STORE_ROLE_USER;
	u->enabled = sqlite3_column_int(stmt, 7) != 0;
	store_sq_col_text(stmt, 8, u->ext_number, sizeof(u->ext_number));
	store_sq_col_text(stmt, 9, u->ext_password, sizeof(u->ext_password));
	u->created_at = sqlite3_column_int64(stmt, 10);
	u->updated_at = sqlite3_column_int64(stmt, 11);
	u->version = sqlite3_column_int64(stmt, 13);
	u->cred_gen = sqlite3_column_int64(stmt, 14);
	u->settings = NULL;
	if (sqlite3_column_type(stmt, 12) != SQLITE_NULL) {
		const char *t = (const char *)sqlite3_column_text(stmt, 12);
		u->settings = mem_strndup(t ? t : "{}", t ? (size_t)sqlite3_column_bytes(stmt, 12) : 2);
	}
}

/* Binds the writable user columns in USER_COLS order from 2 on (tenant_id .. settings). */
static void user_bind(sqlite3_stmt *stmt, const struct store_user *u)
{
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)u->id);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)u->tenant_id);
	store_sq_bind_text(stmt, 3, u->username);
	store_sq_bind_text(stmt, 4, u->pw_hash);
	store_sq_bind_text(stmt, 5, u->email);
	store_sq_bind_text(stmt, 6, u->display_name);
	store_sq_bind_text(stmt, 7, u->role == STORE_ROLE_ADMIN ? "admin" : "user");
	sqlite3_bind_int(stmt, 8, u->enabled);
	store_sq_bind_text(stmt, 9, u->ext_number);
	store_sq_bind_text(stmt, 10, u->ext_password);
	sqlite3_bind_int64(stmt, 11, u->created_at);
	sqlite3_bind_int64(stmt, 12, u->updated_at);
	store_sq_bind_text(stmt, 13, u->settings ? u->settings : "{}");
}

/* A user's unique keys besides the id: which one another row of the tenant holds. */
static const struct {
	const char *field, *probe;
} user_keys[] = {
	{ "username", "SELECT 1 FROM users WHERE tenant_id = ?1 AND username = ?2 AND id <> ?3" },
	{ "extension_number", "SELECT 1 FROM users WHERE tenant_id = ?1 AND ext_number = ?2 AND id <> ?3" },
};

/* e from a write of u; on EEXIST, names the key that is taken. */
static int user_conflict(struct store_sq *s, const struct store_user *u, int e)
{
	if (e != EEXIST)
		return e;
	const char *val[] = { u->username, u->ext_number };
	for (size_t i = 0; i < sizeof(user_keys) / sizeof(user_keys[0]); i++) {
		if (store_sq_exists(s, user_keys[i].probe, u->tenant_id, val[i], u->id) == 1) {
			store_sq_conflict(s, user_keys[i].field);
			break;
		}
	}
	return e;
}

int store_sq_user_insert(struct store_sq *s, struct store_user *u)
{
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "INSERT INTO users (" USER_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 1)",
		     &stmt);
	if (e)
		return e;
	u->id = store_id_next();
	u->created_at = u->updated_at = store_now_ms();
	u->version = u->cred_gen = 1;
	user_bind(stmt, u);
	return user_conflict(s, u, store_sq_step_done(s, stmt, false, "user create"));
}

/* The count and the insert under one write lock: concurrent creates at the
 * limit cannot all pass a check made before any of them inserted. */
static int user_create_locked(struct store_sq *s, struct store_user *u)
{
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "SELECT max_users, (SELECT count(*) FROM users WHERE tenant_id = ?1)"
			      " FROM tenants WHERE id = ?1", &stmt);
	if (e)
		return e;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)u->tenant_id);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		int64_t max = sqlite3_column_int64(stmt, 0), n = sqlite3_column_int64(stmt, 1);
		if (max > 0 && n >= max)
			e = EDQUOT;
	} else {
		e = rc == SQLITE_DONE ? ENOENT : store_sq_err(s, rc, "user count");
	}
	store_sq_release(s, stmt);
	return e ? e : store_sq_user_insert(s, u);
}

int store_sq_user_create(struct store *st, struct store_user *u)
{
	struct store_sq *s = (struct store_sq *)st;
	int e = store_sq_tx_begin(s);
	return e ? e : store_sq_tx_end(s, user_create_locked(s, u));
}

static int user_get_where(struct store_sq *s, const char *where, uint64_t tenant_id, uint64_t id,
			  const char *text, struct store_user *u)
{
	char sql[512];
	snprintf(sql, sizeof(sql), "SELECT " USER_COLS " FROM users WHERE tenant_id = ?1 AND %s", where);
	return store_sq_get_by(s, sql, tenant_id, id, text, store_sq_user_fill, u);
}

int store_sq_user_get(struct store *st, uint64_t tenant_id, uint64_t id, struct store_user *u)
{
	return user_get_where((struct store_sq *)st, "id = ?2", tenant_id, id, NULL, u);
}

int store_sq_user_get_by_name(struct store *st, uint64_t tenant_id, const char *username, struct store_user *u)
{
	return user_get_where((struct store_sq *)st, "username = ?2", tenant_id, 0, username, u);
}

int store_sq_user_get_by_ext(struct store *st, uint64_t tenant_id, const char *number, struct store_user *u)
{
	return user_get_where((struct store_sq *)st, "ext_number = ?2", tenant_id, 0, number, u);
}

static int user_update_locked(struct store_sq *s, struct store_user *u, uint64_t keep_grant)
{
	struct store_user old = { 0 };
	int e = user_get_where(s, "id = ?2", u->tenant_id, u->id, NULL, &old);
	store_user_reset(&old);
	if (e)
		return e;
	if (old.version != u->version)
		return ESTALE;
	bool regen = store_sq_cred_change(old.pw_hash, old.enabled, u->pw_hash, u->enabled);
	sqlite3_stmt *stmt;
	if ((e = store_sq_prep(s, "UPDATE users SET tenant_id = ?2, username = ?3, password_hash = ?4, email = ?5,"
			       " display_name = ?6, role = ?7, enabled = ?8, ext_number = ?9, ext_password = ?10,"
			       " updated_at = ?12, settings = ?13, version = ?14, cred_gen = ?15"
			       " WHERE id = ?1 AND tenant_id = ?2", &stmt)))
		return e;
	u->updated_at = store_now_ms();
	user_bind(stmt, u); /* ?11 (created_at) is left unused: it never changes */
	sqlite3_bind_int64(stmt, 14, old.version + 1);
	sqlite3_bind_int64(stmt, 15, old.cred_gen + regen);
	if ((e = user_conflict(s, u, store_sq_step_done(s, stmt, true, "user update"))))
		return e;
	u->version = old.version + 1;
	u->cred_gen = old.cred_gen + regen;
	return regen ? store_sq_sessions_regen(s, "user_id", u->id, keep_grant, u->cred_gen) : 0;
}

int store_sq_user_update(struct store *st, struct store_user *u, uint64_t keep_grant)
{
	struct store_sq *s = (struct store_sq *)st;
	int64_t version = u->version, cred_gen = u->cred_gen;
	int e = store_sq_tx_begin(s);
	if (!e)
		e = store_sq_tx_end(s, user_update_locked(s, u, keep_grant));
	if (e) {
		u->version = version;
		u->cred_gen = cred_gen;
	}
	return e;
}

int store_sq_user_delete(struct store *st, uint64_t tenant_id, uint64_t id)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "DELETE FROM users WHERE id = ? AND tenant_id = ?", &stmt);
	if (e)
		return e;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)id);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)tenant_id);
	return store_sq_step_done(s, stmt, true, "user delete");
}

int store_sq_user_count(struct store *st, uint64_t tenant_id, uint64_t *n)
{
	return store_sq_count((struct store_sq *)st, "SELECT count(*) FROM users WHERE tenant_id = ?", tenant_id, true, n);
}

/* Each row's settings are released after its callback: the callback copies. */
struct user_scan {
	store_scan_h *h;
	void *arg;
};

static int user_scan_one(const void *row, void *arg)
{
	struct user_scan *us = arg;
	struct store_user *u = (struct store_user *)row;
	int e = us->h(u, us->arg);
	store_user_reset(u);
	return e;
}

int store_sq_user_scan(struct store *st, store_scan_h *h, void *arg)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "SELECT " USER_COLS " FROM users ORDER BY tenant_id, id", &stmt);
	struct store_user u = { 0 };
	struct user_scan us = { h, arg };
	return e ? e : store_sq_scan(s, stmt, store_sq_user_fill, &u, user_scan_one, &us);
}
