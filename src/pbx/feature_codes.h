/* Feature access codes (issue 13, CALL-14): the features a user reaches by
 * dialling a code for their own extension, each with its default code, and a
 * tenant's codes: the defaults overlaid by the codes it overrides (the REST
 * resource /api/feature_access_codes stores the overrides as a JSON object,
 * {"dnd_on": "*11"}). Pure functions and data, shared by the API (validation,
 * the list it answers) and the call engine (matching what a phone dialled).
 *
 * A code is "*" and 1 to 4 digits; a tenant's codes are unique and none is a
 * prefix of another, so whatever is dialled matches at most one code. A
 * feature that takes a number (forward to N) matches its code followed by one
 * or more digits; any other feature its code alone. */
#ifndef PBX_FEATURE_CODES_H
#define PBX_FEATURE_CODES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "pbx/schedule.h" /* struct sched_err: the field named in each error */

/* X(id, name, default code, takes a number, what it does): the one list. The
 * defaults follow the common convention of Asterisk-based PBXs. */
#define FEATURE_LIST(X)                                                                              \
	X(DND_ON, "dnd_on", "*78", false, "Do not disturb on")                                       \
	X(DND_OFF, "dnd_off", "*79", false, "Do not disturb off")                                    \
	X(DND_TOGGLE, "dnd_toggle", "*76", false, "Do not disturb on or off")                        \
	X(FWD_ALL_ON, "forward_all_on", "*72", true, "Forward every call to the number dialled after it") \
	X(FWD_ALL_OFF, "forward_all_off", "*73", false, "Unconditional forwarding off")              \
	X(FWD_BUSY_ON, "forward_busy_on", "*90", true, "Forward when busy to the number dialled after it") \
	X(FWD_BUSY_OFF, "forward_busy_off", "*91", false, "Busy forwarding back to voicemail")       \
	X(FWD_NOANS_ON, "forward_no_answer_on", "*52", true,                                         \
	  "Forward on no answer to the number dialled after it")                                     \
	X(FWD_NOANS_OFF, "forward_no_answer_off", "*53", false, "No-answer forwarding back to voicemail") \
	X(CW_ON, "call_waiting_on", "*70", false, "Call waiting on")                                 \
	X(CW_OFF, "call_waiting_off", "*71", false, "Call waiting off")                              \
	X(VOICEMAIL, "voicemail", "*97", false, "Check my voicemail (once voicemail exists)")        \
	X(GREETING, "voicemail_greeting", "*57", false, "Record my voicemail greeting (once voicemail exists)")

#define FEATURE_ENUM(id, name, code, number, desc) FEATURE_##id,
enum feature {
	FEATURE_LIST(FEATURE_ENUM)
	FEATURE_COUNT
};
#undef FEATURE_ENUM

enum { FEATURE_CODE_SZ = 6 }; /* "*" and at most 4 digits */

struct feature_info {
	const char *name;  /* "dnd_on": the key of the overrides object */
	const char *code;  /* the default */
	bool number;       /* followed by a destination number */
	const char *desc;
};

/* A tenant's codes, indexed by enum feature; a value (no allocation). */
struct feature_codes {
	char code[FEATURE_COUNT][FEATURE_CODE_SZ];
};

const struct feature_info *feature_info(enum feature f);
/* The feature called name, or -1. */
int feature_by_name(const char *name);
/* Whether s is a code: "*" and 1 to 4 digits. */
bool feature_code_valid(const char *s);

/* The defaults. */
void feature_codes_default(struct feature_codes *c);
/* The defaults overlaid by overrides (a JSON object of name: code; NULL or {}
 * for none; a code "" means the default), checked: 0, or EINVAL with *err
 * naming the field (a key, prefixed with field when given): an unknown
 * feature (unknown_field), a code that is not "*" and 1-4 digits, one equal to
 * another feature's or a prefix of it (invalid_field). A conflict names a
 * feature the overrides set. err may be NULL. Refused, *c holds the defaults. */
int feature_codes_from_json(struct feature_codes *c, const json_t *overrides, const char *field,
			    struct sched_err *err);
/* The feature dialled (a code of c), with *arg pointing at the number after a
 * code that takes one (else at ""); -1 when nothing matches. */
int feature_match(const struct feature_codes *c, const char *dialled, const char **arg);

#endif
