/* SIP trunks through REST (issue 15): providers (the system's, assigned to
 * tenants, or a tenant's own), inbound rules (a DID to a destination of the
 * tenant), outbound rules (a dialled pattern to providers in order), the number
 * lists that cap toll fraud (allowed country codes, disallowed codes,
 * blacklisted numbers) and a tenant's outbound call limits. Each list is a kind
 * of configuration object (objects.c); this file says what each one holds and
 * checks. The PBX reads them whole (pbx/trunks.h). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "core/mem.h"
#include "pbx/dialplan.h"

/* --- shared checks ----------------------------------------------------------------------- */

/* A host name, an IPv4 address, or an IPv6 address (without brackets). */
static int check_host(const char *v, const char **why)
{
	struct in6_addr a6;
	if (inet_pton(AF_INET6, v, &a6) == 1)
		return 0;
	return api_check_domain(v, why);
}

/* host, host:port or [v6]:port: where requests to the provider go first. */
static int check_proxy(const char *v, const char **why)
{
	if (!*v)
		return 0;
	char host[256];
	const char *port = NULL;
	if (v[0] == '[') {
		const char *e = strchr(v, ']');
		if (!e || (size_t)(e - v - 1) >= sizeof(host))
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(e - v - 1), v + 1);
		if (e[1] == ':')
			port = e + 2;
		else if (e[1])
			goto bad;
	} else {
		const char *c = strchr(v, ':');
		if (strlen(v) >= sizeof(host))
			goto bad;
		snprintf(host, sizeof(host), "%.*s", c ? (int)(c - v) : (int)strlen(v), v);
		port = c ? c + 1 : NULL;
	}
	if (check_host(host, why))
		return 1;
	if (port) {
		char *end;
		long p = strtol(port, &end, 10);
		if (!*port || *end || p < 1 || p > 65535)
			goto bad;
	}
	return 0;
bad:
	*why = "must be host, host:port or [IPv6]:port";
	return 1;
}

/* An address or a CIDR block the provider's requests come from. */
static int check_cidr(const char *v, const char **why)
{
	char a[64];
	const char *slash = strchr(v, '/');
	snprintf(a, sizeof(a), "%.*s", slash ? (int)(slash - v) : (int)strlen(v), v);
	uint8_t buf[16];
	int af = inet_pton(AF_INET, a, buf) == 1 ? AF_INET : inet_pton(AF_INET6, a, buf) == 1 ? AF_INET6 : 0;
	*why = "must be an IPv4 or IPv6 address, optionally with a /prefix length";
	if (!af)
		return 1;
	if (slash) {
		const char *d = slash + 1;
		size_t n = strspn(d, "0123456789");
		if (n == 0 || n > 3 || d[n] || atoi(d) > (af == AF_INET ? 32 : 128))
			return 1;
	}
	return 0;
}

/* A country calling code: 1-3 digits, the first 1-9 (ITU-T E.164). */
static int check_cc(const char *v, const char **why)
{
	size_t n = strspn(v, "0123456789");
	if (!*v)
		return 0;
	if (v[n] || n > 3 || v[0] == '0') {
		*why = "must be a country calling code: 1 to 3 digits, not starting with 0";
		return 1;
	}
	return 0;
}

/* A DID in one form every rule can be compared in, whatever its provider's
 * country: exact numbers and range ends as '+' and their E.164 digits;
 * patterns as written (they are ranked, not compared). */
static void did_canonical(const char *did, const char *cc, char *out, size_t size)
{
	char a[DIALPLAN_NUMBER_SZ], b[DIALPLAN_NUMBER_SZ];
	const char *dash = strchr(did, '-');
	if (dialplan_did_overlap(did, did, cc) != 1) {
		snprintf(out, size, "%s", did);
	} else if (dash) {
		char lo[80];
		snprintf(lo, sizeof(lo), "%.*s", (int)(dash - did), did);
		if (dialplan_e164(lo, cc, a, sizeof(a)) || dialplan_e164(dash + 1, cc, b, sizeof(b)))
			snprintf(out, size, "%s", did);
		else
			snprintf(out, size, "+%s-+%s", a, b);
	} else if (dialplan_e164(did, cc, a, sizeof(a)) == 0) {
		snprintf(out, size, "+%s", a);
	} else {
		snprintf(out, size, "%s", did);
	}
}

static int check_pattern(const char *v, const char **why)
{
	return dialplan_pattern_check(v, why) != 0;
}

static int check_did(const char *v, const char **why)
{
	return dialplan_did_check(v, why) != 0;
}

/* What a number sent to a carrier may hold. */
static int check_dialstr(const char *v, const char **why)
{
	for (const char *p = v; *p; p++) {
		if (!isdigit((unsigned char)*p) && !strchr("+*#", *p)) {
			*why = "may contain only digits, +, * and #";
			return 1;
		}
	}
	return 0;
}

static int check_number(const char *v, const char **why)
{
	if (v[0] == '+')
		v++;
	return api_check_digits(v, why);
}

static const char *jstr(const json_t *j, const char *k)
{
	const char *v = json_string_value(json_object_get(j, k));
	return v ? v : "";
}

static void set_default_int(json_t *j, const char *k, long long v)
{
	if (!json_object_get(j, k))
		json_object_set_new(j, k, json_integer(v));
}

/* A provider the tenant may route over: its own, or the system's assigned to
 * it; the system's own objects may name only the system's. 0, or ENOENT. */
static const struct api_obj_type t_provider;

