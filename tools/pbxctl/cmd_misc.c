/* The commands that are not a collection: `info` (public, no sign-in), `me` and
 * `password` (the signed-in account), `registrations` (a read-only view across
 * the tenant; when a pbxd's API lacks the route, pbxctl says so plainly), and
 * `init`, the one command that works on the local machine instead of through the
 * API. */
#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl.h"

int ctl_cmd_info(struct ctl *c, int argc, char **argv)
{
	struct ctl_args a;
	json_t *resp = NULL;
	char path[1024] = "/api/info";
	int err = ctl_args_parse(c, argc, argv, &a);

	if (err)
		return err;
	/* `info --domain=D` or the global --domain: a tenant's public metadata. */
	const char *domain = ctl_args_get(&a, "domain");
	if (!domain)
		domain = c->domain;
	if ((err = ctl_res_npos(&a, 0, "info [--domain=D]")) || (err = ctl_args_check_used(&a, "info")))
		goto out;
	if (domain && *domain && (err = ctl_path(c, path, sizeof(path), "/api/info?domain=%s", domain)))
		goto out;
	if ((err = ctl_api(c, "GET", path, NULL, &resp, NULL)))
		goto out;
	if (c->json)
		ctl_out_json(resp);
	else
		ctl_out_object(resp);
out:
	json_decref(resp);
	ctl_args_free(&a);
	return err;
}

int ctl_cmd_me(struct ctl *c, int argc, char **argv)
{
	struct ctl_args a;
	json_t *resp = NULL;
	int err = ctl_args_parse(c, argc, argv, &a);

	if (err)
		return err;
	if (!(err = ctl_res_npos(&a, 0, "me")) && !(err = ctl_args_check_used(&a, "me"))
	    && !(err = ctl_api(c, "GET", "/api/me", NULL, &resp, NULL))) {
		if (c->json)
			ctl_out_json(resp);
		else
			ctl_out_object(resp);
	}
	json_decref(resp);
	ctl_args_free(&a);
	return err;
}

int ctl_cmd_password(struct ctl *c, int argc, char **argv)
{
	struct ctl_args a;
	json_t *body = NULL, *resp = NULL;
	const char *newpw = NULL;
	int err = ctl_args_parse(c, argc, argv, &a);

	if (err)
		return err;
	if (a.npos > 1) {
		err = ctl_res_npos(&a, 1, "password [NEWPASSWORD|-]");
		goto out;
	}
	if ((err = ctl_args_check_used(&a, "password"))
	    || (err = ctl_secret_claim(c, "NEWPASSWORD", a.npos ? a.pos[0] : NULL)))
		goto out;
	/* The current password first: on a terminal it is the natural first question,
	 * and a missing one is a usage error before the new one is typed. */
	if ((err = ctl_password_resolve(c))
	    || (err = ctl_secret_get(c, "NEWPASSWORD", "New password", a.npos ? a.pos[0] : NULL, &newpw)))
		goto out;
	/* /api/me/password serves every account, system admins included. The API
	 * asks for the current password too, so a stolen token alone cannot take
	 * over the account; we signed in with it, so we have it. */
	body = json_pack("{s:s?, s:s}", "old_password", c->password, "new_password", newpw);
	if (!body) {
		err = ENOMEM;
		goto out;
	}
	if (!(err = ctl_api(c, "POST", "/api/me/password", body, &resp, NULL)))
		ctl_out_result(c, resp, "password changed");
out:
	json_decref(resp);
	json_decref(body);
	ctl_args_free(&a);
	return err;
}

static void not_yet(const char *what)
{
	fprintf(stderr, "pbxctl: %s: not available yet (this pbxd's API does not offer them)\n", what);
}

/* Registrations are per user (GET /api/users/{id}/devices); they are gathered
 * into one table with the owner's name and extension in front. */
static const struct ctl_col owner_cols[] = {
	{ "username", "USERNAME" },
	{ "extension_number", "EXTENSION" },
};

