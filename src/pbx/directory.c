/* In-memory tenants and extensions for the signalling thread (see directory.h):
 * three hash tables (tenants by id and by domain, extensions by user id) and a
 * per-tenant table of extensions by number. Office hours, holidays and feature
 * codes are kept parsed (pbx/schedule.h, pbx/feature_codes.h), ready for a call. */
#include "pbx/directory.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/hash.h"
#include "core/log.h"
#include "core/mem.h"

#define BUCKETS 4096 /* per table; chains stay short up to tens of thousands */

struct directory {
	struct hash tenants_id, tenants_domain, exts_user, exts_num;
	struct list tenants;
	size_t ntenants, nexts;
	dir_drop_h *drop;
	void *arg;
};

/* Extensions are keyed by (tenant, number) in one table for all tenants. */
static uint32_t num_key(uint64_t tenant_id, const char *num, size_t len)
{
	return hash_u64(tenant_id) ^ hash_str_case(num, len);
}

static void ext_destroy(void *arg)
{
	struct dir_ext *x = arg;
	json_decref(x->settings);
	mem_deref(x->holidays);
}

static void tenant_destroy(void *arg)
{
	struct dir_tenant *t = arg;
	mem_deref(t->holidays);
}

static void ext_free(struct directory *d, struct dir_ext *x)
{
	list_unlink(&x->le_tenant);
	list_unlink(&x->le_num);
	list_unlink(&x->le_id);
	d->nexts--;
	mem_deref(x);
}

static void tenant_free(struct directory *d, struct dir_tenant *t)
{
	while (t->exts.head)
		ext_free(d, t->exts.head->data);
	list_unlink(&t->le_id);
	list_unlink(&t->le_domain);
	list_unlink(&t->le_all);
	d->ntenants--;
	mem_deref(t);
}

static void dir_destroy(void *arg)
{
	struct directory *d = arg;
	while (d->tenants.head)
		tenant_free(d, d->tenants.head->data);
	hash_close(&d->tenants_id);
	hash_close(&d->tenants_domain);
	hash_close(&d->exts_user);
	hash_close(&d->exts_num);
}

int directory_alloc(struct directory **dp, dir_drop_h *drop, void *arg)
{
	struct directory *d = mem_zalloc(sizeof(*d), dir_destroy);
	if (!d)
		return ENOMEM;
	d->drop = drop;
	d->arg = arg;
	if (hash_init(&d->tenants_id, BUCKETS) || hash_init(&d->tenants_domain, BUCKETS) ||
	    hash_init(&d->exts_user, BUCKETS) || hash_init(&d->exts_num, BUCKETS)) {
		mem_deref(d);
		return ENOMEM;
	}
	*dp = d;
	return 0;
}

struct dir_tenant *directory_tenant(const struct directory *d, uint64_t id)
{
	LIST_FOREACH(hash_bucket((struct hash *)&d->tenants_id, hash_u64(id)), le) {
		struct dir_tenant *t = le->data;
		if (t->id == id)
			return t;
	}
	return NULL;
}

struct dir_tenant *directory_tenant_by_domain(const struct directory *d, const struct pl *domain)
{
	LIST_FOREACH(hash_bucket((struct hash *)&d->tenants_domain, hash_str_case(domain->p, domain->l)), le) {
		struct dir_tenant *t = le->data;
		if (strlen(t->domain) == domain->l && strncasecmp(t->domain, domain->p, domain->l) == 0)
			return t;
	}
	return NULL;
}

struct dir_ext *directory_ext(const struct dir_tenant *t, const struct pl *number)
{
	struct directory *d = t->dir;
	LIST_FOREACH(hash_bucket(&d->exts_num, num_key(t->id, number->p, number->l)), le) {
		struct dir_ext *x = le->data;
		if (x->tenant == t && strlen(x->number) == number->l && memcmp(x->number, number->p, number->l) == 0)
			return x;
	}
	return NULL;
}

struct dir_ext *directory_ext_by_user(const struct directory *d, uint64_t user_id)
{
	LIST_FOREACH(hash_bucket((struct hash *)&d->exts_user, hash_u64(user_id)), le) {
		struct dir_ext *x = le->data;
		if (x->user_id == user_id)
			return x;
	}
	return NULL;
}

bool directory_usable(const struct dir_ext *x)
{
	return x && x->enabled && x->tenant->enabled;
}

static void drop(struct directory *d, const struct dir_ext *x)
{
	if (d->drop)
		d->drop(x, d->arg);
}