static int provider_visible(struct api_req *rq, uint64_t scope, const char *idtext, struct store_obj *out)
{
	uint64_t id;
	if (api_parse_id(idtext, &id))
		return ENOENT;
	struct store_obj o = { 0 };
	bool own;
	int e = api_obj_get_visible(rq, &t_provider, scope, id, &o, &own);
	if (!e && out)
		*out = o;
	else
		store_obj_reset(&o);
	return e;
}

/* --- providers ------------------------------------------------------------------------ */

#define PROVIDER_FIELDS(req)                                                                                   \
	{ "name", API_T_STRING, req, 1, 64, NULL, api_check_text, NULL, 0,                                      \
	  "Unique among its owner's providers; outbound caller IDs name it (\"trunk\")" },                         \
	{ "hostname", API_T_STRING, req, 1, 253, NULL, check_host, NULL, 0,                                     \
	  "The provider's SIP server: a host name or an IP address" },                                           \
	{ "port", API_T_INT, 0, 1, 65535, NULL, NULL, NULL, 0, "Default 5060" },                                  \
	{ "transport", API_T_STRING, 0, 0, 0, "udp|tcp|tls", NULL, NULL, 0,                                     \
	  "Default udp; tls: the provider's certificate must be for hostname (or the proxy's host)" },         \
	{ "outbound_proxy", API_T_STRING, 0, 0, 260, NULL, check_proxy, NULL, 0,                                \
	  "Where requests go first (host[:port]); empty: the hostname" },                                        \
	{ "authentication", API_T_STRING, req, 0, 0, "register|ip", NULL, NULL, 0,                              \
	  "register: pbxd registers with username and password; ip: the provider is known by its addresses" },   \
	{ "username", API_T_STRING, 0, 0, 64, NULL, api_check_secret, NULL, 0,                                  \
	  "The account at the provider (register: required), the user part of the registration" },              \
	{ "auth_username", API_T_STRING, 0, 0, 64, NULL, api_check_secret, NULL, 0,                             \
	  "The digest user name when it differs from username" },                                                \
	{ "password", API_T_STRING, API_F_WRITEONLY, 0, 128, NULL, api_check_secret, NULL, 0,                   \
	  "Answers the provider's challenges; never returned" },                                                 \
	{ "ip_addresses", API_T_ARRAY, 0, 0, 32, NULL, check_cidr, NULL, API_T_STRING,                          \
	  "Addresses or CIDR blocks the provider's calls come from (ip: empty means the hostname's addresses)" }, \
	{ "register_expires", API_T_INT, 0, 60, 86400, NULL, NULL, NULL, 0,                                     \
	  "Seconds asked for a registration (default 3600); refreshed before it ends" },                         \
	{ "country_code", API_T_STRING, 0, 0, 3, NULL, check_cc, NULL, 0,                                       \
	  "The provider's country (e.g. 44): its national numbers match DIDs written in E.164" },                \
	{ "max_calls", API_T_INT, 0, 0, 100000, NULL, NULL, NULL, 0, "Calls at once over it (0: no limit)" },     \
	{ "enabled", API_T_BOOL, 0, 0, 0, NULL, NULL, NULL, 0, "Default true; disabled: no calls, no registration" }

static const struct api_field provider_create_fields[] = { PROVIDER_FIELDS(API_F_REQUIRED) };
const struct api_schema api_s_provider_create = API_SCHEMA("ProviderCreate", provider_create_fields, NULL);
static const struct api_field provider_update_fields[] = { PROVIDER_FIELDS(0) };
const struct api_schema api_s_provider_update = API_SCHEMA("ProviderUpdate", provider_update_fields, NULL);
static const struct api_field provider_fields[] = {
	{ "id", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 1, 19, NULL, NULL, NULL, 0, NULL },
	PROVIDER_FIELDS(API_F_REQUIRED),
	{ "owner", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 0, 0, "system|tenant", NULL, NULL, 0,
	  "system: created by a system admin and assigned to tenants; tenant: the tenant's own" },
	{ "password_set", API_T_BOOL, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "Whether a password is stored" },
	{ "assignees", API_T_ARRAY, API_F_READONLY, 0, 0, NULL, NULL, NULL, API_T_STRING,
	  "The tenants a system provider is assigned to (shown to system admins)" },
	{ "created_at", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "ISO 8601 UTC" },
	{ "updated_at", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "ISO 8601 UTC" },
};
const struct api_schema api_s_provider = API_SCHEMA("Provider", provider_fields, "A SIP trunk's provider");

static int provider_take(struct api_req *rq, struct store_obj *o, json_t *j, bool create, struct api_resp *rs)
{
	(void)rq;
	if (create && !o->tenant_id)
		json_object_set_new(j, "assignees", json_array());
	set_default_int(j, "port", 5060);
	set_default_int(j, "register_expires", 3600);
	set_default_int(j, "max_calls", 0);
	if (!json_object_get(j, "transport"))
		json_object_set_new(j, "transport", json_string("udp"));
	if (!json_object_get(j, "enabled"))
		json_object_set_new(j, "enabled", json_true());
	if (strcmp(jstr(j, "authentication"), "register") == 0) {
		if (!*jstr(j, "username"))
			return api_error(rs, 422, "missing_field", "username",
					 "username: is required when authentication is register");
		if (!*jstr(j, "password"))
			return api_error(rs, 422, "missing_field", "password",
					 "password: is required when authentication is register");
	}
	snprintf(o->ukey, sizeof(o->ukey), "%s", jstr(j, "name"));
	o->uscope = o->tenant_id;
	return 0;
}

