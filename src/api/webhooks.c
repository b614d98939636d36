/* A tenant's webhooks (CDR §Push CDR to Webhook, CDR-03/04, TEN-08): where the
 * PBX POSTs the tenant's call events, and how each request authenticates itself.
 * Tenant administrators only. The store keeps them; the PBX's webhook module
 * (src/pbx/webhooks.c) reads them when an event happens and delivers.
 *
 * `auth` is replaced whole by an update that gives it (its method with the
 * credentials that method needs); its secrets (password, token, secret) are
 * write-only. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/api_int.h"
#include "core/mem.h"
#include "pbx/pbx.h"

/* --- schemas ------------------------------------------------------------------------- */

static int check_url(const char *v, const char **why);
static int check_cred(const char *v, const char **why);
static int check_token(const char *v, const char **why);

static const struct api_field auth_fields[] = {
	{ "method", API_T_STRING, API_F_REQUIRED, 0, 0, "none|basic|bearer|hmac", NULL, NULL, 0,
	  "none; basic: Authorization: Basic with username and password; bearer: Authorization: Bearer"
	  " with token; hmac: X-Pbxd-Signature: sha256=HEX, the HMAC-SHA256 of the body keyed with secret" },
	{ "username", API_T_STRING, 0, 1, 64, NULL, check_cred, NULL, 0, "basic: the user name (no colon)" },
	{ "password", API_T_STRING, API_F_WRITEONLY, 1, 128, NULL, check_cred, NULL, 0, "basic: the password" },
	{ "token", API_T_STRING, API_F_WRITEONLY, 1, 1024, NULL, check_token, NULL, 0,
	  "bearer: the token (RFC 6750 characters)" },
	{ "secret", API_T_STRING, API_F_WRITEONLY, 16, 256, NULL, check_cred, NULL, 0, "hmac: the key" },
};
static const struct api_schema s_auth = API_SCHEMA("WebhookAuth", auth_fields,
	"How each request proves it comes from pbxd; given whole in an update (secrets are write-only)");

#define EVENTS_DESC "Events POSTed: call_start (a call rings its callee), call_cdr (a call ended: its record)"
#define COMMON_FIELDS(req)                                                                                        \
	{ "name", API_T_STRING, 0, 0, 128, NULL, api_check_text, NULL, 0, "A label" },                          \
	{ "url", API_T_STRING, req, 8, 2048, NULL, check_url, NULL, 0,                                            \
	  "http:// or https:// URL the events are POSTed to (JSON); redirects are not followed" },              \
	{ "events", API_T_ARRAY, req, 1, 2, "call_start|call_cdr", NULL, NULL, API_T_STRING, EVENTS_DESC },      \
	{ "enabled", API_T_BOOL, 0, 0, 0, NULL, NULL, NULL, 0,                                                    \
	  "Off: no events are queued for it, and those waiting wait (default on)" },                              \
	{ "auth", API_T_OBJECT, 0, 0, 0, NULL, NULL, &s_auth, 0, NULL }

static const struct api_field create_fields[] = { COMMON_FIELDS(API_F_REQUIRED) };
const struct api_schema api_s_webhook_create = API_SCHEMA("WebhookCreate", create_fields, NULL);
static const struct api_field update_fields[] = { COMMON_FIELDS(0) };
const struct api_schema api_s_webhook_update = API_SCHEMA("WebhookUpdate", update_fields, NULL);

static const struct api_field webhook_fields[] = {
	{ "id", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 1, 19, NULL, NULL, NULL, 0, NULL },
	COMMON_FIELDS(API_F_REQUIRED),
	{ "pending", API_T_INT, API_F_READONLY, 0, 1LL << 40, NULL, NULL, NULL, 0,
	  "Its events waiting for delivery (retried with growing waits while its receiver fails)" },
	{ "created_at", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "ISO 8601 UTC" },
	{ "updated_at", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "ISO 8601 UTC" },
};
const struct api_schema api_s_webhook = API_SCHEMA("Webhook", webhook_fields, "A tenant's webhook");

static const struct api_field list_fields[] = {
	{ "count", API_T_INT, API_F_READONLY | API_F_REQUIRED, 0, STORE_WEBHOOKS_MAX, NULL, NULL, NULL, 0, NULL },
	{ "items", API_T_ARRAY, API_F_READONLY | API_F_REQUIRED, 0, STORE_WEBHOOKS_MAX, NULL, NULL, &api_s_webhook, 0,
	  "Oldest first" },
};
const struct api_schema api_s_webhook_list = API_SCHEMA("WebhookList", list_fields, "The tenant's webhooks");

