/* SQLite backend of the store: one connection per struct store, WAL mode so that
 * the HTTP threads read while the storage worker writes, and versioned migrations. */
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mbuf.h"
#include "core/mem.h"
#include "store/store_backend.h"
#include "store/store_sqlite_int.h"

/* Each migration moves the schema one version up; they are applied in order inside
 * one transaction at open. Never edit a released migration: append a new one. */
static const char *const migrations[] = {
	/* 1: system admins, tenants, users with their extension, API sessions */
	"CREATE TABLE admins ("
	"  id INTEGER PRIMARY KEY,"
	"  username TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	"  password_hash TEXT NOT NULL,"
	"  enabled INTEGER NOT NULL DEFAULT 1,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE TABLE tenants ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  domain TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	"  enabled INTEGER NOT NULL DEFAULT 1,"
	"  max_users INTEGER NOT NULL DEFAULT 0,"
	"  max_calls INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE TABLE users ("
	"  id INTEGER PRIMARY KEY,"
	"  tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  username TEXT NOT NULL COLLATE NOCASE,"
	"  password_hash TEXT NOT NULL,"
	"  email TEXT NOT NULL,"
	"  display_name TEXT NOT NULL DEFAULT '',"
	"  role TEXT NOT NULL CHECK (role IN ('admin', 'user')),"
	"  enabled INTEGER NOT NULL DEFAULT 1,"
	"  ext_number TEXT NOT NULL,"
	"  ext_password TEXT NOT NULL,"
	"  settings TEXT NOT NULL DEFAULT '{}',"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  UNIQUE (tenant_id, username),"
	"  UNIQUE (tenant_id, ext_number));"
	"CREATE TABLE sessions ("
	"  token_hash BLOB PRIMARY KEY,"
	"  grant_id INTEGER NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),"
	"  admin_id INTEGER REFERENCES admins(id) ON DELETE CASCADE,"
	"  user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,"
	"  tenant_id INTEGER REFERENCES tenants(id) ON DELETE CASCADE,"
	"  expires_at INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL);"
	"CREATE INDEX sessions_grant ON sessions(grant_id);"
	"CREATE INDEX sessions_expires ON sessions(expires_at);"
	"CREATE INDEX users_tenant ON users(tenant_id);",
	/* 2: a switched session's parent grant; spent refresh tokens (a replay ends
	 * the grant); indexes to end a principal's sessions */
	"ALTER TABLE sessions ADD COLUMN parent_grant INTEGER;"
	"CREATE INDEX sessions_parent ON sessions(parent_grant) WHERE parent_grant IS NOT NULL;"
	"CREATE INDEX sessions_user ON sessions(user_id) WHERE user_id IS NOT NULL;"
	"CREATE INDEX sessions_admin ON sessions(admin_id) WHERE admin_id IS NOT NULL;"
	"CREATE INDEX sessions_tenant ON sessions(tenant_id) WHERE tenant_id IS NOT NULL;"
	"CREATE TABLE spent_tokens ("
	"  token_hash BLOB PRIMARY KEY,"
	"  grant_id INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL);"
	"CREATE INDEX spent_tokens_expires ON spent_tokens(expires_at);",
	/* 3: row versions (updates check what they read) and credential generations
	 * (a session dies when its principal's password changes or it is disabled) */
	"ALTER TABLE admins ADD COLUMN version INTEGER NOT NULL DEFAULT 1;"
	"ALTER TABLE admins ADD COLUMN cred_gen INTEGER NOT NULL DEFAULT 1;"
	"ALTER TABLE tenants ADD COLUMN version INTEGER NOT NULL DEFAULT 1;"
	"ALTER TABLE users ADD COLUMN version INTEGER NOT NULL DEFAULT 1;"
	"ALTER TABLE users ADD COLUMN cred_gen INTEGER NOT NULL DEFAULT 1;"
	"ALTER TABLE sessions ADD COLUMN cred_gen INTEGER NOT NULL DEFAULT 1;",
	/* 4: registered devices (the location service's bindings), kept across restarts */
	"CREATE TABLE locations ("
	"  id INTEGER PRIMARY KEY,"
	"  tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  contact TEXT NOT NULL,"
	"  instance TEXT NOT NULL DEFAULT '',"
	"  reg_id INTEGER NOT NULL DEFAULT 0,"
	"  q INTEGER NOT NULL DEFAULT -1,"
	"  path TEXT NOT NULL DEFAULT '',"
	"  transport TEXT NOT NULL,"
	"  address TEXT NOT NULL,"
	"  port INTEGER NOT NULL,"
	"  local_address TEXT NOT NULL DEFAULT '',"
	"  local_port INTEGER NOT NULL DEFAULT 0,"
	"  user_agent TEXT NOT NULL DEFAULT '',"
	"  call_id TEXT NOT NULL,"
	"  cseq INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE INDEX locations_user ON locations(user_id);"
	"CREATE INDEX locations_expires ON locations(expires_at);",
	/* 5: call detail records, and the call logs of users they appear in (a
	 * log's rows go with their CDR, hence with its tenant, or with their user) */
	"CREATE TABLE cdrs ("
	"  id INTEGER PRIMARY KEY,"
	"  tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  session_id INTEGER NOT NULL,"
	"  start_time INTEGER NOT NULL,"
	"  answered_time INTEGER NOT NULL DEFAULT 0,"
	"  ended_time INTEGER NOT NULL,"
	"  caller TEXT NOT NULL,"
	"  callee TEXT NOT NULL,"
	"  direction TEXT NOT NULL CHECK (direction IN ('ext', 'in', 'out', 'in2out')),"
	"  status_code INTEGER NOT NULL DEFAULT 0,"
	"  json TEXT NOT NULL CHECK (json_valid(json)));"
	"CREATE INDEX cdrs_tenant_start ON cdrs(tenant_id, start_time);"
	"CREATE INDEX cdrs_start ON cdrs(start_time);"
	"CREATE TABLE cdr_users ("
	"  cdr_id INTEGER NOT NULL REFERENCES cdrs(id) ON DELETE CASCADE,"
	"  tenant_id INTEGER NOT NULL,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  PRIMARY KEY (user_id, cdr_id)) WITHOUT ROWID;"
	"CREATE INDEX cdr_users_cdr ON cdr_users(cdr_id);",
	/* 6: tenants' webhooks, and the outbox of their deliveries (an event per
	 * webhook until the receiver takes it; AUTOINCREMENT: a delivery id is never
	 * reused) */
	"CREATE TABLE webhooks ("
	"  id INTEGER PRIMARY KEY,"
	"  tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL DEFAULT '',"
	"  url TEXT NOT NULL,"
	"  enabled INTEGER NOT NULL DEFAULT 1,"
	"  events INTEGER NOT NULL,"
	"  auth TEXT NOT NULL CHECK (auth IN ('none', 'basic', 'bearer', 'hmac')),"
	"  username TEXT NOT NULL DEFAULT '',"
	"  secret TEXT NOT NULL DEFAULT '',"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  version INTEGER NOT NULL DEFAULT 1);"
	"CREATE INDEX webhooks_tenant ON webhooks(tenant_id);"
	"CREATE TABLE webhook_outbox ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  webhook_id INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,"
	"  tenant_id INTEGER NOT NULL,"
	"  event INTEGER NOT NULL,"
	"  json TEXT NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL,"
	"  next_attempt_at INTEGER NOT NULL);"
	"CREATE INDEX webhook_outbox_next ON webhook_outbox(webhook_id, next_attempt_at, id);"
	"CREATE INDEX webhook_outbox_tenant ON webhook_outbox(tenant_id, id);"
	"CREATE INDEX webhook_outbox_created ON webhook_outbox(created_at);",
	/* 7: office hours and holidays (issue 13): a tenant's time zone; its office
	 * hours and feature access code overrides (JSON, one row once written); the
	 * holidays of a tenant (user_id NULL) and of its users */
	"ALTER TABLE tenants ADD COLUMN timezone TEXT NOT NULL DEFAULT '';"
	"CREATE TABLE tenant_settings ("
	"  tenant_id INTEGER PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,"
	"  office_hours TEXT NOT NULL DEFAULT '',"
	"  feature_codes TEXT NOT NULL DEFAULT '{}',"
	"  updated_at INTEGER NOT NULL,"
	"  version INTEGER NOT NULL DEFAULT 1);"
	"CREATE TABLE holidays ("
	"  id INTEGER PRIMARY KEY,"
	"  tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL DEFAULT '',"
	"  json TEXT NOT NULL CHECK (json_valid(json)),"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  version INTEGER NOT NULL DEFAULT 1);"
	"CREATE INDEX holidays_owner ON holidays(tenant_id, user_id);"
	"CREATE INDEX holidays_user ON holidays(user_id) WHERE user_id IS NOT NULL;",
	/* 8: configuration objects (issue 15): JSON by kind and owner (tenant_id
	 * NULL: the system's), with an optional key unique per kind and scope */
	"CREATE TABLE objects ("
	"  id INTEGER PRIMARY KEY,"
	"  kind INTEGER NOT NULL,"
	"  tenant_id INTEGER REFERENCES tenants(id) ON DELETE CASCADE,"
	"  ukey TEXT,"
	"  uscope INTEGER NOT NULL DEFAULT 0,"
	"  json TEXT NOT NULL CHECK (json_valid(json)),"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  version INTEGER NOT NULL DEFAULT 1);"
	"CREATE INDEX objects_owner ON objects(kind, tenant_id);"
	"CREATE UNIQUE INDEX objects_key ON objects(kind, uscope, ukey) WHERE ukey IS NOT NULL;",
};
#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

