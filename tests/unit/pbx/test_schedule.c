/* Unit tests for office hours, holidays and forwarding schedules
 * (src/pbx/schedule.c). Method: schedules parsed from the API's JSON shapes,
 * evaluated at wall-clock times of real zones (UTC, Europe/Paris,
 * America/New_York, Asia/Kolkata, Australia/Lord_Howe) turned into UTC
 * instants: shift edges to the second, midnight and the Sunday->Monday wrap,
 * shifts across midnight, 00:00-23:59 and 00:00-00:00, both DST changes (a
 * shift in the skipped hour, one in the repeated hour), holidays (one day, a
 * range, with times, every year, over New Year, February 29), every JSON error
 * with its field, and sched_next_change against a minute-by-minute walk. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/mem.h"
#include "core/tz.h"
#include "pbx/schedule.h"

static struct tz *zone(const char *name)
{
	struct tz *tz = NULL;
	int err = tz_load(&tz, name);
	if (err)
		fail_msg("tz_load(%s): %s", name, strerror(err));
	return tz;
}

/* The UTC instant of a wall-clock time (its first pass when repeated). */
static int64_t at(const struct tz *tz, int y, int mo, int d, int h, int mi, int s)
{
	struct tz_tm l = { .year = y, .month = mo, .day = d, .hour = h, .min = mi, .sec = s };
	int64_t t;
	assert_int_equal(tz_utc(tz, &l, false, &t), 0);
	return t;
}

static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
	return tz_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

static json_t *js(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
	if (!j)
		fail_msg("bad JSON in test: %s: %s", text, e.text);
	return j;
}

static void week(struct sched_shifts *s, const char *text)
{
	struct sched_err err;
	json_t *j = js(text);
	if (sched_shifts_from_week(s, j, "office_hours", &err) != 0)
		fail_msg("%s: %s", text, err.msg);
	json_decref(j);
}

static void schedules(struct sched_shifts *s, const char *text)
{
	struct sched_err err;
	json_t *j = js(text);
	if (sched_shifts_from_schedules(s, j, "schedules", &err) != 0)
		fail_msg("%s: %s", text, err.msg);
	json_decref(j);
}

static struct sched_holidays *holidays(const char *text)
{
	struct sched_err err;
	struct sched_holidays *hs = NULL;
	json_t *j = js(text);
	if (sched_holidays_from_json(&hs, j, "holidays", &err) != 0)
		fail_msg("%s: %s", text, err.msg);
	json_decref(j);
	return hs;
}

#define OPEN(s, tz, ...) assert_true(sched_shifts_in_at(s, tz, at(tz, __VA_ARGS__)))
#define SHUT(s, tz, ...) assert_false(sched_shifts_in_at(s, tz, at(tz, __VA_ARGS__)))

/* 2025-06-02 is a Monday; 2025-06-01 a Sunday. */

static void test_hhmm(void **state)
{
	(void)state;
	unsigned m;
	assert_int_equal(sched_hhmm("00:00", &m), 0);
	assert_int_equal(m, 0);
	assert_int_equal(sched_hhmm("23:59", &m), 0);
	assert_int_equal(m, 1439);
	assert_int_equal(sched_hhmm("09:30", &m), 0);
	assert_int_equal(m, 570);
	const char *bad[] = { "24:00", "9:00", "09:60", "0900", "09:00 ", "ab:cd", "", "-1:00", "09-00", NULL };
	for (int i = 0; bad[i]; i++)
		assert_int_equal(sched_hhmm(bad[i], &m), EINVAL);
	assert_int_equal(sched_hhmm(NULL, &m), EINVAL);
	assert_string_equal(sched_status_name(SCHED_OPEN), "open");
	assert_string_equal(sched_status_name(SCHED_CLOSED), "closed");
	assert_string_equal(sched_status_name(SCHED_HOLIDAY), "holiday");
}

static void test_week(void **state)
{
	(void)state;
	struct tz *tz = zone("Europe/Paris");
	struct sched_shifts s;
	week(&s, "{\"mon\": [{\"start\": \"09:00\", \"end\": \"12:00\"}, {\"start\": \"13:00\", \"end\": \"18:00\"}],"
		 " \"tue\": [{\"start\": \"10:00\", \"end\": \"16:00\"}], \"sat\": [], \"sun\": []}");
	SHUT(&s, tz, 2025, 6, 2, 8, 59, 59);
	OPEN(&s, tz, 2025, 6, 2, 9, 0, 0);
	OPEN(&s, tz, 2025, 6, 2, 11, 59, 59);
	SHUT(&s, tz, 2025, 6, 2, 12, 0, 0);
	SHUT(&s, tz, 2025, 6, 2, 12, 59, 0);
	OPEN(&s, tz, 2025, 6, 2, 13, 0, 0);
	OPEN(&s, tz, 2025, 6, 2, 17, 59, 59);
	SHUT(&s, tz, 2025, 6, 2, 18, 0, 0);
	/* Tuesday has its own hours. */
	SHUT(&s, tz, 2025, 6, 3, 9, 30, 0);
	OPEN(&s, tz, 2025, 6, 3, 15, 0, 0);
	SHUT(&s, tz, 2025, 6, 3, 16, 0, 0);
	/* Days absent or [] are closed. */
	SHUT(&s, tz, 2025, 6, 4, 10, 0, 0);
	SHUT(&s, tz, 2025, 6, 7, 10, 0, 0);
	/* The same shifts the next Monday, and in winter (CET). */
	OPEN(&s, tz, 2025, 6, 9, 9, 0, 0);
	OPEN(&s, tz, 2025, 12, 1, 9, 0, 0);
	SHUT(&s, tz, 2025, 12, 1, 8, 59, 59);
	assert_true(sched_shifts_in_at(&s, tz, utc(2025, 12, 1, 8, 0, 0)));   /* 09:00 CET */
	assert_false(sched_shifts_in_at(&s, tz, utc(2025, 6, 2, 6, 59, 59))); /* 08:59:59 CEST */
	mem_deref(tz);
}

