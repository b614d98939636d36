/* /api/users (a tenant admin manages the tenant's users and their extensions) and
 * /api/user (the signed-in user's own profile, passwords and settings). Every
 * read and write is scoped by the token's tenant: another tenant's id is 404. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "core/log.h"
#include "core/mem.h"

#define U_ID { "id", API_T_STRING, API_F_READONLY, 1, 19, NULL, NULL, NULL, 0, "64-bit id as a decimal string" }
#define U_USERNAME(fl) { "username", API_T_STRING, fl, 1, 64, NULL, api_check_tenant_username, NULL, 0, \
			 "Letters, digits, _ - ' . ; not starting or ending with a period; admin, system," \
			 " administrator and root are reserved" }
#define U_PASSWORD(fl) { "password", API_T_STRING, (fl) | API_F_WRITEONLY, 8, 128, NULL, api_check_password, \
			 NULL, 0, "Login password for the portal, apps and API (stored as Argon2id)" }
#define U_EMAIL(fl) { "email", API_T_STRING, fl, 3, 254, NULL, api_check_email, NULL, 0, \
		      "Where the PBX sends the user's notifications" }
#define U_DISPLAY { "display_name", API_T_STRING, 0, 0, 128, NULL, api_check_text, NULL, 0, \
		    "Full name, sent as the caller's display name" }
#define U_ROLE { "role", API_T_STRING, 0, 0, 0, "admin|user", NULL, NULL, 0, \
		 "admin: tenant administrator; user: extension user (default)" }
#define U_ENABLED { "enabled", API_T_BOOL, 0, 0, 0, NULL, NULL, NULL, 0, "Allowed to sign in (default true)" }
#define U_EXT(fl) { "extension_number", API_T_STRING, fl, 1, 16, NULL, api_check_digits, NULL, 0, \
		    "Extension number, unique in the tenant" }
#define U_EXT_PW(fl) { "extension_password", API_T_STRING, (fl) | API_F_WRITEONLY, 8, 64, NULL, \
		       api_check_secret, NULL, 0, "SIP password of the extension (digest authentication)" }
#define U_TIME(n) { n, API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "ISO 8601 UTC" }

static const struct api_field summary_fields[] = {
	U_ID, U_USERNAME(0), U_DISPLAY, U_EMAIL(0), U_ROLE, U_ENABLED, U_EXT(0),
};
const struct api_schema api_s_user_summary = API_SCHEMA("UserSummary", summary_fields, "A user in a list");

static const struct api_field user_fields[] = {
	U_ID, U_USERNAME(0), U_DISPLAY, U_EMAIL(0), U_ROLE, U_ENABLED, U_EXT(0),
	U_TIME("created_at"), U_TIME("updated_at"),
};
const struct api_schema api_s_user = API_SCHEMA("User", user_fields,
	"A user with their extension (detailed). Settings: /api/users/{id}/extension");

static const struct api_field create_fields[] = {
	U_USERNAME(API_F_REQUIRED), U_PASSWORD(API_F_REQUIRED), U_EMAIL(API_F_REQUIRED), U_DISPLAY, U_ROLE,
	U_ENABLED, U_EXT(API_F_REQUIRED), U_EXT_PW(API_F_REQUIRED),
};
const struct api_schema api_s_user_create = API_SCHEMA("UserCreate", create_fields, NULL);

static const struct api_field update_fields[] = {
	U_USERNAME(0), U_PASSWORD(0), U_EMAIL(0), U_DISPLAY, U_ROLE, U_ENABLED, U_EXT(0), U_EXT_PW(0),
};
const struct api_schema api_s_user_update = API_SCHEMA("UserUpdate", update_fields, NULL);

static const struct api_field profile_fields[] = { U_DISPLAY, U_EMAIL(0) };
const struct api_schema api_s_profile = API_SCHEMA("Profile", profile_fields, "What users change themselves");

static const struct api_field password_fields[] = { U_PASSWORD(API_F_REQUIRED) };
const struct api_schema api_s_password = API_SCHEMA("Password", password_fields, NULL);

static const struct api_field user_password_fields[] = {
	{ "old_password", API_T_STRING, API_F_REQUIRED | API_F_WRITEONLY, 1, 128, NULL, NULL, NULL, 0, NULL },
	{ "new_password", API_T_STRING, API_F_REQUIRED | API_F_WRITEONLY, 8, 128, NULL, api_check_password, NULL, 0,
	  NULL },
};
const struct api_schema api_s_user_password = API_SCHEMA("PasswordChange", user_password_fields, NULL);

/* One schema serves both routes that set a SIP password (the route table shares
 * it): `password` is required on /api/user/extension_password and refused on
 * /api/users/{id}/extension_password, by their handlers. */
