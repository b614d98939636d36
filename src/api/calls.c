/* Calls: the call detail records the store keeps (GET /api/cdrs) and the calls
 * active now, which only the signalling thread knows (GET /api/call_sessions,
 * POST /api/call_sessions/{id}/destroy, through pbx.h). A tenant's admin sees
 * the whole tenant; a user sees their own call log and their own calls.
 *
 * A CDR is stored as the JSON the call engine built (the seeds' call_cdr
 * object); an answer carries the fields the Cdr schema below documents, taken
 * from that JSON, with the record's columns filling any it lacks, so that what
 * is served is what /api/openapi.json says. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api_int.h"
#include "core/mem.h"
#include "pbx/pbx.h"

/* --- schemas ------------------------------------------------------------------------ */

#define SECONDS "Unix seconds as a digit string"

static const struct api_field target_fields[] = {
	{ "id", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "Id of this target's record" },
	{ "call_type", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0,
	  "normal_call, queue_call, ring_group_call, callback or queue_callback" },
	{ "caller", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "callee", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "The callee of this target" },
	{ "destination", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0,
	  "Where it was sent: a SIP URI with the target's address and port" },
	{ "start_time", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, SECONDS },
	{ "ring_time", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, SECONDS },
	{ "answered_time", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, SECONDS "; \"0\": not answered" },
	{ "ended_time", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, SECONDS },
	{ "end_reason", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "Why this target ended" },
	{ "status_code", API_T_INT, API_F_READONLY, 0, 699, NULL, NULL, NULL, 0,
	  "The SIP failure code of this target; 0: no error" },
	{ "outbound_caller_id", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "trunk_name", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, NULL },
};
static const struct api_schema s_cdr_target = API_SCHEMA("CdrTarget", target_fields,
	"One target of a call: a device rung, a forward hop, an application");

static const struct api_field cdr_fields[] = {
	{ "cdr_id", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 1, 19, NULL, NULL, NULL, 0, NULL },
	{ "session_id", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 1, 19, NULL, NULL, NULL, 0,
	  "The call's session id (X-Session-Id), also of its recordings" },
	{ "tenant_id", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 1, 19, NULL, NULL, NULL, 0, NULL },
	{ "tenant_name", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "call_id", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0,
	  "Call-ID of the INVITE that arrived at pbxd" },
	{ "direction", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 0, 0, "ext|in|out|in2out", NULL, NULL, 0,
	  "ext: between extensions; in: from a trunk; out: to a trunk; in2out: from a trunk forwarded to one" },
	{ "caller", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 0, 0, NULL, NULL, NULL, 0, "The caller's number" },
	{ "caller_display_name", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "caller_domain", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "Host of the caller's From" },
	{ "callee", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 0, 0, NULL, NULL, NULL, 0,
	  "The number first called" },
	{ "callee_domain", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "The tenant's SIP domain" },
	{ "did_cid", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "The DID dialled (inbound calls)" },
	{ "start_time", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 0, 0, NULL, NULL, NULL, 0,
	  SECONDS ": when the call arrived" },
	{ "ring_time", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, SECONDS },
	{ "answered_time", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 0, 0, NULL, NULL, NULL, 0,
	  SECONDS ": the first answer; \"0\": not answered" },
	{ "ended_time", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 0, 0, NULL, NULL, NULL, 0, SECONDS },
	{ "ended_reason", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0,
	  "caller_disconnect, callee_disconnect, cancelled, referred, ..." },
	{ "status_code", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 0, 0, NULL, NULL, NULL, 0,
	  "The SIP failure code as a digit string; \"0\": no error" },
	{ "outbound_caller_id", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "trunk_name", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "user_data", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0,
	  "What the call was launched with through the API" },
	{ "call_targets", API_T_ARRAY, API_F_READONLY, 0, 0, NULL, NULL, &s_cdr_target, 0,
	  "In the order they were tried" },
};
const struct api_schema api_s_cdr = API_SCHEMA("Cdr", cdr_fields, "A call detail record");

