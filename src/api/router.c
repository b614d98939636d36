/* The route table and the request path through it: match, authenticate, check
 * the role, parse and validate the body, call the handler. The OpenAPI document
 * is generated from this same table, so it describes exactly what is served. */
#include <string.h>

#include "api/api_int.h"

#define PBXD_API_VERSION PBXD_VERSION /* the API is versioned with pbxd */

static const struct api_field no_fields[1] = { { 0 } };
/* Bodies of actions: nothing, or an empty object. */
static const struct api_schema s_empty = { "Empty", no_fields, 0, "no fields", NULL };

static const struct api_route routes[] = {
	{ "GET", "/api/info", API_PUBLIC, api_h_info, NULL, false, "Info", 200, false, "info",
	  "Server information; with ?domain= a tenant's public metadata (used before sign-in)" },
	{ "GET", "/api/openapi.json", API_PUBLIC, api_h_openapi, NULL, false, NULL, 200, false, "info",
	  "This document" },
	{ "POST", "/api/auth/sign_in", API_PUBLIC, api_h_sign_in, &api_s_sign_in, true, "Token", 200, false, "auth",
	  "Sign in with username, password and (tenant users) the tenant's SIP domain" },
	{ "POST", "/api/auth/refresh", API_PUBLIC, api_h_refresh, &api_s_refresh, true, "Token", 200, false, "auth",
	  "Trade a refresh token for a new token pair (the old refresh token is spent)" },
	{ "POST", "/api/auth/sign_out", API_SIGNED_IN, api_h_sign_out, &s_empty, false, NULL, 204, false, "auth",
	  "End this session: the access token and its refresh token stop working" },
	{ "GET", "/api/me", API_SIGNED_IN, api_h_me, NULL, false, "Me", 200, false, "auth",
	  "Who the token belongs to, with role and tenant" },
	{ "POST", "/api/me/password", API_SIGNED_IN, api_h_me_password, &api_s_user_password, true, NULL, 204, false,
	  "auth", "Change my own login password, system admins too (the old one is required; my other sessions end)" },

	{ "GET", "/api/tenants", API_SYSADMIN, api_h_tenants_list, NULL, false, "TenantSummary", 200, true,
	  "tenants", "List tenants" },
	{ "POST", "/api/tenants", API_SYSADMIN, api_h_tenants_create, &api_s_tenant_create, true, "TenantCreated",
	  201, false, "tenants", "Create a tenant and its first tenant admin" },
	{ "GET", "/api/tenants/{id}", API_SYSADMIN, api_h_tenant_get, NULL, false, "Tenant", 200, false, "tenants",
	  "Read a tenant" },
	{ "POST", "/api/tenants/{id}", API_SYSADMIN, api_h_tenant_update, &api_s_tenant_update, false, "Tenant",
	  200, false, "tenants", "Update a tenant (fields given are changed)" },
	{ "POST", "/api/tenants/{id}/destroy", API_SYSADMIN, api_h_tenant_destroy, &s_empty, false, NULL, 204,
	  false, "tenants", "Delete a tenant with all its users" },
	{ "POST", "/api/tenants/{id}/switch", API_SYSADMIN, api_h_tenant_switch, &s_empty, false, "Token", 200,
	  false, "tenants", "Get a token scoped to the tenant, acting as its administrator" },

	{ "GET", "/api/users", API_TENANT_ADMIN, api_h_users_list, NULL, false, "UserSummary", 200, true, "users",
	  "List the tenant's users" },
	{ "POST", "/api/users", API_TENANT_ADMIN, api_h_users_create, &api_s_user_create, true, "User", 201, false,
	  "users", "Create a user with their extension" },
	{ "GET", "/api/users/{id}", API_TENANT_ADMIN, api_h_users_get, NULL, false, "User", 200, false, "users",
	  "Read a user" },
	{ "POST", "/api/users/{id}", API_TENANT_ADMIN, api_h_users_update, &api_s_user_update, false, "User", 200,
	  false, "users", "Update a user (fields given are changed)" },
	{ "POST", "/api/users/{id}/destroy", API_TENANT_ADMIN, api_h_users_destroy, &s_empty, false, NULL, 204,
	  false, "users", "Delete a user and their extension" },
	{ "POST", "/api/users/{id}/password", API_TENANT_ADMIN, api_h_users_password, &api_s_password, true, NULL,
	  204, false, "users", "Set a user's login password" },
	{ "POST", "/api/users/{id}/extension_password", API_TENANT_ADMIN, api_h_users_ext_password,
	  &api_s_ext_password, true, NULL, 204, false, "users", "Set a user's extension (SIP) password" },
	{ "GET", "/api/users/{id}/extension", API_TENANT_ADMIN, api_h_users_ext_get, NULL, false,
	  "ExtensionSettings", 200, false, "users", "Read a user's extension settings" },
	{ "POST", "/api/users/{id}/extension", API_TENANT_ADMIN, api_h_users_ext_update, &api_s_settings, false,
	  "ExtensionSettings", 200, false, "users",
	  "Update a user's extension settings (objects are merged, arrays replaced)" },

	{ "GET", "/api/users/{id}/devices", API_TENANT_ADMIN, api_h_users_devices, NULL, false, "DeviceList", 200, false,
	  "users", "The user's registered devices (Extension Status)" },
	{ "POST", "/api/users/{id}/devices/{device_id}/destroy", API_TENANT_ADMIN, api_h_users_device_destroy,
	  &s_empty, false, NULL, 204, false, "users", "Unregister one of the user's devices" },

	{ "GET", "/api/system/info", API_SYSADMIN, api_h_system_info, NULL, false, "SystemInfo", 200, false, "system",
	  "This pbxd: version, uptime, where it listens, tenants, extensions, devices and calls now" },
	{ "GET", "/api/system/certificate", API_SYSADMIN, api_h_certificate_get, NULL, false, "Certificate", 200, false,
	  "system", "The HTTPS certificate in use (also SIP over TLS and WSS unless --sip-tls-cert is given)" },
	{ "POST", "/api/system/certificate", API_SYSADMIN, api_h_certificate_upload, &api_s_certificate_upload, true,
	  "Certificate", 200, false, "system",
	  "Install a certificate (chain) and its key: the next HTTPS, SIP TLS and WSS handshakes use it" },
	{ "GET", "/api/security/bans", API_SYSADMIN, api_h_bans_list, NULL, false, "BanList", 200, false, "security",
	  "Sources banned after failed SIP authentications" },
	{ "POST", "/api/security/bans/{address}/destroy", API_SYSADMIN, api_h_ban_destroy, &s_empty, false, NULL,
	  204, false, "security", "Lift a ban" },

	{ "GET", "/api/cdrs", API_TENANT, api_h_cdrs_list, NULL, false, "Cdr", 200, true, "calls",
	  "Call detail records, newest first: the tenant's (admins), or my call log (users)" },
	{ "GET", "/api/call_sessions", API_TENANT, api_h_call_sessions, NULL, false, "CallSessionList", 200, false,
	  "calls", "Active calls, oldest first: the tenant's (admins), or mine (users)" },
	{ "POST", "/api/call_sessions/{id}/destroy", API_TENANT_ADMIN, api_h_call_session_destroy, &s_empty, false,
	  NULL, 204, false, "calls", "Hang an active call up" },

	{ "GET", "/api/tenant", API_TENANT_ADMIN, api_h_own_tenant_get, NULL, false, "Tenant", 200, false, "tenants",
	  "Read my tenant (tenant admin)" },
	{ "POST", "/api/tenant", API_TENANT_ADMIN, api_h_own_tenant_update, &api_s_own_tenant, false, "Tenant", 200,
	  false, "tenants", "Change my tenant's time zone (tenant admin; the rest is the system admin's)" },
	{ "GET", "/api/tenant/webhooks", API_TENANT_ADMIN, api_h_webhooks_list, NULL, false, "WebhookList", 200, false,
	  "events", "The tenant's webhooks, oldest first" },
	{ "POST", "/api/tenant/webhooks", API_TENANT_ADMIN, api_h_webhooks_create, &api_s_webhook_create, true,
	  "Webhook", 201, false, "events", "Add a webhook: the tenant's call events POSTed to a URL (at most 10)" },
	{ "GET", "/api/tenant/webhooks/{id}", API_TENANT_ADMIN, api_h_webhook_get, NULL, false, "Webhook", 200, false,
	  "events", "Read a webhook" },
	{ "POST", "/api/tenant/webhooks/{id}", API_TENANT_ADMIN, api_h_webhook_update, &api_s_webhook_update, false,
	  "Webhook", 200, false, "events", "Update a webhook (fields given are changed; auth is replaced whole)" },
	{ "POST", "/api/tenant/webhooks/{id}/destroy", API_TENANT_ADMIN, api_h_webhook_destroy, &s_empty, false, NULL,
	  204, false, "events", "Delete a webhook and its events waiting for delivery" },
	{ "GET", "/api/events", API_TENANT_ADMIN, api_h_events, NULL, false, NULL, 101, false, "events",
	  "A WebSocket streaming the tenant's call events (call_start, call_cdr) as text frames of JSON;"
	  " the token may be given as ?token= (browsers cannot set headers on a WebSocket)" },

	{ "GET", "/api/tenant/office_hours", API_TENANT, api_h_tenant_office_hours_get, NULL, false, "WeekShifts",
	  200, false, "office hours", "The tenant's office hours, in its time zone (never set: open at all times);"
	  " its users read them too (their global office hours)" },
	{ "POST", "/api/tenant/office_hours", API_TENANT_ADMIN, api_h_tenant_office_hours_update, &api_s_week, false,
	  "WeekShifts", 200, false, "office hours", "Change the tenant's office hours: the days given replace theirs" },
	{ "GET", "/api/holidays", API_TENANT, api_h_holidays_list, NULL, false, "HolidayList", 200, false,
	  "office hours", "The tenant's holidays, oldest first (its users read them too)" },
	{ "POST", "/api/holidays", API_TENANT_ADMIN, api_h_holidays_create, &api_s_holiday_create, true, "Holiday", 201,
	  false, "office hours", "Add a holiday of the tenant: every extension's office hours are closed during it" },
	{ "GET", "/api/holidays/{id}", API_TENANT_ADMIN, api_h_holiday_get, NULL, false, "Holiday", 200, false,
	  "office hours", "Read a holiday of the tenant" },
	{ "POST", "/api/holidays/{id}", API_TENANT_ADMIN, api_h_holiday_update, &api_s_holiday_update, false,
	  "Holiday", 200, false, "office hours", "Update a holiday of the tenant (fields given are changed)" },
	{ "POST", "/api/holidays/{id}/destroy", API_TENANT_ADMIN, api_h_holiday_destroy, &s_empty, false, NULL, 204,
	  false, "office hours", "Delete a holiday of the tenant" },
	{ "GET", "/api/users/{id}/office_hours", API_TENANT_ADMIN, api_h_users_office_hours_get, NULL, false,
	  "ExtensionOfficeHours", 200, false, "office hours",
	  "A user's office hours: the tenant's (global) or their own week (specific); the office_hours of their"
	  " extension settings" },
	{ "POST", "/api/users/{id}/office_hours", API_TENANT_ADMIN, api_h_users_office_hours_update,
	  &api_s_ext_office_hours, false, "ExtensionOfficeHours", 200, false, "office hours",
	  "Change a user's office hours (merged as the extension settings are)" },
	{ "GET", "/api/users/{id}/holidays", API_TENANT_ADMIN, api_h_users_holidays_list, NULL, false, "HolidayList",
	  200, false, "office hours", "A user's own holidays, oldest first" },
	{ "POST", "/api/users/{id}/holidays", API_TENANT_ADMIN, api_h_users_holidays_create, &api_s_holiday_create,
	  true, "Holiday", 201, false, "office hours",
	  "Add a holiday of the user: their office hours are closed during it" },
	{ "GET", "/api/users/{id}/holidays/{holiday_id}", API_TENANT_ADMIN, api_h_users_holiday_get, NULL, false,
	  "Holiday", 200, false, "office hours", "Read a holiday of the user" },
	{ "POST", "/api/users/{id}/holidays/{holiday_id}", API_TENANT_ADMIN, api_h_users_holiday_update,
	  &api_s_holiday_update, false, "Holiday", 200, false, "office hours",
	  "Update a holiday of the user (fields given are changed)" },
	{ "POST", "/api/users/{id}/holidays/{holiday_id}/destroy", API_TENANT_ADMIN, api_h_users_holiday_destroy,
	  &s_empty, false, NULL, 204, false, "office hours", "Delete a holiday of the user" },
	{ "GET", "/api/feature_access_codes", API_TENANT_ADMIN, api_h_feature_codes_get, NULL, false,
	  "FeatureCodeList", 200, false, "feature codes",
	  "The codes the tenant's users dial for their own extension, with the defaults" },
	{ "POST", "/api/feature_access_codes", API_TENANT_ADMIN, api_h_feature_codes_update, &api_s_feature_codes,
	  false, "FeatureCodeList", 200, false, "feature codes",
	  "Change codes (\"\": back to the default); * and 1-4 digits, unique, none a prefix of another" },

	{ "GET", "/api/providers", API_SIGNED_IN, api_h_obj_list, NULL, false, "ProviderList", 200, false, "trunks",
	  "List providers (a tenant's admins: its own and the system's assigned to it)" },
	{ "POST", "/api/providers", API_SIGNED_IN, api_h_obj_create, &api_s_provider_create, true, "Provider", 201, false, "trunks",
	  "Create a provider (system admins: the system's; tenant admins: the tenant's own)" },
	{ "GET", "/api/providers/export", API_SIGNED_IN, api_h_obj_export, NULL, false, NULL, 200, false, "trunks",
	  "Export providers (a tenant's admins: its own and the system's assigned to it) (CSV)" },
	{ "GET", "/api/providers/{id}", API_SIGNED_IN, api_h_obj_get, NULL, false, "Provider", 200, false, "trunks",
	  "Read a provider (system admins: the system's; tenant admins: the tenant's own)" },
	{ "POST", "/api/providers/{id}", API_SIGNED_IN, api_h_obj_update, &api_s_provider_update, false, "Provider", 200, false, "trunks",
	  "Update a provider (system admins: the system's; tenant admins: the tenant's own) (fields given are changed)" },
	{ "POST", "/api/providers/{id}/destroy", API_SIGNED_IN, api_h_obj_destroy, &s_empty, false, NULL, 204, false, "trunks",
	  "Delete a provider (system admins: the system's; tenant admins: the tenant's own)" },
	{ "GET", "/api/providers/{id}/status", API_SIGNED_IN, api_h_provider_status, NULL, false, "ProviderStatus", 200,
	  false, "trunks", "A provider's registration state and calls in progress" },
	{ "GET", "/api/providers/{id}/assignees", API_SYSADMIN, api_h_provider_assignees, NULL, false,
	  "ProviderAssigneeList", 200, false, "trunks", "The tenants a system provider is assigned to" },
	{ "POST", "/api/providers/{id}/assignees", API_SYSADMIN, api_h_provider_assign, &api_s_assignee, true,
	  "ProviderAssigneeList", 201, false, "trunks", "Assign a system provider to a tenant (its rules may then use it)" },
	{ "POST", "/api/providers/{id}/assignees/{tenant_id}/destroy", API_SYSADMIN, api_h_provider_unassign, &s_empty,
	  false, NULL, 204, false, "trunks", "Take a system provider from a tenant: its calls no longer use it" },
	{ "GET", "/api/inbound_rules", API_TENANT_ADMIN, api_h_obj_list, NULL, false, "InboundRuleList", 200, false, "trunks",
	  "List the tenant's inbound rules" },
	{ "POST", "/api/inbound_rules", API_TENANT_ADMIN, api_h_obj_create, &api_s_inbound_rule_create, true, "InboundRule", 201, false, "trunks",
	  "Create an inbound rule" },
	{ "GET", "/api/inbound_rules/export", API_TENANT_ADMIN, api_h_obj_export, NULL, false, NULL, 200, false, "trunks",
	  "Export the tenant's inbound rules (CSV)" },
	{ "GET", "/api/inbound_rules/{id}", API_TENANT_ADMIN, api_h_obj_get, NULL, false, "InboundRule", 200, false, "trunks",
	  "Read an inbound rule" },
	{ "POST", "/api/inbound_rules/{id}", API_TENANT_ADMIN, api_h_obj_update, &api_s_inbound_rule_update, false, "InboundRule", 200, false, "trunks",
	  "Update an inbound rule (fields given are changed)" },
	{ "POST", "/api/inbound_rules/{id}/destroy", API_TENANT_ADMIN, api_h_obj_destroy, &s_empty, false, NULL, 204, false, "trunks",
	  "Delete an inbound rule" },
	{ "GET", "/api/outbound_rules", API_TENANT_ADMIN, api_h_obj_list, NULL, false, "OutboundRuleList", 200, false, "trunks",
	  "List the tenant's outbound rules" },
	{ "POST", "/api/outbound_rules", API_TENANT_ADMIN, api_h_obj_create, &api_s_outbound_rule_create, true, "OutboundRule", 201, false, "trunks",
	  "Create an outbound rule" },
	{ "GET", "/api/outbound_rules/export", API_TENANT_ADMIN, api_h_obj_export, NULL, false, NULL, 200, false, "trunks",
	  "Export the tenant's outbound rules (CSV)" },
	{ "GET", "/api/outbound_rules/{id}", API_TENANT_ADMIN, api_h_obj_get, NULL, false, "OutboundRule", 200, false, "trunks",
	  "Read an outbound rule" },
	{ "POST", "/api/outbound_rules/{id}", API_TENANT_ADMIN, api_h_obj_update, &api_s_outbound_rule_update, false, "OutboundRule", 200, false, "trunks",
	  "Update an outbound rule (fields given are changed)" },
	{ "POST", "/api/outbound_rules/{id}/destroy", API_TENANT_ADMIN, api_h_obj_destroy, &s_empty, false, NULL, 204, false, "trunks",
	  "Delete an outbound rule" },
	{ "GET", "/api/allowed_country_codes", API_TENANT_ADMIN, api_h_obj_list, NULL, false, "NumberCodeList", 200, false, "toll fraud",
	  "List the country codes the tenant's calls may go to" },
	{ "POST", "/api/allowed_country_codes", API_TENANT_ADMIN, api_h_obj_create, &api_s_cc_create, true, "NumberCode", 201, false, "toll fraud",
	  "Create an allowed country code" },
	{ "GET", "/api/allowed_country_codes/export", API_TENANT_ADMIN, api_h_obj_export, NULL, false, NULL, 200, false, "toll fraud",
	  "Export the country codes the tenant's calls may go to (CSV)" },
	{ "GET", "/api/allowed_country_codes/{id}", API_TENANT_ADMIN, api_h_obj_get, NULL, false, "NumberCode", 200, false, "toll fraud",
	  "Read an allowed country code" },
	{ "POST", "/api/allowed_country_codes/{id}", API_TENANT_ADMIN, api_h_obj_update, &api_s_cc_update, false, "NumberCode", 200, false, "toll fraud",
	  "Update an allowed country code (fields given are changed)" },
	{ "POST", "/api/allowed_country_codes/{id}/destroy", API_TENANT_ADMIN, api_h_obj_destroy, &s_empty, false, NULL, 204, false, "toll fraud",
	  "Delete an allowed country code" },
	{ "GET", "/api/disallowed_codes", API_TENANT_ADMIN, api_h_obj_list, NULL, false, "NumberCodeList", 200, false, "toll fraud",
	  "List the prefixes no outbound call may start with" },
	{ "POST", "/api/disallowed_codes", API_TENANT_ADMIN, api_h_obj_create, &api_s_code_create, true, "NumberCode", 201, false, "toll fraud",
	  "Create a disallowed code" },
	{ "GET", "/api/disallowed_codes/export", API_TENANT_ADMIN, api_h_obj_export, NULL, false, NULL, 200, false, "toll fraud",
	  "Export the prefixes no outbound call may start with (CSV)" },
	{ "GET", "/api/disallowed_codes/{id}", API_TENANT_ADMIN, api_h_obj_get, NULL, false, "NumberCode", 200, false, "toll fraud",
	  "Read a disallowed code" },
	{ "POST", "/api/disallowed_codes/{id}", API_TENANT_ADMIN, api_h_obj_update, &api_s_code_update, false, "NumberCode", 200, false, "toll fraud",
	  "Update a disallowed code (fields given are changed)" },
	{ "POST", "/api/disallowed_codes/{id}/destroy", API_TENANT_ADMIN, api_h_obj_destroy, &s_empty, false, NULL, 204, false, "toll fraud",
	  "Delete a disallowed code" },
	{ "GET", "/api/blacklisted_numbers", API_TENANT_ADMIN, api_h_obj_list, NULL, false, "BlacklistedNumberList", 200, false, "toll fraud",
	  "List the caller numbers refused on inbound calls" },
	{ "POST", "/api/blacklisted_numbers", API_TENANT_ADMIN, api_h_obj_create, &api_s_blacklisted_create, true, "BlacklistedNumber", 201, false, "toll fraud",
	  "Create a blacklisted number" },
	{ "GET", "/api/blacklisted_numbers/export", API_TENANT_ADMIN, api_h_obj_export, NULL, false, NULL, 200, false, "toll fraud",
	  "Export the caller numbers refused on inbound calls (CSV)" },
	{ "GET", "/api/blacklisted_numbers/{id}", API_TENANT_ADMIN, api_h_obj_get, NULL, false, "BlacklistedNumber", 200, false, "toll fraud",
	  "Read a blacklisted number" },
	{ "POST", "/api/blacklisted_numbers/{id}", API_TENANT_ADMIN, api_h_obj_update, &api_s_blacklisted_update, false, "BlacklistedNumber", 200, false, "toll fraud",
	  "Update a blacklisted number (fields given are changed)" },
	{ "POST", "/api/blacklisted_numbers/{id}/destroy", API_TENANT_ADMIN, api_h_obj_destroy, &s_empty, false, NULL, 204, false, "toll fraud",
	  "Delete a blacklisted number" },
	{ "GET", "/api/tenant/outbound_limits", API_TENANT_ADMIN, api_h_outbound_limits_get, NULL, false,
	  "OutboundLimits", 200, false, "toll fraud", "The tenant's caps on outbound calls (defaults when never set)" },
	{ "POST", "/api/tenant/outbound_limits", API_TENANT_ADMIN, api_h_outbound_limits_update,
	  &api_s_outbound_limits, false, "OutboundLimits", 200, false, "toll fraud",
	  "Change the tenant's caps on outbound calls (fields given are changed)" },

	{ "GET", "/api/user/profile", API_USER, api_h_user_profile_get, NULL, false, "User", 200, false, "user",
	  "Read my profile" },
	{ "POST", "/api/user/profile", API_USER, api_h_user_profile_update, &api_s_profile, false, "User", 200,
	  false, "user", "Update my display name and email" },
	{ "POST", "/api/user/password", API_USER, api_h_user_password, &api_s_user_password, true, NULL, 204,
	  false, "user", "Change my login password (the old one is required)" },
	{ "POST", "/api/user/phone_credentials", API_USER, api_h_user_phone_credentials, &s_empty, false,
	  "PhoneCredentials", 201, false, "user",
	  "A SIP credential for the browser phone: registers as my extension for an hour (my SIP password stays unsent)" },
	{ "POST", "/api/user/extension_password", API_USER, api_h_user_ext_password, &api_s_ext_password, true,
	  NULL, 204, false, "user", "Change my extension (SIP) password" },
	{ "GET", "/api/user/holidays", API_USER, api_h_user_holidays_list, NULL, false, "HolidayList", 200, false,
	  "office hours", "My own holidays, oldest first" },
	{ "POST", "/api/user/holidays", API_USER, api_h_user_holidays_create, &api_s_holiday_create, true, "Holiday",
	  201, false, "office hours", "Add one of my holidays" },
	{ "GET", "/api/user/holidays/{id}", API_USER, api_h_user_holiday_get, NULL, false, "Holiday", 200, false,
	  "office hours", "Read one of my holidays" },
	{ "POST", "/api/user/holidays/{id}", API_USER, api_h_user_holiday_update, &api_s_holiday_update, false,
	  "Holiday", 200, false, "office hours", "Change one of my holidays" },
	{ "POST", "/api/user/holidays/{id}/destroy", API_USER, api_h_user_holiday_destroy, &s_empty, false, NULL, 204,
	  false, "office hours", "Delete one of my holidays" },
	{ "GET", "/api/user/extension", API_USER, api_h_user_ext_get, NULL, false, "ExtensionSettings", 200, false,
	  "user", "Read my extension settings" },
	{ "POST", "/api/user/extension", API_USER, api_h_user_ext_update, &api_s_settings, false,
	  "ExtensionSettings", 200, false, "user",
	  "Update my own extension settings (DND, call waiting, voicemail, forwarding)" },
};

