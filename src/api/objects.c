/* Configuration objects (store_obj) through REST: one list/create/read/update/
 * delete/export for every kind, each kind described by a struct api_obj_type
 * (its schemas, what it checks, how it answers). A kind owned by tenants is
 * reached by tenant administrators (and system admins switched into the
 * tenant); a kind the system may own too (providers) gives a system admin its
 * own objects, which tenants see only where assigned to them, read-only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "core/mem.h"

static const struct api_obj_type *type_of(const struct api_req *rq)
{
	size_t n;
	const struct api_obj_type *const *all = api_obj_types(&n);
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(all[i]->path);
		if (strncmp(rq->path, all[i]->path, l) == 0 && (rq->path[l] == '\0' || rq->path[l] == '/'))
			return all[i];
	}
	return NULL;
}

int api_obj_scope(const struct api_req *rq, const struct api_obj_type *t, uint64_t *tenant_id, struct api_resp *rs)
{
	if (rq->who.sysadmin && !rq->who.tenant_id) {
		if (!t->system)
			return api_error(rs, 403, "forbidden", NULL, "%ss belong to a tenant: switch into the tenant first",
					 t->what);
		*tenant_id = 0;
		return 0;
	}
	if (rq->who.tenant_admin && rq->who.tenant_id) {
		*tenant_id = rq->who.tenant_id;
		return 0;
	}
	return api_error(rs, 403, "forbidden", NULL, "this needs a tenant administrator or a system administrator");
}

bool api_obj_assigned(const json_t *j, uint64_t tenant_id)
{
	size_t i;
	json_t *v;
	char id[24];
	snprintf(id, sizeof(id), "%llu", (unsigned long long)tenant_id);
	json_array_foreach(json_object_get(j, "assignees"), i, v) {
		const char *s = json_string_value(v);
		if (s && strcmp(s, id) == 0)
			return true;
	}
	return false;
}

/* The answer: id, the stored fields, the times; the kind takes out its secrets
 * and adds what it computes. */
json_t *api_obj_json(struct api_req *rq, const struct api_obj_type *t, const struct store_obj *o)
{
	json_t *j = o->json ? json_loads(o->json, 0, NULL) : NULL;
	if (!json_is_object(j)) {
		json_decref(j);
		j = json_object();
	}
	json_t *out = json_object();
	json_object_set_new(out, "id", api_json_id(o->id));
	json_object_update(out, j);
	json_object_set_new(out, "created_at", api_json_time(o->created_at));
	json_object_set_new(out, "updated_at", api_json_time(o->updated_at));
	if (t->out)
		t->out(rq, o, out);
	json_decref(j);
	return out;
}

/* A tenant reads the system's objects of a shared kind assigned to it. */
int api_obj_get_visible(struct api_req *rq, const struct api_obj_type *t, uint64_t scope, uint64_t id,
			struct store_obj *o, bool *own)
{
	*own = true;
	int e = store_obj_get(rq->st, t->kind, scope, id, o);
	if (e != ENOENT || !t->shared || !scope)
		return e;
	*own = false;
	if ((e = store_obj_get(rq->st, t->kind, 0, id, o)))
		return e;
	json_t *j = json_loads(o->json, 0, NULL);
	bool ok = api_obj_assigned(j, scope);
	json_decref(j);
	if (!ok) {
		store_obj_reset(o);
		return ENOENT;
	}
	return 0;
}

static json_t *list_json(struct api_req *rq, const struct api_obj_type *t, uint64_t scope, int *err)
{
	struct store_objs *l = NULL, *sys = NULL;
	*err = store_obj_list(rq->st, t->kind, scope, &l);
	if (!*err && t->shared && scope)
		*err = store_obj_list(rq->st, t->kind, 0, &sys);
	json_t *items = *err ? NULL : json_array();
	for (size_t i = 0; items && sys && i < sys->n; i++) {
		json_t *j = json_loads(sys->v[i].json, 0, NULL);
		if (api_obj_assigned(j, scope))
			json_array_append_new(items, api_obj_json(rq, t, &sys->v[i]));
		json_decref(j);
	}
	for (size_t i = 0; items && i < l->n; i++)
		json_array_append_new(items, api_obj_json(rq, t, &l->v[i]));
	mem_deref(l);
	mem_deref(sys);
	return items;
}

void api_h_obj_list(struct api_req *rq, struct api_resp *rs)
{
	const struct api_obj_type *t = type_of(rq);
	uint64_t scope;
	uint32_t skip = 0, top = STORE_OBJS_MAX;
	if (!t || api_obj_scope(rq, t, &scope, rs) || api_page_query(rq, &skip, &top, rs))
		return;
	int e;
	json_t *items = list_json(rq, t, scope, &e);
	if (!items) {
		api_store_error(rs, rq->st, e, t->what);
		return;
	}
	size_t n = json_array_size(items);
	json_t *page = json_array();
	for (size_t i = skip; i < n && i - skip < top; i++)
		json_array_append(page, json_array_get(items, i));
	json_decref(items);
	api_ok(rs, 200, json_pack("{s:I, s:o}", "count", (json_int_t)n, "items", page));
}

