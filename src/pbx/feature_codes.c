/* Feature access codes (feature_codes.h): the table of features, a tenant's codes
 * from its overrides, and matching a dialled string against them. */
#include "pbx/feature_codes.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define FEATURE_ROW(id, nm, cd, num, d) [FEATURE_##id] = { .name = nm, .code = cd, .number = num, .desc = d },
static const struct feature_info table[FEATURE_COUNT] = { FEATURE_LIST(FEATURE_ROW) };
#undef FEATURE_ROW

const struct feature_info *feature_info(enum feature f)
{
	return (unsigned)f < FEATURE_COUNT ? &table[f] : NULL;
}

int feature_by_name(const char *name)
{
	for (int i = 0; name && i < FEATURE_COUNT; i++) {
		if (strcmp(table[i].name, name) == 0)
			return i;
	}
	return -1;
}

static bool digits(const char *s, size_t min, size_t max)
{
	size_t n = 0;
	for (; s[n]; n++) {
		if (s[n] < '0' || s[n] > '9')
			return false;
	}
	return n >= min && n <= max;
}

bool feature_code_valid(const char *s)
{
	return s && s[0] == '*' && digits(s + 1, 1, FEATURE_CODE_SZ - 2);
}

void feature_codes_default(struct feature_codes *c)
{
	for (int i = 0; i < FEATURE_COUNT; i++)
		snprintf(c->code[i], sizeof(c->code[i]), "%s", table[i].code);
}

static int fail(struct sched_err *err, const char *code, const char *prefix, const char *key, const char *fmt, ...)
{
	if (!err)
		return EINVAL;
	char why[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	err->code = code;
	snprintf(err->field, sizeof(err->field), "%.100s%s%.50s", prefix ? prefix : "", prefix && *prefix ? "." : "",
		 key);
	snprintf(err->msg, sizeof(err->msg), "%.159s: %.150s", err->field, why);
	return EINVAL;
}

static bool is_prefix(const char *a, const char *b)
{
	return strncmp(a, b, strlen(a)) == 0;
}

static int codes_overlay(struct feature_codes *c, const json_t *overrides, const char *field,
			 struct sched_err *err)
{
	bool set[FEATURE_COUNT] = { false };
	feature_codes_default(c);
	if (overrides && !json_is_object(overrides))
		return fail(err, "invalid_field", "", field ? field : "", "must be an object");
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)overrides, k, v) {
		int f = feature_by_name(k);
		if (f < 0)
			return fail(err, "unknown_field", field, k, "unknown feature");
		const char *s = json_string_value(v);
		if (!s || (*s && !feature_code_valid(s)))
			return fail(err, "invalid_field", field, k,
				    "must be * followed by 1 to 4 digits (\"\": the default)");
		if (*s) {
			snprintf(c->code[f], sizeof(c->code[f]), "%s", s);
			set[f] = true;
		}
	}
	/* Pairwise: equal, or one a prefix of the other, is ambiguous when dialled.
	 * The feature named is one the overrides set (both are not defaults: the
	 * defaults never clash). */
	for (int i = 0; i < FEATURE_COUNT; i++) {
		for (int j = i + 1; j < FEATURE_COUNT; j++) {
			const char *a = c->code[i], *b = c->code[j];
			if (!is_prefix(a, b) && !is_prefix(b, a))
				continue;
			int named = set[j] ? j : i, other = named == j ? i : j;
			if (strcmp(a, b) == 0)
				return fail(err, "invalid_field", field, table[named].name,
					    "%s is the code of %s already", c->code[named], table[other].name);
			return fail(err, "invalid_field", field, table[named].name,
				    "%s and %s (%s) must not begin alike: one is a prefix of the other",
				    c->code[named], c->code[other], table[other].name);
		}
	}
	return 0;
}

int feature_codes_from_json(struct feature_codes *c, const json_t *overrides, const char *field,
			    struct sched_err *err)
{
	int e = codes_overlay(c, overrides, field, err);
	if (e)
		feature_codes_default(c); /* nothing half-applied */
	return e;
}

int feature_match(const struct feature_codes *c, const char *dialled, const char **arg)
{
	for (int i = 0; i < FEATURE_COUNT; i++) {
		size_t n = strlen(c->code[i]);
		if (!n || strncmp(dialled, c->code[i], n) != 0)
			continue;
		const char *rest = dialled + n;
		if (table[i].number ? digits(rest, 1, 32) : *rest == '\0') {
			*arg = rest;
			return i;
		}
	}
	return -1;
}
