/* An extension's settings (the seeds' extension page: outbound caller ID per trunk,
 * anonymous calls, recording, voicemail, limits, DND, presence and monitoring
 * permissions, forwarding rules). Stored as one JSON object per user, validated
 * here in full even where no capability uses a setting yet, so later issues only
 * add behaviour. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "core/mem.h"

/* Numbers a call can be sent to: digits and the dial-pad symbols + * #. */
static int check_dial(const char *v, const char **why)
{
	for (const char *p = v; *p; p++) {
		if (!strchr("0123456789+*#", *p)) {
			*why = "may contain only digits and + * #";
			return 1;
		}
	}
	return 0;
}

#define DEST_FIELDS(req) \
	{ "action", API_T_STRING, req, 0, 0, "hangup|voicemail|number|ring", NULL, NULL, 0, \
	  "hangup: the PBX ends the call; voicemail: to a mailbox; number: to another number; ring: ring anyway" }, \
	{ "number", API_T_STRING, 0, 0, 32, NULL, check_dial, NULL, 0, \
	  "With action number: an extension, system number or PSTN number" }, \
	{ "mailbox", API_T_STRING, 0, 0, 16, NULL, api_check_digits, NULL, 0, \
	  "With action voicemail: another extension's mailbox; empty: the user's own" }

static const struct api_field dest_fields[] = { DEST_FIELDS(API_F_REQUIRED) };
static const struct api_schema s_dest = API_SCHEMA("ForwardDestination", dest_fields, NULL);

static const struct api_field no_answer_fields[] = {
	DEST_FIELDS(API_F_REQUIRED),
	{ "ring_time", API_T_INT, 0, 5, 300, NULL, NULL, NULL, 0, "Seconds the extension rings first" },
};
static const struct api_schema s_no_answer = API_SCHEMA("NoAnswerForward", no_answer_fields, NULL);

#define SHIFT_FIELDS(req) \
	{ "days", API_T_ARRAY, req, 0, 7, "mon|tue|wed|thu|fri|sat|sun", NULL, NULL, API_T_STRING, NULL }, \
	{ "start", API_T_STRING, req, 5, 5, NULL, api_check_hhmm, NULL, 0, "HH:MM" }, \
	{ "end", API_T_STRING, req, 5, 5, NULL, api_check_hhmm, NULL, 0, "HH:MM; 00:00-00:00 is closed all day" }

static const struct api_field schedule_fields[] = { SHIFT_FIELDS(API_F_REQUIRED) };
static const struct api_schema s_schedule = API_SCHEMA("Schedule", schedule_fields, "A time shift");

static const struct api_field uncond_fields[] = {
	{ "mode", API_T_STRING, API_F_REQUIRED, 0, 0, "off|always|schedule", NULL, NULL, 0,
	  "Don't forward, forward always, or forward within the schedules" },
	{ "destination", API_T_OBJECT, 0, 0, 0, NULL, NULL, &s_dest, 0, NULL },
	{ "schedules", API_T_ARRAY, 0, 0, 32, NULL, NULL, &s_schedule, 0, NULL },
};
static const struct api_schema s_uncond = API_SCHEMA("UnconditionalForward", uncond_fields,
	"Overrides the conditional forwards while it applies");

static const struct api_field exception_fields[] = {
	{ "caller_id", API_T_STRING, API_F_REQUIRED, 1, 32, NULL, check_dial, NULL, 0, "Calling number to match" },
	SHIFT_FIELDS(0),
	{ "destination", API_T_OBJECT, API_F_REQUIRED, 0, 0, NULL, NULL, &s_dest, 0, NULL },
};
static const struct api_schema s_exception = API_SCHEMA("ForwardException", exception_fields,
	"A caller (and optional time shift) whose calls bypass the normal rules");

/* The rules of one status (the seeds: "each status requires a call-forwarding
 * rule"); a condition left out falls back to the top-level one, and null in an
 * update removes one that was set (it falls back again). */
