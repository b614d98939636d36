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

#define U_DEVICES { "registered_devices", API_T_INT, API_F_READONLY, 0, 100, NULL, NULL, NULL, 0, \
		    "Devices registered for the extension now (GET /api/users/{id}/devices lists them)" }

static const struct api_field summary_fields[] = {
	U_ID, U_USERNAME(0), U_DISPLAY, U_EMAIL(0), U_ROLE, U_ENABLED, U_EXT(0), U_DEVICES,
};
const struct api_schema api_s_user_summary = API_SCHEMA("UserSummary", summary_fields, "A user in a list");

static const struct api_field user_fields[] = {
	U_ID, U_USERNAME(0), U_DISPLAY, U_EMAIL(0), U_ROLE, U_ENABLED, U_EXT(0), U_DEVICES,
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

static json_t *user_summary(const struct store_user *u, unsigned devices)
{
	return json_pack("{s:o, s:s, s:s, s:s, s:s, s:b, s:s, s:i}", "id", api_json_id(u->id), "username",
			 u->username, "display_name", u->display_name, "email", u->email, "role",
			 u->role == STORE_ROLE_ADMIN ? "admin" : "user", "enabled", u->enabled, "extension_number",
			 u->ext_number, "registered_devices", (int)devices);
}

/* How many devices are registered for each of n users (0 when the PBX cannot
 * say right now: a list is not refused for it). */
static void devices_count(struct api_req *rq, const uint64_t *ids, size_t n, unsigned *counts)
{
	if (pbx_device_counts(rq->api->pbx, ids, n, counts))
		memset(counts, 0, n * sizeof(*counts));
}

static json_t *user_json_n(const struct store_user *u, unsigned devices)
{
	json_t *o = user_summary(u, devices);
	json_object_set_new(o, "created_at", api_json_time(u->created_at));
	json_object_set_new(o, "updated_at", api_json_time(u->updated_at));
	return o;
}

static json_t *user_json(struct api_req *rq, const struct store_user *u)
{
	unsigned n = 0;
	devices_count(rq, &u->id, 1, &n);
	return user_json_n(u, n);
}

/* Copies the fields present in body into u; a new login password arrives
 * already hashed (pw_hash, or NULL when the body has none). */
static void take_user(const json_t *body, const char *pw_hash, struct store_user *u)
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
	if (pw_hash)
		snprintf(u->pw_hash, sizeof(u->pw_hash), "%s", pw_hash);
}

/* Hashes the body's login password, if it has one, once for every try of an
 * edit; *hash is NULL when there is none. 0, or the status put in rs. */
static int body_pw_hash(struct api_req *rq, const char *key, char buf[STORE_HASH_SZ], const char **hash,
			struct api_resp *rs)
{
	const char *pw = json_string_value(json_object_get(rq->json, key));
	*hash = NULL;
	if (!pw)
		return 0;
	if (api_pw_hash(rq, rs, pw, buf, STORE_HASH_SZ))
		return rs->status;
	*hash = buf;
	return 0;
}

/* Loads the user {id} of the token's tenant; 404 for any other tenant's. */
static int load(struct api_req *rq, uint64_t id, struct store_user *u, struct api_resp *rs)
{
	int e = store_user_get(rq->st, rq->who.tenant_id, id, u);
	return e ? api_store_error(rs, rq->st, e, "user") : 0;
}

/* One change to a user: applied to the row as read, it returns 0, or answers an
 * error in rs and returns non-zero. It may run more than once (see user_edit),
 * each time on a fresh row: whatever costs (hashing) is done before. */
typedef int(user_edit_h)(struct api_req *rq, struct store_user *u, void *arg, struct api_resp *rs);

/* The answer to a successful edit: the user, their settings, or nothing (204). */
enum edit_answer { ANSWER_USER, ANSWER_SETTINGS, ANSWER_NONE };

