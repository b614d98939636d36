/* Sign-in, tokens and the per-address rate limit of failed sign-ins; also the
 * routes that need no resource: info and me. Tokens are 32 random bytes sent as
 * base64url; the database keeps only their SHA-256, so a copy of it grants
 * nothing, and sessions survive a restart. */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_int.h"
#include "core/log.h"

static const struct api_field sign_in_fields[] = {
	{ "username", API_T_STRING, API_F_REQUIRED, 1, 64, NULL, NULL, NULL, 0, "Login name" },
	{ "password", API_T_STRING, API_F_REQUIRED | API_F_WRITEONLY, 1, 128, NULL, NULL, NULL, 0, NULL },
	{ "domain", API_T_STRING, 0, 1, 253, NULL, NULL, NULL, 0,
	  "The tenant's SIP domain; omitted by system administrators" },
};
const struct api_schema api_s_sign_in = API_SCHEMA("SignIn", sign_in_fields, "Credentials");

static const struct api_field refresh_fields[] = {
	{ "refresh_token", API_T_STRING, API_F_REQUIRED | API_F_WRITEONLY, 1, 128, NULL, NULL, NULL, 0, NULL },
};
const struct api_schema api_s_refresh = API_SCHEMA("Refresh", refresh_fields, "A refresh token");

static const struct api_field token_fields[] = {
	{ "token", API_T_STRING, API_F_READONLY, 43, 43, NULL, NULL, NULL, 0, "Bearer access token" },
	{ "expires_in", API_T_INT, API_F_READONLY, 1, 1LL << 31, NULL, NULL, NULL, 0, "Seconds the token is valid" },
	{ "refresh_token", API_T_STRING, API_F_READONLY, 43, 43, NULL, NULL, NULL, 0,
	  "Spend at /api/auth/refresh for a new pair (valid 30 days)" },
	{ "two_factor_enabled", API_T_BOOL, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "Always false for now" },
};
const struct api_schema api_s_token = API_SCHEMA("Token", token_fields, "A session's token pair");

static const struct api_field tenant_ref_fields[] = {
	{ "id", API_T_STRING, API_F_READONLY, 1, 19, NULL, NULL, NULL, 0, NULL },
	{ "name", API_T_STRING, API_F_READONLY, 1, 128, NULL, NULL, NULL, 0, NULL },
	{ "domain", API_T_STRING, API_F_READONLY, 1, 253, NULL, NULL, NULL, 0, NULL },
	{ "enabled", API_T_BOOL, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, NULL },
};
static const struct api_schema s_tenant_ref = API_SCHEMA("TenantRef", tenant_ref_fields,
							 "A tenant's public metadata");

static const struct api_field me_fields[] = {
	{ "id", API_T_STRING, API_F_READONLY, 1, 19, NULL, NULL, NULL, 0, NULL },
	{ "username", API_T_STRING, API_F_READONLY, 1, 64, NULL, NULL, NULL, 0, NULL },
	{ "role", API_T_STRING, API_F_READONLY, 0, 0, "system_admin|admin|user", NULL, NULL, 0,
	  "admin: tenant administrator; a system admin switched into a tenant stays system_admin" },
	{ "display_name", API_T_STRING, API_F_READONLY, 0, 128, NULL, NULL, NULL, 0, NULL },
	{ "email", API_T_STRING, API_F_READONLY, 0, 254, NULL, NULL, NULL, 0, NULL },
	{ "extension_number", API_T_STRING, API_F_READONLY, 0, 16, NULL, NULL, NULL, 0, NULL },
	{ "tenant", API_T_OBJECT, API_F_READONLY, 0, 0, NULL, NULL, &s_tenant_ref, 0,
	  "The tenant the token acts in (null for a system admin not switched)" },
};
const struct api_schema api_s_me = API_SCHEMA("Me", me_fields, "The signed-in principal");

static const struct api_field info_fields[] = {
	{ "product", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "version", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "server_time", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "ISO 8601 UTC" },
	{ "tenant", API_T_OBJECT, API_F_READONLY, 0, 0, NULL, NULL, &s_tenant_ref, 0,
	  "With ?domain=: that tenant (404 when no tenant has the domain)" },
};
const struct api_schema api_s_info = API_SCHEMA("Info", info_fields, "Server information");

