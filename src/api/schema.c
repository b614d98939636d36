/* Field schemas: one table per request/response shape that both validates bodies
 * (unknown fields, types, ranges, rules) and becomes the OpenAPI schema, so the
 * document cannot say something the server does not check. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/api_int.h"

/* --- string rules ------------------------------------------------------------------ */

/* The vendor's rule: letters, digits, _ - ' . ; not starting or ending with '.'. */
int api_check_username(const char *v, const char **why)
{
	for (const char *p = v; *p; p++) {
		if (!isalnum((unsigned char)*p) && !strchr("_-'.", *p)) {
			*why = "may contain only letters, digits and _ - ' .";
			return 1;
		}
	}
	if (v[0] == '.' || (v[0] && v[strlen(v) - 1] == '.')) {
		*why = "must not start or end with a period";
		return 1;
	}
	return 0;
}

/* Tenant users may not take the names kept for system admins. */
int api_check_tenant_username(const char *v, const char **why)
{
	static const char *const reserved[] = { "admin", "system", "administrator", "root" };
	if (api_check_username(v, why))
		return 1;
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		if (strcasecmp(v, reserved[i]) == 0) {
			*why = "is reserved for system administrators";
			return 1;
		}
	}
	return 0;
}

/* A host name (RFC 1123 labels) or an IPv4 address: what a SIP domain can be. */
int api_check_domain(const char *v, const char **why)
{
	*why = "must be a host name such as pbx.example.com";
	size_t label = 0;
	if (!*v || *v == '.' || v[strlen(v) - 1] == '.')
		return 1;
	for (const char *p = v; *p; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return 1;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-')
			return 1;
		if (label == 0 && *p == '-')
			return 1;
		if (++label > 63)
			return 1;
	}
	return v[strlen(v) - 1] == '-';
}

int api_check_email(const char *v, const char **why)
{
	*why = "must be an email address such as name@example.com";
	const char *at = strchr(v, '@');
	if (!at || at == v || strchr(at + 1, '@') || !strchr(at + 1, '.') || at[1] == '.' ||
	    v[strlen(v) - 1] == '.')
		return 1;
	for (const char *p = v; *p; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f || strchr("<>()[],;:\\\"", *p))
			return 1;
	}
	return 0;
}

int api_check_digits(const char *v, const char **why)
{
	for (const char *p = v; *p; p++) {
		if (!isdigit((unsigned char)*p)) {
			*why = "may contain only digits";
			return 1;
		}
	}
	return 0;
}

/* Login passwords: printable, and not only letters or only digits. */
int api_check_password(const char *v, const char **why)
{
	bool alpha = false, other = false;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p < ' ' || *p == 0x7f) {
			*why = "must not contain control characters";
			return 1;
		}
		if (isalpha(*p))
			alpha = true;
		else
			other = true;
	}
	if (!alpha || !other) {
		*why = "must mix letters with digits or symbols";
		return 1;
	}
	return 0;
}

/* SIP passwords travel in digest computations and phone configs: printable
 * ASCII without spaces or quotes. */
int api_check_secret(const char *v, const char **why)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '\\') {
			*why = "may contain only printable ASCII without spaces, quotes or backslashes";
			return 1;
		}
	}
	return 0;
}

int api_check_hhmm(const char *v, const char **why)
{
	*why = "must be a time HH:MM (00:00 to 23:59)";
	if (strlen(v) != 5 || v[2] != ':' || !isdigit((unsigned char)v[0]) || !isdigit((unsigned char)v[1]) ||
	    !isdigit((unsigned char)v[3]) || !isdigit((unsigned char)v[4]))
		return 1;
	return (v[0] - '0') * 10 + (v[1] - '0') > 23 || (v[3] - '0') * 10 + (v[4] - '0') > 59;
}

/* Display text: no control characters. */
int api_check_text(const char *v, const char **why)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p < ' ' || *p == 0x7f) {
			*why = "must not contain control characters";
			return 1;
		}
	}
	return 0;
}

/* --- validation ---------------------------------------------------------------------- */

static const char *type_name(enum api_type t)
{
	static const char *const n[] = { "a string", "an integer", "a boolean", "an object", "an array" };
	return n[t];
}

static bool choice_ok(const char *choices, const char *v)
{
	size_t vl = strlen(v);
	for (const char *p = choices; *p;) {
		const char *bar = strchr(p, '|');
		size_t l = bar ? (size_t)(bar - p) : strlen(p);
		if (l == vl && strncmp(p, v, l) == 0)
			return true;
		if (!bar)
			break;
		p = bar + 1;
	}
	return false;
}

static bool type_ok(enum api_type t, const json_t *v)
{
	switch (t) {
	case API_T_STRING: return json_is_string(v);
	case API_T_INT: return json_is_integer(v);
	case API_T_BOOL: return json_is_boolean(v);
	case API_T_OBJECT: return json_is_object(v);
	case API_T_ARRAY: return json_is_array(v);
	}
	return false;
}

