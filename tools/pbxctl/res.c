/* The verbs shared by every REST collection (list, show, create, update, delete,
 * export), written once so tenants, users and what later issues add behave alike:
 * lists are fetched page by page into one table, updates send only the fields
 * given, deletes go through the `/destroy` sub-resource as in the vendor's API,
 * exports are the API's CSV as it is. ctl_res_run is a whole command over one
 * collection, for the ones whose options map onto fields (a table says how). */
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
	json_t *body = json_object();
	int err = body ? ctl_res_update_with(c, r, id, a, body) : ENOMEM;

	json_decref(body);
	return err;
}

int ctl_res_update_with(struct ctl *c, const struct ctl_res *r, const char *id, struct ctl_args *a, json_t *body)
{
	json_t *cur = NULL, *resp = NULL;
	char path[1024], fmt[256], msg[128];
	size_t unused = 0;
	int err;

	for (size_t i = 0; i < a->nopts; i++)
		unused += !a->opts[i].used;
	if (unused == 0 && json_object_size(body) == 0) {
		ctl_usage_error("%s: give the fields to change, e.g. --enabled=false", r->noun);
		return EINVAL;
	}
	/* The current object tells each field's type, so `--max-calls=4` is sent as a
	 * number and `--extension-number=100` as whatever the API stores it as. */
	if (unused && (err = get_one(c, r, id, &cur)))
		return err;
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

int ctl_res_export(struct ctl *c, const struct ctl_res *r, struct ctl_args *a)
{
	const char *file = ctl_args_get(a, "output");
	char path[1024], what[128], *csv = NULL;
	size_t len = 0;
	int err;

	snprintf(what, sizeof(what), "%s export", r->noun);
	if (file && !*file) {
		ctl_usage_error("%s: --output needs a file name (--output=FILE; - is standard output)", what);
		return EINVAL;
	}
	if ((err = ctl_args_check_used(a, what)))
		return err;
	if ((size_t)snprintf(path, sizeof(path), "%s/export", r->path) >= sizeof(path))
		return ENAMETOOLONG;
	if ((err = ctl_api_text(c, path, &csv, &len)))
		return err;
	/* Written only once the API answered, so a refusal leaves FILE as it was. */
	if (!file || strcmp(file, "-") == 0) {
		fwrite(csv, 1, len, stdout);
	} else {
		FILE *f = fopen(file, "w");
		bool ok = f && fwrite(csv, 1, len, f) == len;
		int why = errno;
		if (f && fclose(f) != 0 && ok) {
			ok = false;
			why = errno;
		}
		if (!ok) {
			fprintf(stderr, "pbxctl: %s: %s\n", file, strerror(why));
			err = EIO;
		} else {
			char msg[1200];
			snprintf(msg, sizeof(msg), "%s: wrote %s", what, file);
			ctl_out_result(c, NULL, msg);
		}
	}
	free(csv);
	return err;
}

/* --- named options ---------------------------------------------------------------- */

static int field_value(const struct ctl_opt *o, enum ctl_ftype type, json_t **out)
{
	json_t *like;
	int err;

	*out = NULL;
	if (type == CTL_F_BOOL || type == CTL_F_NOT) {
		bool b = true;
		if (o->value) { /* typed like a boolean: true/false, yes/no, on/off, 1/0 */
			if ((err = ctl_args_value(o->key, o->value, json_true(), out)))
				return err;
			b = json_is_true(*out);
			json_decref(*out);
		}
		*out = json_boolean(type == CTL_F_NOT ? !b : b);
		return *out ? 0 : ENOMEM;
	}
	if (!o->value) {
		ctl_usage_error("option --%s needs a value (--%s=VALUE)", o->key, o->key);
		return EINVAL;
	}
	if (type == CTL_F_STR) {
		*out = json_string(o->value);
		return *out ? 0 : ENOMEM;
	}
	if (!(like = json_integer(0)))
		return ENOMEM;
	err = ctl_args_value(o->key, o->value, like, out);
	json_decref(like);
	return err;
}

/* "a, b,c" into list's strings; empty parts are skipped. */
static int list_append(json_t *list, const char *v)
{
	while (*v) {
		size_t n = strcspn(v, ",");
		const char *s = v, *e = v + n;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > s && json_array_append_new(list, json_stringn(s, (size_t)(e - s))))
			return ENOMEM;
		v += n + (v[n] == ',');
	}
	return 0;
}

