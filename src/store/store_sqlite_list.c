/* The SQLite backend's list queries: filter conditions, free-text search, order
 * and paging, from the field tables of store.h (only those names reach SQL text;
 * every value is a bound parameter). */
#include <errno.h>
#include <sqlite3.h>
#include <string.h>

#include "core/mbuf.h"
#include "core/mem.h"
#include "store/store_sqlite_int.h"

/* --- lists ------------------------------------------------------------------------------ */

/* The column behind a filterable field name; the name was checked against
 * store_fields() by the caller, and only names from that table reach SQL text. */
static const char *column(const struct store_field *f)
{
	return strcmp(f->name, "extension_number") == 0 ? "ext_number" : f->name;
}

static const char *const op_sql[] = { "=", "<>", "<", "<=", ">", ">=" };

/* Appends " AND ..." for every condition and the search to sql; binds follow in
 * the same order from parameter `first`. */
static int where_sql(struct mbuf *sql, enum store_kind kind, const struct store_query *q)
{
	int e = 0;
	for (size_t i = 0; i < q->ncond && !e; i++) {
		const struct store_field *f = q->cond[i].field;
		if (!f || store_field_find(kind, f->name) != f || q->cond[i].op > STORE_OP_GE)
			return EINVAL;
		e = mbuf_printf(sql, " AND %s %s ?", column(f), op_sql[q->cond[i].op]);
	}
	if (q->search[0] && !e) {
		size_t n;
		const struct store_field *fs = store_fields(kind, &n);
		const char *sep = " AND (";
		for (size_t i = 0; i < n && !e; i++) {
			if (!fs[i].search)
				continue;
			e = mbuf_printf(sql, "%sinstr(lower(%s), lower(?)) > 0", sep, column(&fs[i]));
			sep = " OR ";
		}
		if (!e)
			e = mbuf_write_str(sql, ")");
	}
	return e;
}

static int where_bind(sqlite3_stmt *stmt, enum store_kind kind, const struct store_query *q, int idx)
{
	for (size_t i = 0; i < q->ncond; i++) {
		const struct store_cond *c = &q->cond[i];
		if (c->field->type == STORE_F_STR)
			store_sq_bind_text(stmt, idx++, c->sval);
		else
			sqlite3_bind_int64(stmt, idx++, c->ival);
	}
	if (q->search[0]) {
		size_t n;
		const struct store_field *fs = store_fields(kind, &n);
		for (size_t i = 0; i < n; i++) {
			if (fs[i].search)
				store_sq_bind_text(stmt, idx++, q->search);
		}
	}
	return idx;
}

/* Prepares the text in sql (NUL-terminated here) and binds the tenant and the
 * filter/search values the WHERE clause names; *idx is the next free parameter. */
static int list_prepare(struct store_sq *s, struct mbuf *sql, uint64_t tenant_id, enum store_kind kind,
			const struct store_query *q, sqlite3_stmt **stmt, int *idx)
{
	int e = mbuf_write_mem(sql, "", 1);
	if (!e)
		e = store_sq_prep(s, (char *)sql->buf, stmt);
	if (e)
		return e;
	*idx = 1;
	if (tenant_id)
		sqlite3_bind_int64(*stmt, (*idx)++, (sqlite3_int64)tenant_id);
	*idx = where_bind(*stmt, kind, q, *idx);
	return 0;
}

/* Runs the count and the page query of a list; fill maps each row into
 * items[i * item_size]. *items is a mem array the caller's result owns.
 * tenant_id scopes a per-tenant table; 0 only for a table that has no tenant
 * (tenants itself), never as "every tenant". */
