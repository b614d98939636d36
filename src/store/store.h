/* Storage: pbxd's persistent data model (system admins, tenants, users with their
 * extension, API sessions) behind one interface with pluggable backends. */
#ifndef STORE_STORE_H
#define STORE_STORE_H

/*
 * A `struct store` is one connection to the database. A connection belongs to one
 * thread at a time (SQLite connections are not shared between threads in pbxd):
 * the HTTP server keeps a small pool of them, the storage worker owns its own.
 * Every call returns 0 or an errno value:
 *   ENOENT  the row does not exist (or not in the tenant asked for)
 *   EEXIST  a unique constraint failed; store_conflict_field() names the field
 *   ESTALE  an update was given a row whose `version` is no longer the stored
 *           one: somebody wrote the row since it was read. Nothing was written;
 *           read the row again and redo the change on what is there now
 *   EDQUOT  a create would pass the tenant's limit (max_users)
 *   EALREADY  store_session_spend(): the token had been spent before
 *   EINVAL  a query named a field or operator the resource does not have, or
 *           a per-tenant call was given no tenant (tenant_id 0 matches nothing:
 *           there is no "every tenant" wildcard)
 *   EBUSY   the database stayed locked past the busy timeout (retry later)
 *   EIO     the backend failed (logged)
 *
 * Read-modify-write: every update writes a row read before (the whole record)
 * only if its `version` is still the one read, in one transaction, and bumps it.
 * Two writers can therefore never undo each other's acknowledged change; the
 * loser gets ESTALE. Admins and users also carry `cred_gen`, the generation of
 * their credentials: the store itself bumps it when an update changes the login
 * password or disables the account (and for every user of a tenant that is
 * disabled), and in that same transaction ends their sessions. A session records
 * the generation it was issued under and the API refuses it once they differ, so
 * a sign-in that verified the old password cannot outlive the change.
 * Backends implement `struct store_ops`; callers only use the functions below, so
 * a PostgreSQL backend is one more ops table and one more case in store_open().
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mqueue.h"

/* Field sizes, including the terminating NUL. Validation in the API enforces the
 * lengths first; the store truncates nothing silently (too long is EINVAL). */
#define STORE_NAME_SZ 129     /* tenant name, display name */
#define STORE_USERNAME_SZ 65
#define STORE_DOMAIN_SZ 254
#define STORE_EMAIL_SZ 255
#define STORE_HASH_SZ 160     /* encoded Argon2id string */
#define STORE_EXT_SZ 17       /* extension number: digits */
#define STORE_SECRET_SZ 129   /* SIP password */
#define STORE_CONTACT_SZ 512  /* a registered Contact URI, a Path */
#define STORE_INSTANCE_SZ 128 /* +sip.instance */
#define STORE_UA_SZ 128       /* User-Agent */
#define STORE_CALLID_SZ 256
#define STORE_ADDR_SZ 64      /* a numeric IPv4 or IPv6 address */
#define STORE_TZ_SZ 65        /* a tz database zone name ("Europe/Paris") */

/* --- identifiers -------------------------------------------------------------- */

/* 64-bit time-ordered ids: milliseconds since 2020-01-01T00:00:00Z in the high 41
 * bits, a 22-bit sequence below. Strictly increasing within the process, from any
 * thread. */
uint64_t store_id_next(void);
/* Milliseconds since the Unix epoch encoded in an id. */
int64_t store_id_time_ms(uint64_t id);
int64_t store_now_ms(void);

/* --- passwords ---------------------------------------------------------------- */

/* Argon2id with a random salt; out receives the encoded form ($argon2id$v=19$...). */
int store_pw_hash(const char *password, char *out, size_t outsz);
/* 0 when password matches encoded, EACCES when it does not, EINVAL if malformed. */
int store_pw_verify(const char *encoded, const char *password);
/* Lowers the Argon2 cost for tests and fuzzing only (never in pbxd itself). */
void store_pw_set_fast(bool fast);

/* --- records ------------------------------------------------------------------ */

struct store_admin {
	uint64_t id;
	char username[STORE_USERNAME_SZ];
	char pw_hash[STORE_HASH_SZ];
	bool enabled;
	int64_t created_at, updated_at; /* ms since the epoch */
	int64_t version;  /* bumped by every update (see ESTALE) */
	int64_t cred_gen; /* bumped when the password changes or the account is disabled */
};

struct store_tenant {
	uint64_t id;
	char name[STORE_NAME_SZ];
	char domain[STORE_DOMAIN_SZ]; /* SIP domain, lower case, unique in the system */
	bool enabled;
	int64_t max_users;            /* 0: unlimited */
	int64_t max_calls;            /* simultaneous calls in the tenant, 0: unlimited */
	char timezone[STORE_TZ_SZ];   /* tz database name its clocks follow; "" for UTC */
	int64_t created_at, updated_at;
	int64_t version;
};