static const struct api_field ext_password_fields[] = {
	U_EXT_PW(API_F_REQUIRED),
	{ "password", API_T_STRING, API_F_WRITEONLY, 1, 128, NULL, NULL, NULL, 0,
	  "Your current login password: required to change your own (/api/user/extension_password);"
	  " not accepted on /api/users/{id}/extension_password" },
};
const struct api_schema api_s_ext_password = API_SCHEMA("ExtensionPassword", ext_password_fields, NULL);

static json_t *user_summary(const struct store_user *u)
{
	return json_pack("{s:o, s:s, s:s, s:s, s:s, s:b, s:s}", "id", api_json_id(u->id), "username", u->username,
			 "display_name", u->display_name, "email", u->email, "role",
			 u->role == STORE_ROLE_ADMIN ? "admin" : "user", "enabled", u->enabled, "extension_number",
			 u->ext_number);
}

static json_t *user_json(const struct store_user *u)
{
	json_t *o = user_summary(u);
	json_object_set_new(o, "created_at", api_json_time(u->created_at));
	json_object_set_new(o, "updated_at", api_json_time(u->updated_at));
	return o;
}

/* Copies the fields present in body into u, hashing a new login password. */
static int take_user(const json_t *body, struct store_user *u, struct api_resp *rs)
{
	api_take_str(body, "username", u->username, sizeof(u->username));
	api_take_str(body, "email", u->email, sizeof(u->email));
	api_take_str(body, "display_name", u->display_name, sizeof(u->display_name));
	api_take_bool(body, "enabled", &u->enabled);
	api_take_str(body, "extension_number", u->ext_number, sizeof(u->ext_number));
	api_take_str(body, "extension_password", u->ext_password, sizeof(u->ext_password));
	const char *role = json_string_value(json_object_get(body, "role"));
	if (role)
		u->role = strcmp(role, "admin") == 0 ? STORE_ROLE_ADMIN : STORE_ROLE_USER;
	const char *pw = json_string_value(json_object_get(body, "password"));
	if (pw && store_pw_hash(pw, u->pw_hash, sizeof(u->pw_hash)))
		return api_error(rs, 500, "internal", NULL, "cannot hash the password");
	return 0;
}

/* Loads the user {id} of the token's tenant; 404 for any other tenant's. */
static int load(struct api_req *rq, uint64_t id, struct store_user *u, struct api_resp *rs)
{
	int e = store_user_get(rq->st, rq->who.tenant_id, id, u);
	return e ? api_store_error(rs, rq->st, e, "user") : 0;
}

/* Writes u and answers. With end_sessions (a new login password, or disabled)
 * the user's sessions end too, but for the caller's own when it is their own
 * change: whoever changed the password keeps the session they did it with. */
static void save(struct api_req *rq, struct store_user *u, bool end_sessions, struct api_resp *rs, int ok,
		 json_t *body)
{
	int e = store_user_update(rq->st, u);
	if (!e && end_sessions)
		e = store_session_delete_user(rq->st, u->id, u->id == rq->who.user_id ? rq->who.grant_id : 0);
	if (e) {
		json_decref(body);
		api_store_error(rs, rq->st, e, "user");
	} else {
		api_ok(rs, ok, ok == 204 ? NULL : body ? body : user_json(u));
	}
	store_user_reset(u);
}