static const struct api_field session_fields[] = {
	{ "session_id", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 1, 19, NULL, NULL, NULL, 0,
	  "Hang it up with POST /api/call_sessions/{id}/destroy; its CDR will carry it" },
	{ "tenant_id", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 1, 19, NULL, NULL, NULL, 0, NULL },
	{ "call_id", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 0, 0, NULL, NULL, NULL, 0, "The caller's Call-ID" },
	{ "state", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 0, 0, "ringing|talking|ending", NULL, NULL, 0, NULL },
	{ "direction", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 0, 0, "ext|in|out|in2out", NULL, NULL, 0, NULL },
	{ "caller", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "caller_display_name", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "callee", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "callee_display_name", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "start_time", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 0, 0, NULL, NULL, NULL, 0, SECONDS },
	{ "answered_time", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 0, 0, NULL, NULL, NULL, 0,
	  SECONDS "; \"0\": not answered yet" },
};
static const struct api_schema s_call_session = API_SCHEMA("CallSession", session_fields, "An active call");

static const struct api_field session_list_fields[] = {
	{ "count", API_T_INT, API_F_READONLY | API_F_REQUIRED, 0, 1LL << 31, NULL, NULL, NULL, 0, "Active calls" },
	{ "items", API_T_ARRAY, API_F_READONLY | API_F_REQUIRED, 0, 1LL << 31, NULL, NULL, &s_call_session, 0,
	  "Oldest first" },
};
const struct api_schema api_s_call_session_list = API_SCHEMA("CallSessionList", session_list_fields,
							     "Active calls");

/* --- GET /api/cdrs -------------------------------------------------------------------- */

/* The query options, for the parser and the OpenAPI document alike. */
static const struct cdr_param {
	const char *name;
	bool integer;
	const char *choices;
	const char *desc;
} cdr_params[] = {
	{ "start_time_from", false, NULL, "Calls that started at or after this time: Unix seconds, or ISO 8601 UTC"
	  " (`2026-11-23T19:18:45Z`, `2026-11-23`)" },
	{ "start_time_to", false, NULL, "Calls that started before this time (not at it), written as start_time_from" },
	{ "caller", false, NULL, "The caller's number, exactly" },
	{ "callee", false, NULL, "The number first called, exactly" },
	{ "direction", false, "ext|in|out|in2out", "Calls of this direction" },
	{ "skip", true, NULL, "Items to skip (default 0)" },
	{ "top", true, NULL, "Page size (default 20)" },
};
#define NPARAMS (sizeof(cdr_params) / sizeof(cdr_params[0]))

json_t *api_cdr_params(void)
{
	json_t *p = json_array();
	for (size_t i = 0; i < NPARAMS; i++) {
		const struct cdr_param *c = &cdr_params[i];
		json_t *schema = json_pack("{s:s}", "type", c->integer ? "integer" : "string");
		if (c->integer && strcmp(c->name, "top") == 0)
			json_object_update_new(schema, json_pack("{s:i, s:i, s:i}", "minimum", 1, "maximum",
								 STORE_PAGE_MAX, "default", 20));
		else if (c->integer)
			json_object_update_new(schema, json_pack("{s:i, s:i}", "minimum", 0, "default", 0));
		if (c->choices) {
			json_t *en = json_array();
			for (const char *w = c->choices; *w; w += strcspn(w, "|") + (w[strcspn(w, "|")] == '|'))
				json_array_append_new(en, json_stringn(w, strcspn(w, "|")));
			json_object_set_new(schema, "enum", en);
		}
		json_array_append_new(p, json_pack("{s:s, s:s, s:s, s:o}", "name", c->name, "in", "query",
						   "description", c->desc, "schema", schema));
	}
	return p;
}

/* Up to year 9999: beyond it a time is a typo. */
#define TIME_MAX 253402300799LL

/* n decimal digits exactly. */
static bool digits(const char *p, int n, int *out)
{
	*out = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return false;
		*out = *out * 10 + (p[i] - '0');
	}
	return true;
}

/* Unix seconds; or ISO 8601 UTC: YYYY-MM-DD, or YYYY-MM-DDTHH:MM:SS[.fff]Z (the
 * fraction dropped). 0 or EINVAL; times before 1970-01-01T00:00:01Z are EINVAL. */
