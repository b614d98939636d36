/* `pbxctl office-hours ...` and `pbxctl holiday ...`: when the tenant (or one
 * user) is open for calls. The tenant's week is what every extension in mode
 * "global" follows; --user=ID reaches a user's own choice (mode global or
 * specific, with their own week) and their own holidays. Outside office hours,
 * or on a holiday, calls follow the user's outside_office_hours forwarding. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static const char *const days[] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };

/* "/api/tenant/office_hours" or "/api/users/ID/office_hours" (likewise holidays). */
static int owner_path(struct ctl *c, struct ctl_args *a, const char *what, char *buf, size_t size)
{
	const char *user = ctl_args_get(a, "user");
	char fmt[128];
	if (!user) {
		snprintf(buf, size, "%s",
			 strcmp(what, "office_hours") == 0 ? "/api/tenant/office_hours" : "/api/holidays");
		return 0;
	}
	if (!*user) {
		ctl_usage_error("--user needs a user ID (--user=ID)");
		return EINVAL;
	}
	snprintf(fmt, sizeof(fmt), "/api/users/%%s/%s", what);
	return ctl_path(c, buf, size, fmt, user);
}

/* --- office hours ------------------------------------------------------------------- */

/* One row per day: "09:00-12:00 13:00-18:00", or "closed". */
static void print_week(const json_t *week)
{
	json_t *rows = json_array();
	if (!rows)
		return;
	for (size_t i = 0; i < 7; i++) {
		const json_t *shifts = json_object_get(week, days[i]), *sh;
		char text[512] = "";
		size_t k, n = 0;
		json_array_foreach(shifts, k, sh) {
			if (n >= sizeof(text))
				break; /* at most 8 shifts a day: never */
			n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%s-%s", k ? " " : "",
					      json_string_value(json_object_get(sh, "start")),
					      json_string_value(json_object_get(sh, "end")));
		}
		json_array_append_new(rows, json_pack("{s:s, s:s}", "day", days[i], "hours", n ? text : "closed"));
	}
	static const struct ctl_col cols[] = { { "day", "DAY" }, { "hours", "OPEN" } };
	ctl_out_table(rows, cols, 2);
	json_decref(rows);
}

/* The tenant's answer is a week; a user's is {"mode", "week"}. */
static void print_hours(struct ctl *c, const json_t *resp, bool user)
{
	if (c->json) {
		ctl_out_json(resp);
		return;
	}
	if (!user) {
		print_week(resp);
		return;
	}
	const char *mode = json_string_value(json_object_get(resp, "mode"));
	printf("mode: %s\n", mode ? mode : "?");
	if (mode && strcmp(mode, "specific") == 0)
		print_week(json_object_get(resp, "week"));
	else
		puts("(the tenant's office hours: pbxctl office-hours)");
}

static int hours_show(struct ctl *c, struct ctl_args *a)
{
	char path[512];
	json_t *resp = NULL;
	bool user = ctl_args_get(a, "user") != NULL;
	int err;

	if ((err = owner_path(c, a, "office_hours", path, sizeof(path))) ||
	    (err = ctl_args_check_used(a, "office-hours show")) || (err = ctl_api(c, "GET", path, NULL, &resp, NULL)))
		return err;
	print_hours(c, resp, user);
	json_decref(resp);
	return 0;
}

/* "09:00-12:00,13:00-18:00" into shifts; "closed" or "" is none. */
static int shifts_parse(const char *day, const char *v, json_t **out)
{
	json_t *arr = json_array();
	char buf[512];

	if (!arr)
		return ENOMEM;
	*out = arr;
	if (!*v || strcmp(v, "closed") == 0)
		return 0;
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *dash = strchr(tok, '-');
		if (!dash) {
			ctl_usage_error("--%s=%s: give shifts as HH:MM-HH:MM[,HH:MM-HH:MM...] or closed", day, v);
			return EINVAL;
		}
		*dash = '\0';
		json_array_append_new(arr, json_pack("{s:s, s:s}", "start", tok, "end", dash + 1));
	}
	return 0;
}

#define HOURS_SET_USAGE "office-hours set [--user=ID [--mode=global|specific]] [--mon=HH:MM-HH:MM,...|closed] ..."

static int hours_set(struct ctl *c, struct ctl_args *a)
{
	char path[512];
	json_t *body = json_object(), *week = json_object(), *resp = NULL;
	bool user = ctl_args_get(a, "user") != NULL;
	const char *mode = ctl_args_get(a, "mode");
	int err = body && week ? 0 : ENOMEM;

	for (size_t i = 0; !err && i < 7; i++) {
		const char *v = ctl_args_get(a, days[i]);
		json_t *shifts = NULL;
		if (v && !(err = shifts_parse(days[i], v, &shifts)))
			json_object_set(week, days[i], shifts);
		json_decref(shifts);
	}
	if (!err && mode && !user) {
		ctl_usage_error("--mode is a user's (global: follow the tenant; specific: their own week): %s",
				HOURS_SET_USAGE);
		err = EINVAL;
	}
	if (!err && !mode && !json_object_size(week)) {
		ctl_usage_error("give the days to change: %s", HOURS_SET_USAGE);
		err = EINVAL;
	}
	if (!err && !(err = owner_path(c, a, "office_hours", path, sizeof(path))) &&
	    !(err = ctl_args_check_used(a, "office-hours set"))) {
		if (user) {
			if (mode)
				json_object_set_new(body, "mode", json_string(mode));
			if (json_object_size(week))
				json_object_set(body, "week", week);
		} else {
			json_object_update(body, week);
		}
		err = ctl_api(c, "POST", path, body, &resp, NULL);
	}
	if (!err)
		print_hours(c, resp, user);
	json_decref(resp);
	json_decref(week);
	json_decref(body);
	return err;
}

