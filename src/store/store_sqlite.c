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
};
#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

static const struct store_ops sq_ops;

/* Maps an SQLite result to an errno, remembering which field a unique constraint
 * names so the API can say "extension_number: already in use". */
int store_sq_err(struct store_sq *s, int rc, const char *what)
{
	s->base.conflict[0] = '\0';
	if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	int ext = sqlite3_extended_errcode(s->db);
	if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY) {
		const char *m = sqlite3_errmsg(s->db);
		const char *f = strstr(m, "ext_number") ? "extension_number"
			      : strstr(m, "username") ? "username"
			      : strstr(m, "domain") ? "domain" : "id";
		snprintf(s->base.conflict, sizeof(s->base.conflict), "%s", f);
		return EEXIST;
	}
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return EINVAL;
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		return EBUSY;
	log_error("store: %s: %s", what, sqlite3_errmsg(s->db));
	return EIO;
}

int store_sq_prep(struct store_sq *s, const char *sql, sqlite3_stmt **stmt)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, stmt, NULL);
	return rc == SQLITE_OK ? 0 : store_sq_err(s, rc, sql);
}

/* Steps a statement that returns no rows (or whose rows are ignored) and finalizes
 * it; ENOENT when it was an UPDATE/DELETE that touched nothing and want_change. */
static int step_done(struct store_sq *s, sqlite3_stmt *stmt, bool want_change, const char *what)
{
	int rc = sqlite3_step(stmt);
	int e = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : store_sq_err(s, rc, what);
	sqlite3_finalize(stmt);
	if (!e && want_change && sqlite3_changes(s->db) == 0)
		return ENOENT;
	return e;
}

static int exec_sql(struct store_sq *s, const char *sql)
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
static int tx_begin(struct store_sq *s)
{
	return exec_sql(s, "BEGIN IMMEDIATE");
}

/* Commits when e is 0, else rolls back keeping the conflict field; returns e
 * (or the commit's error). */
static int tx_end(struct store_sq *s, int e)
{
	if (!e)
		return exec_sql(s, "COMMIT");
	char conflict[sizeof(s->base.conflict)];
	memcpy(conflict, s->base.conflict, sizeof(conflict));
	exec_sql(s, "ROLLBACK");
	memcpy(s->base.conflict, conflict, sizeof(conflict));
	return e;
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
	sqlite3_finalize(stmt);
	return e;
}

static int session_write(struct store_sq *s, const char *sql, const uint8_t *hash, uint64_t one,
			 const int64_t *two, bool want_change);

/* Inside the update that moved a principal to credential generation gen: its
 * sessions end but those of grant keep (and its switched children), which take
 * the new generation. `who` is "user_id" or "admin_id". */
static int sessions_regen(struct store_sq *s, const char *who, uint64_t id, uint64_t keep, int64_t gen)
{
	char sql[256];
	int64_t k = (int64_t)keep;
	snprintf(sql, sizeof(sql), "DELETE FROM sessions WHERE %s = ?1 AND grant_id <> ?2"
		 " AND (parent_grant IS NULL OR parent_grant <> ?2)", who);
	int e = session_write(s, sql, NULL, id, &k, false);
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
	return step_done(s, stmt, false, "session regen");
}

static void col_text(sqlite3_stmt *stmt, int i, char *dst, size_t sz)
{
	const unsigned char *t = sqlite3_column_text(stmt, i);
	snprintf(dst, sz, "%s", t ? (const char *)t : "");
}

void store_sq_bind_text(sqlite3_stmt *stmt, int i, const char *v)
{
	sqlite3_bind_text(stmt, i, v, -1, SQLITE_STATIC);
}

static void bind_id(sqlite3_stmt *stmt, int i, uint64_t id)
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
	sqlite3_finalize(stmt);
	return e;
}

static int migrate(struct store_sq *s)
{
	int cur = 0, e;
	/* IMMEDIATE takes the write lock first, so two processes or threads opening a
	 * fresh database serialize here instead of both creating tables. */
	if ((e = exec_sql(s, "BEGIN IMMEDIATE")))
		return e;
	e = exec_sql(s, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL,"
			" applied_at INTEGER NOT NULL)");
	if (!e)
		e = sq_version(&s->base, &cur);
	if (!e && cur > NMIGRATIONS) {
		log_error("store: database schema %d is newer than this pbxd knows (%d)", cur, NMIGRATIONS);
		e = ENOTSUP;
	}
	for (int v = cur + 1; !e && v <= NMIGRATIONS; v++) {
		e = exec_sql(s, migrations[v - 1]);
		if (e)
			break;
		char sql[128];
		snprintf(sql, sizeof(sql), "INSERT INTO schema_version VALUES (%d, %lld)", v,
			 (long long)store_now_ms());
		e = exec_sql(s, sql);
		if (!e)
			log_info("store: schema migrated to version %d", v);
	}
	if (e) {
		exec_sql(s, "ROLLBACK");
		return e;
	}
	return exec_sql(s, "COMMIT");
}