static void changed(struct api_req *rq, const struct api_obj_type *t)
{
	pbx_notify_objects(rq->api->pbx, t->kind, true);
}

/* Runs the kind's checks and the write in one transaction: what they read of
 * other objects (a DID's overlap with other rules) cannot change before it.
 * 0, the status answered in rs, or -1 (nothing answered) for a stale version. */
static int write_checked(struct api_req *rq, const struct api_obj_type *t, struct store_obj *o, json_t *j, bool create,
			 struct api_resp *rs)
{
	int e = store_tx_begin(rq->st);
	if (e)
		return api_store_error(rs, rq->st, e, t->what);
	int st = t->take ? t->take(rq, o, j, create, rs) : 0;
	char *txt = st ? NULL : json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	if (!st && !txt)
		st = api_error(rs, 500, "internal", NULL, "out of memory");
	if (!st && strlen(txt) > STORE_OBJ_JSON_MAX)
		st = api_error(rs, 422, "invalid_field", NULL, "the %s is too large", t->what);
	if (!st) {
		mem_deref(o->json);
		o->json = mem_strndup(txt, strlen(txt));
		e = !o->json ? ENOMEM : create ? store_obj_create(rq->st, o) : store_obj_update(rq->st, o);
	}
	free(txt);
	e = store_tx_end(rq->st, st ? EINVAL : e);
	if (st)
		return st;
	if (e == ESTALE)
		return -1; /* nothing answered: the caller reads it again */
	if (e == EEXIST)
		return api_error(rs, 409, "conflict", t->key_field, "%s: already in use by another %s",
				 t->key_field ? t->key_field : "key", t->what);
	if (e == EDQUOT)
		return api_error(rs, 409, "limit_reached", NULL, "at most %d %ss", STORE_OBJS_MAX, t->what);
	return e ? api_store_error(rs, rq->st, e, t->what) : 0;
}

void api_h_obj_create(struct api_req *rq, struct api_resp *rs)
{
	const struct api_obj_type *t = type_of(rq);
	uint64_t scope;
	if (!t || api_obj_scope(rq, t, &scope, rs) || api_validate(t->create, rq->json, true, rs))
		return;
	struct store_obj o = { .kind = t->kind, .tenant_id = scope };
	json_t *j = json_deep_copy(rq->json);
	int st = write_checked(rq, t, &o, j, true, rs);
	json_decref(j);
	if (!st) {
		changed(rq, t);
		api_ok(rs, 201, api_obj_json(rq, t, &o));
	}
	store_obj_reset(&o);
}

void api_h_obj_get(struct api_req *rq, struct api_resp *rs)
{
	const struct api_obj_type *t = type_of(rq);
	uint64_t scope;
	if (!t || api_obj_scope(rq, t, &scope, rs))
		return;
	struct store_obj o = { 0 };
	bool own;
	int e = api_obj_get_visible(rq, t, scope, rq->id, &o, &own);
	if (e)
		api_store_error(rs, rq->st, e, t->what);
	else
		api_ok(rs, 200, api_obj_json(rq, t, &o));
	store_obj_reset(&o);
}

/* Read, apply the fields given, write if nobody wrote it meanwhile; else again. */
void api_h_obj_update(struct api_req *rq, struct api_resp *rs)
{
	const struct api_obj_type *t = type_of(rq);
	uint64_t scope;
	if (!t || api_obj_scope(rq, t, &scope, rs) || api_validate(t->update, rq->json, false, rs))
		return;
	struct store_obj o = { 0 };
	int e = ESTALE, st = 0;
	for (int i = 0; i < API_EDIT_TRIES && e == ESTALE && !st; i++) {
		store_obj_reset(&o);
		bool own;
		if ((e = api_obj_get_visible(rq, t, scope, rq->id, &o, &own)))
			break;
		if (!own) {
			st = api_error(rs, 403, "forbidden", NULL, "this %s is the system's: only a system administrator"
				       " changes it", t->what);
			break;
		}
		json_t *j = json_loads(o.json, 0, NULL);
		if (!json_is_object(j)) {
			json_decref(j);
			j = json_object();
		}
		const char *k;
		json_t *v;
		json_object_foreach(rq->json, k, v) {
			if (json_is_null(v))
				json_object_del(j, k);
			else
				json_object_set(j, k, v);
		}
		st = write_checked(rq, t, &o, j, false, rs);
		json_decref(j);
		if (st == -1) { /* written meanwhile: again on what is there */
			st = 0;
			e = ESTALE;
			continue;
		}
		e = 0;
	}
	if (!st && e)
		api_store_error(rs, rq->st, e, t->what);
	else if (!st) {
		changed(rq, t);
		api_ok(rs, 200, api_obj_json(rq, t, &o));
	}
	store_obj_reset(&o);
}