static const struct store_ops sq_ops;

int store_sq_err(struct store_sq *s, int rc, const char *what)
{
	s->base.conflict[0] = '\0';
	if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	int ext = sqlite3_extended_errcode(s->db);
	if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
		return EEXIST;
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return EINVAL;
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		return EBUSY;
	log_error("store: %s: %s", what, sqlite3_errmsg(s->db));
	return EIO;
}

void store_sq_conflict(struct store_sq *s, const char *field)
{
	snprintf(s->base.conflict, sizeof(s->base.conflict), "%s", field);
}

int store_sq_exists(struct store_sq *s, const char *sql, uint64_t a, const char *b, uint64_t c)
{
	sqlite3_stmt *stmt;
	if (store_sq_prep(s, sql, &stmt))
		return -1;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)a);
	store_sq_bind_text(stmt, 2, b);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)c);
	int rc = sqlite3_step(stmt);
	store_sq_release(s, stmt);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static uint32_t sql_hash(const char *sql)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)sql; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

int store_sq_prep(struct store_sq *s, const char *sql, sqlite3_stmt **stmt)
{
	uint32_t h = sql_hash(sql);
	bool known = false;
	for (size_t i = 0; i < s->ncache; i++) {
		struct store_sq_cached *c = &s->cache[i];
		if (c->hash != h || strcmp(c->sql, sql) != 0)
			continue;
		known = true;
		if (!c->busy) {
			c->busy = true;
			*stmt = c->stmt;
			return 0;
		}
	}
	int rc = sqlite3_prepare_v2(s->db, sql, -1, stmt, NULL);
	if (rc != SQLITE_OK)
		return store_sq_err(s, rc, sql);
	/* Kept when there is room and it is not a second copy of one in use. */
	char *copy = !known && s->ncache < STORE_SQ_CACHE ? strdup(sql) : NULL;
	if (copy)
		s->cache[s->ncache++] = (struct store_sq_cached){ copy, h, *stmt, true };
	return 0;
}