static void provider_out(struct api_req *rq, const struct store_obj *o, json_t *out)
{
	json_object_set_new(out, "password_set", json_boolean(*jstr(out, "password")));
	json_object_del(out, "password");
	json_object_set_new(out, "owner", json_string(o->tenant_id ? "tenant" : "system"));
	if (!o->tenant_id && rq->who.tenant_id) {
		/* A tenant sees where the system's trunk goes, not its account or
		 * which other tenants use it. */
		json_object_del(out, "assignees");
		json_object_del(out, "username");
		json_object_del(out, "auth_username");
		json_object_del(out, "password_set");
	}
	if (!json_object_get(out, "assignees") && !o->tenant_id && !rq->who.tenant_id)
		json_object_set_new(out, "assignees", json_array());
}

/* Whether any rule of any tenant names provider id. */
struct uses {
	char id[24];
	char rule[STORE_NAME_SZ];
	uint64_t tenant_id;
	bool found;
};

static int uses_scan(const void *row, void *arg)
{
	const struct store_obj *o = row;
	struct uses *u = arg;
	json_t *j = json_loads(o->json, 0, NULL);
	bool hit = strcmp(jstr(j, "provider_id"), u->id) == 0;
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(j, "provider_ids"), i, v) {
		if (json_string_value(v) && strcmp(json_string_value(v), u->id) == 0)
			hit = true;
	}
	if (hit) {
		u->found = true;
		u->tenant_id = o->tenant_id;
		snprintf(u->rule, sizeof(u->rule), "%s", jstr(j, "name"));
	}
	json_decref(j);
	return hit;
}

static int provider_deletable(struct api_req *rq, const struct store_obj *o, struct api_resp *rs)
{
	struct uses u = { .found = false };
	snprintf(u.id, sizeof(u.id), "%llu", (unsigned long long)o->id);
	int e = store_obj_scan(rq->st, STORE_OBJ_INBOUND_RULE, uses_scan, &u);
	if (!u.found && e <= 0)
		e = store_obj_scan(rq->st, STORE_OBJ_OUTBOUND_RULE, uses_scan, &u);
	if (u.found) {
		/* Another tenant's rule is not named to this one. */
		if (o->tenant_id)
			return api_error(rs, 409, "in_use", NULL, "the provider is used by rule \"%s\": change or delete"
					 " the rule first", u.rule);
		/* A system admin may know every tenant: the one whose rule it is. */
		struct store_tenant t = { 0 };
		if (store_tenant_get(rq->st, u.tenant_id, &t) == 0)
			return api_error(rs, 409, "in_use", NULL, "the provider is used by rule \"%s\" of tenant %s (%s):"
					 " change or delete it first", u.rule, t.name, t.domain);
		return api_error(rs, 409, "in_use", NULL, "the provider is used by inbound or outbound rules: change"
				 " or delete them first");
	}
	return e > 0 ? 0 : e ? api_store_error(rs, rq->st, e, "rules") : 0;
}

static const char *const provider_columns[] = { "id", "name", "owner", "hostname", "port", "transport",
						"outbound_proxy", "authentication", "username", "ip_addresses",
						"register_expires", "country_code", "max_calls", "enabled", NULL };

/* --- inbound rules -------------------------------------------------------------------- */

#define DEST_DESC "In the forwarding vocabulary: {\"action\": \"number\", \"number\": \"101\"} rings extension 101; " \
		  "{\"action\": \"hangup\"} refuses the call"
static const struct api_field dest_fields[] = {
	{ "action", API_T_STRING, API_F_REQUIRED, 0, 0, "number|hangup", NULL, NULL, 0, NULL },
	{ "number", API_T_STRING, 0, 0, 32, NULL, api_check_digits, NULL, 0, "With action number: an extension" },
};
static const struct api_schema s_inbound_dest = API_SCHEMA("InboundDestination", dest_fields, DEST_DESC);

#define INBOUND_FIELDS(req)                                                                                    \
	{ "name", API_T_STRING, req, 1, 128, NULL, api_check_text, NULL, 0, NULL },                             \
	{ "provider_id", API_T_STRING, req, 1, 19, NULL, api_check_digits, NULL, 0,                             \
	  "The provider whose calls the rule takes (the tenant's own, or the system's assigned to it)" },        \
	{ "did", API_T_STRING, req, 1, 64, NULL, check_did, NULL, 0,                                            \
	  "The number the provider's INVITE names: exact (18800606, +4420...), a range FROM-TO, or a pattern "   \
	  "(X any digit, Z 1-9, N 2-9, [1-5], . one or more, ! zero or more). One rule per DID across tenants" }, \
	{ "destination", API_T_OBJECT, req, 0, 0, NULL, NULL, &s_inbound_dest, 0, NULL },                       \
	{ "outside_hours_destination", API_T_OBJECT, API_F_NULLABLE, 0, 0, NULL, NULL, &s_inbound_dest, 0,      \
	  "Where calls go while the tenant's office hours are closed (null: the destination)" }

static const struct api_field inbound_create_fields[] = { INBOUND_FIELDS(API_F_REQUIRED) };
const struct api_schema api_s_inbound_rule_create = API_SCHEMA("InboundRuleCreate", inbound_create_fields, NULL);
static const struct api_field inbound_update_fields[] = { INBOUND_FIELDS(0) };
const struct api_schema api_s_inbound_rule_update = API_SCHEMA("InboundRuleUpdate", inbound_update_fields, NULL);
static const struct api_field inbound_fields[] = {
	{ "id", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 1, 19, NULL, NULL, NULL, 0, NULL },
	INBOUND_FIELDS(API_F_REQUIRED),
	{ "created_at", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "ISO 8601 UTC" },
	{ "updated_at", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "ISO 8601 UTC" },
};
const struct api_schema api_s_inbound_rule = API_SCHEMA("InboundRule", inbound_fields,
	"A DID of a provider routed to a destination of the tenant");