static const struct api_field error_body_fields[] = {
	{ "status", API_T_INT, API_F_READONLY | API_F_REQUIRED, 400, 599, NULL, NULL, NULL, 0, "HTTP status" },
	{ "code", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 0, 0,
	  "invalid_json|invalid_field|missing_field|unknown_field|not_found|unauthorized|forbidden|conflict|"
	  "limit_reached|rate_limited|payload_too_large|method_not_allowed|busy|internal", NULL, NULL, 0,
	  "Stable error code" },
	{ "message", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 0, 0, NULL, NULL, NULL, 0,
	  "Human-readable, starting with the field when one is wrong" },
	{ "field", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "The field at fault (dotted path)" },
};
static const struct api_schema s_error_body = API_SCHEMA("ErrorBody", error_body_fields, NULL);
static const struct api_field error_fields[] = {
	{ "error", API_T_OBJECT, API_F_READONLY | API_F_REQUIRED, 0, 0, NULL, NULL, &s_error_body, 0, NULL },
};
const struct api_schema api_s_error = API_SCHEMA("Error", error_fields, "Every error answer");

/* --- rate limit of failed sign-ins ------------------------------------------------- */

#define RL_SLOTS 1024

struct rl_slot {
	char addr[48];
	int64_t window_start; /* ms */
	int failures;
};

struct api_ratelimit {
	/* Sign-ins run on several MHD threads; the lock guards the slot table and is
	 * held for a lookup only (never across hashing or storage). */
	pthread_mutex_t lock;
	int max_failures;
	int64_t window_ms;
	struct rl_slot slot[RL_SLOTS];
};

int api_ratelimit_alloc(struct api_ratelimit **rlp, int max_failures, int window_s)
{
	struct api_ratelimit *rl = calloc(1, sizeof(*rl));
	if (!rl)
		return ENOMEM;
	pthread_mutex_init(&rl->lock, NULL);
	rl->max_failures = max_failures;
	rl->window_ms = (int64_t)window_s * 1000;
	*rlp = rl;
	return 0;
}

void api_ratelimit_free(struct api_ratelimit *rl)
{
	if (!rl)
		return;
	pthread_mutex_destroy(&rl->lock);
	free(rl);
}

/* The slot of addr: found, else a free or expired one, else the oldest. */
static struct rl_slot *rl_find(struct api_ratelimit *rl, const char *addr, int64_t now, bool create)
{
	struct rl_slot *free_slot = NULL, *oldest = &rl->slot[0];
	for (size_t i = 0; i < RL_SLOTS; i++) {
		struct rl_slot *s = &rl->slot[i];
		bool expired = !s->addr[0] || now - s->window_start >= rl->window_ms;
		if (s->addr[0] && strcmp(s->addr, addr) == 0)
			return expired && !create ? NULL : s;
		if (expired && !free_slot)
			free_slot = s;
		if (s->window_start < oldest->window_start)
			oldest = s;
	}
	if (!create)
		return NULL;
	struct rl_slot *s = free_slot ? free_slot : oldest;
	snprintf(s->addr, sizeof(s->addr), "%s", addr);
	s->failures = 0;
	s->window_start = now;
	return s;
}

int api_ratelimit_blocked(struct api_ratelimit *rl, const char *source)
{
	int64_t now = store_now_ms();
	int wait = 0;
	pthread_mutex_lock(&rl->lock);
	struct rl_slot *s = rl_find(rl, source, now, false);
	if (s && s->failures >= rl->max_failures)
		wait = (int)((s->window_start + rl->window_ms - now + 999) / 1000);
	pthread_mutex_unlock(&rl->lock);
	return wait > 0 ? wait : 0;
}

void api_ratelimit_fail(struct api_ratelimit *rl, const char *source)
{
	int64_t now = store_now_ms();
	pthread_mutex_lock(&rl->lock);
	struct rl_slot *s = rl_find(rl, source, now, true);
	if (now - s->window_start >= rl->window_ms) {
		s->window_start = now;
		s->failures = 0;
	}
	s->failures++;
	pthread_mutex_unlock(&rl->lock);
}

/* --- tokens ------------------------------------------------------------------------ */

static void token_new(char out[44], uint8_t hash[32])
{
	uint8_t raw[32];
	RAND_bytes(raw, sizeof(raw));
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;
	for (size_t i = 0; i < 32; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16 | (i + 1 < 32 ? (uint32_t)raw[i + 1] << 8 : 0) |
			     (i + 2 < 32 ? raw[i + 2] : 0);
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		if (i + 1 < 32)
			out[o++] = b64[v >> 6 & 63];
		if (i + 2 < 32)
			out[o++] = b64[v & 63];
	}
	out[o] = '\0';
	SHA256((const uint8_t *)out, o, hash);
}

