/* SQLite backend: configuration objects (struct store_obj). Every statement
 * names the owner with `kind = ? AND tenant_id IS ?` (IS: NULL-safe, so the
 * system's objects are one owner like any tenant's), served by objects_owner;
 * the partial unique index objects_key enforces each kind's key in its scope. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "store/store_sqlite_int.h"

#define OBJ_COLS "id, kind, tenant_id, ukey, uscope, json, created_at, updated_at, version"
#define OWNER "kind = ?1 AND tenant_id IS ?2"

static void obj_fill(sqlite3_stmt *stmt, void *out)
{
	struct store_obj *o = out;
	o->id = (uint64_t)sqlite3_column_int64(stmt, 0);
	o->kind = sqlite3_column_int(stmt, 1);
	o->tenant_id = (uint64_t)sqlite3_column_int64(stmt, 2); /* NULL reads as 0 */
	store_sq_col_text(stmt, 3, o->ukey, sizeof(o->ukey));
	o->uscope = (uint64_t)sqlite3_column_int64(stmt, 4);
	const char *j = (const char *)sqlite3_column_text(stmt, 5);
	mem_deref(o->json);
	o->json = j ? mem_strndup(j, (size_t)sqlite3_column_bytes(stmt, 5)) : NULL;
	o->created_at = sqlite3_column_int64(stmt, 6);
	o->updated_at = sqlite3_column_int64(stmt, 7);
	o->version = sqlite3_column_int64(stmt, 8);
}

static int owner_prep(struct store_sq *s, const char *sql, int kind, uint64_t tenant_id, sqlite3_stmt **stmt)
{
	int e = store_sq_prep(s, sql, stmt);
	if (e)
		return e;
	sqlite3_bind_int(*stmt, 1, kind);
	store_sq_bind_id(*stmt, 2, tenant_id);
	return 0;
}

static int obj_checks(const struct store_obj *o)
{
	if (!o->json || strlen(o->json) > STORE_OBJ_JSON_MAX || strlen(o->ukey) >= sizeof(o->ukey))
		return EINVAL;
	return 0;
}

static void bind_key(sqlite3_stmt *stmt, int i, const struct store_obj *o)
{
	if (o->ukey[0])
		store_sq_bind_text(stmt, i, o->ukey);
	else
		sqlite3_bind_null(stmt, i);
}

static int owner_count(struct store_sq *s, int kind, uint64_t tenant_id, uint64_t *n)
{
	sqlite3_stmt *stmt;
	int e = owner_prep(s, "SELECT count(*) FROM objects WHERE " OWNER, kind, tenant_id, &stmt);
	if (e)
		return e;
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*n = (uint64_t)sqlite3_column_int64(stmt, 0);
	else
		e = store_sq_err(s, rc, "object count");
	store_sq_release(s, stmt);
	return e;
}

static int obj_insert(struct store_sq *s, struct store_obj *o)
{
	uint64_t n = 0;
	int e = owner_count(s, o->kind, o->tenant_id, &n);
	if (e)
		return e;
	if (n >= STORE_OBJS_MAX)
		return EDQUOT;
	sqlite3_stmt *stmt;
	/* A tenant's object needs its tenant (the system's needs nothing). */
	if ((e = owner_prep(s, "INSERT INTO objects (kind, tenant_id, id, ukey, uscope, json, created_at, updated_at,"
			    " version) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, 1 WHERE ?2 IS NULL OR EXISTS (SELECT 1"
			    " FROM tenants WHERE id = ?2)", o->kind, o->tenant_id, &stmt)))
		return e;
	int64_t id = (int64_t)store_id_next(), now = store_now_ms();
	sqlite3_bind_int64(stmt, 3, id);
	bind_key(stmt, 4, o);
	sqlite3_bind_int64(stmt, 5, (sqlite3_int64)o->uscope);
	store_sq_bind_text(stmt, 6, o->json);
	sqlite3_bind_int64(stmt, 7, now);
	e = store_sq_step_done(s, stmt, true, "object insert"); /* ENOENT: no such tenant */
	if (e == EEXIST)
		store_sq_conflict(s, "key");
	if (!e) {
		o->id = (uint64_t)id;
		o->created_at = o->updated_at = now;
		o->version = 1;
	}
	return e;
}

/* A savepoint: its own transaction alone, a part of the caller's in one. */
int store_sq_obj_create(struct store *st, struct store_obj *o)
{
	struct store_sq *s = (struct store_sq *)st;
	int e = obj_checks(o);
	if (e)
		return e;
	if ((e = store_sq_exec(s, "SAVEPOINT obj_create")))
		return e;
	e = obj_insert(s, o);
	if (e)
		store_sq_exec(s, "ROLLBACK TO obj_create");
	store_sq_exec(s, "RELEASE obj_create");
	if (e == EEXIST)
		store_sq_conflict(s, "key");
	return e;
}