static void sq_close(struct store *st)
{
	struct store_sq *s = (struct store_sq *)st;
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
	int e = exec_sql(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
	if (!e)
		e = migrate(s);
	if (e) {
		sq_close(&s->base);
		return e;
	}
	*stp = &s->base;
	return 0;
}

/* --- system admins ------------------------------------------------------------------ */

#define ADMIN_COLS "id, username, password_hash, enabled, created_at, updated_at, version, cred_gen"

static void admin_row(sqlite3_stmt *stmt, struct store_admin *a)
{
	a->id = (uint64_t)sqlite3_column_int64(stmt, 0);
	col_text(stmt, 1, a->username, sizeof(a->username));
	col_text(stmt, 2, a->pw_hash, sizeof(a->pw_hash));
	a->enabled = sqlite3_column_int(stmt, 3) != 0;
	a->created_at = sqlite3_column_int64(stmt, 4);
	a->updated_at = sqlite3_column_int64(stmt, 5);
	a->version = sqlite3_column_int64(stmt, 6);
	a->cred_gen = sqlite3_column_int64(stmt, 7);
}

/* Runs a prepared single-row SELECT and maps the row with fill. */
static int get_one(struct store_sq *s, sqlite3_stmt *stmt, void (*fill)(sqlite3_stmt *, void *), void *out)
{
	int rc = sqlite3_step(stmt);
	int e = 0;
	if (rc == SQLITE_ROW)
		fill(stmt, out);
	else if (rc == SQLITE_DONE)
		e = ENOENT;
	else
		e = store_sq_err(s, rc, "select");
	sqlite3_finalize(stmt);
	return e;
}

static void admin_fill(sqlite3_stmt *stmt, void *out) { admin_row(stmt, out); }

static int sq_admin_create(struct store *st, struct store_admin *a)
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
	return step_done(s, stmt, false, "admin create");
}

static int sq_admin_get(struct store *st, uint64_t id, struct store_admin *a)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "SELECT " ADMIN_COLS " FROM admins WHERE id = ?", &stmt);
	if (e)
		return e;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)id);
	return get_one(s, stmt, admin_fill, a);
}

static int sq_admin_get_by_name(struct store *st, const char *username, struct store_admin *a)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "SELECT " ADMIN_COLS " FROM admins WHERE username = ?", &stmt);
	if (e)
		return e;
	store_sq_bind_text(stmt, 1, username);
	return get_one(s, stmt, admin_fill, a);
}

/* Whether an update moves the credentials to a new generation: a new password
 * hash (every hash has its own salt, so a new one never equals the old), or an
 * enabled account disabled. */
static bool cred_change(const char *old_hash, bool was_enabled, const char *new_hash, bool enabled)
{
	return strcmp(old_hash, new_hash) != 0 || (was_enabled && !enabled);
}

static int admin_update_locked(struct store_sq *s, struct store_admin *a, uint64_t keep_grant)
{
	struct store_admin old;
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "SELECT " ADMIN_COLS " FROM admins WHERE id = ?", &stmt);
	if (e)
		return e;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)a->id);
	if ((e = get_one(s, stmt, admin_fill, &old)))
		return e;
	if (old.version != a->version)
		return ESTALE;
	bool regen = cred_change(old.pw_hash, old.enabled, a->pw_hash, a->enabled);
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
	if ((e = step_done(s, stmt, true, "admin update")))
		return e;
	a->version = old.version + 1;
	a->cred_gen = old.cred_gen + regen;
	return regen ? sessions_regen(s, "admin_id", a->id, keep_grant, a->cred_gen) : 0;
}

static int sq_admin_update(struct store *st, struct store_admin *a, uint64_t keep_grant)
{
	struct store_sq *s = (struct store_sq *)st;
	struct store_admin mine = *a;
	int e = tx_begin(s);
	if (!e)
		e = tx_end(s, admin_update_locked(s, &mine, keep_grant));
	if (!e)
		*a = mine;
	return e;
}

