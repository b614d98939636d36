/* SQLite backend: API sessions (token hashes), spending refresh tokens once, and
 * ending a principal's sessions when its credentials change. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "store/store_sqlite_int.h"

/* --- sessions ---------------------------------------------------------------------------- */

#define SESSION_COLS \
	"token_hash, grant_id, kind, admin_id, user_id, tenant_id, expires_at, created_at, parent_grant, cred_gen"

static void session_fill(sqlite3_stmt *stmt, void *out)
{
	struct store_session *ss = out;
	const void *h = sqlite3_column_blob(stmt, 0);
	if (h && sqlite3_column_bytes(stmt, 0) == 32)
		memcpy(ss->hash, h, 32);
	ss->grant_id = (uint64_t)sqlite3_column_int64(stmt, 1);
	const unsigned char *k = sqlite3_column_text(stmt, 2);
	ss->kind = k && strcmp((const char *)k, "refresh") == 0 ? STORE_SESSION_REFRESH : STORE_SESSION_ACCESS;
	ss->admin_id = (uint64_t)sqlite3_column_int64(stmt, 3);
	ss->user_id = (uint64_t)sqlite3_column_int64(stmt, 4);
	ss->tenant_id = (uint64_t)sqlite3_column_int64(stmt, 5);
	ss->expires_at = sqlite3_column_int64(stmt, 6);
	ss->created_at = sqlite3_column_int64(stmt, 7);
	ss->parent_grant = (uint64_t)sqlite3_column_int64(stmt, 8);
	ss->cred_gen = sqlite3_column_int64(stmt, 9);
}

static int session_insert(struct store_sq *s, const struct store_session *ss)
{
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "INSERT INTO sessions (" SESSION_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", &stmt);
	if (e)
		return e;
	sqlite3_bind_blob(stmt, 1, ss->hash, 32, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)ss->grant_id);
	store_sq_bind_text(stmt, 3, ss->kind == STORE_SESSION_REFRESH ? "refresh" : "access");
	store_sq_bind_id(stmt, 4, ss->admin_id);
	store_sq_bind_id(stmt, 5, ss->user_id);
	store_sq_bind_id(stmt, 6, ss->tenant_id);
	sqlite3_bind_int64(stmt, 7, ss->expires_at);
	sqlite3_bind_int64(stmt, 8, ss->created_at ? ss->created_at : store_now_ms());
	store_sq_bind_id(stmt, 9, ss->parent_grant);
	sqlite3_bind_int64(stmt, 10, ss->cred_gen);
	return store_sq_step_done(s, stmt, false, "session put");
}

int store_sq_session_put(struct store *st, const struct store_session *ss)
{
	return session_insert((struct store_sq *)st, ss);
}

int store_sq_session_get(struct store *st, const uint8_t hash[32], struct store_session *ss)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "SELECT " SESSION_COLS " FROM sessions WHERE token_hash = ?", &stmt);
	if (e)
		return e;
	sqlite3_bind_blob(stmt, 1, hash, 32, SQLITE_STATIC);
	return store_sq_get_one(s, stmt, session_fill, ss);
}

/* Runs a DELETE or INSERT whose parameters are ?1 a hash or an id, ?2 an id or
 * integer (when two != NULL). */
int store_sq_session_write(struct store_sq *s, const char *sql, const uint8_t *hash, uint64_t one,
			 const int64_t *two, bool want_change)
{
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, sql, &stmt);
	if (e)
		return e;
	if (hash)
		sqlite3_bind_blob(stmt, 1, hash, 32, SQLITE_STATIC);
	else
		sqlite3_bind_int64(stmt, 1, (sqlite3_int64)one);
	if (two)
		sqlite3_bind_int64(stmt, 2, *two);
	return store_sq_step_done(s, stmt, want_change, "session write");
}

/* Inside the update that moved a principal to credential generation gen: its
 * sessions end but those of grant keep (and its switched children), which take
 * the new generation. `who` is "user_id" or "admin_id". */
int store_sq_sessions_regen(struct store_sq *s, const char *who, uint64_t id, uint64_t keep, int64_t gen)
{
	char sql[256];
	int64_t k = (int64_t)keep;
	snprintf(sql, sizeof(sql), "DELETE FROM sessions WHERE %s = ?1 AND grant_id <> ?2"
		 " AND (parent_grant IS NULL OR parent_grant <> ?2)", who);
	int e = store_sq_session_write(s, sql, NULL, id, &k, false);
	if (e || !keep)
		return e;
	sqlite3_stmt *stmt;
	snprintf(sql, sizeof(sql), "UPDATE sessions SET cred_gen = ?3 WHERE %s = ?1"
		 " AND (grant_id = ?2 OR parent_grant = ?2)", who);
	if ((e = store_sq_prep(s, sql, &stmt)))
		return e;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)id);
	sqlite3_bind_int64(stmt, 2, k);
	sqlite3_bind_int64(stmt, 3, gen);
	return store_sq_step_done(s, stmt, false, "session regen");
}

int store_sq_session_delete(struct store *st, const uint8_t hash[32])
{
	return store_sq_session_write((struct store_sq *)st, "DELETE FROM sessions WHERE token_hash = ?", hash, 0, NULL, true);
}