/* Read, change, write: the write goes through only if nobody wrote the row since
 * the read (the store checks its version); when somebody did, the change is made
 * again on what they wrote, so an acknowledged write is never undone by one that
 * read before it. A change of the login password or a disable ends the user's
 * sessions in the same transaction, but for the caller's own when it is their
 * own change: whoever changed the password keeps the session they did it with. */
static void user_edit(struct api_req *rq, uint64_t id, user_edit_h *edit, void *arg, enum edit_answer answer,
		      struct api_resp *rs)
{
	for (int i = 0; i < API_EDIT_TRIES; i++) {
		struct store_user u = { 0 };
		if (load(rq, id, &u, rs))
			return;
		if (edit(rq, &u, arg, rs)) {
			store_user_reset(&u);
			return;
		}
		int e = store_user_update(rq->st, &u, u.id == rq->who.user_id ? rq->who.grant_id : 0);
		if (e == ESTALE) {
			store_user_reset(&u);
			continue;
		}
		if (!e)
			pbx_notify_user(rq->api->pbx, u.tenant_id, u.id, true);
		if (e)
			api_store_error(rs, rq->st, e, "user");
		else if (answer == ANSWER_NONE)
			api_ok(rs, 204, NULL);
		else
			api_ok(rs, 200, answer == ANSWER_USER ? user_json(rq, &u) : api_settings_load(&u));
		store_user_reset(&u);
		return;
	}
	api_error(rs, 409, "conflict", NULL, "the user changed too often meanwhile; try again");
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
	uint64_t ids[STORE_PAGE_MAX]; /* a page is at most this long (store_query.top) */
	unsigned counts[STORE_PAGE_MAX];
	for (size_t i = 0; i < l->n; i++)
		ids[i] = l->v[i].id;
	devices_count(rq, ids, l->n, counts);
	json_t *items = json_array();
	for (size_t i = 0; i < l->n; i++)
		json_array_append_new(items, user_summary(&l->v[i], counts[i]));
	api_ok(rs, 200, json_pack("{s:I, s:o}", "count", (json_int_t)l->count, "items", items));
	mem_deref(l);
}

/* The tenant's max_users is checked by the store in the insert's transaction. */
void api_h_users_create(struct api_req *rq, struct api_resp *rs)
{
	struct store_user u = { .tenant_id = rq->who.tenant_id, .enabled = true, .role = STORE_ROLE_USER };
	char buf[STORE_HASH_SZ];
	const char *hash;
	if (body_pw_hash(rq, "password", buf, &hash, rs))
		return;
	take_user(rq->json, hash, &u);
	int e = store_user_create(rq->st, &u);
	struct store_tenant t;
	if (e == EDQUOT && store_tenant_get(rq->st, u.tenant_id, &t) == 0)
		api_error(rs, 409, "limit_reached", NULL, "the tenant has its maximum of %lld users",
			  (long long)t.max_users);
	else if (e)
		api_store_error(rs, rq->st, e, "user");
	else {
		pbx_notify_user(rq->api->pbx, u.tenant_id, u.id, true);
		api_ok(rs, 201, user_json(rq, &u));
	}
}

void api_h_users_get(struct api_req *rq, struct api_resp *rs)
{
	struct store_user u = { 0 };
	if (load(rq, rq->id, &u, rs))
		return;
	api_ok(rs, 200, user_json(rq, &u));
	store_user_reset(&u);
}

/* An admin's update of a user: the body's fields (its password hashed). */
static int edit_fields(struct api_req *rq, struct store_user *u, void *arg, struct api_resp *rs)
{
	take_user(rq->json, arg, u);
	/* An admin cannot lock themselves out of the tenant they manage. */
	if (u->id == rq->who.user_id && (!u->enabled || u->role != STORE_ROLE_ADMIN))
		return api_error(rs, 409, "conflict", u->enabled ? "role" : "enabled",
				 "%s: you cannot remove your own administrator access", u->enabled ? "role" : "enabled");
	return 0;
}

void api_h_users_update(struct api_req *rq, struct api_resp *rs)
{
	char buf[STORE_HASH_SZ];
	const char *hash;
	if (!body_pw_hash(rq, "password", buf, &hash, rs))
		user_edit(rq, rq->id, edit_fields, (void *)hash, ANSWER_USER, rs);
}