int store_sq_obj_get(struct store *st, int kind, uint64_t tenant_id, uint64_t id, struct store_obj *o)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = owner_prep(s, "SELECT " OBJ_COLS " FROM objects WHERE " OWNER " AND id = ?3", kind, tenant_id, &stmt);
	if (e)
		return e;
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)id);
	return store_sq_get_one(s, stmt, obj_fill, o);
}

/* One statement: the version check and the write cannot be split by another writer. */
int store_sq_obj_update(struct store *st, struct store_obj *o)
{
	struct store_sq *s = (struct store_sq *)st;
	int e = obj_checks(o);
	if (e)
		return e;
	sqlite3_stmt *stmt;
	if ((e = owner_prep(s, "UPDATE objects SET ukey = ?4, uscope = ?5, json = ?6, updated_at = ?7,"
			    " version = version + 1 WHERE " OWNER " AND id = ?3 AND version = ?8", o->kind,
			    o->tenant_id, &stmt)))
		return e;
	int64_t now = store_now_ms();
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)o->id);
	bind_key(stmt, 4, o);
	sqlite3_bind_int64(stmt, 5, (sqlite3_int64)o->uscope);
	store_sq_bind_text(stmt, 6, o->json);
	sqlite3_bind_int64(stmt, 7, now);
	sqlite3_bind_int64(stmt, 8, o->version);
	e = store_sq_step_done(s, stmt, true, "object update");
	if (e == EEXIST)
		store_sq_conflict(s, "key");
	if (e == ENOENT) {
		struct store_obj cur = { 0 };
		e = store_sq_obj_get(st, o->kind, o->tenant_id, o->id, &cur);
		store_obj_reset(&cur);
		return e ? e : ESTALE;
	}
	if (!e) {
		o->version++;
		o->updated_at = now;
	}
	return e;
}

int store_sq_obj_delete(struct store *st, int kind, uint64_t tenant_id, uint64_t id)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = owner_prep(s, "DELETE FROM objects WHERE " OWNER " AND id = ?3", kind, tenant_id, &stmt);
	if (e)
		return e;
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)id);
	return store_sq_step_done(s, stmt, true, "object delete");
}

static void objs_destroy(void *data)
{
	struct store_objs *l = data;
	for (size_t i = 0; i < l->n; i++)
		store_obj_reset(&l->v[i]);
	mem_deref(l->v);
}

/* The count first, in the same read transaction as the rows, so the array is
 * allocated once and holds them all. */
static int list_locked(struct store_sq *s, int kind, uint64_t tenant_id, struct store_objs *l)
{
	uint64_t n = 0;
	int e = owner_count(s, kind, tenant_id, &n);
	if (e || !n)
		return e;
	if (!(l->v = mem_zalloc(sizeof(*l->v) * n, NULL)))
		return ENOMEM;
	sqlite3_stmt *stmt;
	if ((e = owner_prep(s, "SELECT " OBJ_COLS " FROM objects WHERE " OWNER " ORDER BY id", kind, tenant_id, &stmt)))
		return e;
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && l->n < n) {
		obj_fill(stmt, &l->v[l->n]);
		if (!l->v[l->n++].json) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	if (rc == SQLITE_NOMEM)
		e = ENOMEM;
	else if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		e = store_sq_err(s, rc, "object list");
	store_sq_release(s, stmt);
	return e;
}

int store_sq_obj_list(struct store *st, int kind, uint64_t tenant_id, struct store_objs **out)
{
	struct store_sq *s = (struct store_sq *)st;
	struct store_objs *l = mem_zalloc(sizeof(*l), objs_destroy);
	if (!l)
		return ENOMEM;
	int e = store_sq_exec(s, "SAVEPOINT obj_list");
	if (!e) {
		e = list_locked(s, kind, tenant_id, l);
		store_sq_exec(s, "RELEASE obj_list");
	}
	if (e) {
		mem_deref(l);
		return e;
	}
	*out = l;
	return 0;
}

int store_sq_obj_scan(struct store *st, int kind, store_scan_h *h, void *arg)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "SELECT " OBJ_COLS " FROM objects WHERE kind = ?1 ORDER BY id", &stmt);
	if (e)
		return e;
	sqlite3_bind_int(stmt, 1, kind);
	struct store_obj row;
	memset(&row, 0, sizeof(row));
	e = store_sq_scan(s, stmt, obj_fill, &row, h, arg);
	store_obj_reset(&row);
	return e;
}