void store_sq_release(struct store_sq *s, sqlite3_stmt *stmt)
{
	if (!stmt)
		return;
	for (size_t i = 0; i < s->ncache; i++) {
		if (s->cache[i].stmt == stmt) {
			sqlite3_reset(stmt);
			sqlite3_clear_bindings(stmt);
			s->cache[i].busy = false;
			return;
		}
	}
	sqlite3_finalize(stmt);
}

void store_sq_cache_clear(struct store_sq *s)
{
	for (size_t i = 0; i < s->ncache; i++) {
		sqlite3_finalize(s->cache[i].stmt);
		free(s->cache[i].sql);
	}
	s->ncache = 0;
}

int store_sq_step_done(struct store_sq *s, sqlite3_stmt *stmt, bool want_change, const char *what)
{
	int rc = sqlite3_step(stmt);
	int e = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : store_sq_err(s, rc, what);
	store_sq_release(s, stmt);
	if (!e && want_change && sqlite3_changes(s->db) == 0)
		return ENOENT;
	return e;
}

int store_sq_exec(struct store_sq *s, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		int e = store_sq_err(s, rc, sql);
		sqlite3_free(msg);
		return e;
	}
	return 0;
}

/* BEGIN IMMEDIATE takes the write lock at once: what a transaction reads cannot
 * change under it before it writes. */
int store_sq_tx_begin(struct store_sq *s)
{
	return store_sq_exec(s, "BEGIN IMMEDIATE");
}

/* Commits when e is 0, else rolls back keeping the conflict field; returns e
 * (or the commit's error). */
int store_sq_tx_end(struct store_sq *s, int e)
{
	if (!e)
		return store_sq_exec(s, "COMMIT");
	char conflict[sizeof(s->base.conflict)];
	memcpy(conflict, s->base.conflict, sizeof(conflict));
	store_sq_exec(s, "ROLLBACK");
	memcpy(s->base.conflict, conflict, sizeof(conflict));
	return e;
}

