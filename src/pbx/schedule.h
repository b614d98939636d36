/* Office hours, holidays and forwarding schedules: is a moment, on a tenant's
 * wall clock, open, closed or a holiday, and is it inside a set of time shifts.
 * Pure functions of their inputs (no clock, no I/O): the caller gives the moment
 * (UTC seconds) and the tenant's zone (core/tz.h), or a wall-clock reading of it.
 *
 * Time shifts (the seeds' "Office Hours", the API's forwarding schedules):
 * - a shift is "HH:MM"-"HH:MM" on some weekdays, in local wall-clock time;
 * - 00:00-23:59 is open all day (an end of 23:59 includes that whole minute, so
 *   it runs to midnight); 00:00-00:00 is closed all day (a start equal to the
 *   end is empty);
 * - an end before the start crosses midnight: Monday 22:00-06:00 is Monday from
 *   22:00 and Tuesday until 06:00 (Sunday's runs into Monday);
 * - evaluation is by the wall clock, so on DST days a shift keeps its clock
 *   times: a shift starting in the skipped hour starts at the jump, and one
 *   covering the repeated hour covers both passes.
 * Holidays are wall-clock periods on dates, with optional times, optionally every
 * year; a holiday outranks office hours.
 *
 * JSON: the parsers read the shapes the REST API stores (docs/api.md) and name
 * the field in every error, in the API's style ("a.b[2].end: must be ..."),
 * so an API handler can pass a struct sched_err to api_error() as it is.
 *
 *   week (office hours): {"mon": [{"start": "09:00", "end": "12:00"},
 *                                 {"start": "13:00", "end": "18:00"}], ..., "sun": []}
 *     keys mon tue wed thu fri sat sun, each at most SCHED_DAY_SHIFTS_MAX shifts;
 *     a day absent or [] is closed.
 *   schedules (forwarding.unconditional.schedules, and an exception's shift):
 *     [{"days": ["mon", "fri"], "start": "09:00", "end": "12:00"}, ...]
 *     days absent or []: every day; start absent: 00:00; end absent: 23:59
 *     (so an exception rule without a window applies at all times). Other
 *     members (an exception's caller_id, destination) are ignored.
 *   holiday: {"start_date": "2025-12-24", "end_date": "2025-12-26",
 *             "start_time": "12:00", "end_time": "23:59", "every_year": false}
 *     start_date required; end_date defaults to start_date (inclusive);
 *     start_time 00:00 and end_time 23:59 by default (23:59 runs to midnight);
 *     the holiday runs from start_date start_time to end_date end_time, one
 *     stretch (not a daily window). every_year repeats it on the same month and
 *     day each year (a range may cross New Year: end_date in the next year; a
 *     February 29 holiday is kept only in leap years). Other members (name,
 *     id) are ignored.
 *
 * Errors: 0, EINVAL with *err filled, ENOSPC past a limit (also with *err),
 * ENOMEM. */
#ifndef PBX_SCHEDULE_H
#define PBX_SCHEDULE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/tz.h"

enum {
	SCHED_SHIFTS_MAX = 64,      /* shifts in one set */
	SCHED_DAY_SHIFTS_MAX = 8,   /* shifts per day of a week of office hours */
	SCHED_HOLIDAYS_MAX = 1000,  /* holidays in one JSON array */
	SCHED_ALL_DAYS = 0x7f,
};

/* One shift: on each weekday whose bit is set in days (bit 0 Sunday to bit 6
 * Saturday, as tz_tm.wday), from start to end, minutes after midnight. end is
 * 1440 for "23:59"; end < start crosses midnight; end == start is empty. */
struct sched_shift {
	uint8_t days;
	uint16_t start, end;
};

/* A set of shifts: a value (no allocation); zero-initialised is empty. */
struct sched_shifts {
	unsigned n;
	struct sched_shift v[SCHED_SHIFTS_MAX];
};

/* A holiday as wall-clock minutes: one-off, minutes since 1970-01-01 00:00
 * local; every_year, minutes since January 1 00:00 of a leap year (so that
 * February 29 has its own day), end < start crossing New Year. [start, end). */
