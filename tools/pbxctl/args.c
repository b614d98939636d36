/* A command's own arguments: `--key=value` options and positionals, in any order.
 * Options after the command belong to it (so `user add --password=` is the new
 * user's password, not the sign-in one); only --json and --insecure, which mean
 * the same everywhere, are taken for the whole invocation. Values are turned into
 * JSON here so every command types fields the same way. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctl.h"

void ctl_usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("pbxctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see pbxctl --help)\n", stderr);
}

int ctl_args_parse(struct ctl *c, int argc, char **argv, struct ctl_args *a)
{
	bool opts_done = false;

	memset(a, 0, sizeof(*a));
	a->pos = calloc((size_t)argc + 1, sizeof(*a->pos));
	a->opts = calloc((size_t)argc + 1, sizeof(*a->opts));
	if (!a->pos || !a->opts) {
		ctl_args_free(a);
		return ENOMEM;
	}
	for (int i = 0; i < argc; i++) {
		const char *s = argv[i];
		if (opts_done || strncmp(s, "--", 2) != 0 || s[2] == '\0') {
			if (!opts_done && strcmp(s, "--") == 0) {
				opts_done = true; /* lets a positional (a password) start with "--" */
				continue;
			}
			a->pos[a->npos++] = s;
			continue;
		}
		if (strcmp(s, "--json") == 0) {
			c->json = true;
			continue;
		}
		if (strcmp(s, "--insecure") == 0) {
			c->insecure = true;
			continue;
		}
		const char *eq = strchr(s, '=');
		struct ctl_opt *o = &a->opts[a->nopts++];
		o->key = eq ? strndup(s + 2, (size_t)(eq - s - 2)) : strdup(s + 2);
		o->value = eq ? eq + 1 : NULL;
		if (!o->key) {
			ctl_args_free(a);
			return ENOMEM;
		}
	}
	return 0;
}

void ctl_args_free(struct ctl_args *a)
{
	for (size_t i = 0; a->opts && i < a->nopts; i++)
		free((char *)a->opts[i].key);
	free(a->opts);
	free(a->pos);
	memset(a, 0, sizeof(*a));
}

const char *ctl_args_get(struct ctl_args *a, const char *key)
{
	const char *v = NULL;
	/* The last occurrence wins, as with the global options. */
	for (size_t i = 0; i < a->nopts; i++) {
		if (strcmp(a->opts[i].key, key) == 0) {
			a->opts[i].used = true;
			v = a->opts[i].value ? a->opts[i].value : "";
		}
	}
	return v;
}

int ctl_args_check_used(struct ctl_args *a, const char *cmd)
{
	for (size_t i = 0; i < a->nopts; i++) {
		if (!a->opts[i].used) {
			ctl_usage_error("%s: unknown option --%s", cmd, a->opts[i].key);
			return EINVAL;
		}
	}
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return EINVAL;
}

int ctl_args_value(const char *key, const char *value, const json_t *like, json_t **out)
{
	size_t kl = strlen(key);
	bool raw = kl > 0 && key[kl - 1] == ':';
	char *end;
	bool b;

	if (raw) {
		json_error_t err;
		*out = json_loads(value, JSON_DECODE_ANY, &err);
		if (!*out) {
			ctl_usage_error("--%s=%s: not JSON: %s", key, value, err.text);
			return EINVAL;
		}
		return 0;
	}
	switch (like ? json_typeof(like) : JSON_NULL) {
	case JSON_INTEGER:
		errno = 0;
		long long n = strtoll(value, &end, 10);
		if (errno || end == value || *end) {
			ctl_usage_error("--%s=%s: expected an integer", key, value);
			return EINVAL;
		}
		*out = json_integer(n);
		break;
	case JSON_REAL:
		errno = 0;
		double d = strtod(value, &end);
		if (errno || end == value || *end) {
			ctl_usage_error("--%s=%s: expected a number", key, value);
			return EINVAL;
		}
		*out = json_real(d);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		if (parse_bool(value, &b)) {
			ctl_usage_error("--%s=%s: expected true or false", key, value);
			return EINVAL;
		}
		*out = json_boolean(b);
		break;
	case JSON_OBJECT:
	case JSON_ARRAY:
		ctl_usage_error("--%s is structured: give it as --%s:=JSON", key, key);
		return EINVAL;
	default:
		if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0)
			*out = json_boolean(value[0] == 't');
		else
			*out = json_string(value);
		break;
	}
	return *out ? 0 : ENOMEM;
}

/* Finds (creating objects on the way) where a dotted field goes in obj, and the
 * value it has in current; `limits.max_users` lands in obj["limits"]. */
static int field_slot(json_t *obj, const json_t *current, char *field, json_t **parent,
		      const char **leaf, const json_t **like)
{
	char *dot;

	while ((dot = strchr(field, '.'))) {
		*dot = '\0';
		json_t *sub = json_object_get(obj, field);
		if (!sub) {
			sub = json_object();
			if (!sub || json_object_set_new(obj, field, sub))
				return ENOMEM;
		} else if (!json_is_object(sub)) {
			ctl_usage_error("--%s is given both as a value and as an object", field);
			return EINVAL;
		}
		obj = sub;
		current = current ? json_object_get(current, field) : NULL;
		field = dot + 1;
	}
	if (!*field) {
		ctl_usage_error("empty field name");
		return EINVAL;
	}
	*parent = obj;
	*leaf = field;
	*like = current ? json_object_get(current, field) : NULL;
	return 0;
}

int ctl_args_fields(struct ctl_args *a, json_t *obj, const json_t *current)
{
	for (size_t i = 0; i < a->nopts; i++) {
		struct ctl_opt *o = &a->opts[i];
		char field[256];
		size_t n = 0;
		const json_t *like;
		const char *leaf;
		json_t *parent, *v;
		int err;

		if (o->used)
			continue;
		if (!o->value) {
			ctl_usage_error("option --%s needs a value (--%s=VALUE)", o->key, o->key);
			return EINVAL;
		}
		/* API fields use underscores; dashes read better on a command line. */
		for (const char *k = o->key; *k && *k != ':' && n + 1 < sizeof(field); k++)
			field[n++] = *k == '-' ? '_' : *k;
		field[n] = '\0';
		if ((err = field_slot(obj, current, field, &parent, &leaf, &like)))
			return err;
		if ((err = ctl_args_value(o->key, o->value, like, &v)))
			return err;
		if (json_object_set_new(parent, leaf, v))
			return ENOMEM;
		o->used = true;
	}
	return 0;
}