void api_h_users_destroy(struct api_req *rq, struct api_resp *rs)
{
	if (rq->id == rq->who.user_id) {
		api_error(rs, 409, "conflict", NULL, "you cannot delete yourself");
		return;
	}
	int e = store_user_delete(rq->st, rq->who.tenant_id, rq->id);
	if (e) {
		api_store_error(rs, rq->st, e, "user");
		return;
	}
	pbx_notify_user(rq->api->pbx, rq->who.tenant_id, rq->id, true);
	api_ok(rs, 204, NULL);
}

void api_h_users_password(struct api_req *rq, struct api_resp *rs)
{
	char buf[STORE_HASH_SZ];
	const char *hash;
	if (!body_pw_hash(rq, "password", buf, &hash, rs))
		user_edit(rq, rq->id, edit_fields, (void *)hash, ANSWER_NONE, rs);
}

static int edit_ext_password(struct api_req *rq, struct store_user *u, void *arg, struct api_resp *rs)
{
	api_take_str(rq->json, "extension_password", u->ext_password, sizeof(u->ext_password));
	return 0;
}

void api_h_users_ext_password(struct api_req *rq, struct api_resp *rs)
{
	if (json_object_get(rq->json, "password")) {
		api_error(rs, 400, "unknown_field", "password",
			  "password: not accepted here (the login password is /api/users/{id}/password)");
		return;
	}
	user_edit(rq, rq->id, edit_ext_password, NULL, ANSWER_NONE, rs);
}

/* An answer of the settings reduced to their member (NULL: all of them). */
static void settings_member(struct api_resp *rs, const char *member)
{
	if (!member || rs->status != 200)
		return;
	json_t *m = json_incref(json_object_get(rs->body, member));
	json_decref(rs->body);
	rs->body = m;
}

void api_user_settings_get(struct api_req *rq, uint64_t id, const char *member, struct api_resp *rs)
{
	struct store_user u = { 0 };
	if (load(rq, id, &u, rs))
		return;
	json_t *o = api_settings_load(&u);
	/* The status in force now: the user's, or outside_office_hours. */
	char st[32];
	if (!member && o && pbx_user_status(rq->api->pbx, u.tenant_id, u.id, st, sizeof(st)) == 0)
		json_object_set_new(o, "effective_status", json_string(st));
	api_ok(rs, 200, o);
	store_user_reset(&u);
	settings_member(rs, member);
}

struct settings_patch {
	const json_t *patch; /* the settings' shape */
	bool admin;
};

static int edit_settings(struct api_req *rq, struct store_user *u, void *arg, struct api_resp *rs)
{
	const struct settings_patch *sp = arg;
	return api_settings_apply(u, sp->patch, sp->admin, rs);
}

void api_user_settings_patch(struct api_req *rq, uint64_t id, const json_t *patch, const char *member,
			     struct api_resp *rs)
{
	struct settings_patch sp = { patch, true };
	user_edit(rq, id, edit_settings, &sp, ANSWER_SETTINGS, rs);
	settings_member(rs, member);
}

static void ext_get(struct api_req *rq, uint64_t id, struct api_resp *rs)
{
	api_user_settings_get(rq, id, NULL, rs);
}

static void ext_update(struct api_req *rq, uint64_t id, bool admin, struct api_resp *rs)
{
	struct settings_patch sp = { rq->json, admin };
	user_edit(rq, id, edit_settings, &sp, ANSWER_SETTINGS, rs);
}

void api_h_users_ext_get(struct api_req *rq, struct api_resp *rs) { ext_get(rq, rq->id, rs); }
void api_h_users_ext_update(struct api_req *rq, struct api_resp *rs) { ext_update(rq, rq->id, true, rs); }

/* --- /api/user: the signed-in user ---------------------------------------------------- */