static const struct api_field status_rules_fields[] = {
	{ "busy", API_T_OBJECT, API_F_NULLABLE, 0, 0, NULL, NULL, &s_dest, 0, "null removes it" },
	{ "no_answer", API_T_OBJECT, API_F_NULLABLE, 0, 0, NULL, NULL, &s_no_answer, 0, "null removes it" },
	{ "not_reachable", API_T_OBJECT, API_F_NULLABLE, 0, 0, NULL, NULL, &s_dest, 0, "null removes it" },
};
static const struct api_schema s_status_rules = API_SCHEMA("StatusForwarding", status_rules_fields,
	"The forwarding rules while the user has this status");

static const struct api_field by_status_fields[] = {
	{ "away", API_T_OBJECT, API_F_NULLABLE, 0, 0, NULL, NULL, &s_status_rules, 0, "null removes the set" },
	{ "lunch", API_T_OBJECT, API_F_NULLABLE, 0, 0, NULL, NULL, &s_status_rules, 0, "null removes the set" },
	{ "business_trip", API_T_OBJECT, API_F_NULLABLE, 0, 0, NULL, NULL, &s_status_rules, 0, "null removes the set" },
	{ "outside_office_hours", API_T_OBJECT, API_F_NULLABLE, 0, 0, NULL, NULL, &s_status_rules, 0,
	  "While the office hours (the user's or the tenant's) are closed or on a holiday; null removes the set" },
};
static const struct api_schema s_by_status = API_SCHEMA("ForwardingByStatus", by_status_fields,
	"Rule sets by status; the top-level busy, no_answer and not_reachable are the available status's");

static const struct api_field forwarding_fields[] = {
	{ "unconditional", API_T_OBJECT, API_F_REQUIRED, 0, 0, NULL, NULL, &s_uncond, 0, NULL },
	{ "by_status", API_T_OBJECT, 0, 0, 0, NULL, NULL, &s_by_status, 0, NULL },
	{ "busy", API_T_OBJECT, API_F_REQUIRED, 0, 0, NULL, NULL, &s_dest, 0, NULL },
	{ "no_answer", API_T_OBJECT, API_F_REQUIRED, 0, 0, NULL, NULL, &s_no_answer, 0, NULL },
	{ "not_reachable", API_T_OBJECT, API_F_REQUIRED, 0, 0, NULL, NULL, &s_dest, 0, NULL },
	{ "exceptions", API_T_ARRAY, 0, 0, 50, NULL, NULL, &s_exception, 0, NULL },
	{ "exception_numbers", API_T_ARRAY, 0, 0, 1000, NULL, check_dial, NULL, API_T_STRING,
	  "Callers never forwarded" },
};
static const struct api_schema s_forwarding = API_SCHEMA("Forwarding", forwarding_fields, NULL);

static const struct api_field voicemail_fields[] = {
	{ "enabled", API_T_BOOL, 0, 0, 0, NULL, NULL, NULL, 0, "Unanswered calls go to voicemail (else they end)" },
	{ "pin", API_T_STRING, 0, 0, 12, NULL, api_check_digits, NULL, 0, "Mailbox PIN, 4 to 12 digits" },
	{ "pin_auth", API_T_BOOL, 0, 0, 0, NULL, NULL, NULL, 0, "Ask for the PIN (needs a PIN)" },
	{ "read_datetime", API_T_BOOL, 0, 0, 0, NULL, NULL, NULL, 0, "Announce each message's date and time" },
	{ "email_notification", API_T_BOOL, 0, 0, 0, NULL, NULL, NULL, 0, "Mail new messages" },
	{ "email", API_T_STRING, 0, 0, 254, NULL, api_check_email, NULL, 0, "Where to; empty: the user's email" },
};
static const struct api_schema s_voicemail = API_SCHEMA("Voicemail", voicemail_fields, NULL);

static const struct api_field shift_fields[] = {
	{ "start", API_T_STRING, API_F_REQUIRED, 5, 5, NULL, api_check_hhmm, NULL, 0, "HH:MM" },
	{ "end", API_T_STRING, API_F_REQUIRED, 5, 5, NULL, api_check_hhmm, NULL, 0,
	  "HH:MM; 00:00-23:59 is open all day, 00:00-00:00 closed all day, an end before the start crosses midnight" },
};
static const struct api_schema s_shift = API_SCHEMA("TimeShift", shift_fields, NULL);