const struct api_route *api_routes(size_t *n)
{
	*n = sizeof(routes) / sizeof(routes[0]);
	return routes;
}

/* Matches pattern against path segment by segment; "{id}" takes one segment,
 * whose text is copied to id; any other "{name}" one whose text is copied to key
 * (the handler reads it: a device id, an address). */
static bool match(const char *pat, const char *path, char *id, size_t idsz, char *key, size_t keysz)
{
	while (*pat && *path) {
		if (*pat == '{') {
			bool is_id = strncmp(pat, "{id}", 4) == 0;
			char *dst = is_id ? id : key;
			size_t dsz = is_id ? idsz : keysz;
			size_t l = strcspn(path, "/");
			if (l == 0)
				return false;
			snprintf(dst, dsz, "%.*s", (int)(l < dsz ? l : dsz - 1), path);
			if (l >= dsz)
				dst[0] = 'x'; /* too long to be an id or an address: fails to parse */
			pat = strchr(pat, '}') + 1;
			path += l;
			continue;
		}
		if (*pat != *path)
			return false;
		pat++;
		path++;
	}
	return *pat == '\0' && *path == '\0';
}

/* Routes that may run Argon2 (19 MiB, tens of ms): every such run passes the
 * gate in password.c, at most API_COSTLY_MAX at once, the excess answered 503
 * busy without waiting. Listed here for the OpenAPI document. */