void api_h_users_list(struct api_req *rq, struct api_resp *rs)
{
	struct store_query q;
	if (api_list_query(rq, STORE_KIND_USER, &q, rs))
		return;
	struct store_users *l;
	int e = store_user_list(rq->st, rq->who.tenant_id, &q, &l);
	if (e) {
		api_store_error(rs, rq->st, e, "users");
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < l->n; i++)
		json_array_append_new(items, user_summary(&l->v[i]));
	api_ok(rs, 200, json_pack("{s:I, s:o}", "count", (json_int_t)l->count, "items", items));
	mem_deref(l);
}

void api_h_users_create(struct api_req *rq, struct api_resp *rs)
{
	struct store_tenant t;
	uint64_t n = 0;
	int e = store_tenant_get(rq->st, rq->who.tenant_id, &t);
	if (!e)
		e = store_user_count(rq->st, t.id, &n);
	if (e) {
		api_store_error(rs, rq->st, e, "tenant");
		return;
	}
	/* Checked before the insert, not in it: two concurrent creates may both pass
	 * at the limit; the limit is a commercial bound, not a safety one. */
	if (t.max_users && (int64_t)n >= t.max_users) {
		api_error(rs, 409, "limit_reached", NULL, "the tenant has its maximum of %lld users",
			  (long long)t.max_users);
		return;
	}
	struct store_user u = { .tenant_id = t.id, .enabled = true, .role = STORE_ROLE_USER };
	if (take_user(rq->json, &u, rs))
		return;
	e = store_user_create(rq->st, &u);
	if (e)
		api_store_error(rs, rq->st, e, "user");
	else
		api_ok(rs, 201, user_json(&u));
}

void api_h_users_get(struct api_req *rq, struct api_resp *rs)
{
	struct store_user u = { 0 };
	if (load(rq, rq->id, &u, rs))
		return;
	api_ok(rs, 200, user_json(&u));
	store_user_reset(&u);
}

void api_h_users_update(struct api_req *rq, struct api_resp *rs)
{
	struct store_user u = { 0 };
	if (load(rq, rq->id, &u, rs))
		return;
	if (take_user(rq->json, &u, rs)) {
		store_user_reset(&u);
		return;
	}
	/* An admin cannot lock themselves out of the tenant they manage. */
	if (u.id == rq->who.user_id && (!u.enabled || u.role != STORE_ROLE_ADMIN)) {
		store_user_reset(&u);
		api_error(rs, 409, "conflict", u.enabled ? "role" : "enabled",
			  "%s: you cannot remove your own administrator access", u.enabled ? "role" : "enabled");
		return;
	}
	save(rq, &u, json_object_get(rq->json, "password") || !u.enabled, rs, 200, NULL);
}

void api_h_users_destroy(struct api_req *rq, struct api_resp *rs)
{
	if (rq->id == rq->who.user_id) {
		api_error(rs, 409, "conflict", NULL, "you cannot delete yourself");
		return;
	}
	int e = store_user_delete(rq->st, rq->who.tenant_id, rq->id);
	if (e)
		api_store_error(rs, rq->st, e, "user");
	else
		api_ok(rs, 204, NULL);
}

void api_h_users_password(struct api_req *rq, struct api_resp *rs)
{
	struct store_user u = { 0 };
	if (load(rq, rq->id, &u, rs))
		return;
	if (take_user(rq->json, &u, rs)) {
		store_user_reset(&u);
		return;
	}
	save(rq, &u, true, rs, 204, NULL);
}