static int dest_check(struct api_req *rq, const json_t *d, const char *field, struct api_resp *rs)
{
	if (!d || json_is_null(d))
		return 0;
	if (strcmp(jstr(d, "action"), "number") != 0)
		return 0;
	char f[64];
	snprintf(f, sizeof(f), "%s.number", field);
	const char *num = jstr(d, "number");
	if (!*num)
		return api_error(rs, 422, "missing_field", f, "%s: is required when action is number", f);
	struct store_user u = { 0 };
	int e = store_user_get_by_ext(rq->st, rq->who.tenant_id, num, &u);
	store_user_reset(&u);
	if (e == ENOENT)
		return api_error(rs, 422, "invalid_field", f, "%s: no extension %s in this tenant", f, num);
	return e ? api_store_error(rs, rq->st, e, "extension") : 0;
}

/* The country code of a rule's provider (its owner's, or the system's). */
static void provider_cc(struct api_req *rq, uint64_t tenant_id, const char *idtext, char *cc, size_t size)
{
	uint64_t id;
	struct store_obj p = { 0 };
	cc[0] = '\0';
	if (api_parse_id(idtext, &id) || (store_obj_get(rq->st, STORE_OBJ_PROVIDER, tenant_id, id, &p) &&
					   store_obj_get(rq->st, STORE_OBJ_PROVIDER, 0, id, &p)))
		return;
	json_t *j = json_loads(p.json, 0, NULL);
	snprintf(cc, size, "%s", jstr(j, "country_code"));
	json_decref(j);
	store_obj_reset(&p);
}

/* Another rule (any tenant's) whose exact DID or range shares a number with
 * did, each read in its own provider's country. */
struct overlap {
	struct api_req *rq;
	const char *canon; /* the new DID, canonical */
	uint64_t self;
	bool found;
};

static int overlap_scan(const void *row, void *arg)
{
	const struct store_obj *o = row;
	struct overlap *ov = arg;
	if (o->id == ov->self)
		return 0;
	json_t *j = json_loads(o->json, 0, NULL);
	char cc[8], canon[STORE_OBJ_KEY_SZ];
	provider_cc(ov->rq, o->tenant_id, jstr(j, "provider_id"), cc, sizeof(cc));
	did_canonical(jstr(j, "did"), cc, canon, sizeof(canon));
	if (dialplan_did_overlap(canon, ov->canon, "") == 1)
		ov->found = true;
	json_decref(j);
	return ov->found;
}

static int inbound_take(struct api_req *rq, struct store_obj *o, json_t *j, bool create, struct api_resp *rs)
{
	(void)create;
	struct store_obj p = { 0 };
	int e = provider_visible(rq, o->tenant_id, jstr(j, "provider_id"), &p);
	if (e == ENOENT)
		return api_error(rs, 422, "invalid_field", "provider_id", "provider_id: no such provider for this tenant");
	if (e)
		return api_store_error(rs, rq->st, e, "provider");
	json_t *pj = json_loads(p.json, 0, NULL);
	char cc[8];
	snprintf(cc, sizeof(cc), "%s", jstr(pj, "country_code"));
	json_decref(pj);
	store_obj_reset(&p);
	if (dest_check(rq, json_object_get(j, "destination"), "destination", rs) ||
	    dest_check(rq, json_object_get(j, "outside_hours_destination"), "outside_hours_destination", rs))
		return rs->status;
	/* Exact DIDs and ranges are checked against every rule's in E.164 form
	 * (+44... and, with country code 44, 0... are one number). */
	const char *did = jstr(j, "did");
	char canon[STORE_OBJ_KEY_SZ];
	did_canonical(did, cc, canon, sizeof(canon));
	struct overlap ov = { .rq = rq, .canon = canon, .self = o->id, .found = false };
	if ((e = store_obj_scan(rq->st, STORE_OBJ_INBOUND_RULE, overlap_scan, &ov)) < 0 ||
	    (e > 0 && !ov.found))
		return api_store_error(rs, rq->st, e, "inbound rules");
	if (ov.found)
		return api_error(rs, 409, "conflict", "did", "did: %s is (partly) taken by another inbound rule", did);
	/* The key: one rule per canonical DID (the same number, range or pattern twice). */
	snprintf(o->ukey, sizeof(o->ukey), "%s", canon);
	o->uscope = 0;
	return 0;
}

static const char *const inbound_columns[] = { "id", "name", "provider_id", "did", "destination",
					       "outside_hours_destination", NULL };

/* --- outbound rules ------------------------------------------------------------------- */

#define OUTBOUND_FIELDS(req)                                                                                   \
	{ "name", API_T_STRING, req, 1, 128, NULL, api_check_text, NULL, 0, NULL },                             \
	{ "pattern", API_T_STRING, req, 1, 64, NULL, check_pattern, NULL, 0,                                    \
	  "What was dialled: X any digit, Z 1-9, N 2-9, [1-5] a set, . one or more further, ! zero or more; "    \
	  "anything else literal (9X. is 9 then at least two digits)" },                                         \
	{ "strip_digits", API_T_INT, 0, 0, 32, NULL, NULL, NULL, 0, "Leading characters removed (default 0)" },  \
	{ "prepend", API_T_STRING, 0, 0, 32, NULL, check_dialstr, NULL, 0, "Added in front after stripping" },  \
	{ "provider_ids", API_T_ARRAY, req, 1, 8, NULL, api_check_digits, NULL, API_T_STRING,                   \
	  "Tried in this order: the next on 5xx, 408 or no answer" },                                             \
	{ "priority", API_T_INT, 0, 0, 1000, NULL, NULL, NULL, 0,                                               \
	  "Rules are tried lowest first (default 100); equal ones the more specific pattern first" }

