/* Office hours, holidays and forwarding schedules (schedule.h).
 *
 * Everything is decided on the tenant's wall clock: a moment is turned into a
 * tz_tm once (core/tz.c), then shifts compare its weekday and minute of the
 * day, holidays its date and minute. Shifts and holidays are kept as minutes, so
 * evaluation is a handful of integer comparisons per shift, with no allocation.
 *
 * sched_next_change walks forward from one candidate instant to the next: the
 * status can only change when the wall clock reaches a minute where some shift
 * or holiday starts or ends, or midnight (the weekday and date change), or when
 * the zone's offset changes (tz_next). Between two candidates the wall clock
 * runs straight through none of those, so the status holds. */
#include "pbx/schedule.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

#define DAY_MIN 1440

static const char *const day_names[7] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

const char *sched_status_name(enum sched_status st)
{
	switch (st) {
	case SCHED_OPEN:
		return "open";
	case SCHED_HOLIDAY:
		return "holiday";
	default:
		return "closed";
	}
}

/* ---------------------------------------------------------------- errors */

static int fail(struct sched_err *err, int ret, const char *code, const char *field, const char *fmt, ...)
{
	if (!err)
		return ret;
	char why[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	err->code = code;
	snprintf(err->field, sizeof(err->field), "%.159s", field);
	snprintf(err->msg, sizeof(err->msg), "%.159s: %.150s", field, why);
	return ret;
}

static void path_key(char *out, size_t sz, const char *prefix, const char *key)
{
	if (prefix && *prefix)
		snprintf(out, sz, "%.100s.%.50s", prefix, key);
	else
		snprintf(out, sz, "%.50s", key);
}

static void path_idx(char *out, size_t sz, const char *prefix, size_t i)
{
	snprintf(out, sz, "%.130s[%zu]", prefix ? prefix : "", i);
}

/* ---------------------------------------------------------------- shifts */

int sched_hhmm(const char *s, unsigned *minutes)
{
	if (!s || strlen(s) != 5 || s[2] != ':')
		return EINVAL;
	for (int i = 0; i < 5; i++) {
		if (i != 2 && (s[i] < '0' || s[i] > '9'))
			return EINVAL;
	}
	unsigned h = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
	unsigned m = (unsigned)(s[3] - '0') * 10 + (unsigned)(s[4] - '0');
	if (h > 23 || m > 59)
		return EINVAL;
	*minutes = h * 60 + m;
	return 0;
}

/* An end of 23:59 means the end of the day, unless the shift is empty. */
static uint16_t end_of(unsigned start, unsigned end)
{
	return (uint16_t)(end == DAY_MIN - 1 && start != end ? DAY_MIN : end);
}

int sched_shifts_add(struct sched_shifts *s, uint8_t days, const char *start, const char *end)
{
	unsigned a, b;
	if (!s || sched_hhmm(start, &a) || sched_hhmm(end, &b) || days > SCHED_ALL_DAYS)
		return EINVAL;
	if (s->n >= SCHED_SHIFTS_MAX)
		return ENOSPC;
	s->v[s->n++] = (struct sched_shift){ .days = days, .start = (uint16_t)a, .end = end_of(a, b) };
	return 0;
}

static int day_index(const char *name)
{
	for (int i = 0; i < 7; i++) {
		if (name && strcmp(name, day_names[i]) == 0)
			return i;
	}
	return -1;
}

static int time_member(const json_t *obj, const char *key, const char *dflt, const char *field, char *out,
		       struct sched_err *err)
{
	char path[160];
	path_key(path, sizeof(path), field, key);
	const json_t *v = json_object_get(obj, key);
	if (!v) {
		if (!dflt)
			return fail(err, EINVAL, "missing_field", path, "is required");
		memcpy(out, dflt, 6);
		return 0;
	}
	unsigned m;
	if (!json_is_string(v) || sched_hhmm(json_string_value(v), &m))
		return fail(err, EINVAL, "invalid_field", path, "must be a time HH:MM (00:00 to 23:59)");
	memcpy(out, json_string_value(v), 6);
	return 0;
}

static int days_member(const json_t *obj, const char *field, uint8_t *days, struct sched_err *err)
{
	char path[160], ipath[160];
	path_key(path, sizeof(path), field, "days");
	const json_t *v = json_object_get(obj, "days");
	if (!v || (json_is_array(v) && json_array_size(v) == 0)) {
		*days = SCHED_ALL_DAYS; /* no day named: no restriction by day (as forward.c reads it) */
		return 0;
	}
	if (!json_is_array(v))
		return fail(err, EINVAL, "invalid_field", path, "must be an array");
	*days = 0;
	for (size_t i = 0; i < json_array_size(v); i++) {
		const json_t *d = json_array_get(v, i);
		int wd = day_index(json_string_value(d));
		if (wd < 0) {
			path_idx(ipath, sizeof(ipath), path, i);
			return fail(err, EINVAL, "invalid_field", ipath, "must be one of mon|tue|wed|thu|fri|sat|sun");
		}
		*days |= (uint8_t)(1u << wd);
	}
	return 0;
}

static int add_checked(struct sched_shifts *s, uint8_t days, const char *a, const char *b, const char *field,
		       struct sched_err *err)
{
	int e = sched_shifts_add(s, days, a, b);
	if (e == ENOSPC)
		return fail(err, ENOSPC, "invalid_field", field, "at most %d shifts in all", SCHED_SHIFTS_MAX);
	return e;
}

int sched_shifts_add_json(struct sched_shifts *s, const json_t *shift, const char *field, struct sched_err *err)
{
	char a[6], b[6];
	uint8_t days;
	int e;
	if (!s)
		return EINVAL;
	if (!json_is_object(shift))
		return fail(err, EINVAL, "invalid_field", field ? field : "", "must be an object");
	if ((e = days_member(shift, field, &days, err)) || (e = time_member(shift, "start", "00:00", field, a, err)) ||
	    (e = time_member(shift, "end", "23:59", field, b, err)))
		return e;
	return add_checked(s, days, a, b, field ? field : "", err);
}

int sched_shifts_from_schedules(struct sched_shifts *s, const json_t *schedules, const char *field,
				struct sched_err *err)
{
	char ipath[160];
	if (!s)
		return EINVAL;
	s->n = 0;
	if (!json_is_array(schedules))
		return fail(err, EINVAL, "invalid_field", field ? field : "", "must be an array");
	for (size_t i = 0; i < json_array_size(schedules); i++) {
		path_idx(ipath, sizeof(ipath), field, i);
		int e = sched_shifts_add_json(s, json_array_get(schedules, i), ipath, err);
		if (e)
			return e;
	}
	return 0;
}

static int day_shifts(struct sched_shifts *s, int wd, const json_t *arr, const char *path, struct sched_err *err)
{
	char ipath[160], a[6], b[6];
	if (!json_is_array(arr))
		return fail(err, EINVAL, "invalid_field", path, "must be an array");
	if (json_array_size(arr) > SCHED_DAY_SHIFTS_MAX)
		return fail(err, EINVAL, "invalid_field", path, "at most %d items", SCHED_DAY_SHIFTS_MAX);
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const json_t *sh = json_array_get(arr, i);
		const char *k;
		const json_t *v;
		int e;
		path_idx(ipath, sizeof(ipath), path, i);
		if (!json_is_object(sh))
			return fail(err, EINVAL, "invalid_field", ipath, "must be an object");
		json_object_foreach((json_t *)sh, k, v) {
			if (strcmp(k, "start") != 0 && strcmp(k, "end") != 0) {
				char kpath[160];
				path_key(kpath, sizeof(kpath), ipath, k);
				return fail(err, EINVAL, "unknown_field", kpath, "unknown field");
			}
		}
		if ((e = time_member(sh, "start", NULL, ipath, a, err)) || (e = time_member(sh, "end", NULL, ipath, b, err)) ||
		    (e = add_checked(s, (uint8_t)(1u << wd), a, b, ipath, err)))
			return e;
	}
	return 0;
}

