/* Office hours (issue 13; the seeds' "Office Hours"): the tenant's week of time
 * shifts (/api/tenant/office_hours), which every extension in mode "global"
 * follows, and an extension's own choice (/api/users/{id}/office_hours), which
 * is the office_hours object of its settings: one storage, read and changed
 * here with the same merge and validation as /api/users/{id}/extension.
 *
 * A week is {"mon": [{"start": "09:00", "end": "18:00"}], ..., "sun": []}; a
 * tenant that never set one is open at all times, which reads as 00:00-23:59
 * every day. An update replaces the days it gives and keeps the others. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "pbx/schedule.h"

static const char *const days[] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };

/* The stored week, every day present in week order ([] closed); "" (never
 * set): open all day every day. */
static json_t *week_load(const char *stored)
{
	json_t *w = stored[0] ? json_loads(stored, 0, NULL) : NULL;
	json_t *out = json_object();
	for (size_t i = 0; i < 7; i++) {
		json_t *d = stored[0] ? json_copy(json_object_get(w, days[i]))
				      : json_pack("[{s:s, s:s}]", "start", "00:00", "end", "23:59");
		json_object_set_new(out, days[i], json_is_array(d) ? d : json_array());
		if (!json_is_array(d))
			json_decref(d);
	}
	json_decref(w);
	return out;
}

/* Answers 422 naming the field of a sched_err (pbx/schedule.h). */
int api_sched_error(struct api_resp *rs, const struct sched_err *err)
{
	return api_error(rs, err->code && strcmp(err->code, "unknown_field") == 0 ? 400 : 422,
			 err->code ? err->code : "invalid_field", err->field[0] ? err->field : NULL, "%s", err->msg);
}

void api_h_tenant_office_hours_get(struct api_req *rq, struct api_resp *rs)
{
	struct store_tenant_settings ts;
	int e = store_tenant_settings_get(rq->st, rq->who.tenant_id, &ts);
	if (e)
		api_store_error(rs, rq->st, e, "tenant");
	else
		api_ok(rs, 200, week_load(ts.office_hours));
}

/* The days of the body replace the stored ones; the whole week is checked as
 * the call engine will read it. */
static int week_apply(struct store_tenant_settings *ts, const json_t *body, json_t **week, struct api_resp *rs)
{
	*week = week_load(ts->office_hours);
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)body, k, v)
		json_object_set_new(*week, k, json_deep_copy(v));
	struct sched_shifts s;
	struct sched_err err;
	if (sched_shifts_from_week(&s, *week, NULL, &err))
		return api_sched_error(rs, &err);
	char *txt = json_dumps(*week, JSON_COMPACT);
	size_t n = txt ? strlen(txt) : 0;
	if (txt && n < sizeof(ts->office_hours))
		memcpy(ts->office_hours, txt, n + 1);
	free(txt);
	if (!txt)
		return api_error(rs, 500, "internal", NULL, "out of memory");
	if (n >= sizeof(ts->office_hours))
		return api_error(rs, 422, "invalid_field", NULL, "the week is too long to store");
	return 0;
}

void api_h_tenant_office_hours_update(struct api_req *rq, struct api_resp *rs)
{
	for (int i = 0; i < API_EDIT_TRIES; i++) {
		struct store_tenant_settings ts;
		json_t *week = NULL;
		int e = store_tenant_settings_get(rq->st, rq->who.tenant_id, &ts);
		if (e) {
			api_store_error(rs, rq->st, e, "tenant");
			return;
		}
		if (week_apply(&ts, rq->json, &week, rs)) {
			json_decref(week);
			return;
		}
		e = store_tenant_settings_update(rq->st, &ts);
		if (e == ESTALE) {
			json_decref(week);
			continue;
		}
		if (e) {
			json_decref(week);
			api_store_error(rs, rq->st, e, "tenant");
			return;
		}
		pbx_notify_tenant(rq->api->pbx, rq->who.tenant_id, true);
		api_ok(rs, 200, week);
		return;
	}
	api_error(rs, 409, "conflict", NULL, "the office hours changed too often meanwhile; try again");
}

/* --- an extension's own ----------------------------------------------------------- */

void api_h_users_office_hours_get(struct api_req *rq, struct api_resp *rs)
{
	api_user_settings_get(rq, rq->id, "office_hours", rs);
}

/* The settings' checks name their fields from the settings' top
 * ("office_hours.week"); here the body is the office_hours object itself. */
static void error_unprefix(struct api_resp *rs, const char *prefix)
{
	json_t *e = json_object_get(rs->body, "error");
	size_t n = strlen(prefix);
	static const char *const keys[] = { "field", "message" };
	for (size_t i = 0; i < 2; i++) {
		const char *v = json_string_value(json_object_get(e, keys[i]));
		if (v && strncmp(v, prefix, n) == 0 && v[n] == '.')
			json_object_set_new(e, keys[i], json_string(v + n + 1));
	}
}

void api_h_users_office_hours_update(struct api_req *rq, struct api_resp *rs)
{
	json_t *patch = json_pack("{s:O}", "office_hours", rq->json);
	if (!patch) {
		api_error(rs, 500, "internal", NULL, "out of memory");
		return;
	}
	api_user_settings_patch(rq, rq->id, patch, "office_hours", rs);
	json_decref(patch);
	if (rs->status >= 400)
		error_unprefix(rs, "office_hours");
}
