/* `pbxctl provider ...`, `pbxctl inbound ...` and `pbxctl outbound ...`: SIP
 * trunks. A provider is the carrier's side (a system admin's are the system's,
 * assigned to tenants; a tenant admin's are the tenant's own); inbound rules send
 * a provider's DID to an extension of the tenant; outbound rules send numbers the
 * tenant's users dial matching a pattern out over providers, in order. The verbs
 * every collection shares are res.c's; this file says which option is which
 * field, and adds what only providers have (status, assignees). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

#define N(x) (sizeof(x) / sizeof((x)[0]))

/* --- providers ----------------------------------------------------------------------- */

static const struct ctl_col provider_cols[] = {
	{ "id", "ID" },
	{ "name", "NAME" },
	{ "owner", "OWNER" },
	{ "hostname", "HOSTNAME" },
	{ "port", "PORT" },
	{ "transport", "TRANSPORT" },
	{ "authentication", "AUTH" },
	{ "enabled", "ENABLED" },
};

static const struct ctl_res providers = { "provider", "/api/providers", provider_cols, N(provider_cols) };

static const struct ctl_field provider_fields[] = {
	{ "name", "name", CTL_F_STR },
	{ "hostname", "hostname", CTL_F_STR },
	{ "port", "port", CTL_F_INT },
	{ "transport", "transport", CTL_F_STR },
	{ "authentication", "authentication", CTL_F_STR },
	{ "username", "username", CTL_F_STR },
	{ "auth-username", "auth_username", CTL_F_STR },
	{ "ip", "ip_addresses", CTL_F_LIST },
	{ "country-code", "country_code", CTL_F_STR },
	{ "expires", "register_expires", CTL_F_INT },
	{ "max-calls", "max_calls", CTL_F_INT },
	{ "outbound-proxy", "outbound_proxy", CTL_F_STR },
	{ "disabled", "enabled", CTL_F_NOT },
	{ "enabled", "enabled", CTL_F_BOOL },
};

static const char *const provider_required[] = { "name", "hostname", NULL };

#define PROVIDER_ADD_USAGE \
	"provider add --name=N --hostname=H [--port=P] [--transport=udp|tcp] [--authentication=register|ip]" \
	" [--username=U] [--password[=P|-]] [--ip=ADDR[,ADDR...]] [--country-code=CC] [--expires=S]"       \
	" [--max-calls=N] [--outbound-proxy=HOST[:PORT]] [--disabled]"

/* The provider's password need not go on the command line (where every local
 * user can read it): --password or --password=- reads it from standard input,
 * asked for twice without echo on a terminal. */
static int provider_build(struct ctl *c, struct ctl_args *a, json_t *body, bool create)
{
	const char *pw = ctl_args_get(a, "password");
	int err;

	/* Without --authentication: an account means registering, else by address. */
	if (create && !json_object_get(body, "authentication")
	    && json_object_set_new(body, "authentication",
				   json_string(json_object_get(body, "username") || pw ? "register" : "ip")))
		return ENOMEM;
	if (!pw)
		return 0;
	if (!*pw) /* a bare --password */
		pw = "-";
	if ((err = ctl_secret_claim(c, "--password", pw)) || (err = ctl_password_resolve(c))
	    || (err = ctl_secret_get(c, "--password", "Password at the provider", pw, &pw)))
		return err;
	return json_object_set_new(body, "password", json_string(pw)) ? ENOMEM : 0;
}

static const struct ctl_col assignee_cols[] = {
	{ "tenant_id", "TENANT ID" },
	{ "name", "NAME" },
	{ "domain", "DOMAIN" },
};

/* GET /api/providers/ID/WHAT */
static int provider_get(struct ctl *c, struct ctl_args *a, const char *what, json_t **resp)
{
	char fmt[64], usage[64], path[512];
	int err;

	snprintf(usage, sizeof(usage), "provider %s ID", what);
	snprintf(fmt, sizeof(fmt), "/api/providers/%%s/%s", what);
	if ((err = ctl_res_npos(a, 2, usage)) || (err = ctl_args_check_used(a, usage))
	    || (err = ctl_path(c, path, sizeof(path), fmt, a->pos[1])))
		return err;
	return ctl_api(c, "GET", path, NULL, resp, NULL);
}

