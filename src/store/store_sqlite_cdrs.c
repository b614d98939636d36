/* SQLite backend: call detail records. The call engine writes each CDR once,
 * through the storage worker, with the users whose call log shows it
 * (cdr_users); the API lists them per tenant or per user, newest first; a
 * periodic purge keeps the table bounded. The columns are what lists select on;
 * the record itself is the JSON text, kept as given. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/store_sqlite_int.h"

#define CDR_COLS "id, tenant_id, session_id, start_time, answered_time, ended_time, caller, callee," \
		 " direction, status_code, json"
#define CDR_SELECT "c.id, c.tenant_id, c.session_id, c.start_time, c.answered_time, c.ended_time, c.caller," \
		   " c.callee, c.direction, c.status_code, c.json"

/* The CDR row, taken only while its tenant exists, then its call-log rows, taken
 * only for users of that tenant that still exist (a user deleted during the call
 * is no error, and must not come back as a dangling row). */
static int cdr_write(struct store_sq *s, const struct store_cdr *c)
{
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "INSERT INTO cdrs (" CDR_COLS ") SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11"
			      " WHERE EXISTS (SELECT 1 FROM tenants WHERE id = ?2)", &stmt);
	if (e)
		return e;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)c->id);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)c->tenant_id);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)c->session_id);
	sqlite3_bind_int64(stmt, 4, c->start_time);
	sqlite3_bind_int64(stmt, 5, c->answered_time);
	sqlite3_bind_int64(stmt, 6, c->ended_time);
	store_sq_bind_text(stmt, 7, c->caller);
	store_sq_bind_text(stmt, 8, c->callee);
	store_sq_bind_text(stmt, 9, c->direction);
	sqlite3_bind_int(stmt, 10, c->status_code);
	store_sq_bind_text(stmt, 11, c->json);
	if ((e = store_sq_step_done(s, stmt, true, "cdr insert")))
		return e;
	if (c->nusers == 0)
		return 0;
	e = store_sq_prep(s, "INSERT OR IGNORE INTO cdr_users (cdr_id, tenant_id, user_id) SELECT ?1, ?2, ?3"
			  " WHERE EXISTS (SELECT 1 FROM users WHERE id = ?3 AND tenant_id = ?2)", &stmt);
	if (e)
		return e;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)c->id);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)c->tenant_id);
	for (size_t i = 0; i < c->nusers && !e; i++) {
		sqlite3_bind_int64(stmt, 3, (sqlite3_int64)c->users[i]);
		int rc = sqlite3_step(stmt);
		if (rc != SQLITE_DONE)
			e = store_sq_err(s, rc, "cdr user");
		sqlite3_reset(stmt);
	}
	store_sq_release(s, stmt);
	return e;
}

/* A savepoint rather than BEGIN: alone it is the transaction, inside the
 * worker's batch (store_tx_begin) it undoes only this CDR when it fails. */
int store_sq_cdr_insert(struct store *st, const struct store_cdr *c)
{
	struct store_sq *s = (struct store_sq *)st;
	int e = store_sq_exec(s, "SAVEPOINT cdr_insert");
	if (e)
		return e;
	e = cdr_write(s, c);
	if (!e)
		e = store_sq_exec(s, "RELEASE cdr_insert"); /* the commit, when alone */
	if (e)
		store_sq_exec(s, "ROLLBACK TO cdr_insert; RELEASE cdr_insert");
	return e;
}

/* The last column of a list row: the ids of the users whose call log has it,
 * comma-separated. */
static void users_fill(struct store_cdr *c, const char *t)
{
	c->nusers = 0;
	while (t && *t && c->nusers < STORE_CDR_USERS) {
		char *end;
		unsigned long long id = strtoull(t, &end, 10);
		if (end == t)
			break;
		c->users[c->nusers++] = id;
		t = *end == ',' ? end + 1 : end;
	}
}

static void cdr_fill(sqlite3_stmt *stmt, struct store_cdr *c)
{
	c->id = (uint64_t)sqlite3_column_int64(stmt, 0);
	c->tenant_id = (uint64_t)sqlite3_column_int64(stmt, 1);
	c->session_id = (uint64_t)sqlite3_column_int64(stmt, 2);
	c->start_time = sqlite3_column_int64(stmt, 3);
	c->answered_time = sqlite3_column_int64(stmt, 4);
	c->ended_time = sqlite3_column_int64(stmt, 5);
	store_sq_col_text(stmt, 6, c->caller, sizeof(c->caller));
	store_sq_col_text(stmt, 7, c->callee, sizeof(c->callee));
	store_sq_col_text(stmt, 8, c->direction, sizeof(c->direction));
	c->status_code = sqlite3_column_int(stmt, 9);
	const char *t = (const char *)sqlite3_column_text(stmt, 10);
	c->json = mem_strndup(t ? t : "{}", t ? (size_t)sqlite3_column_bytes(stmt, 10) : 2);
	users_fill(c, (const char *)sqlite3_column_text(stmt, 11));
}

static void cdrs_destroy(void *data)
{
	struct store_cdrs *l = data;
	for (size_t i = 0; i < l->n; i++)
		mem_deref(l->v[i].json);
	mem_deref(l->v);
}

