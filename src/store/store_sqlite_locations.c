/* SQLite backend: registered devices (the location service's bindings), written
 * by the storage worker in batches and read back once at start. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/store_sqlite_int.h"

#define LOC_COLS "id, tenant_id, user_id, contact, instance, reg_id, q, path, transport, address, port," \
		 " local_address, local_port, user_agent, call_id, cseq, expires_at, created_at, updated_at"

static void loc_fill(sqlite3_stmt *stmt, void *out)
{
	struct store_location *l = out;
	l->id = (uint64_t)sqlite3_column_int64(stmt, 0);
	l->tenant_id = (uint64_t)sqlite3_column_int64(stmt, 1);
	l->user_id = (uint64_t)sqlite3_column_int64(stmt, 2);
	store_sq_col_text(stmt, 3, l->contact, sizeof(l->contact));
	store_sq_col_text(stmt, 4, l->instance, sizeof(l->instance));
	l->reg_id = (uint32_t)sqlite3_column_int64(stmt, 5);
	l->q = sqlite3_column_int(stmt, 6);
	store_sq_col_text(stmt, 7, l->path, sizeof(l->path));
	store_sq_col_text(stmt, 8, l->transport, sizeof(l->transport));
	store_sq_col_text(stmt, 9, l->address, sizeof(l->address));
	l->port = (uint16_t)sqlite3_column_int(stmt, 10);
	store_sq_col_text(stmt, 11, l->local_address, sizeof(l->local_address));
	l->local_port = (uint16_t)sqlite3_column_int(stmt, 12);
	store_sq_col_text(stmt, 13, l->user_agent, sizeof(l->user_agent));
	store_sq_col_text(stmt, 14, l->call_id, sizeof(l->call_id));
	l->cseq = (uint32_t)sqlite3_column_int64(stmt, 15);
	l->expires_at = sqlite3_column_int64(stmt, 16);
	l->created_at = sqlite3_column_int64(stmt, 17);
	l->updated_at = sqlite3_column_int64(stmt, 18);
}

/* The user may have been deleted since the signalling thread saw it: the insert
 * takes the row only while its user exists (no foreign-key error for a race that
 * is normal), so a deleted user's binding is not brought back. */
int store_sq_location_put(struct store *st, const struct store_location *l)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "INSERT OR REPLACE INTO locations (" LOC_COLS ") SELECT ?1, ?2, ?3, ?4, ?5, ?6,"
			      " ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19"
			      " WHERE EXISTS (SELECT 1 FROM users WHERE id = ?3 AND tenant_id = ?2)", &stmt);
	if (e)
		return e;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)l->id);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)l->tenant_id);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)l->user_id);
	store_sq_bind_text(stmt, 4, l->contact);
	store_sq_bind_text(stmt, 5, l->instance);
	sqlite3_bind_int64(stmt, 6, l->reg_id);
	sqlite3_bind_int(stmt, 7, l->q);
	store_sq_bind_text(stmt, 8, l->path);
	store_sq_bind_text(stmt, 9, l->transport);
	store_sq_bind_text(stmt, 10, l->address);
	sqlite3_bind_int(stmt, 11, l->port);
	store_sq_bind_text(stmt, 12, l->local_address);
	sqlite3_bind_int(stmt, 13, l->local_port);
	store_sq_bind_text(stmt, 14, l->user_agent);
	store_sq_bind_text(stmt, 15, l->call_id);
	sqlite3_bind_int64(stmt, 16, l->cseq);
	sqlite3_bind_int64(stmt, 17, l->expires_at);
	sqlite3_bind_int64(stmt, 18, l->created_at);
	sqlite3_bind_int64(stmt, 19, l->updated_at);
	return store_sq_step_done(s, stmt, false, "location put");
}

int store_sq_location_delete(struct store *st, uint64_t id)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "DELETE FROM locations WHERE id = ?", &stmt);
	if (e)
		return e;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)id);
	return store_sq_step_done(s, stmt, false, "location delete");
}

int store_sq_location_scan(struct store *st, int64_t now_ms, store_scan_h *h, void *arg)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "DELETE FROM locations WHERE expires_at <= ?", &stmt);
	if (e)
		return e;
	sqlite3_bind_int64(stmt, 1, now_ms);
	if ((e = store_sq_step_done(s, stmt, false, "location expire")))
		return e;
	if ((e = store_sq_prep(s, "SELECT " LOC_COLS " FROM locations ORDER BY user_id, id", &stmt)))
		return e;
	struct store_location l;
	return store_sq_scan(s, stmt, loc_fill, &l, h, arg);
}
