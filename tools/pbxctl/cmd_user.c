/* `pbxctl user ...` and `pbxctl extension ...`: the users of the signed-in tenant
 * (a tenant admin's job), the devices registered for them, and the extensions
 * they own. In pbxd an extension is part of its user (number, SIP password and
 * settings), so extensions are listed from the users unless the API offers a
 * collection of its own. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static const struct ctl_col user_cols[] = {
	{ "id", "ID" },
	{ "username", "USERNAME" },
	{ "display_name", "DISPLAY NAME" },
	{ "email", "EMAIL" },
	{ "role", "ROLE" },
	{ "enabled", "ENABLED" },
	{ "extension_number", "EXTENSION" },
};

static const struct ctl_res users = {
	"user", "/api/users", user_cols, sizeof(user_cols) / sizeof(user_cols[0]),
};

#define USER_ADD_USAGE \
	"user add --username=U --password=P|- [--email=E] [--display-name=N] [--role=admin|user] " \
	"[--extension-number=N] [--extension-password=P|-] [--FIELD=VALUE...]"

static int user_add(struct ctl *c, struct ctl_args *a)
{
	const char *username = ctl_args_get(a, "username");
	const char *password = ctl_args_get(a, "password");
	/* Taken here rather than by ctl_args_fields so it can come from stdin. */
	const char *xpw = ctl_args_get(a, "extension-password");
	json_t *body;
	int err;

	if ((err = ctl_res_npos(a, 1, USER_ADD_USAGE)))
		return err;
	if (!username || !password || (xpw && !*xpw)) {
		ctl_usage_error("missing %s: %s",
				!username ? "--username" : !password ? "--password" : "--extension-password value",
				USER_ADD_USAGE);
		return EINVAL;
	}
	if ((err = ctl_secret_claim(c, "--password", password))
	    || (xpw && (err = ctl_secret_claim(c, "--extension-password", xpw)))
	    || (err = ctl_password_resolve(c))
	    || (err = ctl_secret_get(c, "--password", "Password for the new user", password, &password))
	    || (xpw && (err = ctl_secret_get(c, "--extension-password", "SIP password for the extension",
					     xpw, &xpw))))
		return err;
	body = json_pack("{s:s, s:s}", "username", username, "password", password);
	if (!body)
		return ENOMEM;
	if (xpw && json_object_set_new(body, "extension_password", json_string(xpw))) {
		json_decref(body);
		return ENOMEM;
	}
	/* --display-name, --extension-number... become display_name, extension_number. */
	err = ctl_args_fields(a, body, NULL);
	if (!err)
		err = ctl_res_create(c, &users, body);
	json_decref(body);
	return err;
}

static int user_password(struct ctl *c, struct ctl_args *a)
{
	json_t *body, *resp = NULL;
	char path[1024];
	int err;

	const char *newpw = NULL;

	if (a->npos != 2 && (err = ctl_res_npos(a, 3, "user password ID [NEWPASSWORD|-]")))
		return err;
	if ((err = ctl_args_check_used(a, "user password"))
	    || (err = ctl_secret_claim(c, "NEWPASSWORD", a->npos == 3 ? a->pos[2] : NULL)))
		return err;
	if ((err = ctl_path(c, path, sizeof(path), "/api/users/%s/password", a->pos[1])))
		return err;
	if ((err = ctl_password_resolve(c))
	    || (err = ctl_secret_get(c, "NEWPASSWORD", "New password for the user",
				     a->npos == 3 ? a->pos[2] : NULL, &newpw)))
		return err;
	body = json_pack("{s:s}", "password", newpw);
	if (!body)
		return ENOMEM;
	err = ctl_api(c, "POST", path, body, &resp, NULL);
	if (!err)
		ctl_out_result(c, resp, "password changed");
	json_decref(resp);
	json_decref(body);
	return err;
}

/* The device table shows where a device is (address:port, as one would dial it)
 * and the time left in words, which read better than the API's separate port and
 * seconds; each row is a copy of the device with those two added, so --json never
 * sees them. The two names start with '_' so no API field can collide with them. */
static const struct ctl_col device_cols[] = {
	{ "id", "ID" },
	{ "_where", "ADDRESS" },
	{ "transport", "TRANSPORT" },
	{ "user_agent", "USER AGENT" },
	{ "_expires_in", "EXPIRES IN" },
};
#define DEVICE_NCOLS (sizeof(device_cols) / sizeof(device_cols[0]))