int directory_tenant_put(struct directory *d, const struct store_tenant *st)
{
	struct dir_tenant *t = directory_tenant(d, st->id);
	if (!t) {
		t = mem_zalloc(sizeof(*t), tenant_destroy);
		if (!t)
			return ENOMEM;
		t->id = st->id;
		t->dir = d;
		feature_codes_default(&t->codes);
		hash_insert(&d->tenants_id, hash_u64(t->id), &t->le_id, t);
		list_append(&d->tenants, &t->le_all, t);
		d->ntenants++;
	} else {
		list_unlink(&t->le_domain);
		if (t->enabled && !st->enabled) {
			LIST_FOREACH(&t->exts, le)
				drop(d, le->data);
		}
	}
	snprintf(t->domain, sizeof(t->domain), "%s", st->domain);
	for (char *p = t->domain; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	snprintf(t->name, sizeof(t->name), "%s", st->name);
	snprintf(t->tz, sizeof(t->tz), "%s", st->timezone);
	t->enabled = st->enabled;
	t->max_calls = st->max_calls;
	hash_insert(&d->tenants_domain, hash_str_case(t->domain, strlen(t->domain)), &t->le_domain, t);
	return 0;
}

void directory_tenant_remove(struct directory *d, uint64_t id)
{
	struct dir_tenant *t = directory_tenant(d, id);
	if (!t)
		return;
	LIST_FOREACH(&t->exts, le)
		drop(d, le->data);
	tenant_free(d, t);
}

/* What the call engine reads of the settings; the defaults are the API's. */
static void settings_take(struct dir_ext *x, const char *settings)
{
	x->max_calls = 2;
	x->call_waiting = true;
	x->dnd = false;
	json_decref(x->settings);
	x->settings = NULL;
	x->forwarding = NULL;
	json_t *j = settings ? json_loads(settings, 0, NULL) : NULL;
	if (!j)
		return;
	x->dnd = json_is_true(json_object_get(j, "dnd"));
	x->settings = json_incref(j);
	x->forwarding = json_object_get(j, "forwarding");
	json_t *v = json_object_get(j, "max_simultaneous_calls");
	if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 1000)
		x->max_calls = (uint32_t)json_integer_value(v);
	v = json_object_get(j, "call_waiting");
	if (json_is_boolean(v))
		x->call_waiting = json_is_true(v);
	json_decref(j);
}

int directory_ext_put(struct directory *d, const struct store_user *u)
{
	struct dir_tenant *t = directory_tenant(d, u->tenant_id);
	if (!t)
		return ENOENT;
	struct dir_ext *x = directory_ext_by_user(d, u->id);
	if (x && (x->tenant != t || strcmp(x->number, u->ext_number) != 0 || strcmp(x->password, u->ext_password) != 0 ||
		  !u->enabled))
		memset(x->webcred, 0, sizeof(x->webcred)); /* the browser phones sign in again */
	if (x && (x->tenant != t || strcmp(x->number, u->ext_number) != 0 || (x->enabled && !u->enabled))) {
		/* A new number (or owner) is another address: what was bound to the
		 * old one goes. */
		drop(d, x);
		list_unlink(&x->le_num);
	}
	if (!x) {
		x = mem_zalloc(sizeof(*x), ext_destroy);
		if (!x)
			return ENOMEM;
		x->user_id = u->id;
		hash_insert(&d->exts_user, hash_u64(x->user_id), &x->le_id, x);
		d->nexts++;
	}
	if (x->tenant != t) {
		list_unlink(&x->le_tenant);
		x->tenant = t;
		list_append(&t->exts, &x->le_tenant, x);
	}
	if (!le_linked(&x->le_num) || strcmp(x->number, u->ext_number) != 0) {
		list_unlink(&x->le_num);
		snprintf(x->number, sizeof(x->number), "%s", u->ext_number);
		hash_insert(&d->exts_num, num_key(t->id, x->number, strlen(x->number)), &x->le_num, x);
	}
	snprintf(x->password, sizeof(x->password), "%s", u->ext_password);
	snprintf(x->display_name, sizeof(x->display_name), "%s", u->display_name);
	x->enabled = u->enabled;
	settings_take(x, u->settings);
	return 0;
}

void directory_ext_remove(struct directory *d, uint64_t user_id)
{
	struct dir_ext *x = directory_ext_by_user(d, user_id);
	if (!x)
		return;
	drop(d, x);
	ext_free(d, x);
}

/* --- office hours, holidays, feature codes ---------------------------------------- */