static bool costly(const struct api_route *r)
{
	return r->h == api_h_sign_in || r->h == api_h_me_password || r->h == api_h_user_password ||
	       r->h == api_h_user_ext_password || r->h == api_h_users_create || r->h == api_h_users_update ||
	       r->h == api_h_users_password || r->h == api_h_tenants_create;
}

static int allowed(const struct api_route *r, const struct api_who *w, struct api_resp *rs)
{
	bool ok = true;
	const char *need = "";
	switch (r->access) {
	case API_PUBLIC:
	case API_SIGNED_IN:
		break;
	case API_USER:
		ok = w->user_id != 0;
		need = "a tenant user";
		break;
	case API_TENANT_ADMIN:
		ok = w->tenant_admin && w->tenant_id;
		/* The hint is for whoever can follow it. */
		need = w->sysadmin ? "a tenant administrator (system admins: switch into the tenant first)"
				   : "a tenant administrator";
		break;
	case API_TENANT:
		ok = w->tenant_id != 0;
		need = w->sysadmin ? "a tenant's user or administrator (system admins: switch into the tenant first)"
				   : "a tenant's user or administrator";
		break;
	case API_SYSADMIN:
		ok = w->sysadmin && !w->tenant_id;
		need = "a system administrator";
		break;
	}
	if (ok)
		return 0;
	return api_error(rs, 403, "forbidden", NULL, "this needs %s", need);
}

