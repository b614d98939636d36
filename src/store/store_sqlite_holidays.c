/* SQLite backend: holidays of a tenant (user_id NULL in the table, 0 in struct
 * store_holiday) and of its users. Every statement names the owner with
 * `tenant_id = ? AND user_id IS ?` (IS: NULL-safe, so the tenant's own
 * holidays are one owner like any user), so one owner's rows are never reached
 * through another's; the index holidays_owner serves exactly that. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "store/store_sqlite_int.h"

#define HOL_COLS "id, tenant_id, user_id, name, json, created_at, updated_at, version"
#define OWNER "tenant_id = ?1 AND user_id IS ?2"

static void hol_fill(sqlite3_stmt *stmt, void *out)
{
	struct store_holiday *h = out;
	h->id = (uint64_t)sqlite3_column_int64(stmt, 0);
	h->tenant_id = (uint64_t)sqlite3_column_int64(stmt, 1);
	h->user_id = (uint64_t)sqlite3_column_int64(stmt, 2); /* NULL reads as 0 */
	store_sq_col_text(stmt, 3, h->name, sizeof(h->name));
	store_sq_col_text(stmt, 4, h->json, sizeof(h->json));
	h->created_at = sqlite3_column_int64(stmt, 5);
	h->updated_at = sqlite3_column_int64(stmt, 6);
	h->version = sqlite3_column_int64(stmt, 7);
}

/* Prepares sql, whose ?1 and ?2 are the owner. */
static int owner_prep(struct store_sq *s, const char *sql, uint64_t tenant_id, uint64_t user_id, sqlite3_stmt **stmt)
{
	int e = store_sq_prep(s, sql, stmt);
	if (e)
		return e;
	sqlite3_bind_int64(*stmt, 1, (sqlite3_int64)tenant_id);
	store_sq_bind_id(*stmt, 2, user_id);
	return 0;
}

static int owner_count(struct store_sq *s, uint64_t tenant_id, uint64_t user_id, uint64_t *n)
{
	sqlite3_stmt *stmt;
	int e = owner_prep(s, "SELECT count(*) FROM holidays WHERE " OWNER, tenant_id, user_id, &stmt);
	if (e)
		return e;
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*n = (uint64_t)sqlite3_column_int64(stmt, 0);
	else
		e = store_sq_err(s, rc, "holiday count");
	store_sq_release(s, stmt);
	return e;
}

static int hol_insert(struct store_sq *s, struct store_holiday *h)
{
	uint64_t n = 0;
	int e = owner_count(s, h->tenant_id, h->user_id, &n);
	if (e)
		return e;
	if (n >= STORE_HOLIDAYS_MAX)
		return EDQUOT;
	sqlite3_stmt *stmt;
	/* The owner must exist: the tenant, and the user in that tenant. */
	if ((e = owner_prep(s, "INSERT INTO holidays (tenant_id, user_id, id, name, json, created_at, updated_at,"
			    " version) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?6, 1 WHERE EXISTS (SELECT 1 FROM tenants"
			    " WHERE id = ?1) AND (?2 IS NULL OR EXISTS (SELECT 1 FROM users WHERE id = ?2 AND"
			    " tenant_id = ?1))", h->tenant_id, h->user_id, &stmt)))
		return e;
	h->id = store_id_next();
	h->created_at = h->updated_at = store_now_ms();
	h->version = 1;
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)h->id);
	store_sq_bind_text(stmt, 4, h->name);
	store_sq_bind_text(stmt, 5, h->json);
	sqlite3_bind_int64(stmt, 6, h->created_at);
	return store_sq_step_done(s, stmt, true, "holiday insert"); /* ENOENT: no such owner */
}

int store_sq_holiday_create(struct store *st, struct store_holiday *h)
{
	struct store_sq *s = (struct store_sq *)st;
	int e = store_sq_tx_begin(s);
	return e ? e : store_sq_tx_end(s, hol_insert(s, h));
}