int api_issue_tokens(struct api_req *rq, struct api_resp *rs, uint64_t admin_id, uint64_t user_id,
		     uint64_t tenant_id, uint64_t grant_id)
{
	char access[44], refresh[44];
	int64_t now = store_now_ms();
	struct store_session s = { .grant_id = grant_id ? grant_id : store_id_next(), .admin_id = admin_id,
				   .user_id = user_id, .tenant_id = tenant_id, .created_at = now };
	token_new(access, s.hash);
	s.kind = STORE_SESSION_ACCESS;
	s.expires_at = now + rq->api->token_lifetime_s * 1000;
	int e = store_session_put(rq->st, &s);
	if (!e) {
		token_new(refresh, s.hash);
		s.kind = STORE_SESSION_REFRESH;
		s.expires_at = now + (int64_t)API_REFRESH_LIFETIME_S * 1000;
		e = store_session_put(rq->st, &s);
	}
	if (e)
		return api_store_error(rs, rq->st, e, "session");
	api_ok(rs, 200, json_pack("{s:s, s:I, s:s, s:b}", "token", access, "expires_in",
				  (json_int_t)rq->api->token_lifetime_s, "refresh_token", refresh,
				  "two_factor_enabled", 0));
	return 0;
}

/* Checks that the principal of a session may still act: the admin or user exists
 * and is enabled, and a user's tenant is enabled (TEN-03). */
static int principal_ok(struct api_req *rq, const struct store_session *s, struct api_who *w)
{
	memset(w, 0, sizeof(*w));
	w->grant_id = s->grant_id;
	w->tenant_id = s->tenant_id;
	if (s->admin_id) {
		struct store_admin a;
		if (store_admin_get(rq->st, s->admin_id, &a) || !a.enabled)
			return EACCES;
		w->sysadmin = true;
		w->admin_id = a.id;
		w->tenant_admin = s->tenant_id != 0;
		if (s->tenant_id) {
			struct store_tenant t;
			if (store_tenant_get(rq->st, s->tenant_id, &t))
				return EACCES;
		}
		return 0;
	}
	struct store_user u = { 0 };
	struct store_tenant t;
	int e = store_user_get(rq->st, s->tenant_id, s->user_id, &u);
	store_user_reset(&u);
	if (e || !u.enabled || store_tenant_get(rq->st, u.tenant_id, &t) || !t.enabled)
		return EACCES;
	w->user_id = u.id;
	w->tenant_admin = u.role == STORE_ROLE_ADMIN;
	return 0;
}

int api_authenticate(struct api_req *rq, struct api_resp *rs)
{
	const char *h = rq->authorization;
	rs->www_auth = true;
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return api_error(rs, 401, "unauthorized", NULL, "sign in first: Authorization: Bearer TOKEN");
	h += 7;
	while (*h == ' ')
		h++;
	size_t len = strlen(h);
	if (len == 0 || len > 128)
		return api_error(rs, 401, "unauthorized", NULL, "invalid or expired token");
	uint8_t hash[32];
	SHA256((const uint8_t *)h, len, hash);
	struct store_session s;
	int e = store_session_get(rq->st, hash, &s);
	if (e && e != ENOENT)
		return api_store_error(rs, rq->st, e, "session");
	if (e || s.kind != STORE_SESSION_ACCESS || s.expires_at <= store_now_ms() ||
	    principal_ok(rq, &s, &rq->who))
		return api_error(rs, 401, "unauthorized", NULL, "invalid or expired token");
	memcpy(rq->who.token_hash, hash, 32);
	rq->who.signed_in = true;
	rs->www_auth = false;
	return 0;
}

/* --- routes ------------------------------------------------------------------------- */

static int sign_in_fail(struct api_req *rq, struct api_resp *rs)
{
	api_ratelimit_fail(rq->api->rl, rq->source);
	rs->www_auth = true;
	return api_error(rs, 401, "unauthorized", NULL, "wrong username, password or domain");
}