static int parse_body(struct api_req *rq, const struct api_route *r, struct api_resp *rs)
{
	if (!r->body)
		return 0;
	if (rq->body_len == 0) {
		rq->json = json_object();
	} else {
		json_error_t je;
		rq->json = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &je);
		if (!rq->json)
			return api_error(rs, 400, "invalid_json", NULL, "invalid JSON at line %d column %d: %s",
					 je.line, je.column, je.text);
		if (!json_is_object(rq->json))
			return api_error(rs, 400, "invalid_json", NULL, "the body must be a JSON object");
	}
	return api_validate(r->body, rq->json, r->body_create, rs);
}

void api_handle(struct api_req *rq, struct api_resp *rs)
{
	size_t n;
	const struct api_route *rt = api_routes(&n), *r = NULL;
	bool path_known = false;
	char idtext[24] = "";
	rs->status = 0;
	for (size_t i = 0; i < n && !r; i++) {
		if (!match(rt[i].path, rq->path, idtext, sizeof(idtext), rq->key, sizeof(rq->key)))
			continue;
		path_known = true;
		if (strcmp(rt[i].method, rq->method) == 0)
			r = &rt[i];
	}
	if (!r) {
		if (path_known)
			api_error(rs, 405, "method_not_allowed", NULL, "%.16s is not allowed on %.200s", rq->method,
				  rq->path);
		else
			api_error(rs, 404, "not_found", NULL, "no route for %.16s %.200s", rq->method, rq->path);
		return;
	}
	/* A WebSocket from a browser cannot carry an Authorization header. */
	const char *qtoken = r->h == api_h_events && !rq->authorization ? api_query(rq, "token") : NULL;
	if (qtoken && strlen(qtoken) < sizeof(rq->authorization_buf) - 8) {
		snprintf(rq->authorization_buf, sizeof(rq->authorization_buf), "Bearer %s", qtoken);
		rq->authorization = rq->authorization_buf;
	}
	if (r->access != API_PUBLIC) {
		if (api_authenticate(rq, rs) || allowed(r, &rq->who, rs))
			return;
	}
	if (strstr(r->path, "{id}") && api_parse_id(idtext, &rq->id)) {
		api_error(rs, 404, "not_found", NULL, "resource not found");
		return;
	}
	if (parse_body(rq, r, rs))
		return;
	r->h(rq, rs);
	if (!rs->status)
		api_error(rs, 500, "internal", NULL, "no answer");
}