enum store_role { STORE_ROLE_USER = 0, STORE_ROLE_ADMIN = 1 };

/* A tenant user and the extension that is theirs. `settings` is the extension's
 * settings as a JSON object text (validated by the API); NULL in list results.
 * It is a mem string owned by the record: release with store_user_reset(). */
struct store_user {
	uint64_t id;
	uint64_t tenant_id;
	char username[STORE_USERNAME_SZ];
	char pw_hash[STORE_HASH_SZ];
	char email[STORE_EMAIL_SZ];
	char display_name[STORE_NAME_SZ];
	enum store_role role;
	bool enabled;
	char ext_number[STORE_EXT_SZ];
	char ext_password[STORE_SECRET_SZ]; /* kept as given: digest auth needs it */
	char *settings;
	int64_t created_at, updated_at;
	int64_t version;
	int64_t cred_gen;
};
void store_user_reset(struct store_user *u);

enum store_session_kind { STORE_SESSION_ACCESS = 0, STORE_SESSION_REFRESH = 1 };

/* An API session token, known to the store only by its SHA-256. Tokens issued
 * together (access + refresh) share a grant id so that sign-out ends both. A
 * system admin's session has admin_id set; when switched into a tenant it also
 * has tenant_id and parent_grant, the grant of the session that switched, so
 * that signing that session out ends the switched one too. A user's session has
 * user_id and tenant_id. */
struct store_session {
	uint8_t hash[32];
	uint64_t grant_id;
	uint64_t parent_grant; /* 0: none */
	enum store_session_kind kind;
	uint64_t admin_id, user_id, tenant_id; /* 0: none */
	int64_t cred_gen;   /* the principal's cred_gen when it was issued */
	int64_t expires_at; /* ms since the epoch */
	int64_t created_at;
};

/* A registered device of an extension (a binding of the location service). The
 * signalling thread owns bindings; the store keeps a copy so that they survive a
 * restart of pbxd. */
struct store_location {
	uint64_t id;
	uint64_t tenant_id, user_id;
	char contact[STORE_CONTACT_SZ];
	char instance[STORE_INSTANCE_SZ]; /* "" when none */
	uint32_t reg_id;                  /* 0 when none */
	int q;                            /* q-value times 1000; -1 when none */
	char path[STORE_CONTACT_SZ];      /* Path header values, "" when none */
	char transport[8];                /* "udp", "tcp", ... */
	char address[STORE_ADDR_SZ];      /* where it registered from (after NAT) */
	uint16_t port;
	char local_address[STORE_ADDR_SZ]; /* our address it reached */
	uint16_t local_port;
	char user_agent[STORE_UA_SZ];
	char call_id[STORE_CALLID_SZ];
	uint32_t cseq;
	int64_t expires_at; /* ms since the epoch */
	int64_t created_at, updated_at;
};

/* --- list queries ------------------------------------------------------------- */

enum store_op { STORE_OP_EQ, STORE_OP_NE, STORE_OP_LT, STORE_OP_LE, STORE_OP_GT, STORE_OP_GE };
enum store_ftype { STORE_F_STR, STORE_F_INT, STORE_F_BOOL, STORE_F_ID };

/* A field a list can be filtered and ordered by. */
struct store_field {
	const char *name;
	enum store_ftype type;
	bool search; /* part of the free-text `search` */
};

enum store_kind { STORE_KIND_TENANT, STORE_KIND_USER };
/* The filterable fields of a resource (same table for every backend). */
const struct store_field *store_fields(enum store_kind kind, size_t *n);
const struct store_field *store_field_find(enum store_kind kind, const char *name);

#define STORE_COND_MAX 8
#define STORE_PAGE_MAX 100 /* rows one list query returns at most */
#define STORE_VALUE_SZ 256

struct store_cond {
	const struct store_field *field;
	enum store_op op;
	char sval[STORE_VALUE_SZ]; /* STORE_F_STR */
	int64_t ival;              /* INT, BOOL (0/1), ID */
};

struct store_query {
	struct store_cond cond[STORE_COND_MAX]; /* all must hold */
	size_t ncond;
	char search[STORE_VALUE_SZ]; /* substring over the search fields; "" for none */
	const struct store_field *orderby; /* NULL: by id */
	bool desc;
	uint32_t skip;
	uint32_t top; /* 1..STORE_PAGE_MAX */
};
void store_query_init(struct store_query *q);

/* Results of a list: total matching before skip/top, and this page. Refcounted:
 * free with mem_deref(). */
struct store_tenants {
	uint64_t count;
	size_t n;
	struct store_tenant *v;
};
struct store_users {
	uint64_t count;
	size_t n;
	struct store_user *v;
};

