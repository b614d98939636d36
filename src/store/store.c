/* The backend-independent half of the store: id generation, password hashing, the
 * filterable-field tables, and the dispatchers that hide the ops table. */
#include "store/store.h"

#include <argon2.h>
#include <errno.h>
#include <openssl/rand.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "store/store_backend.h"

#define ID_EPOCH_MS 1577836800000LL /* 2020-01-01T00:00:00Z */
#define ID_SEQ_BITS 22

int64_t store_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The last id handed out. Process-wide on purpose: ids must increase across every
 * thread that creates rows; a lock-free compare-and-swap keeps that cheap. */
static _Atomic uint64_t id_last;

uint64_t store_id_next(void)
{
	int64_t ms = store_now_ms() - ID_EPOCH_MS;
	uint64_t cand = (uint64_t)(ms < 0 ? 0 : ms) << ID_SEQ_BITS;
	uint64_t last = atomic_load(&id_last);
	for (;;) {
		/* Same millisecond, or the clock stepped back: continue the sequence
		 * (borrowing from the next milliseconds if 4M ids/ms were ever used). */
		uint64_t next = cand > last ? cand : last + 1;
		if (atomic_compare_exchange_weak(&id_last, &last, next))
			return next;
	}
}

int64_t store_id_time_ms(uint64_t id)
{
	return (int64_t)(id >> ID_SEQ_BITS) + ID_EPOCH_MS;
}

/* OWASP's Argon2id baseline: 19 MiB, 2 passes, 1 lane. Tests lower it so that
 * hundreds of users can be created quickly; pbxd never calls store_pw_set_fast. */
static atomic_bool pw_fast;

void store_pw_set_fast(bool fast)
{
	atomic_store(&pw_fast, fast);
}

int store_pw_hash(const char *password, char *out, size_t outsz)
{
	uint8_t salt[16];
	uint32_t t = 2, m = 19456;
	if (atomic_load(&pw_fast)) {
		t = 1;
		m = 64;
	}
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return EIO;
	size_t need = argon2_encodedlen(t, m, 1, sizeof(salt), 32, Argon2_id);
	if (need > outsz)
		return ENOSPC;
	int r = argon2id_hash_encoded(t, m, 1, password, strlen(password), salt, sizeof(salt), 32,
				      out, outsz);
	return r == ARGON2_OK ? 0 : EINVAL;
}

int store_pw_verify(const char *encoded, const char *password)
{
	int r = argon2id_verify(encoded, password, strlen(password));
	if (r == ARGON2_OK)
		return 0;
	return r == ARGON2_VERIFY_MISMATCH ? EACCES : EINVAL;
}

/* --- filterable fields --------------------------------------------------------- */

static const struct store_field tenant_fields[] = {
	{ "id", STORE_F_ID, false },
	{ "name", STORE_F_STR, true },
	{ "domain", STORE_F_STR, true },
	{ "enabled", STORE_F_BOOL, false },
};

static const struct store_field user_fields[] = {
	{ "id", STORE_F_ID, false },
	{ "username", STORE_F_STR, true },
	{ "display_name", STORE_F_STR, true },
	{ "email", STORE_F_STR, true },
	{ "role", STORE_F_STR, false },
	{ "enabled", STORE_F_BOOL, false },
	{ "extension_number", STORE_F_STR, true },
};

const struct store_field *store_fields(enum store_kind kind, size_t *n)
{
	if (kind == STORE_KIND_TENANT) {
		*n = sizeof(tenant_fields) / sizeof(tenant_fields[0]);
		return tenant_fields;
	}
	*n = sizeof(user_fields) / sizeof(user_fields[0]);
	return user_fields;
}

const struct store_field *store_field_find(enum store_kind kind, const char *name)
{
	size_t n;
	const struct store_field *f = store_fields(kind, &n);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(f[i].name, name) == 0)
			return &f[i];
	}
	return NULL;
}

void store_query_init(struct store_query *q)
{
	memset(q, 0, sizeof(*q));
	q->top = 20;
}

void store_user_reset(struct store_user *u)
{
	u->settings = mem_deref(u->settings);
}