static const struct api_field outbound_create_fields[] = { OUTBOUND_FIELDS(API_F_REQUIRED) };
const struct api_schema api_s_outbound_rule_create = API_SCHEMA("OutboundRuleCreate", outbound_create_fields, NULL);
static const struct api_field outbound_update_fields[] = { OUTBOUND_FIELDS(0) };
const struct api_schema api_s_outbound_rule_update = API_SCHEMA("OutboundRuleUpdate", outbound_update_fields, NULL);
static const struct api_field outbound_fields[] = {
	{ "id", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 1, 19, NULL, NULL, NULL, 0, NULL },
	OUTBOUND_FIELDS(API_F_REQUIRED),
	{ "created_at", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "ISO 8601 UTC" },
	{ "updated_at", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "ISO 8601 UTC" },
};
const struct api_schema api_s_outbound_rule = API_SCHEMA("OutboundRule", outbound_fields,
	"Numbers the tenant's users dial that go out over providers");

static int outbound_take(struct api_req *rq, struct store_obj *o, json_t *j, bool create, struct api_resp *rs)
{
	(void)create;
	set_default_int(j, "strip_digits", 0);
	set_default_int(j, "priority", 100);
	if (!json_object_get(j, "prepend"))
		json_object_set_new(j, "prepend", json_string(""));
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(j, "provider_ids"), i, v) {
		int e = provider_visible(rq, o->tenant_id, json_string_value(v), NULL);
		if (e == ENOENT)
			return api_error(rs, 422, "invalid_field", "provider_ids", "provider_ids[%zu]: no such provider for"
					 " this tenant", i);
		if (e)
			return api_store_error(rs, rq->st, e, "provider");
	}
	return 0;
}

static const char *const outbound_columns[] = { "id", "name", "pattern", "strip_digits", "prepend", "provider_ids",
						"priority", NULL };

/* --- number lists ----------------------------------------------------------------------- */

#define CODE_FIELDS(req, what)                                                                                 \
	{ "code", API_T_STRING, req, 1, 32, NULL, check_number, NULL, 0, what },                                \
	{ "name", API_T_STRING, 0, 0, 128, NULL, api_check_text, NULL, 0, "A note (e.g. the country)" }

static const struct api_field cc_create_fields[] = { CODE_FIELDS(API_F_REQUIRED, "The country's calling code, e.g. 44") };
static const struct api_field cc_update_fields[] = { CODE_FIELDS(0, "The country's calling code, e.g. 44") };
const struct api_schema api_s_cc_create = API_SCHEMA("AllowedCountryCodeCreate", cc_create_fields, NULL);
const struct api_schema api_s_cc_update = API_SCHEMA("AllowedCountryCodeUpdate", cc_update_fields, NULL);
static const struct api_field code_create_fields[] = {
	CODE_FIELDS(API_F_REQUIRED, "A prefix no outbound call may start with (as dialled or as sent)")
};
static const struct api_field code_update_fields[] = { CODE_FIELDS(0, "A prefix no outbound call may start with") };
const struct api_schema api_s_code_create = API_SCHEMA("DisallowedCodeCreate", code_create_fields, NULL);
const struct api_schema api_s_code_update = API_SCHEMA("DisallowedCodeUpdate", code_update_fields, NULL);
static const struct api_field code_fields[] = {
	{ "id", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 1, 19, NULL, NULL, NULL, 0, NULL },
	CODE_FIELDS(API_F_REQUIRED, "The code"),
	{ "created_at", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "ISO 8601 UTC" },
	{ "updated_at", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "ISO 8601 UTC" },
};
const struct api_schema api_s_code = API_SCHEMA("NumberCode", code_fields,
	"An allowed country code, or a disallowed prefix");

static int code_take(struct api_req *rq, struct store_obj *o, json_t *j, bool create, struct api_resp *rs)
{
	(void)rq, (void)create, (void)rs;
	const char *c = jstr(j, "code");
	snprintf(o->ukey, sizeof(o->ukey), "%s", c[0] == '+' ? c + 1 : c);
	o->uscope = o->tenant_id;
	if (!json_object_get(j, "name"))
		json_object_set_new(j, "name", json_string(""));
	return 0;
}

static int cc_take(struct api_req *rq, struct store_obj *o, json_t *j, bool create, struct api_resp *rs)
{
	const char *c = jstr(j, "code");
	size_t n = strlen(c[0] == '+' ? c + 1 : c);
	if (n < 1 || n > 3)
		return api_error(rs, 422, "invalid_field", "code", "code: a country calling code has 1 to 3 digits");
	return code_take(rq, o, j, create, rs);
}

#define BL_FIELDS(req)                                                                                         \
	{ "number", API_T_STRING, req, 1, 32, NULL, check_number, NULL, 0,                                      \
	  "A caller number refused on every inbound call (E.164 or as the provider sends it)" },                  \
	{ "name", API_T_STRING, 0, 0, 128, NULL, api_check_text, NULL, 0, "A note" }