static void test_all_day_and_closed(void **state)
{
	(void)state;
	struct tz *tz = zone("UTC");
	struct sched_shifts s;
	week(&s, "{\"mon\": [{\"start\": \"00:00\", \"end\": \"23:59\"}], \"tue\": [{\"start\": \"00:00\", \"end\": \"00:00\"}],"
		 " \"wed\": [{\"start\": \"09:00\", \"end\": \"09:00\"}], \"thu\": [{\"start\": \"18:00\", \"end\": \"23:59\"}]}");
	OPEN(&s, tz, 2025, 6, 2, 0, 0, 0);
	OPEN(&s, tz, 2025, 6, 2, 12, 0, 0);
	OPEN(&s, tz, 2025, 6, 2, 23, 59, 0);
	OPEN(&s, tz, 2025, 6, 2, 23, 59, 59); /* 23:59 runs to midnight */
	SHUT(&s, tz, 2025, 6, 3, 0, 0, 0);    /* Tuesday 00:00-00:00: closed all day */
	SHUT(&s, tz, 2025, 6, 3, 12, 0, 0);
	SHUT(&s, tz, 2025, 6, 3, 23, 59, 59);
	SHUT(&s, tz, 2025, 6, 4, 9, 0, 0);    /* an empty shift */
	SHUT(&s, tz, 2025, 6, 5, 17, 59, 59);
	OPEN(&s, tz, 2025, 6, 5, 23, 59, 59);
	SHUT(&s, tz, 2025, 6, 6, 0, 0, 0);
	/* Every day open, by a schedule without days. */
	schedules(&s, "[{\"start\": \"00:00\", \"end\": \"23:59\"}]");
	for (int d = 1; d <= 7; d++) {
		OPEN(&s, tz, 2025, 6, d, 0, 0, 0);
		OPEN(&s, tz, 2025, 6, d, 23, 59, 59);
	}
	mem_deref(tz);
}

static void test_across_midnight(void **state)
{
	(void)state;
	struct tz *tz = zone("America/New_York");
	struct sched_shifts s;
	/* Monday night into Tuesday; Sunday night into Monday (the week wraps);
	 * Saturday 23:00-01:00; Wednesday to midnight exactly. */
	week(&s, "{\"mon\": [{\"start\": \"22:00\", \"end\": \"06:00\"}], \"sun\": [{\"start\": \"23:30\", \"end\": \"02:00\"}],"
		 " \"sat\": [{\"start\": \"23:00\", \"end\": \"01:00\"}], \"wed\": [{\"start\": \"22:00\", \"end\": \"00:00\"}]}");
	SHUT(&s, tz, 2025, 6, 2, 21, 59, 59);
	OPEN(&s, tz, 2025, 6, 2, 22, 0, 0);
	OPEN(&s, tz, 2025, 6, 2, 23, 59, 59);
	OPEN(&s, tz, 2025, 6, 3, 0, 0, 0);
	OPEN(&s, tz, 2025, 6, 3, 5, 59, 59);
	SHUT(&s, tz, 2025, 6, 3, 6, 0, 0);
	SHUT(&s, tz, 2025, 6, 3, 22, 30, 0); /* Tuesday has nothing of its own */
	SHUT(&s, tz, 2025, 6, 4, 1, 0, 0);   /* nor does Monday's shift reach Wednesday */
	/* Sunday 23:30 -> Monday 02:00. */
	SHUT(&s, tz, 2025, 6, 1, 23, 29, 59);
	OPEN(&s, tz, 2025, 6, 1, 23, 30, 0);
	OPEN(&s, tz, 2025, 6, 2, 0, 0, 0);
	OPEN(&s, tz, 2025, 6, 2, 1, 59, 59);
	SHUT(&s, tz, 2025, 6, 2, 2, 0, 0);
	/* Saturday -> Sunday. */
	OPEN(&s, tz, 2025, 6, 7, 23, 0, 0);
	OPEN(&s, tz, 2025, 6, 8, 0, 30, 0);
	SHUT(&s, tz, 2025, 6, 8, 1, 0, 0);
	/* Wednesday 22:00-00:00 ends at midnight. */
	OPEN(&s, tz, 2025, 6, 4, 23, 59, 59);
	SHUT(&s, tz, 2025, 6, 5, 0, 0, 0);
	/* In UTC the Monday night shift is Tuesday 02:00Z to 10:00Z (EDT). */
	assert_true(sched_shifts_in_at(&s, tz, utc(2025, 6, 3, 2, 0, 0)));
	assert_false(sched_shifts_in_at(&s, tz, utc(2025, 6, 3, 1, 59, 59)));
	assert_true(sched_shifts_in_at(&s, tz, utc(2025, 6, 3, 9, 59, 59)));
	assert_false(sched_shifts_in_at(&s, tz, utc(2025, 6, 3, 10, 0, 0)));
	mem_deref(tz);
}

/* The same schedule in zones on either side of UTC: the weekday and the hour are the zone's. */
static void test_zones(void **state)
{
	(void)state;
	struct sched_shifts s;
	schedules(&s, "[{\"days\": [\"mon\"], \"start\": \"09:00\", \"end\": \"17:00\"}]");
	struct tz *utc_z = zone("UTC"), *ny = zone("America/New_York"), *kol = zone("Asia/Kolkata"),
		  *lh = zone("Australia/Lord_Howe");
	/* Monday 2025-06-02 03:30Z: 09:00 in Kolkata, Sunday 23:30 in New York, 14:00 at Lord Howe. */
	int64_t t = utc(2025, 6, 2, 3, 30, 0);
	assert_true(sched_shifts_in_at(&s, kol, t));
	assert_false(sched_shifts_in_at(&s, kol, t - 1));
	assert_false(sched_shifts_in_at(&s, ny, t));
	assert_true(sched_shifts_in_at(&s, lh, t));
	assert_false(sched_shifts_in_at(&s, utc_z, t));
	/* Monday 2025-06-02 20:59:59Z: 16:59:59 in New York, Tuesday already in Kolkata. */
	t = utc(2025, 6, 2, 20, 59, 59);
	assert_true(sched_shifts_in_at(&s, ny, t));
	assert_false(sched_shifts_in_at(&s, ny, t + 1));
	assert_false(sched_shifts_in_at(&s, kol, t));
	/* Lord Howe's Monday 09:00 is Sunday 22:30Z (+10:30 in June). */
	assert_true(sched_shifts_in_at(&s, lh, utc(2025, 6, 1, 22, 30, 0)));
	assert_false(sched_shifts_in_at(&s, lh, utc(2025, 6, 1, 22, 29, 59)));
	mem_deref(utc_z);
	mem_deref(ny);
	mem_deref(kol);
	mem_deref(lh);
}

