/* Output: aligned tables for lists, aligned "key  value" lines for one object, and
 * with --json the API's own JSON (reindented, nothing added or removed), so scripts
 * read exactly what the API says. Text from the server goes to a terminal, so
 * control characters in it are shown as '?' rather than passed through. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

void ctl_out_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	if (s) {
		puts(s);
		free(s);
	}
}

/* Renders a value as text; the caller frees it. */
static char *text_of(const json_t *v)
{
	char buf[64];

	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_STRING:
		return strdup(json_string_value(v));
	case JSON_INTEGER:
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return strdup(buf);
	case JSON_REAL:
		snprintf(buf, sizeof(buf), "%g", json_real_value(v));
		return strdup(buf);
	case JSON_TRUE:
		return strdup("true");
	case JSON_FALSE:
		return strdup("false");
	case JSON_NULL:
		return strdup("-");
	default:
		break;
	}
	/* A list of plain values reads best as "a, b, c"; anything deeper stays JSON. */
	if (json_is_array(v)) {
		size_t i, len = 1;
		json_t *e;
		json_array_foreach(v, i, e) {
			if (!json_is_string(e) && !json_is_number(e))
				goto as_json;
			char *t = text_of(e);
			len += (t ? strlen(t) : 0) + 2;
			free(t);
		}
		char *s = calloc(1, len), *p = s;
		if (!s)
			return NULL;
		json_array_foreach(v, i, e) {
			char *t = text_of(e);
			p += sprintf(p, "%s%s", i ? ", " : "", t ? t : "");
			free(t);
		}
		return s;
	}
as_json:
	return json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
}

/* Columns are counted in characters, not bytes, so UTF-8 names line up. */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static void put_text(const char *s, size_t pad_to)
{
	for (const char *p = s; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		putchar(ch < 0x20 || ch == 0x7f ? '?' : ch);
	}
	for (size_t w = width(s); w < pad_to; w++)
		putchar(' ');
}

static const json_t *get_dotted(const json_t *obj, const char *field)
{
	char key[128];
	const char *dot;

	while ((dot = strchr(field, '.')) && obj) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - field), field);
		obj = json_object_get(obj, key);
		field = dot + 1;
	}
	return obj ? json_object_get(obj, field) : NULL;
}

struct kv {
	char *key;
	char *val;
};

static int flatten(const json_t *obj, const char *prefix, struct kv **kv, size_t *n)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v) {
		char full[256];
		snprintf(full, sizeof(full), "%s%s%s", prefix, *prefix ? "." : "", k);
		if (json_is_object(v) && json_object_size(v) > 0) {
			if (flatten(v, full, kv, n))
				return -1;
			continue;
		}
		struct kv *nkv = realloc(*kv, (*n + 1) * sizeof(**kv));
		if (!nkv)
			return -1;
		*kv = nkv;
		nkv[*n].key = strdup(full);
		nkv[*n].val = text_of(v);
		(*n)++;
	}
	return 0;
}

void ctl_out_object(const json_t *obj)
{
	struct kv *kv = NULL;
	size_t n = 0, w = 0;

	if (!json_is_object(obj)) {
		ctl_out_json(obj);
		return;
	}
	flatten(obj, "", &kv, &n);
	for (size_t i = 0; i < n; i++) {
		size_t kw = kv[i].key ? width(kv[i].key) : 0;
		w = kw > w ? kw : w;
	}
	for (size_t i = 0; i < n; i++) {
		put_text(kv[i].key ? kv[i].key : "?", w + 2);
		put_text(kv[i].val ? kv[i].val : "?", 0);
		putchar('\n');
		free(kv[i].key);
		free(kv[i].val);
	}
	free(kv);
}

void ctl_out_table(const json_t *items, const struct ctl_col *cols, size_t ncols)
{
	size_t rows = json_array_size(items);
	size_t *w = calloc(ncols, sizeof(*w));
	char **cell = calloc(rows * ncols + 1, sizeof(*cell));

	if (!w || !cell) {
		free(w);
		free(cell);
		return;
	}
	for (size_t c = 0; c < ncols; c++)
		w[c] = width(cols[c].title);
	for (size_t r = 0; r < rows; r++) {
		for (size_t c = 0; c < ncols; c++) {
			const json_t *v = get_dotted(json_array_get(items, r), cols[c].field);
			char *t = text_of(v);
			cell[r * ncols + c] = t;
			if (t && width(t) > w[c])
				w[c] = width(t);
		}
	}
	for (size_t c = 0; c < ncols; c++)
		put_text(cols[c].title, c + 1 < ncols ? w[c] + 2 : 0);
	putchar('\n');
	for (size_t r = 0; r < rows; r++) {
		for (size_t c = 0; c < ncols; c++) {
			char *t = cell[r * ncols + c];
			put_text(t ? t : "?", c + 1 < ncols ? w[c] + 2 : 0);
			free(t);
		}
		putchar('\n');
	}
	free(cell);
	free(w);
}

void ctl_out_result(struct ctl *c, const json_t *resp, const char *msg)
{
	if (c->json && resp) {
		ctl_out_json(resp);
	} else if (c->json) {
		/* Scripts always get JSON to parse, even from a 204. */
		puts("{}");
	}
	else if (json_is_object(resp) && json_object_size(resp) > 0)
		ctl_out_object(resp);
	else
		puts(msg);
}
