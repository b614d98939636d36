/* The answer side shared by every route: the one error shape, ids as decimal
 * strings, times as ISO 8601, and the list query options (filter, search,
 * orderby, skip, top). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/api_int.h"

int api_error(struct api_resp *rs, int status, const char *code, const char *field, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_t *err = json_pack("{s:i, s:s, s:s}", "status", status, "code", code, "message", msg);
	if (err && field)
		json_object_set_new(err, "field", json_string(field));
	json_decref(rs->body);
	rs->body = json_pack("{s:o}", "error", err);
	rs->status = status;
	return status;
}

void api_ok(struct api_resp *rs, int status, json_t *body)
{
	json_decref(rs->body);
	rs->status = status;
	rs->body = body;
}

int api_store_error(struct api_resp *rs, struct store *st, int err, const char *what)
{
	switch (err) {
	case ENOENT:
		return api_error(rs, 404, "not_found", NULL, "%s not found", what);
	case EEXIST: {
		const char *f = store_conflict_field(st);
		return api_error(rs, 409, "conflict", f[0] ? f : NULL, "%s: already in use", f[0] ? f : what);
	}
	case ESTALE:
		return api_error(rs, 409, "conflict", NULL, "%s: changed by another request meanwhile; read it and"
				 " try again", what);
	case EDQUOT:
		return api_error(rs, 409, "limit_reached", NULL, "%s: the tenant's limit is reached", what);
	case EBUSY:
		rs->retry_after = 1;
		return api_error(rs, 503, "busy", NULL, "the database is busy, retry");
	default:
		return api_error(rs, 500, "internal", NULL, "storage error (%s)", strerror(err));
	}
}

int api_pbx_error(struct api_resp *rs, int err, const char *what)
{
	if (err == ETIMEDOUT) {
		rs->retry_after = 1;
		return api_error(rs, 503, "busy", NULL, "the PBX did not answer in time; retry");
	}
	return api_error(rs, 500, "internal", NULL, "%s: %s", what, strerror(err));
}

json_t *api_json_id(uint64_t id)
{
	char b[24];
	snprintf(b, sizeof(b), "%llu", (unsigned long long)id);
	return json_string(b);
}

json_t *api_json_time(int64_t ms)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	char b[64];
	snprintf(b, sizeof(b), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	return json_string(b);
}

int api_parse_id(const char *s, uint64_t *id)
{
	if (!s || !*s || strlen(s) > 19)
		return EINVAL;
	uint64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v == 0 || v > INT64_MAX)
		return EINVAL;
	*id = v;
	return 0;
}

const char *api_query(const struct api_req *rq, const char *key)
{
	for (size_t i = 0; i < rq->nquery; i++) {
		if (strcmp(rq->query[i].key, key) == 0)
			return rq->query[i].value ? rq->query[i].value : "";
	}
	return NULL;
}

/* --- filter: OData-like `field op value [and field op value]...` ------------------ */

struct lex {
	const char *p;
};

static void skip_ws(struct lex *lx)
{
	while (*lx->p == ' ' || *lx->p == '\t')
		lx->p++;
}

/* A bare word: letters, digits, '_' and '-' (numbers included). */
static size_t word(struct lex *lx, char *out, size_t sz)
{
	skip_ws(lx);
	size_t n = 0;
	while (isalnum((unsigned char)lx->p[n]) || lx->p[n] == '_' || lx->p[n] == '-')
		n++;
	if (n == 0 || n >= sz)
		return 0;
	memcpy(out, lx->p, n);
	out[n] = '\0';
	lx->p += n;
	return n;
}

static int value(struct lex *lx, struct store_cond *c, struct api_resp *rs)
{
	skip_ws(lx);
	const struct store_field *f = c->field;
	if (*lx->p == '\'') {
		size_t n = 0;
		lx->p++;
		for (;;) {
			if (!*lx->p)
				return api_error(rs, 400, "invalid_field", "filter", "filter: unterminated string");
			if (*lx->p == '\'' && lx->p[1] == '\'')
				lx->p++; /* '' is a quote */
			else if (*lx->p == '\'')
				break;
			if (n + 1 >= sizeof(c->sval))
				return api_error(rs, 400, "invalid_field", "filter", "filter: value too long");
			c->sval[n++] = *lx->p++;
		}
		lx->p++;
		c->sval[n] = '\0';
		if (f->type != STORE_F_STR && f->type != STORE_F_ID)
			return api_error(rs, 400, "invalid_field", "filter", "filter: %s takes a %s", f->name,
					 f->type == STORE_F_BOOL ? "true or false" : "number");
		if (f->type == STORE_F_ID) {
			uint64_t id;
			if (api_parse_id(c->sval, &id))
				return api_error(rs, 400, "invalid_field", "filter", "filter: %s: not an id", f->name);
			c->ival = (int64_t)id;
		}
		return 0;
	}
	char w[32];
	if (!word(lx, w, sizeof(w)))
		return api_error(rs, 400, "invalid_field", "filter", "filter: a value is expected after %s",
				 f->name);
	if (f->type == STORE_F_BOOL) {
		if (strcmp(w, "true") && strcmp(w, "false"))
			return api_error(rs, 400, "invalid_field", "filter", "filter: %s takes true or false", f->name);
		c->ival = strcmp(w, "true") == 0;
		return 0;
	}
	if (f->type == STORE_F_STR)
		return api_error(rs, 400, "invalid_field", "filter", "filter: %s takes a quoted string", f->name);
	uint64_t id;
	if (api_parse_id(w, &id))
		return api_error(rs, 400, "invalid_field", "filter", "filter: %s takes a number", f->name);
	c->ival = (int64_t)id;
	return 0;
}

