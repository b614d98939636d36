/* Internals shared by the files of src/api (not a public face: only src/api
 * includes it). A request is parsed by http.c into a struct api_req, routed and
 * authorized by router.c, and answered by one handler per route. */
#ifndef API_API_INT_H
#define API_API_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "core/ws.h"
#include "pbx/pbx.h"
#include "store/store.h"

#define API_BODY_MAX (64 * 1024)
#define API_QUERY_MAX 16
#define API_HTTP_THREADS 4 /* MHD's pool: a slow request (Argon2, a store wait) holds one */
#define API_POOL (API_HTTP_THREADS + 1) /* store connections: one per MHD thread + spare */
#define API_HTTP_PER_ADDRESS 16 /* connections one source (IPv4 address, IPv6 /64) may hold open */
#define API_HTTP_TIMEOUT_S 10   /* a connection silent this long is closed */
#define API_HTTP_REQUEST_DEADLINE_S 10 /* a whole request must arrive within this, however slowly
					* (the default of --http-request-timeout) */
#define API_HTTP_CONNECTIONS 1024 /* in all, unless the descriptor budget is smaller (core/fdlimit.h) */
#define API_COSTLY_MAX 2        /* Argon2 runs at once (password.c) */
#define API_COSTLY_WAIT_MS 10000 /* how long a signed-in admin's password hashing waits for its turn */
#define API_REFRESH_LIFETIME_S (30 * 24 * 3600)
#define API_PURGE_EVERY_MS 60000 /* expired sessions are swept at most this often */
#define API_EDIT_TRIES 8 /* a read-modify-write raced by other writers is redone at most this often */
#define API_AUTH_SZ 160  /* an Authorization value pbxd can accept: "Bearer " and a token */

/* --- the server --------------------------------------------------------------- */

struct api_ratelimit;

struct api {
	void *mhd; /* struct MHD_Daemon */
	char data_dir[512];
	int64_t token_lifetime_s;
	struct api_ratelimit *rl;
	/* A connection per concurrently running request. MHD's threads take one for
	 * the length of a request; the lock guards only the busy flags. */
	pthread_mutex_t pool_lock;
	pthread_cond_t pool_cond;
	struct store *pool[API_POOL];
	bool busy[API_POOL];
	size_t npool;
	char dummy_hash[STORE_HASH_SZ]; /* verified against when a user is unknown */
	struct api_tls *tls;      /* the HTTPS certificate (tls.c), NULL without HTTPS */
	_Atomic int64_t purge_due; /* ms: the next sign-in after it sweeps expired sessions */
	int http_max_per_address; /* 0: API_HTTP_PER_ADDRESS */
	int http_request_timeout_s; /* 0: API_HTTP_REQUEST_DEADLINE_S */
	struct api_http *http;    /* connection tracking of http.c */
	struct pbx *pbx;          /* told what the API writes; asked what it holds (NULL: none) */
	int sip_wss_port, sip_ws_port; /* for the browser phone (phone.c) */
	uint32_t ws_ping_ms;      /* /api/events: ping and session check interval (events.c) */
	struct json_t *sysinfo;   /* where pbxd listens, as configured (system.c) */
	int64_t started_ms;
	struct api_ws *ws;        /* the WebSocket streams of /api/events (events.c) */
	struct api_static *web;   /* the web portal's files at / (static.c) */
	/* Argon2 runs in progress (password.c), at most API_COSTLY_MAX: a burst of
	 * them, 19 MiB each, can hold neither all of MHD's threads nor the memory. */
	pthread_mutex_t costly_lock;
	pthread_cond_t costly_cond;
	int costly_running;
};

struct store *api_store_get(struct api *a);
void api_store_put(struct api *a, struct store *st);

/* --- requests ----------------------------------------------------------------- */

enum api_access {
	API_PUBLIC,       /* no token */
	API_SIGNED_IN,    /* any valid access token */
	API_USER,         /* a tenant user (either role): the "user" routes */
	API_TENANT_ADMIN, /* a tenant admin, or a system admin switched into a tenant */
	API_TENANT,       /* anyone acting in a tenant: a user of either role, a switched system admin */
	API_SYSADMIN,     /* a system admin, not switched */
};