int ctl_cmd_registrations(struct ctl *c, int argc, char **argv)
{
	struct ctl_args a;
	json_t *list = NULL, *out = NULL, *u;
	size_t i;
	int err = ctl_args_parse(c, argc, argv, &a);

	if (err)
		return err;
	if ((err = ctl_res_npos(&a, 0, "registrations")))
		goto done;
	if ((err = ctl_api_list(c, "/api/users", &a, &list)))
		goto done;
	out = json_pack("{s:i, s:[]}", "count", 0, "items");
	if (!out) {
		err = ENOMEM;
		goto done;
	}
	json_array_foreach(json_object_get(list, "items"), i, u) {
		const char *id = json_string_value(json_object_get(u, "id"));
		char idbuf[32], path[1024];
		json_t *resp = NULL, *d;
		long status = 0;
		size_t j;

		if (!id && json_is_integer(json_object_get(u, "id"))) {
			snprintf(idbuf, sizeof(idbuf), "%" JSON_INTEGER_FORMAT,
				 json_integer_value(json_object_get(u, "id")));
			id = idbuf;
		}
		if (!id)
			continue;
		if ((err = ctl_path(c, path, sizeof(path), "/api/users/%s/devices", id))
		    || (err = ctl_api(c, "GET", path, NULL, &resp, &status)))
			goto done;
		if (status == 404) {
			/* The user was just listed, so a 404 means the route is missing. */
			json_decref(resp);
			not_yet("registrations");
			err = EPROTO;
			goto done;
		}
		if (status / 100 != 2) {
			ctl_api_report(c, status, resp);
			json_decref(resp);
			err = EPROTO;
			goto done;
		}
		json_t *devs = json_is_array(resp) ? resp : json_object_get(resp, "items");
		json_array_foreach(devs, j, d) {
			json_t *row = json_pack("{s:O?, s:O?}", "username", json_object_get(u, "username"),
						"extension_number", json_object_get(u, "extension_number"));
			if (row && json_is_object(d))
				json_object_update(row, d);
			json_array_append_new(json_object_get(out, "items"), row);
		}
		json_decref(resp);
	}
	json_object_set_new(out, "count", json_integer((json_int_t)json_array_size(json_object_get(out, "items"))));
	ctl_devices_print(c, out, owner_cols, sizeof(owner_cols) / sizeof(owner_cols[0]));
done:
	json_decref(out);
	json_decref(list);
	ctl_args_free(&a);
	return err;
}

/* Prints s for a POSIX shell, single-quoted when it needs to be. */
static void put_shell(const char *s)
{
	if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_")
		      == strlen(s)) {
		fputs(s, stdout);
		return;
	}
	putchar('\'');
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*s);
	}
	putchar('\'');
}

static int mkdir_p(const char *dir)
{
	char *p = strdup(dir);
	int err = 0;

	if (!p)
		return ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0750) < 0 && errno != EEXIST)
			err = errno;
		*s = '/';
	}
	if (!err && mkdir(p, 0750) < 0 && errno != EEXIST)
		err = errno;
	free(p);
	return err;
}

static bool dir_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool empty = true;

	if (!d)
		return true;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			empty = false;
			break;
		}
	}
	closedir(d);
	return empty;
}

/* pbxd itself creates the first system admin when it starts on an empty data
 * dir, so there is exactly one code path that writes an admin. init prepares
 * the directory and says how to start pbxd on it; it never starts pbxd. */
int ctl_cmd_init(struct ctl *c, int argc, char **argv)
{
	struct ctl_args a;
	int err = ctl_args_parse(c, argc, argv, &a);

	if (err)
		return err;
	const char *dir = ctl_args_get(&a, "data-dir");
	const char *pw = ctl_args_get(&a, "admin-password");
	if ((err = ctl_res_npos(&a, 0, "init --data-dir=DIR [--admin-password=PW|-]"))
	    || (err = ctl_args_check_used(&a, "init")))
		goto out;
	if (!dir || !*dir || (pw && !*pw)) {
		ctl_usage_error("init: give --data-dir=DIR [--admin-password=PW|-]");
		err = EINVAL;
		goto out;
	}
	/* Read before the directory is made, so a mistyped password changes nothing. */
	if (pw && ((err = ctl_secret_claim(c, "--admin-password", pw))
		   || (err = ctl_secret_get(c, "--admin-password", "Password for admin", pw, &pw))))
		goto out;
	if (!dir_empty(dir)) {
		fprintf(stderr, "pbxctl: %s is not empty; if it is a pbxd data dir it has its admin "
				"already (start pbxd with --data-dir=%s), otherwise choose another\n", dir, dir);
		err = EEXIST;
		goto out;
	}
	if ((err = mkdir_p(dir))) {
		fprintf(stderr, "pbxctl: %s: %s\n", dir, strerror(err));
		goto out;
	}
	printf("Data dir %s is ready. pbxd creates the system admin \"admin\" the first\n"
	       "time it starts on it%s. Start pbxd with:\n\n  pbxd --data-dir=", dir,
	       pw ? ", with the password given here" : " and prints its random password once");
	put_shell(dir);
	if (pw) {
		fputs(" --admin-password=", stdout);
		put_shell(pw);
	}
	printf("\n\nthen sign in with:\n\n"
	       "  pbxctl --url=https://127.0.0.1:8887 --insecure --username=admin me\n");
out:
	ctl_args_free(&a);
	return err;
}