static int parse_time(const char *v, int64_t *out)
{
	size_t len = strlen(v);
	if (len && len <= 12 && strspn(v, "0123456789") == len) {
		*out = strtoll(v, NULL, 10);
		return *out >= 1 && *out <= TIME_MAX ? 0 : EINVAL;
	}
	struct tm tm = { 0 };
	int y, mo, d, h = 0, mi = 0, s = 0;
	if (len < 10 || !digits(v, 4, &y) || v[4] != '-' || !digits(v + 5, 2, &mo) || v[7] != '-' ||
	    !digits(v + 8, 2, &d))
		return EINVAL;
	const char *p = v + 10;
	if (*p) {
		if (strlen(p) < 10 || p[0] != 'T' || !digits(p + 1, 2, &h) || p[3] != ':' || !digits(p + 4, 2, &mi) ||
		    p[6] != ':' || !digits(p + 7, 2, &s))
			return EINVAL;
		p += 9;
		if (*p == '.') {
			size_t nd = strspn(++p, "0123456789");
			if (nd == 0)
				return EINVAL;
			p += nd;
		}
		if (strcmp(p, "Z") != 0)
			return EINVAL;
	}
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59)
		return EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	time_t t = timegm(&tm);
	if (tm.tm_mday != d) /* normalised: 2026-02-30 is no date */
		return EINVAL;
	*out = (int64_t)t;
	return *out >= 1 && *out <= TIME_MAX ? 0 : EINVAL;
}

/* Reads the query into f (store_cdr_filter_init first); 0 or the 400 put in rs. */
static int cdr_query(const struct api_req *rq, struct store_cdr_filter *f, struct api_resp *rs)
{
	store_cdr_filter_init(f);
	for (size_t i = 0; i < rq->nquery; i++) {
		size_t k = 0;
		while (k < NPARAMS && strcmp(rq->query[i].key, cdr_params[k].name) != 0)
			k++;
		if (k == NPARAMS)
			return api_error(rs, 400, "unknown_field", rq->query[i].key, "%.64s: unknown query option",
					 rq->query[i].key);
	}
	if (api_page_query(rq, &f->skip, &f->top, rs))
		return rs->status;
	static const char *const times[] = { "start_time_from", "start_time_to" };
	int64_t *dst[] = { &f->from, &f->to };
	for (size_t i = 0; i < 2; i++) {
		const char *v = api_query(rq, times[i]);
		if (v && parse_time(v, dst[i]))
			return api_error(rs, 400, "invalid_field", times[i], "%s: must be Unix seconds or an ISO 8601"
					 " UTC time such as 2026-11-23T19:18:45Z, after 1970", times[i]);
	}
	static const char *const texts[] = { "caller", "callee" };
	char *tdst[] = { f->caller, f->callee };
	for (size_t i = 0; i < 2; i++) {
		const char *v = api_query(rq, texts[i]);
		if (v && strlen(v) >= sizeof(f->caller))
			return api_error(rs, 400, "invalid_field", texts[i], "%s: at most %d characters", texts[i],
					 (int)sizeof(f->caller) - 1);
		if (v)
			snprintf(tdst[i], sizeof(f->caller), "%s", v);
	}
	const char *v = api_query(rq, "direction");
	if (v && strcmp(v, "ext") && strcmp(v, "in") && strcmp(v, "out") && strcmp(v, "in2out"))
		return api_error(rs, 400, "invalid_field", "direction", "direction: ext, in, out or in2out");
	if (v)
		snprintf(f->direction, sizeof(f->direction), "%s", v);
	return 0;
}

/* The fields of s that obj has, recursing into objects and arrays of objects:
 * an answer holds what its schema documents and nothing else. */
static json_t *shape(const json_t *obj, const struct api_schema *s)
{
	json_t *out = json_object();
	for (size_t i = 0; out && i < s->n; i++) {
		const struct api_field *f = &s->f[i];
		json_t *v = json_object_get(obj, f->name);
		if (!v)
			continue;
		if (f->sub && f->type == API_T_ARRAY && json_is_array(v)) {
			json_t *a = json_array(), *e;
			size_t k;
			json_array_foreach(v, k, e) {
				if (json_is_object(e))
					json_array_append_new(a, shape(e, f->sub));
			}
			json_object_set_new(out, f->name, a);
		} else if (f->sub && f->type == API_T_OBJECT && json_is_object(v)) {
			json_object_set_new(out, f->name, shape(v, f->sub));
		} else {
			json_object_set(out, f->name, v);
		}
	}
	return out;
}