static const struct api_field bl_create_fields[] = { BL_FIELDS(API_F_REQUIRED) };
const struct api_schema api_s_blacklisted_create = API_SCHEMA("BlacklistedNumberCreate", bl_create_fields, NULL);
static const struct api_field bl_update_fields[] = { BL_FIELDS(0) };
const struct api_schema api_s_blacklisted_update = API_SCHEMA("BlacklistedNumberUpdate", bl_update_fields, NULL);
static const struct api_field bl_fields[] = {
	{ "id", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 1, 19, NULL, NULL, NULL, 0, NULL },
	BL_FIELDS(API_F_REQUIRED),
	{ "created_at", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "ISO 8601 UTC" },
	{ "updated_at", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "ISO 8601 UTC" },
};
const struct api_schema api_s_blacklisted = API_SCHEMA("BlacklistedNumber", bl_fields, "A refused caller number");

static int bl_take(struct api_req *rq, struct store_obj *o, json_t *j, bool create, struct api_resp *rs)
{
	(void)rq, (void)create, (void)rs;
	const char *n = jstr(j, "number");
	snprintf(o->ukey, sizeof(o->ukey), "%s", n[0] == '+' ? n + 1 : n);
	o->uscope = o->tenant_id;
	if (!json_object_get(j, "name"))
		json_object_set_new(j, "name", json_string(""));
	return 0;
}

static const char *const code_columns[] = { "id", "code", "name", NULL };
static const char *const bl_columns[] = { "id", "number", "name", NULL };

/* --- lists -------------------------------------------------------------------------------- */

#define LIST_SCHEMA(var, nm, item, desc)                                                                        \
	static const struct api_field var##_fields[] = {                                                         \
		{ "count", API_T_INT, API_F_READONLY | API_F_REQUIRED, 0, STORE_OBJS_MAX, NULL, NULL, NULL, 0,       \
		  "How many there are (skip and top page the items)" },                                           \
		{ "items", API_T_ARRAY, API_F_READONLY | API_F_REQUIRED, 0, STORE_OBJS_MAX, NULL, NULL, &item, 0,    \
		  desc },                                                                                         \
	};                                                                                                       \
	const struct api_schema var = API_SCHEMA(nm, var##_fields, NULL)

LIST_SCHEMA(api_s_provider_list, "ProviderList", api_s_provider, "The system's assigned ones first, then the own, oldest first");
LIST_SCHEMA(api_s_inbound_rule_list, "InboundRuleList", api_s_inbound_rule, "Oldest first");
LIST_SCHEMA(api_s_outbound_rule_list, "OutboundRuleList", api_s_outbound_rule, "Oldest first");
LIST_SCHEMA(api_s_code_list, "NumberCodeList", api_s_code, "Oldest first");
LIST_SCHEMA(api_s_blacklisted_list, "BlacklistedNumberList", api_s_blacklisted, "Oldest first");

/* --- the kinds -------------------------------------------------------------------------- */

static const struct api_obj_type t_provider = {
	STORE_OBJ_PROVIDER, "/api/providers", "provider", "providers.csv", true, true, "name",
	&api_s_provider_create, &api_s_provider_update, provider_take, provider_out, provider_deletable,
	provider_columns,
};
static const struct api_obj_type t_inbound = {
	STORE_OBJ_INBOUND_RULE, "/api/inbound_rules", "inbound rule", "inbound_rules.csv", false, false, "did",
	&api_s_inbound_rule_create, &api_s_inbound_rule_update, inbound_take, NULL, NULL, inbound_columns,
};
static const struct api_obj_type t_outbound = {
	STORE_OBJ_OUTBOUND_RULE, "/api/outbound_rules", "outbound rule", "outbound_rules.csv", false, false, NULL,
	&api_s_outbound_rule_create, &api_s_outbound_rule_update, outbound_take, NULL, NULL, outbound_columns,
};
static const struct api_obj_type t_cc = {
	STORE_OBJ_COUNTRY_CODE, "/api/allowed_country_codes", "allowed country code", "allowed_country_codes.csv",
	false, false, "code", &api_s_cc_create, &api_s_cc_update, cc_take, NULL, NULL, code_columns,
};
static const struct api_obj_type t_disallowed = {
	STORE_OBJ_DISALLOWED_CODE, "/api/disallowed_codes", "disallowed code", "disallowed_codes.csv", false, false,
	"code", &api_s_code_create, &api_s_code_update, code_take, NULL, NULL, code_columns,
};
static const struct api_obj_type t_blacklisted = {
	STORE_OBJ_BLACKLISTED, "/api/blacklisted_numbers", "blacklisted number", "blacklisted_numbers.csv", false,
	false, "number", &api_s_blacklisted_create, &api_s_blacklisted_update, bl_take, NULL, NULL, bl_columns,
};

const struct api_obj_type *const *api_obj_types(size_t *n)
{
	static const struct api_obj_type *const all[] = { &t_provider, &t_inbound, &t_outbound, &t_cc, &t_disallowed,
							   &t_blacklisted };
	*n = sizeof(all) / sizeof(all[0]);
	return all;
}

/* --- a provider's status and assignees ------------------------------------------------------ */

static const struct api_field status_fields[] = {
	{ "id", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 1, 19, NULL, NULL, NULL, 0, NULL },
	{ "registered", API_T_BOOL, API_F_READONLY | API_F_REQUIRED, 0, 0, NULL, NULL, NULL, 0,
	  "A register trunk's registration is good now (ip trunks: false)" },
	{ "state", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 0, 0,
	  "registered|registering|failed|unregistered|ip|disabled", NULL, NULL, 0, NULL },
	{ "last_status_code", API_T_INT, API_F_READONLY, 0, 699, NULL, NULL, NULL, 0,
	  "The provider's last answer to a REGISTER (0: none yet, or no answer)" },
	{ "last_error", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "Why the last attempt failed" },
	{ "expires_at", API_T_STRING, API_F_READONLY | API_F_NULLABLE, 0, 0, NULL, NULL, NULL, 0,
	  "When the registration ends unless refreshed" },
	{ "next_attempt_at", API_T_STRING, API_F_READONLY | API_F_NULLABLE, 0, 0, NULL, NULL, NULL, 0,
	  "When pbxd registers again (refresh or retry)" },
	{ "address", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0,
	  "Where requests go (the resolved hostname or outbound proxy)" },
	{ "calls", API_T_INT, API_F_READONLY | API_F_REQUIRED, 0, 1000000, NULL, NULL, NULL, 0, "Calls over it now" },
};
const struct api_schema api_s_provider_status = API_SCHEMA("ProviderStatus", status_fields, NULL);

void api_h_provider_status(struct api_req *rq, struct api_resp *rs)
{
	uint64_t scope;
	if (api_obj_scope(rq, &t_provider, &scope, rs))
		return;
	char idtext[24];
	snprintf(idtext, sizeof(idtext), "%llu", (unsigned long long)rq->id);
	int e = provider_visible(rq, scope, idtext, NULL);
	if (e) {
		api_store_error(rs, rq->st, e, "provider");
		return;
	}
	struct pbx_provider_status s;
	if ((e = pbx_provider_status(rq->api->pbx, rq->id, &s))) {
		if (e == ENOENT) /* written a moment ago, not read by the PBX yet */
			s = (struct pbx_provider_status){ .state = "unregistered" };
		else {
			api_pbx_error(rs, e, "provider status");
			return;
		}
	}
	json_t *o = json_pack("{s:o, s:b, s:s, s:i, s:s, s:o, s:o, s:s, s:i}", "id", api_json_id(rq->id), "registered",
			      s.registered, "state", s.state, "last_status_code", (int)s.last_code, "last_error",
			      s.last_error, "expires_at", s.expires_at ? api_json_time(s.expires_at) : json_null(),
			      "next_attempt_at", s.next_attempt_at ? api_json_time(s.next_attempt_at) : json_null(),
			      "address", s.address, "calls", (int)s.calls);
	api_ok(rs, 200, o);
}

static const struct api_field assignee_fields[] = {
	{ "tenant_id", API_T_STRING, API_F_REQUIRED, 1, 19, NULL, api_check_digits, NULL, 0, NULL },
	{ "name", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "The tenant's name" },
	{ "domain", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "The tenant's SIP domain" },
};
const struct api_schema api_s_assignee = API_SCHEMA("ProviderAssignee", assignee_fields,
	"A tenant a system provider is assigned to");
static const struct api_field assignee_list_fields[] = {
	{ "count", API_T_INT, API_F_READONLY | API_F_REQUIRED, 0, 1000000, NULL, NULL, NULL, 0, NULL },
	{ "items", API_T_ARRAY, API_F_READONLY | API_F_REQUIRED, 0, 0, NULL, NULL, &api_s_assignee, 0, NULL },
};
const struct api_schema api_s_assignee_list = API_SCHEMA("ProviderAssigneeList", assignee_list_fields, NULL);

static json_t *assignees_json(struct api_req *rq, const json_t *pj)
{
	json_t *items = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(pj, "assignees"), i, v) {
		uint64_t tid;
		struct store_tenant t;
		if (api_parse_id(json_string_value(v), &tid) || store_tenant_get(rq->st, tid, &t))
			continue; /* a tenant deleted since */
		json_array_append_new(items, json_pack("{s:o, s:s, s:s}", "tenant_id", api_json_id(tid), "name", t.name,
						       "domain", t.domain));
	}
	return json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(items), "items", items);
}