int store_sq_holiday_get(struct store *st, uint64_t tenant_id, uint64_t user_id, uint64_t id,
			 struct store_holiday *h)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = owner_prep(s, "SELECT " HOL_COLS " FROM holidays WHERE " OWNER " AND id = ?3", tenant_id, user_id,
			   &stmt);
	if (e)
		return e;
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)id);
	return store_sq_get_one(s, stmt, hol_fill, h);
}

/* One statement: the version check and the write cannot be split by another writer. */
int store_sq_holiday_update(struct store *st, struct store_holiday *h)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = owner_prep(s, "UPDATE holidays SET name = ?4, json = ?5, updated_at = ?6, version = version + 1"
			   " WHERE " OWNER " AND id = ?3 AND version = ?7", h->tenant_id, h->user_id, &stmt);
	if (e)
		return e;
	int64_t now = store_now_ms();
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)h->id);
	store_sq_bind_text(stmt, 4, h->name);
	store_sq_bind_text(stmt, 5, h->json);
	sqlite3_bind_int64(stmt, 6, now);
	sqlite3_bind_int64(stmt, 7, h->version);
	e = store_sq_step_done(s, stmt, true, "holiday update");
	if (e == ENOENT) {
		struct store_holiday cur;
		e = store_sq_holiday_get(st, h->tenant_id, h->user_id, h->id, &cur);
		return e ? e : ESTALE;
	}
	if (!e) {
		h->version++;
		h->updated_at = now;
	}
	return e;
}

int store_sq_holiday_delete(struct store *st, uint64_t tenant_id, uint64_t user_id, uint64_t id)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = owner_prep(s, "DELETE FROM holidays WHERE " OWNER " AND id = ?3", tenant_id, user_id, &stmt);
	if (e)
		return e;
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)id);
	return store_sq_step_done(s, stmt, true, "holiday delete");
}

static void holidays_destroy(void *data)
{
	struct store_holidays *l = data;
	mem_deref(l->v);
}

/* The count first, in the same read transaction as the rows, so the array is
 * allocated once and holds them all. */
static int list_locked(struct store_sq *s, uint64_t tenant_id, uint64_t user_id, struct store_holidays *l)
{
	uint64_t n = 0;
	int e = owner_count(s, tenant_id, user_id, &n);
	if (e || !n)
		return e;
	if (!(l->v = mem_zalloc(sizeof(*l->v) * n, NULL)))
		return ENOMEM;
	sqlite3_stmt *stmt;
	if ((e = owner_prep(s, "SELECT " HOL_COLS " FROM holidays WHERE " OWNER " ORDER BY id", tenant_id, user_id,
			    &stmt)))
		return e;
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && l->n < n)
		hol_fill(stmt, &l->v[l->n++]);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		e = store_sq_err(s, rc, "holiday list");
	store_sq_release(s, stmt);
	return e;
}

int store_sq_holiday_list(struct store *st, uint64_t tenant_id, uint64_t user_id, struct store_holidays **out)
{
	struct store_sq *s = (struct store_sq *)st;
	struct store_holidays *l = mem_zalloc(sizeof(*l), holidays_destroy);
	if (!l)
		return ENOMEM;
	/* A savepoint: its own read transaction alone, a part of the caller's in one. */
	int e = store_sq_exec(s, "SAVEPOINT holiday_list");
	if (!e) {
		e = list_locked(s, tenant_id, user_id, l);
		store_sq_exec(s, "RELEASE holiday_list");
	}
	if (e) {
		mem_deref(l);
		return e;
	}
	*out = l;
	return 0;
}

int store_sq_holiday_scan(struct store *st, store_scan_h *h, void *arg)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "SELECT " HOL_COLS " FROM holidays ORDER BY id", &stmt);
	struct store_holiday row;
	memset(&row, 0, sizeof(row));
	return e ? e : store_sq_scan(s, stmt, hol_fill, &row, h, arg);
}