void api_h_user_profile_get(struct api_req *rq, struct api_resp *rs)
{
	struct store_user u = { 0 };
	if (load(rq, rq->who.user_id, &u, rs))
		return;
	api_ok(rs, 200, user_json(rq, &u));
	store_user_reset(&u);
}

static int edit_profile(struct api_req *rq, struct store_user *u, void *arg, struct api_resp *rs)
{
	api_take_str(rq->json, "display_name", u->display_name, sizeof(u->display_name));
	api_take_str(rq->json, "email", u->email, sizeof(u->email));
	return 0;
}

void api_h_user_profile_update(struct api_req *rq, struct api_resp *rs)
{
	user_edit(rq, rq->who.user_id, edit_profile, NULL, ANSWER_USER, rs);
}

/* A change the user proves with their login password (`key` in the body). The
 * first try verifies it, as an attempt on the account's failure limit, and
 * remembers the credential generation it verified; a later try (the row changed
 * meanwhile) goes on only if the credentials did not change: a password reset
 * or a disable by an admin in between wins, and this request gets 409. */
struct proven {
	const char *key; /* "old_password" or "password" */
	bool verified;
	int64_t cred_gen;
	char new_hash[STORE_HASH_SZ]; /* /api/user/password: the new one, hashed after the proof */
};

static int prove(struct api_req *rq, struct store_user *u, struct proven *p, struct api_resp *rs)
{
	if (p->verified) {
		if (u->cred_gen == p->cred_gen)
			return 0;
		return api_error(rs, 409, "conflict", NULL, "your password or account changed meanwhile; sign in again");
	}
	/* The account's failure count is keyed as at sign-in: the tenant's domain,
	 * read when the token was checked, and the username. */
	const char *pw = json_string_value(json_object_get(rq->json, p->key));
	int e = api_pw_check(rq, rs, rq->who.domain, u->username, u->pw_hash, pw);
	if (e == EACCES)
		return api_error(rs, 422, "invalid_field", p->key, "%s: does not match", p->key);
	if (e)
		return rs->status;
	p->verified = true;
	p->cred_gen = u->cred_gen;
	return 0;
}

static int edit_own_password(struct api_req *rq, struct store_user *u, void *arg, struct api_resp *rs)
{
	struct proven *p = arg;
	bool first = !p->verified;
	if (prove(rq, u, p, rs))
		return rs->status;
	/* Hashed once, and only after the old password proved right: a wrong guess
	 * costs one Argon2 run, not two. */
	const char *pw = json_string_value(json_object_get(rq->json, "new_password"));
	if (first && api_pw_hash(rq, rs, pw, p->new_hash, sizeof(p->new_hash)))
		return rs->status;
	snprintf(u->pw_hash, sizeof(u->pw_hash), "%s", p->new_hash);
	return 0;
}

void api_h_user_password(struct api_req *rq, struct api_resp *rs)
{
	struct proven p = { .key = "old_password" };
	user_edit(rq, rq->who.user_id, edit_own_password, &p, ANSWER_NONE, rs);
}

static int edit_own_ext_password(struct api_req *rq, struct store_user *u, void *arg, struct api_resp *rs)
{
	if (prove(rq, u, arg, rs))
		return rs->status;
	api_take_str(rq->json, "extension_password", u->ext_password, sizeof(u->ext_password));
	return 0;
}

/* Like the login password, the SIP password is changed only with the login
 * password: a stolen token alone cannot take over the phone line. */
void api_h_user_ext_password(struct api_req *rq, struct api_resp *rs)
{
	if (!json_object_get(rq->json, "password")) {
		api_error(rs, 422, "missing_field", "password", "password: your current login password is required");
		return;
	}
	struct proven p = { .key = "password" };
	user_edit(rq, rq->who.user_id, edit_own_ext_password, &p, ANSWER_NONE, rs);
}

void api_h_user_ext_get(struct api_req *rq, struct api_resp *rs) { ext_get(rq, rq->who.user_id, rs); }
void api_h_user_ext_update(struct api_req *rq, struct api_resp *rs) { ext_update(rq, rq->who.user_id, false, rs); }
