/* SQLite backend: system admins. An update is versioned and, when it changes the
 * password or disables the admin, moves the credential generation (store.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "store/store_sqlite_int.h"

/* --- system admins ------------------------------------------------------------------ */

#define ADMIN_COLS "id, username, password_hash, enabled, created_at, updated_at, version, cred_gen"

static void admin_row(sqlite3_stmt *stmt, struct store_admin *a)
{
	a->id = (uint64_t)sqlite3_column_int64(stmt, 0);
	store_sq_col_text(stmt, 1, a->username, sizeof(a->username));
	store_sq_col_text(stmt, 2, a->pw_hash, sizeof(a->pw_hash));
	a->enabled = sqlite3_column_int(stmt, 3) != 0;
	a->created_at = sqlite3_column_int64(stmt, 4);
	a->updated_at = sqlite3_column_int64(stmt, 5);
	a->version = sqlite3_column_int64(stmt, 6);
	a->cred_gen = sqlite3_column_int64(stmt, 7);
}

static void admin_fill(sqlite3_stmt *stmt, void *out) { admin_row(stmt, out); }

int store_sq_admin_create(struct store *st, struct store_admin *a)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "INSERT INTO admins (" ADMIN_COLS ") VALUES (?, ?, ?, ?, ?, ?, 1, 1)", &stmt);
	if (e)
		return e;
	a->id = store_id_next();
	a->created_at = a->updated_at = store_now_ms();
	a->version = a->cred_gen = 1;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)a->id);
	store_sq_bind_text(stmt, 2, a->username);
	store_sq_bind_text(stmt, 3, a->pw_hash);
	sqlite3_bind_int(stmt, 4, a->enabled);
	sqlite3_bind_int64(stmt, 5, a->created_at);
	sqlite3_bind_int64(stmt, 6, a->updated_at);
	int e2 = store_sq_step_done(s, stmt, false, "admin create");
	if (e2 == EEXIST) /* the primary key is a fresh id: the name is the unique key left */
		store_sq_conflict(s, "username");
	return e2;
}

int store_sq_admin_get(struct store *st, uint64_t id, struct store_admin *a)
{
	return store_sq_get_by((struct store_sq *)st, "SELECT " ADMIN_COLS " FROM admins WHERE id = ?", 0, id, NULL,
			       admin_fill, a);
}

int store_sq_admin_get_by_name(struct store *st, const char *username, struct store_admin *a)
{
	return store_sq_get_by((struct store_sq *)st, "SELECT " ADMIN_COLS " FROM admins WHERE username = ?", 0, 0,
			       username, admin_fill, a);
}

static int admin_update_locked(struct store_sq *s, struct store_admin *a, uint64_t keep_grant)
{
	struct store_admin old;
	sqlite3_stmt *stmt;
	int e = store_sq_admin_get(&s->base, a->id, &old);
	if (e)
		return e;
	if (old.version != a->version)
		return ESTALE;
	bool regen = store_sq_cred_change(old.pw_hash, old.enabled, a->pw_hash, a->enabled);
	if ((e = store_sq_prep(s, "UPDATE admins SET username = ?, password_hash = ?, enabled = ?, updated_at = ?,"
			       " version = ?, cred_gen = ? WHERE id = ?", &stmt)))
		return e;
	a->updated_at = store_now_ms();
	store_sq_bind_text(stmt, 1, a->username);
	store_sq_bind_text(stmt, 2, a->pw_hash);
	sqlite3_bind_int(stmt, 3, a->enabled);
	sqlite3_bind_int64(stmt, 4, a->updated_at);
	sqlite3_bind_int64(stmt, 5, old.version + 1);
	sqlite3_bind_int64(stmt, 6, old.cred_gen + regen);
	sqlite3_bind_int64(stmt, 7, (sqlite3_int64)a->id);
	if ((e = store_sq_step_done(s, stmt, true, "admin update"))) {
		if (e == EEXIST)
			store_sq_conflict(s, "username");
		return e;
	}
	a->version = old.version + 1;
	a->cred_gen = old.cred_gen + regen;
	return regen ? store_sq_sessions_regen(s, "admin_id", a->id, keep_grant, a->cred_gen) : 0;
}

int store_sq_admin_update(struct store *st, struct store_admin *a, uint64_t keep_grant)
{
	struct store_sq *s = (struct store_sq *)st;
	struct store_admin mine = *a;
	int e = store_sq_tx_begin(s);
	if (!e)
		e = store_sq_tx_end(s, admin_update_locked(s, &mine, keep_grant));
	if (!e)
		*a = mine;
	return e;
}

int store_sq_admin_count(struct store *st, uint64_t *n)
{
	return store_sq_count((struct store_sq *)st, "SELECT count(*) FROM admins", 0, false, n);
}
