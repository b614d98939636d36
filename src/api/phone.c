/* POST /api/user/phone_credentials: what the browser phone (/phone/) registers
 * with, minted for the signed-in user's extension: a digest username
 * "<number>~<id>" and a secret valid an hour (pbx_webcred_new), and where to
 * connect (the SIP over WSS port; the page uses the host it was loaded from).
 * The extension's own SIP password is never sent to a browser. */
#include <errno.h>

#include "api/api_int.h"
#include "pbx/pbx.h"

static const struct api_field phone_cred_fields[] = {
	{ "username", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0,
	  "The digest username: the extension number, '~', the credential's id" },
	{ "password", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "The digest password (32 characters)" },
	{ "extension_number", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0,
	  "The address-of-record's user part: sip:NUMBER@DOMAIN" },
	{ "domain", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "The tenant's SIP domain" },
	{ "display_name", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "expires_in", API_T_INT, API_F_READONLY, 0, 86400, NULL, NULL, NULL, 0,
	  "Seconds the credential is good for; mint another before (or when a REGISTER gets 403)" },
	{ "wss_port", API_T_INT, API_F_READONLY, 0, 65535, NULL, NULL, NULL, 0,
	  "SIP over secure WebSocket (--sip-wss-port; 0 when off)" },
	{ "ws_port", API_T_INT, API_F_READONLY, 0, 65535, NULL, NULL, NULL, 0,
	  "SIP over plain WebSocket (--sip-ws-port; 0 when off)" },
};
const struct api_schema api_s_phone_cred = API_SCHEMA("PhoneCredentials", phone_cred_fields,
						      "A browser phone's SIP credential");

void api_h_user_phone_credentials(struct api_req *rq, struct api_resp *rs)
{
	struct pbx_webcred w;
	int e = pbx_webcred_new(rq->api->pbx, rq->who.tenant_id, rq->who.user_id, &w);
	if (e == ENOENT) {
		api_error(rs, 409, "no_extension", NULL, "your account has no usable extension");
		return;
	}
	if (e) {
		api_error(rs, 503, "unavailable", NULL, "the PBX did not answer in time; try again");
		return;
	}
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:i, s:i}", "username", w.username, "password", w.password,
			      "extension_number", w.number, "domain", w.domain, "display_name", w.display_name,
			      "expires_in", (json_int_t)PBX_WEBCRED_TTL_S, "wss_port", rq->api->sip_wss_port, "ws_port",
			      rq->api->sip_ws_port);
	api_ok(rs, 201, o);
}
