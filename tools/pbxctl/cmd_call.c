/* `pbxctl cdrs` and `pbxctl calls`: the call detail records of the tenant (a
 * user's own call log when a user signs in) and the calls active now, which a
 * tenant admin can hang up. The API gives times as Unix seconds, which the tables
 * show as UTC date and time; --json prints the API's answer as it is. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

/* "2026-11-23 19:18:45" (UTC) from the API's digit string; "-" for "0". */
static void fmt_time(const json_t *v, char *buf, size_t size)
{
	const char *s = json_string_value(v);
	char *end;
	long long t = s ? strtoll(s, &end, 10) : 0;
	struct tm tm;
	time_t tt = (time_t)t;

	if (!s || *end || t <= 0 || !gmtime_r(&tt, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, size, "-");
}

static long long seconds_of(const json_t *v)
{
	const char *s = json_string_value(v);
	return s ? strtoll(s, NULL, 10) : 0;
}

/* "42s", "3m 05s", "1h 02m 03s". */
static void fmt_duration(long long s, char *buf, size_t size)
{
	if (s < 60)
		snprintf(buf, size, "%llds", s);
	else if (s < 3600)
		snprintf(buf, size, "%lldm %02llds", s / 60, s % 60);
	else
		snprintf(buf, size, "%lldh %02lldm %02llds", s / 3600, s % 3600 / 60, s % 60);
}

/* Prints a {"count", "items"} list with cols; each row is a copy of the item with
 * the columns derived by add (named with a leading '_', which no API field has),
 * so --json never sees them. */
static void print_rows(struct ctl *c, const json_t *list, const struct ctl_col *cols, size_t ncols,
		       void (*add)(json_t *row))
{
	json_t *rows, *item;
	size_t i;

	if (c->json) {
		ctl_out_json(list);
		return;
	}
	rows = json_array();
	if (!rows)
		return;
	json_array_foreach(json_object_get(list, "items"), i, item) {
		json_t *row = json_copy(item);
		if (row)
			add(row);
		json_array_append_new(rows, row);
	}
	ctl_out_table(rows, cols, ncols);
	json_decref(rows);
}

/* --- cdrs ------------------------------------------------------------------------ */

static const struct ctl_col cdr_cols[] = {
	{ "cdr_id", "ID" },
	{ "_start", "START (UTC)" },
	{ "direction", "DIRECTION" },
	{ "caller", "CALLER" },
	{ "callee", "CALLEE" },
	{ "_talk", "TALK" },
	{ "status_code", "STATUS" },
	{ "ended_reason", "ENDED" },
};

static void cdr_row(json_t *row)
{
	char buf[64];
	long long ans = seconds_of(json_object_get(row, "answered_time"));
	long long end = seconds_of(json_object_get(row, "ended_time"));

	fmt_time(json_object_get(row, "start_time"), buf, sizeof(buf));
	json_object_set_new(row, "_start", json_string(buf));
	if (ans > 0 && end >= ans)
		fmt_duration(end - ans, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "-"); /* not answered */
	json_object_set_new(row, "_talk", json_string(buf));
}

#define CDRS_USAGE \
	"cdrs [--from=TIME] [--to=TIME] [--caller=NUMBER] [--callee=NUMBER] [--direction=ext|in|out|in2out]"

/* The options map to the API's query options; times go as given (Unix seconds or
 * ISO 8601 UTC), and the API says what is wrong with one. */
int ctl_cmd_cdrs(struct ctl *c, int argc, char **argv)
{
	static const struct ctl_qopt passed[] = {
		{ "from", "start_time_from" }, { "to", "start_time_to" }, { "caller", "caller" },
		{ "callee", "callee" }, { "direction", "direction" },
	};
	struct ctl_args a;
	json_t *list = NULL;
	int err = ctl_args_parse(c, argc, argv, &a);

	if (err)
		return err;
	/* Anything left after the known options is a usage error, before a request. */
	for (size_t i = 0; i < a.nopts && !err; i++) {
		bool known = strcmp(a.opts[i].key, "skip") == 0 || strcmp(a.opts[i].key, "top") == 0;
		for (size_t k = 0; k < sizeof(passed) / sizeof(passed[0]) && !known; k++)
			known = strcmp(a.opts[i].key, passed[k].opt) == 0;
		if (!known) {
			ctl_usage_error("cdrs: unknown option --%s: " CDRS_USAGE, a.opts[i].key);
			err = EINVAL;
		} else if (!a.opts[i].value || !*a.opts[i].value) {
			ctl_usage_error("cdrs: --%s needs a value (--%s=VALUE)", a.opts[i].key, a.opts[i].key);
			err = EINVAL;
		}
	}
	if (!err)
		err = ctl_res_npos(&a, 0, CDRS_USAGE);
	if (!err)
		err = ctl_api_list_with(c, "/api/cdrs", passed, sizeof(passed) / sizeof(passed[0]), &a, &list);
	if (!err)
		print_rows(c, list, cdr_cols, sizeof(cdr_cols) / sizeof(cdr_cols[0]), cdr_row);
	json_decref(list);
	ctl_args_free(&a);
	return err;
}

/* --- calls ----------------------------------------------------------------------- */

static const struct ctl_col call_cols[] = {
	{ "session_id", "SESSION ID" },
	{ "state", "STATE" },
	{ "direction", "DIRECTION" },
	{ "caller", "CALLER" },
	{ "callee", "CALLEE" },
	{ "_start", "START (UTC)" },
	{ "_talk", "TALKING FOR" },
};

static void call_row(json_t *row)
{
	char buf[64];
	long long ans = seconds_of(json_object_get(row, "answered_time"));
	long long now = (long long)time(NULL);

	fmt_time(json_object_get(row, "start_time"), buf, sizeof(buf));
	json_object_set_new(row, "_start", json_string(buf));
	if (ans > 0)
		fmt_duration(now > ans ? now - ans : 0, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "-");
	json_object_set_new(row, "_talk", json_string(buf));
}

static int calls_list(struct ctl *c, struct ctl_args *a)
{
	json_t *resp = NULL;
	int err;

	/* Active calls come in one answer: there are no pages and no list options. */
	if ((err = ctl_args_check_used(a, "calls"))
	    || (err = ctl_api(c, "GET", "/api/call_sessions", NULL, &resp, NULL)))
		return err;
	print_rows(c, resp, call_cols, sizeof(call_cols) / sizeof(call_cols[0]), call_row);
	json_decref(resp);
	return 0;
}

static int calls_hangup(struct ctl *c, struct ctl_args *a)
{
	char path[512], msg[128];
	json_t *resp = NULL;
	long status = 0;
	int err;

	if ((err = ctl_res_npos(a, 2, "calls hangup SESSION_ID")) || (err = ctl_args_check_used(a, "calls hangup"))
	    || (err = ctl_path(c, path, sizeof(path), "/api/call_sessions/%s/destroy", a->pos[1]))
	    || (err = ctl_api(c, "POST", path, NULL, &resp, &status)))
		return err;
	if (status / 100 != 2) {
		ctl_api_report(c, status, resp);
		if (status == 404) /* also a call that ended meanwhile */
			fprintf(stderr, "pbxctl: `pbxctl calls` lists the active calls\n");
		err = EPROTO;
	} else {
		snprintf(msg, sizeof(msg), "call %.60s hung up", a->pos[1]);
		ctl_out_result(c, resp, msg);
	}
	json_decref(resp);
	return err;
}

int ctl_cmd_calls(struct ctl *c, int argc, char **argv)
{
	struct ctl_args a;
	const char *verb;
	int err = ctl_args_parse(c, argc, argv, &a);

	if (err)
		return err;
	verb = a.npos ? a.pos[0] : "list";
	if (strcmp(verb, "list") == 0) {
		err = ctl_res_npos(&a, a.npos ? 1 : 0, "calls [list]");
		if (!err)
			err = calls_list(c, &a);
	} else if (strcmp(verb, "hangup") == 0) {
		err = calls_hangup(c, &a);
	} else {
		ctl_usage_error("calls: expected list or hangup SESSION_ID");
		err = EINVAL;
	}
	ctl_args_free(&a);
	return err;
}
