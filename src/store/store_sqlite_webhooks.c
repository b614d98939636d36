/* SQLite backend: tenants' webhooks and the outbox of their deliveries.
 *
 * A webhook is a row per tenant (at most STORE_WEBHOOKS_MAX). The outbox holds one
 * row per event and webhook that wants it, written by the storage worker when the
 * event happens (one INSERT ... SELECT over the tenant's webhooks, so the
 * signalling thread never reads them) and deleted by the delivery thread once
 * the receiver took it. Rows are delivered per webhook in (next_attempt_at, id)
 * order; the index webhook_outbox_next serves exactly that, so finding each
 * webhook's next row costs a lookup whatever the outbox holds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "store/store_sqlite_int.h"

#define WH_COLS "w.id, w.tenant_id, w.name, w.url, w.enabled, w.events, w.auth, w.username, w.secret," \
		" w.created_at, w.updated_at, w.version"
#define WH_PENDING "(SELECT count(*) FROM webhook_outbox o WHERE o.webhook_id = w.id)"

static const char *const auth_names[] = { "none", "basic", "bearer", "hmac" };

static enum store_wh_auth auth_of(const char *t)
{
	for (size_t i = 0; i < sizeof(auth_names) / sizeof(auth_names[0]); i++) {
		if (t && strcmp(t, auth_names[i]) == 0)
			return (enum store_wh_auth)i;
	}
	return STORE_WH_AUTH_NONE;
}

/* WH_COLS from column `at` on. */
static void wh_fill_at(sqlite3_stmt *stmt, int at, struct store_webhook *w)
{
	w->id = (uint64_t)sqlite3_column_int64(stmt, at);
	w->tenant_id = (uint64_t)sqlite3_column_int64(stmt, at + 1);
	store_sq_col_text(stmt, at + 2, w->name, sizeof(w->name));
	store_sq_col_text(stmt, at + 3, w->url, sizeof(w->url));
	w->enabled = sqlite3_column_int(stmt, at + 4) != 0;
	w->events = (unsigned)sqlite3_column_int(stmt, at + 5);
	w->auth = auth_of((const char *)sqlite3_column_text(stmt, at + 6));
	store_sq_col_text(stmt, at + 7, w->username, sizeof(w->username));
	store_sq_col_text(stmt, at + 8, w->secret, sizeof(w->secret));
	w->created_at = sqlite3_column_int64(stmt, at + 9);
	w->updated_at = sqlite3_column_int64(stmt, at + 10);
	w->version = sqlite3_column_int64(stmt, at + 11);
}

/* WH_COLS, then WH_PENDING. */
static void wh_fill(sqlite3_stmt *stmt, void *out)
{
	struct store_webhook *w = out;
	wh_fill_at(stmt, 0, w);
	w->pending = (uint64_t)sqlite3_column_int64(stmt, 12);
}

static void wh_bind(sqlite3_stmt *stmt, const struct store_webhook *w)
{
	store_sq_bind_text(stmt, 1, w->name);
	store_sq_bind_text(stmt, 2, w->url);
	sqlite3_bind_int(stmt, 3, w->enabled);
	sqlite3_bind_int(stmt, 4, (int)w->events);
	store_sq_bind_text(stmt, 5, auth_names[w->auth]);
	store_sq_bind_text(stmt, 6, w->username);
	store_sq_bind_text(stmt, 7, w->secret);
}

static int wh_insert(struct store_sq *s, struct store_webhook *w)
{
	uint64_t n = 0;
	int e = store_sq_count(s, "SELECT count(*) FROM webhooks WHERE tenant_id = ?", w->tenant_id, true, &n);
	if (e)
		return e;
	if (n >= STORE_WEBHOOKS_MAX)
		return EDQUOT;
	sqlite3_stmt *stmt;
	if ((e = store_sq_prep(s, "INSERT INTO webhooks (name, url, enabled, events, auth, username, secret, id,"
			       " tenant_id, created_at, updated_at, version) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7,"
			       " ?8, ?9, ?10, ?10, 1 WHERE EXISTS (SELECT 1 FROM tenants WHERE id = ?9)", &stmt)))
		return e;
	w->id = store_id_next();
	w->created_at = w->updated_at = store_now_ms();
	w->version = 1;
	w->pending = 0;
	wh_bind(stmt, w);
	sqlite3_bind_int64(stmt, 8, (sqlite3_int64)w->id);
	sqlite3_bind_int64(stmt, 9, (sqlite3_int64)w->tenant_id);
	sqlite3_bind_int64(stmt, 10, w->created_at);
	return store_sq_step_done(s, stmt, true, "webhook insert"); /* ENOENT: no such tenant */
}

int store_sq_webhook_create(struct store *st, struct store_webhook *w)
{
	struct store_sq *s = (struct store_sq *)st;
	int e = store_sq_tx_begin(s);
	return e ? e : store_sq_tx_end(s, wh_insert(s, w));
}