static void test_dst(void **state)
{
	(void)state;
	struct tz *tz = zone("Europe/Paris");
	struct sched_shifts s;
	/* 2025-03-30 (Sunday), 02:00 CET -> 03:00 CEST at 01:00Z. */
	schedules(&s, "[{\"days\": [\"sun\"], \"start\": \"02:00\", \"end\": \"04:00\"}]");
	assert_false(sched_shifts_in_at(&s, tz, utc(2025, 3, 30, 0, 59, 59))); /* 01:59:59 CET */
	assert_true(sched_shifts_in_at(&s, tz, utc(2025, 3, 30, 1, 0, 0)));   /* 03:00 CEST: opens at the jump */
	assert_true(sched_shifts_in_at(&s, tz, utc(2025, 3, 30, 1, 59, 59)));
	assert_false(sched_shifts_in_at(&s, tz, utc(2025, 3, 30, 2, 0, 0)));  /* 04:00 CEST */
	/* A shift wholly inside the skipped hour never opens that day. */
	schedules(&s, "[{\"days\": [\"sun\"], \"start\": \"02:10\", \"end\": \"02:50\"}]");
	for (int64_t t = utc(2025, 3, 29, 22, 0, 0); t < utc(2025, 3, 30, 22, 0, 0); t += 60)
		assert_false(sched_shifts_in_at(&s, tz, t));
	/* 2025-10-26 (Sunday), 03:00 CEST -> 02:00 CET at 01:00Z: the repeated hour counts twice. */
	schedules(&s, "[{\"days\": [\"sun\"], \"start\": \"02:15\", \"end\": \"02:45\"}]");
	assert_false(sched_shifts_in_at(&s, tz, utc(2025, 10, 26, 0, 14, 59)));
	assert_true(sched_shifts_in_at(&s, tz, utc(2025, 10, 26, 0, 15, 0)));  /* 02:15 CEST */
	assert_false(sched_shifts_in_at(&s, tz, utc(2025, 10, 26, 0, 45, 0)));
	assert_true(sched_shifts_in_at(&s, tz, utc(2025, 10, 26, 1, 15, 0)));  /* 02:15 CET */
	assert_true(sched_shifts_in_at(&s, tz, utc(2025, 10, 26, 1, 44, 59)));
	assert_false(sched_shifts_in_at(&s, tz, utc(2025, 10, 26, 1, 45, 0)));
	/* Office hours 09:00-17:00 keep their wall-clock times on both sides of each change. */
	schedules(&s, "[{\"days\": [\"mon\",\"tue\",\"wed\",\"thu\",\"fri\"], \"start\": \"09:00\", \"end\": \"17:00\"}]");
	assert_true(sched_shifts_in_at(&s, tz, utc(2025, 3, 28, 8, 0, 0)));  /* Friday 09:00 CET */
	assert_true(sched_shifts_in_at(&s, tz, utc(2025, 3, 31, 7, 0, 0)));  /* Monday 09:00 CEST */
	assert_false(sched_shifts_in_at(&s, tz, utc(2025, 3, 31, 6, 59, 59)));
	assert_true(sched_shifts_in_at(&s, tz, utc(2025, 10, 27, 8, 0, 0))); /* Monday 09:00 CET */
	assert_false(sched_shifts_in_at(&s, tz, utc(2025, 10, 27, 7, 0, 0)));
	mem_deref(tz);

	/* Lord Howe: the clock jumps from 02:00 to 02:30 (2025-10-05, 15:30Z the day before),
	 * and goes back from 02:00 to 01:30 (2025-04-06, 15:00Z). */
	tz = zone("Australia/Lord_Howe");
	schedules(&s, "[{\"days\": [\"sun\"], \"start\": \"02:00\", \"end\": \"02:30\"}]");
	for (int64_t t = utc(2025, 10, 4, 13, 0, 0); t < utc(2025, 10, 5, 13, 0, 0); t += 60)
		assert_false(sched_shifts_in_at(&s, tz, t));
	schedules(&s, "[{\"days\": [\"sun\"], \"start\": \"02:00\", \"end\": \"03:00\"}]");
	assert_false(sched_shifts_in_at(&s, tz, utc(2025, 10, 4, 15, 29, 59)));
	assert_true(sched_shifts_in_at(&s, tz, utc(2025, 10, 4, 15, 30, 0))); /* 02:30 LHDT */
	assert_false(sched_shifts_in_at(&s, tz, utc(2025, 10, 4, 16, 0, 0))); /* 03:00 */
	schedules(&s, "[{\"days\": [\"sun\"], \"start\": \"01:40\", \"end\": \"01:50\"}]");
	assert_true(sched_shifts_in_at(&s, tz, utc(2025, 4, 5, 14, 40, 0)));  /* 01:40 +11 */
	assert_false(sched_shifts_in_at(&s, tz, utc(2025, 4, 5, 15, 0, 0)));  /* 01:30 +1030 */
	assert_true(sched_shifts_in_at(&s, tz, utc(2025, 4, 5, 15, 10, 0)));  /* 01:40 +1030 */
	mem_deref(tz);
}