static int count_rows(struct store_sq *s, const char *sql, uint64_t arg, bool bind, uint64_t *n)
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
	sqlite3_finalize(stmt);
	return e;
}

static int sq_admin_count(struct store *st, uint64_t *n)
{
	return count_rows((struct store_sq *)st, "SELECT count(*) FROM admins", 0, false, n);
}

/* --- tenants ------------------------------------------------------------------------ */

void store_sq_tenant_fill(sqlite3_stmt *stmt, void *out)
{
	struct store_tenant *t = out;
	t->id = (uint64_t)sqlite3_column_int64(stmt, 0);
	col_text(stmt, 1, t->name, sizeof(t->name));
	col_text(stmt, 2, t->domain, sizeof(t->domain));
	t->enabled = sqlite3_column_int(stmt, 3) != 0;
	t->max_users = sqlite3_column_int64(stmt, 4);
	t->max_calls = sqlite3_column_int64(stmt, 5);
	t->created_at = sqlite3_column_int64(stmt, 6);
	t->updated_at = sqlite3_column_int64(stmt, 7);
	t->version = sqlite3_column_int64(stmt, 8);
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
	return step_done(s, stmt, update, "tenant write");
}

static int sq_user_insert(struct store_sq *s, struct store_user *u);

static int sq_tenant_create(struct store *st, struct store_tenant *t, struct store_user *first_admin)
{
	struct store_sq *s = (struct store_sq *)st;
	int e = tx_begin(s);
	if (e)
		return e;
	t->id = store_id_next();
	t->created_at = t->updated_at = store_now_ms();
	t->version = 1;
	e = tenant_write(s, "INSERT INTO tenants (name, domain, enabled, max_users, max_calls, updated_at,"
			    " id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", t, false);
	if (!e && first_admin) {
		first_admin->tenant_id = t->id;
		e = sq_user_insert(s, first_admin);
	}
	return tx_end(s, e);
}

static int sq_tenant_get(struct store *st, uint64_t id, struct store_tenant *t)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "SELECT " TENANT_COLS " FROM tenants WHERE id = ?", &stmt);
	if (e)
		return e;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)id);
	return get_one(s, stmt, store_sq_tenant_fill, t);
}

static int sq_tenant_get_by_domain(struct store *st, const char *domain, struct store_tenant *t)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "SELECT " TENANT_COLS " FROM tenants WHERE domain = ?", &stmt);
	if (e)
		return e;
	store_sq_bind_text(stmt, 1, domain);
	return get_one(s, stmt, store_sq_tenant_fill, t);
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
			    " updated_at = ?, version = version + 1 WHERE id = ?", t, true);
	if (e || !was_enabled || t->enabled)
		return e;
	/* Disabled: a sign-in into it that is still verifying a password must not
	 * produce a session that works once the tenant is enabled again. */
	e = session_write(s, "UPDATE users SET cred_gen = cred_gen + 1 WHERE tenant_id = ?", NULL, t->id, NULL,
			  false);
	if (!e)
		e = session_write(s, "DELETE FROM sessions WHERE tenant_id = ?", NULL, t->id, NULL, false);
	return e;
}

static int sq_tenant_update(struct store *st, struct store_tenant *t)
{
	struct store_sq *s = (struct store_sq *)st;
	struct store_tenant mine = *t;
	int e = tx_begin(s);
	if (!e)
		e = tx_end(s, tenant_update_locked(s, &mine));
	if (!e) {
		mine.version++;
		*t = mine;
	}
	return e;
}

static int sq_tenant_delete(struct store *st, uint64_t id)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "DELETE FROM tenants WHERE id = ?", &stmt);
	if (e)
		return e;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)id);
	return step_done(s, stmt, true, "tenant delete");
}

/* --- users ---------------------------------------------------------------------------- */