/* --- the connection ------------------------------------------------------------- */

int store_open(struct store **stp, const char *data_dir)
{
	return store_sqlite_open(stp, data_dir);
}

void store_close(struct store *st)
{
	if (st)
		st->ops->close(st);
}

const char *store_conflict_field(const struct store *st)
{
	return st->conflict;
}

int store_schema_version(struct store *st, int *version)
{
	return st->ops->schema_version(st, version);
}

int store_admin_create(struct store *st, struct store_admin *a) { return st->ops->admin_create(st, a); }
int store_admin_get(struct store *st, uint64_t id, struct store_admin *a) { return st->ops->admin_get(st, id, a); }
int store_admin_get_by_name(struct store *st, const char *username, struct store_admin *a)
{
	return st->ops->admin_get_by_name(st, username, a);
}
int store_admin_update(struct store *st, struct store_admin *a, uint64_t keep_grant)
{
	return st->ops->admin_update(st, a, keep_grant);
}
int store_admin_count(struct store *st, uint64_t *n) { return st->ops->admin_count(st, n); }

int store_tenant_create(struct store *st, struct store_tenant *t, struct store_user *first_admin)
{
	return st->ops->tenant_create(st, t, first_admin);
}
int store_tenant_get(struct store *st, uint64_t id, struct store_tenant *t) { return st->ops->tenant_get(st, id, t); }
int store_tenant_get_by_domain(struct store *st, const char *domain, struct store_tenant *t)
{
	return st->ops->tenant_get_by_domain(st, domain, t);
}
int store_tenant_update(struct store *st, struct store_tenant *t) { return st->ops->tenant_update(st, t); }
int store_tenant_delete(struct store *st, uint64_t id) { return st->ops->tenant_delete(st, id); }
int store_tenant_list(struct store *st, const struct store_query *q, struct store_tenants **out)
{
	return st->ops->tenant_list(st, q, out);
}

int store_user_create(struct store *st, struct store_user *u)
{
	return u->tenant_id ? st->ops->user_create(st, u) : EINVAL;
}
int store_user_get(struct store *st, uint64_t tenant_id, uint64_t id, struct store_user *u)
{
	return tenant_id ? st->ops->user_get(st, tenant_id, id, u) : EINVAL;
}
int store_user_get_by_name(struct store *st, uint64_t tenant_id, const char *username, struct store_user *u)
{
	return tenant_id ? st->ops->user_get_by_name(st, tenant_id, username, u) : EINVAL;
}
int store_user_get_by_ext(struct store *st, uint64_t tenant_id, const char *number, struct store_user *u)
{
	return tenant_id ? st->ops->user_get_by_ext(st, tenant_id, number, u) : EINVAL;
}
int store_user_update(struct store *st, struct store_user *u, uint64_t keep_grant)
{
	return u->tenant_id ? st->ops->user_update(st, u, keep_grant) : EINVAL;
}
int store_user_delete(struct store *st, uint64_t tenant_id, uint64_t id)
{
	return tenant_id ? st->ops->user_delete(st, tenant_id, id) : EINVAL;
}
int store_user_list(struct store *st, uint64_t tenant_id, const struct store_query *q, struct store_users **out)
{
	return tenant_id ? st->ops->user_list(st, tenant_id, q, out) : EINVAL;
}
int store_user_count(struct store *st, uint64_t tenant_id, uint64_t *n)
{
	return tenant_id ? st->ops->user_count(st, tenant_id, n) : EINVAL;
}