void store_sq_col_text(sqlite3_stmt *stmt, int i, char *dst, size_t sz)
{
	const unsigned char *t = sqlite3_column_text(stmt, i);
	snprintf(dst, sz, "%s", t ? (const char *)t : "");
}

void store_sq_bind_text(sqlite3_stmt *stmt, int i, const char *v)
{
	sqlite3_bind_text(stmt, i, v, -1, SQLITE_STATIC);
}

void store_sq_bind_id(sqlite3_stmt *stmt, int i, uint64_t id)
{
	if (id)
		sqlite3_bind_int64(stmt, i, (sqlite3_int64)id);
	else
		sqlite3_bind_null(stmt, i);
}

/* --- migrations ------------------------------------------------------------------ */

static int sq_version(struct store *st, int *version)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "SELECT coalesce(max(version), 0) FROM schema_version", &stmt);
	if (e)
		return e;
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int(stmt, 0);
	else
		e = store_sq_err(s, rc, "schema version");
	store_sq_release(s, stmt);
	return e;
}

static int migrate(struct store_sq *s)
{
	int cur = 0, e;
	/* IMMEDIATE takes the write lock first, so two processes or threads opening a
	 * fresh database serialize here instead of both creating tables. */
	if ((e = store_sq_exec(s, "BEGIN IMMEDIATE")))
		return e;
	e = store_sq_exec(s, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL,"
			" applied_at INTEGER NOT NULL)");
	if (!e)
		e = sq_version(&s->base, &cur);
	if (!e && cur > NMIGRATIONS) {
		log_error("store: database schema %d is newer than this pbxd knows (%d)", cur, NMIGRATIONS);
		e = ENOTSUP;
	}
	for (int v = cur + 1; !e && v <= NMIGRATIONS; v++) {
		e = store_sq_exec(s, migrations[v - 1]);
		if (e)
			break;
		char sql[128];
		snprintf(sql, sizeof(sql), "INSERT INTO schema_version VALUES (%d, %lld)", v,
			 (long long)store_now_ms());
		e = store_sq_exec(s, sql);
		if (!e)
			log_info("store: schema migrated to version %d", v);
	}
	if (e) {
		store_sq_exec(s, "ROLLBACK");
		return e;
	}
	return store_sq_exec(s, "COMMIT");
}

static void sq_close(struct store *st)
{
	struct store_sq *s = (struct store_sq *)st;
	store_sq_cache_clear(s);
	sqlite3_close_v2(s->db);
	free(s);
}

int store_sqlite_open(struct store **stp, const char *data_dir)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s/pbxd.db", data_dir) >= (int)sizeof(path))
		return ENAMETOOLONG;
	struct store_sq *s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	s->base.ops = &sq_ops;
	int rc = sqlite3_open_v2(path, &s->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_error("store: cannot open %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
		sq_close(&s->base);
		return EIO;
	}
	sqlite3_busy_timeout(s->db, 5000);
	int e = store_sq_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
	if (!e)
		e = migrate(s);
	if (e) {
		sq_close(&s->base);
		return e;
	}
	*stp = &s->base;
	return 0;
}

int store_sq_get_one(struct store_sq *s, sqlite3_stmt *stmt, void (*fill)(sqlite3_stmt *, void *), void *out)
{
	int rc = sqlite3_step(stmt);
	int e = 0;
	if (rc == SQLITE_ROW)
		fill(stmt, out);
	else if (rc == SQLITE_DONE)
		e = ENOENT;
	else
		e = store_sq_err(s, rc, "select");
	store_sq_release(s, stmt);
	return e;
}

int store_sq_get_by(struct store_sq *s, const char *sql, uint64_t scope, uint64_t id, const char *text,
		    void (*fill)(sqlite3_stmt *, void *), void *out)
{
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, sql, &stmt);
	if (e)
		return e;
	int k = scope ? 2 : 1;
	if (scope)
		sqlite3_bind_int64(stmt, 1, (sqlite3_int64)scope);
	if (text)
		store_sq_bind_text(stmt, k, text);
	else
		sqlite3_bind_int64(stmt, k, (sqlite3_int64)id);
	return store_sq_get_one(s, stmt, fill, out);
}

/* Whether an update moves the credentials to a new generation: a new password
 * hash (every hash has its own salt, so a new one never equals the old), or an
 * enabled account disabled. */
bool store_sq_cred_change(const char *old_hash, bool was_enabled, const char *new_hash, bool enabled)
{
	return strcmp(old_hash, new_hash) != 0 || (was_enabled && !enabled);
}

