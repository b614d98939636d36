/* /api/tenants: the system administrator's tenant management (TEN-01, TEN-02,
 * TEN-03), including the tenant's first administrator and switching into it. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/tz.h"

static const struct api_field limits_fields[] = {
	{ "max_users", API_T_INT, 0, 0, 1000000, NULL, NULL, NULL, 0, "Users (extensions) allowed; 0: no limit" },
	{ "max_concurrent_calls", API_T_INT, 0, 0, 100000, NULL, NULL, NULL, 0,
	  "Simultaneous calls in the tenant; 0: no limit" },
};
static const struct api_schema s_limits = API_SCHEMA("TenantLimits", limits_fields, NULL);

#define TENANT_NAME { "name", API_T_STRING, API_F_REQUIRED, 1, 128, NULL, api_check_text, NULL, 0, "Company name" }
#define TENANT_DOMAIN { "domain", API_T_STRING, API_F_REQUIRED, 1, 253, NULL, api_check_domain, NULL, 0, \
			"SIP domain, unique in the system; stored in lower case" }
#define TENANT_ENABLED { "enabled", API_T_BOOL, 0, 0, 0, NULL, NULL, NULL, 0, \
			 "A disabled tenant's users cannot sign in (default true)" }
#define TENANT_LIMITS { "limits", API_T_OBJECT, 0, 0, 0, NULL, NULL, &s_limits, 0, NULL }
#define RO_ID { "id", API_T_STRING, API_F_READONLY, 1, 19, NULL, NULL, NULL, 0, "64-bit id as a decimal string" }

/* A zone of the system's tz database that loads (the call engine evaluates
 * office hours, holidays and schedules on its wall clock). */
static int check_timezone(const char *v, const char **why)
{
	struct tz *tz = NULL;
	*why = "must be a time zone of the tz database, such as Europe/Paris (\"\": UTC)";
	if (!tz_name_valid(v) || tz_load(&tz, v))
		return 1;
	mem_deref(tz);
	return 0;
}

#define TENANT_TZ { "timezone", API_T_STRING, 0, 0, STORE_TZ_SZ - 1, NULL, check_timezone, NULL, 0, \
		    "Time zone (tz database name) of its office hours, holidays and forwarding schedules; \"\": UTC" }

static const struct api_field first_admin_fields[] = {
	{ "username", API_T_STRING, API_F_REQUIRED, 1, 64, NULL, api_check_tenant_username, NULL, 0, NULL },
	{ "password", API_T_STRING, API_F_REQUIRED | API_F_WRITEONLY, 8, 128, NULL, api_check_password, NULL, 0,
	  NULL },
	{ "email", API_T_STRING, 0, 3, 254, NULL, api_check_email, NULL, 0, NULL },
	{ "display_name", API_T_STRING, 0, 0, 128, NULL, api_check_text, NULL, 0, NULL },
	{ "extension_number", API_T_STRING, 0, 1, 16, NULL, api_check_digits, NULL, 0, "Default 100" },
	{ "extension_password", API_T_STRING, API_F_WRITEONLY, 8, 64, NULL, api_check_secret, NULL, 0,
	  "Default: random" },
};
static const struct api_schema s_first_admin = API_SCHEMA("TenantAdmin", first_admin_fields,
							  "The tenant's first administrator");

static const struct api_field create_fields[] = {
	TENANT_NAME, TENANT_DOMAIN, TENANT_ENABLED, TENANT_LIMITS, TENANT_TZ,
	{ "admin", API_T_OBJECT, API_F_REQUIRED, 0, 0, NULL, NULL, &s_first_admin, 0, NULL },
};
const struct api_schema api_s_tenant_create = API_SCHEMA("TenantCreate", create_fields, NULL);

static const struct api_field update_fields[] = { TENANT_NAME, TENANT_DOMAIN, TENANT_ENABLED, TENANT_LIMITS,
						  TENANT_TZ };
const struct api_schema api_s_tenant_update = API_SCHEMA("TenantUpdate", update_fields, NULL);