int sched_shifts_from_week(struct sched_shifts *s, const json_t *week, const char *field, struct sched_err *err)
{
	char path[160];
	if (!s)
		return EINVAL;
	s->n = 0;
	if (!json_is_object(week))
		return fail(err, EINVAL, "invalid_field", field ? field : "", "must be an object");
	/* Monday first, whatever order the object has, so the errors come in week order. */
	for (int i = 1; i <= 7; i++) {
		int wd = i % 7;
		const json_t *arr = json_object_get(week, day_names[wd]);
		path_key(path, sizeof(path), field, day_names[wd]);
		int e = arr ? day_shifts(s, wd, arr, path, err) : 0;
		if (e)
			return e;
	}
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)week, k, v) {
		if (day_index(k) < 0) {
			path_key(path, sizeof(path), field, k);
			return fail(err, EINVAL, "unknown_field", path, "unknown field (the days are mon|tue|wed|thu|fri|sat|sun)");
		}
	}
	return 0;
}

bool sched_shifts_in(const struct sched_shifts *s, const struct tz_tm *l)
{
	unsigned m = (unsigned)(l->hour * 60 + l->min);
	uint8_t today = (uint8_t)(1u << l->wday), yesterday = (uint8_t)(1u << ((l->wday + 6) % 7));
	for (unsigned i = 0; i < s->n; i++) {
		const struct sched_shift *sh = &s->v[i];
		if (sh->start < sh->end) {
			if ((sh->days & today) && m >= sh->start && m < sh->end)
				return true;
		} else if (sh->start > sh->end) { /* crosses midnight */
			if (((sh->days & today) && m >= sh->start) || ((sh->days & yesterday) && m < sh->end))
				return true;
		}
	}
	return false;
}