static void fill(json_t *o, const char *key, json_t *v)
{
	if (json_object_get(o, key))
		json_decref(v);
	else
		json_object_set_new(o, key, v);
}

static json_t *seconds(int64_t s)
{
	return json_sprintf("%lld", (long long)s);
}

static json_t *cdr_json(const struct store_cdr *c)
{
	json_t *stored = json_loads(c->json, 0, NULL);
	json_t *o = shape(json_is_object(stored) ? stored : NULL, &api_s_cdr);
	json_decref(stored);
	if (!o)
		return NULL;
	json_object_set_new(o, "cdr_id", api_json_id(c->id));
	fill(o, "session_id", api_json_id(c->session_id));
	fill(o, "tenant_id", api_json_id(c->tenant_id));
	fill(o, "direction", json_string(c->direction));
	fill(o, "caller", json_string(c->caller));
	fill(o, "callee", json_string(c->callee));
	fill(o, "start_time", seconds(c->start_time));
	fill(o, "answered_time", seconds(c->answered_time));
	fill(o, "ended_time", seconds(c->ended_time));
	fill(o, "status_code", json_sprintf("%d", c->status_code));
	return o;
}

/* A tenant admin's list is the tenant's; a user's, their own call log. */
void api_h_cdrs_list(struct api_req *rq, struct api_resp *rs)
{
	struct store_cdr_filter f;
	if (cdr_query(rq, &f, rs))
		return;
	f.user_id = rq->who.tenant_admin ? 0 : rq->who.user_id;
	struct store_cdrs *l;
	int e = store_cdr_list(rq->st, rq->who.tenant_id, &f, &l);
	if (e) {
		api_store_error(rs, rq->st, e, "cdrs");
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < l->n; i++)
		json_array_append_new(items, cdr_json(&l->v[i]));
	api_ok(rs, 200, json_pack("{s:I, s:o}", "count", (json_int_t)l->count, "items", items));
	mem_deref(l);
}

/* --- active calls --------------------------------------------------------------------- */

/* Names come from SIP headers: text that is not UTF-8 is shown with '?' for
 * every byte outside ASCII rather than dropped with the whole item. */
static json_t *text(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	char buf[STORE_CALLID_SZ];
	size_t i = 0;
	for (; s[i] && i + 1 < sizeof(buf); i++)
		buf[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	buf[i] = '\0';
	return json_string(buf);
}

static json_t *session_json(const struct pbx_call_info *c)
{
	return json_pack("{s:o, s:o, s:o, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}",
			 "session_id", api_json_id(c->session_id),
			 "tenant_id", api_json_id(c->tenant_id),
			 "call_id", text(c->call_id),
			 "state", c->state ? c->state : "",
			 "direction", c->direction ? c->direction : "",
			 "caller", text(c->caller),
			 "caller_display_name", text(c->caller_display_name),
			 "callee", text(c->callee),
			 "callee_display_name", text(c->callee_display_name),
			 "start_time", seconds(c->start_time / 1000),
			 "answered_time", seconds(c->answered_time / 1000));
}

void api_h_call_sessions(struct api_req *rq, struct api_resp *rs)
{
	struct pbx_call_info *v = NULL;
	size_t n = 0;
	uint64_t user = rq->who.tenant_admin ? 0 : rq->who.user_id;
	int e = rq->api->pbx ? pbx_calls(rq->api->pbx, rq->who.tenant_id, user, &v, &n) : 0;
	if (e) {
		api_pbx_error(rs, e, "calls");
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, session_json(&v[i]));
	free(v);
	api_ok(rs, 200, json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(items), "items", items));
}

void api_h_call_session_destroy(struct api_req *rq, struct api_resp *rs)
{
	int e = rq->api->pbx ? pbx_call_hangup(rq->api->pbx, rq->who.tenant_id, rq->id) : ENOENT;
	if (e == ENOENT)
		api_error(rs, 404, "not_found", NULL, "call not found");
	else if (e)
		api_pbx_error(rs, e, "hang up");
	else
		api_ok(rs, 204, NULL);
}
