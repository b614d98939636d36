/* Holidays (issue 13; the seeds' "Office Hours": holidays outrank the weekly
 * shifts): the tenant's (/api/holidays, tenant admins), which close every
 * extension's office hours, and a user's own (/api/users/{id}/holidays), which
 * close only theirs. While one runs, the user's status is outside_office_hours.
 *
 * A holiday is a name and one stretch of wall-clock time in the tenant's zone:
 * from start_date start_time to end_date end_time (defaults: end_date the
 * start_date, 00:00 and 23:59, which runs to midnight), optionally every year.
 * The store keeps the fields as given, so an update that moves start_date
 * moves a one-day holiday whole; answers show the effective values. Each is
 * checked as the call engine reads it (pbx/schedule.h), the field named. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "core/mem.h"
#include "pbx/schedule.h"

/* --- schemas ------------------------------------------------------------------------- */

#define HOLIDAY_FIELDS(req)                                                                                     \
	{ "name", API_T_STRING, req, 1, 128, NULL, api_check_text, NULL, 0, "e.g. Christmas" },                 \
	{ "start_date", API_T_STRING, req, 10, 10, NULL, NULL, NULL, 0, "YYYY-MM-DD, in the tenant's zone" },   \
	{ "end_date", API_T_STRING, 0, 10, 10, NULL, NULL, NULL, 0, "YYYY-MM-DD, inclusive (default start_date)" }, \
	{ "start_time", API_T_STRING, 0, 5, 5, NULL, api_check_hhmm, NULL, 0, "HH:MM on start_date (default 00:00)" }, \
	{ "end_time", API_T_STRING, 0, 5, 5, NULL, api_check_hhmm, NULL, 0,                                    \
	  "HH:MM on end_date (default 23:59, which runs to midnight)" },                                        \
	{ "every_year", API_T_BOOL, 0, 0, 0, NULL, NULL, NULL, 0,                                               \
	  "Again on the same dates each year (the range may cross New Year; default false)" }

static const struct api_field create_fields[] = { HOLIDAY_FIELDS(API_F_REQUIRED) };
const struct api_schema api_s_holiday_create = API_SCHEMA("HolidayCreate", create_fields, NULL);
static const struct api_field update_fields[] = { HOLIDAY_FIELDS(0) };
const struct api_schema api_s_holiday_update = API_SCHEMA("HolidayUpdate", update_fields, NULL);

static const struct api_field holiday_fields[] = {
	{ "id", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 1, 19, NULL, NULL, NULL, 0, NULL },
	HOLIDAY_FIELDS(API_F_REQUIRED),
	{ "created_at", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "ISO 8601 UTC" },
	{ "updated_at", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "ISO 8601 UTC" },
};
const struct api_schema api_s_holiday = API_SCHEMA("Holiday", holiday_fields,
	"A holiday: office hours are closed from start_date start_time to end_date end_time");

static const struct api_field list_fields[] = {
	{ "count", API_T_INT, API_F_READONLY | API_F_REQUIRED, 0, STORE_HOLIDAYS_MAX, NULL, NULL, NULL, 0, NULL },
	{ "items", API_T_ARRAY, API_F_READONLY | API_F_REQUIRED, 0, STORE_HOLIDAYS_MAX, NULL, NULL, &api_s_holiday, 0,
	  "Oldest first" },
};
const struct api_schema api_s_holiday_list = API_SCHEMA("HolidayList", list_fields, "Holidays, oldest first");

/* --- the JSON ------------------------------------------------------------------------ */

static const char *const when_keys[] = { "start_date", "end_date", "start_time", "end_time", "every_year" };
#define NWHEN (sizeof(when_keys) / sizeof(when_keys[0]))

static const char *str_or(const json_t *obj, const char *key, const char *dflt)
{
	const char *v = json_string_value(json_object_get(obj, key));
	return v ? v : dflt;
}