int store_sq_count(struct store_sq *s, const char *sql, uint64_t arg, bool bind, uint64_t *n)
{
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, sql, &stmt);
	if (e)
		return e;
	if (bind)
		sqlite3_bind_int64(stmt, 1, (sqlite3_int64)arg);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*n = (uint64_t)sqlite3_column_int64(stmt, 0);
	else
		e = store_sq_err(s, rc, "count");
	store_sq_release(s, stmt);
	return e;
}

static int sq_tx_begin(struct store *st) { return store_sq_tx_begin((struct store_sq *)st); }
static int sq_tx_end(struct store *st, int err) { return store_sq_tx_end((struct store_sq *)st, err); }

int store_sq_scan(struct store_sq *s, sqlite3_stmt *stmt, void (*fill)(sqlite3_stmt *, void *), void *row,
		  store_scan_h *h, void *arg)
{
	int rc, e = 0;
	while (!e && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		fill(stmt, row);
		e = h(row, arg);
	}
	if (!e && rc != SQLITE_DONE)
		e = store_sq_err(s, rc, "scan");
	store_sq_release(s, stmt);
	return e;
}

static const struct store_ops sq_ops = {
	.name = "sqlite",
	.close = sq_close,
	.schema_version = sq_version,
	.admin_create = store_sq_admin_create,
	.admin_get = store_sq_admin_get,
	.admin_get_by_name = store_sq_admin_get_by_name,
	.admin_update = store_sq_admin_update,
	.admin_count = store_sq_admin_count,
	.tenant_create = store_sq_tenant_create,
	.tenant_get = store_sq_tenant_get,
	.tenant_get_by_domain = store_sq_tenant_get_by_domain,
	.tenant_update = store_sq_tenant_update,
	.tenant_delete = store_sq_tenant_delete,
	.tenant_list = store_sq_tenant_list,
	.user_create = store_sq_user_create,
	.user_get = store_sq_user_get,
	.user_get_by_name = store_sq_user_get_by_name,
	.user_get_by_ext = store_sq_user_get_by_ext,
	.user_update = store_sq_user_update,
	.user_delete = store_sq_user_delete,
	.user_list = store_sq_user_list,
	.user_count = store_sq_user_count,
	.session_put = store_sq_session_put,
	.session_get = store_sq_session_get,
	.session_delete = store_sq_session_delete,
	.session_delete_grant = store_sq_session_delete_grant,
	.session_spend = store_sq_session_spend,
	.session_delete_user = store_sq_session_delete_user,
	.session_delete_admin = store_sq_session_delete_admin,
	.session_delete_tenant = store_sq_session_delete_tenant,
	.session_purge = store_sq_session_purge,
	.tx_begin = sq_tx_begin,
	.tx_end = sq_tx_end,
	.tenant_scan = store_sq_tenant_scan,
	.user_scan = store_sq_user_scan,
	.location_put = store_sq_location_put,
	.location_delete = store_sq_location_delete,
	.location_scan = store_sq_location_scan,
	.cdr_insert = store_sq_cdr_insert,
	.cdr_list = store_sq_cdr_list,
	.cdr_purge = store_sq_cdr_purge,
	.webhook_create = store_sq_webhook_create,
	.webhook_get = store_sq_webhook_get,
	.webhook_update = store_sq_webhook_update,
	.webhook_delete = store_sq_webhook_delete,
	.webhook_list = store_sq_webhook_list,
	.outbox_add = store_sq_outbox_add,
	.outbox_heads = store_sq_outbox_heads,
	.outbox_delete = store_sq_outbox_delete,
	.outbox_retry = store_sq_outbox_retry,
	.outbox_resume = store_sq_outbox_resume,
	.outbox_expire = store_sq_outbox_expire,
	.tenant_settings_get = store_sq_tenant_settings_get,
	.tenant_settings_update = store_sq_tenant_settings_update,
	.tenant_settings_scan = store_sq_tenant_settings_scan,
	.holiday_create = store_sq_holiday_create,
	.holiday_get = store_sq_holiday_get,
	.holiday_update = store_sq_holiday_update,
	.holiday_delete = store_sq_holiday_delete,
	.holiday_list = store_sq_holiday_list,
	.holiday_scan = store_sq_holiday_scan,
	.obj_create = store_sq_obj_create,
	.obj_get = store_sq_obj_get,
	.obj_update = store_sq_obj_update,
	.obj_delete = store_sq_obj_delete,
	.obj_list = store_sq_obj_list,
	.obj_scan = store_sq_obj_scan,
};