/* --- CDRs --------------------------------------------------------------------- */

/* A call detail record: written once by the call engine when a call ends (through
 * the storage worker), read by the API, deleted only by store_cdr_purge() or with
 * its tenant. The columns below are what lists filter and order on; `json` is the
 * whole record as the API answers it (the seeds' call_cdr object: times as Unix
 * seconds in digit strings, its call_targets...), stored as given. `users` are the
 * tenant's users in whose call log it appears (the caller, the users rung); a
 * deleted user leaves the logs with their rows, the CDR stays the tenant's. */
#define STORE_CDR_USERS 16
struct store_cdr {
	uint64_t id;            /* cdr_id */
	uint64_t tenant_id;
	uint64_t session_id;
	int64_t start_time, answered_time, ended_time; /* seconds since the epoch; answered 0: not answered */
	char caller[STORE_NAME_SZ];   /* the caller's number (user part) */
	char callee[STORE_NAME_SZ];   /* the number first called */
	char direction[8];            /* "ext", "in", "out", "in2out" */
	int status_code;              /* 0, or the SIP failure code */
	uint64_t users[STORE_CDR_USERS]; /* users whose call log shows it */
	size_t nusers;
	char *json;                   /* the whole CDR as JSON text in the seeds' call_cdr shape (a mem string owned by the record in results) */
};

/* What a CDR list selects; every condition given must hold. */
struct store_cdr_filter {
	int64_t from, to;             /* from <= start_time < to, in seconds; 0: open */
	char caller[STORE_NAME_SZ];   /* exactly this caller; "" for any */
	char callee[STORE_NAME_SZ];
	char direction[8];            /* "ext", "in", "out", "in2out"; "" for any */
	uint64_t user_id;             /* 0: the tenant's CDRs; else that user's call log */
	uint32_t skip;
	uint32_t top;                 /* 1..STORE_PAGE_MAX */
};
/* Everything open, the first page of 20. */
void store_cdr_filter_init(struct store_cdr_filter *f);

/* Results of store_cdr_list (count: matches before skip/top), each record with
 * its users and json. Refcounted: free with mem_deref(). */
struct store_cdrs {
	uint64_t count;
	size_t n;
	struct store_cdr *v;
};

/* --- webhooks ----------------------------------------------------------------- */

/* A tenant's webhook: where its call events are POSTed, and how the request
 * proves it comes from pbxd. At most STORE_WEBHOOKS_MAX per tenant. The secret is
 * kept as given (it must be sent, or used as an HMAC key); the API never
 * returns it. */
#define STORE_WEBHOOKS_MAX 10
#define STORE_URL_SZ 2049
#define STORE_WH_SECRET_SZ 1025 /* a bearer token may be a long JWT */

enum store_wh_auth { STORE_WH_AUTH_NONE, STORE_WH_AUTH_BASIC, STORE_WH_AUTH_BEARER, STORE_WH_AUTH_HMAC };
/* The events a webhook subscribes to (bits of `events`), as the event bus names them. */
enum { STORE_WH_CALL_START = 1, STORE_WH_CALL_CDR = 2, STORE_WH_EVENTS = 3 };

struct store_webhook {
	uint64_t id, tenant_id;
	char name[STORE_NAME_SZ];
	char url[STORE_URL_SZ];           /* http:// or https:// (checked by the API) */
	bool enabled;
	unsigned events;                  /* STORE_WH_* bits, at least one */
	enum store_wh_auth auth;
	char username[STORE_USERNAME_SZ]; /* basic */
	char secret[STORE_WH_SECRET_SZ];  /* basic's password, bearer's token, hmac's key */
	uint64_t pending;                 /* read only: its events waiting in the outbox */
	int64_t created_at, updated_at;
	int64_t version;
};

/* A tenant's webhooks, oldest first (at most STORE_WEBHOOKS_MAX). Refcounted:
 * free with mem_deref(). */
struct store_webhooks {
	size_t n;
	struct store_webhook *v;
};

/* An event waiting in the outbox for one webhook: written when the event
 * happens, deleted once delivered (or given up), retried meanwhile. */
struct store_outbox {
	uint64_t id; /* increasing, never reused: the delivery's id */
	uint64_t webhook_id, tenant_id;
	unsigned event;          /* one STORE_WH_* bit */
	int attempts;            /* failed deliveries so far */
	int64_t created_at, next_attempt_at; /* ms since the epoch */
	const char *json;        /* the event's JSON text (valid during a scan's callback) */
};

/* What store_outbox_heads() hands its callback (valid during the call): an
 * enabled webhook and the first of its events in delivery order (the earliest
 * next_attempt_at, then the oldest). */
struct store_outbox_head {
	struct store_webhook wh;
	struct store_outbox o;
};