int store_session_put(struct store *st, const struct store_session *s) { return st->ops->session_put(st, s); }
int store_session_get(struct store *st, const uint8_t hash[32], struct store_session *s)
{
	return st->ops->session_get(st, hash, s);
}
int store_session_delete(struct store *st, const uint8_t hash[32]) { return st->ops->session_delete(st, hash); }
int store_session_delete_grant(struct store *st, uint64_t grant_id) { return st->ops->session_delete_grant(st, grant_id); }
int store_session_spend(struct store *st, const uint8_t hash[32], int64_t now_ms, struct store_session *old,
			struct store_session next[2])
{
	return st->ops->session_spend(st, hash, now_ms, old, next);
}
int store_session_delete_user(struct store *st, uint64_t user_id, uint64_t keep_grant)
{
	return user_id ? st->ops->session_delete_user(st, user_id, keep_grant) : EINVAL;
}
int store_session_delete_admin(struct store *st, uint64_t admin_id, uint64_t keep_grant)
{
	return admin_id ? st->ops->session_delete_admin(st, admin_id, keep_grant) : EINVAL;
}
int store_session_delete_tenant(struct store *st, uint64_t tenant_id)
{
	return tenant_id ? st->ops->session_delete_tenant(st, tenant_id) : EINVAL;
}
int store_session_purge(struct store *st, int64_t now_ms) { return st->ops->session_purge(st, now_ms); }

int store_tx_begin(struct store *st) { return st->ops->tx_begin(st); }
int store_tx_end(struct store *st, int err) { return st->ops->tx_end(st, err); }
int store_tenant_scan(struct store *st, store_scan_h *h, void *arg) { return st->ops->tenant_scan(st, h, arg); }
int store_user_scan(struct store *st, store_scan_h *h, void *arg) { return st->ops->user_scan(st, h, arg); }
int store_location_put(struct store *st, const struct store_location *l)
{
	return l->tenant_id && l->user_id ? st->ops->location_put(st, l) : EINVAL;
}
int store_location_delete(struct store *st, uint64_t id) { return st->ops->location_delete(st, id); }
int store_location_scan(struct store *st, int64_t now_ms, store_scan_h *h, void *arg)
{
	return st->ops->location_scan(st, now_ms, h, arg);
}

void store_cdr_filter_init(struct store_cdr_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->top = 20;
}

int store_cdr_insert(struct store *st, const struct store_cdr *c)
{
	if (!c->id || !c->tenant_id || !c->json || c->nusers > STORE_CDR_USERS)
		return EINVAL;
	return st->ops->cdr_insert(st, c);
}
int store_cdr_list(struct store *st, uint64_t tenant_id, const struct store_cdr_filter *f,
		   struct store_cdrs **out)
{
	return tenant_id ? st->ops->cdr_list(st, tenant_id, f, out) : EINVAL;
}
int store_cdr_purge(struct store *st, int64_t before) { return st->ops->cdr_purge(st, before); }

const char *store_wh_event_name(unsigned bit)
{
	return bit == STORE_WH_CALL_START ? "call_start" : bit == STORE_WH_CALL_CDR ? "call_cdr" : NULL;
}

/* A webhook the backend may write: scoped, with a URL, some events, a known method. */
static bool webhook_ok(const struct store_webhook *w)
{
	return w->tenant_id && w->url[0] && w->events && !(w->events & ~(unsigned)STORE_WH_EVENTS) &&
	       w->auth <= STORE_WH_AUTH_HMAC;
}

int store_webhook_create(struct store *st, struct store_webhook *w)
{
	return webhook_ok(w) ? st->ops->webhook_create(st, w) : EINVAL;
}
int store_webhook_get(struct store *st, uint64_t tenant_id, uint64_t id, struct store_webhook *w)
{
	return tenant_id ? st->ops->webhook_get(st, tenant_id, id, w) : EINVAL;
}
int store_webhook_update(struct store *st, struct store_webhook *w)
{
	return webhook_ok(w) ? st->ops->webhook_update(st, w) : EINVAL;
}
int store_webhook_delete(struct store *st, uint64_t tenant_id, uint64_t id)
{
	return tenant_id ? st->ops->webhook_delete(st, tenant_id, id) : EINVAL;
}
int store_webhook_list(struct store *st, uint64_t tenant_id, struct store_webhooks **out)
{
	return tenant_id ? st->ops->webhook_list(st, tenant_id, out) : EINVAL;
}
int store_outbox_add(struct store *st, uint64_t tenant_id, unsigned event, const char *json, int64_t now_ms,
		     uint32_t cap, uint32_t *added, uint32_t *dropped)
{
	*added = *dropped = 0;
	if (!tenant_id || !store_wh_event_name(event) || !json || !cap)
		return EINVAL;
	return st->ops->outbox_add(st, tenant_id, event, json, now_ms, cap, added, dropped);
}
int store_outbox_heads(struct store *st, store_scan_h *h, void *arg) { return st->ops->outbox_heads(st, h, arg); }
int store_outbox_delete(struct store *st, uint64_t id) { return st->ops->outbox_delete(st, id); }
int store_outbox_retry(struct store *st, uint64_t id, int attempts, int64_t next_ms, bool whole_webhook)
{
	return st->ops->outbox_retry(st, id, attempts, next_ms, whole_webhook);
}
int store_outbox_resume(struct store *st, uint64_t webhook_id, int64_t now_ms)
{
	return st->ops->outbox_resume(st, webhook_id, now_ms);
}
int store_outbox_expire(struct store *st, int64_t before_ms, uint32_t *n)
{
	*n = 0;
	return st->ops->outbox_expire(st, before_ms, n);
}

