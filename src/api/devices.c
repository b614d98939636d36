/* Registered devices of a user (the seeds' "Extension Status") and the SIP bans,
 * read from and acted on in the signalling thread through pbx.h: the API never
 * touches the PBX's state itself. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "pbx/pbx.h"

static const struct api_field device_fields[] = {
	{ "id", API_T_STRING, API_F_READONLY, 1, 19, NULL, NULL, NULL, 0,
	  "Device (binding) id: unregister with POST /api/users/{id}/devices/{device_id}/destroy" },
	{ "contact", API_T_STRING, API_F_READONLY, 1, 511, NULL, NULL, NULL, 0, "Contact URI it registered" },
	{ "address", API_T_STRING, API_F_READONLY, 1, 63, NULL, NULL, NULL, 0,
	  "Address it registered from, as pbxd saw it (after NAT)" },
	{ "port", API_T_INT, API_F_READONLY, 0, 65535, NULL, NULL, NULL, 0, NULL },
	{ "transport", API_T_STRING, API_F_READONLY, 0, 0, "udp|tcp|tls|ws|wss", NULL, NULL, 0, NULL },
	{ "user_agent", API_T_STRING, API_F_READONLY, 0, 127, NULL, NULL, NULL, 0, NULL },
	{ "expires", API_T_INT, API_F_READONLY, 0, 1LL << 31, NULL, NULL, NULL, 0,
	  "Seconds until the registration expires unless refreshed" },
	{ "expires_at", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "ISO 8601 UTC" },
	{ "registered_at", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "ISO 8601 UTC" },
	{ "instance", API_T_STRING, API_F_READONLY, 0, 127, NULL, NULL, NULL, 0,
	  "The device's +sip.instance, when it gives one" },
};
const struct api_schema api_s_device = API_SCHEMA("Device", device_fields, "A registered device");

static const struct api_field device_list_fields[] = {
	{ "count", API_T_INT, API_F_READONLY | API_F_REQUIRED, 0, 100, NULL, NULL, NULL, 0, "Devices registered" },
	{ "items", API_T_ARRAY, API_F_READONLY | API_F_REQUIRED, 0, 100, NULL, NULL, &api_s_device, 0,
	  "Oldest first" },
};
const struct api_schema api_s_device_list = API_SCHEMA("DeviceList", device_list_fields, "A user's devices");

static const struct api_field ban_fields[] = {
	{ "address", API_T_STRING, API_F_READONLY, 2, 45, NULL, NULL, NULL, 0,
	  "The banned IPv4 address, or the first address of the banned IPv6 /64" },
	{ "prefix", API_T_INT, API_F_READONLY, 32, 64, NULL, NULL, NULL, 0, "32 (IPv4) or 64 (IPv6)" },
	{ "failures", API_T_INT, API_F_READONLY, 0, 1LL << 31, NULL, NULL, NULL, 0,
	  "Failed authentications that led to the ban" },
	{ "banned_at", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "ISO 8601 UTC" },
	{ "until", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "ISO 8601 UTC" },
};
const struct api_schema api_s_ban = API_SCHEMA("Ban", ban_fields, "A source banned after failed SIP authentications");

static const struct api_field ban_list_fields[] = {
	{ "count", API_T_INT, API_F_READONLY | API_F_REQUIRED, 0, 1LL << 31, NULL, NULL, NULL, 0, NULL },
	{ "items", API_T_ARRAY, API_F_READONLY | API_F_REQUIRED, 0, 1LL << 31, NULL, NULL, &api_s_ban, 0, NULL },
};
const struct api_schema api_s_ban_list = API_SCHEMA("BanList", ban_list_fields, "Current bans");

static const char *transport_lower(const char *t, char *buf, size_t size)
{
	size_t i = 0;
	for (; t[i] && i + 1 < size; i++)
		buf[i] = (char)(t[i] >= 'A' && t[i] <= 'Z' ? t[i] + 32 : t[i]);
	buf[i] = '\0';
	return buf;
}

static json_t *device_json(const struct store_location *l, int64_t now)
{
	char tp[8];
	int64_t left = (l->expires_at - now + 999) / 1000;
	return json_pack("{s:o, s:s, s:s, s:i, s:s, s:s, s:I, s:o, s:o, s:s}", "id", api_json_id(l->id), "contact",
			 l->contact, "address", l->address, "port", (int)l->port, "transport",
			 transport_lower(l->transport, tp, sizeof(tp)), "user_agent", l->user_agent, "expires",
			 (json_int_t)(left > 0 ? left : 0), "expires_at", api_json_time(l->expires_at),
			 "registered_at", api_json_time(l->created_at), "instance", l->instance);
}

/* The user {id} exists in the token's tenant; else 404 answered. */
static int user_exists(struct api_req *rq, struct api_resp *rs)
{
	struct store_user u = { 0 };
	int e = store_user_get(rq->st, rq->who.tenant_id, rq->id, &u);
	store_user_reset(&u);
	return e ? api_store_error(rs, rq->st, e, "user") : 0;
}

void api_h_users_devices(struct api_req *rq, struct api_resp *rs)
{
	if (user_exists(rq, rs))
		return;
	struct store_location *v = NULL;
	size_t n = 0;
	int e = pbx_devices(rq->api->pbx, rq->who.tenant_id, rq->id, &v, &n);
	if (e) {
		api_pbx_error(rs, e, "devices");
		return;
	}
	int64_t now = store_now_ms();
	json_t *items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, device_json(&v[i], now));
	free(v);
	api_ok(rs, 200, json_pack("{s:I, s:o}", "count", (json_int_t)n, "items", items));
}

void api_h_users_device_destroy(struct api_req *rq, struct api_resp *rs)
{
	uint64_t dev;
	if (user_exists(rq, rs))
		return;
	if (api_parse_id(rq->key, &dev)) {
		api_error(rs, 404, "not_found", NULL, "device not found");
		return;
	}
	int e = pbx_device_unregister(rq->api->pbx, rq->who.tenant_id, rq->id, dev);
	if (e == ENOENT)
		api_error(rs, 404, "not_found", NULL, "device not found");
	else if (e)
		api_pbx_error(rs, e, "unregister");
	else
		api_ok(rs, 204, NULL);
}

void api_h_bans_list(struct api_req *rq, struct api_resp *rs)
{
	struct security_ban *v = NULL;
	size_t n = 0;
	int e = pbx_bans(rq->api->pbx, &v, &n);
	if (e) {
		api_pbx_error(rs, e, "bans");
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, json_pack("{s:s, s:i, s:i, s:o, s:o}", "address", v[i].address, "prefix",
						       v[i].prefix, "failures", v[i].failures, "banned_at",
						       api_json_time(v[i].banned_at), "until", api_json_time(v[i].until)));
	free(v);
	api_ok(rs, 200, json_pack("{s:I, s:o}", "count", (json_int_t)n, "items", items));
}

void api_h_ban_destroy(struct api_req *rq, struct api_resp *rs)
{
	int e = pbx_ban_lift(rq->api->pbx, rq->key);
	if (e == EINVAL)
		api_error(rs, 404, "not_found", NULL, "no ban: not an IPv4 or IPv6 address");
	else if (e == ENOENT)
		api_error(rs, 404, "not_found", NULL, "no ban of this address");
	else if (e)
		api_pbx_error(rs, e, "lift ban");
	else
		api_ok(rs, 204, NULL);
}