int directory_tenant_settings_put(struct directory *d, const struct store_tenant_settings *s)
{
	struct dir_tenant *t = directory_tenant(d, s->tenant_id);
	if (!t)
		return ENOENT;
	struct sched_err err;
	t->has_hours = false;
	if (s->office_hours[0]) {
		json_t *week = json_loads(s->office_hours, 0, NULL);
		t->has_hours = sched_shifts_from_week(&t->hours, week, "office_hours", &err) == 0;
		if (!t->has_hours)
			log_warn("pbx: tenant %s: office hours ignored (open at all times): %s", t->domain,
				 week ? err.msg : "not JSON");
		json_decref(week);
	}
	json_t *codes = s->feature_codes[0] ? json_loads(s->feature_codes, 0, NULL) : NULL;
	if ((s->feature_codes[0] && !codes) || feature_codes_from_json(&t->codes, codes, "feature_codes", &err)) {
		log_warn("pbx: tenant %s: feature codes ignored (the defaults apply): %s", t->domain,
			 codes ? err.msg : "not JSON");
		feature_codes_default(&t->codes);
	}
	json_decref(codes);
	return 0;
}

/* Where a holiday of (tenant, user) is kept: the tenant's or the extension's list. */
static struct sched_holidays **holidays_of(struct directory *d, uint64_t tenant_id, uint64_t user_id)
{
	if (!user_id) {
		struct dir_tenant *t = directory_tenant(d, tenant_id);
		return t ? &t->holidays : NULL;
	}
	struct dir_ext *x = directory_ext_by_user(d, user_id);
	return x && x->tenant->id == tenant_id ? &x->holidays : NULL;
}

static int holiday_append(struct sched_holidays **hsp, const struct store_holiday *h)
{
	struct sched_holiday one;
	struct sched_err err;
	json_t *j = json_loads(h->json, 0, NULL);
	bool parsed = j != NULL;
	int e = sched_holiday_from_json(&one, j, "holiday", &err);
	json_decref(j);
	if (e) {
		log_warn("pbx: holiday %llu ignored: %s", (unsigned long long)h->id, parsed ? err.msg : "not JSON");
		return 0;
	}
	if (!*hsp && sched_holidays_alloc(hsp))
		return ENOMEM;
	return sched_holidays_add(*hsp, &one);
}

int directory_holidays_put(struct directory *d, uint64_t tenant_id, uint64_t user_id,
			   const struct store_holidays *hs)
{
	struct sched_holidays **hsp = holidays_of(d, tenant_id, user_id);
	if (!hsp)
		return ENOENT;
	struct sched_holidays *fresh = NULL;
	for (size_t i = 0; hs && i < hs->n; i++) {
		int e = holiday_append(&fresh, &hs->v[i]);
		if (e) {
			mem_deref(fresh);
			return e; /* the old list stays */
		}
	}
	mem_deref(*hsp);
	*hsp = fresh;
	return 0;
}

int directory_holiday_add(struct directory *d, const struct store_holiday *h)
{
	struct sched_holidays **hsp = holidays_of(d, h->tenant_id, h->user_id);
	return hsp ? holiday_append(hsp, h) : ENOENT;
}

size_t directory_tenant_count(const struct directory *d) { return d->ntenants; }
size_t directory_ext_count(const struct directory *d) { return d->nexts; }

static int load_tenant(const void *row, void *arg)
{
	return directory_tenant_put(arg, row);
}

static int load_user(const void *row, void *arg)
{
	int e = directory_ext_put(arg, row);
	return e == ENOENT ? 0 : e; /* a user whose tenant went meanwhile */
}

static int load_settings(const void *row, void *arg)
{
	int e = directory_tenant_settings_put(arg, row);
	return e == ENOENT ? 0 : e;
}

static int load_holiday(const void *row, void *arg)
{
	int e = directory_holiday_add(arg, row);
	return e == ENOENT ? 0 : e; /* its owner went meanwhile */
}

int directory_load(struct directory *d, struct store *st)
{
	int e = store_tenant_scan(st, load_tenant, d);
	if (!e)
		e = store_user_scan(st, load_user, d);
	if (!e)
		e = store_tenant_settings_scan(st, load_settings, d);
	if (!e)
		e = store_holiday_scan(st, load_holiday, d);
	if (e)
		log_error("pbx: cannot load tenants and extensions: %s", strerror(e));
	else
		log_info("pbx: %zu tenants, %zu extensions", d->ntenants, d->nexts);
	return e;
}