bool sched_shifts_in_at(const struct sched_shifts *s, const struct tz *tz, int64_t utc_s)
{
	struct tz_tm l;
	tz_local(tz, utc_s, &l);
	return sched_shifts_in(s, &l);
}

/* ---------------------------------------------------------------- holidays */

/* Day of a leap year, 0 to 365, so that every month and day has its own. */
static int64_t leap_yday(int month, int day)
{
	return tz_days(2000, month, day) - tz_days(2000, 1, 1);
}

static int date_member(const json_t *obj, const char *key, const char *field, bool required, int ymd[3],
		       struct sched_err *err)
{
	char path[160];
	path_key(path, sizeof(path), field, key);
	const json_t *v = json_object_get(obj, key);
	if (!v) {
		if (required)
			return fail(err, EINVAL, "missing_field", path, "is required");
		ymd[0] = 0;
		return 0;
	}
	const char *s = json_string_value(v);
	bool ok = s && strlen(s) == 10 && s[4] == '-' && s[7] == '-';
	for (int i = 0; ok && i < 10; i++)
		ok = i == 4 || i == 7 || (s[i] >= '0' && s[i] <= '9');
	if (ok) {
		ymd[0] = atoi(s);
		ymd[1] = atoi(s + 5);
		ymd[2] = atoi(s + 8);
		ok = ymd[0] >= 1900 && ymd[1] >= 1 && ymd[1] <= 12 && ymd[2] >= 1 && ymd[2] <= tz_mdays(ymd[0], ymd[1]);
	}
	if (!ok)
		return fail(err, EINVAL, "invalid_field", path, "must be a date YYYY-MM-DD (1900 to 9999)");
	return 0;
}