/* --- OpenAPI 3.1 ------------------------------------------------------------------- */

/* The answer to POST /api/tenants: the tenant, and its first administrator. */
static const struct api_field created_admin_fields[] = {
	{ "id", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 1, 19, NULL, NULL, NULL, 0, NULL },
	{ "username", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 1, 64, NULL, NULL, NULL, 0, NULL },
};
static const struct api_schema s_created_admin = API_SCHEMA("TenantAdminRef", created_admin_fields,
							    "The tenant administrator created with the tenant");
static const struct api_field tenant_created_fields[] = {
	{ "admin", API_T_OBJECT, API_F_READONLY | API_F_REQUIRED, 0, 0, NULL, NULL, &s_created_admin, 0, NULL },
};
static const struct api_schema s_tenant_created = { "TenantCreated", tenant_created_fields, 1,
						    "A new tenant (detailed) with its first administrator",
						    &api_s_tenant };

static const struct api_schema *schema_by_name(const char *name)
{
	static const struct api_schema *const all[] = {
		&api_s_info, &api_s_phone_cred, &api_s_certificate, &api_s_system_info, &api_s_token, &api_s_me, &api_s_tenant, &s_tenant_created, &api_s_tenant_summary,
		&api_s_user, &api_s_user_summary, &api_s_settings, &api_s_error, &api_s_device_list, &api_s_ban_list,
		&api_s_cdr, &api_s_call_session_list, &api_s_webhook, &api_s_webhook_list,
		&api_s_week, &api_s_ext_office_hours, &api_s_holiday, &api_s_holiday_list, &api_s_feature_code_list,
		&api_s_provider, &api_s_provider_list, &api_s_provider_status, &api_s_assignee_list, &api_s_inbound_rule,
		&api_s_inbound_rule_list, &api_s_outbound_rule, &api_s_outbound_rule_list, &api_s_code, &api_s_code_list,
		&api_s_blacklisted, &api_s_blacklisted_list, &api_s_outbound_limits,
	};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(all[i]->name, name) == 0)
			return all[i];
	}
	return NULL;
}