struct api_who {
	bool signed_in;
	bool sysadmin;     /* the token belongs to a system admin */
	bool tenant_admin; /* may manage tenant_id */
	uint64_t admin_id, user_id, tenant_id, grant_id;
	int64_t cred_gen; /* the principal's credential generation (store.h) */
	char domain[STORE_DOMAIN_SZ]; /* a tenant user's tenant's SIP domain ("" for a system admin) */
	uint8_t token_hash[32];
};

struct api_kv {
	const char *key, *value;
};

struct api_req {
	struct api *api;
	struct store *st;
	const char *method;
	const char *path;
	struct api_kv query[API_QUERY_MAX];
	size_t nquery;
	const char *authorization; /* header value or NULL */
	char authorization_buf[API_AUTH_SZ]; /* a ?token= made an Authorization (/api/events) */
	struct {
		bool upgrade;        /* Upgrade: websocket and Connection: Upgrade */
		const char *key, *version; /* Sec-WebSocket-Key, Sec-WebSocket-Version, or NULL */
	} ws;
	const char *source;        /* client address, for rate limiting */
	const char *body;
	size_t body_len;
	json_t *json;    /* the parsed body (an object) or NULL */
	uint64_t id;     /* the {id} of the path */
	char key[64];    /* the text of another {name} of the path (a device id, an address) */
	struct api_who who;
};

struct api_resp {
	int status;
	json_t *body; /* owned; NULL for an empty body */
	/* Instead of JSON (an export): malloc'd text of type ctype, with a file
	 * name for Content-Disposition ("" none). */
	char *text;
	const char *ctype;
	char filename[64];
	int retry_after; /* seconds, 0: no header */
	bool www_auth;
	/* status 101: the WebSocket handshake's answer, and the tenant streamed */
	char ws_accept[WS_ACCEPT_SZ];
	uint64_t ws_tenant;
};

/* Handles one complete request; always fills resp. */
void api_handle(struct api_req *rq, struct api_resp *rs);
const char *api_query(const struct api_req *rq, const char *key);

/* Fills rs with the one error shape and returns status:
 * {"error": {"status", "code", "message", "field"}}. field may be NULL. */