void api_h_sign_in(struct api_req *rq, struct api_resp *rs)
{
	int wait = api_ratelimit_blocked(rq->api->rl, rq->source);
	if (wait) {
		rs->retry_after = wait;
		api_error(rs, 429, "rate_limited", NULL, "too many failed sign-ins from %s; retry in %d s",
			  rq->source, wait);
		return;
	}
	const char *username = json_string_value(json_object_get(rq->json, "username"));
	const char *password = json_string_value(json_object_get(rq->json, "password"));
	const char *domain = json_string_value(json_object_get(rq->json, "domain"));
	store_session_purge(rq->st, store_now_ms());
	if (!domain) {
		struct store_admin a;
		int e = store_admin_get_by_name(rq->st, username, &a);
		/* An unknown name costs the same hashing time as a wrong password. */
		if (e)
			store_pw_verify(rq->api->dummy_hash, password);
		if (e || store_pw_verify(a.pw_hash, password) || !a.enabled) {
			sign_in_fail(rq, rs);
			return;
		}
		api_issue_tokens(rq, rs, a.id, 0, 0, 0);
		return;
	}
	struct store_tenant t;
	struct store_user u = { 0 };
	int e = store_tenant_get_by_domain(rq->st, domain, &t);
	if (!e)
		e = store_user_get_by_name(rq->st, t.id, username, &u);
	if (e)
		store_pw_verify(rq->api->dummy_hash, password);
	if (e || store_pw_verify(u.pw_hash, password) || !u.enabled || !t.enabled) {
		store_user_reset(&u);
		sign_in_fail(rq, rs);
		return;
	}
	store_user_reset(&u);
	api_issue_tokens(rq, rs, 0, u.id, t.id, 0);
}

void api_h_refresh(struct api_req *rq, struct api_resp *rs)
{
	const char *tok = json_string_value(json_object_get(rq->json, "refresh_token"));
	uint8_t hash[32];
	SHA256((const uint8_t *)tok, strlen(tok), hash);
	struct store_session s;
	struct api_who w;
	if (store_session_get(rq->st, hash, &s) || s.kind != STORE_SESSION_REFRESH ||
	    s.expires_at <= store_now_ms() || principal_ok(rq, &s, &w)) {
		rs->www_auth = true;
		api_error(rs, 401, "unauthorized", "refresh_token", "refresh_token: invalid or expired");
		return;
	}
	/* Spent on use: a stolen refresh token works once, for whoever is first. */
	store_session_delete(rq->st, hash);
	api_issue_tokens(rq, rs, s.admin_id, s.user_id, s.tenant_id, s.grant_id);
}

void api_h_sign_out(struct api_req *rq, struct api_resp *rs)
{
	int e = store_session_delete_grant(rq->st, rq->who.grant_id);
	if (e)
		api_store_error(rs, rq->st, e, "session");
	else
		api_ok(rs, 204, NULL);
}

static json_t *tenant_ref(const struct store_tenant *t)
{
	return json_pack("{s:o, s:s, s:s, s:b}", "id", api_json_id(t->id), "name", t->name, "domain", t->domain,
			 "enabled", t->enabled);
}

void api_h_me(struct api_req *rq, struct api_resp *rs)
{
	const struct api_who *w = &rq->who;
	struct store_tenant t;
	json_t *tenant = json_null();
	if (w->tenant_id && store_tenant_get(rq->st, w->tenant_id, &t) == 0)
		tenant = tenant_ref(&t);
	if (w->sysadmin) {
		struct store_admin a;
		if (store_admin_get(rq->st, w->admin_id, &a)) {
			json_decref(tenant);
			api_error(rs, 401, "unauthorized", NULL, "invalid or expired token");
			return;
		}
		api_ok(rs, 200, json_pack("{s:o, s:s, s:s, s:o}", "id", api_json_id(a.id), "username", a.username,
					  "role", "system_admin", "tenant", tenant));
		return;
	}
	struct store_user u = { 0 };
	int e = store_user_get(rq->st, w->tenant_id, w->user_id, &u);
	if (e) {
		json_decref(tenant);
		api_store_error(rs, rq->st, e, "user");
		return;
	}
	api_ok(rs, 200, json_pack("{s:o, s:s, s:s, s:s, s:s, s:s, s:o}", "id", api_json_id(u.id), "username",
				  u.username, "role", u.role == STORE_ROLE_ADMIN ? "admin" : "user", "display_name",
				  u.display_name, "email", u.email, "extension_number", u.ext_number, "tenant",
				  tenant));
	store_user_reset(&u);
}

void api_h_info(struct api_req *rq, struct api_resp *rs)
{
	const char *domain = api_query(rq, "domain");
	json_t *o = json_pack("{s:s, s:s, s:o}", "product", "pbxd", "version", "0.1.0", "server_time",
			      api_json_time(store_now_ms()));
	if (domain) {
		struct store_tenant t;
		int e = store_tenant_get_by_domain(rq->st, domain, &t);
		if (e) {
			json_decref(o);
			api_error(rs, 404, "not_found", "domain", "domain: no tenant has this SIP domain");
			return;
		}
		json_t *tr = tenant_ref(&t);
		json_object_del(tr, "id"); /* public: no ids before sign-in */
		json_object_set_new(o, "tenant", tr);
	}
	api_ok(rs, 200, o);
}
