/* SQLite backend: a tenant's office hours and feature access code overrides,
 * one row per tenant in tenant_settings, written the first time the tenant sets
 * either. Until then the tenant reads as having none (version 0): a versioned
 * update of version 0 is the insert, and a second writer's insert of that
 * version loses as any stale update does. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/store_sqlite_int.h"

#define SETTINGS_COLS "tenant_id, office_hours, feature_codes, updated_at, version"

static void settings_fill(sqlite3_stmt *stmt, void *out)
{
	struct store_tenant_settings *s = out;
	s->tenant_id = (uint64_t)sqlite3_column_int64(stmt, 0);
	store_sq_col_text(stmt, 1, s->office_hours, sizeof(s->office_hours));
	store_sq_col_text(stmt, 2, s->feature_codes, sizeof(s->feature_codes));
	s->updated_at = sqlite3_column_int64(stmt, 3);
	s->version = sqlite3_column_int64(stmt, 4);
}

int store_sq_tenant_settings_get(struct store *st, uint64_t tenant_id, struct store_tenant_settings *s)
{
	/* The tenant's row decides whether it exists; the settings row may not. */
	return store_sq_get_by((struct store_sq *)st,
			       "SELECT t.id, coalesce(s.office_hours, ''), coalesce(s.feature_codes, ''),"
			       " coalesce(s.updated_at, 0), coalesce(s.version, 0) FROM tenants t"
			       " LEFT JOIN tenant_settings s ON s.tenant_id = t.id WHERE t.id = ?",
			       0, tenant_id, NULL, settings_fill, s);
}

/* One statement each way: the version check and the write cannot be split by
 * another writer. */
static int settings_write(struct store_sq *s, const struct store_tenant_settings *ts, int64_t now)
{
	sqlite3_stmt *stmt;
	const char *sql = ts->version == 0
		? "INSERT INTO tenant_settings (tenant_id, office_hours, feature_codes, updated_at, version)"
		  " SELECT ?1, ?2, ?3, ?4, 1 WHERE EXISTS (SELECT 1 FROM tenants WHERE id = ?1)"
		: "UPDATE tenant_settings SET office_hours = ?2, feature_codes = ?3, updated_at = ?4,"
		  " version = version + 1 WHERE tenant_id = ?1 AND version = ?5";
	int e = store_sq_prep(s, sql, &stmt);
	if (e)
		return e;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)ts->tenant_id);
	store_sq_bind_text(stmt, 2, ts->office_hours);
	store_sq_bind_text(stmt, 3, ts->feature_codes);
	sqlite3_bind_int64(stmt, 4, now);
	if (ts->version)
		sqlite3_bind_int64(stmt, 5, ts->version);
	e = store_sq_step_done(s, stmt, true, "tenant settings write");
	if (e == EEXIST)
		return ESTALE; /* inserted meanwhile by another writer */
	if (e == ENOENT && ts->version) {
		int there = store_sq_exists(s, "SELECT 1 FROM tenant_settings WHERE tenant_id = ?1", ts->tenant_id,
					    NULL, 0);
		return there < 0 ? EIO : there ? ESTALE : ENOENT;
	}
	return e; /* ENOENT from the insert: no such tenant */
}

int store_sq_tenant_settings_update(struct store *st, struct store_tenant_settings *ts)
{
	struct store_sq *s = (struct store_sq *)st;
	int64_t now = store_now_ms();
	int e = settings_write(s, ts, now);
	if (!e) {
		ts->version++;
		ts->updated_at = now;
	}
	return e;
}

int store_sq_tenant_settings_scan(struct store *st, store_scan_h *h, void *arg)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "SELECT " SETTINGS_COLS " FROM tenant_settings ORDER BY tenant_id", &stmt);
	struct store_tenant_settings row;
	memset(&row, 0, sizeof(row));
	return e ? e : store_sq_scan(s, stmt, settings_fill, &row, h, arg);
}