int sched_holiday_from_json(struct sched_holiday *h, const json_t *obj, const char *field, struct sched_err *err)
{
	char path[160], st[6], et[6];
	int sd[3], ed[3], e;
	unsigned a, b;
	if (!h)
		return EINVAL;
	if (!json_is_object(obj))
		return fail(err, EINVAL, "invalid_field", field ? field : "", "must be an object");
	if ((e = date_member(obj, "start_date", field, true, sd, err)) ||
	    (e = date_member(obj, "end_date", field, false, ed, err)) ||
	    (e = time_member(obj, "start_time", "00:00", field, st, err)) ||
	    (e = time_member(obj, "end_time", "23:59", field, et, err)))
		return e;
	const json_t *ey = json_object_get(obj, "every_year");
	if (ey && !json_is_boolean(ey)) {
		path_key(path, sizeof(path), field, "every_year");
		return fail(err, EINVAL, "invalid_field", path, "must be a boolean");
	}
	if (!ed[0])
		memcpy(ed, sd, sizeof(ed));
	sched_hhmm(st, &a);
	sched_hhmm(et, &b);
	b = end_of(a, b);
	if (tz_days(ed[0], ed[1], ed[2]) < tz_days(sd[0], sd[1], sd[2])) {
		path_key(path, sizeof(path), field, "end_date");
		return fail(err, EINVAL, "invalid_field", path, "must not be before start_date");
	}
	h->every_year = json_is_true(ey);
	if (h->every_year) {
		h->start = leap_yday(sd[1], sd[2]) * DAY_MIN + a;
		h->end = leap_yday(ed[1], ed[2]) * DAY_MIN + b;
		bool wraps = ed[0] != sd[0];
		if (ed[0] > sd[0] + 1 || (wraps && h->end > h->start)) {
			path_key(path, sizeof(path), field, "end_date");
			return fail(err, EINVAL, "invalid_field", path, "must be within a year of start_date with every_year");
		}
		if (!wraps && h->end <= h->start) {
			path_key(path, sizeof(path), field, "end_time");
			return fail(err, EINVAL, "invalid_field", path, "must be after start_time");
		}
		return 0;
	}
	h->start = tz_days(sd[0], sd[1], sd[2]) * DAY_MIN + a;
	h->end = tz_days(ed[0], ed[1], ed[2]) * DAY_MIN + b;
	if (h->end <= h->start) {
		path_key(path, sizeof(path), field, "end_time");
		return fail(err, EINVAL, "invalid_field", path, "must be after start_time");
	}
	return 0;
}

bool sched_holiday_in(const struct sched_holiday *h, const struct tz_tm *l)
{
	int64_t m = l->hour * 60 + l->min;
	if (!h->every_year) {
		int64_t k = tz_days(l->year, l->month, l->day) * DAY_MIN + m;
		return k >= h->start && k < h->end;
	}
	int64_t k = leap_yday(l->month, l->day) * DAY_MIN + m;
	if (h->start < h->end)
		return k >= h->start && k < h->end;
	return k >= h->start || k < h->end; /* crosses New Year */
}

static void holidays_destroy(void *arg)
{
	struct sched_holidays *hs = arg;
	free(hs->v);
}

int sched_holidays_alloc(struct sched_holidays **hp)
{
	if (!hp)
		return EINVAL;
	*hp = mem_zalloc(sizeof(**hp), holidays_destroy);
	return *hp ? 0 : ENOMEM;
}

int sched_holidays_add(struct sched_holidays *hs, const struct sched_holiday *h)
{
	if (!hs || !h)
		return EINVAL;
	if (hs->n == hs->cap) {
		size_t cap = hs->cap ? hs->cap * 2 : 8;
		struct sched_holiday *v = realloc(hs->v, cap * sizeof(*v));
		if (!v)
			return ENOMEM;
		hs->v = v;
		hs->cap = cap;
	}
	hs->v[hs->n++] = *h;
	return 0;
}

int sched_holidays_from_json(struct sched_holidays **hp, const json_t *arr, const char *field,
			     struct sched_err *err)
{
	char ipath[160];
	struct sched_holidays *hs;
	if (!hp)
		return EINVAL;
	if (!json_is_array(arr))
		return fail(err, EINVAL, "invalid_field", field ? field : "", "must be an array");
	if (json_array_size(arr) > SCHED_HOLIDAYS_MAX)
		return fail(err, ENOSPC, "invalid_field", field ? field : "", "at most %d items", SCHED_HOLIDAYS_MAX);
	int e = sched_holidays_alloc(&hs);
	for (size_t i = 0; !e && i < json_array_size(arr); i++) {
		struct sched_holiday h;
		path_idx(ipath, sizeof(ipath), field, i);
		if (!(e = sched_holiday_from_json(&h, json_array_get(arr, i), ipath, err)))
			e = sched_holidays_add(hs, &h);
	}
	if (e) {
		mem_deref(hs);
		return e;
	}
	*hp = hs;
	return 0;
}