static void test_holidays(void **state)
{
	(void)state;
	struct tz *tz = zone("Europe/Paris");
	struct sched_holidays *hs = holidays(
		"[{\"name\": \"Christmas\", \"start_date\": \"2025-12-25\"},"
		" {\"start_date\": \"2026-04-03\", \"end_date\": \"2026-04-06\"},"
		" {\"start_date\": \"2025-12-31\", \"start_time\": \"12:00\"},"
		" {\"start_date\": \"2026-05-07\", \"start_time\": \"18:00\", \"end_date\": \"2026-05-09\", \"end_time\": \"08:00\"},"
		" {\"start_date\": \"2020-07-14\", \"every_year\": true},"
		" {\"start_date\": \"2024-12-31\", \"start_time\": \"20:00\", \"end_date\": \"2025-01-01\", \"end_time\": \"10:00\", \"every_year\": true},"
		" {\"start_date\": \"2024-02-29\", \"every_year\": true}]");
	assert_int_equal(hs->n, 7);
	struct tz_tm l;
#define HOL(...) (tz_local(tz, at(tz, __VA_ARGS__), &l), sched_holidays_in(hs, &l))
	/* A single day. */
	assert_false(HOL(2025, 12, 24, 23, 59, 59));
	assert_true(HOL(2025, 12, 25, 0, 0, 0));
	assert_true(HOL(2025, 12, 25, 23, 59, 59));
	assert_false(HOL(2025, 12, 26, 0, 0, 0));
	assert_false(HOL(2026, 12, 25, 12, 0, 0)); /* not every year */
	/* A range of days, inclusive. */
	assert_false(HOL(2026, 4, 2, 23, 59, 0));
	assert_true(HOL(2026, 4, 3, 0, 0, 0));
	assert_true(HOL(2026, 4, 5, 12, 0, 0));
	assert_true(HOL(2026, 4, 6, 23, 59, 59));
	assert_false(HOL(2026, 4, 7, 0, 0, 0));
	/* An afternoon. */
	assert_false(HOL(2025, 12, 31, 11, 59, 59));
	assert_true(HOL(2025, 12, 31, 12, 0, 0));
	assert_true(HOL(2025, 12, 31, 23, 59, 59));
	/* One stretch from an evening to a morning two days later (not a daily window). */
	assert_false(HOL(2026, 5, 7, 17, 59, 0));
	assert_true(HOL(2026, 5, 7, 18, 0, 0));
	assert_true(HOL(2026, 5, 8, 12, 0, 0));
	assert_true(HOL(2026, 5, 9, 7, 59, 59));
	assert_false(HOL(2026, 5, 9, 8, 0, 0));
	/* Every year, and over New Year every year. */
	assert_true(HOL(2031, 7, 14, 12, 0, 0));
	assert_false(HOL(2031, 7, 15, 0, 0, 0));
	assert_true(HOL(2019, 7, 14, 0, 0, 0));
	assert_false(HOL(2030, 12, 31, 19, 59, 0));
	assert_true(HOL(2030, 12, 31, 20, 0, 0));
	assert_true(HOL(2031, 1, 1, 9, 59, 59));
	assert_false(HOL(2031, 1, 1, 10, 0, 0));
	/* February 29, only in leap years. */
	assert_true(HOL(2028, 2, 29, 10, 0, 0));
	assert_false(HOL(2028, 3, 1, 10, 0, 0));
	assert_false(HOL(2027, 2, 28, 10, 0, 0));
	assert_false(HOL(2027, 3, 1, 10, 0, 0));
#undef HOL

	/* Holidays outrank office hours. */
	struct sched_shifts s;
	week(&s, "{\"thu\": [{\"start\": \"09:00\", \"end\": \"18:00\"}], \"fri\": [{\"start\": \"09:00\", \"end\": \"18:00\"}]}");
	assert_int_equal(sched_status_at(&s, hs, tz, at(tz, 2025, 12, 25, 10, 0, 0)), SCHED_HOLIDAY);
	assert_int_equal(sched_status_at(&s, hs, tz, at(tz, 2025, 12, 25, 20, 0, 0)), SCHED_HOLIDAY);
	assert_int_equal(sched_status_at(&s, hs, tz, at(tz, 2025, 12, 26, 10, 0, 0)), SCHED_OPEN);
	assert_int_equal(sched_status_at(&s, hs, tz, at(tz, 2025, 12, 26, 20, 0, 0)), SCHED_CLOSED);
	assert_int_equal(sched_status_at(&s, NULL, tz, at(tz, 2025, 12, 25, 10, 0, 0)), SCHED_OPEN);
	assert_int_equal(sched_status_at(NULL, NULL, tz, at(tz, 2025, 12, 27, 3, 0, 0)), SCHED_OPEN);
	assert_int_equal(sched_status_at(NULL, hs, tz, at(tz, 2025, 12, 25, 3, 0, 0)), SCHED_HOLIDAY);
	/* The holiday is the tenant's day: Christmas starts at 23:00Z in Paris, 18:30Z the day before in Kolkata. */
	struct tz *kol = zone("Asia/Kolkata");
	assert_int_equal(sched_status_at(NULL, hs, tz, utc(2025, 12, 24, 22, 59, 59)), SCHED_OPEN);
	assert_int_equal(sched_status_at(NULL, hs, tz, utc(2025, 12, 24, 23, 0, 0)), SCHED_HOLIDAY);
	assert_int_equal(sched_status_at(NULL, hs, kol, utc(2025, 12, 24, 18, 29, 59)), SCHED_OPEN);
	assert_int_equal(sched_status_at(NULL, hs, kol, utc(2025, 12, 24, 18, 30, 0)), SCHED_HOLIDAY);
	mem_deref(kol);

	/* Built one by one, and empty. */
	struct sched_holidays *one = NULL;
	struct sched_holiday h;
	struct sched_err err;
	json_t *j = js("{\"start_date\": \"2025-08-15\"}");
	assert_int_equal(sched_holidays_alloc(&one), 0);
	assert_false(sched_holidays_in(one, &l));
	assert_false(sched_holidays_in(NULL, &l));
	assert_int_equal(sched_holiday_from_json(&h, j, NULL, &err), 0);
	for (int i = 0; i < 20; i++)
		assert_int_equal(sched_holidays_add(one, &h), 0);
	tz_local(tz, at(tz, 2025, 8, 15, 9, 0, 0), &l);
	assert_true(sched_holiday_in(&h, &l));
	assert_true(sched_holidays_in(one, &l));
	json_decref(j);
	mem_deref(one);
	mem_deref(hs);
	mem_deref(tz);
}

