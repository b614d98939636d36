/* Internals shared by the SQLite backend's files, one per entity:
 *   store_sqlite.c           connection, migrations, statement helpers, the ops table
 *   store_sqlite_admins.c    system admins
 *   store_sqlite_tenants.c   tenants
 *   store_sqlite_users.c     users and their extension
 *   store_sqlite_sessions.c  API sessions
 *   store_sqlite_locations.c registered devices
 *   store_sqlite_cdrs.c      call detail records and users' call logs
 *   store_sqlite_webhooks.c  tenants' webhooks and the outbox of their deliveries
 *   store_sqlite_tenant_settings.c  tenants' office hours and feature access codes
 *   store_sqlite_holidays.c  tenants' and users' holidays
 *   store_sqlite_objects.c   configuration objects (providers, trunk rules, number lists)
 *   store_sqlite_list.c      filtered, paged lists
 * Only src/store includes it. */
#ifndef STORE_STORE_SQLITE_INT_H
#define STORE_STORE_SQLITE_INT_H

#include <sqlite3.h>
#include <stdbool.h>

#include "store/store.h"

/* Prepared statements kept by their SQL text, per connection: a statement is
 * compiled once and reset for the next use (the storage worker runs the same few
 * per registration and per call; compiling them is most of their cost). */
enum { STORE_SQ_CACHE = 64 };
struct store_sq_cached {
	char *sql;
	uint32_t hash;
	sqlite3_stmt *stmt;
	bool busy; /* handed out: a nested use of the same SQL gets its own statement */
};

struct store_sq {
	struct store base; /* first, so a struct store * is a struct store_sq * */
	sqlite3 *db;
	struct store_sq_cached cache[STORE_SQ_CACHE];
	size_t ncache;
};

#define TENANT_COLS "id, name, domain, enabled, max_users, max_calls, created_at, updated_at, version, timezone"
#define USER_COLS "id, tenant_id, username, password_hash, email, display_name, role, enabled," \
		  " ext_number, ext_password, created_at, updated_at, settings, version, cred_gen"

/* --- statements (store_sqlite.c) ------------------------------------------------ */

/* Maps an SQLite result to an errno. A unique constraint gives EEXIST with no
 * field named: the entity's code, which knows its unique keys, names it with
 * store_sq_conflict(). */
int store_sq_err(struct store_sq *s, int rc, const char *what);
/* Names the field behind the last EEXIST ("domain", "username", ...). */
void store_sq_conflict(struct store_sq *s, const char *field);
/* A statement for sql: the connection's cached one (reset, no bindings) when it
 * is free, else a new one. Give it back with store_sq_release(). */
int store_sq_prep(struct store_sq *s, const char *sql, sqlite3_stmt **stmt);
/* Done with a statement of store_sq_prep: a cached one is reset for the next
 * use, any other finalized. */
void store_sq_release(struct store_sq *s, sqlite3_stmt *stmt);
/* Finalizes the cached statements (before the connection closes). */
void store_sq_cache_clear(struct store_sq *s);
/* Steps a statement that returns no rows (or whose rows are ignored) and finalizes
 * it; ENOENT when it was an UPDATE/DELETE that touched nothing and want_change. */
int store_sq_step_done(struct store_sq *s, sqlite3_stmt *stmt, bool want_change, const char *what);
int store_sq_exec(struct store_sq *s, const char *sql);
/* Runs a prepared single-row SELECT and maps the row with fill (ENOENT: none). */
int store_sq_get_one(struct store_sq *s, sqlite3_stmt *stmt, void (*fill)(sqlite3_stmt *, void *), void *out);
/* Prepares sql, binds the key (text, or id when text is NULL) and runs it as
 * store_sq_get_one. With a scope (a tenant id; 0: none) the scope is ?1 and the
 * key ?2, else the key is ?1. */
int store_sq_get_by(struct store_sq *s, const char *sql, uint64_t scope, uint64_t id, const char *text,
		    void (*fill)(sqlite3_stmt *, void *), void *out);
/* Steps a prepared SELECT, mapping each row into row with fill and calling h. */
int store_sq_scan(struct store_sq *s, sqlite3_stmt *stmt, void (*fill)(sqlite3_stmt *, void *), void *row,
		  store_scan_h *h, void *arg);