bool sched_holidays_in(const struct sched_holidays *hs, const struct tz_tm *l)
{
	for (size_t i = 0; hs && i < hs->n; i++) {
		if (sched_holiday_in(&hs->v[i], l))
			return true;
	}
	return false;
}

/* ---------------------------------------------------------------- status */

enum sched_status sched_status(const struct sched_shifts *hours, const struct sched_holidays *holidays,
			       const struct tz_tm *l)
{
	if (sched_holidays_in(holidays, l))
		return SCHED_HOLIDAY;
	return !hours || sched_shifts_in(hours, l) ? SCHED_OPEN : SCHED_CLOSED;
}

enum sched_status sched_status_at(const struct sched_shifts *hours, const struct sched_holidays *holidays,
				  const struct tz *tz, int64_t utc_s)
{
	struct tz_tm l;
	tz_local(tz, utc_s, &l);
	return sched_status(hours, holidays, &l);
}

int sched_next_change(const struct sched_shifts *hours, const struct sched_holidays *holidays,
		      const struct tz *tz, int64_t utc_s, int64_t *next)
{
	if (!tz || !next)
		return EINVAL;
	/* The minutes of a day at which something starts or ends. */
	uint8_t mark[DAY_MIN + 1] = { 0 };
	mark[DAY_MIN] = 1;
	for (unsigned i = 0; hours && i < hours->n; i++) {
		mark[hours->v[i].start] = 1;
		mark[hours->v[i].end] = 1;
	}
	for (size_t i = 0; holidays && i < holidays->n; i++) {
		mark[(holidays->v[i].start % DAY_MIN + DAY_MIN) % DAY_MIN] = 1; /* dates before 1970: negative */
		mark[(holidays->v[i].end % DAY_MIN + DAY_MIN) % DAY_MIN] = 1;
	}

	struct tz_tm l;
	tz_local(tz, utc_s, &l);
	enum sched_status st = sched_status(hours, holidays, &l);
	int64_t t = utc_s, end = utc_s + SCHED_HORIZON_S;
	while (t < end && t < TZ_TIME_MAX) {
		int m = l.hour * 60 + l.min, b = m + 1;
		while (!mark[b])
			b++;
		int64_t cand = t + (b * 60 - (l.hour * 3600 + l.min * 60 + l.sec)), tr;
		if (tz_next(tz, t, &tr) == 0 && tr < cand)
			cand = tr;
		t = cand;
		tz_local(tz, t, &l);
		if (sched_status(hours, holidays, &l) != st) {
			*next = t;
			return 0;
		}
	}
	return ENOENT;
}

/* ---------------------------------------------------------------- forwarding */

int sched_unconditional_active(const json_t *unconditional, const struct tz *tz, int64_t utc_s, bool *active,
			       const char *field, struct sched_err *err)
{
	char path[160];
	if (!tz || !active)
		return EINVAL;
	if (!json_is_object(unconditional))
		return fail(err, EINVAL, "invalid_field", field ? field : "", "must be an object");
	path_key(path, sizeof(path), field, "mode");
	const char *mode = json_string_value(json_object_get(unconditional, "mode"));
	if (!mode)
		return fail(err, EINVAL, json_object_get(unconditional, "mode") ? "invalid_field" : "missing_field", path,
			    json_object_get(unconditional, "mode") ? "must be one of off|always|schedule" : "is required");
	if (strcmp(mode, "off") == 0 || strcmp(mode, "always") == 0) {
		*active = mode[0] == 'a';
		return 0;
	}
	if (strcmp(mode, "schedule") != 0)
		return fail(err, EINVAL, "invalid_field", path, "must be one of off|always|schedule");
	struct sched_shifts s;
	path_key(path, sizeof(path), field, "schedules");
	const json_t *arr = json_object_get(unconditional, "schedules");
	if (!arr)
		return fail(err, EINVAL, "missing_field", path, "is required in schedule mode");
	int e = sched_shifts_from_schedules(&s, arr, path, err);
	if (e)
		return e;
	*active = sched_shifts_in_at(&s, tz, utc_s);
	return 0;
}