/* Does target occur whole below s? Everything below a whole schema is whole;
 * below a patch, objects are patches and array items whole (api_validate_at). */
static bool reaches_whole(const struct api_schema *s, bool patch, const struct api_schema *target)
{
	if (!s)
		return false;
	if (s == target && !patch)
		return true;
	for (size_t i = 0; i < s->n; i++) {
		const struct api_field *f = &s->f[i];
		if (f->sub && reaches_whole(f->sub, patch && f->type == API_T_OBJECT, target))
			return true;
	}
	return reaches_whole(s->base, patch, target);
}

static bool used_whole(const struct api_schema *s)
{
	size_t n;
	const struct api_route *r = api_routes(&n);
	for (size_t i = 0; i < n; i++) {
		if (reaches_whole(r[i].body, !r[i].body_create, s) ||
		    (r[i].resp && reaches_whole(schema_by_name(r[i].resp), false, s)))
			return true;
	}
	return reaches_whole(&api_s_error, false, s);
}

/* Whether the patch form of s differs from the whole one. */
static bool has_required(const struct api_schema *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct api_field *f = &s->f[i];
		if ((f->flags & API_F_REQUIRED) || (f->type == API_T_OBJECT && f->sub && has_required(f->sub)))
			return true;
	}
	return false;
}