int ctl_cmd_office_hours(struct ctl *c, int argc, char **argv)
{
	struct ctl_args a;
	int err = ctl_args_parse(c, argc, argv, &a);

	if (err)
		return err;
	const char *verb = a.npos ? a.pos[0] : "show";
	if (a.npos > 1) {
		ctl_usage_error("office-hours: too many arguments");
		err = EINVAL;
	} else if (strcmp(verb, "show") == 0) {
		err = hours_show(c, &a);
	} else if (strcmp(verb, "set") == 0) {
		err = hours_set(c, &a);
	} else {
		ctl_usage_error("office-hours: expected show or set");
		err = EINVAL;
	}
	ctl_args_free(&a);
	return err;
}

/* --- holidays ------------------------------------------------------------------------ */

static const struct ctl_col holiday_cols[] = {
	{ "id", "ID" },
	{ "name", "NAME" },
	{ "start_date", "FROM" },
	{ "start_time", "AT" },
	{ "end_date", "TO" },
	{ "end_time", "UNTIL" },
	{ "every_year", "EVERY YEAR" },
};

#define HOLIDAY_ADD_USAGE \
	"holiday add --name=N --start-date=YYYY-MM-DD [--end-date=YYYY-MM-DD] [--start-time=HH:MM]" \
	" [--end-time=HH:MM] [--every-year] [--user=ID]"

static int holiday_add(struct ctl *c, struct ctl_args *a, const struct ctl_res *r)
{
	const char *ey = ctl_args_get(a, "every-year");
	json_t *body;
	int err;

	if ((err = ctl_res_npos(a, 1, HOLIDAY_ADD_USAGE)))
		return err;
	body = json_object();
	if (!body)
		return ENOMEM;
	/* A bare --every-year means yes. */
	if (ey && json_object_set_new(body, "every_year", json_boolean(!*ey || strcmp(ey, "true") == 0 ||
									strcmp(ey, "yes") == 0))) {
		json_decref(body);
		return ENOMEM;
	}
	err = ctl_args_fields(a, body, NULL);
	if (!err && (!json_object_get(body, "name") || !json_object_get(body, "start_date"))) {
		ctl_usage_error("missing %s: %s", json_object_get(body, "name") ? "--start-date" : "--name",
				HOLIDAY_ADD_USAGE);
		err = EINVAL;
	}
	if (!err)
		err = ctl_res_create(c, r, body);
	json_decref(body);
	return err;
}

int ctl_cmd_holiday(struct ctl *c, int argc, char **argv)
{
	struct ctl_args a;
	char path[512];
	int err = ctl_args_parse(c, argc, argv, &a);

	if (err)
		return err;
	const char *verb = a.npos ? a.pos[0] : "";
	if ((err = owner_path(c, &a, "holidays", path, sizeof(path)))) {
		ctl_args_free(&a);
		return err;
	}
	const struct ctl_res r = { "holiday", path, holiday_cols, sizeof(holiday_cols) / sizeof(holiday_cols[0]) };
	if (strcmp(verb, "list") == 0) {
		json_t *resp = NULL;
		/* The API answers every holiday in one piece (no pages). */
		if (!(err = ctl_res_npos(&a, 1, "holiday list [--user=ID]")) &&
		    !(err = ctl_args_check_used(&a, "holiday list")) &&
		    !(err = ctl_api(c, "GET", path, NULL, &resp, NULL)))
			ctl_res_print_list(c, resp, r.cols, r.ncols);
		json_decref(resp);
	} else if (strcmp(verb, "show") == 0) {
		err = ctl_res_npos(&a, 2, "holiday show ID [--user=ID]");
		if (!err && !(err = ctl_args_check_used(&a, "holiday show")))
			err = ctl_res_show(c, &r, a.pos[1]);
	} else if (strcmp(verb, "add") == 0) {
		err = holiday_add(c, &a, &r);
	} else if (strcmp(verb, "update") == 0) {
		err = ctl_res_npos(&a, 2, "holiday update ID [--user=ID] --FIELD=VALUE...");
		if (!err)
			err = ctl_res_update(c, &r, a.pos[1], &a);
	} else if (strcmp(verb, "delete") == 0) {
		err = ctl_res_npos(&a, 2, "holiday delete ID [--user=ID]");
		if (!err && !(err = ctl_args_check_used(&a, "holiday delete")))
			err = ctl_res_delete(c, &r, a.pos[1]);
	} else {
		ctl_usage_error("holiday: expected list, show, add, update or delete");
		err = EINVAL;
	}
	ctl_args_free(&a);
	return err;
}
