/* `pbxctl settings ...`: an extension's settings (do not disturb, status, call
 * waiting, limits, forwarding): the signed-in user's own, or with --user=ID a
 * user's as their tenant admin sees them. pbxd keeps the settings as one object
 * and merges each update into it, so every command here sends only what it
 * changes and pbxd judges the whole that would result (docs/api.md, "Extension
 * settings"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define N(x) (sizeof(x) / sizeof((x)[0]))

/* pbxd's ring time where neither a no-answer rule nor the top-level one gives one. */
#define EXT_RING_TIME_DEFAULT 20

/* An API key and how the summary says it. */
struct ext_word {
	const char *key;
	const char *words;
};

/* The statuses that may have forwarding rules of their own; the top-level rules
 * are the available status's. */
static const struct ext_word ext_statuses[] = {
	{ "away", "when away" },
	{ "lunch", "at lunch" },
	{ "business_trip", "on a business trip" },
	{ "outside_office_hours", "outside office hours" },
};

/* The conditional rules, in the order people think of them. */
static const struct ext_word ext_conds[] = {
	{ "busy", "busy" },
	{ "no_answer", "no answer" },
	{ "not_reachable", "not reachable" },
};

/* "/api/user/extension" (your own) or "/api/users/ID/extension". */
static int ext_path(struct ctl *c, struct ctl_args *a, char *buf, size_t size)
{
	const char *user = ctl_args_get(a, "user");

	if (!user) {
		snprintf(buf, size, "/api/user/extension");
		return 0;
	}
	if (!*user) {
		ctl_usage_error("--user needs a user ID (--user=ID)");
		return EINVAL;
	}
	return ctl_path(c, buf, size, "/api/users/%s/extension", user);
}

/* --- the summary ----------------------------------------------------------------- */

/* Text from the server goes to a terminal: control characters show as '?', as in
 * out.c. */
static void ext_puts(const char *s)
{
	for (const char *p = s; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		putchar(ch < 0x20 || ch == 0x7f ? '?' : ch);
	}
}

/* "  label: value", or "  label:" with a section below when value is NULL. */
static void ext_line(int indent, const char *label, const char *value)
{
	printf("%*s", indent, "");
	ext_puts(label);
	putchar(':');
	if (value) {
		putchar(' ');
		ext_puts(value);
	}
	putchar('\n');
}

static const char *ext_str(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "?";
}

static const char *ext_on_off(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	return json_is_true(v) ? "on" : json_is_false(v) ? "off" : "?";
}

/* A destination in words: "103" (as "forward to 103" in a conditional rule),
 * "voicemail", "voicemail of 105", "hangup", "ring (no forward)". */
static void ext_dest_words(const json_t *d, bool conditional, char *buf, size_t size)
{
	const char *action = json_string_value(json_object_get(d, "action"));
	const char *mailbox = json_string_value(json_object_get(d, "mailbox"));

	if (!action)
		snprintf(buf, size, "?");
	else if (strcmp(action, "number") == 0)
		snprintf(buf, size, "%s%s", conditional ? "forward to " : "", ext_str(d, "number"));
	else if (strcmp(action, "voicemail") == 0 && mailbox && *mailbox)
		snprintf(buf, size, "voicemail of %s", mailbox);
	else if (strcmp(action, "ring") == 0)
		snprintf(buf, size, "ring (no forward)");
	else
		snprintf(buf, size, "%s", action);
}

/* "busy: forward to 102", "no answer after 20 s: voicemail". A status's rule
 * without a ring time rings as long as the top-level one (top). */
static void ext_rule_line(int indent, size_t cond, const json_t *rule, const json_t *top)
{
	const char *action = json_string_value(json_object_get(rule, "action"));
	char label[64], text[160];

	ext_dest_words(rule, true, text, sizeof(text));
	/* The ring time matters only when the call goes somewhere after it. */
	if (strcmp(ext_conds[cond].key, "no_answer") == 0 && action && strcmp(action, "ring") != 0) {
		const json_t *t = json_object_get(rule, "ring_time");
		if (!json_is_integer(t) || json_integer_value(t) <= 0)
			t = json_object_get(top, "ring_time");
		snprintf(label, sizeof(label), "no answer after %lld s",
			 json_is_integer(t) ? (long long)json_integer_value(t) : (long long)EXT_RING_TIME_DEFAULT);
	} else {
		snprintf(label, sizeof(label), "%s", ext_conds[cond].words);
	}
	ext_line(indent, label, text);
}