/* ---------------------------------------------------------------- JSON errors */

typedef int(parse_fn)(const char *text, struct sched_err *err);

static int parse_week(const char *text, struct sched_err *err)
{
	struct sched_shifts s;
	json_t *j = js(text);
	int e = sched_shifts_from_week(&s, j, "office_hours", err);
	json_decref(j);
	return e;
}

static int parse_schedules(const char *text, struct sched_err *err)
{
	struct sched_shifts s;
	json_t *j = js(text);
	int e = sched_shifts_from_schedules(&s, j, "forwarding.unconditional.schedules", err);
	json_decref(j);
	return e;
}

static int parse_holiday(const char *text, struct sched_err *err)
{
	struct sched_holiday h;
	json_t *j = js(text);
	int e = sched_holiday_from_json(&h, j, "holiday", err);
	json_decref(j);
	return e;
}

static int parse_holidays(const char *text, struct sched_err *err)
{
	struct sched_holidays *hs = NULL;
	json_t *j = js(text);
	int e = sched_holidays_from_json(&hs, j, "holidays", err);
	json_decref(j);
	mem_deref(hs);
	return e;
}

static void refused(parse_fn *fn, const char *text, int ret, const char *code, const char *field, const char *msg)
{
	struct sched_err err;
	memset(&err, 0, sizeof(err));
	int e = fn(text, &err);
	if (e != ret || !err.code || strcmp(err.code, code) != 0 || strcmp(err.field, field) != 0 ||
	    strcmp(err.msg, msg) != 0)
		fail_msg("%s: got %d %s %s \"%s\"", text, e, err.code ? err.code : "-", err.field, err.msg);
}