#define DAY_FIELD(d) { d, API_T_ARRAY, 0, 0, 8, NULL, NULL, &s_shift, 0, NULL }
static const struct api_field week_fields[] = {
	DAY_FIELD("mon"), DAY_FIELD("tue"), DAY_FIELD("wed"), DAY_FIELD("thu"),
	DAY_FIELD("fri"), DAY_FIELD("sat"), DAY_FIELD("sun"),
};
const struct api_schema api_s_week = API_SCHEMA("WeekShifts", week_fields,
	"Time shifts per weekday; a day absent or [] is closed");

static const struct api_field office_hours_fields[] = {
	{ "mode", API_T_STRING, API_F_REQUIRED, 0, 0, "global|specific", NULL, NULL, 0,
	  "global: the tenant's office hours; specific: the week below" },
	{ "week", API_T_OBJECT, 0, 0, 0, NULL, NULL, &api_s_week, 0, NULL },
};
const struct api_schema api_s_ext_office_hours = API_SCHEMA("ExtensionOfficeHours", office_hours_fields,
	"Outside them (or on a holiday) the user's status is outside_office_hours");

static const struct api_field callerid_fields[] = {
	{ "trunk", API_T_STRING, API_F_REQUIRED, 1, 64, NULL, api_check_text, NULL, 0, "Trunk name" },
	{ "caller_id", API_T_STRING, API_F_REQUIRED, 1, 32, NULL, check_dial, NULL, 0, "A DID of that trunk" },
};
static const struct api_schema s_callerid = API_SCHEMA("OutboundCallerId", callerid_fields, NULL);

/* The fields a user may change on their own extension; the rest is the admin's. */
static const char *const user_writable[] = { "dnd", "call_waiting", "voicemail", "forwarding", "status",
					     "office_hours" };

static const struct api_field settings_fields[] = {
	{ "outbound_caller_ids", API_T_ARRAY, API_F_REQUIRED, 0, 64, NULL, NULL, &s_callerid, 0,
	  "From user part on calls out through each trunk" },
	{ "anonymous_outbound", API_T_BOOL, API_F_REQUIRED, 0, 0, NULL, NULL, NULL, 0,
	  "Always make outbound anonymous calls" },
	{ "deliver_outbound_caller_id", API_T_BOOL, API_F_REQUIRED, 0, 0, NULL, NULL, NULL, 0,
	  "Always deliver the outbound caller ID (also on forwarded calls)" },
	{ "record_audio", API_T_BOOL, API_F_REQUIRED, 0, 0, NULL, NULL, NULL, 0, "Record audio calls" },
	{ "record_video", API_T_BOOL, API_F_REQUIRED, 0, 0, NULL, NULL, NULL, 0, "Record video calls" },
	{ "max_simultaneous_calls", API_T_INT, API_F_REQUIRED, 1, 100, NULL, NULL, NULL, 0, NULL },
	{ "call_waiting", API_T_BOOL, API_F_REQUIRED, 0, 0, NULL, NULL, NULL, 0, "User-writable" },
	{ "dnd", API_T_BOOL, API_F_REQUIRED, 0, 0, NULL, NULL, NULL, 0, "Do not disturb; user-writable" },
	{ "status", API_T_STRING, API_F_REQUIRED, 0, 0, "available|away|lunch|business_trip", NULL, NULL, 0,
	  "The user's status, which picks the forwarding rules (forwarding.by_status); user-writable" },
	{ "office_hours", API_T_OBJECT, API_F_REQUIRED, 0, 0, NULL, NULL, &api_s_ext_office_hours, 0, "User-writable" },
	{ "effective_status", API_T_STRING, API_F_READONLY, 0, 0,
	  "available|away|lunch|business_trip|outside_office_hours", NULL, NULL, 0,
	  "The status in force now (read): status, or outside_office_hours while the office hours are closed" },
	{ "allow_presence_monitoring", API_T_BOOL, API_F_REQUIRED, 0, 0, NULL, NULL, NULL, 0,
	  "Others may watch this extension's presence (BLF)" },
	{ "allow_recording", API_T_BOOL, API_F_REQUIRED, 0, 0, NULL, NULL, NULL, 0, "Calls may be recorded" },
	{ "monitor_others", API_T_BOOL, API_F_REQUIRED, 0, 0, NULL, NULL, NULL, 0,
	  "May listen to other users' calls" },
	{ "allow_monitored", API_T_BOOL, API_F_REQUIRED, 0, 0, NULL, NULL, NULL, 0,
	  "Others may listen to this extension's calls" },
	{ "voicemail", API_T_OBJECT, API_F_REQUIRED, 0, 0, NULL, NULL, &s_voicemail, 0, "User-writable" },
	{ "forwarding", API_T_OBJECT, API_F_REQUIRED, 0, 0, NULL, NULL, &s_forwarding, 0, "User-writable" },
};
const struct api_schema api_s_settings = API_SCHEMA("ExtensionSettings", settings_fields,
	"An extension's settings. Updates are partial: objects merge, arrays and values replace; setting a"
	" destination's action drops its old number and mailbox, setting a mode drops the old destination"
	" and schedules (give them again if they still apply). Through"
	" /api/user/extension a user may change only dnd, call_waiting, status, office_hours, voicemail and forwarding (403"
	" otherwise).");

