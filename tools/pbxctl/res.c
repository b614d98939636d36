/* The verbs shared by every REST collection (list, show, create, update, delete),
 * written once so tenants, users and what later issues add behave alike: lists
 * are fetched page by page into one table, updates send only the fields given,
 * deletes go through the `/destroy` sub-resource as in the vendor's API. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

int ctl_res_npos(const struct ctl_args *a, size_t want, const char *usage)
{
	if (a->npos == want)
		return 0;
	ctl_usage_error("%s: %s", a->npos < want ? "missing argument" : "too many arguments", usage);
	return EINVAL;
}

void ctl_res_print_list(struct ctl *c, const json_t *list, const struct ctl_col *cols, size_t ncols)
{
	const json_t *items = json_object_get(list, "items");
	struct ctl_col auto_cols[16];

	if (c->json) {
		ctl_out_json(list);
		return;
	}
	if (!cols) {
		const json_t *first = json_array_get(items, 0);
		const char *k;
		json_t *v;
		ncols = 0;
		json_object_foreach((json_t *)first, k, v) {
			if (json_is_object(v) || json_is_array(v) || ncols == 16)
				continue;
			auto_cols[ncols].field = k;
			auto_cols[ncols].title = k;
			ncols++;
		}
		cols = auto_cols;
	}
	if (ncols)
		ctl_out_table(items, cols, ncols);
}

int ctl_res_list(struct ctl *c, const struct ctl_res *r, struct ctl_args *a)
{
	json_t *list = NULL;
	int err = ctl_api_list(c, r->path, a, &list);

	if (err)
		return err;
	ctl_res_print_list(c, list, r->cols, r->ncols);
	json_decref(list);
	return 0;
}

static int get_one(struct ctl *c, const struct ctl_res *r, const char *id, json_t **out)
{
	char path[1024], fmt[256];
	snprintf(fmt, sizeof(fmt), "%s/%%s", r->path);
	int err = ctl_path(c, path, sizeof(path), fmt, id);
	return err ? err : ctl_api(c, "GET", path, NULL, out, NULL);
}

int ctl_res_show(struct ctl *c, const struct ctl_res *r, const char *id)
{
	json_t *obj = NULL;
	int err = get_one(c, r, id, &obj);

	if (err)
		return err;
	if (c->json)
		ctl_out_json(obj);
	else
		ctl_out_object(obj);
	json_decref(obj);
	return 0;
}

int ctl_res_create(struct ctl *c, const struct ctl_res *r, json_t *body)
{
	json_t *resp = NULL;
	char msg[128];
	int err = ctl_api(c, "POST", r->path, body, &resp, NULL);

	if (err)
		return err;
	snprintf(msg, sizeof(msg), "%s created", r->noun);
	ctl_out_result(c, resp, msg);
	json_decref(resp);
	return 0;
}

int ctl_res_update(struct ctl *c, const struct ctl_res *r, const char *id, struct ctl_args *a)
{
	json_t *cur = NULL, *body = NULL, *resp = NULL;
	char path[1024], fmt[256], msg[128];
	int err;

	if (a->nopts == 0) {
		ctl_usage_error("%s update: give the fields to change, e.g. --enabled=false", r->noun);
		return EINVAL;
	}
	/* The current object tells each field's type, so `--max-calls=4` is sent as a
	 * number and `--extension-number=100` as whatever the API stores it as. */
	if ((err = get_one(c, r, id, &cur)))
		return err;
	body = json_object();
	if (!body) {
		err = ENOMEM;
		goto out;
	}
	if ((err = ctl_args_fields(a, body, cur)))
		goto out;
	snprintf(fmt, sizeof(fmt), "%s/%%s", r->path);
	if ((err = ctl_path(c, path, sizeof(path), fmt, id)))
		goto out;
	if ((err = ctl_api(c, "POST", path, body, &resp, NULL)))
		goto out;
	snprintf(msg, sizeof(msg), "%s %s updated", r->noun, id);
	ctl_out_result(c, resp, msg);
out:
	json_decref(resp);
	json_decref(body);
	json_decref(cur);
	return err;
}

int ctl_res_delete(struct ctl *c, const struct ctl_res *r, const char *id)
{
	json_t *resp = NULL;
	char path[1024], fmt[256], msg[128];
	int err;

	snprintf(fmt, sizeof(fmt), "%s/%%s/destroy", r->path);
	if ((err = ctl_path(c, path, sizeof(path), fmt, id)))
		return err;
	if ((err = ctl_api(c, "POST", path, NULL, &resp, NULL)))
		return err;
	snprintf(msg, sizeof(msg), "%s %s deleted", r->noun, id);
	ctl_out_result(c, resp, msg);
	json_decref(resp);
	return 0;
}