/* "call_start", "call_cdr" for a STORE_WH_* bit; NULL for anything else. */
const char *store_wh_event_name(unsigned bit);

/* --- office hours, holidays, feature access codes -------------------------------- */

/* What the call engine reads of a tenant beyond its row: its office hours (a
 * week of shifts, as pbx/schedule.h's sched_shifts_from_week reads it) and its
 * feature access codes (an object of the codes it overrides, {"dnd_on": "*11"}),
 * both JSON text validated by the API. A tenant that never set them has no row:
 * get answers "" for both (office hours: open at all times; codes: the
 * defaults) with version 0. */
#define STORE_OFFICE_HOURS_SZ 4096
#define STORE_FEATURE_CODES_SZ 1024

struct store_tenant_settings {
	uint64_t tenant_id;
	char office_hours[STORE_OFFICE_HOURS_SZ];   /* "" for none */
	char feature_codes[STORE_FEATURE_CODES_SZ]; /* "" or "{}" for none */
	int64_t updated_at;
	int64_t version; /* 0: never written */
};

/* A holiday of a tenant (user_id 0) or of one of its users: a name and the
 * holiday's JSON ({"start_date", "end_date", "start_time", "end_time",
 * "every_year"}, as pbx/schedule.h's sched_holiday_from_json reads it), stored
 * as given. A user's holidays go with the user; every holiday with its tenant.
 * At most STORE_HOLIDAYS_MAX per owner (the tenant's, or one user's). */
#define STORE_HOLIDAYS_MAX 1000
#define STORE_HOLIDAY_SZ 256

struct store_holiday {
	uint64_t id, tenant_id;
	uint64_t user_id; /* 0: the tenant's */
	char name[STORE_NAME_SZ];
	char json[STORE_HOLIDAY_SZ];
	int64_t created_at, updated_at;
	int64_t version;
};

/* Holidays of one owner, oldest first. Refcounted: free with mem_deref(). */
struct store_holidays {
	size_t n;
	struct store_holiday *v;
};


/* --- configuration objects ------------------------------------------------------ */

/* Configuration the API validates and the PBX reads whole (issue 15 on: SIP
 * trunks' providers, inbound and outbound rules, number lists; ring groups,
 * queues and IVRs later): a kind, an owner (a tenant, or the system: tenant_id
 * 0), a JSON object as text, and an optional key unique within its kind and a
 * scope the caller chooses (a provider's name within its owner; an inbound
 * rule's DID across every tenant: scope 0). The store never reads the JSON:
 * what an object means is its kind's business (the API and the PBX). */
enum store_obj_kind {
	STORE_OBJ_PROVIDER = 1,
	STORE_OBJ_INBOUND_RULE,
	STORE_OBJ_OUTBOUND_RULE,
	STORE_OBJ_COUNTRY_CODE,   /* allowed country codes */
	STORE_OBJ_DISALLOWED_CODE,
	STORE_OBJ_BLACKLISTED,    /* blacklisted caller numbers */
	STORE_OBJ_OUTBOUND_LIMITS, /* a tenant's toll-fraud caps: one per tenant */
	STORE_OBJ_KINDS
};
#define STORE_OBJS_MAX 10000   /* of one kind per owner */
#define STORE_OBJ_KEY_SZ 160
#define STORE_OBJ_JSON_MAX 16384

struct store_obj {
	uint64_t id, tenant_id; /* tenant_id 0: the system's */
	int kind;
	char ukey[STORE_OBJ_KEY_SZ]; /* "" for none */
	uint64_t uscope;
	char *json;                  /* a mem string owned by the record: store_obj_reset() */
	int64_t created_at, updated_at;
	int64_t version;
};
void store_obj_reset(struct store_obj *o);

/* Objects of one kind and owner, oldest first. Refcounted: free with mem_deref()
 * (which releases each one's JSON). */
struct store_objs {
	size_t n;
	struct store_obj *v;
};

/* --- the connection ----------------------------------------------------------- */

struct store;

/* Called for each row of a scan (a struct store_tenant, store_user,
 * store_location, store_tenant_settings or store_holiday, valid during the
 * call); non-zero stops the scan and is returned. */
typedef int (store_scan_h)(const void *row, void *arg);

struct store_ops {
	const char *name;
	void (*close)(struct store *st);
	int (*schema_version)(struct store *st, int *version);

	int (*admin_create)(struct store *st, struct store_admin *a);
	int (*admin_get)(struct store *st, uint64_t id, struct store_admin *a);
	int (*admin_get_by_name)(struct store *st, const char *username, struct store_admin *a);
	int (*admin_update)(struct store *st, struct store_admin *a, uint64_t keep_grant);
	int (*admin_count)(struct store *st, uint64_t *n);