static json_t *holiday_json(const struct store_holiday *h)
{
	json_t *when = json_loads(h->json, 0, NULL);
	const char *sd = str_or(when, "start_date", "");
	json_t *o = json_pack("{s:o, s:s, s:s, s:s, s:s, s:s, s:b, s:o, s:o}", "id", api_json_id(h->id), "name",
			      h->name, "start_date", sd, "end_date", str_or(when, "end_date", sd), "start_time",
			      str_or(when, "start_time", "00:00"), "end_time", str_or(when, "end_time", "23:59"),
			      "every_year", json_is_true(json_object_get(when, "every_year")), "created_at",
			      api_json_time(h->created_at), "updated_at", api_json_time(h->updated_at));
	json_decref(when);
	return o;
}

/* The body's name and time fields applied to h (its stored JSON updated), the
 * result checked as the call engine reads it. 0, or the status put in rs. */
static int holiday_take(struct store_holiday *h, const json_t *body, struct api_resp *rs)
{
	json_t *when = h->json[0] ? json_loads(h->json, 0, NULL) : NULL;
	if (!json_is_object(when)) {
		json_decref(when);
		when = json_object();
	}
	for (size_t i = 0; i < NWHEN; i++) {
		json_t *v = json_object_get(body, when_keys[i]);
		if (v)
			json_object_set(when, when_keys[i], v);
	}
	struct sched_holiday sh;
	struct sched_err err;
	int e = sched_holiday_from_json(&sh, when, NULL, &err);
	char *txt = e ? NULL : json_dumps(when, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(when);
	if (e)
		return api_sched_error(rs, &err);
	if (!txt)
		return api_error(rs, 500, "internal", NULL, "out of memory");
	snprintf(h->json, sizeof(h->json), "%s", txt);
	free(txt); /* a checked holiday is far below STORE_HOLIDAY_SZ */
	api_take_str(body, "name", h->name, sizeof(h->name));
	return 0;
}

/* --- for one owner: the tenant (user_id 0) or a user ---------------------------------- */

static void changed(struct api_req *rq, uint64_t user_id)
{
	if (user_id)
		pbx_notify_user(rq->api->pbx, rq->who.tenant_id, user_id, true);
	else
		pbx_notify_tenant(rq->api->pbx, rq->who.tenant_id, true);
}

/* A user's holidays answer 404 for a user that is not the tenant's. */
static int owner_check(struct api_req *rq, uint64_t user_id, struct api_resp *rs)
{
	struct store_user u = { 0 };
	if (!user_id)
		return 0;
	int e = store_user_get(rq->st, rq->who.tenant_id, user_id, &u);
	store_user_reset(&u);
	return e ? api_store_error(rs, rq->st, e, "user") : 0;
}

static void list(struct api_req *rq, uint64_t user_id, struct api_resp *rs)
{
	struct store_holidays *l = NULL;
	int e = owner_check(rq, user_id, rs);
	if (e)
		return;
	if ((e = store_holiday_list(rq->st, rq->who.tenant_id, user_id, &l))) {
		api_store_error(rs, rq->st, e, "holidays");
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < l->n; i++)
		json_array_append_new(items, holiday_json(&l->v[i]));
	api_ok(rs, 200, json_pack("{s:I, s:o}", "count", (json_int_t)l->n, "items", items));
	mem_deref(l);
}

static void create(struct api_req *rq, uint64_t user_id, struct api_resp *rs)
{
	struct store_holiday h = { .tenant_id = rq->who.tenant_id, .user_id = user_id };
	if (holiday_take(&h, rq->json, rs))
		return;
	int e = store_holiday_create(rq->st, &h);
	if (e == EDQUOT) {
		api_error(rs, 409, "limit_reached", NULL, "at most %d holidays each for the tenant and for a user",
			  STORE_HOLIDAYS_MAX);
		return;
	}
	if (e) {
		api_store_error(rs, rq->st, e, user_id ? "user" : "tenant");
		return;
	}
	changed(rq, user_id);
	api_ok(rs, 201, holiday_json(&h));
}

static void get(struct api_req *rq, uint64_t user_id, uint64_t id, struct api_resp *rs)
{
	struct store_holiday h;
	int e = store_holiday_get(rq->st, rq->who.tenant_id, user_id, id, &h);
	if (e)
		api_store_error(rs, rq->st, e, "holiday");
	else
		api_ok(rs, 200, holiday_json(&h));
}

/* Read, change, write if nobody wrote it meanwhile; else again on what is there. */
static void update(struct api_req *rq, uint64_t user_id, uint64_t id, struct api_resp *rs)
{
	struct store_holiday h;
	int e = ESTALE;
	for (int i = 0; i < API_EDIT_TRIES && e == ESTALE; i++) {
		if ((e = store_holiday_get(rq->st, rq->who.tenant_id, user_id, id, &h)))
			break;
		if (holiday_take(&h, rq->json, rs))
			return;
		e = store_holiday_update(rq->st, &h);
	}
	if (e) {
		api_store_error(rs, rq->st, e, "holiday");
		return;
	}
	changed(rq, user_id);
	api_ok(rs, 200, holiday_json(&h));
}

static void destroy(struct api_req *rq, uint64_t user_id, uint64_t id, struct api_resp *rs)
{
	int e = store_holiday_delete(rq->st, rq->who.tenant_id, user_id, id);
	if (e) {
		api_store_error(rs, rq->st, e, "holiday");
		return;
	}
	changed(rq, user_id);
	api_ok(rs, 204, NULL);
}

/* --- routes --------------------------------------------------------------------------- */

void api_h_holidays_list(struct api_req *rq, struct api_resp *rs) { list(rq, 0, rs); }
void api_h_holidays_create(struct api_req *rq, struct api_resp *rs) { create(rq, 0, rs); }
void api_h_holiday_get(struct api_req *rq, struct api_resp *rs) { get(rq, 0, rq->id, rs); }
void api_h_holiday_update(struct api_req *rq, struct api_resp *rs) { update(rq, 0, rq->id, rs); }
void api_h_holiday_destroy(struct api_req *rq, struct api_resp *rs) { destroy(rq, 0, rq->id, rs); }

/* /api/users/{id}/holidays/{holiday_id}: the user is {id}, the holiday the key. */
static bool holiday_id(struct api_req *rq, uint64_t *id, struct api_resp *rs)
{
	if (api_parse_id(rq->key, id) == 0)
		return true;
	api_error(rs, 404, "not_found", NULL, "holiday not found");
	return false;
}

void api_h_users_holidays_list(struct api_req *rq, struct api_resp *rs) { list(rq, rq->id, rs); }
void api_h_users_holidays_create(struct api_req *rq, struct api_resp *rs) { create(rq, rq->id, rs); }

void api_h_users_holiday_get(struct api_req *rq, struct api_resp *rs)
{
	uint64_t id;
	if (holiday_id(rq, &id, rs))
		get(rq, rq->id, id, rs);
}

void api_h_users_holiday_update(struct api_req *rq, struct api_resp *rs)
{
	uint64_t id;
	if (holiday_id(rq, &id, rs))
		update(rq, rq->id, id, rs);
}

void api_h_users_holiday_destroy(struct api_req *rq, struct api_resp *rs)
{
	uint64_t id;
	if (holiday_id(rq, &id, rs))
		destroy(rq, rq->id, id, rs);
}

/* A user's own holidays (their status follows them as the tenant's do). A
 * principal without a user (a system admin acting in a tenant) has none: the
 * tenant's own (user 0) are never reached this way. */
static bool own(struct api_req *rq, struct api_resp *rs)
{
	if (rq->who.user_id)
		return true;
	api_error(rs, 403, "forbidden", NULL, "only a user of the tenant has holidays of their own");
	return false;
}

void api_h_user_holidays_list(struct api_req *rq, struct api_resp *rs)
{
	if (own(rq, rs))
		list(rq, rq->who.user_id, rs);
}

void api_h_user_holidays_create(struct api_req *rq, struct api_resp *rs)
{
	if (own(rq, rs))
		create(rq, rq->who.user_id, rs);
}

void api_h_user_holiday_get(struct api_req *rq, struct api_resp *rs)
{
	if (own(rq, rs))
		get(rq, rq->who.user_id, rq->id, rs);
}

void api_h_user_holiday_update(struct api_req *rq, struct api_resp *rs)
{
	if (own(rq, rs))
		update(rq, rq->who.user_id, rq->id, rs);
}

void api_h_user_holiday_destroy(struct api_req *rq, struct api_resp *rs)
{
	if (own(rq, rs))
		destroy(rq, rq->who.user_id, rq->id, rs);
}
