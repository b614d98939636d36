/* Feature access codes (issue 13, CALL-14): codes a user dials to change their
 * own extension's settings from the phone. The default codes follow the common
 * convention of Asterisk-based PBXs; a tenant's own codes come with the REST
 * resource (/api/feature_access_codes). A code is applied through the same
 * settings merge the API uses; until media applications exist the answer is a
 * SIP final response whose reason phrase says what was done (a confirmation tone
 * or prompt later). */
#include <stdio.h>
#include <string.h>

#include "pbx/call/call_int.h"

enum fac_kind {
	FAC_DND_ON, FAC_DND_OFF, FAC_DND_TOGGLE,
	FAC_FWD_ALL_ON, FAC_FWD_ALL_OFF,
	FAC_FWD_BUSY_ON, FAC_FWD_BUSY_OFF,
	FAC_FWD_NOANS_ON, FAC_FWD_NOANS_OFF,
	FAC_CW_ON, FAC_CW_OFF,
	FAC_VOICEMAIL, FAC_GREETING,
};

static const struct {
	const char *code;
	enum fac_kind kind;
	bool number; /* the code is followed by a destination number */
} defaults[] = {
	{ "*78", FAC_DND_ON, false },        { "*79", FAC_DND_OFF, false },
	{ "*76", FAC_DND_TOGGLE, false },    { "*72", FAC_FWD_ALL_ON, true },
	{ "*73", FAC_FWD_ALL_OFF, false },   { "*90", FAC_FWD_BUSY_ON, true },
	{ "*91", FAC_FWD_BUSY_OFF, false },  { "*52", FAC_FWD_NOANS_ON, true },
	{ "*53", FAC_FWD_NOANS_OFF, false }, { "*70", FAC_CW_ON, false },
	{ "*71", FAC_CW_OFF, false },        { "*97", FAC_VOICEMAIL, false },
	{ "*57", FAC_GREETING, false },
};

static bool digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
	}
	return true;
}

bool fac_is_code(const struct pl *dialled)
{
	return dialled->l > 1 && dialled->p[0] == '*';
}

uint16_t fac_apply(const struct call_engine *e, const struct dir_ext *x, const struct pl *dialled,
		   const char **why)
{
	char d[48];
	if (dialled->l >= sizeof(d)) {
		*why = "Unknown Feature Code";
		return 404;
	}
	pl_strcpy(dialled, d, sizeof(d));
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		size_t n = strlen(defaults[i].code);
		if (strncmp(d, defaults[i].code, n) != 0)
			continue;
		const char *arg = d + n;
		if (defaults[i].number ? !digits(arg) : *arg != '\0')
			continue;
		if (defaults[i].number) {
			/* A destination of the caller's own tenant, as the API would want. */
			struct pl num = pl_cstr(arg);
			if (!directory_ext(x->tenant, &num)) {
				*why = "No Such Extension To Forward To";
				return 404;
			}
		}
		char patch[256];
		switch (defaults[i].kind) {
		case FAC_DND_ON:
		case FAC_DND_OFF:
		case FAC_DND_TOGGLE: {
			bool on = defaults[i].kind == FAC_DND_ON || (defaults[i].kind == FAC_DND_TOGGLE && !x->dnd);
			snprintf(patch, sizeof(patch), "{\"dnd\": %s}", on ? "true" : "false");
			*why = on ? "DND On" : "DND Off";
			break;
		}
		case FAC_FWD_ALL_ON:
			snprintf(patch, sizeof(patch),
				 "{\"forwarding\": {\"unconditional\": {\"mode\": \"always\", \"destination\":"
				 " {\"action\": \"number\", \"number\": \"%s\"}}}}", arg);
			*why = "Forwarding On";
			break;
		case FAC_FWD_ALL_OFF:
			snprintf(patch, sizeof(patch), "{\"forwarding\": {\"unconditional\": {\"mode\": \"off\"}}}");
			*why = "Forwarding Off";
			break;
		case FAC_FWD_BUSY_ON:
		case FAC_FWD_NOANS_ON:
			snprintf(patch, sizeof(patch),
				 "{\"forwarding\": {\"%s\": {\"action\": \"number\", \"number\": \"%s\"}}}",
				 defaults[i].kind == FAC_FWD_BUSY_ON ? "busy" : "no_answer", arg);
			*why = defaults[i].kind == FAC_FWD_BUSY_ON ? "Busy Forwarding On" : "No Answer Forwarding On";
			break;
		case FAC_FWD_BUSY_OFF:
		case FAC_FWD_NOANS_OFF:
			/* Back to the default destination, the mailbox. */
			snprintf(patch, sizeof(patch), "{\"forwarding\": {\"%s\": {\"action\": \"voicemail\"}}}",
				 defaults[i].kind == FAC_FWD_BUSY_OFF ? "busy" : "no_answer");
			*why = defaults[i].kind == FAC_FWD_BUSY_OFF ? "Busy Forwarding Off" : "No Answer Forwarding Off";
			break;
		case FAC_CW_ON:
		case FAC_CW_OFF:
			snprintf(patch, sizeof(patch), "{\"call_waiting\": %s}",
				 defaults[i].kind == FAC_CW_ON ? "true" : "false");
			*why = defaults[i].kind == FAC_CW_ON ? "Call Waiting On" : "Call Waiting Off";
			break;
		case FAC_VOICEMAIL:
		case FAC_GREETING:
			*why = "Voicemail Not Available";
			return 480;
		}
		if (!e->d.settings_patch || e->d.settings_patch(x->tenant->id, x->user_id, patch, e->d.arg)) {
			*why = "Feature Not Applied";
			return 500;
		}
		/* Done: a final answer that rings nothing, its reason saying what changed. */
		return 480;
	}
	*why = "Unknown Feature Code";
	return 404;
}