static int list_run(struct store_sq *s, enum store_kind kind, const char *table, const char *cols,
		    uint64_t tenant_id, const struct store_query *q, size_t item_size,
		    void (*fill)(sqlite3_stmt *, void *), uint64_t *count, void **items, size_t *n)
{
	*items = NULL;
	*n = 0;
	if (q->top < 1 || q->top > 100 || (q->orderby && store_field_find(kind, q->orderby->name) != q->orderby))
		return EINVAL;
	struct mbuf *where = mbuf_alloc(256, 16384), *sql = mbuf_alloc(512, 16384);
	int e = where && sql ? 0 : ENOMEM;
	if (!e)
		e = mbuf_printf(where, " WHERE %s", tenant_id ? "tenant_id = ?" : "1");
	if (!e)
		e = where_sql(where, kind, q);
	if (!e)
		e = mbuf_write_mem(where, "", 1);
	sqlite3_stmt *stmt = NULL;
	int idx;
	if (!e)
		e = mbuf_printf(sql, "SELECT count(*) FROM %s%s", table, (char *)where->buf);
	if (!e)
		e = list_prepare(s, sql, tenant_id, kind, q, &stmt, &idx);
	if (!e) {
		int rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW)
			*count = (uint64_t)sqlite3_column_int64(stmt, 0);
		else
			e = store_sq_err(s, rc, "list count");
		store_sq_release(s, stmt);
		stmt = NULL;
	}
	if (!e) {
		mbuf_reset(sql);
		e = mbuf_printf(sql, "SELECT %s FROM %s%s ORDER BY %s %s, id %s LIMIT ? OFFSET ?", cols, table,
				(char *)where->buf, q->orderby ? column(q->orderby) : "id",
				q->desc ? "DESC" : "ASC", q->desc ? "DESC" : "ASC");
	}
	if (!e)
		e = list_prepare(s, sql, tenant_id, kind, q, &stmt, &idx);
	if (!e) {
		sqlite3_bind_int(stmt, idx++, (int)q->top);
		sqlite3_bind_int64(stmt, idx, q->skip);
		*items = mem_zalloc(item_size * q->top, NULL);
		if (!*items)
			e = ENOMEM;
		int rc = SQLITE_DONE;
		while (!e && (rc = sqlite3_step(stmt)) == SQLITE_ROW && *n < q->top)
			fill(stmt, (char *)*items + item_size * (*n)++);
		if (!e && rc != SQLITE_DONE && rc != SQLITE_ROW)
			e = store_sq_err(s, rc, "list");
		store_sq_release(s, stmt);
	}
	mem_deref(where);
	mem_deref(sql);
	return e;
}

static void tenants_destroy(void *data)
{
	struct store_tenants *l = data;
	mem_deref(l->v);
}

int store_sq_tenant_list(struct store *st, const struct store_query *q, struct store_tenants **out)
{
	struct store_tenants *l = mem_zalloc(sizeof(*l), tenants_destroy);
	if (!l)
		return ENOMEM;
	void *items;
	int e = list_run((struct store_sq *)st, STORE_KIND_TENANT, "tenants", TENANT_COLS, 0, q, sizeof(struct store_tenant),
			 store_sq_tenant_fill, &l->count, &items, &l->n);
	l->v = items;
	if (e) {
		mem_deref(l);
		return e;
	}
	*out = l;
	return 0;
}

static void users_destroy(void *data)
{
	struct store_users *l = data;
	for (size_t i = 0; i < l->n; i++)
		store_user_reset(&l->v[i]);
	mem_deref(l->v);
}

int store_sq_user_list(struct store *st, uint64_t tenant_id, const struct store_query *q, struct store_users **out)
{
	if (!tenant_id)
		return EINVAL;
	struct store_users *l = mem_zalloc(sizeof(*l), users_destroy);
	if (!l)
		return ENOMEM;
	void *items;
	/* Lists are summaries: the secrets and the settings are never read ('' and NULL). */
	int e = list_run((struct store_sq *)st, STORE_KIND_USER, "users",
			 "id, tenant_id, username, '', email, display_name, role, enabled,"
			 " ext_number, '', created_at, updated_at, NULL, version, cred_gen",
			 tenant_id, q, sizeof(struct store_user), store_sq_user_fill, &l->count, &items, &l->n);
	l->v = items;
	if (e) {
		mem_deref(l);
		return e;
	}
	*out = l;
	return 0;
}