static const char defaults_json[] =
	"{\"outbound_caller_ids\": [], \"anonymous_outbound\": false, \"deliver_outbound_caller_id\": false,"
	" \"record_audio\": false, \"record_video\": false, \"max_simultaneous_calls\": 2,"
	" \"call_waiting\": true, \"dnd\": false, \"status\": \"available\","
	" \"office_hours\": {\"mode\": \"global\"}, \"allow_presence_monitoring\": true,"
	" \"allow_recording\": true, \"monitor_others\": false, \"allow_monitored\": false,"
	" \"voicemail\": {\"enabled\": true, \"pin\": \"\", \"pin_auth\": false, \"read_datetime\": false,"
	"   \"email_notification\": false, \"email\": \"\"},"
	" \"forwarding\": {\"unconditional\": {\"mode\": \"off\", \"destination\": {\"action\": \"voicemail\"},"
	"   \"schedules\": []}, \"busy\": {\"action\": \"voicemail\"},"
	"   \"no_answer\": {\"action\": \"voicemail\", \"ring_time\": 20},"
	"   \"not_reachable\": {\"action\": \"voicemail\"}, \"exceptions\": [], \"exception_numbers\": []}}";

/* Objects merge key by key; anything else replaces. */
static void merge(json_t *dst, const json_t *src)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)src, k, v) {
		json_t *d = json_object_get(dst, k);
		if (json_is_object(d) && json_is_object(v))
			merge(d, v);
		else
			json_object_set_new(dst, k, json_deep_copy(v));
	}
}

json_t *api_settings_load(const struct store_user *u)
{
	json_t *o = json_loads(defaults_json, 0, NULL);
	json_t *stored = u->settings ? json_loads(u->settings, 0, NULL) : NULL;
	if (json_is_object(stored))
		merge(o, stored);
	json_decref(stored);
	return o;
}

static int check_dest(const json_t *d, const char *path, struct api_resp *rs)
{
	const char *action = json_string_value(json_object_get(d, "action"));
	const char *num = json_string_value(json_object_get(d, "number"));
	if (action && strcmp(action, "number") == 0 && (!num || !*num))
	{
		char f[160];
		snprintf(f, sizeof(f), "%s.number", path);
		return api_error(rs, 422, "missing_field", f, "%s: is required when action is number", f);
	}
	return 0;
}