static int check_string(const struct api_field *f, const char *path, const json_t *v, struct api_resp *rs)
{
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	const char *why = NULL;
	if (strlen(s) != len)
		return api_error(rs, 422, "invalid_field", path, "%s: must not contain NUL characters", path);
	if ((long long)len < f->min || (f->max && (long long)len > f->max)) {
		if (f->min == f->max)
			return api_error(rs, 422, "invalid_field", path, "%s: must be %lld characters long", path, f->min);
		if (len == 0)
			return api_error(rs, 422, "invalid_field", path, "%s: must not be empty", path);
		return api_error(rs, 422, "invalid_field", path, "%s: must be %lld to %lld characters long", path,
				 f->min, f->max);
	}
	if (f->choices && !choice_ok(f->choices, s))
		return api_error(rs, 422, "invalid_field", path, "%s: must be one of %s", path, f->choices);
	if (f->check && len > 0 && f->check(s, &why))
		return api_error(rs, 422, "invalid_field", path, "%s: %s", path, why);
	return 0;
}

static int check_value(const struct api_field *f, enum api_type t, const char *path, const json_t *v,
		       bool create, struct api_resp *rs)
{
	if (!type_ok(t, v))
		return api_error(rs, 422, "invalid_field", path, "%s: must be %s", path, type_name(t));
	switch (t) {
	case API_T_STRING:
		return check_string(f, path, v, rs);
	case API_T_INT: {
		json_int_t i = json_integer_value(v);
		if (i < f->min || i > f->max)
			return api_error(rs, 422, "invalid_field", path, "%s: must be from %lld to %lld", path,
					 f->min, f->max);
		return 0;
	}
	case API_T_OBJECT:
		return api_validate_at(f->sub, v, create, path, rs);
	case API_T_ARRAY: {
		if (f->max && (long long)json_array_size(v) > f->max)
			return api_error(rs, 422, "invalid_field", path, "%s: at most %lld items", path, f->max);
		if ((long long)json_array_size(v) < f->min)
			return api_error(rs, 422, "invalid_field", path, "%s: at least %lld item%s", path, f->min,
					 f->min == 1 ? "" : "s");
		size_t i;
		const json_t *it;
		json_array_foreach(v, i, it) {
			char ipath[256];
			snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
			int e;
			if (f->sub)
				e = type_ok(API_T_OBJECT, it) ? api_validate_at(f->sub, it, true, ipath, rs)
							      : api_error(rs, 422, "invalid_field", ipath,
									  "%s: must be an object", ipath);
			else {
				/* item rules: the field's own choices/check, string length 1..64 */
				struct api_field itf = { .type = f->item, .min = 1, .max = 64, .choices = f->choices,
							 .check = f->check };
				e = check_value(&itf, f->item, ipath, it, create, rs);
			}
			if (e)
				return e;
		}
		return 0;
	}
	case API_T_BOOL:
		return 0;
	}
	return 0;
}

int api_validate_at(const struct api_schema *s, const json_t *obj, bool create, const char *prefix,
		    struct api_resp *rs)
{
	const char *key;
	const json_t *v;
	char path[256];
	json_object_foreach((json_t *)obj, key, v) {
		const struct api_field *f = NULL;
		for (size_t i = 0; i < s->n; i++) {
			if (strcmp(s->f[i].name, key) == 0)
				f = &s->f[i];
		}
		snprintf(path, sizeof(path), "%s%s%.100s", prefix ? prefix : "", prefix ? "." : "", key);
		if (!f)
			return api_error(rs, 400, "unknown_field", path, "%s: unknown field", path);
		if (f->flags & API_F_READONLY)
			return api_error(rs, 422, "invalid_field", path, "%s: is read-only", path);
		if (json_is_null(v) && (f->flags & API_F_NULLABLE))
			continue; /* null where the field may be absent: an update that removes it */
		int e = check_value(f, f->type, path, v, create, rs);
		if (e)
			return e;
	}
	if (!create)
		return 0;
	for (size_t i = 0; i < s->n; i++) {
		if ((s->f[i].flags & API_F_REQUIRED) && !json_object_get(obj, s->f[i].name)) {
			snprintf(path, sizeof(path), "%s%s%s", prefix ? prefix : "", prefix ? "." : "", s->f[i].name);
			return api_error(rs, 422, "missing_field", path, "%s: is required", path);
		}
	}
	return 0;
}

int api_validate(const struct api_schema *s, const json_t *obj, bool create, struct api_resp *rs)
{
	return api_validate_at(s, obj, create, NULL, rs);
}