/* A schema used only as a patch (TenantUpdate) keeps its name; one also used
 * whole (ExtensionSettings, in answers) has its patch form as NAMEPatch. */
static void schema_name(const struct api_schema *s, bool patch, char *buf, size_t size)
{
	bool suffix = patch && has_required(s) && used_whole(s);
	snprintf(buf, size, "%s%s", s->name, suffix ? "Patch" : "");
}

static void add_schema(json_t *schemas, const struct api_schema *s, bool patch)
{
	char name[96];
	if (!s)
		return;
	schema_name(s, patch, name, sizeof(name));
	if (json_object_get(schemas, name))
		return;
	json_object_set_new(schemas, name, api_schema_openapi(s, patch, schema_name));
	for (size_t i = 0; i < s->n; i++)
		add_schema(schemas, s->f[i].sub, patch && s->f[i].type == API_T_OBJECT);
	add_schema(schemas, s->base, patch);
}

static json_t *ref(const char *name)
{
	return json_pack("{s:s+}", "$ref", "#/components/schemas/", name);
}

/* The query options of a list route: CDRs have their own (calls.c); the
 * others filter, search and order by the fields of their store_kind. */
static json_t *list_params(const struct api_route *r)
{
	if (r->h == api_h_cdrs_list)
		return api_cdr_params();
	enum store_kind kind = strstr(r->path, "tenants") ? STORE_KIND_TENANT : STORE_KIND_USER;
	size_t nf;
	const struct store_field *f = store_fields(kind, &nf);
	char fields[256] = "", search[256] = "";
	for (size_t i = 0; i < nf; i++) {
		strncat(fields, f[i].name, sizeof(fields) - strlen(fields) - 3);
		strncat(fields, i + 1 < nf ? ", " : "", sizeof(fields) - strlen(fields) - 1);
		if (f[i].search) {
			strncat(search, search[0] ? ", " : "", sizeof(search) - strlen(search) - 1);
			strncat(search, f[i].name, sizeof(search) - strlen(search) - 1);
		}
	}
	json_t *p = json_array();
	json_array_append_new(p, json_pack("{s:s, s:s, s:s++, s:{s:s}}", "name", "filter", "in", "query",
		"description", "Conditions joined with `and`, each `field op value` with op one of eq, ne, lt, le,"
		" gt, ge; strings in single quotes ('' for a quote), booleans true/false, ids as digits or"
		" quoted. Example: `role eq 'admin' and enabled eq true`. Fields: ", fields, ".",
		"schema", "type", "string"));
	json_array_append_new(p, json_pack("{s:s, s:s, s:s+, s:{s:s}}", "name", "search", "in", "query",
		"description", "Case-insensitive substring over: ", search, "schema", "type", "string"));
	json_array_append_new(p, json_pack("{s:s, s:s, s:s+, s:{s:s}}", "name", "orderby", "in", "query",
		"description", "`field asc` or `field desc` with a filter field: ", fields, "schema", "type",
		"string"));
	json_array_append_new(p, json_pack("{s:s, s:s, s:s, s:{s:s, s:i, s:i}}", "name", "skip", "in", "query",
		"description", "Items to skip (default 0)", "schema", "type", "integer", "minimum", 0, "default", 0));
	json_array_append_new(p, json_pack("{s:s, s:s, s:s, s:{s:s, s:i, s:i, s:i}}", "name", "top", "in",
		"query", "description", "Page size", "schema", "type", "integer", "minimum", 1, "maximum", 100,
		"default", 20));
	return p;
}