/* --- rules --------------------------------------------------------------------------- */

/* An absolute http(s) URL with a host, no credentials in it (they go in auth),
 * and only printable ASCII. */
static int check_url(const char *v, const char **why)
{
	*why = "must be an http:// or https:// URL with a host, in printable ASCII without spaces";
	size_t skip = strncasecmp(v, "http://", 7) == 0 ? 7 : strncasecmp(v, "https://", 8) == 0 ? 8 : 0;
	if (!skip)
		return 1;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p <= ' ' || *p >= 0x7f)
			return 1;
	}
	const char *host = v + skip;
	size_t alen = strcspn(host, "/?#");
	if (alen == 0 || host[0] == ':')
		return 1;
	if (memchr(host, '@', alen)) {
		*why = "must not carry credentials: give them in auth";
		return 1;
	}
	return 0;
}

/* Sent in a header or as Basic credentials: printable ASCII, no colon. */
static int check_cred(const char *v, const char **why)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p < ' ' || *p >= 0x7f || *p == ':') {
			*why = "may contain only printable ASCII, without a colon";
			return 1;
		}
	}
	return 0;
}

/* RFC 6750 §2.1 b64token: letters, digits, - . _ ~ + /, then any '='. */
static int check_token(const char *v, const char **why)
{
	*why = "may contain only letters, digits and - . _ ~ + / (then = padding)";
	const char *p = v;
	while (isalnum((unsigned char)*p) || (*p && strchr("-._~+/", *p)))
		p++;
	while (*p == '=')
		p++;
	return *p != '\0';
}

static const char *const methods[] = { "none", "basic", "bearer", "hmac" };
/* What each method needs from auth; the others are refused with it. */
static const char *const needs[] = { NULL, "username", "token", "secret" };

static int auth_take(const json_t *auth, struct store_webhook *w, struct api_resp *rs)
{
	const char *m = json_string_value(json_object_get(auth, "method"));
	if (!m)
		return api_error(rs, 422, "missing_field", "auth.method", "auth.method: is required");
	int k = 0;
	while (k < 4 && strcmp(methods[k], m) != 0)
		k++;
	static const char *const fields[] = { "username", "password", "token", "secret" };
	for (size_t i = 0; i < 4; i++) {
		bool wanted = (k == STORE_WH_AUTH_BASIC && i < 2) || (k == STORE_WH_AUTH_BEARER && i == 2) ||
			      (k == STORE_WH_AUTH_HMAC && i == 3);
		bool given = json_object_get(auth, fields[i]) != NULL;
		char path[32];
		snprintf(path, sizeof(path), "auth.%s", fields[i]);
		if (wanted && !given)
			return api_error(rs, 422, "missing_field", path, "%s: is required with method %s", path, m);
		if (!wanted && given)
			return api_error(rs, 422, "invalid_field", path, "%s: is not used with method %s", path, m);
	}
	w->auth = (enum store_wh_auth)k;
	w->username[0] = w->secret[0] = '\0';
	if (k == STORE_WH_AUTH_BASIC) {
		api_take_str(auth, "username", w->username, sizeof(w->username));
		api_take_str(auth, "password", w->secret, sizeof(w->secret));
	} else if (needs[k]) {
		api_take_str(auth, needs[k], w->secret, sizeof(w->secret));
	}
	return 0;
}

/* Applies a validated create or update body to w. */
static int take(const json_t *body, struct store_webhook *w, struct api_resp *rs)
{
	api_take_str(body, "name", w->name, sizeof(w->name));
	api_take_str(body, "url", w->url, sizeof(w->url));
	api_take_bool(body, "enabled", &w->enabled);
	const json_t *ev = json_object_get(body, "events");
	if (ev) {
		if (!json_array_size(ev))
			return api_error(rs, 422, "invalid_field", "events", "events: at least one of call_start, call_cdr");
		unsigned bits = 0;
		size_t i;
		const json_t *e;
		json_array_foreach(ev, i, e) {
			unsigned b = strcmp(json_string_value(e), "call_start") == 0 ? STORE_WH_CALL_START
										    : STORE_WH_CALL_CDR;
			if (bits & b)
				return api_error(rs, 422, "invalid_field", "events", "events: %s is listed twice",
						 json_string_value(e));
			bits |= b;
		}
		w->events = bits;
	}
	const json_t *auth = json_object_get(body, "auth");
	return auth ? auth_take(auth, w, rs) : 0;
}