static const struct api_field tenant_fields[] = {
	RO_ID, TENANT_NAME, TENANT_DOMAIN, TENANT_ENABLED, TENANT_LIMITS, TENANT_TZ,
	{ "user_count", API_T_INT, API_F_READONLY, 0, 1000000, NULL, NULL, NULL, 0, NULL },
	{ "created_at", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "ISO 8601 UTC" },
	{ "updated_at", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "ISO 8601 UTC" },
};
const struct api_schema api_s_tenant = API_SCHEMA("Tenant", tenant_fields, "A tenant (detailed)");

static const struct api_field summary_fields[] = { RO_ID, TENANT_NAME, TENANT_DOMAIN, TENANT_ENABLED };
const struct api_schema api_s_tenant_summary = API_SCHEMA("TenantSummary", summary_fields,
							  "A tenant in a list");

json_t *api_tenant_summary(const struct store_tenant *t)
{
	return json_pack("{s:o, s:s, s:s, s:b}", "id", api_json_id(t->id), "name", t->name, "domain", t->domain,
			 "enabled", t->enabled);
}

static json_t *tenant_json(struct store *st, const struct store_tenant *t)
{
	uint64_t n = 0;
	store_user_count(st, t->id, &n);
	json_t *o = api_tenant_summary(t);
	json_object_set_new(o, "limits", json_pack("{s:I, s:I}", "max_users", (json_int_t)t->max_users,
						   "max_concurrent_calls", (json_int_t)t->max_calls));
	json_object_set_new(o, "timezone", json_string(t->timezone));
	json_object_set_new(o, "user_count", json_integer((json_int_t)n));
	json_object_set_new(o, "created_at", api_json_time(t->created_at));
	json_object_set_new(o, "updated_at", api_json_time(t->updated_at));
	return o;
}