static void test_json_errors(void **state)
{
	(void)state;
	const char *hhmm = "must be a time HH:MM (00:00 to 23:59)";
	char msg[400];
#define BAD(fn, text, code, field, why)                                   \
	do {                                                              \
		snprintf(msg, sizeof(msg), "%s: %s", field, why);         \
		refused(fn, text, EINVAL, code, field, msg);              \
	} while (0)
	/* Office hours. */
	BAD(parse_week, "[]", "invalid_field", "office_hours", "must be an object");
	BAD(parse_week, "{\"monday\": []}", "unknown_field", "office_hours.monday",
	    "unknown field (the days are mon|tue|wed|thu|fri|sat|sun)");
	BAD(parse_week, "{\"mon\": {}}", "invalid_field", "office_hours.mon", "must be an array");
	BAD(parse_week, "{\"mon\": [\"09:00-17:00\"]}", "invalid_field", "office_hours.mon[0]", "must be an object");
	BAD(parse_week, "{\"tue\": [{\"start\": \"09:00\", \"end\": \"12:00\"}, {\"end\": \"17:00\"}]}", "missing_field",
	    "office_hours.tue[1].start", "is required");
	BAD(parse_week, "{\"wed\": [{\"start\": \"09:00\"}]}", "missing_field", "office_hours.wed[0].end", "is required");
	BAD(parse_week, "{\"thu\": [{\"start\": \"24:00\", \"end\": \"12:00\"}]}", "invalid_field",
	    "office_hours.thu[0].start", hhmm);
	BAD(parse_week, "{\"fri\": [{\"start\": \"09:00\", \"end\": 1200}]}", "invalid_field", "office_hours.fri[0].end",
	    hhmm);
	BAD(parse_week, "{\"sat\": [{\"start\": \"9:00\", \"end\": \"12:00\"}]}", "invalid_field",
	    "office_hours.sat[0].start", hhmm);
	BAD(parse_week, "{\"sun\": [{\"start\": \"09:00\", \"end\": \"12:60\"}]}", "invalid_field",
	    "office_hours.sun[0].end", hhmm);
	BAD(parse_week, "{\"mon\": [{\"start\": \"09:00\", \"end\": \"12:00\", \"days\": [\"tue\"]}]}", "unknown_field",
	    "office_hours.mon[0].days", "unknown field");
	BAD(parse_week,
	    "{\"mon\": [{\"start\": \"01:00\", \"end\": \"02:00\"}, {\"start\": \"03:00\", \"end\": \"04:00\"},"
	    " {\"start\": \"05:00\", \"end\": \"06:00\"}, {\"start\": \"07:00\", \"end\": \"08:00\"},"
	    " {\"start\": \"09:00\", \"end\": \"10:00\"}, {\"start\": \"11:00\", \"end\": \"12:00\"},"
	    " {\"start\": \"13:00\", \"end\": \"14:00\"}, {\"start\": \"15:00\", \"end\": \"16:00\"},"
	    " {\"start\": \"17:00\", \"end\": \"18:00\"}]}",
	    "invalid_field", "office_hours.mon", "at most 8 items");
	/* Forwarding schedules. */
	const char *f = "forwarding.unconditional.schedules";
	BAD(parse_schedules, "{}", "invalid_field", f, "must be an array");
	BAD(parse_schedules, "[1]", "invalid_field", "forwarding.unconditional.schedules[0]", "must be an object");
	BAD(parse_schedules, "[{\"days\": [\"mon\", \"monday\"], \"start\": \"09:00\", \"end\": \"12:00\"}]",
	    "invalid_field", "forwarding.unconditional.schedules[0].days[1]", "must be one of mon|tue|wed|thu|fri|sat|sun");
	BAD(parse_schedules, "[{\"days\": [\"mon\"], \"start\": \"09:00\", \"end\": \"12:00\"}, {\"days\": \"mon\"}]",
	    "invalid_field", "forwarding.unconditional.schedules[1].days", "must be an array");
	BAD(parse_schedules, "[{\"days\": [3]}]", "invalid_field", "forwarding.unconditional.schedules[0].days[0]",
	    "must be one of mon|tue|wed|thu|fri|sat|sun");
	BAD(parse_schedules, "[{\"days\": [\"sun\"], \"start\": \"25:00\", \"end\": \"12:00\"}]", "invalid_field",
	    "forwarding.unconditional.schedules[0].start", hhmm);
	/* More shifts than a set holds. */
	char big[8192] = "[";
	for (int i = 0; i < SCHED_SHIFTS_MAX + 1; i++)
		strcat(big, i ? ",{\"days\":[\"mon\"]}" : "{\"days\":[\"mon\"]}");
	strcat(big, "]");
	snprintf(msg, sizeof(msg), "forwarding.unconditional.schedules[%d]: at most %d shifts in all", SCHED_SHIFTS_MAX,
		 SCHED_SHIFTS_MAX);
	char field[100];
	snprintf(field, sizeof(field), "forwarding.unconditional.schedules[%d]", SCHED_SHIFTS_MAX);
	refused(parse_schedules, big, ENOSPC, "invalid_field", field, msg);
	/* Holidays. */
	BAD(parse_holiday, "\"2025-12-25\"", "invalid_field", "holiday", "must be an object");
	BAD(parse_holiday, "{\"name\": \"x\"}", "missing_field", "holiday.start_date", "is required");
	const char *datewhy = "must be a date YYYY-MM-DD (1900 to 9999)";
	BAD(parse_holiday, "{\"start_date\": \"2025-02-29\"}", "invalid_field", "holiday.start_date", datewhy);
	BAD(parse_holiday, "{\"start_date\": \"2025-2-3\"}", "invalid_field", "holiday.start_date", datewhy);
	BAD(parse_holiday, "{\"start_date\": \"2025-13-01\"}", "invalid_field", "holiday.start_date", datewhy);
	BAD(parse_holiday, "{\"start_date\": \"1899-12-31\"}", "invalid_field", "holiday.start_date", datewhy);
	BAD(parse_holiday, "{\"start_date\": 20251225}", "invalid_field", "holiday.start_date", datewhy);
	BAD(parse_holiday, "{\"start_date\": \"2025-12-25\", \"end_date\": \"2025-12-24\"}", "invalid_field",
	    "holiday.end_date", "must not be before start_date");
	BAD(parse_holiday, "{\"start_date\": \"2025-12-25\", \"end_date\": \"2025/12/26\"}", "invalid_field",
	    "holiday.end_date", datewhy);
	BAD(parse_holiday, "{\"start_date\": \"2025-12-25\", \"start_time\": \"14:00\", \"end_time\": \"13:00\"}",
	    "invalid_field", "holiday.end_time", "must be after start_time");
	BAD(parse_holiday, "{\"start_date\": \"2025-12-25\", \"start_time\": \"14:00\", \"end_time\": \"14:00\"}",
	    "invalid_field", "holiday.end_time", "must be after start_time");
	BAD(parse_holiday, "{\"start_date\": \"2025-12-25\", \"start_time\": \"2pm\"}", "invalid_field",
	    "holiday.start_time", hhmm);
	BAD(parse_holiday, "{\"start_date\": \"2025-12-25\", \"every_year\": \"yes\"}", "invalid_field",
	    "holiday.every_year", "must be a boolean");
	BAD(parse_holiday, "{\"start_date\": \"2025-12-25\", \"end_date\": \"2027-01-01\", \"every_year\": true}",
	    "invalid_field", "holiday.end_date", "must be within a year of start_date with every_year");
	BAD(parse_holiday, "{\"start_date\": \"2025-06-01\", \"end_date\": \"2026-06-02\", \"every_year\": true}",
	    "invalid_field", "holiday.end_date", "must be within a year of start_date with every_year");
	BAD(parse_holidays, "{}", "invalid_field", "holidays", "must be an array");
	BAD(parse_holidays, "[{\"start_date\": \"2025-12-25\"}, {\"start_date\": \"x\"}]", "invalid_field",
	    "holidays[1].start_date", datewhy);
	/* Without a field prefix the paths start at the member. */
	struct sched_err err;
	struct sched_shifts s;
	json_t *j = js("{\"mon\": [{\"start\": \"x\", \"end\": \"12:00\"}]}");
	assert_int_equal(sched_shifts_from_week(&s, j, NULL, &err), EINVAL);
	assert_string_equal(err.field, "mon[0].start");
	json_decref(j);
	/* A NULL err is allowed. */
	j = js("[]");
	assert_int_equal(sched_shifts_from_week(&s, j, "x", NULL), EINVAL);
	json_decref(j);
	/* Adding by strings. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(sched_shifts_add(&s, 1, "09:00", "9:30"), EINVAL);
	assert_int_equal(sched_shifts_add(&s, 0x80, "09:00", "09:30"), EINVAL);
	for (int i = 0; i < SCHED_SHIFTS_MAX; i++)
		assert_int_equal(sched_shifts_add(&s, 1, "09:00", "09:30"), 0);
	assert_int_equal(sched_shifts_add(&s, 1, "09:00", "09:30"), ENOSPC);
#undef BAD
}

/* ---------------------------------------------------------------- forwarding shapes */

static void test_unconditional(void **state)
{
	(void)state;
	struct tz *tz = zone("Europe/Paris");
	struct sched_err err;
	bool on;
	/* The API's settings shape, as stored. */
	json_t *set = js("{\"forwarding\": {\"unconditional\": {\"mode\": \"schedule\", \"destination\": {\"action\": \"number\","
			 " \"number\": \"102\"}, \"schedules\": [{\"days\": [\"mon\", \"wed\"], \"start\": \"09:00\", \"end\": \"12:00\"},"
			 " {\"days\": [\"fri\"], \"start\": \"18:00\", \"end\": \"08:00\"}]}}}");
	json_t *un = json_object_get(json_object_get(set, "forwarding"), "unconditional");
#define ACTIVE(...)                                                                                        \
	(assert_int_equal(sched_unconditional_active(un, tz, at(tz, __VA_ARGS__), &on, "forwarding.unconditional", \
						     &err), 0),                                                  \
	 on)
	assert_true(ACTIVE(2025, 6, 2, 9, 0, 0));
	assert_true(ACTIVE(2025, 6, 2, 11, 59, 59));
	assert_false(ACTIVE(2025, 6, 2, 12, 0, 0));
	assert_false(ACTIVE(2025, 6, 3, 10, 0, 0));
	assert_true(ACTIVE(2025, 6, 4, 10, 0, 0));
	assert_true(ACTIVE(2025, 6, 6, 23, 0, 0)); /* Friday night into Saturday morning */
	assert_true(ACTIVE(2025, 6, 7, 7, 59, 59));
	assert_false(ACTIVE(2025, 6, 7, 8, 0, 0));
	json_object_set_new(un, "mode", json_string("always"));
	assert_true(ACTIVE(2025, 6, 3, 10, 0, 0));
	json_object_set_new(un, "mode", json_string("off"));
	assert_false(ACTIVE(2025, 6, 2, 10, 0, 0));
#undef ACTIVE
	int64_t t = at(tz, 2025, 6, 2, 10, 0, 0);
	json_object_set_new(un, "mode", json_string("sometimes"));
	assert_int_equal(sched_unconditional_active(un, tz, t, &on, "forwarding.unconditional", &err), EINVAL);
	assert_string_equal(err.msg, "forwarding.unconditional.mode: must be one of off|always|schedule");
	json_object_del(un, "mode");
	assert_int_equal(sched_unconditional_active(un, tz, t, &on, "forwarding.unconditional", &err), EINVAL);
	assert_string_equal(err.code, "missing_field");
	assert_string_equal(err.field, "forwarding.unconditional.mode");
	json_object_set_new(un, "mode", json_string("schedule"));
	json_object_del(un, "schedules");
	assert_int_equal(sched_unconditional_active(un, tz, t, &on, "forwarding.unconditional", &err), EINVAL);
	assert_string_equal(err.msg, "forwarding.unconditional.schedules: is required in schedule mode");
	json_object_set_new(un, "schedules", json_pack("[{s:[s], s:s, s:s}]", "days", "mon", "start", "9h", "end", "12:00"));
	assert_int_equal(sched_unconditional_active(un, tz, t, &on, "forwarding.unconditional", &err), EINVAL);
	assert_string_equal(err.msg, "forwarding.unconditional.schedules[0].start: must be a time HH:MM (00:00 to 23:59)");
	json_decref(set);

	/* An exception rule's shift: caller_id and destination are not the schedule's. */
	struct sched_shifts s = { 0 };
	json_t *ex = js("{\"caller_id\": \"555\", \"destination\": {\"action\": \"hangup\"}}");
	assert_int_equal(sched_shifts_add_json(&s, ex, "forwarding.exceptions[0]", &err), 0);
	for (int d = 1; d <= 7; d++)
		assert_true(sched_shifts_in_at(&s, tz, at(tz, 2025, 6, d, (d * 5) % 24, 0, 0)));
	json_decref(ex);
	memset(&s, 0, sizeof(s));
	ex = js("{\"caller_id\": \"555\", \"days\": [\"sat\", \"sun\"], \"start\": \"20:00\"}");
	assert_int_equal(sched_shifts_add_json(&s, ex, "forwarding.exceptions[0]", &err), 0);
	assert_true(sched_shifts_in_at(&s, tz, at(tz, 2025, 6, 7, 23, 59, 59)));
	assert_false(sched_shifts_in_at(&s, tz, at(tz, 2025, 6, 8, 19, 59, 59)));
	assert_false(sched_shifts_in_at(&s, tz, at(tz, 2025, 6, 9, 0, 0, 0)));
	json_decref(ex);
	/* Days []: no restriction by day, as absent. */
	schedules(&s, "[{\"days\": [], \"start\": \"11:00\", \"end\": \"13:00\"}]");
	for (int d = 1; d <= 7; d++) {
		assert_true(sched_shifts_in_at(&s, tz, at(tz, 2025, 6, d, 12, 0, 0)));
		assert_false(sched_shifts_in_at(&s, tz, at(tz, 2025, 6, d, 13, 0, 0)));
	}
	mem_deref(tz);
}

/* ---------------------------------------------------------------- next change */

static void expect_next(const struct sched_shifts *s, const struct sched_holidays *hs, const struct tz *tz,
			int64_t *t, int64_t want, enum sched_status st)
{
	int64_t next;
	assert_int_equal(sched_next_change(s, hs, tz, *t, &next), 0);
	if (next != want)
		fail_msg("next change after %lld: %lld, want %lld", (long long)*t, (long long)next, (long long)want);
	assert_int_equal(sched_status_at(s, hs, tz, next), st);
	assert_int_not_equal(sched_status_at(s, hs, tz, next - 1), st);
	*t = next;
}

static void test_next_change(void **state)
{
	(void)state;
	struct tz *tz = zone("Europe/Paris");
	struct sched_shifts s;
	week(&s, "{\"mon\": [{\"start\": \"09:00\", \"end\": \"18:00\"}], \"tue\": [{\"start\": \"09:00\", \"end\": \"18:00\"}],"
		 " \"fri\": [{\"start\": \"09:00\", \"end\": \"18:00\"}]}");
	struct sched_holidays *hs = holidays("[{\"start_date\": \"2025-06-09\"}]");
	int64_t t = at(tz, 2025, 6, 6, 17, 0, 0); /* Friday */
	expect_next(&s, hs, tz, &t, at(tz, 2025, 6, 6, 18, 0, 0), SCHED_CLOSED);
	expect_next(&s, hs, tz, &t, at(tz, 2025, 6, 9, 0, 0, 0), SCHED_HOLIDAY);  /* Whit Monday */
	expect_next(&s, hs, tz, &t, at(tz, 2025, 6, 10, 0, 0, 0), SCHED_CLOSED);
	expect_next(&s, hs, tz, &t, at(tz, 2025, 6, 10, 9, 0, 0), SCHED_OPEN);
	expect_next(&s, hs, tz, &t, at(tz, 2025, 6, 10, 18, 0, 0), SCHED_CLOSED);
	expect_next(&s, hs, tz, &t, at(tz, 2025, 6, 13, 9, 0, 0), SCHED_OPEN);
	/* Across the spring-forward night: open 01:00-03:00 every day. */
	schedules(&s, "[{\"start\": \"01:00\", \"end\": \"03:00\"}]");
	t = at(tz, 2025, 3, 29, 4, 0, 0);
	expect_next(&s, NULL, tz, &t, utc(2025, 3, 30, 0, 0, 0), SCHED_OPEN);
	expect_next(&s, NULL, tz, &t, utc(2025, 3, 30, 1, 0, 0), SCHED_CLOSED); /* the clock jumps to 03:00 */
	expect_next(&s, NULL, tz, &t, utc(2025, 3, 30, 23, 0, 0), SCHED_OPEN);  /* 01:00 CEST */
	/* Nothing ever changes. */
	int64_t next;
	schedules(&s, "[{\"start\": \"00:00\", \"end\": \"23:59\"}]");
	assert_int_equal(sched_next_change(&s, NULL, tz, t, &next), ENOENT);
	assert_int_equal(sched_next_change(NULL, NULL, tz, t, &next), ENOENT);
	memset(&s, 0, sizeof(s));
	assert_int_equal(sched_next_change(&s, NULL, tz, t, &next), ENOENT);
	/* A holiday months ahead is still found. */
	mem_deref(hs);
	hs = holidays("[{\"start_date\": \"2026-01-01\"}]");
	expect_next(&s, hs, tz, &t, at(tz, 2026, 1, 1, 0, 0, 0), SCHED_HOLIDAY);
	mem_deref(hs);
	mem_deref(tz);
}

/* sched_next_change against a walk minute by minute, for random shifts and
 * holidays in zones with half-hour offsets and DST (every offset is whole
 * minutes, so the change falls on a UTC minute). */
static void test_next_change_walk(void **state)
{
	(void)state;
	const char *zones[] = { "Europe/Paris", "Australia/Lord_Howe", "Asia/Kolkata", "America/New_York" };
	uint64_t r = 12345;
	for (int round = 0; round < 120; round++) {
		struct tz *tz = zone(zones[round % 4]);
		struct sched_shifts s = { 0 };
		int n = 1 + (int)((r = r * 6364136223846793005ULL + 1442695040888963407ULL) >> 60);
		for (int i = 0; i < n; i++) {
			char a[6], b[6];
			r = r * 6364136223846793005ULL + 1442695040888963407ULL;
			unsigned sa = (unsigned)(r >> 33) % 1440, sb = (unsigned)(r >> 13) % 1440;
			snprintf(a, sizeof(a), "%02u:%02u", sa / 60 % 24, sa % 60);
			snprintf(b, sizeof(b), "%02u:%02u", sb / 60 % 24, (sb % 4 == 0) ? 0 : sb % 60);
			assert_int_equal(sched_shifts_add(&s, (uint8_t)((r >> 50) & 0x7f), a, b), 0);
		}
		struct sched_holidays *hs = NULL;
		assert_int_equal(sched_holidays_alloc(&hs), 0);
		r = r * 6364136223846793005ULL + 1442695040888963407ULL;
		int64_t base = utc(2025, 1, 1, 0, 0, 0) + (int64_t)((r >> 20) % (366u * 86400u)) / 60 * 60;
		struct sched_holiday h = { .start = (base / 60) + 1440 * 2 + 17, .end = (base / 60) + 1440 * 3 + 300 };
		if (round % 2)
			assert_int_equal(sched_holidays_add(hs, &h), 0);
		int64_t t = base;
		for (int step = 0; step < 6; step++) {
			int64_t next, walk = t + 60 - ((t % 60) + 60) % 60;
			enum sched_status st = sched_status_at(&s, hs, tz, t);
			int err = sched_next_change(&s, hs, tz, t, &next);
			while (walk <= t + 10 * 86400 && sched_status_at(&s, hs, tz, walk) == st)
				walk += 60;
			if (walk > t + 10 * 86400) {
				if (err == 0 && next <= t + 10 * 86400)
					fail_msg("%s: walk finds no change after %lld, next_change %lld", zones[round % 4],
						 (long long)t, (long long)next);
				break;
			}
			assert_int_equal(err, 0);
			if (next != walk)
				fail_msg("%s round %d: after %lld next_change %lld, walk %lld", zones[round % 4], round,
					 (long long)t, (long long)next, (long long)walk);
			t = next;
		}
		mem_deref(hs);
		mem_deref(tz);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hhmm),
		cmocka_unit_test(test_week),
		cmocka_unit_test(test_all_day_and_closed),
		cmocka_unit_test(test_across_midnight),
		cmocka_unit_test(test_zones),
		cmocka_unit_test(test_dst),
		cmocka_unit_test(test_holidays),
		cmocka_unit_test(test_json_errors),
		cmocka_unit_test(test_unconditional),
		cmocka_unit_test(test_next_change),
		cmocka_unit_test(test_next_change_walk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