void store_sq_user_fill(sqlite3_stmt *stmt, void *out)
{
	struct store_user *u = out;
	u->id = (uint64_t)sqlite3_column_int64(stmt, 0);
	u->tenant_id = (uint64_t)sqlite3_column_int64(stmt, 1);
	col_text(stmt, 2, u->username, sizeof(u->username));
	col_text(stmt, 3, u->pw_hash, sizeof(u->pw_hash));
	col_text(stmt, 4, u->email, sizeof(u->email));
	col_text(stmt, 5, u->display_name, sizeof(u->display_name));
	const unsigned char *role = sqlite3_column_text(stmt, 6);
	u->role = role && strcmp((const char *)role, "admin") == 0 ? STORE_ROLE_ADMIN : STORE_ROLE_USER;
	u->enabled = sqlite3_column_int(stmt, 7) != 0;
	col_text(stmt, 8, u->ext_number, sizeof(u->ext_number));
	col_text(stmt, 9, u->ext_password, sizeof(u->ext_password));
	u->created_at = sqlite3_column_int64(stmt, 10);
	u->updated_at = sqlite3_column_int64(stmt, 11);
	u->version = sqlite3_column_int64(stmt, 13);
	u->cred_gen = sqlite3_column_int64(stmt, 14);
	u->settings = NULL;
	if (sqlite3_column_type(stmt, 12) != SQLITE_NULL) {
		const char *t = (const char *)sqlite3_column_text(stmt, 12);
		u->settings = mem_strndup(t ? t : "{}", t ? (size_t)sqlite3_column_bytes(stmt, 12) : 2);
	}
}

/* Binds the writable user columns in USER_COLS order from 2 on (tenant_id .. settings). */
static void user_bind(sqlite3_stmt *stmt, const struct store_user *u)
{
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)u->id);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)u->tenant_id);
	store_sq_bind_text(stmt, 3, u->username);
	store_sq_bind_text(stmt, 4, u->pw_hash);
	store_sq_bind_text(stmt, 5, u->email);
	store_sq_bind_text(stmt, 6, u->display_name);
	store_sq_bind_text(stmt, 7, u->role == STORE_ROLE_ADMIN ? "admin" : "user");
	sqlite3_bind_int(stmt, 8, u->enabled);
	store_sq_bind_text(stmt, 9, u->ext_number);
	store_sq_bind_text(stmt, 10, u->ext_password);
	sqlite3_bind_int64(stmt, 11, u->created_at);
	sqlite3_bind_int64(stmt, 12, u->updated_at);
	store_sq_bind_text(stmt, 13, u->settings ? u->settings : "{}");
}

static int sq_user_insert(struct store_sq *s, struct store_user *u)
{
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "INSERT INTO users (" USER_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 1)",
		     &stmt);
	if (e)
		return e;
	u->id = store_id_next();
	u->created_at = u->updated_at = store_now_ms();
	u->version = u->cred_gen = 1;
	user_bind(stmt, u);
	return step_done(s, stmt, false, "user create");
}

/* The count and the insert under one write lock: concurrent creates at the
 * limit cannot all pass a check made before any of them inserted. */
static int user_create_locked(struct store_sq *s, struct store_user *u)
{
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "SELECT max_users, (SELECT count(*) FROM users WHERE tenant_id = ?1)"
			      " FROM tenants WHERE id = ?1", &stmt);
	if (e)
		return e;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)u->tenant_id);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		int64_t max = sqlite3_column_int64(stmt, 0), n = sqlite3_column_int64(stmt, 1);
		if (max > 0 && n >= max)
			e = EDQUOT;
	} else {
		e = rc == SQLITE_DONE ? ENOENT : store_sq_err(s, rc, "user count");
	}
	sqlite3_finalize(stmt);
	return e ? e : sq_user_insert(s, u);
}

static int sq_user_create(struct store *st, struct store_user *u)
{
	struct store_sq *s = (struct store_sq *)st;
	int e = tx_begin(s);
	return e ? e : tx_end(s, user_create_locked(s, u));
}

static int user_get_where(struct store_sq *s, const char *where, uint64_t tenant_id, uint64_t id,
			  const char *text, struct store_user *u)
{
	char sql[512];
	snprintf(sql, sizeof(sql), "SELECT " USER_COLS " FROM users WHERE tenant_id = ?1 AND %s", where);
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, sql, &stmt);
	if (e)
		return e;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)tenant_id);
	if (text)
		store_sq_bind_text(stmt, 2, text);
	else
		sqlite3_bind_int64(stmt, 2, (sqlite3_int64)id);
	return get_one(s, stmt, store_sq_user_fill, u);
}

static int sq_user_get(struct store *st, uint64_t tenant_id, uint64_t id, struct store_user *u)
{
	return user_get_where((struct store_sq *)st, "id = ?2", tenant_id, id, NULL, u);
}