	/* Creates the tenant and, when first_admin is not NULL, its first user in the
	 * same transaction (both ids are assigned here). */
	int (*tenant_create)(struct store *st, struct store_tenant *t, struct store_user *first_admin);
	int (*tenant_get)(struct store *st, uint64_t id, struct store_tenant *t);
	int (*tenant_get_by_domain)(struct store *st, const char *domain, struct store_tenant *t);
	int (*tenant_update)(struct store *st, struct store_tenant *t);
	int (*tenant_delete)(struct store *st, uint64_t id);
	int (*tenant_list)(struct store *st, const struct store_query *q, struct store_tenants **out);

	/* Every user call is scoped to one tenant; the dispatchers refuse tenant_id 0
	 * (EINVAL) before a backend sees it. Lists leave the secrets (password hash,
	 * SIP password) and the settings out. */
	int (*user_create)(struct store *st, struct store_user *u);
	int (*user_get)(struct store *st, uint64_t tenant_id, uint64_t id, struct store_user *u);
	int (*user_get_by_name)(struct store *st, uint64_t tenant_id, const char *username, struct store_user *u);
	int (*user_get_by_ext)(struct store *st, uint64_t tenant_id, const char *number, struct store_user *u);
	/* Writes every field of u (row found by id and tenant_id) if u->version is current. */
	int (*user_update)(struct store *st, struct store_user *u, uint64_t keep_grant);
	int (*user_delete)(struct store *st, uint64_t tenant_id, uint64_t id);
	int (*user_list)(struct store *st, uint64_t tenant_id, const struct store_query *q, struct store_users **out);
	int (*user_count)(struct store *st, uint64_t tenant_id, uint64_t *n);

	int (*session_put)(struct store *st, const struct store_session *s);
	int (*session_get)(struct store *st, const uint8_t hash[32], struct store_session *s);
	int (*session_delete)(struct store *st, const uint8_t hash[32]);
	int (*session_delete_grant)(struct store *st, uint64_t grant_id);
	int (*session_spend)(struct store *st, const uint8_t hash[32], int64_t now_ms, struct store_session *old,
			     struct store_session next[2]);
	int (*session_delete_user)(struct store *st, uint64_t user_id, uint64_t keep_grant);
	int (*session_delete_admin)(struct store *st, uint64_t admin_id, uint64_t keep_grant);
	int (*session_delete_tenant)(struct store *st, uint64_t tenant_id);
	int (*session_purge)(struct store *st, int64_t now_ms);

	int (*tx_begin)(struct store *st);
	int (*tx_end)(struct store *st, int err);
	int (*tenant_scan)(struct store *st, store_scan_h *h, void *arg);
	int (*user_scan)(struct store *st, store_scan_h *h, void *arg);
	int (*location_put)(struct store *st, const struct store_location *l);
	int (*location_delete)(struct store *st, uint64_t id);
	int (*location_scan)(struct store *st, int64_t now_ms, store_scan_h *h, void *arg);

	int (*cdr_insert)(struct store *st, const struct store_cdr *c);
	int (*cdr_list)(struct store *st, uint64_t tenant_id, const struct store_cdr_filter *f,
			struct store_cdrs **out);
	int (*cdr_purge)(struct store *st, int64_t before);

	int (*webhook_create)(struct store *st, struct store_webhook *w);
	int (*webhook_get)(struct store *st, uint64_t tenant_id, uint64_t id, struct store_webhook *w);
	int (*webhook_update)(struct store *st, struct store_webhook *w);
	int (*webhook_delete)(struct store *st, uint64_t tenant_id, uint64_t id);
	int (*webhook_list)(struct store *st, uint64_t tenant_id, struct store_webhooks **out);
	int (*outbox_add)(struct store *st, uint64_t tenant_id, unsigned event, const char *json, int64_t now_ms,
			  uint32_t cap, uint32_t *added, uint32_t *dropped);
	int (*outbox_heads)(struct store *st, store_scan_h *h, void *arg);
	int (*outbox_delete)(struct store *st, uint64_t id);
	int (*outbox_retry)(struct store *st, uint64_t id, int attempts, int64_t next_ms, bool whole_webhook);
	int (*outbox_resume)(struct store *st, uint64_t webhook_id, int64_t now_ms);
	int (*outbox_expire)(struct store *st, int64_t before_ms, uint32_t *n);

	int (*tenant_settings_get)(struct store *st, uint64_t tenant_id, struct store_tenant_settings *s);
	int (*tenant_settings_update)(struct store *st, struct store_tenant_settings *s);
	int (*tenant_settings_scan)(struct store *st, store_scan_h *h, void *arg);
	int (*holiday_create)(struct store *st, struct store_holiday *h);
	int (*holiday_get)(struct store *st, uint64_t tenant_id, uint64_t user_id, uint64_t id,
			   struct store_holiday *h);
	int (*holiday_update)(struct store *st, struct store_holiday *h);
	int (*holiday_delete)(struct store *st, uint64_t tenant_id, uint64_t user_id, uint64_t id);
	int (*holiday_list)(struct store *st, uint64_t tenant_id, uint64_t user_id, struct store_holidays **out);
	int (*holiday_scan)(struct store *st, store_scan_h *h, void *arg);