static void ext_print_forwarding(const json_t *fw)
{
	const json_t *un = json_object_get(fw, "unconditional");
	const char *mode = json_string_value(json_object_get(un, "mode"));
	char dest[160], text[256];

	puts("forwarding:");
	ext_dest_words(json_object_get(un, "destination"), false, dest, sizeof(dest));
	if (mode && strcmp(mode, "always") == 0)
		snprintf(text, sizeof(text), "always -> %s", dest);
	else if (mode && strcmp(mode, "schedule") == 0)
		snprintf(text, sizeof(text), "schedule (%zu rules) -> %s",
			 json_array_size(json_object_get(un, "schedules")), dest);
	else
		snprintf(text, sizeof(text), "%s", mode ? mode : "?");
	ext_line(2, "unconditional", text);
	for (size_t k = 0; k < N(ext_conds); k++)
		ext_rule_line(2, k, json_object_get(fw, ext_conds[k].key), NULL);
	/* A status's set lists only its own rules; the rest fall back to the above. */
	for (size_t i = 0; i < N(ext_statuses); i++) {
		const json_t *set = json_object_get(json_object_get(fw, "by_status"), ext_statuses[i].key);
		if (!json_is_object(set))
			continue;
		if (json_object_size(set) == 0) {
			ext_line(2, ext_statuses[i].words, "as available");
			continue;
		}
		ext_line(2, ext_statuses[i].words, NULL);
		for (size_t k = 0; k < N(ext_conds); k++) {
			const json_t *rule = json_object_get(set, ext_conds[k].key);
			if (rule)
				ext_rule_line(4, k, rule, json_object_get(fw, ext_conds[k].key));
		}
	}
	snprintf(text, sizeof(text), "%zu", json_array_size(json_object_get(fw, "exceptions")));
	ext_line(2, "exceptions", text);
	snprintf(text, sizeof(text), "%zu callers", json_array_size(json_object_get(fw, "exception_numbers")));
	ext_line(2, "never forwarded", text);
}

static void ext_print(struct ctl *c, const json_t *s)
{
	const json_t *max = json_object_get(s, "max_simultaneous_calls");
	const char *eff = json_string_value(json_object_get(s, "effective_status"));
	char text[64];

	if (c->json) {
		ctl_out_json(s);
		return;
	}
	ext_line(0, "DND", ext_on_off(s, "dnd"));
	ext_line(0, "status", ext_str(s, "status"));
	if (eff)
		ext_line(0, "status in force", eff);
	ext_line(0, "call waiting", ext_on_off(s, "call_waiting"));
	if (json_is_integer(max))
		snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(max));
	else
		snprintf(text, sizeof(text), "?");
	ext_line(0, "max simultaneous calls", text);
	ext_line(0, "anonymous outbound", ext_on_off(s, "anonymous_outbound"));
	ext_line(0, "deliver outbound caller id", ext_on_off(s, "deliver_outbound_caller_id"));
	ext_print_forwarding(json_object_get(s, "forwarding"));
}

/* After a change: the API's answer lacks effective_status (docs/web.md), so a
 * person gets the settings read again; scripts (--json) get the answer as it is.
 * The change is done either way, so a failed re-read stays quiet. */
static void ext_print_changed(struct ctl *c, const char *path, const json_t *resp)
{
	json_t *fresh = NULL;
	long status = 0;

	if (!c->json && ctl_api(c, "GET", path, NULL, &fresh, &status) == 0 && status == 200 &&
	    json_is_object(fresh))
		ext_print(c, fresh);
	else
		ext_print(c, resp);
	json_decref(fresh);
}

/* --- show ------------------------------------------------------------------------ */

static int ext_show(struct ctl *c, struct ctl_args *a)
{
	char path[512];
	json_t *resp = NULL;
	int err;

	if ((err = ctl_res_npos(a, a->npos ? 1 : 0, "settings [show] [--user=ID]")) ||
	    (err = ext_path(c, a, path, sizeof(path))) || (err = ctl_args_check_used(a, "settings show")) ||
	    (err = ctl_api(c, "GET", path, NULL, &resp, NULL)))
		return err;
	ext_print(c, resp);
	json_decref(resp);
	return 0;
}

/* --- set ------------------------------------------------------------------------- */

#define SET_USAGE \
	"settings set [--user=ID] [--dnd=on|off] [--status=available|away|lunch|business_trip]" \
	" [--call-waiting=on|off] [--max-calls=N] [--anonymous=on|off] [--deliver-caller-id=on|off]" \
	" [--ring-time=SECONDS] [--FIELD=VALUE|--FIELD:=JSON...]"

