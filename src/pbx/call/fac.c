/* Feature access codes (issue 13, CALL-14): codes a user dials to change their
 * own extension's settings from the phone. The codes are the tenant's
 * (pbx/feature_codes.h: the defaults, overridden through
 * /api/feature_access_codes), kept by the directory. A code is applied through
 * the same settings merge the API uses; until media applications exist the
 * answer is a SIP final response whose reason phrase says what was done (a
 * confirmation tone or prompt later). */
#include <stdio.h>
#include <string.h>

#include "pbx/call/call_int.h"
#include "pbx/feature_codes.h"

bool fac_is_code(const struct pl *dialled)
{
	return dialled->l > 1 && dialled->p[0] == '*';
}

/* The settings patch of feature f (arg: the number dialled after the code) and
 * the reason phrase saying what it did; false for a feature with nothing to
 * change yet. */
static bool fac_patch(enum feature f, const struct dir_ext *x, const char *arg, char *patch, size_t size,
		      const char **why)
{
	switch (f) {
	case FEATURE_DND_ON:
	case FEATURE_DND_OFF:
	case FEATURE_DND_TOGGLE: {
		bool on = f == FEATURE_DND_ON || (f == FEATURE_DND_TOGGLE && !x->dnd);
		snprintf(patch, size, "{\"dnd\": %s}", on ? "true" : "false");
		*why = on ? "DND On" : "DND Off";
		return true;
	}
	case FEATURE_FWD_ALL_ON:
		snprintf(patch, size,
			 "{\"forwarding\": {\"unconditional\": {\"mode\": \"always\", \"destination\":"
			 " {\"action\": \"number\", \"number\": \"%s\"}}}}", arg);
		*why = "Forwarding On";
		return true;
	case FEATURE_FWD_ALL_OFF:
		snprintf(patch, size, "{\"forwarding\": {\"unconditional\": {\"mode\": \"off\"}}}");
		*why = "Forwarding Off";
		return true;
	case FEATURE_FWD_BUSY_ON:
	case FEATURE_FWD_NOANS_ON:
		snprintf(patch, size, "{\"forwarding\": {\"%s\": {\"action\": \"number\", \"number\": \"%s\"}}}",
			 f == FEATURE_FWD_BUSY_ON ? "busy" : "no_answer", arg);
		*why = f == FEATURE_FWD_BUSY_ON ? "Busy Forwarding On" : "No Answer Forwarding On";
		return true;
	case FEATURE_FWD_BUSY_OFF:
	case FEATURE_FWD_NOANS_OFF:
		/* Back to the default destination, the mailbox. */
		snprintf(patch, size, "{\"forwarding\": {\"%s\": {\"action\": \"voicemail\"}}}",
			 f == FEATURE_FWD_BUSY_OFF ? "busy" : "no_answer");
		*why = f == FEATURE_FWD_BUSY_OFF ? "Busy Forwarding Off" : "No Answer Forwarding Off";
		return true;
	case FEATURE_CW_ON:
	case FEATURE_CW_OFF:
		snprintf(patch, size, "{\"call_waiting\": %s}", f == FEATURE_CW_ON ? "true" : "false");
		*why = f == FEATURE_CW_ON ? "Call Waiting On" : "Call Waiting Off";
		return true;
	case FEATURE_VOICEMAIL:
	case FEATURE_GREETING:
	case FEATURE_COUNT:
		break;
	}
	*why = "Voicemail Not Available";
	return false;
}

uint16_t fac_apply(const struct call_engine *e, const struct dir_ext *x, const struct pl *dialled,
		   const char **why)
{
	char d[48], patch[256];
	const char *arg = "";
	int f = -1;
	if (dialled->l < sizeof(d)) {
		pl_strcpy(dialled, d, sizeof(d));
		f = feature_match(&x->tenant->codes, d, &arg);
	}
	if (f < 0) {
		*why = "Unknown Feature Code";
		return 404;
	}
	if (feature_info(f)->number) {
		/* A destination of the caller's own tenant, as the API would want. */
		struct pl num = pl_cstr(arg);
		if (!directory_ext(x->tenant, &num)) {
			*why = "No Such Extension To Forward To";
			return 404;
		}
	}
	if (!fac_patch(f, x, arg, patch, sizeof(patch), why))
		return 480;
	if (!e->d.settings_patch || e->d.settings_patch(x->tenant->id, x->user_id, patch, e->d.arg)) {
		*why = "Feature Not Applied";
		return 500;
	}
	/* Done: a final answer that rings nothing, its reason saying what changed. */
	return 480;
}
