/* An extension's forwarding rules (issue 13; the settings' "forwarding" object,
 * docs/api.md), read per call: callers never forwarded, exceptions by caller,
 * the unconditional forward, and the destinations of the conditions busy, no
 * answer and not reachable. What a destination does is the engine's
 * (engine.c); this file only says which one applies. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "pbx/call/call_int.h"

static void dest_read(const json_t *j, struct fwd_dest *d)
{
	memset(d, 0, sizeof(*d));
	const char *a = json_string_value(json_object_get(j, "action"));
	d->action = !a ? FWD_NONE
		    : strcmp(a, "hangup") == 0 ? FWD_HANGUP
		    : strcmp(a, "voicemail") == 0 ? FWD_VOICEMAIL
		    : strcmp(a, "number") == 0 ? FWD_NUMBER
		    : strcmp(a, "ring") == 0 ? FWD_RING
					     : FWD_NONE;
	const char *n = json_string_value(json_object_get(j, "number"));
	const char *m = json_string_value(json_object_get(j, "mailbox"));
	snprintf(d->number, sizeof(d->number), "%s", n ? n : "");
	snprintf(d->mailbox, sizeof(d->mailbox), "%s", m ? m : "");
	if (d->action == FWD_NUMBER && !d->number[0])
		d->action = FWD_NONE; /* the API refuses it; an old row may have it */
}

bool forward_exempt(const struct dir_ext *x, const char *caller)
{
	size_t i;
	const json_t *v;
	json_array_foreach(json_object_get(x->forwarding, "exception_numbers"), i, v) {
		const char *n = json_string_value(v);
		if (n && strcmp(n, caller) == 0)
			return true;
	}
	return false;
}

/* A rule's time window (days, start, end; none given: always), evaluated by
 * whoever knows the tenant's clock. */
static bool window_open(const json_t *rule, const struct fwd_ctx *ctx)
{
	const json_t *days = json_object_get(rule, "days");
	const char *start = json_string_value(json_object_get(rule, "start"));
	const char *end = json_string_value(json_object_get(rule, "end"));
	if (!json_array_size(days) && !start && !end)
		return true;
	return ctx->in_window && ctx->in_window(rule, ctx->arg);
}

bool forward_first(const struct dir_ext *x, const struct fwd_ctx *ctx, struct fwd_dest *d, const char **why)
{
	const json_t *fw = x->forwarding;
	size_t i;
	const json_t *ex;
	json_array_foreach(json_object_get(fw, "exceptions"), i, ex) {
		const char *cid = json_string_value(json_object_get(ex, "caller_id"));
		if (cid && strcmp(cid, ctx->caller) == 0 && window_open(ex, ctx)) {
			dest_read(json_object_get(ex, "destination"), d);
			*why = "exception";
			return d->action != FWD_NONE;
		}
	}
	const json_t *un = json_object_get(fw, "unconditional");
	const char *mode = json_string_value(json_object_get(un, "mode"));
	bool on = mode && (strcmp(mode, "always") == 0 ||
			   (strcmp(mode, "schedule") == 0 && ctx->in_schedules &&
			    ctx->in_schedules(json_object_get(un, "schedules"), ctx->arg)));
	if (on) {
		dest_read(json_object_get(un, "destination"), d);
		*why = "unconditional";
		return d->action != FWD_NONE;
	}
	return false;
}

/* A condition's rule in the status's own set when it has one, else the
 * top-level rule (the available status's). */
static const json_t *cond_rule(const struct dir_ext *x, const char *status, const char *key)
{
	const json_t *set = status ? json_object_get(json_object_get(x->forwarding, "by_status"), status) : NULL;
	const json_t *r = json_object_get(set, key);
	return r ? r : json_object_get(x->forwarding, key);
}

void forward_on(const struct dir_ext *x, const char *status, enum fwd_cond cond, struct fwd_dest *d)
{
	static const char *const keys[] = { [FWD_BUSY] = "busy", [FWD_NO_ANSWER] = "no_answer",
					    [FWD_NOT_REACHABLE] = "not_reachable" };
	dest_read(cond_rule(x, status, keys[cond]), d);
}

uint32_t forward_ring_time(const struct dir_ext *x, const char *status)
{
	const json_t *na = cond_rule(x, status, "no_answer");
	struct fwd_dest d;
	dest_read(na, &d);
	if (d.action == FWD_NONE || d.action == FWD_RING)
		return 0; /* ring until the call's own time-out */
	/* The ring time is the extension's: a status's rule without its own
	 * rings as long as the available status's does. */
	json_int_t t = json_integer_value(json_object_get(na, "ring_time"));
	if (t <= 0)
		t = json_integer_value(json_object_get(json_object_get(x->forwarding, "no_answer"), "ring_time"));
	return t > 0 ? (uint32_t)t : 20;
}