int store_sq_webhook_get(struct store *st, uint64_t tenant_id, uint64_t id, struct store_webhook *w)
{
	return store_sq_get_by((struct store_sq *)st, "SELECT " WH_COLS ", " WH_PENDING " FROM webhooks w"
			       " WHERE w.tenant_id = ?1 AND w.id = ?2", tenant_id, id, NULL, wh_fill, w);
}

/* One statement: the version check and the write cannot be split by another writer. */
int store_sq_webhook_update(struct store *st, struct store_webhook *w)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "UPDATE webhooks SET name = ?1, url = ?2, enabled = ?3, events = ?4, auth = ?5,"
			      " username = ?6, secret = ?7, updated_at = ?8, version = version + 1"
			      " WHERE id = ?9 AND tenant_id = ?10 AND version = ?11", &stmt);
	if (e)
		return e;
	int64_t now = store_now_ms();
	wh_bind(stmt, w);
	sqlite3_bind_int64(stmt, 8, now);
	sqlite3_bind_int64(stmt, 9, (sqlite3_int64)w->id);
	sqlite3_bind_int64(stmt, 10, (sqlite3_int64)w->tenant_id);
	sqlite3_bind_int64(stmt, 11, w->version);
	e = store_sq_step_done(s, stmt, true, "webhook update");
	if (e == ENOENT) {
		int there = store_sq_exists(s, "SELECT 1 FROM webhooks WHERE id = ?1 AND tenant_id = ?3", w->id, NULL,
					    w->tenant_id);
		return there < 0 ? EIO : there ? ESTALE : ENOENT;
	}
	if (!e) {
		w->version++;
		w->updated_at = now;
	}
	return e;
}

int store_sq_webhook_delete(struct store *st, uint64_t tenant_id, uint64_t id)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "DELETE FROM webhooks WHERE id = ? AND tenant_id = ?", &stmt);
	if (e)
		return e;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)id);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)tenant_id);
	return store_sq_step_done(s, stmt, true, "webhook delete");
}

static void webhooks_destroy(void *data)
{
	struct store_webhooks *l = data;
	mem_deref(l->v);
}

int store_sq_webhook_list(struct store *st, uint64_t tenant_id, struct store_webhooks **out)
{
	struct store_sq *s = (struct store_sq *)st;
	struct store_webhooks *l = mem_zalloc(sizeof(*l), webhooks_destroy);
	if (!l)
		return ENOMEM;
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "SELECT " WH_COLS ", " WH_PENDING " FROM webhooks w WHERE w.tenant_id = ?"
			      " ORDER BY w.id LIMIT ?", &stmt);
	if (!e && !(l->v = mem_zalloc(sizeof(*l->v) * STORE_WEBHOOKS_MAX, NULL))) {
		store_sq_release(s, stmt);
		e = ENOMEM;
	}
	if (!e) {
		sqlite3_bind_int64(stmt, 1, (sqlite3_int64)tenant_id);
		sqlite3_bind_int(stmt, 2, STORE_WEBHOOKS_MAX);
		int rc;
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && l->n < STORE_WEBHOOKS_MAX)
			wh_fill(stmt, &l->v[l->n++]);
		if (rc != SQLITE_DONE && rc != SQLITE_ROW)
			e = store_sq_err(s, rc, "webhook list");
		store_sq_release(s, stmt);
	}
	if (e) {
		mem_deref(l);
		return e;
	}
	*out = l;
	return 0;
}

/* --- the outbox ----------------------------------------------------------------- */

/* The oldest rows of the tenant past `cap`. */
static int outbox_trim(struct store_sq *s, uint64_t tenant_id, uint32_t cap, uint32_t *dropped)
{
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "DELETE FROM webhook_outbox WHERE id IN (SELECT id FROM webhook_outbox"
			      " WHERE tenant_id = ?1 ORDER BY id DESC LIMIT -1 OFFSET ?2)", &stmt);
	if (e)
		return e;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)tenant_id);
	sqlite3_bind_int64(stmt, 2, cap);
	if (!(e = store_sq_step_done(s, stmt, false, "outbox trim")))
		*dropped = (uint32_t)sqlite3_changes(s->db);
	return e;
}

static int outbox_insert(struct store_sq *s, uint64_t tenant_id, unsigned event, const char *json, int64_t now,
			 uint32_t cap, uint32_t *added, uint32_t *dropped)
{
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "INSERT INTO webhook_outbox (webhook_id, tenant_id, event, json, attempts,"
			      " created_at, next_attempt_at) SELECT id, tenant_id, ?2, ?3, 0, ?4, ?4 FROM webhooks"
			      " WHERE tenant_id = ?1 AND enabled AND (events & ?2) ORDER BY id", &stmt);
	if (e)
		return e;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)tenant_id);
	sqlite3_bind_int(stmt, 2, (int)event);
	store_sq_bind_text(stmt, 3, json);
	sqlite3_bind_int64(stmt, 4, now);
	if ((e = store_sq_step_done(s, stmt, false, "outbox insert")))
		return e;
	*added = (uint32_t)sqlite3_changes(s->db);
	return *added ? outbox_trim(s, tenant_id, cap, dropped) : 0;
}