/* SELECT count(*) ... with one optional id parameter. */
int store_sq_count(struct store_sq *s, const char *sql, uint64_t arg, bool bind, uint64_t *n);
/* Whether 1 when the query (with ?1 bound to a, ?2 to text b, ?3 to c) returns a
 * row, 0 when not, or -1 on error: probes of unique keys. */
int store_sq_exists(struct store_sq *s, const char *sql, uint64_t a, const char *b, uint64_t c);

/* BEGIN IMMEDIATE takes the write lock at once: what a transaction reads cannot
 * change under it before it writes. tx_end commits when e is 0, else rolls back
 * keeping the conflict field, and returns e (or the commit's error). */
int store_sq_tx_begin(struct store_sq *s);
int store_sq_tx_end(struct store_sq *s, int e);

void store_sq_col_text(sqlite3_stmt *stmt, int i, char *dst, size_t sz);
void store_sq_bind_text(sqlite3_stmt *stmt, int i, const char *v);
/* Binds an id, or NULL for 0. */
void store_sq_bind_id(sqlite3_stmt *stmt, int i, uint64_t id);
/* Whether an update moves credentials to a new generation (store.h). */
bool store_sq_cred_change(const char *old_hash, bool was_enabled, const char *new_hash, bool enabled);

/* --- entities: the ops of store_ops, and what entities share ----------------------- */

int store_sq_admin_create(struct store *st, struct store_admin *a);
int store_sq_admin_get(struct store *st, uint64_t id, struct store_admin *a);
int store_sq_admin_get_by_name(struct store *st, const char *username, struct store_admin *a);
int store_sq_admin_update(struct store *st, struct store_admin *a, uint64_t keep_grant);
int store_sq_admin_count(struct store *st, uint64_t *n);

/* Row mappers for TENANT_COLS and USER_COLS (out: struct store_tenant / store_user). */
void store_sq_tenant_fill(sqlite3_stmt *stmt, void *out);
int store_sq_tenant_create(struct store *st, struct store_tenant *t, struct store_user *first_admin);
int store_sq_tenant_get(struct store *st, uint64_t id, struct store_tenant *t);
int store_sq_tenant_get_by_domain(struct store *st, const char *domain, struct store_tenant *t);
int store_sq_tenant_update(struct store *st, struct store_tenant *t);
int store_sq_tenant_delete(struct store *st, uint64_t id);
int store_sq_tenant_list(struct store *st, const struct store_query *q, struct store_tenants **out);
int store_sq_tenant_scan(struct store *st, store_scan_h *h, void *arg);

void store_sq_user_fill(sqlite3_stmt *stmt, void *out);
/* The insert alone, inside a caller's transaction (a tenant's first admin). */
int store_sq_user_insert(struct store_sq *s, struct store_user *u);
int store_sq_user_create(struct store *st, struct store_user *u);
int store_sq_user_get(struct store *st, uint64_t tenant_id, uint64_t id, struct store_user *u);
int store_sq_user_get_by_name(struct store *st, uint64_t tenant_id, const char *username, struct store_user *u);
int store_sq_user_get_by_ext(struct store *st, uint64_t tenant_id, const char *number, struct store_user *u);
int store_sq_user_update(struct store *st, struct store_user *u, uint64_t keep_grant);
int store_sq_user_delete(struct store *st, uint64_t tenant_id, uint64_t id);
int store_sq_user_count(struct store *st, uint64_t tenant_id, uint64_t *n);
int store_sq_user_list(struct store *st, uint64_t tenant_id, const struct store_query *q, struct store_users **out);
int store_sq_user_scan(struct store *st, store_scan_h *h, void *arg);

int store_sq_location_put(struct store *st, const struct store_location *l);
int store_sq_location_delete(struct store *st, uint64_t id);
int store_sq_location_scan(struct store *st, int64_t now_ms, store_scan_h *h, void *arg);

int store_sq_cdr_insert(struct store *st, const struct store_cdr *c);
int store_sq_cdr_list(struct store *st, uint64_t tenant_id, const struct store_cdr_filter *f,
		      struct store_cdrs **out);