static const struct ctl_field ext_set_fields[] = {
	{ "dnd", "dnd", CTL_F_BOOL },
	{ "status", "status", CTL_F_STR },
	{ "call-waiting", "call_waiting", CTL_F_BOOL },
	{ "max-calls", "max_simultaneous_calls", CTL_F_INT },
	{ "anonymous", "anonymous_outbound", CTL_F_BOOL },
	{ "deliver-caller-id", "deliver_outbound_caller_id", CTL_F_BOOL },
};

/* The available status's no-answer ring time lives in its rule. */
static const struct ctl_field ext_ring_time_field[] = {
	{ "ring-time", "ring_time", CTL_F_INT },
};

static bool ext_given(const struct ctl_args *a, const char *opt)
{
	for (size_t i = 0; i < a->nopts; i++) {
		if (strcmp(a->opts[i].key, opt) == 0)
			return true;
	}
	return false;
}

static size_t ext_unused(const struct ctl_args *a)
{
	size_t n = 0;
	for (size_t i = 0; i < a->nopts; i++)
		n += !a->opts[i].used;
	return n;
}

/* The --FIELD=VALUE options on a scratch copy, untyped: a malformed one is a usage
 * error before the read that types them (and so before anything is sent). */
static int ext_fields_check(struct ctl_args *a, const json_t *body)
{
	json_t *scratch = json_deep_copy(body);
	bool *was = calloc(a->nopts + 1, sizeof(*was));
	int err = scratch && was ? 0 : ENOMEM;

	for (size_t i = 0; !err && i < a->nopts; i++)
		was[i] = a->opts[i].used;
	if (!err)
		err = ctl_args_fields(a, scratch, NULL);
	for (size_t i = 0; was && i < a->nopts; i++)
		a->opts[i].used = was[i];
	free(was);
	json_decref(scratch);
	return err;
}

static int ext_set(struct ctl *c, struct ctl_args *a)
{
	char path[512];
	json_t *body = json_object(), *rule = json_object(), *cur = NULL, *resp = NULL;
	int err = body && rule ? 0 : ENOMEM;

	if (!err)
		err = ctl_res_npos(a, 1, SET_USAGE);
	if (!err)
		err = ext_path(c, a, path, sizeof(path));
	if (!err && !(err = ctl_res_fields(a, ext_set_fields, N(ext_set_fields), body)))
		err = ctl_res_fields(a, ext_ring_time_field, N(ext_ring_time_field), rule);
	if (!err && json_object_size(rule) &&
	    json_object_set_new(body, "forwarding", json_pack("{s:O}", "no_answer", rule)))
		err = ENOMEM;
	if (!err && json_object_size(body) == 0 && ext_unused(a) == 0) {
		ctl_usage_error("give the settings to change: %s", SET_USAGE);
		err = EINVAL;
	}
	/* Any other option is the field it names (--voicemail.pin=1234,
	 * --forwarding.by-status.lunch:=null), typed like its current value. */
	if (!err && ext_unused(a) && !(err = ext_fields_check(a, body)) &&
	    !(err = ctl_api(c, "GET", path, NULL, &cur, NULL)))
		err = ctl_args_fields(a, body, cur);
	if (!err)
		err = ctl_api(c, "POST", path, body, &resp, NULL);
	if (!err)
		ext_print_changed(c, path, resp);
	json_decref(resp);
	json_decref(cur);
	json_decref(rule);
	json_decref(body);
	return err;
}

/* --- forward --------------------------------------------------------------------- */

#define FORWARD_USAGE \
	"settings forward [--user=ID] always|busy|no-answer|not-reachable|off DESTINATION" \
	" [--status=away|lunch|business_trip|outside_office_hours] [--ring-time=SECONDS]"

/* DESTINATION as the API's destination: voicemail[:MAILBOX], hangup, ring, or a
 * number; whether a number is one is pbxd's to say (it names the field). "default"
 * is null: the status's rule goes and the available status's applies. */
static int ext_dest_parse(const char *v, json_t **out)
{
	*out = NULL;
	if (strcmp(v, "default") == 0)
		*out = json_null();
	else if (strcmp(v, "voicemail") == 0 || strcmp(v, "hangup") == 0 || strcmp(v, "ring") == 0)
		*out = json_pack("{s:s}", "action", v);
	else if (strncmp(v, "voicemail:", 10) == 0 && v[10])
		*out = json_pack("{s:s, s:s}", "action", "voicemail", "mailbox", v + 10);
	else if (*v && strncmp(v, "voicemail:", 10) != 0)
		*out = json_pack("{s:s, s:s}", "action", "number", "number", v);
	else {
		ctl_usage_error("DESTINATION is a number, voicemail[:MAILBOX], hangup or ring (got '%s'): %s", v,
				FORWARD_USAGE);
		return EINVAL;
	}
	return *out ? 0 : ENOMEM;
}