/* The FROM and WHERE clauses of a filter: only the conditions given, so that
 * SQLite picks the index that serves them. A user's call log is read from the
 * user's rows outward (CROSS JOIN fixes that order): a user's calls are a small
 * part of a tenant's. The parameters are numbered: ?1 tenant, ?2 from, ?3 to,
 * ?4 caller, ?5 callee, ?6 direction, ?7 user; binding one that the text does not
 * use is harmless. */
static void from_where(const struct store_cdr_filter *f, char *w, size_t size)
{
	snprintf(w, size, " FROM %s WHERE c.tenant_id = ?1%s%s%s%s%s",
		 f->user_id ? "cdr_users u CROSS JOIN cdrs c ON c.id = u.cdr_id"
			      " AND u.user_id = ?7 AND u.tenant_id = ?1" : "cdrs c",
		 f->from ? " AND c.start_time >= ?2" : "", f->to ? " AND c.start_time < ?3" : "",
		 f->caller[0] ? " AND c.caller = ?4" : "", f->callee[0] ? " AND c.callee = ?5" : "",
		 f->direction[0] ? " AND c.direction = ?6" : "");
}

static int filter_prep(struct store_sq *s, const char *sql, uint64_t tenant_id, const struct store_cdr_filter *f,
		       sqlite3_stmt **stmt)
{
	int e = store_sq_prep(s, sql, stmt);
	if (e)
		return e;
	sqlite3_bind_int64(*stmt, 1, (sqlite3_int64)tenant_id);
	sqlite3_bind_int64(*stmt, 2, f->from);
	sqlite3_bind_int64(*stmt, 3, f->to);
	store_sq_bind_text(*stmt, 4, f->caller);
	store_sq_bind_text(*stmt, 5, f->callee);
	store_sq_bind_text(*stmt, 6, f->direction);
	sqlite3_bind_int64(*stmt, 7, (sqlite3_int64)f->user_id);
	return 0;
}

static int cdr_page(struct store_sq *s, const char *where, uint64_t tenant_id, const struct store_cdr_filter *f,
		    struct store_cdrs *l)
{
	char sql[1024];
	sqlite3_stmt *stmt;
	snprintf(sql, sizeof(sql), "SELECT count(*)%s", where);
	int e = filter_prep(s, sql, tenant_id, f, &stmt);
	if (e)
		return e;
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		l->count = (uint64_t)sqlite3_column_int64(stmt, 0);
	else
		e = store_sq_err(s, rc, "cdr count");
	store_sq_release(s, stmt);
	if (e || l->count <= f->skip)
		return e;
	snprintf(sql, sizeof(sql), "SELECT " CDR_SELECT ", (SELECT group_concat(l.user_id) FROM cdr_users l"
		 " WHERE l.cdr_id = c.id)%s ORDER BY c.start_time DESC, c.id DESC LIMIT ?8 OFFSET ?9",
		 where);
	if ((e = filter_prep(s, sql, tenant_id, f, &stmt)))
		return e;
	sqlite3_bind_int(stmt, 8, (int)f->top);
	sqlite3_bind_int64(stmt, 9, f->skip);
	if (!(l->v = mem_zalloc(sizeof(*l->v) * f->top, NULL)))
		e = ENOMEM;
	while (!e && (rc = sqlite3_step(stmt)) == SQLITE_ROW && l->n < f->top) {
		struct store_cdr *c = &l->v[l->n++];
		cdr_fill(stmt, c);
		if (!c->json)
			e = ENOMEM;
	}
	if (!e && rc != SQLITE_DONE && rc != SQLITE_ROW)
		e = store_sq_err(s, rc, "cdr list");
	store_sq_release(s, stmt);
	return e;
}

int store_sq_cdr_list(struct store *st, uint64_t tenant_id, const struct store_cdr_filter *f,
		      struct store_cdrs **out)
{
	if (f->top < 1 || f->top > STORE_PAGE_MAX)
		return EINVAL;
	struct store_cdrs *l = mem_zalloc(sizeof(*l), cdrs_destroy);
	if (!l)
		return ENOMEM;
	char where[512];
	from_where(f, where, sizeof(where));
	int e = cdr_page((struct store_sq *)st, where, tenant_id, f, l);
	if (e) {
		mem_deref(l);
		return e;
	}
	*out = l;
	return 0;
}

/* Deleted a chunk at a time, each chunk its own transaction (when not inside a
 * caller's): a purge of months of CDRs never holds the write lock for long. */
#define CDR_PURGE_CHUNK 1000

int store_sq_cdr_purge(struct store *st, int64_t before)
{
	struct store_sq *s = (struct store_sq *)st;
	int changed;
	do {
		sqlite3_stmt *stmt;
		int e = store_sq_prep(s, "DELETE FROM cdrs WHERE id IN (SELECT id FROM cdrs WHERE start_time < ?1"
				      " LIMIT ?2)", &stmt);
		if (e)
			return e;
		sqlite3_bind_int64(stmt, 1, before);
		sqlite3_bind_int(stmt, 2, CDR_PURGE_CHUNK);
		if ((e = store_sq_step_done(s, stmt, false, "cdr purge")))
			return e;
		changed = sqlite3_changes(s->db);
	} while (changed == CDR_PURGE_CHUNK);
	return 0;
}