	int (*obj_create)(struct store *st, struct store_obj *o);
	int (*obj_get)(struct store *st, int kind, uint64_t tenant_id, uint64_t id, struct store_obj *o);
	int (*obj_update)(struct store *st, struct store_obj *o);
	int (*obj_delete)(struct store *st, int kind, uint64_t tenant_id, uint64_t id);
	int (*obj_list)(struct store *st, int kind, uint64_t tenant_id, struct store_objs **out);
	int (*obj_scan)(struct store *st, int kind, store_scan_h *h, void *arg);
};

struct store {
	const struct store_ops *ops;
	char conflict[32]; /* field named by the last EEXIST */
};

/* Opens a connection to the database under data_dir ("sqlite" backend: file
 * data_dir/pbxd.db, created and migrated to the latest schema on first use). */
int store_open(struct store **stp, const char *data_dir);
void store_close(struct store *st);
/* Field of the last unique-constraint failure ("domain", "username",
 * "extension_number"), or "" */
const char *store_conflict_field(const struct store *st);
/* Schema version the database is at. */
int store_schema_version(struct store *st, int *version);

/* Thin dispatchers to the backend, so callers never touch the ops table. */
int store_admin_create(struct store *st, struct store_admin *a);
int store_admin_get(struct store *st, uint64_t id, struct store_admin *a);
int store_admin_get_by_name(struct store *st, const char *username, struct store_admin *a);
/* Writes a if a->version is still the stored one (else ESTALE), then sets
 * a->version and a->cred_gen to the new values. When the update changes the
 * password or disables the admin, cred_gen goes up and every session of the
 * admin ends in the same transaction but those of grant keep_grant (0: none) and
 * its switched children, which are restamped with the new generation: whoever
 * changed their own password keeps the session they did it with. */
int store_admin_update(struct store *st, struct store_admin *a, uint64_t keep_grant);
int store_admin_count(struct store *st, uint64_t *n);
int store_tenant_create(struct store *st, struct store_tenant *t, struct store_user *first_admin);
int store_tenant_get(struct store *st, uint64_t id, struct store_tenant *t);
int store_tenant_get_by_domain(struct store *st, const char *domain, struct store_tenant *t);
/* Versioned like store_admin_update. Disabling the tenant bumps the cred_gen of
 * all its users and ends every session acting in it, in the same transaction. */
int store_tenant_update(struct store *st, struct store_tenant *t);
int store_tenant_delete(struct store *st, uint64_t id);
int store_tenant_list(struct store *st, const struct store_query *q, struct store_tenants **out);
/* The tenant's max_users is checked and the row inserted in one transaction:
 * EDQUOT when the tenant already has its maximum. */
int store_user_create(struct store *st, struct store_user *u);
int store_user_get(struct store *st, uint64_t tenant_id, uint64_t id, struct store_user *u);
int store_user_get_by_name(struct store *st, uint64_t tenant_id, const char *username, struct store_user *u);
int store_user_get_by_ext(struct store *st, uint64_t tenant_id, const char *number, struct store_user *u);
/* Versioned, with credentials and sessions as store_admin_update. */
int store_user_update(struct store *st, struct store_user *u, uint64_t keep_grant);
int store_user_delete(struct store *st, uint64_t tenant_id, uint64_t id);
int store_user_list(struct store *st, uint64_t tenant_id, const struct store_query *q, struct store_users **out);
int store_user_count(struct store *st, uint64_t tenant_id, uint64_t *n);
int store_session_put(struct store *st, const struct store_session *s);
int store_session_get(struct store *st, const uint8_t hash[32], struct store_session *s);
int store_session_delete(struct store *st, const uint8_t hash[32]);
/* Ends a grant and the grants switched from it (parent_grant). */
int store_session_delete_grant(struct store *st, uint64_t grant_id);
/* Spends the refresh token `hash` and stores its successors in one transaction.
 * The delete is the gate: only the request whose DELETE removed the live row
 * (kind refresh, expires_at > now_ms) gets 0, with the spent row in *old and
 * next[0..1] (access, refresh; hashes, kinds and expiries set by the caller)
 * stored under the same grant and principal. A token spent before is a replay:
 * its whole grant ends and the answer is EALREADY. Otherwise ENOENT. */
int store_session_spend(struct store *st, const uint8_t hash[32], int64_t now_ms, struct store_session *old,
			struct store_session next[2]);