static json_t *webhook_json(const struct store_webhook *w)
{
	json_t *ev = json_array();
	for (unsigned b = 1; b <= STORE_WH_EVENTS; b <<= 1) {
		if (w->events & b)
			json_array_append_new(ev, json_string(store_wh_event_name(b)));
	}
	json_t *auth = json_pack("{s:s}", "method", methods[w->auth]);
	if (w->auth == STORE_WH_AUTH_BASIC)
		json_object_set_new(auth, "username", json_string(w->username));
	return json_pack("{s:o, s:s, s:s, s:o, s:b, s:o, s:I, s:o, s:o}", "id", api_json_id(w->id), "name", w->name,
			 "url", w->url, "events", ev, "enabled", w->enabled, "auth", auth, "pending",
			 (json_int_t)w->pending, "created_at", api_json_time(w->created_at), "updated_at",
			 api_json_time(w->updated_at));
}

/* --- routes --------------------------------------------------------------------------- */

/* The PBX learns which events the tenant's enabled webhooks want now (a tenant
 * without any queues nothing); a list that cannot be read means all of them. */
static void changed(struct api_req *rq)
{
	struct store_webhooks *l = NULL;
	unsigned events = STORE_WH_CALL_START | STORE_WH_CALL_CDR;
	if (store_webhook_list(rq->st, rq->who.tenant_id, &l) == 0) {
		events = 0;
		for (size_t i = 0; i < l->n; i++)
			events |= l->v[i].enabled ? l->v[i].events : 0;
	}
	mem_deref(l);
	pbx_webhooks_changed(rq->api->pbx, rq->who.tenant_id, events);
}

void api_h_webhooks_list(struct api_req *rq, struct api_resp *rs)
{
	struct store_webhooks *l;
	int e = store_webhook_list(rq->st, rq->who.tenant_id, &l);
	if (e) {
		api_store_error(rs, rq->st, e, "webhooks");
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < l->n; i++)
		json_array_append_new(items, webhook_json(&l->v[i]));
	api_ok(rs, 200, json_pack("{s:I, s:o}", "count", (json_int_t)l->n, "items", items));
	mem_deref(l);
}

void api_h_webhooks_create(struct api_req *rq, struct api_resp *rs)
{
	struct store_webhook w = { .tenant_id = rq->who.tenant_id, .enabled = true };
	if (take(rq->json, &w, rs))
		return;
	int e = store_webhook_create(rq->st, &w);
	if (e == EDQUOT)
		api_error(rs, 409, "limit_reached", NULL, "a tenant has at most %d webhooks", STORE_WEBHOOKS_MAX);
	else if (e)
		api_store_error(rs, rq->st, e, "webhook");
	else {
		changed(rq);
		api_ok(rs, 201, webhook_json(&w));
	}
}

void api_h_webhook_get(struct api_req *rq, struct api_resp *rs)
{
	struct store_webhook w;
	int e = store_webhook_get(rq->st, rq->who.tenant_id, rq->id, &w);
	if (e)
		api_store_error(rs, rq->st, e, "webhook");
	else
		api_ok(rs, 200, webhook_json(&w));
}

/* Read, change, write if nobody wrote it meanwhile; else again on what is there. */
void api_h_webhook_update(struct api_req *rq, struct api_resp *rs)
{
	struct store_webhook w;
	int e = ESTALE;
	for (int i = 0; i < API_EDIT_TRIES && e == ESTALE; i++) {
		if ((e = store_webhook_get(rq->st, rq->who.tenant_id, rq->id, &w)))
			break;
		if (take(rq->json, &w, rs))
			return;
		e = store_webhook_update(rq->st, &w);
	}
	if (e) {
		api_store_error(rs, rq->st, e, "webhook");
		return;
	}
	changed(rq);
	api_ok(rs, 200, webhook_json(&w));
}

void api_h_webhook_destroy(struct api_req *rq, struct api_resp *rs)
{
	int e = store_webhook_delete(rq->st, rq->who.tenant_id, rq->id);
	if (e) {
		api_store_error(rs, rq->st, e, "webhook");
	} else {
		changed(rq);
		api_ok(rs, 204, NULL);
	}
}
