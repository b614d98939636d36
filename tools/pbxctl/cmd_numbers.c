/* `pbxctl country-code ...`, `disallowed ...`, `blacklist ...` and
 * `outbound-limits ...`: a tenant's toll-fraud caps. International calls out
 * over providers go only to the provider's own country and the allowed country
 * codes, none to a disallowed prefix, and all stay within the tenant's and each
 * extension's limits; calls in from a blacklisted number are refused. The three
 * lists are plain collections (res.c does them); the limits are one object per
 * tenant. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

#define N(x) (sizeof(x) / sizeof((x)[0]))

static const struct ctl_field note_fields[] = { { "name", "name", CTL_F_STR } };

static const struct ctl_col code_cols[] = { { "id", "ID" }, { "code", "CODE" }, { "name", "NAME" } };
static const struct ctl_col number_cols[] = { { "id", "ID" }, { "number", "NUMBER" }, { "name", "NAME" } };

#define LIST_VERBS "list, show, add, set, remove or export"

static const struct ctl_res country_codes = {
	"allowed country code", "/api/allowed_country_codes", code_cols, N(code_cols),
};
static const struct ctl_res_cmd country_code_cmd = {
	"country-code", &country_codes, note_fields, N(note_fields), "code", NULL,
	"country-code add CODE [--name=NOTE]", NULL, NULL, LIST_VERBS,
};

static const struct ctl_res disallowed_codes = {
	"disallowed code", "/api/disallowed_codes", code_cols, N(code_cols),
};
static const struct ctl_res_cmd disallowed_cmd = {
	"disallowed", &disallowed_codes, note_fields, N(note_fields), "code", NULL,
	"disallowed add CODE [--name=NOTE]", NULL, NULL, LIST_VERBS,
};

static const struct ctl_res blacklisted = {
	"blacklisted number", "/api/blacklisted_numbers", number_cols, N(number_cols),
};
static const struct ctl_res_cmd blacklist_cmd = {
	"blacklist", &blacklisted, note_fields, N(note_fields), "number", NULL,
	"blacklist add NUMBER [--name=NOTE]", NULL, NULL, LIST_VERBS,
};

int ctl_cmd_country_code(struct ctl *c, int argc, char **argv)
{
	return ctl_res_run(c, &country_code_cmd, argc, argv);
}

int ctl_cmd_disallowed(struct ctl *c, int argc, char **argv)
{
	return ctl_res_run(c, &disallowed_cmd, argc, argv);
}

int ctl_cmd_blacklist(struct ctl *c, int argc, char **argv)
{
	return ctl_res_run(c, &blacklist_cmd, argc, argv);
}

/* --- outbound limits ----------------------------------------------------------------- */

#define LIMITS_PATH "/api/tenant/outbound_limits"
#define LIMITS_SET_USAGE \
	"outbound-limits set [--max-concurrent=N] [--max-per-hour=N] [--ext-max-concurrent=N] [--ext-max-per-hour=N]"

static const struct ctl_field limit_fields[] = {
	{ "max-concurrent", "max_concurrent_calls", CTL_F_INT },
	{ "max-per-hour", "max_calls_per_hour", CTL_F_INT },
	{ "ext-max-concurrent", "extension_max_concurrent_calls", CTL_F_INT },
	{ "ext-max-per-hour", "extension_max_calls_per_hour", CTL_F_INT },
};

int ctl_cmd_outbound_limits(struct ctl *c, int argc, char **argv)
{
	struct ctl_args a;
	json_t *body = NULL, *resp = NULL;
	int err = ctl_args_parse(c, argc, argv, &a);

	if (err)
		return err;
	const char *verb = a.npos ? a.pos[0] : "show";
	if (a.npos > 1) {
		ctl_usage_error("outbound-limits: too many arguments");
		err = EINVAL;
	} else if (strcmp(verb, "show") == 0) {
		if (!(err = ctl_args_check_used(&a, "outbound-limits show")))
			err = ctl_api(c, "GET", LIMITS_PATH, NULL, &resp, NULL);
	} else if (strcmp(verb, "set") == 0) {
		if (!(body = json_object()))
			err = ENOMEM;
		if (!err && !(err = ctl_res_fields(&a, limit_fields, N(limit_fields), body))
		    && !(err = ctl_args_check_used(&a, "outbound-limits set")) && json_object_size(body) == 0) {
			ctl_usage_error("give the limits to change (0: no limit): %s", LIMITS_SET_USAGE);
			err = EINVAL;
		}
		if (!err)
			err = ctl_api(c, "POST", LIMITS_PATH, body, &resp, NULL);
	} else {
		ctl_usage_error("outbound-limits: expected show or set");
		err = EINVAL;
	}
	if (!err && c->json)
		ctl_out_json(resp);
	else if (!err)
		ctl_out_object(resp);
	json_decref(resp);
	json_decref(body);
	ctl_args_free(&a);
	return err;
}
