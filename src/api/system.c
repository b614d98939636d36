/* GET /api/system/info: the system administrator's overview of this pbxd (the
 * portal's system page): version and uptime, where SIP, HTTP and RTP listen as
 * configured, and what is held now (tenants, extensions, registered devices,
 * calls in progress, from the PBX's own state). Nothing here is a secret, but
 * it maps the machine: system admins only. */
#include <errno.h>
#include <stdio.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>

#include "api/api_int.h"
#include "core/sa.h"
#include "pbx/pbx.h"
#include "store/store.h"

static const struct api_field info_fields[] = {
	{ "version", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "started_at", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "ISO 8601 UTC" },
	{ "uptime_s", API_T_INT, API_F_READONLY, 0, 1LL << 40, NULL, NULL, NULL, 0, NULL },
	{ "sip", API_T_OBJECT, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0,
	  "address (empty: every address), udp_port, tcp_port, tls_port, wss_port, ws_port (0: off)" },
	{ "http", API_T_OBJECT, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "address, port, tls" },
	{ "network", API_T_OBJECT, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0,
	  "public_address (--public-address: what providers are told behind NAT; empty: none), private_address"
	  " (the address pbxd's interfaces have: --sip-address, else the first that is not loopback),"
	  " web_domain (--web-domain)" },
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

/* The address of this host on its network: the SIP address when it is one,
 * else the first IPv4 address of an interface that is up and not loopback
 * (else IPv6, else the loopback one). */
static void private_address(const struct conf *c, char *out, size_t size)
{
	const char *sip = conf_str(c, "sip-address");
	struct sa a;
	if (sip && sip[0] && sa_set(&a, sip, 0) == 0 && !sa_is_any(&a)) {
		snprintf(out, size, "%s", sip);
		return;
	}
	out[0] = '\0';
	struct ifaddrs *ifs = NULL, *v4 = NULL, *v6 = NULL, *lo = NULL;
	if (getifaddrs(&ifs))
		return;
	for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || !(i->ifa_flags & IFF_UP))
			continue;
		int af = i->ifa_addr->sa_family;
		if (i->ifa_flags & IFF_LOOPBACK) {
			if (!lo && af == AF_INET)
				lo = i;
		} else if (af == AF_INET && !v4) {
			v4 = i;
		} else if (af == AF_INET6 && !v6) {
			v6 = i;
		}
	}
	struct ifaddrs *pick = v4 ? v4 : v6 ? v6 : lo;
	if (pick) {
		const void *ad = pick->ifa_addr->sa_family == AF_INET
					 ? (const void *)&((struct sockaddr_in *)pick->ifa_addr)->sin_addr
					 : (const void *)&((struct sockaddr_in6 *)pick->ifa_addr)->sin6_addr;
		inet_ntop(pick->ifa_addr->sa_family, ad, out, (socklen_t)size);
	}
	freeifaddrs(ifs);
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
	char priv[64];
	private_address(c, priv, sizeof(priv));
	if (a->sysinfo)
		json_object_set_new(a->sysinfo, "network",
				    json_pack("{s:o, s:s, s:o}", "public_address", str_or_empty(c, "public-address"),
					      "private_address", priv, "web_domain", str_or_empty(c, "web-domain")));
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