/* The one condition's patch: forwarding.KEY, or forwarding.by_status.STATUS.KEY. */
static int ext_forward_body(const char *cond, const char *status, json_t *dest, json_t **body)
{
	json_t *fw;

	if (strcmp(cond, "off") == 0)
		fw = json_pack("{s:{s:s}}", "unconditional", "mode", "off");
	else if (strcmp(cond, "always") == 0)
		fw = json_pack("{s:{s:s, s:O}}", "unconditional", "mode", "always", "destination", dest);
	else if (status)
		fw = json_pack("{s:{s:{s:O}}}", "by_status", status, cond, dest);
	else
		fw = json_pack("{s:O}", cond, dest);
	*body = fw ? json_pack("{s:o}", "forwarding", fw) : NULL;
	return *body ? 0 : ENOMEM;
}

static int ext_forward(struct ctl *c, struct ctl_args *a)
{
	char path[512], cond[32];
	const char *status = ctl_args_get(a, "status");
	json_t *dest = NULL, *body = NULL, *resp = NULL;
	size_t i;
	int err = 0;

	if (a->npos < 2) {
		ctl_usage_error("missing CONDITION: %s", FORWARD_USAGE);
		return EINVAL;
	}
	/* no_answer as the API says it reads as well as no-answer. */
	snprintf(cond, sizeof(cond), "%s", a->pos[1]);
	for (char *p = cond; *p; p++)
		*p = *p == '-' ? '_' : *p;
	bool uncond = strcmp(cond, "always") == 0 || strcmp(cond, "off") == 0;
	for (i = 0; !uncond && i < N(ext_conds) && strcmp(cond, ext_conds[i].key) != 0; i++)
		;
	if (!uncond && i == N(ext_conds)) {
		ctl_usage_error("unknown condition '%s': %s", a->pos[1], FORWARD_USAGE);
		return EINVAL;
	}
	if ((err = ctl_res_npos(a, strcmp(cond, "off") == 0 ? 2 : 3, FORWARD_USAGE)))
		return err;
	/* Available's rules are the top-level ones. */
	if (status && strcmp(status, "available") == 0)
		status = NULL;
	if (status) {
		for (i = 0; i < N(ext_statuses) && strcmp(status, ext_statuses[i].key) != 0; i++)
			;
		if (i == N(ext_statuses)) {
			ctl_usage_error("--status is away, lunch, business_trip or outside_office_hours (got '%s')",
					status);
			return EINVAL;
		}
		if (uncond) {
			ctl_usage_error("unconditional forwarding (%s) is one for every status: leave --status out",
					cond);
			return EINVAL;
		}
	}
	if (strcmp(cond, "off") != 0 && (err = ext_dest_parse(a->pos[2], &dest)))
		return err;
	if (json_is_null(dest) && !status) {
		ctl_usage_error("default removes a status's own rule: give --status (the available status's "
				"rules are the default ones)");
		err = EINVAL;
	}
	/* --ring-time belongs to the no-answer rule it is given with. */
	bool ring_time = ext_given(a, "ring-time");
	if (!err && ring_time && strcmp(cond, "no_answer") != 0) {
		ctl_usage_error("--ring-time goes with no-answer: %s", FORWARD_USAGE);
		err = EINVAL;
	} else if (!err && ring_time && !json_is_object(dest)) {
		ctl_usage_error("--ring-time needs a destination to ring before, not default: %s", FORWARD_USAGE);
		err = EINVAL;
	} else if (!err && ring_time) {
		err = ctl_res_fields(a, ext_ring_time_field, N(ext_ring_time_field), dest);
	}
	if (!err && !(err = ext_path(c, a, path, sizeof(path))) &&
	    !(err = ctl_args_check_used(a, "settings forward")) &&
	    !(err = ext_forward_body(cond, status, dest, &body)))
		err = ctl_api(c, "POST", path, body, &resp, NULL);
	if (!err)
		ext_print_changed(c, path, resp);
	json_decref(resp);
	json_decref(body);
	json_decref(dest);
	return err;
}

int ctl_cmd_settings(struct ctl *c, int argc, char **argv)
{
	struct ctl_args a;
	int err = ctl_args_parse(c, argc, argv, &a);

	if (err)
		return err;
	const char *verb = a.npos ? a.pos[0] : "show";
	if (strcmp(verb, "show") == 0)
		err = ext_show(c, &a);
	else if (strcmp(verb, "set") == 0)
		err = ext_set(c, &a);
	else if (strcmp(verb, "forward") == 0)
		err = ext_forward(c, &a);
	else {
		ctl_usage_error("settings: expected show, set or forward");
		err = EINVAL;
	}
	ctl_args_free(&a);
	return err;
}