/* "42s", "5m 03s", "1h 00m", "2d 03h": seconds to the precision that matters. */
static void fmt_left(json_int_t s, char *buf, size_t size)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, size, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, size, "%lldm %02llds", (long long)(s / 60), (long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, size, "%lldh %02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
	else
		snprintf(buf, size, "%lldd %02lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
}

static json_t *device_row(const json_t *d)
{
	json_t *row = json_copy((json_t *)d);
	const char *addr = json_string_value(json_object_get(d, "address"));
	const json_t *port = json_object_get(d, "port");
	const json_t *exp = json_object_get(d, "expires");
	char where[128], left[32];

	if (!row)
		return NULL;
	/* IPv6 in brackets, so the port cannot be read as part of the address. */
	if (addr && json_is_integer(port) && strchr(addr, ':'))
		snprintf(where, sizeof(where), "[%s]:%" JSON_INTEGER_FORMAT, addr, json_integer_value(port));
	else if (addr && json_is_integer(port))
		snprintf(where, sizeof(where), "%s:%" JSON_INTEGER_FORMAT, addr, json_integer_value(port));
	else
		snprintf(where, sizeof(where), "%s", addr ? addr : "-");
	json_object_set_new(row, "_where", json_string(where));
	if (json_is_integer(exp)) {
		fmt_left(json_integer_value(exp), left, sizeof(left));
		json_object_set_new(row, "_expires_in", json_string(left));
	}
	return row;
}

/* Lead columns the device table takes at most; registrations uses two. */
#define DEVICE_LEAD_MAX 4

void ctl_devices_print(struct ctl *c, const json_t *list, const struct ctl_col *lead, size_t nlead)
{
	struct ctl_col cols[DEVICE_LEAD_MAX + DEVICE_NCOLS];
	json_t *rows, *d;
	size_t i;

	if (c->json) {
		ctl_out_json(list);
		return;
	}
	if (nlead > DEVICE_LEAD_MAX)
		nlead = DEVICE_LEAD_MAX;
	if (nlead) /* lead may be NULL, which memcpy must not see even for 0 bytes */
		memcpy(cols, lead, nlead * sizeof(*lead));
	memcpy(cols + nlead, device_cols, sizeof(device_cols));
	rows = json_array();
	if (!rows)
		return;
	json_array_foreach(json_object_get(list, "items"), i, d)
		json_array_append_new(rows, device_row(d));
	ctl_out_table(rows, cols, nlead + DEVICE_NCOLS);
	json_decref(rows);
}

/* The API answers a user's devices in one piece (a user has a handful), so there
 * are no pages to fetch and no list options to pass. */
static int user_devices(struct ctl *c, struct ctl_args *a)
{
	json_t *resp = NULL;
	char path[1024];
	int err;

	if ((err = ctl_res_npos(a, 2, "user devices ID")) || (err = ctl_args_check_used(a, "user devices"))
	    || (err = ctl_path(c, path, sizeof(path), "/api/users/%s/devices", a->pos[1]))
	    || (err = ctl_api(c, "GET", path, NULL, &resp, NULL)))
		return err;
	ctl_devices_print(c, resp, NULL, 0);
	json_decref(resp);
	return 0;
}

static int user_unregister(struct ctl *c, struct ctl_args *a)
{
	char head[512], tail[512], path[1024], msg[128];
	json_t *resp = NULL;
	long status = 0;
	int err;

	if ((err = ctl_res_npos(a, 3, "user unregister ID DEVICE_ID"))
	    || (err = ctl_args_check_used(a, "user unregister")))
		return err;
	/* Both parts escaped on their own; the escaped text is never a format. */
	if ((err = ctl_path(c, head, sizeof(head), "/api/users/%s/devices/", a->pos[1]))
	    || (err = ctl_path(c, tail, sizeof(tail), "%s/destroy", a->pos[2])))
		return err;
	snprintf(path, sizeof(path), "%s%s", head, tail);
	if ((err = ctl_api(c, "POST", path, NULL, &resp, &status)))
		return err;
	if (status / 100 != 2) {
		ctl_api_report(c, status, resp);
		/* The API says the same for an unknown user and an unknown device. */
		if (status == 404)
			fprintf(stderr, "pbxctl: `pbxctl user devices %s` lists the user's device ids\n", a->pos[1]);
		err = EPROTO;
	} else {
		snprintf(msg, sizeof(msg), "device %.60s unregistered", a->pos[2]);
		ctl_out_result(c, resp, msg);
	}
	json_decref(resp);
	return err;
}

int ctl_cmd_user(struct ctl *c, int argc, char **argv)
{
	struct ctl_args a;
	const char *verb;
	int err = ctl_args_parse(c, argc, argv, &a);

	if (err)
		return err;
	verb = a.npos ? a.pos[0] : "";
	if (strcmp(verb, "list") == 0) {
		err = ctl_res_npos(&a, 1, "user list");
		if (!err)
			err = ctl_res_list(c, &users, &a);
	} else if (strcmp(verb, "show") == 0) {
		err = ctl_res_npos(&a, 2, "user show ID");
		if (!err && !(err = ctl_args_check_used(&a, "user show")))
			err = ctl_res_show(c, &users, a.pos[1]);
	} else if (strcmp(verb, "add") == 0) {
		err = user_add(c, &a);
	} else if (strcmp(verb, "update") == 0) {
		err = ctl_res_npos(&a, 2, "user update ID --FIELD=VALUE...");
		if (!err)
			err = ctl_res_update(c, &users, a.pos[1], &a);
	} else if (strcmp(verb, "delete") == 0) {
		err = ctl_res_npos(&a, 2, "user delete ID");
		if (!err && !(err = ctl_args_check_used(&a, "user delete")))
			err = ctl_res_delete(c, &users, a.pos[1]);
	} else if (strcmp(verb, "password") == 0) {
		err = user_password(c, &a);
	} else if (strcmp(verb, "devices") == 0) {
		err = user_devices(c, &a);
	} else if (strcmp(verb, "unregister") == 0) {
		err = user_unregister(c, &a);
	} else {
		ctl_usage_error("user: expected list, show, add, update, delete, password, devices or unregister");
		err = EINVAL;
	}
	ctl_args_free(&a);
	return err;
}

static const struct ctl_col ext_cols[] = {
	{ "extension_number", "EXTENSION" },
	{ "username", "USERNAME" },
	{ "display_name", "DISPLAY NAME" },
	{ "enabled", "ENABLED" },
	{ "id", "USER ID" },
};

static int by_number(const void *x, const void *y)
{
	const json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
	const char *na = json_string_value(json_object_get(a, "extension_number"));
	const char *nb = json_string_value(json_object_get(b, "extension_number"));
	size_t la = na ? strlen(na) : 0, lb = nb ? strlen(nb) : 0;
	/* Dial-plan order: shorter numbers first, then by digits. */
	if (la != lb)
		return la < lb ? -1 : 1;
	return strcmp(na ? na : "", nb ? nb : "");
}

/* Lists extensions from the users that have one, sorted by number. */
static int extensions_from_users(struct ctl *c, struct ctl_args *a)
{
	json_t *list = NULL, *out, *items, *u;
	size_t i, n = 0;
	json_t **v;
	int err = ctl_api_list(c, "/api/users", a, &list);

	if (err)
		return err;
	items = json_object_get(list, "items");
	v = calloc(json_array_size(items) + 1, sizeof(*v));
	out = json_pack("{s:i, s:[]}", "count", 0, "items");
	if (!v || !out) {
		free(v);
		json_decref(out);
		json_decref(list);
		return ENOMEM;
	}
	json_array_foreach(items, i, u) {
		json_t *num = json_object_get(u, "extension_number");
		if (json_is_integer(num)) /* keep sorting simple whatever the API's type */
			json_object_set_new(u, "extension_number",
					    json_sprintf("%" JSON_INTEGER_FORMAT, json_integer_value(num)));
		const char *s = json_string_value(json_object_get(u, "extension_number"));
		if (s && *s)
			v[n++] = u;
	}
	qsort(v, n, sizeof(*v), by_number);
	for (i = 0; i < n; i++)
		json_array_append(json_object_get(out, "items"), v[i]);
	json_object_set_new(out, "count", json_integer((json_int_t)n));
	ctl_res_print_list(c, out, ext_cols, sizeof(ext_cols) / sizeof(ext_cols[0]));
	free(v);
	json_decref(out);
	json_decref(list);
	return 0;
}

int ctl_cmd_extension(struct ctl *c, int argc, char **argv)
{
	struct ctl_args a;
	json_t *resp = NULL;
	long status = 0;
	int err = ctl_args_parse(c, argc, argv, &a);

	if (err)
		return err;
	if (a.npos != 1 || strcmp(a.pos[0], "list") != 0) {
		ctl_usage_error("extension: expected list");
		err = EINVAL;
		goto out;
	}
	/* Reject unknown options before the probe below, so nothing is sent. */
	for (size_t i = 0; i < a.nopts; i++) {
		static const char *const list_opts[] = { "filter", "search", "orderby", "skip", "top" };
		size_t k = 0;
		while (k < 5 && strcmp(a.opts[i].key, list_opts[k]) != 0)
			k++;
		if (k == 5) {
			ctl_usage_error("extension list: unknown option --%s", a.opts[i].key);
			err = EINVAL;
			goto out;
		}
	}
	/* A dedicated collection, when the API has one, knows more than the users do. */
	err = ctl_api(c, "GET", "/api/extensions?top=1", NULL, &resp, &status);
	if (!err && status / 100 == 2 && json_is_array(json_object_get(resp, "items"))) {
		static const struct ctl_res exts = { "extension", "/api/extensions", NULL, 0 };
		err = ctl_res_list(c, &exts, &a);
	} else if (!err) {
		err = extensions_from_users(c, &a);
	}
out:
	json_decref(resp);
	ctl_args_free(&a);
	return err;
}