static int parse_filter(const char *s, enum store_kind kind, struct store_query *q, struct api_resp *rs)
{
	static const char *const ops[] = { "eq", "ne", "lt", "le", "gt", "ge" };
	struct lex lx = { s };
	for (;;) {
		char name[64], op[8];
		if (q->ncond == STORE_COND_MAX)
			return api_error(rs, 400, "invalid_field", "filter", "filter: at most %d conditions",
					 STORE_COND_MAX);
		struct store_cond *c = &q->cond[q->ncond];
		if (!word(&lx, name, sizeof(name)))
			return api_error(rs, 400, "invalid_field", "filter", "filter: a field name is expected");
		c->field = store_field_find(kind, name);
		if (!c->field)
			return api_error(rs, 400, "invalid_field", "filter", "filter: %s cannot be filtered on", name);
		if (!word(&lx, op, sizeof(op)))
			return api_error(rs, 400, "invalid_field", "filter", "filter: an operator (eq ne lt le gt ge)"
					 " is expected after %s", name);
		size_t i;
		for (i = 0; i < 6 && strcasecmp(op, ops[i]); i++)
			;
		if (i == 6)
			return api_error(rs, 400, "invalid_field", "filter", "filter: unknown operator %s", op);
		c->op = (enum store_op)i;
		if (value(&lx, c, rs))
			return rs->status;
		q->ncond++;
		skip_ws(&lx);
		if (!*lx.p)
			return 0;
		char andw[8];
		if (!word(&lx, andw, sizeof(andw)) || strcasecmp(andw, "and"))
			return api_error(rs, 400, "invalid_field", "filter", "filter: conditions are joined with and");
	}
}

static int parse_uint(const char *v, long max, long *out)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (!*v || *end || errno || n < 0 || n > max)
		return EINVAL;
	*out = n;
	return 0;
}

int api_page_query(const struct api_req *rq, uint32_t *skip, uint32_t *top, struct api_resp *rs)
{
	const char *v;
	long n;
	if ((v = api_query(rq, "top")) && (parse_uint(v, STORE_PAGE_MAX, &n) || n < 1))
		return api_error(rs, 400, "invalid_field", "top", "top: must be from 1 to 100");
	if (v)
		*top = (uint32_t)n;
	if ((v = api_query(rq, "skip")) && parse_uint(v, 1000000000L, &n))
		return api_error(rs, 400, "invalid_field", "skip", "skip: must be a number from 0");
	if (v)
		*skip = (uint32_t)n;
	return 0;
}

int api_list_query(const struct api_req *rq, enum store_kind kind, struct store_query *q, struct api_resp *rs)
{
	static const char *const known[] = { "filter", "search", "orderby", "skip", "top" };
	store_query_init(q);
	for (size_t i = 0; i < rq->nquery; i++) {
		size_t k;
		for (k = 0; k < 5 && strcmp(rq->query[i].key, known[k]); k++)
			;
		if (k == 5)
			return api_error(rs, 400, "unknown_field", rq->query[i].key, "%.64s: unknown query option",
					 rq->query[i].key);
	}
	if (api_page_query(rq, &q->skip, &q->top, rs))
		return rs->status;
	const char *v;
	if ((v = api_query(rq, "search"))) {
		if (strlen(v) >= sizeof(q->search))
			return api_error(rs, 400, "invalid_field", "search", "search: too long");
		snprintf(q->search, sizeof(q->search), "%s", v);
	}
	if ((v = api_query(rq, "orderby")) && *v) {
		struct lex lx = { v };
		char name[64], dir[8] = "asc";
		if (!word(&lx, name, sizeof(name)) || !(q->orderby = store_field_find(kind, name)))
			return api_error(rs, 400, "invalid_field", "orderby", "orderby: unknown field");
		skip_ws(&lx);
		if (*lx.p && !word(&lx, dir, sizeof(dir)))
			return api_error(rs, 400, "invalid_field", "orderby", "orderby: field asc|desc");
		skip_ws(&lx);
		if (*lx.p || (strcasecmp(dir, "asc") && strcasecmp(dir, "desc")))
			return api_error(rs, 400, "invalid_field", "orderby", "orderby: field asc|desc");
		q->desc = strcasecmp(dir, "desc") == 0;
	}
	if ((v = api_query(rq, "filter")) && *v)
		return parse_filter(v, kind, q, rs);
	return 0;
}