/* provider assign|unassign ID --tenant=ID|DOMAIN (system admin). */
static int provider_assign(struct ctl *c, struct ctl_args *a, bool add)
{
	const char *tenant = ctl_args_get(a, "tenant");
	const char *usage = add ? "provider assign ID --tenant=ID|DOMAIN" : "provider unassign ID --tenant=ID|DOMAIN";
	char tid[64], head[512], tail[512], path[1024], msg[256];
	json_t *body = NULL, *resp = NULL;
	int err;

	if ((err = ctl_res_npos(a, 2, usage)))
		return err;
	if (!tenant || !*tenant) {
		ctl_usage_error("missing --tenant: %s", usage);
		return EINVAL;
	}
	if ((err = ctl_args_check_used(a, usage)) || (err = ctl_tenant_id(c, tenant, tid, sizeof(tid)))
	    || (err = ctl_path(c, head, sizeof(head), "/api/providers/%s/assignees", a->pos[1])))
		return err;
	if (add) {
		if (!(body = json_pack("{s:s}", "tenant_id", tid)))
			return ENOMEM;
		if (!(err = ctl_api(c, "POST", head, body, &resp, NULL)))
			ctl_res_print_list(c, resp, assignee_cols, N(assignee_cols));
	} else if (!(err = ctl_path(c, tail, sizeof(tail), "/%s/destroy", tid))) {
		snprintf(path, sizeof(path), "%s%s", head, tail);
		if (!(err = ctl_api(c, "POST", path, NULL, &resp, NULL))) {
			snprintf(msg, sizeof(msg), "provider %.60s unassigned from tenant %s", a->pos[1], tid);
			ctl_out_result(c, resp, msg);
		}
	}
	json_decref(body);
	json_decref(resp);
	return err;
}

static int provider_verb(struct ctl *c, const char *verb, struct ctl_args *a)
{
	json_t *resp = NULL;
	int err;

	if (strcmp(verb, "status") == 0) {
		if (!(err = provider_get(c, a, "status", &resp))) {
			if (c->json)
				ctl_out_json(resp);
			else
				ctl_out_object(resp);
		}
	} else if (strcmp(verb, "assignees") == 0) {
		if (!(err = provider_get(c, a, "assignees", &resp)))
			ctl_res_print_list(c, resp, assignee_cols, N(assignee_cols));
	} else if (strcmp(verb, "assign") == 0 || strcmp(verb, "unassign") == 0) {
		err = provider_assign(c, a, verb[0] == 'a');
	} else {
		return ENOSYS;
	}
	json_decref(resp);
	return err;
}

static const struct ctl_res_cmd provider_cmd = {
	"provider", &providers, provider_fields, N(provider_fields), NULL, provider_required,
	PROVIDER_ADD_USAGE, provider_build, provider_verb,
	"list, show, add, set, remove, status, export, assign, unassign or assignees",
};

int ctl_cmd_provider(struct ctl *c, int argc, char **argv)
{
	return ctl_res_run(c, &provider_cmd, argc, argv);
}

/* --- inbound rules ------------------------------------------------------------------- */

static const struct ctl_field inbound_fields[] = {
	{ "name", "name", CTL_F_STR },
	{ "provider", "provider_id", CTL_F_STR },
	{ "did", "did", CTL_F_STR },
};

static const char *const inbound_required[] = { "name", "provider", "did", "to", NULL };

#define INBOUND_ADD_USAGE \
	"inbound add --name=N --provider=ID --did=DID --to=EXT|hangup [--outside-hours-to=EXT|hangup]"

/* --to=EXT rings an extension, --to=hangup refuses the call; an empty
 * --outside-hours-to= goes back to the destination (null). */
static int inbound_dest(struct ctl_args *a, const char *opt, const char *field, bool nullable, json_t *body)
{
	const char *v = ctl_args_get(a, opt);
	json_t *d;

	if (!v)
		return 0;
	if (!*v && !nullable) {
		ctl_usage_error("--%s needs an extension number or hangup (--%s=EXT)", opt, opt);
		return EINVAL;
	}
	if (!*v)
		d = json_null();
	else if (strcmp(v, "hangup") == 0)
		d = json_pack("{s:s}", "action", "hangup");
	else
		d = json_pack("{s:s, s:s}", "action", "number", "number", v);
	return json_object_set_new(body, field, d) ? ENOMEM : 0;
}