struct sched_holiday {
	int64_t start, end;
	bool every_year;
};

/* A list of holidays; free with mem_deref(). */
struct sched_holidays {
	size_t n, cap;
	struct sched_holiday *v;
};

enum sched_status {
	SCHED_CLOSED,
	SCHED_OPEN,
	SCHED_HOLIDAY,
};

/* Where a JSON input was wrong, ready for api_error(rs, 422, code, field, "%s", msg). */
struct sched_err {
	const char *code; /* "invalid_field", "missing_field" or "unknown_field" */
	char field[160];  /* "forwarding.unconditional.schedules[2].end" */
	char msg[320];    /* "<field>: must be a time HH:MM (00:00 to 23:59)" */
};

const char *sched_status_name(enum sched_status st); /* "closed", "open", "holiday" */

/* "HH:MM" (00:00 to 23:59) to minutes after midnight; EINVAL otherwise. */
int sched_hhmm(const char *s, unsigned *minutes);

/* Adds a shift from "HH:MM" strings, with the rules above (23:59, equal, crossing). */
int sched_shifts_add(struct sched_shifts *s, uint8_t days, const char *start, const char *end);

/* Replace *s with the JSON's shifts; field is the path of json ("" or NULL for
 * none) for the errors. */
int sched_shifts_from_week(struct sched_shifts *s, const json_t *week, const char *field, struct sched_err *err);
int sched_shifts_from_schedules(struct sched_shifts *s, const json_t *schedules, const char *field,
				struct sched_err *err);
/* Adds one {days?, start?, end?} object (an exception rule's shift). */
int sched_shifts_add_json(struct sched_shifts *s, const json_t *shift, const char *field, struct sched_err *err);

/* Whether the wall-clock reading l falls in one of the shifts. */
bool sched_shifts_in(const struct sched_shifts *s, const struct tz_tm *l);
bool sched_shifts_in_at(const struct sched_shifts *s, const struct tz *tz, int64_t utc_s);

/* Holidays. */
int sched_holiday_from_json(struct sched_holiday *h, const json_t *obj, const char *field, struct sched_err *err);
bool sched_holiday_in(const struct sched_holiday *h, const struct tz_tm *l);
int sched_holidays_alloc(struct sched_holidays **hp);
int sched_holidays_add(struct sched_holidays *hs, const struct sched_holiday *h);
/* A new list from a JSON array of holidays. */
int sched_holidays_from_json(struct sched_holidays **hp, const json_t *arr, const char *field,
			     struct sched_err *err);
bool sched_holidays_in(const struct sched_holidays *hs, const struct tz_tm *l); /* hs may be NULL */

/* Holiday if l is in one of holidays (NULL: none), else open if it is in hours'
 * shifts, else closed. hours NULL means no office hours: always open. Several
 * lists of holidays (the tenant's and the user's) are checked with
 * sched_holidays_in first. */
enum sched_status sched_status(const struct sched_shifts *hours, const struct sched_holidays *holidays,
			       const struct tz_tm *l);
enum sched_status sched_status_at(const struct sched_shifts *hours, const struct sched_holidays *holidays,
				  const struct tz *tz, int64_t utc_s);

/* The first instant after utc_s at which sched_status_at gives another status
 * (for a status that follows office hours by itself, OH-05: arm a timer for
 * it). ENOENT when it does not change within SCHED_HORIZON_S. */
#define SCHED_HORIZON_S (400 * INT64_C(86400))
int sched_next_change(const struct sched_shifts *hours, const struct sched_holidays *holidays,
		      const struct tz *tz, int64_t utc_s, int64_t *next);

/* Whether forwarding.unconditional (the API's {"mode": "off" | "always" |
 * "schedule", "schedules": [...]}) forwards at utc_s in tz: always yes, off no,
 * schedule when inside one of the schedules. field as above
 * ("forwarding.unconditional"). */
int sched_unconditional_active(const json_t *unconditional, const struct tz *tz, int64_t utc_s, bool *active,
			       const char *field, struct sched_err *err);

#endif