int store_sq_cdr_purge(struct store *st, int64_t before);

int store_sq_webhook_create(struct store *st, struct store_webhook *w);
int store_sq_webhook_get(struct store *st, uint64_t tenant_id, uint64_t id, struct store_webhook *w);
int store_sq_webhook_update(struct store *st, struct store_webhook *w);
int store_sq_webhook_delete(struct store *st, uint64_t tenant_id, uint64_t id);
int store_sq_webhook_list(struct store *st, uint64_t tenant_id, struct store_webhooks **out);
int store_sq_outbox_add(struct store *st, uint64_t tenant_id, unsigned event, const char *json, int64_t now_ms,
			uint32_t cap, uint32_t *added, uint32_t *dropped);
int store_sq_outbox_heads(struct store *st, store_scan_h *h, void *arg);
int store_sq_outbox_delete(struct store *st, uint64_t id);
int store_sq_outbox_retry(struct store *st, uint64_t id, int attempts, int64_t next_ms, bool whole_webhook);
int store_sq_outbox_resume(struct store *st, uint64_t webhook_id, int64_t now_ms);
int store_sq_outbox_expire(struct store *st, int64_t before_ms, uint32_t *n);

int store_sq_tenant_settings_get(struct store *st, uint64_t tenant_id, struct store_tenant_settings *s);
int store_sq_tenant_settings_update(struct store *st, struct store_tenant_settings *s);
int store_sq_tenant_settings_scan(struct store *st, store_scan_h *h, void *arg);

int store_sq_holiday_create(struct store *st, struct store_holiday *h);
int store_sq_holiday_get(struct store *st, uint64_t tenant_id, uint64_t user_id, uint64_t id,
			 struct store_holiday *h);
int store_sq_holiday_update(struct store *st, struct store_holiday *h);
int store_sq_holiday_delete(struct store *st, uint64_t tenant_id, uint64_t user_id, uint64_t id);
int store_sq_holiday_list(struct store *st, uint64_t tenant_id, uint64_t user_id, struct store_holidays **out);
int store_sq_holiday_scan(struct store *st, store_scan_h *h, void *arg);
int store_sq_obj_create(struct store *st, struct store_obj *o);
int store_sq_obj_get(struct store *st, int kind, uint64_t tenant_id, uint64_t id, struct store_obj *o);
int store_sq_obj_update(struct store *st, struct store_obj *o);
int store_sq_obj_delete(struct store *st, int kind, uint64_t tenant_id, uint64_t id);
int store_sq_obj_list(struct store *st, int kind, uint64_t tenant_id, struct store_objs **out);
int store_sq_obj_scan(struct store *st, int kind, store_scan_h *h, void *arg);

/* Runs a DELETE/UPDATE/INSERT whose parameters are ?1 a hash (or an id when hash
 * is NULL) and ?2 an integer (when two is not NULL). */
int store_sq_session_write(struct store_sq *s, const char *sql, const uint8_t *hash, uint64_t one,
			   const int64_t *two, bool want_change);
/* Inside the update that moved a principal (`who`: "user_id" or "admin_id") to
 * credential generation gen: its sessions end but those of grant keep and its
 * switched children, which take the new generation. */
int store_sq_sessions_regen(struct store_sq *s, const char *who, uint64_t id, uint64_t keep, int64_t gen);
int store_sq_session_put(struct store *st, const struct store_session *ss);
int store_sq_session_get(struct store *st, const uint8_t hash[32], struct store_session *ss);
int store_sq_session_delete(struct store *st, const uint8_t hash[32]);
int store_sq_session_delete_grant(struct store *st, uint64_t grant_id);
int store_sq_session_delete_user(struct store *st, uint64_t user_id, uint64_t keep_grant);
int store_sq_session_delete_admin(struct store *st, uint64_t admin_id, uint64_t keep_grant);
int store_sq_session_delete_tenant(struct store *st, uint64_t tenant_id);
int store_sq_session_spend(struct store *st, const uint8_t hash[32], int64_t now_ms, struct store_session *old,
			   struct store_session next[2]);
int store_sq_session_purge(struct store *st, int64_t now_ms);

#endif