int store_tenant_settings_get(struct store *st, uint64_t tenant_id, struct store_tenant_settings *s)
{
	return tenant_id ? st->ops->tenant_settings_get(st, tenant_id, s) : EINVAL;
}
int store_tenant_settings_update(struct store *st, struct store_tenant_settings *s)
{
	return s->tenant_id ? st->ops->tenant_settings_update(st, s) : EINVAL;
}
int store_tenant_settings_scan(struct store *st, store_scan_h *h, void *arg)
{
	return st->ops->tenant_settings_scan(st, h, arg);
}
int store_holiday_create(struct store *st, struct store_holiday *h)
{
	return h->tenant_id ? st->ops->holiday_create(st, h) : EINVAL;
}
int store_holiday_get(struct store *st, uint64_t tenant_id, uint64_t user_id, uint64_t id, struct store_holiday *h)
{
	return tenant_id ? st->ops->holiday_get(st, tenant_id, user_id, id, h) : EINVAL;
}
int store_holiday_update(struct store *st, struct store_holiday *h)
{
	return h->tenant_id ? st->ops->holiday_update(st, h) : EINVAL;
}
int store_holiday_delete(struct store *st, uint64_t tenant_id, uint64_t user_id, uint64_t id)
{
	return tenant_id ? st->ops->holiday_delete(st, tenant_id, user_id, id) : EINVAL;
}
int store_holiday_list(struct store *st, uint64_t tenant_id, uint64_t user_id, struct store_holidays **out)
{
	return tenant_id ? st->ops->holiday_list(st, tenant_id, user_id, out) : EINVAL;
}
int store_holiday_scan(struct store *st, store_scan_h *h, void *arg) { return st->ops->holiday_scan(st, h, arg); }

static bool obj_kind_ok(int kind)
{
	return kind > 0 && kind < STORE_OBJ_KINDS;
}

void store_obj_reset(struct store_obj *o)
{
	o->json = mem_deref(o->json);
}

int store_obj_create(struct store *st, struct store_obj *o)
{
	return obj_kind_ok(o->kind) ? st->ops->obj_create(st, o) : EINVAL;
}
int store_obj_get(struct store *st, int kind, uint64_t tenant_id, uint64_t id, struct store_obj *o)
{
	return obj_kind_ok(kind) ? st->ops->obj_get(st, kind, tenant_id, id, o) : EINVAL;
}
int store_obj_update(struct store *st, struct store_obj *o)
{
	return obj_kind_ok(o->kind) ? st->ops->obj_update(st, o) : EINVAL;
}
int store_obj_delete(struct store *st, int kind, uint64_t tenant_id, uint64_t id)
{
	return obj_kind_ok(kind) ? st->ops->obj_delete(st, kind, tenant_id, id) : EINVAL;
}
int store_obj_list(struct store *st, int kind, uint64_t tenant_id, struct store_objs **out)
{
	return obj_kind_ok(kind) ? st->ops->obj_list(st, kind, tenant_id, out) : EINVAL;
}
int store_obj_scan(struct store *st, int kind, store_scan_h *h, void *arg)
{
	return obj_kind_ok(kind) ? st->ops->obj_scan(st, kind, h, arg) : EINVAL;
}
