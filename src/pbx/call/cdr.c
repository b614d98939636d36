/* A call's records in the seeds' shapes (shared/seeds/cdr.txt): the call_start
 * event, the call_cdr record with its call_targets, and the API's view of an
 * active call. Times are Unix seconds written as digit strings, ids as digit
 * strings; the top-level status_code is a string, a target's an integer, as the
 * seeds' examples have them. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/mem.h"
#include "pbx/call/call_int.h"

static json_t *num_str(uint64_t v)
{
	char b[24];
	snprintf(b, sizeof(b), "%" PRIu64, v);
	return json_string(b);
}

static json_t *secs(int64_t ms)
{
	return num_str(ms > 0 ? (uint64_t)(ms / 1000) : 0);
}

static json_t *str(const char *s)
{
	/* Everything here came from the network or the database: a byte string
	 * that is not UTF-8 must not lose the whole record. */
	json_t *j = json_string(s ? s : "");
	return j ? j : json_string("");
}

static const char *direction(const struct call *c)
{
	switch (c->dir) {
	case CALL_DIR_IN: return "in";
	case CALL_DIR_OUT: return "out";
	case CALL_DIR_IN2OUT: return "in2out";
	default: return "ext";
	}
}

static char *dump(json_t *o)
{
	if (!o)
		return NULL;
	char *txt = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!txt)
		return NULL;
	char *m = mem_strndup(txt, strlen(txt));
	free(txt);
	return m;
}

/* What every call event has: its type, the call, who calls whom, the direction,
 * the tenant and when. The start event adds the display names and the CDR's id. */
static json_t *event_json(const struct call *c, const char *type, int64_t when_ms)
{
	char caller[PBX_NUMBER_SZ + STORE_DOMAIN_SZ + 8], callee[sizeof(caller)];
	snprintf(caller, sizeof(caller), "sip:%s@%s", c->caller, c->domain);
	snprintf(callee, sizeof(callee), "sip:%s@%s", c->callee, c->domain);
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "event_type", json_string(type));
	json_object_set_new(o, "call_id", str(c->call_id));
	json_object_set_new(o, "callee", str(callee));
	json_object_set_new(o, "caller", str(caller));
	json_object_set_new(o, "direction", json_string(direction(c)));
	json_object_set_new(o, "session_id", num_str(c->session_id));
	json_object_set_new(o, "tenant_id", num_str(c->tenant_id));
	json_object_set_new(o, "time", secs(when_ms));
	return o;
}

char *cdr_answered_json(const struct call *c)
{
	return dump(event_json(c, "call_answered", c->answer_ms));
}

char *cdr_start_json(const struct call *c)
{
	json_t *o = event_json(c, "call_start", c->start_ms);
	if (o) {
		json_object_set_new(o, "callee_display_name", str(c->callee_name));
		json_object_set_new(o, "caller_display_name", str(c->caller_from_name));
		json_object_set_new(o, "cdr_id", num_str(c->cdr_id));
	}
	return dump(o);
}

static json_t *target_json(const struct call *c, const struct call_target *t)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "answered_time", secs(t->answer_ms));
	json_object_set_new(o, "call_type", json_string("normal_call"));
	json_object_set_new(o, "callee", str(t->callee));
	json_object_set_new(o, "caller", str(c->caller));
	json_object_set_new(o, "destination", str(t->destination));
	json_object_set_new(o, "end_reason", str(t->end_reason ? t->end_reason : "None"));
	json_object_set_new(o, "ended_time", secs(t->end_ms ? t->end_ms : c->end_ms));
	json_object_set_new(o, "id", num_str(t->id));
	bool out = c->dir == CALL_DIR_OUT || c->dir == CALL_DIR_IN2OUT;
	json_object_set_new(o, "outbound_caller_id", str(out ? c->out_cid : ""));
	json_object_set_new(o, "ring_time", secs(t->ring_ms));
	json_object_set_new(o, "start_time", secs(t->start_ms));
	json_object_set_new(o, "status_code", json_integer(t->status));
	json_object_set_new(o, "trunk_name", str(out ? c->trunk_name : ""));
	return o;
}