void api_h_provider_assignees(struct api_req *rq, struct api_resp *rs)
{
	struct store_obj o = { 0 };
	int e = store_obj_get(rq->st, STORE_OBJ_PROVIDER, 0, rq->id, &o);
	if (e) {
		api_store_error(rs, rq->st, e, "provider");
		return;
	}
	json_t *j = json_loads(o.json, 0, NULL);
	api_ok(rs, 200, assignees_json(rq, j));
	json_decref(j);
	store_obj_reset(&o);
}

/* Adds or removes a tenant in a system provider's assignees (read, change,
 * write if unchanged meanwhile). */
static void assign(struct api_req *rq, const char *tid_text, bool add, struct api_resp *rs)
{
	uint64_t tid;
	struct store_tenant t;
	if (api_parse_id(tid_text, &tid) || (add && store_tenant_get(rq->st, tid, &t))) {
		api_error(rs, add ? 422 : 404, add ? "invalid_field" : "not_found", add ? "tenant_id" : NULL,
			  "no such tenant");
		return;
	}
	char id[24];
	snprintf(id, sizeof(id), "%llu", (unsigned long long)tid);
	struct store_obj o = { 0 };
	int e = ESTALE;
	bool had = false;
	for (int i = 0; i < API_EDIT_TRIES && e == ESTALE; i++) {
		store_obj_reset(&o);
		if ((e = store_obj_get(rq->st, STORE_OBJ_PROVIDER, 0, rq->id, &o)))
			break;
		json_t *j = json_loads(o.json, 0, NULL);
		json_t *a = json_object_get(j, "assignees");
		if (!json_is_array(a)) {
			a = json_array();
			json_object_set_new(j, "assignees", a);
		}
		had = api_obj_assigned(j, tid);
		size_t k;
		json_t *v;
		json_array_foreach(a, k, v) {
			if (!add && json_string_value(v) && strcmp(json_string_value(v), id) == 0) {
				json_array_remove(a, k);
				break;
			}
		}
		if (add && !had)
			json_array_append_new(a, json_string(id));
		char *txt = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(j);
		mem_deref(o.json);
		o.json = txt ? mem_strndup(txt, strlen(txt)) : NULL;
		free(txt);
		e = !o.json ? ENOMEM : (add && had) || (!add && !had) ? 0 : store_obj_update(rq->st, &o);
	}
	bool no_assignee = !e && !add && !had;
	if (no_assignee)
		e = ENOENT;
	if (e) {
		api_store_error(rs, rq->st, e, no_assignee ? "assignee" : "provider");
	} else {
		pbx_notify_objects(rq->api->pbx, STORE_OBJ_PROVIDER, true);
		if (add) {
			json_t *j = json_loads(o.json, 0, NULL);
			api_ok(rs, 201, assignees_json(rq, j)); /* assigned (already, or now) */
			json_decref(j);
		} else {
			api_ok(rs, 204, NULL);
		}
	}
	store_obj_reset(&o);
}