void api_h_users_ext_password(struct api_req *rq, struct api_resp *rs)
{
	if (json_object_get(rq->json, "password")) {
		api_error(rs, 400, "unknown_field", "password",
			  "password: not accepted here (the login password is /api/users/{id}/password)");
		return;
	}
	struct store_user u = { 0 };
	if (load(rq, rq->id, &u, rs))
		return;
	api_take_str(rq->json, "extension_password", u.ext_password, sizeof(u.ext_password));
	save(rq, &u, false, rs, 204, NULL);
}

static void ext_get(struct api_req *rq, uint64_t id, struct api_resp *rs)
{
	struct store_user u = { 0 };
	if (load(rq, id, &u, rs))
		return;
	api_ok(rs, 200, api_settings_load(&u));
	store_user_reset(&u);
}

static void ext_update(struct api_req *rq, uint64_t id, bool admin, struct api_resp *rs)
{
	struct store_user u = { 0 };
	if (load(rq, id, &u, rs))
		return;
	if (api_settings_apply(&u, rq->json, admin, rs)) {
		store_user_reset(&u);
		return;
	}
	save(rq, &u, false, rs, 200, api_settings_load(&u));
}

void api_h_users_ext_get(struct api_req *rq, struct api_resp *rs) { ext_get(rq, rq->id, rs); }
void api_h_users_ext_update(struct api_req *rq, struct api_resp *rs) { ext_update(rq, rq->id, true, rs); }

/* --- /api/user: the signed-in user ---------------------------------------------------- */

void api_h_user_profile_get(struct api_req *rq, struct api_resp *rs)
{
	struct store_user u = { 0 };
	if (load(rq, rq->who.user_id, &u, rs))
		return;
	api_ok(rs, 200, user_json(&u));
	store_user_reset(&u);
}

void api_h_user_profile_update(struct api_req *rq, struct api_resp *rs)
{
	struct store_user u = { 0 };
	if (load(rq, rq->who.user_id, &u, rs))
		return;
	api_take_str(rq->json, "display_name", u.display_name, sizeof(u.display_name));
	api_take_str(rq->json, "email", u.email, sizeof(u.email));
	save(rq, &u, false, rs, 200, NULL);
}

void api_h_user_password(struct api_req *rq, struct api_resp *rs)
{
	struct store_user u = { 0 };
	if (load(rq, rq->who.user_id, &u, rs))
		return;
	const char *old = json_string_value(json_object_get(rq->json, "old_password"));
	const char *pw = json_string_value(json_object_get(rq->json, "new_password"));
	if (store_pw_verify(u.pw_hash, old)) {
		store_user_reset(&u);
		api_error(rs, 422, "invalid_field", "old_password", "old_password: does not match");
		return;
	}
	if (store_pw_hash(pw, u.pw_hash, sizeof(u.pw_hash))) {
		store_user_reset(&u);
		api_error(rs, 500, "internal", NULL, "cannot hash the password");
		return;
	}
	save(rq, &u, true, rs, 204, NULL);
}

/* Like the login password, the SIP password is changed only with the login
 * password: a stolen token alone cannot take over the phone line. */
void api_h_user_ext_password(struct api_req *rq, struct api_resp *rs)
{
	const char *pw = json_string_value(json_object_get(rq->json, "password"));
	if (!pw) {
		api_error(rs, 422, "missing_field", "password", "password: your current login password is required");
		return;
	}
	struct store_user u = { 0 };
	if (load(rq, rq->who.user_id, &u, rs))
		return;
	if (store_pw_verify(u.pw_hash, pw)) {
		store_user_reset(&u);
		api_error(rs, 422, "invalid_field", "password", "password: does not match");
		return;
	}
	api_take_str(rq->json, "extension_password", u.ext_password, sizeof(u.ext_password));
	save(rq, &u, false, rs, 204, NULL);
}

void api_h_user_ext_get(struct api_req *rq, struct api_resp *rs) { ext_get(rq, rq->who.user_id, rs); }
void api_h_user_ext_update(struct api_req *rq, struct api_resp *rs) { ext_update(rq, rq->who.user_id, false, rs); }