/* Ends every session of a user, or of a system admin (those switched into a
 * tenant included), but grant keep_grant (0: none) and its switched children:
 * a password changed by its owner keeps the owner's own session. */
int store_session_delete_user(struct store *st, uint64_t user_id, uint64_t keep_grant);
int store_session_delete_admin(struct store *st, uint64_t admin_id, uint64_t keep_grant);
/* Ends every session acting in a tenant (its users', and system admins' switched into it). */
int store_session_delete_tenant(struct store *st, uint64_t tenant_id);
/* Deletes expired sessions and the expired records of spent refresh tokens. */
int store_session_purge(struct store *st, int64_t now_ms);

/* A batch of writes in one transaction (many bindings saved at once cost one
 * commit): store_tx_end commits when err is 0, else rolls back, and returns err
 * or the commit's error. Not nested. */
int store_tx_begin(struct store *st);
int store_tx_end(struct store *st, int err);

/* System-wide scans, for the signalling thread's in-memory copy of tenants and
 * extensions, loaded at start: every tenant; every user of every tenant with
 * their secrets and settings. Not for the API (whose every query is per tenant). */
int store_tenant_scan(struct store *st, store_scan_h *h, void *arg);
int store_user_scan(struct store *st, store_scan_h *h, void *arg);

/* Registered devices: put inserts or replaces by id; delete of an id that is not
 * there is not an error (the user may have been deleted with its bindings). The
 * scan deletes bindings expired by now_ms and returns the others. A binding whose
 * user is deleted goes with it. */
int store_location_put(struct store *st, const struct store_location *l);
int store_location_delete(struct store *st, uint64_t id);
int store_location_scan(struct store *st, int64_t now_ms, store_scan_h *h, void *arg);

/* CDRs. The insert writes the record and its call-log rows in one savepoint, so
 * it is all or nothing inside a batch (store_tx_begin) as well as alone. c->id,
 * c->tenant_id and c->json (JSON text, copied) are required and nusers is at most
 * STORE_CDR_USERS, else EINVAL, as for a direction not among the four; EEXIST
 * when the id is stored already (a retried job); ENOENT when the tenant no longer
 * exists (nothing is written). Users listed twice, or deleted meanwhile, are
 * skipped. The list is one page of the tenant's CDRs (or of f->user_id's call log
 * in it), newest start first; EINVAL for tenant 0 or top out of range. The purge
 * deletes every tenant's CDRs that started before `before` (seconds since the
 * epoch), with their call-log rows, in short transactions so that other writers
 * are never held up long. */
int store_cdr_insert(struct store *st, const struct store_cdr *c);
int store_cdr_list(struct store *st, uint64_t tenant_id, const struct store_cdr_filter *f,
		   struct store_cdrs **out);
int store_cdr_purge(struct store *st, int64_t before);

/* Webhooks, per tenant as users are (tenant 0 is EINVAL). The create checks the
 * tenant's count in its transaction: EDQUOT at STORE_WEBHOOKS_MAX; ENOENT when
 * the tenant does not exist. The update writes every field of w (found by id and
 * tenant) if w->version is current, else ESTALE, and sets the new version;
 * deleting a webhook deletes its waiting events. */
int store_webhook_create(struct store *st, struct store_webhook *w);
int store_webhook_get(struct store *st, uint64_t tenant_id, uint64_t id, struct store_webhook *w);
int store_webhook_update(struct store *st, struct store_webhook *w);
int store_webhook_delete(struct store *st, uint64_t tenant_id, uint64_t id);
int store_webhook_list(struct store *st, uint64_t tenant_id, struct store_webhooks **out);

/* The outbox of webhook deliveries.
 * add: one row per enabled webhook of the tenant subscribed to `event`, due at
 *   once, in one transaction (the caller's, or its own); then, when the tenant
 *   holds more than `cap` rows, the oldest go (*dropped says how many). *added
 *   may be 0: no webhook wants it.
 * heads: for each enabled webhook with waiting events, its first (see struct
 *   store_outbox_head), earliest due first.
 * delete: the row is delivered (or given up); not there is not an error.
 * retry: the row failed `attempts` times and is next tried at next_ms; with
 *   whole_webhook (its receiver is down) none of its webhook's rows is tried
 *   before then either.
 * resume: the webhook's rows (webhook_id 0: every row) deferred past now_ms are
 *   due at now_ms (its receiver answered again; pbxd started).
 * expire: deletes rows created before before_ms (*n: how many). */
int store_outbox_add(struct store *st, uint64_t tenant_id, unsigned event, const char *json, int64_t now_ms,
		     uint32_t cap, uint32_t *added, uint32_t *dropped);
