/* `pbxctl tenant ...`: tenants are the system admin's to manage. Creating one
 * also creates its first tenant admin, because a tenant nobody can sign in to is
 * of no use (the API takes both in one request for the same reason). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

static const struct ctl_col tenant_cols[] = {
	{ "id", "ID" },
	{ "name", "NAME" },
	{ "domain", "DOMAIN" },
	{ "enabled", "ENABLED" },
};

static const struct ctl_res tenants = {
	"tenant", "/api/tenants", tenant_cols, sizeof(tenant_cols) / sizeof(tenant_cols[0]),
};

#define TENANT_ADD_USAGE \
	"tenant add --name=N --domain=D --admin-username=U --admin-password=P|- [--FIELD=VALUE...]"

static int tenant_add(struct ctl *c, struct ctl_args *a)
{
	const char *name = ctl_args_get(a, "name");
	const char *domain = ctl_args_get(a, "domain");
	const char *au = ctl_args_get(a, "admin-username");
	const char *ap = ctl_args_get(a, "admin-password");
	json_t *body;
	int err;

	if ((err = ctl_res_npos(a, 1, TENANT_ADD_USAGE)))
		return err;
	if (!name || !domain || !au || !ap) {
		ctl_usage_error("missing %s: %s",
				!name ? "--name" : !domain ? "--domain" : !au ? "--admin-username" : "--admin-password",
				TENANT_ADD_USAGE);
		return EINVAL;
	}
	if ((err = ctl_secret_claim(c, "--admin-password", ap)) || (err = ctl_password_resolve(c))
	    || (err = ctl_secret_get(c, "--admin-password", "Password for the tenant admin", ap, &ap)))
		return err;
	body = json_pack("{s:s, s:s, s:{s:s, s:s}}", "name", name, "domain", domain,
			 "admin", "username", au, "password", ap);
	if (!body)
		return ENOMEM;
	err = ctl_args_fields(a, body, NULL);
	if (!err)
		err = ctl_res_create(c, &tenants, body);
	json_decref(body);
	return err;
}

int ctl_cmd_tenant(struct ctl *c, int argc, char **argv)
{
	struct ctl_args a;
	const char *verb;
	int err = ctl_args_parse(c, argc, argv, &a);

	if (err)
		return err;
	verb = a.npos ? a.pos[0] : "";
	if (strcmp(verb, "list") == 0) {
		err = ctl_res_npos(&a, 1, "tenant list");
		if (!err)
			err = ctl_res_list(c, &tenants, &a);
	} else if (strcmp(verb, "show") == 0) {
		err = ctl_res_npos(&a, 2, "tenant show ID");
		if (!err && !(err = ctl_args_check_used(&a, "tenant show")))
			err = ctl_res_show(c, &tenants, a.pos[1]);
	} else if (strcmp(verb, "add") == 0) {
		err = tenant_add(c, &a);
	} else if (strcmp(verb, "update") == 0) {
		err = ctl_res_npos(&a, 2, "tenant update ID --FIELD=VALUE...");
		if (!err)
			err = ctl_res_update(c, &tenants, a.pos[1], &a);
	} else if (strcmp(verb, "delete") == 0) {
		err = ctl_res_npos(&a, 2, "tenant delete ID");
		if (!err && !(err = ctl_args_check_used(&a, "tenant delete")))
			err = ctl_res_delete(c, &tenants, a.pos[1]);
	} else {
		ctl_usage_error("tenant: expected list, show, add, update or delete");
		err = EINVAL;
	}
	ctl_args_free(&a);
	return err;
}