/* Rules across fields, after the merge. */
static int check_rules(const json_t *s, const struct store_user *u, struct api_resp *rs)
{
	const json_t *vm = json_object_get(s, "voicemail");
	const char *pin = json_string_value(json_object_get(vm, "pin"));
	if (pin && *pin && strlen(pin) < 4)
		return api_error(rs, 422, "invalid_field", "voicemail.pin", "voicemail.pin: must be 4 to 12 digits");
	if (json_is_true(json_object_get(vm, "pin_auth")) && (!pin || !*pin))
		return api_error(rs, 422, "missing_field", "voicemail.pin", "voicemail.pin: is required with pin_auth");
	const char *em = json_string_value(json_object_get(vm, "email"));
	if (json_is_true(json_object_get(vm, "email_notification")) && (!em || !*em) && !u->email[0])
		return api_error(rs, 422, "missing_field", "voicemail.email",
				 "voicemail.email: is required with email_notification (the user has no email)");
	const json_t *fw = json_object_get(s, "forwarding");
	static const char *const dests[] = { "busy", "no_answer", "not_reachable" };
	char path[128];
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "forwarding.%s", dests[i]);
		if (check_dest(json_object_get(fw, dests[i]), path, rs))
			return rs->status;
	}
	static const char *const statuses[] = { "away", "lunch", "business_trip", "outside_office_hours" };
	for (size_t k = 0; k < sizeof(statuses) / sizeof(statuses[0]); k++) {
		const json_t *set = json_object_get(json_object_get(fw, "by_status"), statuses[k]);
		for (size_t i = 0; set && i < 3; i++) {
			snprintf(path, sizeof(path), "forwarding.by_status.%s.%s", statuses[k], dests[i]);
			const json_t *d = json_object_get(set, dests[i]);
			if (d && check_dest(d, path, rs))
				return rs->status;
		}
	}
	const json_t *oh = json_object_get(s, "office_hours");
	const char *ohm = json_string_value(json_object_get(oh, "mode"));
	if (ohm && strcmp(ohm, "specific") == 0 && !json_object_get(oh, "week"))
		return api_error(rs, 422, "missing_field", "office_hours.week",
				 "office_hours.week: is required when mode is specific");
	const json_t *un = json_object_get(fw, "unconditional");
	const char *mode = json_string_value(json_object_get(un, "mode"));
	if (mode && strcmp(mode, "off") != 0) {
		const json_t *d = json_object_get(un, "destination");
		if (!d)
			return api_error(rs, 422, "missing_field", "forwarding.unconditional.destination",
					 "forwarding.unconditional.destination: is required when mode is %s", mode);
		if (check_dest(d, "forwarding.unconditional.destination", rs))
			return rs->status;
		if (strcmp(mode, "schedule") == 0 && json_array_size(json_object_get(un, "schedules")) == 0)
			return api_error(rs, 422, "missing_field", "forwarding.unconditional.schedules",
					 "forwarding.unconditional.schedules: at least one is required in schedule mode");
	}
	size_t i;
	const json_t *ex;
	json_array_foreach(json_object_get(fw, "exceptions"), i, ex) {
		snprintf(path, sizeof(path), "forwarding.exceptions[%zu].destination", i);
		if (check_dest(json_object_get(ex, "destination"), path, rs))
			return rs->status;
	}
	return 0;
}

int api_settings_apply(struct store_user *u, const json_t *patch, bool admin, struct api_resp *rs)
{
	if (!admin) {
		const char *k;
		const json_t *v;
		json_object_foreach((json_t *)patch, k, v) {
			bool ok = false;
			for (size_t i = 0; i < sizeof(user_writable) / sizeof(user_writable[0]); i++)
				ok = ok || strcmp(k, user_writable[i]) == 0;
			if (!ok)
				return api_error(rs, 403, "forbidden", k, "%s: only a tenant administrator can change this", k);
		}
	}
	json_t *cur = api_settings_load(u);
	pbx_settings_merge(cur, patch);
	/* The merged whole must be complete and valid (e.g. a new exception item). */
	int e = api_validate(&api_s_settings, cur, true, rs);
	if (!e)
		e = check_rules(cur, u, rs);
	if (!e) {
		char *txt = json_dumps(cur, JSON_COMPACT);
		mem_deref(u->settings);
		u->settings = txt ? mem_strndup(txt, strlen(txt)) : NULL;
		free(txt);
		if (!u->settings)
			e = api_error(rs, 500, "internal", NULL, "out of memory");
	}
	json_decref(cur);
	return e;
}