void api_h_provider_assign(struct api_req *rq, struct api_resp *rs)
{
	assign(rq, json_string_value(json_object_get(rq->json, "tenant_id")), true, rs);
}

void api_h_provider_unassign(struct api_req *rq, struct api_resp *rs)
{
	assign(rq, rq->key, false, rs);
}

/* --- a tenant's outbound limits ---------------------------------------------------------------- */

#define LIMIT_FIELDS                                                                                           \
	{ "max_concurrent_calls", API_T_INT, 0, 0, 100000, NULL, NULL, NULL, 0,                                 \
	  "Outbound calls of the tenant at once (default 10; 0: no limit)" },                                    \
	{ "max_calls_per_hour", API_T_INT, 0, 0, 1000000, NULL, NULL, NULL, 0,                                  \
	  "Outbound calls the tenant starts in any hour (default 60; 0: no limit)" },                            \
	{ "extension_max_concurrent_calls", API_T_INT, 0, 0, 1000, NULL, NULL, NULL, 0,                         \
	  "Outbound calls of one extension at once (default 2; 0: no limit)" },                                  \
	{ "extension_max_calls_per_hour", API_T_INT, 0, 0, 100000, NULL, NULL, NULL, 0,                         \
	  "Outbound calls one extension starts in any hour (default 20; 0: no limit)" }

static const struct api_field limits_fields[] = { LIMIT_FIELDS };
const struct api_schema api_s_outbound_limits = API_SCHEMA("OutboundLimits", limits_fields,
	"Toll-fraud caps on calls out over providers: a call over a cap is refused (403) with an event");

static const struct {
	const char *name;
	long long dflt;
} limit_defaults[] = {
	{ "max_concurrent_calls", 10 },
	{ "max_calls_per_hour", 60 },
	{ "extension_max_concurrent_calls", 2 },
	{ "extension_max_calls_per_hour", 20 },
};

static json_t *limits_json(const char *stored)
{
	json_t *j = stored ? json_loads(stored, 0, NULL) : NULL;
	if (!json_is_object(j)) {
		json_decref(j);
		j = json_object();
	}
	for (size_t i = 0; i < sizeof(limit_defaults) / sizeof(limit_defaults[0]); i++)
		set_default_int(j, limit_defaults[i].name, limit_defaults[i].dflt);
	return j;
}

/* The tenant's one row of kind OUTBOUND_LIMITS, or none (the defaults). */
static int limits_get(struct api_req *rq, struct store_obj *o)
{
	struct store_objs *l = NULL;
	int e = store_obj_list(rq->st, STORE_OBJ_OUTBOUND_LIMITS, rq->who.tenant_id, &l);
	if (!e && l->n) {
		*o = l->v[0];
		l->v[0].json = NULL; /* o has it now */
	} else if (!e) {
		e = ENOENT;
	}
	mem_deref(l);
	return e;
}

void api_h_outbound_limits_get(struct api_req *rq, struct api_resp *rs)
{
	struct store_obj o = { 0 };
	int e = limits_get(rq, &o);
	if (e && e != ENOENT)
		api_store_error(rs, rq->st, e, "outbound limits");
	else
		api_ok(rs, 200, limits_json(o.json));
	store_obj_reset(&o);
}

void api_h_outbound_limits_update(struct api_req *rq, struct api_resp *rs)
{
	int e = ESTALE;
	json_t *j = NULL;
	for (int i = 0; i < API_EDIT_TRIES && (e == ESTALE || e == EEXIST); i++) {
		struct store_obj o = { .kind = STORE_OBJ_OUTBOUND_LIMITS, .tenant_id = rq->who.tenant_id };
		e = limits_get(rq, &o);
		if (e && e != ENOENT)
			break;
		bool create = e == ENOENT;
		json_decref(j);
		j = limits_json(o.json);
		json_object_update(j, rq->json);
		char *txt = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
		mem_deref(o.json);
		o.json = txt ? mem_strndup(txt, strlen(txt)) : NULL;
		free(txt);
		/* One per tenant: the key makes a concurrent first write EEXIST, then an update. */
		snprintf(o.ukey, sizeof(o.ukey), "limits");
		o.uscope = rq->who.tenant_id;
		e = !o.json ? ENOMEM : create ? store_obj_create(rq->st, &o) : store_obj_update(rq->st, &o);
		store_obj_reset(&o);
	}
	if (e) {
		api_store_error(rs, rq->st, e, "outbound limits");
		json_decref(j);
		return;
	}
	pbx_notify_objects(rq->api->pbx, STORE_OBJ_OUTBOUND_LIMITS, true);
	api_ok(rs, 200, j);
}