static json_t *operation(const struct api_route *r, json_t *schemas)
{
	char opid[128], *o = opid;
	snprintf(opid, sizeof(opid), "%s%s", r->method, r->path + 4);
	for (; *o; o++)
		if (*o == '/' || *o == '{' || *o == '}' || *o == '.')
			*o = '_';
	json_t *op = json_pack("{s:s, s:s, s:[s]}", "operationId", opid, "summary", r->summary, "tags", r->tag);
	json_t *params = r->list ? list_params(r) : json_array();
	if (r->h == api_h_events)
		json_array_append_new(params, json_pack("{s:s, s:s, s:s, s:{s:s}}", "name", "token", "in", "query",
			"description", "The access token, when the client cannot send Authorization: Bearer",
			"schema", "type", "string"));
	for (const char *b = strchr(r->path, '{'); b; b = strchr(b + 1, '{')) {
		char name[32];
		snprintf(name, sizeof(name), "%.*s", (int)(strchr(b, '}') - b - 1), b + 1);
		bool numeric = strcmp(name, "address") != 0;
		json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:s, s:{s:s, s:s}}", "name", name, "in",
			"path", "required", 1, "description", numeric ? "64-bit id, decimal string"
								      : "An IPv4 or IPv6 address",
			"schema", "type", "string", "pattern", numeric ? "^[0-9]{1,19}$" : "^[0-9A-Fa-f.:]{2,45}$"));
	}
	if (json_array_size(params))
		json_object_set_new(op, "parameters", params);
	else
		json_decref(params);
	if (r->body) {
		char name[96];
		add_schema(schemas, r->body, !r->body_create);
		schema_name(r->body, !r->body_create, name, sizeof(name));
		json_object_set_new(op, "requestBody", json_pack("{s:b, s:{s:{s:o}}}", "required",
			r->body_create, "content", "application/json", "schema", ref(name)));
	}
	json_t *resps = json_object(), *ok;
	char code[8];
	snprintf(code, sizeof(code), "%d", r->ok);
	if (r->h == api_h_obj_export) {
		ok = json_pack("{s:s, s:{s:{s:{s:s}}}}", "description",
			       "CSV (RFC 4180): a header row of field names, then a row per object; an attachment",
			       "content", "text/csv", "schema", "type", "string");
	} else if (!r->resp) {
		ok = json_pack("{s:s}", "description", r->ok == 204 ? "Done, no content"
			: r->ok == 101 ? "Switching Protocols: a WebSocket (RFC 6455, version 13); each event is a"
					 " text frame holding its JSON object" : "The document");
	} else {
		add_schema(schemas, schema_by_name(r->resp), false);
		json_t *schema = r->list ? json_pack("{s:s, s:[s,s], s:{s:{s:s, s:s}, s:{s:s, s:o}}}", "type",
			"object", "required", "count", "items", "properties", "count", "type", "integer",
			"description", "Total matching before skip/top", "items", "type", "array", "items",
			ref(r->resp)) : ref(r->resp);
		ok = json_pack("{s:s, s:{s:{s:o}}}", "description", "Success", "content", "application/json",
			       "schema", schema);
	}
	json_object_set_new(resps, code, ok);
	json_object_set_new(resps, "4XX", json_pack("{s:s, s:{s:{s:o}}}", "description",
		"Error: 400 invalid_json/unknown_field, 401 unauthorized, 403 forbidden, 404 not_found,"
		" 409 conflict/in_use/limit_reached, 413 payload_too_large, 422 invalid_field/missing_field, 426 upgrade_required,"
		" 429 rate_limited",
		"content", "application/json", "schema", ref("Error")));
	json_object_set_new(resps, "500", json_pack("{s:s, s:{s:{s:o}}}", "description",
		"Error: internal (an unexpected failure, such as of the store)", "content", "application/json",
		"schema", ref("Error")));
	if (costly(r) || r->h == api_h_events)
		json_object_set_new(resps, "503", json_pack("{s:s, s:{s:{s:o}}}", "description", costly(r)
			? "Error: busy (too many password checks at once); retry after the Retry-After header's seconds"
			: "Error: busy (too many event streams open); retry after the Retry-After header's seconds",
			"content", "application/json", "schema", ref("Error")));
	json_object_set_new(op, "responses", resps);
	if (r->access != API_PUBLIC)
		json_object_set_new(op, "security", json_pack("[{s:[]}]", "bearer"));
	else
		json_object_set_new(op, "security", json_array());
	return op;
}

json_t *api_openapi(void)
{
	json_t *schemas = json_object(), *paths = json_object();
	add_schema(schemas, &api_s_error, false);
	size_t n;
	const struct api_route *r = api_routes(&n);
	for (size_t i = 0; i < n; i++) {
		json_t *item = json_object_get(paths, r[i].path);
		if (!item) {
			item = json_object();
			json_object_set_new(paths, r[i].path, item);
		}
		char m[8];
		snprintf(m, sizeof(m), "%s", r[i].method);
		for (char *p = m; *p; p++)
			*p = (char)(*p - 'A' + 'a');
		json_object_set_new(item, m, operation(&r[i], schemas));
	}
	return json_pack("{s:s, s:{s:s, s:s, s:s}, s:o, s:{s:o, s:{s:{s:s, s:s}}}}", "openapi", "3.1.0",
		"info", "title", "pbxd REST API", "version", PBXD_API_VERSION, "description",
		"Tenants, users and extensions of pbxd. JSON in and out; ids are 64-bit integers written as"
		" decimal strings; errors are {\"error\": {status, code, message, field}}. Sign in at"
		" /api/auth/sign_in and send the token as `Authorization: Bearer TOKEN`.",
		"paths", paths, "components", "schemas", schemas, "securitySchemes", "bearer", "type", "http",
		"scheme", "bearer");
}

void api_h_openapi(struct api_req *rq, struct api_resp *rs)
{
	api_ok(rs, 200, api_openapi());
}