void api_take_str(const json_t *obj, const char *name, char *dst, size_t sz)
{
	const json_t *v = json_object_get(obj, name);
	if (json_is_string(v))
		snprintf(dst, sz, "%s", json_string_value(v));
}

void api_take_bool(const json_t *obj, const char *name, bool *dst)
{
	const json_t *v = json_object_get(obj, name);
	if (json_is_boolean(v))
		*dst = json_is_true(v);
}

void api_take_int(const json_t *obj, const char *name, int64_t *dst)
{
	const json_t *v = json_object_get(obj, name);
	if (json_is_integer(v))
		*dst = json_integer_value(v);
}

/* --- OpenAPI ------------------------------------------------------------------------- */

static json_t *ref_to(const struct api_schema *s, bool patch, api_schema_name_h *name)
{
	char nm[96];
	name(s, patch, nm, sizeof(nm));
	return json_sprintf("#/components/schemas/%s", nm);
}

static json_t *field_schema(const struct api_field *f, enum api_type t, bool patch, api_schema_name_h *name)
{
	static const char *const names[] = { "string", "integer", "boolean", "object", "array" };
	json_t *o = json_object();
	if (t == API_T_OBJECT && f->sub) {
		json_object_set_new(o, "$ref", ref_to(f->sub, patch, name));
		return o;
	}
	json_object_set_new(o, "type", json_string(names[t]));
	if (t == API_T_STRING) {
		if (f->min)
			json_object_set_new(o, "minLength", json_integer(f->min));
		if (f->max)
			json_object_set_new(o, "maxLength", json_integer(f->max));
		if (f->choices) {
			json_t *en = json_array();
			const char *p = f->choices;
			while (*p) {
				const char *bar = strchr(p, '|');
				size_t l = bar ? (size_t)(bar - p) : strlen(p);
				json_array_append_new(en, json_stringn(p, l));
				p = bar ? bar + 1 : p + l;
			}
			json_object_set_new(o, "enum", en);
		}
	} else if (t == API_T_INT) {
		json_object_set_new(o, "minimum", json_integer(f->min));
		json_object_set_new(o, "maximum", json_integer(f->max));
	} else if (t == API_T_ARRAY) {
		/* items are validated whole, also inside a patch */
		struct api_field itf = { .type = f->item, .min = 1, .max = 64, .choices = f->choices, .sub = f->sub };
		json_object_set_new(o, "items", field_schema(&itf, f->sub ? API_T_OBJECT : f->item, false, name));
		if (f->max)
			json_object_set_new(o, "maxItems", json_integer(f->max));
		if (f->min > 0)
			json_object_set_new(o, "minItems", json_integer(f->min));
	}
	return o;
}

/* null beside the field's own schema: a $ref cannot take siblings that change
 * its meaning, so it goes into a oneOf; a plain type becomes [type, "null"]. */
static json_t *nullable(json_t *p)
{
	json_t *type = json_object_get(p, "type");
	if (json_is_string(type)) {
		json_object_set_new(p, "type", json_pack("[O, s]", type, "null"));
		return p;
	}
	return json_pack("{s:[o, {s:s}]}", "oneOf", p, "type", "null");
}

static void add_properties(const struct api_schema *s, bool patch, api_schema_name_h *name, json_t *props,
			   json_t *req)
{
	if (s->base)
		add_properties(s->base, patch, name, props, req);
	for (size_t i = 0; i < s->n; i++) {
		const struct api_field *f = &s->f[i];
		json_t *p = field_schema(f, f->type, patch, name);
		bool is_ref = json_object_get(p, "$ref") != NULL;
		if (f->desc && !is_ref)
			json_object_set_new(p, "description", json_string(f->desc));
		if (f->flags & API_F_WRITEONLY)
			json_object_set_new(p, "writeOnly", json_true());
		if ((f->flags & API_F_READONLY) && !is_ref)
			json_object_set_new(p, "readOnly", json_true());
		if (f->flags & API_F_NULLABLE)
			p = nullable(p);
		json_object_set_new(props, f->name, p);
		if ((f->flags & API_F_REQUIRED) && !patch)
			json_array_append_new(req, json_string(f->name));
	}
}

json_t *api_schema_openapi(const struct api_schema *s, bool patch, api_schema_name_h *name)
{
	json_t *o = json_object(), *props = json_object(), *req = json_array();
	json_object_set_new(o, "type", json_string("object"));
	if (s->desc)
		json_object_set_new(o, "description", json_string(s->desc));
	else if (patch)
		json_object_set_new(o, "description", json_string("Partial: the fields given are changed"));
	add_properties(s, patch, name, props, req);
	json_object_set_new(o, "properties", props);
	if (json_array_size(req))
		json_object_set_new(o, "required", req);
	else
		json_decref(req);
	json_object_set_new(o, "additionalProperties", json_false());
	return o;
}