static const char sql_delete_grant[] = "DELETE FROM sessions WHERE grant_id = ?1 OR parent_grant = ?1";

int store_sq_session_delete_grant(struct store *st, uint64_t grant_id)
{
	return store_sq_session_write((struct store_sq *)st, sql_delete_grant, NULL, grant_id, NULL, false);
}

/* Keeps rows of grant ?2 and of the grants switched from it. */
#define KEEP_GRANT " AND grant_id <> ?2 AND (parent_grant IS NULL OR parent_grant <> ?2)"

int store_sq_session_delete_user(struct store *st, uint64_t user_id, uint64_t keep_grant)
{
	int64_t keep = (int64_t)keep_grant;
	return store_sq_session_write((struct store_sq *)st, "DELETE FROM sessions WHERE user_id = ?1" KEEP_GRANT, NULL,
			     user_id, &keep, false);
}

int store_sq_session_delete_admin(struct store *st, uint64_t admin_id, uint64_t keep_grant)
{
	int64_t keep = (int64_t)keep_grant;
	return store_sq_session_write((struct store_sq *)st, "DELETE FROM sessions WHERE admin_id = ?1" KEEP_GRANT, NULL,
			     admin_id, &keep, false);
}

int store_sq_session_delete_tenant(struct store *st, uint64_t tenant_id)
{
	return store_sq_session_write((struct store_sq *)st, "DELETE FROM sessions WHERE tenant_id = ?", NULL, tenant_id,
			     NULL, false);
}

/* Inside the spend transaction: the token was not live. If it was spent before,
 * this is a replay (the token was stolen, or its rotation raced): the grant ends. */
static int spend_replayed(struct store_sq *s, const uint8_t hash[32])
{
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "SELECT grant_id FROM spent_tokens WHERE token_hash = ?", &stmt);
	if (e)
		return e;
	sqlite3_bind_blob(stmt, 1, hash, 32, SQLITE_STATIC);
	int rc = sqlite3_step(stmt);
	uint64_t grant = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(stmt, 0) : 0;
	e = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_sq_err(s, rc, "spent token");
	store_sq_release(s, stmt);
	if (e || !grant)
		return e ? e : ENOENT;
	e = store_sq_session_write(s, sql_delete_grant, NULL, grant, NULL, false);
	return e ? e : EALREADY;
}

/* The spend proper, inside the transaction: the DELETE that removes the live
 * row is the gate; the row was read just before it under the same write lock. */
static int spend_locked(struct store_sq *s, const uint8_t hash[32], int64_t now_ms, struct store_session *old,
			struct store_session next[2])
{
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "SELECT " SESSION_COLS " FROM sessions WHERE token_hash = ?", &stmt);
	if (e)
		return e;
	sqlite3_bind_blob(stmt, 1, hash, 32, SQLITE_STATIC);
	e = store_sq_get_one(s, stmt, session_fill, old);
	if (e && e != ENOENT)
		return e;
	e = store_sq_session_write(s, "DELETE FROM sessions WHERE token_hash = ?1 AND kind = 'refresh' AND expires_at > ?2",
			  hash, 0, &now_ms, false);
	if (e)
		return e;
	if (sqlite3_changes(s->db) != 1)
		return spend_replayed(s, hash);
	sqlite3_stmt *ins;
	if ((e = store_sq_prep(s, "INSERT INTO spent_tokens (token_hash, grant_id, expires_at) VALUES (?, ?, ?)",
			       &ins)))
		return e;
	sqlite3_bind_blob(ins, 1, hash, 32, SQLITE_STATIC);
	sqlite3_bind_int64(ins, 2, (sqlite3_int64)old->grant_id);
	sqlite3_bind_int64(ins, 3, old->expires_at);
	e = store_sq_step_done(s, ins, false, "spent token");
	for (int i = 0; !e && i < 2; i++) {
		next[i].grant_id = old->grant_id;
		next[i].parent_grant = old->parent_grant;
		next[i].admin_id = old->admin_id;
		next[i].user_id = old->user_id;
		next[i].tenant_id = old->tenant_id;
		next[i].cred_gen = old->cred_gen;
		e = session_insert(s, &next[i]);
	}
	return e;
}

int store_sq_session_spend(struct store *st, const uint8_t hash[32], int64_t now_ms, struct store_session *old,
			    struct store_session next[2])
{
	struct store_sq *s = (struct store_sq *)st;
	/* IMMEDIATE: concurrent spends of one token, on any connection, queue here. */
	int e = store_sq_exec(s, "BEGIN IMMEDIATE");
	if (e)
		return e;
	e = spend_locked(s, hash, now_ms, old, next);
	if (e && e != EALREADY) {
		store_sq_exec(s, "ROLLBACK");
		return e;
	}
	int c = store_sq_exec(s, "COMMIT");
	return c ? c : e;
}

int store_sq_session_purge(struct store *st, int64_t now_ms)
{
	struct store_sq *s = (struct store_sq *)st;
	int e = store_sq_session_write(s, "DELETE FROM sessions WHERE expires_at <= ?", NULL, (uint64_t)now_ms, NULL, false);
	if (!e)
		e = store_sq_session_write(s, "DELETE FROM spent_tokens WHERE expires_at <= ?", NULL, (uint64_t)now_ms, NULL,
				  false);
	return e;
}
