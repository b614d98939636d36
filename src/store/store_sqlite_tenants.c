/* SQLite backend: tenants. Creating one may create its first admin in the same
 * transaction; disabling one ends every session acting in it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "store/store_sqlite_int.h"

/* --- tenants ------------------------------------------------------------------------ */

void store_sq_tenant_fill(sqlite3_stmt *stmt, void *out)
{
	struct store_tenant *t = out;
	t->id = (uint64_t)sqlite3_column_int64(stmt, 0);
	store_sq_col_text(stmt, 1, t->name, sizeof(t->name));
	store_sq_col_text(stmt, 2, t->domain, sizeof(t->domain));
	t->enabled = sqlite3_column_int(stmt, 3) != 0;
	t->max_users = sqlite3_column_int64(stmt, 4);
	t->max_calls = sqlite3_column_int64(stmt, 5);
	t->created_at = sqlite3_column_int64(stmt, 6);
	t->updated_at = sqlite3_column_int64(stmt, 7);
	t->version = sqlite3_column_int64(stmt, 8);
	store_sq_col_text(stmt, 9, t->timezone, sizeof(t->timezone));
}

static int tenant_write(struct store_sq *s, const char *sql, const struct store_tenant *t, bool update)
{
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, sql, &stmt);
	if (e)
		return e;
	store_sq_bind_text(stmt, 1, t->name);
	store_sq_bind_text(stmt, 2, t->domain);
	sqlite3_bind_int(stmt, 3, t->enabled);
	sqlite3_bind_int64(stmt, 4, t->max_users);
	sqlite3_bind_int64(stmt, 5, t->max_calls);
	sqlite3_bind_int64(stmt, 6, t->updated_at);
	sqlite3_bind_int64(stmt, 7, (sqlite3_int64)t->id);
	if (!update)
		sqlite3_bind_int64(stmt, 8, t->created_at);
	store_sq_bind_text(stmt, 9, t->timezone);
	e = store_sq_step_done(s, stmt, update, "tenant write");
	if (e == EEXIST) /* ids are fresh: the domain is the only unique key left */
		store_sq_conflict(s, "domain");
	return e;
}

int store_sq_tenant_create(struct store *st, struct store_tenant *t, struct store_user *first_admin)
{
	struct store_sq *s = (struct store_sq *)st;
	int e = store_sq_tx_begin(s);
	if (e)
		return e;
	t->id = store_id_next();
	t->created_at = t->updated_at = store_now_ms();
	t->version = 1;
	e = tenant_write(s, "INSERT INTO tenants (name, domain, enabled, max_users, max_calls, updated_at,"
			    " id, created_at, timezone) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?9)", t, false);
	if (!e && first_admin) {
		first_admin->tenant_id = t->id;
		e = store_sq_user_insert(s, first_admin);
	}
	return store_sq_tx_end(s, e);
}

int store_sq_tenant_get(struct store *st, uint64_t id, struct store_tenant *t)
{
	return store_sq_get_by((struct store_sq *)st, "SELECT " TENANT_COLS " FROM tenants WHERE id = ?", 0, id, NULL,
			       store_sq_tenant_fill, t);
}

int store_sq_tenant_get_by_domain(struct store *st, const char *domain, struct store_tenant *t)
{
	return store_sq_get_by((struct store_sq *)st, "SELECT " TENANT_COLS " FROM tenants WHERE domain = ?", 0, 0,
			       domain, store_sq_tenant_fill, t);
}

/* Inside a write transaction: the version and credential generation a row has
 * now (sql selects them by ?1 id and, when tenant_id, ?2 tenant). ENOENT when
 * the row is gone, ESTALE when its version is not `version`. */
static int row_check(struct store_sq *s, const char *sql, uint64_t id, uint64_t tenant_id, int64_t version,
		     int64_t *cred_gen, bool *enabled)
{
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, sql, &stmt);
	if (e)
		return e;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)id);
	if (tenant_id)
		sqlite3_bind_int64(stmt, 2, (sqlite3_int64)tenant_id);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_int64(stmt, 0) != version)
			e = ESTALE;
		*cred_gen = sqlite3_column_int64(stmt, 1);
		*enabled = sqlite3_column_int(stmt, 2) != 0;
	} else {
		e = rc == SQLITE_DONE ? ENOENT : store_sq_err(s, rc, "row check");
	}
	store_sq_release(s, stmt);
	return e;
}

static int tenant_update_locked(struct store_sq *s, struct store_tenant *t)
{
	int64_t unused;
	bool was_enabled = false;
	int e = row_check(s, "SELECT version, 0, enabled FROM tenants WHERE id = ?1", t->id, 0, t->version, &unused,
			  &was_enabled);
	if (e)
		return e;
	t->updated_at = store_now_ms();
	e = tenant_write(s, "UPDATE tenants SET name = ?, domain = ?, enabled = ?, max_users = ?, max_calls = ?,"
			    " updated_at = ?, version = version + 1, timezone = ?9 WHERE id = ?7", t, true);
	if (e || !was_enabled || t->enabled)
		return e;
	/* Disabled: a sign-in into it that is still verifying a password must not
	 * produce a session that works once the tenant is enabled again. */
	e = store_sq_session_write(s, "UPDATE users SET cred_gen = cred_gen + 1 WHERE tenant_id = ?", NULL, t->id, NULL,
			  false);
	if (!e)
		e = store_sq_session_write(s, "DELETE FROM sessions WHERE tenant_id = ?", NULL, t->id, NULL, false);
	return e;
}

int store_sq_tenant_update(struct store *st, struct store_tenant *t)
{
	struct store_sq *s = (struct store_sq *)st;
	struct store_tenant mine = *t;
	int e = store_sq_tx_begin(s);
	if (!e)
		e = store_sq_tx_end(s, tenant_update_locked(s, &mine));
	if (!e) {
		mine.version++;
		*t = mine;
	}
	return e;
}

int store_sq_tenant_delete(struct store *st, uint64_t id)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "DELETE FROM tenants WHERE id = ?", &stmt);
	if (e)
		return e;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)id);
	return store_sq_step_done(s, stmt, true, "tenant delete");
}

int store_sq_tenant_scan(struct store *st, store_scan_h *h, void *arg)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "SELECT " TENANT_COLS " FROM tenants ORDER BY id", &stmt);
	struct store_tenant t;
	return e ? e : store_sq_scan(s, stmt, store_sq_tenant_fill, &t, h, arg);
}
