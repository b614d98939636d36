/* GET /api/system/info: the system administrator's overview of this pbxd (the
 * portal's system page): version and uptime, where SIP, HTTP and RTP listen as
 * configured, and what is held now (tenants, extensions, registered devices,
 * calls in progress, from the PBX's own state). Nothing here is a secret, but
 * it maps the machine: system admins only. */
#include <errno.h>
#include <stdio.h>

#include "api/api_int.h"
#include "pbx/pbx.h"
#include "store/store.h"

static const struct api_field info_fields[] = {
	{ "version", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "started_at", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "ISO 8601 UTC" },
	{ "uptime_s", API_T_INT, API_F_READONLY, 0, 1LL << 40, NULL, NULL, NULL, 0, NULL },
	{ "sip", API_T_OBJECT, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0,
	  "address (empty: every address), udp_port, tcp_port, tls_port, wss_port, ws_port (0: off)" },
	{ "http", API_T_OBJECT, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "address, port, tls" },
	{ "rtp", API_T_OBJECT, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0,
	  "address (empty: the one each leg's signalling reached), port_min, port_max, media_threads" },
	{ "counts", API_T_OBJECT, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0,
	  "tenants, extensions, registered_devices, active_calls: now" },
};
const struct api_schema api_s_system_info = API_SCHEMA("SystemInfo", info_fields, "This pbxd at a glance");

static json_t *str_or_empty(const struct conf *c, const char *k)
{
	const char *v = conf_str(c, k);
	return json_string(v ? v : "");
}

int api_system_info_init(struct api *a, const struct conf *c)
{
	int lo = 0, hi = 0;
	const char *r = conf_str(c, "rtp-ports");
	if (r)
		sscanf(r, "%d-%d", &lo, &hi);
	a->sysinfo = json_pack("{s:{s:o, s:I, s:I, s:I, s:I, s:I}, s:{s:o, s:I, s:b}, s:{s:o, s:i, s:i, s:I}}",
			       "sip", "address", str_or_empty(c, "sip-address"), "udp_port",
			       (json_int_t)conf_int(c, "sip-udp-port"), "tcp_port", (json_int_t)conf_int(c, "sip-tcp-port"),
			       "tls_port", (json_int_t)conf_int(c, "sip-tls-port"), "wss_port",
			       (json_int_t)conf_int(c, "sip-wss-port"), "ws_port", (json_int_t)conf_int(c, "sip-ws-port"),
			       "http", "address", str_or_empty(c, "http-address"), "port",
			       (json_int_t)conf_int(c, "http-port"), "tls", conf_bool(c, "http-tls"), "rtp", "address",
			       str_or_empty(c, "rtp-address"), "port_min", lo, "port_max", hi, "media_threads",
			       (json_int_t)conf_int(c, "media-threads"));
	a->started_ms = store_now_ms();
	return a->sysinfo ? 0 : ENOMEM;
}

void api_h_system_info(struct api_req *rq, struct api_resp *rs)
{
	struct api *a = rq->api;
	struct pbx_stats st;
	if (pbx_stats(a->pbx, &st)) {
		api_error(rs, 503, "unavailable", NULL, "the PBX did not answer in time; try again");
		return;
	}
	json_t *o = json_deep_copy(a->sysinfo);
	json_object_set_new(o, "version", json_string(PBXD_VERSION));
	json_object_set_new(o, "started_at", api_json_time(a->started_ms));
	json_object_set_new(o, "uptime_s", json_integer((store_now_ms() - a->started_ms) / 1000));
	json_object_set_new(o, "counts", json_pack("{s:I, s:I, s:I, s:I}", "tenants", (json_int_t)st.tenants,
						   "extensions", (json_int_t)st.extensions, "registered_devices",
						   (json_int_t)st.devices, "active_calls", (json_int_t)st.calls));
	api_ok(rs, 200, o);
}
