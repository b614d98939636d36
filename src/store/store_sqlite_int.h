/* Internals shared by the SQLite backend's files (store_sqlite.c: connection,
 * migrations, rows; store_sqlite_list.c: list queries). Only src/store includes it. */
#ifndef STORE_STORE_SQLITE_INT_H
#define STORE_STORE_SQLITE_INT_H

#include <sqlite3.h>

#include "store/store.h"

struct store_sq {
	struct store base; /* first, so a struct store * is a struct store_sq * */
	sqlite3 *db;
};

#define TENANT_COLS "id, name, domain, enabled, max_users, max_calls, created_at, updated_at, version"
#define USER_COLS "id, tenant_id, username, password_hash, email, display_name, role, enabled," \
		  " ext_number, ext_password, created_at, updated_at, settings, version, cred_gen"

/* Maps an SQLite result to an errno (EEXIST names the field in base.conflict). */
int store_sq_err(struct store_sq *s, int rc, const char *what);
int store_sq_prep(struct store_sq *s, const char *sql, sqlite3_stmt **stmt);
void store_sq_bind_text(sqlite3_stmt *stmt, int i, const char *v);
/* Row mappers for TENANT_COLS and USER_COLS (out: struct store_tenant / store_user). */
void store_sq_tenant_fill(sqlite3_stmt *stmt, void *out);
void store_sq_user_fill(sqlite3_stmt *stmt, void *out);

int store_sq_tenant_list(struct store *st, const struct store_query *q, struct store_tenants **out);
int store_sq_user_list(struct store *st, uint64_t tenant_id, const struct store_query *q, struct store_users **out);

#endif