static int sq_user_get_by_name(struct store *st, uint64_t tenant_id, const char *username, struct store_user *u)
{
	return user_get_where((struct store_sq *)st, "username = ?2", tenant_id, 0, username, u);
}

static int sq_user_get_by_ext(struct store *st, uint64_t tenant_id, const char *number, struct store_user *u)
{
	return user_get_where((struct store_sq *)st, "ext_number = ?2", tenant_id, 0, number, u);
}

static int user_update_locked(struct store_sq *s, struct store_user *u, uint64_t keep_grant)
{
	struct store_user old = { 0 };
	int e = user_get_where(s, "id = ?2", u->tenant_id, u->id, NULL, &old);
	store_user_reset(&old);
	if (e)
		return e;
	if (old.version != u->version)
		return ESTALE;
	bool regen = cred_change(old.pw_hash, old.enabled, u->pw_hash, u->enabled);
	sqlite3_stmt *stmt;
	if ((e = store_sq_prep(s, "UPDATE users SET tenant_id = ?2, username = ?3, password_hash = ?4, email = ?5,"
			       " display_name = ?6, role = ?7, enabled = ?8, ext_number = ?9, ext_password = ?10,"
			       " updated_at = ?12, settings = ?13, version = ?14, cred_gen = ?15"
			       " WHERE id = ?1 AND tenant_id = ?2", &stmt)))
		return e;
	u->updated_at = store_now_ms();
	user_bind(stmt, u); /* ?11 (created_at) is left unused: it never changes */
	sqlite3_bind_int64(stmt, 14, old.version + 1);
	sqlite3_bind_int64(stmt, 15, old.cred_gen + regen);
	if ((e = step_done(s, stmt, true, "user update")))
		return e;
	u->version = old.version + 1;
	u->cred_gen = old.cred_gen + regen;
	return regen ? sessions_regen(s, "user_id", u->id, keep_grant, u->cred_gen) : 0;
}

static int sq_user_update(struct store *st, struct store_user *u, uint64_t keep_grant)
{
	struct store_sq *s = (struct store_sq *)st;
	int64_t version = u->version, cred_gen = u->cred_gen;
	int e = tx_begin(s);
	if (!e)
		e = tx_end(s, user_update_locked(s, u, keep_grant));
	if (e) {
		u->version = version;
		u->cred_gen = cred_gen;
	}
	return e;
}

static int sq_user_delete(struct store *st, uint64_t tenant_id, uint64_t id)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "DELETE FROM users WHERE id = ? AND tenant_id = ?", &stmt);
	if (e)
		return e;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)id);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)tenant_id);
	return step_done(s, stmt, true, "user delete");
}

static int sq_user_count(struct store *st, uint64_t tenant_id, uint64_t *n)
{
	return count_rows((struct store_sq *)st, "SELECT count(*) FROM users WHERE tenant_id = ?", tenant_id, true, n);
}

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
	bind_id(stmt, 4, ss->admin_id);
	bind_id(stmt, 5, ss->user_id);
	bind_id(stmt, 6, ss->tenant_id);
	sqlite3_bind_int64(stmt, 7, ss->expires_at);
	sqlite3_bind_int64(stmt, 8, ss->created_at ? ss->created_at : store_now_ms());
	bind_id(stmt, 9, ss->parent_grant);
	sqlite3_bind_int64(stmt, 10, ss->cred_gen);
	return step_done(s, stmt, false, "session put");
}

static int sq_session_put(struct store *st, const struct store_session *ss)
{
	return session_insert((struct store_sq *)st, ss);
}

static int sq_session_get(struct store *st, const uint8_t hash[32], struct store_session *ss)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "SELECT " SESSION_COLS " FROM sessions WHERE token_hash = ?", &stmt);
	if (e)
		return e;
	sqlite3_bind_blob(stmt, 1, hash, 32, SQLITE_STATIC);
	return get_one(s, stmt, session_fill, ss);
}

/* Runs a DELETE or INSERT whose parameters are ?1 a hash or an id, ?2 an id or
 * integer (when two != NULL). */
static int session_write(struct store_sq *s, const char *sql, const uint8_t *hash, uint64_t one,
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
	return step_done(s, stmt, want_change, "session write");
}

static int sq_session_delete(struct store *st, const uint8_t hash[32])
{
	return session_write((struct store_sq *)st, "DELETE FROM sessions WHERE token_hash = ?", hash, 0, NULL, true);
}