void api_h_obj_destroy(struct api_req *rq, struct api_resp *rs)
{
	const struct api_obj_type *t = type_of(rq);
	uint64_t scope;
	if (!t || api_obj_scope(rq, t, &scope, rs))
		return;
	/* The check that nothing uses it and the delete are one step. */
	int e = store_tx_begin(rq->st);
	if (e) {
		api_store_error(rs, rq->st, e, t->what);
		return;
	}
	struct store_obj o = { 0 };
	int st = 0;
	e = store_obj_get(rq->st, t->kind, scope, rq->id, &o);
	if (!e && t->deletable)
		st = t->deletable(rq, &o, rs);
	if (!e && !st)
		e = store_obj_delete(rq->st, t->kind, scope, rq->id);
	e = store_tx_end(rq->st, st ? EINVAL : e);
	store_obj_reset(&o);
	if (st)
		return;
	if (e) {
		api_store_error(rs, rq->st, e, t->what);
		return;
	}
	changed(rq, t);
	api_ok(rs, 204, NULL);
}

/* --- export --------------------------------------------------------------------------- */

/* A cell a spreadsheet would run as a formula is made text (a leading '); a
 * signed number such as +4420... (nothing but digits after the sign) stays. */
static bool all_digits(const char *p)
{
	if (!*p)
		return false;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
	}
	return true;
}

static void csv_cell(struct mbuf *mb, const char *v)
{
	bool formula = v[0] == '=' || v[0] == '@' || v[0] == '\t' || v[0] == '\r' ||
		       ((v[0] == '+' || v[0] == '-') && !all_digits(v + 1));
	bool quote = formula || strpbrk(v, ",\"\r\n") != NULL;
	if (quote)
		mbuf_write_str(mb, "\"");
	if (formula)
		mbuf_write_str(mb, "'");
	for (const char *p = v; *p; p++) {
		if (*p == '"')
			mbuf_write_str(mb, "\"");
		mbuf_write_mem(mb, (const uint8_t *)p, 1);
	}
	if (quote)
		mbuf_write_str(mb, "\"");
}

static void csv_value(struct mbuf *mb, const json_t *v)
{
	char buf[32];
	if (json_is_string(v)) {
		csv_cell(mb, json_string_value(v));
	} else if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
		csv_cell(mb, buf);
	} else if (json_is_boolean(v)) {
		csv_cell(mb, json_is_true(v) ? "true" : "false");
	} else if (json_is_array(v) && json_array_size(v) && json_is_string(json_array_get(v, 0))) {
		/* a list of ids or numbers: one cell, separated by ';' */
		struct mbuf *cell = mbuf_alloc(64, 4096);
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x) {
			if (cell && i)
				mbuf_write_str(cell, ";");
			if (cell && json_is_string(x))
				mbuf_write_str(cell, json_string_value(x));
		}
		if (cell && mbuf_write_mem(cell, (const uint8_t *)"", 1) == 0)
			csv_cell(mb, (const char *)cell->buf);
		mem_deref(cell);
	} else if (v && !json_is_null(v) && !json_is_array(v)) {
		char *txt = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
		if (txt)
			csv_cell(mb, txt);
		free(txt);
	}
}

void api_h_obj_export(struct api_req *rq, struct api_resp *rs)
{
	const struct api_obj_type *t = type_of(rq);
	uint64_t scope;
	if (!t || api_obj_scope(rq, t, &scope, rs))
		return;
	int e;
	json_t *items = list_json(rq, t, scope, &e);
	struct mbuf *mb = items ? mbuf_alloc(4096, 64 * 1024 * 1024) : NULL;
	if (!items || !mb) {
		json_decref(items);
		if (items)
			api_error(rs, 500, "internal", NULL, "out of memory");
		else
			api_store_error(rs, rq->st, e, t->what);
		return;
	}
	for (const char *const *c = t->columns; *c; c++) {
		if (c != t->columns)
			mbuf_write_str(mb, ",");
		mbuf_write_str(mb, *c);
	}
	mbuf_write_str(mb, "\r\n");
	size_t i;
	json_t *it;
	json_array_foreach(items, i, it) {
		for (const char *const *c = t->columns; *c; c++) {
			if (c != t->columns)
				mbuf_write_str(mb, ",");
			csv_value(mb, json_object_get(it, *c));
		}
		mbuf_write_str(mb, "\r\n");
	}
	json_decref(items);
	int err = mbuf_write_mem(mb, (const uint8_t *)"", 1);
	rs->text = err ? NULL : strdup((const char *)mb->buf);
	mem_deref(mb);
	if (!rs->text) {
		api_error(rs, 500, "internal", NULL, "the export is too large");
		return;
	}
	rs->ctype = "text/csv; charset=utf-8";
	snprintf(rs->filename, sizeof(rs->filename), "%s", t->export_name);
	rs->status = 200;
}