int ctl_res_fields(struct ctl_args *a, const struct ctl_field *f, size_t nf, json_t *body)
{
	for (size_t k = 0; k < nf; k++) {
		json_t *v = NULL;
		int err = 0;

		for (size_t i = 0; !err && i < a->nopts; i++) {
			struct ctl_opt *o = &a->opts[i];
			if (strcmp(o->key, f[k].opt) != 0)
				continue;
			o->used = true;
			if (f[k].type == CTL_F_LIST) {
				/* Every occurrence adds (--ip=A --ip=B, or --ip=A,B); --ip= alone is []. */
				if (!o->value) {
					ctl_usage_error("option --%s needs a value (--%s=A,B...)", o->key, o->key);
					err = EINVAL;
				} else if (!v && !(v = json_array())) {
					err = ENOMEM;
				} else {
					err = list_append(v, o->value);
				}
				continue;
			}
			json_decref(v); /* the last one wins, as with every option */
			err = field_value(o, f[k].type, &v);
		}
		if (!err && v && json_object_set(body, f[k].field, v))
			err = ENOMEM;
		json_decref(v);
		if (err)
			return err;
	}
	return 0;
}

/* --- a command over one collection ---------------------------------------------- */

static bool given(const struct ctl_args *a, const char *opt)
{
	for (size_t i = 0; i < a->nopts; i++) {
		if (strcmp(a->opts[i].key, opt) == 0)
			return true;
	}
	return false;
}

/* The named options, then the command's own; what is left goes as --FIELD=VALUE. */
static int build_body(struct ctl *c, const struct ctl_res_cmd *rc, struct ctl_args *a, bool create, json_t *body)
{
	int err = ctl_res_fields(a, rc->fields, rc->nfields, body);
	if (!err && rc->build)
		err = rc->build(c, a, body, create);
	return err;
}

static int res_add(struct ctl *c, const struct ctl_res_cmd *rc, struct ctl_args *a)
{
	json_t *body;
	int err;

	if ((err = ctl_res_npos(a, rc->add_pos ? 2 : 1, rc->add_usage)))
		return err;
	/* Checked before anything is read (a secret from stdin) or sent. */
	for (const char *const *r = rc->required; r && *r; r++) {
		if (!given(a, *r)) {
			ctl_usage_error("missing --%s: %s", *r, rc->add_usage);
			return EINVAL;
		}
	}
	if (!(body = json_object()))
		return ENOMEM;
	if (rc->add_pos && json_object_set_new(body, rc->add_pos, json_string(a->pos[1])))
		err = ENOMEM;
	if (!err)
		err = build_body(c, rc, a, true, body);
	if (!err)
		err = ctl_args_fields(a, body, NULL);
	if (!err)
		err = ctl_res_create(c, rc->res, body);
	json_decref(body);
	return err;
}

static int res_set(struct ctl *c, const struct ctl_res_cmd *rc, struct ctl_args *a)
{
	char usage[128];
	json_t *body;
	int err;

	snprintf(usage, sizeof(usage), "%s set ID --FIELD=VALUE... (the options of add)", rc->cmd);
	if ((err = ctl_res_npos(a, 2, usage)))
		return err;
	if (!(body = json_object()))
		return ENOMEM;
	err = build_body(c, rc, a, false, body);
	if (!err)
		err = ctl_res_update_with(c, rc->res, a->pos[1], a, body);
	json_decref(body);
	return err;
}

static bool is_verb(const char *verb, const char *name, const char *alias)
{
	return strcmp(verb, name) == 0 || (alias && strcmp(verb, alias) == 0);
}

int ctl_res_run(struct ctl *c, const struct ctl_res_cmd *rc, int argc, char **argv)
{
	struct ctl_args a;
	char usage[128];
	int err = ctl_args_parse(c, argc, argv, &a);

	if (err)
		return err;
	const char *verb = a.npos ? a.pos[0] : "";
	if (rc->verb && (err = rc->verb(c, verb, &a)) != ENOSYS)
		goto out;
	err = 0;
	if (is_verb(verb, "list", NULL)) {
		snprintf(usage, sizeof(usage), "%s list", rc->cmd);
		if (!(err = ctl_res_npos(&a, 1, usage)))
			err = ctl_res_list(c, rc->res, &a);
	} else if (is_verb(verb, "show", NULL) || is_verb(verb, "remove", "delete")) {
		snprintf(usage, sizeof(usage), "%s %s ID", rc->cmd, verb);
		if (!(err = ctl_res_npos(&a, 2, usage)) && !(err = ctl_args_check_used(&a, usage)))
			err = is_verb(verb, "show", NULL) ? ctl_res_show(c, rc->res, a.pos[1])
							  : ctl_res_delete(c, rc->res, a.pos[1]);
	} else if (is_verb(verb, "add", NULL)) {
		err = res_add(c, rc, &a);
	} else if (is_verb(verb, "set", "update")) {
		err = res_set(c, rc, &a);
	} else if (is_verb(verb, "export", NULL)) {
		snprintf(usage, sizeof(usage), "%s export [--output=FILE]", rc->cmd);
		if (!(err = ctl_res_npos(&a, 1, usage)))
			err = ctl_res_export(c, rc->res, &a);
	} else {
		ctl_usage_error("%s: expected %s", rc->cmd, rc->verbs);
		err = EINVAL;
	}
out:
	ctl_args_free(&a);
	return err;
}