static char *cdr_json(const struct call *c)
{
	json_t *o = json_object(), *targets = json_array();
	if (!o || !targets) {
		json_decref(o);
		json_decref(targets);
		return NULL;
	}
	char status[8];
	snprintf(status, sizeof(status), "%u", c->status);
	json_object_set_new(o, "event_type", json_string("call_cdr"));
	json_object_set_new(o, "cdr_id", num_str(c->cdr_id));
	json_object_set_new(o, "answered_time", secs(c->answer_ms));
	json_object_set_new(o, "call_id", str(c->call_id));
	json_object_set_new(o, "callee", str(c->callee));
	json_object_set_new(o, "callee_domain", str(c->domain));
	json_object_set_new(o, "caller", str(c->caller));
	/* The seeds: "the display name of the FROM header in the INVITE". */
	json_object_set_new(o, "caller_display_name", str(c->caller_from_name));
	json_object_set_new(o, "caller_domain", str(c->caller_domain));
	json_object_set_new(o, "did_cid", str(c->did));
	json_object_set_new(o, "direction", json_string(direction(c)));
	json_object_set_new(o, "ended_reason", str(c->end_reason ? c->end_reason : "None"));
	json_object_set_new(o, "ended_time", secs(c->end_ms));
	json_object_set_new(o, "outbound_caller_id", str(c->dir == CALL_DIR_OUT || c->dir == CALL_DIR_IN2OUT ? c->out_cid : ""));
	json_object_set_new(o, "ring_time", secs(c->ring_ms));
	json_object_set_new(o, "session_id", num_str(c->session_id));
	json_object_set_new(o, "start_time", secs(c->start_ms));
	json_object_set_new(o, "status_code", json_string(status));
	json_object_set_new(o, "tenant_id", num_str(c->tenant_id));
	json_object_set_new(o, "tenant_name", str(c->tenant_name));
	json_object_set_new(o, "trunk_name", str(c->trunk_name));
	json_object_set_new(o, "user_data", json_string(""));
	for (unsigned i = 0; i < c->ntargets; i++)
		json_array_append_new(targets, target_json(c, &c->targets[i]));
	json_object_set_new(o, "call_targets", targets);
	return dump(o);
}

void call_cdr_free(struct store_cdr *cdr)
{
	if (!cdr)
		return;
	mem_deref(cdr->json);
	free(cdr);
}

struct store_cdr *cdr_build(const struct call *c)
{
	struct store_cdr *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->json = cdr_json(c);
	if (!r->json) {
		free(r);
		return NULL;
	}
	r->id = c->cdr_id;
	r->tenant_id = c->tenant_id;
	r->session_id = c->session_id;
	r->start_time = c->start_ms / 1000;
	r->answered_time = c->answer_ms / 1000;
	r->ended_time = c->end_ms / 1000;
	snprintf(r->caller, sizeof(r->caller), "%s", c->caller);
	snprintf(r->callee, sizeof(r->callee), "%s", c->callee);
	snprintf(r->direction, sizeof(r->direction), "%s", direction(c));
	r->status_code = c->status;
	if (c->caller_uid)
		r->users[r->nusers++] = c->caller_uid;
	if (c->callee_uid && c->callee_uid != c->caller_uid)
		r->users[r->nusers++] = c->callee_uid;
	return r;
}

void cdr_info(const struct call *c, struct pbx_call_info *out)
{
	memset(out, 0, sizeof(*out));
	out->session_id = c->session_id;
	out->tenant_id = c->tenant_id;
	out->caller_user_id = c->caller_uid;
	out->callee_user_id = c->callee_uid;
	snprintf(out->caller, sizeof(out->caller), "%s", c->caller);
	snprintf(out->callee, sizeof(out->callee), "%s", c->callee);
	snprintf(out->caller_display_name, sizeof(out->caller_display_name), "%s", c->caller_name);
	snprintf(out->callee_display_name, sizeof(out->callee_display_name), "%s", c->callee_name);
	snprintf(out->call_id, sizeof(out->call_id), "%s", c->call_id);
	out->state = c->state == CALL_TALKING ? "talking" : "ringing";
	out->direction = direction(c);
	out->start_time = c->start_ms;
	out->answered_time = c->answer_ms;
}