int store_outbox_heads(struct store *st, store_scan_h *h, void *arg);
int store_outbox_delete(struct store *st, uint64_t id);
int store_outbox_retry(struct store *st, uint64_t id, int attempts, int64_t next_ms, bool whole_webhook);
int store_outbox_resume(struct store *st, uint64_t webhook_id, int64_t now_ms);
int store_outbox_expire(struct store *st, int64_t before_ms, uint32_t *n);

/* A tenant's office hours and feature codes (struct store_tenant_settings).
 * get: ENOENT when the tenant does not exist; a tenant that never wrote them
 *   gets "" for both and version 0.
 * update: writes both texts (too long: EINVAL) if s->version is still the
 *   stored one (0: nothing stored yet), else ESTALE; ENOENT when the tenant is
 *   gone; sets the new version.
 * scan: every tenant's row that was written (for the signalling thread's copy). */
int store_tenant_settings_get(struct store *st, uint64_t tenant_id, struct store_tenant_settings *s);
int store_tenant_settings_update(struct store *st, struct store_tenant_settings *s);
int store_tenant_settings_scan(struct store *st, store_scan_h *h, void *arg);

/* Holidays, per tenant and owner (user_id 0: the tenant's own; tenant 0 is
 * EINVAL): one owner's holidays are never found through another's. create
 * assigns the id: EDQUOT at STORE_HOLIDAYS_MAX for the owner, ENOENT when the
 * tenant (or the user in that tenant) does not exist, EINVAL for a name or JSON
 * too long. update writes name and json (found by id, tenant and owner) if
 * h->version is current, else ESTALE. list: the owner's, oldest first. scan:
 * every holiday of every tenant and user (the signalling thread's copy). */
int store_holiday_create(struct store *st, struct store_holiday *h);
int store_holiday_get(struct store *st, uint64_t tenant_id, uint64_t user_id, uint64_t id, struct store_holiday *h);
int store_holiday_update(struct store *st, struct store_holiday *h);
int store_holiday_delete(struct store *st, uint64_t tenant_id, uint64_t user_id, uint64_t id);
int store_holiday_list(struct store *st, uint64_t tenant_id, uint64_t user_id, struct store_holidays **out);
int store_holiday_scan(struct store *st, store_scan_h *h, void *arg);

/* Configuration objects (struct store_obj), by kind and owner: one owner's are
 * never reached through another's (tenant_id 0 is the system's own).
 * create: assigns id, times and version 1; EEXIST (conflict field "key") when
 *   another object of the kind has the same key in the same scope; EDQUOT at
 *   STORE_OBJS_MAX of the kind for the owner; ENOENT when the tenant does not
 *   exist; EINVAL for an unknown kind, a JSON over STORE_OBJ_JSON_MAX or not
 *   valid. It runs in the caller's transaction when there is one (so a check
 *   of the other objects and the write can be one step under store_tx_begin).
 * update: writes key, scope and JSON (found by kind, owner and id) if
 *   o->version is current, else ESTALE; sets the new version.
 * list: the owner's objects of the kind, oldest first.
 * scan: every owner's objects of the kind, oldest first (the PBX's copy). */
int store_obj_create(struct store *st, struct store_obj *o);
int store_obj_get(struct store *st, int kind, uint64_t tenant_id, uint64_t id, struct store_obj *o);
int store_obj_update(struct store *st, struct store_obj *o);
int store_obj_delete(struct store *st, int kind, uint64_t tenant_id, uint64_t id);
int store_obj_list(struct store *st, int kind, uint64_t tenant_id, struct store_objs **out);
int store_obj_scan(struct store *st, int kind, store_scan_h *h, void *arg);

/* --- the storage worker ------------------------------------------------------- */

/* A thread with its own event loop and its own connection, for writes that must
 * not block the thread asking for them (the signalling thread's registrations and
 * CDRs). Jobs run in submission order, one at a time. */
struct store_worker;

/* Runs on the worker thread with the worker's connection; returns 0 or errno. */
typedef int (store_job_h)(struct store *st, void *arg);
/* Runs when the job is done: on the thread owning `reply` when one was given
 * (that thread's mqueue handler passes STORE_WORKER_MSG messages to
 * store_worker_done()), otherwise on the worker thread. */
typedef void (store_done_h)(int err, void *arg);

enum { STORE_WORKER_MSG = 0x53544f52 }; /* mqueue id of completions */

int store_worker_start(struct store_worker **wp, const char *data_dir);
/* Any thread. ESHUTDOWN once stopping; done may be NULL. */
int store_worker_submit(struct store_worker *w, store_job_h *job, store_done_h *done,
			void *arg, struct mqueue *reply);
/* Call from the reply queue's handler for messages with id STORE_WORKER_MSG. */
void store_worker_done(void *msg);
/* Runs every job already submitted, then stops and joins the thread. */
void store_worker_stop(struct store_worker *w);

#endif