static const char sql_delete_grant[] = "DELETE FROM sessions WHERE grant_id = ?1 OR parent_grant = ?1";

static int sq_session_delete_grant(struct store *st, uint64_t grant_id)
{
	return session_write((struct store_sq *)st, sql_delete_grant, NULL, grant_id, NULL, false);
}

/* Keeps rows of grant ?2 and of the grants switched from it. */
#define KEEP_GRANT " AND grant_id <> ?2 AND (parent_grant IS NULL OR parent_grant <> ?2)"

static int sq_session_delete_user(struct store *st, uint64_t user_id, uint64_t keep_grant)
{
	int64_t keep = (int64_t)keep_grant;
	return session_write((struct store_sq *)st, "DELETE FROM sessions WHERE user_id = ?1" KEEP_GRANT, NULL,
			     user_id, &keep, false);
}

static int sq_session_delete_admin(struct store *st, uint64_t admin_id, uint64_t keep_grant)
{
	int64_t keep = (int64_t)keep_grant;
	return session_write((struct store_sq *)st, "DELETE FROM sessions WHERE admin_id = ?1" KEEP_GRANT, NULL,
			     admin_id, &keep, false);
}

static int sq_session_delete_tenant(struct store *st, uint64_t tenant_id)
{
	return session_write((struct store_sq *)st, "DELETE FROM sessions WHERE tenant_id = ?", NULL, tenant_id,
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
	sqlite3_finalize(stmt);
	if (e || !grant)
		return e ? e : ENOENT;
	e = session_write(s, sql_delete_grant, NULL, grant, NULL, false);
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
	e = get_one(s, stmt, session_fill, old);
	if (e && e != ENOENT)
		return e;
	e = session_write(s, "DELETE FROM sessions WHERE token_hash = ?1 AND kind = 'refresh' AND expires_at > ?2",
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
	e = step_done(s, ins, false, "spent token");
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

static int sq_session_spend(struct store *st, const uint8_t hash[32], int64_t now_ms, struct store_session *old,
			    struct store_session next[2])
{
	struct store_sq *s = (struct store_sq *)st;
	/* IMMEDIATE: concurrent spends of one token, on any connection, queue here. */
	int e = exec_sql(s, "BEGIN IMMEDIATE");
	if (e)
		return e;
	e = spend_locked(s, hash, now_ms, old, next);
	if (e && e != EALREADY) {
		exec_sql(s, "ROLLBACK");
		return e;
	}
	int c = exec_sql(s, "COMMIT");
	return c ? c : e;
}

static int sq_session_purge(struct store *st, int64_t now_ms)
{
	struct store_sq *s = (struct store_sq *)st;
	int e = session_write(s, "DELETE FROM sessions WHERE expires_at <= ?", NULL, (uint64_t)now_ms, NULL, false);
	if (!e)
		e = session_write(s, "DELETE FROM spent_tokens WHERE expires_at <= ?", NULL, (uint64_t)now_ms, NULL,
				  false);
	return e;
}

static const struct store_ops sq_ops = {
	.name = "sqlite",
	.close = sq_close,
	.schema_version = sq_version,
	.admin_create = sq_admin_create,
	.admin_get = sq_admin_get,
	.admin_get_by_name = sq_admin_get_by_name,
	.admin_update = sq_admin_update,
	.admin_count = sq_admin_count,
	.tenant_create = sq_tenant_create,
	.tenant_get = sq_tenant_get,
	.tenant_get_by_domain = sq_tenant_get_by_domain,
	.tenant_update = sq_tenant_update,
	.tenant_delete = sq_tenant_delete,
	.tenant_list = store_sq_tenant_list,
	.user_create = sq_user_create,
	.user_get = sq_user_get,
	.user_get_by_name = sq_user_get_by_name,
	.user_get_by_ext = sq_user_get_by_ext,
	.user_update = sq_user_update,
	.user_delete = sq_user_delete,
	.user_list = store_sq_user_list,
	.user_count = sq_user_count,
	.session_put = sq_session_put,
	.session_get = sq_session_get,
	.session_delete = sq_session_delete,
	.session_delete_grant = sq_session_delete_grant,
	.session_spend = sq_session_spend,
	.session_delete_user = sq_session_delete_user,
	.session_delete_admin = sq_session_delete_admin,
	.session_delete_tenant = sq_session_delete_tenant,
	.session_purge = sq_session_purge,
};