static void take_tenant(const json_t *body, struct store_tenant *t)
{
	api_take_str(body, "name", t->name, sizeof(t->name));
	api_take_str(body, "domain", t->domain, sizeof(t->domain));
	for (char *p = t->domain; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	api_take_bool(body, "enabled", &t->enabled);
	const json_t *lim = json_object_get(body, "limits");
	api_take_int(lim, "max_users", &t->max_users);
	api_take_int(lim, "max_concurrent_calls", &t->max_calls);
	api_take_str(body, "timezone", t->timezone, sizeof(t->timezone));
}

void api_h_tenants_list(struct api_req *rq, struct api_resp *rs)
{
	struct store_query q;
	if (api_list_query(rq, STORE_KIND_TENANT, &q, rs))
		return;
	struct store_tenants *l;
	int e = store_tenant_list(rq->st, &q, &l);
	if (e) {
		api_store_error(rs, rq->st, e, "tenants");
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < l->n; i++)
		json_array_append_new(items, api_tenant_summary(&l->v[i]));
	api_ok(rs, 200, json_pack("{s:I, s:o}", "count", (json_int_t)l->count, "items", items));
	mem_deref(l);
}

void api_h_tenants_create(struct api_req *rq, struct api_resp *rs)
{
	struct store_tenant t = { .enabled = true };
	take_tenant(rq->json, &t);
	const json_t *adm = json_object_get(rq->json, "admin");
	struct store_user u = { .role = STORE_ROLE_ADMIN, .enabled = true };
	api_take_str(adm, "username", u.username, sizeof(u.username));
	api_take_str(adm, "email", u.email, sizeof(u.email));
	api_take_str(adm, "display_name", u.display_name, sizeof(u.display_name));
	snprintf(u.ext_number, sizeof(u.ext_number), "100");
	api_take_str(adm, "extension_number", u.ext_number, sizeof(u.ext_number));
	/* A random SIP password when none is given: 16 characters. */
	if (api_random_text(u.ext_password, 17)) {
		api_error(rs, 500, "internal", NULL, "cannot make a random password");
		return;
	}
	api_take_str(adm, "extension_password", u.ext_password, sizeof(u.ext_password));
	const char *pw = json_string_value(json_object_get(adm, "password"));
	if (api_pw_hash(rq, rs, pw, u.pw_hash, sizeof(u.pw_hash)))
		return;
	int e = store_tenant_create(rq->st, &t, &u);
	if (e) {
		if (e == EEXIST && strcmp(store_conflict_field(rq->st), "domain") != 0) {
			api_error(rs, 409, "conflict", "admin", "admin: conflicts with an existing user");
			return;
		}
		api_store_error(rs, rq->st, e, "tenant");
		return;
	}
	pbx_notify_tenant(rq->api->pbx, t.id, true);
	pbx_notify_user(rq->api->pbx, t.id, u.id, true);
	log_info("api: tenant %s (%s) created", t.name, t.domain);
	json_t *o = tenant_json(rq->st, &t);
	json_object_set_new(o, "admin", json_pack("{s:o, s:s}", "id", api_json_id(u.id), "username", u.username));
	api_ok(rs, 201, o);
}

void api_h_tenant_get(struct api_req *rq, struct api_resp *rs)
{
	struct store_tenant t;
	int e = store_tenant_get(rq->st, rq->id, &t);
	if (e)
		api_store_error(rs, rq->st, e, "tenant");
	else
		api_ok(rs, 200, tenant_json(rq->st, &t));
}

/* The fields given are applied to the tenant as stored now; when another writer
 * got in between the read and the write (ESTALE), they are applied again to its
 * result, so neither change is lost. Disabling ends the tenant's sessions in the
 * same transaction (store.h). */
void api_h_tenant_update(struct api_req *rq, struct api_resp *rs)
{
	for (int i = 0; i < API_EDIT_TRIES; i++) {
		struct store_tenant t;
		int e = store_tenant_get(rq->st, rq->id, &t);
		if (!e) {
			take_tenant(rq->json, &t);
			e = store_tenant_update(rq->st, &t);
		}
		if (e == ESTALE)
			continue;
		if (e) {
			api_store_error(rs, rq->st, e, "tenant");
			return;
		}
		pbx_notify_tenant(rq->api->pbx, t.id, true);
		api_ok(rs, 200, tenant_json(rq->st, &t));
		return;
	}
	api_error(rs, 409, "conflict", NULL, "the tenant changed too often meanwhile; try again");
}

/* The tenant admin's own tenant: read, and the one setting that is theirs (the
 * zone of their office hours); name, domain, limits and state stay the system
 * admin's. */
static const struct api_field own_fields[] = { TENANT_TZ };
const struct api_schema api_s_own_tenant = API_SCHEMA("OwnTenantUpdate", own_fields,
	"What a tenant admin may change of their tenant");

void api_h_own_tenant_get(struct api_req *rq, struct api_resp *rs)
{
	struct store_tenant t;
	int e = store_tenant_get(rq->st, rq->who.tenant_id, &t);
	if (e)
		api_store_error(rs, rq->st, e, "tenant");
	else
		api_ok(rs, 200, tenant_json(rq->st, &t));
}

void api_h_own_tenant_update(struct api_req *rq, struct api_resp *rs)
{
	for (int i = 0; i < API_EDIT_TRIES; i++) {
		struct store_tenant t;
		int e = store_tenant_get(rq->st, rq->who.tenant_id, &t);
		if (!e) {
			api_take_str(rq->json, "timezone", t.timezone, sizeof(t.timezone));
			e = store_tenant_update(rq->st, &t);
		}
		if (e == ESTALE)
			continue;
		if (e) {
			api_store_error(rs, rq->st, e, "tenant");
			return;
		}
		pbx_notify_tenant(rq->api->pbx, t.id, true);
		api_ok(rs, 200, tenant_json(rq->st, &t));
		return;
	}
	api_error(rs, 409, "conflict", NULL, "the tenant changed too often meanwhile; try again");
}

void api_h_tenant_destroy(struct api_req *rq, struct api_resp *rs)
{
	int e = store_tenant_delete(rq->st, rq->id);
	if (e) {
		api_store_error(rs, rq->st, e, "tenant");
		return;
	}
	pbx_notify_tenant(rq->api->pbx, rq->id, true);
	log_info("api: tenant %llu deleted", (unsigned long long)rq->id);
	api_ok(rs, 204, NULL);
}

/* TEN-02: the system admin manages a tenant through a token scoped to it. */
void api_h_tenant_switch(struct api_req *rq, struct api_resp *rs)
{
	struct store_tenant t;
	int e = store_tenant_get(rq->st, rq->id, &t);
	if (e) {
		api_store_error(rs, rq->st, e, "tenant");
		return;
	}
	/* Child of the switching session: signing that out ends this one too. */
	api_issue_tokens(rq, rs, rq->who.admin_id, 0, t.id, rq->who.grant_id, rq->who.cred_gen);
}