static int inbound_build(struct ctl *c, struct ctl_args *a, json_t *body, bool create)
{
	(void)c, (void)create;
	int err = inbound_dest(a, "to", "destination", false, body);
	return err ? err : inbound_dest(a, "outside-hours-to", "outside_hours_destination", true, body);
}

/* A destination as the table shows it: the extension, "hangup", or "-". */
static json_t *dest_text(const json_t *d)
{
	const char *action = json_string_value(json_object_get(d, "action"));
	const char *number = json_string_value(json_object_get(d, "number"));

	if (action && strcmp(action, "number") == 0 && number)
		return json_string(number);
	return json_string(action ? action : "-");
}

static const struct ctl_col inbound_cols[] = {
	{ "id", "ID" },
	{ "name", "NAME" },
	{ "provider_id", "PROVIDER" },
	{ "did", "DID" },
	{ "_to", "TO" },
	{ "_outside", "OUTSIDE HOURS TO" },
};

/* The table shows destinations in the words of --to; each row is a copy of the
 * rule with those two added, so --json never sees them. */
static int inbound_list(struct ctl *c, struct ctl_args *a)
{
	json_t *list = NULL, *rows, *it;
	size_t i;
	int err;

	if ((err = ctl_res_npos(a, 1, "inbound list")) || (err = ctl_api_list(c, "/api/inbound_rules", a, &list)))
		return err;
	if (c->json) {
		ctl_out_json(list);
		json_decref(list);
		return 0;
	}
	if (!(rows = json_array())) {
		json_decref(list);
		return ENOMEM;
	}
	json_array_foreach(json_object_get(list, "items"), i, it) {
		json_t *row = json_copy(it);
		if (!row)
			continue;
		json_object_set_new(row, "_to", dest_text(json_object_get(it, "destination")));
		json_object_set_new(row, "_outside", dest_text(json_object_get(it, "outside_hours_destination")));
		json_array_append_new(rows, row);
	}
	ctl_out_table(rows, inbound_cols, N(inbound_cols));
	json_decref(rows);
	json_decref(list);
	return 0;
}

static int inbound_verb(struct ctl *c, const char *verb, struct ctl_args *a)
{
	return strcmp(verb, "list") == 0 ? inbound_list(c, a) : ENOSYS;
}

static const struct ctl_res inbound_rules = { "inbound rule", "/api/inbound_rules", inbound_cols, N(inbound_cols) };

static const struct ctl_res_cmd inbound_cmd = {
	"inbound", &inbound_rules, inbound_fields, N(inbound_fields), NULL, inbound_required,
	INBOUND_ADD_USAGE, inbound_build, inbound_verb, "list, show, add, set, remove or export",
};

int ctl_cmd_inbound(struct ctl *c, int argc, char **argv)
{
	return ctl_res_run(c, &inbound_cmd, argc, argv);
}

/* --- outbound rules ------------------------------------------------------------------ */

static const struct ctl_col outbound_cols[] = {
	{ "id", "ID" },
	{ "name", "NAME" },
	{ "pattern", "PATTERN" },
	{ "strip_digits", "STRIP" },
	{ "prepend", "PREPEND" },
	{ "provider_ids", "PROVIDERS" },
	{ "priority", "PRIORITY" },
};

static const struct ctl_res outbound_rules = {
	"outbound rule", "/api/outbound_rules", outbound_cols, N(outbound_cols),
};

static const struct ctl_field outbound_fields[] = {
	{ "name", "name", CTL_F_STR },
	{ "pattern", "pattern", CTL_F_STR },
	{ "providers", "provider_ids", CTL_F_LIST },
	{ "strip", "strip_digits", CTL_F_INT },
	{ "prepend", "prepend", CTL_F_STR },
	{ "priority", "priority", CTL_F_INT },
};

static const char *const outbound_required[] = { "name", "pattern", "providers", NULL };

static const struct ctl_res_cmd outbound_cmd = {
	"outbound", &outbound_rules, outbound_fields, N(outbound_fields), NULL, outbound_required,
	"outbound add --name=N --pattern=P --providers=ID[,ID...] [--strip=N] [--prepend=DIGITS] [--priority=N]",
	NULL, NULL, "list, show, add, set, remove or export",
};

int ctl_cmd_outbound(struct ctl *c, int argc, char **argv)
{
	return ctl_res_run(c, &outbound_cmd, argc, argv);
}