/* A savepoint, as a CDR's insert: alone it is the transaction, inside a batch
 * it undoes only itself. */
int store_sq_outbox_add(struct store *st, uint64_t tenant_id, unsigned event, const char *json, int64_t now_ms,
			uint32_t cap, uint32_t *added, uint32_t *dropped)
{
	struct store_sq *s = (struct store_sq *)st;
	int e = store_sq_exec(s, "SAVEPOINT outbox_add");
	if (e)
		return e;
	e = outbox_insert(s, tenant_id, event, json, now_ms, cap, added, dropped);
	if (!e)
		e = store_sq_exec(s, "RELEASE outbox_add");
	if (e) {
		store_sq_exec(s, "ROLLBACK TO outbox_add; RELEASE outbox_add");
		*added = *dropped = 0;
	}
	return e;
}

static void head_fill(sqlite3_stmt *stmt, void *out)
{
	struct store_outbox_head *h = out;
	wh_fill_at(stmt, 0, &h->wh);
	h->o.id = (uint64_t)sqlite3_column_int64(stmt, 12);
	h->o.webhook_id = h->wh.id;
	h->o.tenant_id = (uint64_t)sqlite3_column_int64(stmt, 13);
	h->o.event = (unsigned)sqlite3_column_int(stmt, 14);
	h->o.json = (const char *)sqlite3_column_text(stmt, 15);
	h->o.attempts = sqlite3_column_int(stmt, 16);
	h->o.created_at = sqlite3_column_int64(stmt, 17);
	h->o.next_attempt_at = sqlite3_column_int64(stmt, 18);
	if (!h->o.json)
		h->o.json = "{}";
}

int store_sq_outbox_heads(struct store *st, store_scan_h *h, void *arg)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, "SELECT " WH_COLS ", o.id, o.tenant_id, o.event, o.json, o.attempts, o.created_at,"
			      " o.next_attempt_at FROM webhooks w JOIN webhook_outbox o ON o.id = (SELECT o2.id"
			      " FROM webhook_outbox o2 WHERE o2.webhook_id = w.id ORDER BY o2.next_attempt_at, o2.id"
			      " LIMIT 1) WHERE w.enabled ORDER BY o.next_attempt_at, o.id", &stmt);
	struct store_outbox_head row;
	memset(&row, 0, sizeof(row));
	return e ? e : store_sq_scan(s, stmt, head_fill, &row, h, arg);
}

int store_sq_outbox_delete(struct store *st, uint64_t id)
{
	return store_sq_session_write((struct store_sq *)st, "DELETE FROM webhook_outbox WHERE id = ?1", NULL, id,
				      NULL, false);
}

static int outbox_defer(struct store_sq *s, uint64_t id, int64_t next_ms)
{
	return store_sq_session_write(s, "UPDATE webhook_outbox SET next_attempt_at = max(next_attempt_at, ?2)"
				      " WHERE webhook_id = (SELECT webhook_id FROM webhook_outbox WHERE id = ?1)",
				      NULL, id, &next_ms, false);
}

int store_sq_outbox_retry(struct store *st, uint64_t id, int attempts, int64_t next_ms, bool whole_webhook)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = store_sq_tx_begin(s);
	if (e)
		return e;
	e = store_sq_prep(s, "UPDATE webhook_outbox SET attempts = ?2, next_attempt_at = ?3 WHERE id = ?1", &stmt);
	if (!e) {
		sqlite3_bind_int64(stmt, 1, (sqlite3_int64)id);
		sqlite3_bind_int(stmt, 2, attempts);
		sqlite3_bind_int64(stmt, 3, next_ms);
		e = store_sq_step_done(s, stmt, false, "outbox retry");
	}
	if (!e && whole_webhook)
		e = outbox_defer(s, id, next_ms);
	return store_sq_tx_end(s, e);
}

int store_sq_outbox_resume(struct store *st, uint64_t webhook_id, int64_t now_ms)
{
	struct store_sq *s = (struct store_sq *)st;
	sqlite3_stmt *stmt;
	int e = store_sq_prep(s, webhook_id ? "UPDATE webhook_outbox SET next_attempt_at = ?2 WHERE webhook_id = ?1"
					      " AND next_attempt_at > ?2"
					    : "UPDATE webhook_outbox SET next_attempt_at = ?2 WHERE next_attempt_at > ?2",
			      &stmt);
	if (e)
		return e;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)webhook_id);
	sqlite3_bind_int64(stmt, 2, now_ms);
	return store_sq_step_done(s, stmt, false, "outbox resume");
}

int store_sq_outbox_expire(struct store *st, int64_t before_ms, uint32_t *n)
{
	struct store_sq *s = (struct store_sq *)st;
	int e = store_sq_session_write(s, "DELETE FROM webhook_outbox WHERE created_at < ?2", NULL, 0, &before_ms,
				       false);
	if (!e)
		*n = (uint32_t)sqlite3_changes(s->db);
	return e;
}