int api_error(struct api_resp *rs, int status, const char *code, const char *field,
	      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Maps a store errno to an answer (ENOENT 404, EEXIST 409 naming the field...). */
int api_store_error(struct api_resp *rs, struct store *st, int err, const char *what);
/* Answers a failed call to the PBX (pbx.h): ETIMEDOUT 503 busy with Retry-After,
 * anything else 500. */
int api_pbx_error(struct api_resp *rs, int err, const char *what);
void api_ok(struct api_resp *rs, int status, json_t *body);

/* --- schemas: validation and the OpenAPI document share them ------------------- */

enum api_type { API_T_STRING, API_T_INT, API_T_BOOL, API_T_OBJECT, API_T_ARRAY };

enum {
	API_F_REQUIRED = 1,  /* must be present on create */
	API_F_WRITEONLY = 2, /* accepted, never returned */
	API_F_READONLY = 4,  /* returned, never accepted */
	API_F_NULLABLE = 8,  /* returned as null when there is none */
};

typedef int (api_check_h)(const char *value, const char **why);

struct api_schema;

struct api_field {
	const char *name;
	enum api_type type;
	unsigned flags;
	long long min, max;   /* INT value; STRING length; ARRAY items */
	const char *choices;  /* STRING: "a|b|c" */
	api_check_h *check;   /* STRING: further rule */
	const struct api_schema *sub; /* OBJECT fields; ARRAY of objects */
	enum api_type item;   /* ARRAY item type when not objects */
	const char *desc;
};

struct api_schema {
	const char *name; /* components/schemas name */
	const struct api_field *f;
	size_t n;
	const char *desc;
	const struct api_schema *base; /* answers only: its fields come first */
};

#define API_SCHEMA(nm, fields, d) { nm, fields, sizeof(fields) / sizeof(fields[0]), d, NULL }

/* Checks obj against s: unknown fields (400 unknown_field), types and ranges
 * (422 invalid_field), and with `create` the required ones (422 missing_field).
 * Returns 0 or the HTTP status put in rs. */
int api_validate(const struct api_schema *s, const json_t *obj, bool create, struct api_resp *rs);
int api_validate_at(const struct api_schema *s, const json_t *obj, bool create, const char *prefix,
		    struct api_resp *rs);
/* A schema in the OpenAPI document, whole or as a patch: an update body, which
 * api_validate checks without `create`, so neither it nor the objects nested in
 * it have required fields (array items, validated whole, keep theirs). name
 * gives the components name of s in either form (router.c decides). */
typedef void (api_schema_name_h)(const struct api_schema *s, bool patch, char *buf, size_t size);
json_t *api_schema_openapi(const struct api_schema *s, bool patch, api_schema_name_h *name);

api_check_h api_check_username, api_check_tenant_username, api_check_domain, api_check_email,
	api_check_digits, api_check_password, api_check_secret, api_check_hhmm, api_check_text;

/* Copies a validated string field into dst if present in obj. */
void api_take_str(const json_t *obj, const char *name, char *dst, size_t sz);
void api_take_bool(const json_t *obj, const char *name, bool *dst);
void api_take_int(const json_t *obj, const char *name, int64_t *dst);

/* "1234" for ids; ISO 8601 UTC for ms timestamps. */
json_t *api_json_id(uint64_t id);
json_t *api_json_time(int64_t ms);
int api_parse_id(const char *s, uint64_t *id);

/* --- lists --------------------------------------------------------------------- */

/* Reads filter/search/orderby/skip/top into q; on error fills rs (400). */
int api_list_query(const struct api_req *rq, enum store_kind kind, struct store_query *q,
		   struct api_resp *rs);
/* Reads skip and top alone (left as they are when absent); on error fills rs (400). */
int api_page_query(const struct api_req *rq, uint32_t *skip, uint32_t *top, struct api_resp *rs);

/* --- routes -------------------------------------------------------------------- */

typedef void (api_route_h)(struct api_req *rq, struct api_resp *rs);

struct api_route {
	const char *method;
	const char *path; /* "/api/users/{id}" */
	enum api_access access;
	api_route_h *h;
	const struct api_schema *body;   /* request body, or NULL */
	bool body_create;                /* required fields apply */
	const char *resp;                /* components schema of the answer, NULL: none */
	int ok;                          /* success status */
	bool list;                       /* takes the list query options */
	const char *tag;
	const char *summary;
};

const struct api_route *api_routes(size_t *n);
json_t *api_openapi(void);

/* Route handlers, one file per resource. */
api_route_h api_h_info, api_h_sign_in, api_h_refresh, api_h_sign_out, api_h_me, api_h_me_password,
	api_h_openapi;
api_route_h api_h_own_tenant_get, api_h_own_tenant_update;
api_route_h api_h_user_holidays_list, api_h_user_holidays_create, api_h_user_holiday_get, api_h_user_holiday_update,
	api_h_user_holiday_destroy;
api_route_h api_h_tenants_list, api_h_tenants_create, api_h_tenant_get, api_h_tenant_update,
	api_h_tenant_destroy, api_h_tenant_switch;
api_route_h api_h_users_list, api_h_users_create, api_h_users_get, api_h_users_update,
	api_h_users_destroy, api_h_users_password, api_h_users_ext_password, api_h_users_ext_get,
	api_h_users_ext_update;
api_route_h api_h_users_devices, api_h_users_device_destroy, api_h_bans_list, api_h_ban_destroy;
api_route_h api_h_user_profile_get, api_h_user_profile_update, api_h_user_password,
	api_h_user_ext_password, api_h_user_ext_get, api_h_user_ext_update;
api_route_h api_h_cdrs_list, api_h_call_sessions, api_h_call_session_destroy;
api_route_h api_h_webhooks_list, api_h_webhooks_create, api_h_webhook_get, api_h_webhook_update,
	api_h_webhook_destroy, api_h_events;
api_route_h api_h_tenant_office_hours_get, api_h_tenant_office_hours_update, api_h_users_office_hours_get,
	api_h_users_office_hours_update, api_h_holidays_list, api_h_holidays_create, api_h_holiday_get,
	api_h_holiday_update, api_h_holiday_destroy, api_h_users_holidays_list, api_h_users_holidays_create,
	api_h_users_holiday_get, api_h_users_holiday_update, api_h_users_holiday_destroy, api_h_feature_codes_get,
	api_h_feature_codes_update, api_h_user_phone_credentials, api_h_certificate_get, api_h_certificate_upload,
	api_h_system_info;
int api_system_info_init(struct api *a, const struct conf *c);

extern const struct api_schema api_s_sign_in, api_s_refresh, api_s_token, api_s_tenant,
	api_s_own_tenant, api_s_tenant_create, api_s_tenant_update, api_s_user, api_s_user_create, api_s_user_update,
	api_s_user_summary, api_s_profile, api_s_password, api_s_user_password, api_s_ext_password,
	api_s_settings, api_s_tenant_summary, api_s_me, api_s_info, api_s_error, api_s_device, api_s_ban,
	api_s_device_list, api_s_ban_list, api_s_cdr, api_s_call_session_list, api_s_webhook,
	api_s_webhook_create, api_s_webhook_update, api_s_webhook_list;
extern const struct api_schema api_s_week, api_s_ext_office_hours, api_s_holiday, api_s_holiday_create,
	api_s_holiday_update, api_s_holiday_list, api_s_feature_codes, api_s_feature_code_list, api_s_phone_cred,
	api_s_certificate, api_s_certificate_upload, api_s_system_info;

/* --- calls (calls.c) ------------------------------------------------------------- */

/* The query parameters of GET /api/cdrs, for the OpenAPI document. */
json_t *api_cdr_params(void);

/* --- event streams (events.c) ----------------------------------------------------- */

struct MHD_UpgradeResponseHandle;
/* The hub thread serving /api/events' WebSockets: started before the HTTP
 * server, stopped before it (every stream closed: MHD stops only then), freed
 * after it (a handshake answered meanwhile is still told pbxd is stopping). */
int api_ws_start(struct api *a);
void api_ws_stop(struct api *a);
void api_ws_free(struct api *a);
/* Whether a new stream would be refused (too many, stopping, no PBX). */
bool api_ws_full(struct api *a);
/* MHD's upgrade handler (any MHD thread): the hub takes over sock for the
 * tenant's events, extra (bytes read after the handshake) first; the
 * authorization is checked again at every ping. Refused, sock is closed. */
void api_ws_adopt(struct api *a, uint64_t tenant_id, const char *authorization, const char *extra, size_t extra_len,
		  int sock, struct MHD_UpgradeResponseHandle *urh);

/* --- auth (auth.c) --------------------------------------------------------------- */

/* Checks the bearer token and fills rq->who; 0 or the status put in rs (401). */
int api_authenticate(struct api_req *rq, struct api_resp *rs);
/* Issues the access + refresh token pair of a new grant and answers with it;
 * parent_grant (0: none) is the grant whose sign-out ends this one too.
 * cred_gen is the principal's credential generation as read before its password
 * was verified: the tokens die if it has changed since (store.h). */
int api_issue_tokens(struct api_req *rq, struct api_resp *rs, uint64_t admin_id, uint64_t user_id,
		     uint64_t tenant_id, uint64_t parent_grant, int64_t cred_gen);

/* --- passwords (password.c) ---------------------------------------------------------- */

/* Hashes a new login password through the Argon2 gate; 0, or non-zero with 503
 * (busy) or 500 answered in rs. */
int api_pw_hash(struct api_req *rq, struct api_resp *rs, const char *password, char *out, size_t outsz);
/* Verifies a login password as one attempt on the account (domain, NULL for a
 * system admin; username) from rq->source, through the Argon2 gate. encoded is
 * NULL for an unknown account (a dummy hash is verified: same time, always
 * fails). 0 when it matches; EACCES when it does not (nothing answered: the
 * caller words it); EAGAIN (429 answered) while the account or the source is
 * blocked; EBUSY (503 answered) when the gate is full. */
int api_pw_check(struct api_req *rq, struct api_resp *rs, const char *domain, const char *username,
		 const char *encoded, const char *password);

/* The failed sign-in limit: per source (IPv4 address, IPv6 /64) and per account
 * (domain + username). See auth.c for the rules. */
struct api_rl_keys {
	uint8_t source[16], account[16];
};
/* Not reference counted: free with api_ratelimit_free(). */
int api_ratelimit_alloc(struct api_ratelimit **rlp, int max_failures, int window_s);
void api_ratelimit_free(struct api_ratelimit *rl);
/* domain is NULL for system admins. */
void api_ratelimit_keys(struct api_rl_keys *k, const char *source, const char *domain, const char *username);
/* Checks both counters and, when neither is blocked, counts this attempt as a
 * failure in the same locked step; returns 0, or the seconds to wait with *why. */
int api_ratelimit_begin(struct api_ratelimit *rl, const struct api_rl_keys *k, const char **why);
/* The attempt counted by begin succeeded. */
void api_ratelimit_success(struct api_ratelimit *rl, const struct api_rl_keys *k);

/* len - 1 random characters from an unambiguous alphabet, the last a digit, and
 * a NUL: generated passwords. 0, or EIO when OpenSSL has no random bytes. */
int api_random_text(char *out, size_t len);
/* {id, name, domain, enabled}: a tenant in lists and as the token's tenant. */
json_t *api_tenant_summary(const struct store_tenant *t);

/* --- extension settings (settings.c) -------------------------------------------- */

/* The effective settings of a user: defaults overlaid by what is stored. */
json_t *api_settings_load(const struct store_user *u);
/* Validates patch (admin: every field; otherwise the user's subset), merges it
 * into u->settings and checks the result; 0 or the status put in rs. */
int api_settings_apply(struct store_user *u, const json_t *patch, bool admin, struct api_resp *rs);
/* A user's settings ({id} of the token's tenant), or their member (NULL: all),
 * answered; a patch of them applied as the tenant admin's (users.c). */
void api_user_settings_get(struct api_req *rq, uint64_t id, const char *member, struct api_resp *rs);
void api_user_settings_patch(struct api_req *rq, uint64_t id, const json_t *patch, const char *member,
			     struct api_resp *rs);

/* --- office hours, holidays, feature codes (office_hours.c...) ------------------- */

/* Answers the error of a pbx/schedule.h parser (400 unknown_field, else 422),
 * the field named. */
struct sched_err;
int api_sched_error(struct api_resp *rs, const struct sched_err *err);

/* --- configuration objects (objects.c; the kinds in trunks.c) ----------------------- */

/* A kind of store_obj served at path (list and create), path/{id} (read,
 * update), path/{id}/destroy and path/export (CSV of `columns`). */
struct api_obj_type {
	int kind;            /* enum store_obj_kind */
	const char *path;    /* "/api/providers" */
	const char *what;    /* "provider", for messages */
	const char *export_name; /* "providers.csv" */
	bool system;         /* a system admin (not switched) has objects of its own */
	bool shared;         /* tenants also read the system's objects assigned to them ("assignees") */
	const char *key_field; /* the field named by a conflict of the unique key */
	const struct api_schema *create, *update;
	/* Completes the object to be written from j (the stored JSON with the
	 * body's fields applied, or the new body; changes to j are stored):
	 * defaults, checks across fields and objects, o->ukey and o->uscope. Runs
	 * in the write's transaction. 0 or the status put in rs. */
	int (*take)(struct api_req *rq, struct store_obj *o, json_t *j, bool create, struct api_resp *rs);
	/* The answer's last touch (out has id, the stored fields, the times): secrets removed, fields computed. */
	void (*out)(struct api_req *rq, const struct store_obj *o, json_t *out);
	/* Whether it may be deleted (in its delete's transaction): 0 or the status (409 in use). */
	int (*deletable)(struct api_req *rq, const struct store_obj *o, struct api_resp *rs);
	const char *const *columns;
};
const struct api_obj_type *const *api_obj_types(size_t *n);
/* The owner a request acts for on kind t: 0 (the system) for a system admin
 * not switched into a tenant, where the kind allows; the tenant for its admins.
 * 0 or 403 put in rs. */
int api_obj_scope(const struct api_req *rq, const struct api_obj_type *t, uint64_t *tenant_id, struct api_resp *rs);
/* Object id of kind t as the owner scope sees it: its own, or (a shared kind)
 * the system's assigned to it (*own false). 0, or ENOENT and the store's errors. */
int api_obj_get_visible(struct api_req *rq, const struct api_obj_type *t, uint64_t scope, uint64_t id,
			struct store_obj *o, bool *own);
/* Whether a shared object's JSON lists tenant_id among its "assignees". */
bool api_obj_assigned(const json_t *j, uint64_t tenant_id);
json_t *api_obj_json(struct api_req *rq, const struct api_obj_type *t, const struct store_obj *o);
api_route_h api_h_obj_list, api_h_obj_create, api_h_obj_get, api_h_obj_update, api_h_obj_destroy, api_h_obj_export;
api_route_h api_h_provider_status, api_h_provider_assignees, api_h_provider_assign, api_h_provider_unassign,
	api_h_outbound_limits_get, api_h_outbound_limits_update;
extern const struct api_schema api_s_provider, api_s_provider_create, api_s_provider_update, api_s_provider_status,
	api_s_assignee, api_s_assignee_list, api_s_inbound_rule, api_s_inbound_rule_create, api_s_inbound_rule_update,
	api_s_outbound_rule, api_s_outbound_rule_create, api_s_outbound_rule_update, api_s_code, api_s_code_create,
	api_s_code_update, api_s_blacklisted, api_s_blacklisted_create, api_s_blacklisted_update,
	api_s_outbound_limits, api_s_cc_create, api_s_cc_update, api_s_provider_list, api_s_inbound_rule_list,
	api_s_outbound_rule_list, api_s_code_list, api_s_blacklisted_list;

/* --- TLS (tls.c) ------------------------------------------------------------------ */

/* The HTTPS pair from the given files, or from data_dir/tls/ where a
 * self-signed pair is made at first start; libmicrohttpd takes it through
 * api_tls_callback() (a gnutls_certificate_retrieve_function2), so a reload
 * serves the next handshake. */
int api_tls_open(struct api *a, const char *data_dir, const char *cert_file, const char *key_file);
void api_tls_close(struct api *a);
void *api_tls_callback(void);

/* --- HTTP (http.c) ---------------------------------------------------------------- */

int api_http_start(struct api *a, const char *address, int port, bool tls);
void api_http_stop(struct api *a);

/* The source a connection is counted against: a tag (4 or 6) and an IPv4
 * address, or the /64 of an IPv6 one (a v4-mapped address gives its IPv4 key).
 * Other families, or NULL, give the all-zero key. */
#define API_HTTP_SOURCE_SZ 9
struct sockaddr;
void api_http_source_key(const struct sockaddr *sa, uint8_t key[API_HTTP_SOURCE_SZ]);

/* --- the web portal's files (static.c) ----------------------------------------------- */

struct api_static;
struct MHD_Connection;
/* dir: --web-dir, or "" for the build's web/dist (none found: the portal's paths
 * answer 404). Not reference counted: free with api_static_free(). */
int api_static_open(struct api_static **sp, const char *dir);
void api_static_free(struct api_static *s);
/* The folder served, or NULL. */
const char *api_static_dir(const struct api_static *s);
/* Whether url is the portal's: it starts with / and is neither /api nor under it. */
bool api_static_path(const char *url);
/* Answers a complete request for a portal path; returns an enum MHD_Result. */
int api_static_serve(struct api *a, struct MHD_Connection *c, const char *method, const char *url);

#endif
