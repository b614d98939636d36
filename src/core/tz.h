/* Time zones from the system's tz database (TZif files, RFC 8536 versions 1 to 4),
 * read into objects of their own: pbxd never sets the process-global TZ (each
 * tenant has its zone, and setenv/tzset are neither per tenant nor thread-safe).
 *
 * A zone answers what the wall clock says at a UTC instant (tz_local), which UTC
 * instant a wall-clock time is (tz_utc) and when its rule next changes (tz_next).
 * Past the file's last transition the footer's POSIX TZ string decides (e.g.
 * "CET-1CEST,M3.5.0,M10.5.0/3"), so instants in 2100 are as right as the rule.
 *
 * A zone is immutable once loaded and freed with mem_deref(). Reference counts
 * are not atomic (core/mem.h): a zone stays in the thread that holds it; another
 * thread loads its own. Errors are errno values: EINVAL a bad name or argument,
 * ENOENT an unknown zone, EBADMSG a file that is not valid TZif (or a bad TZ
 * string), ENOTSUP a zone counting leap seconds ("right/..."), EFBIG a file over
 * TZ_FILE_MAX, ENOMEM. */
#ifndef CORE_TZ_H
#define CORE_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TZ_DIR "/usr/share/zoneinfo" /* Debian's tzdata */

enum {
	TZ_NAME_MAX = 255,        /* longest zone name */
	TZ_FILE_MAX = 256 * 1024, /* largest TZif file read (real ones are under 5 KiB) */
	TZ_ABBR_SZ = 16,          /* room for an abbreviation ("CEST", "+1030") */
};

/* Instants handled: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z. tz_local clamps
 * to this range. */
#define TZ_TIME_MIN INT64_C(-62135596800)
#define TZ_TIME_MAX INT64_C(253402300799)

struct tz;

/* A wall-clock reading in a zone. */
struct tz_tm {
	int year;               /* 2025 */
	int month;              /* 1 to 12 */
	int day;                /* 1 to 31 */
	int wday;               /* 0 Sunday to 6 Saturday, as struct tm */
	int yday;               /* 0 to 365 */
	int hour, min, sec;     /* 0-23, 0-59, 0-59 */
	int32_t utcoff;         /* seconds east of UTC: +3600 in CET, -18000 in EST */
	bool is_dst;
	char abbr[TZ_ABBR_SZ];  /* as the zone names it (truncated if longer) */
};

/* A zone name as the tz database spells it: 1 to TZ_NAME_MAX characters of
 * [A-Za-z0-9_+-/], no leading, trailing or doubled "/", no "..". */
bool tz_name_valid(const char *name);

/* Loads the zone name ("Europe/Paris", "UTC") from TZ_DIR, or from dir. */
int tz_load(struct tz **tzp, const char *name);
int tz_load_dir(struct tz **tzp, const char *dir, const char *name);
/* The zone from TZif bytes (any content: this is what the fuzzer drives); name
 * is what tz_name() returns. */
int tz_parse(struct tz **tzp, const char *name, const void *data, size_t len);
/* The zone of a POSIX TZ string alone ("UTC0", "EST5EDT,M3.2.0,M11.1.0",
 * "<+0530>-5:30"), with RFC 8536's version 3 extensions. */
int tz_posix(struct tz **tzp, const char *spec);

const char *tz_name(const struct tz *tz);

/* The wall clock of tz at utc_s (seconds since the epoch, clamped to
 * TZ_TIME_MIN..TZ_TIME_MAX). */
void tz_local(const struct tz *tz, int64_t utc_s, struct tz_tm *out);

/* The UTC instant of a wall-clock time: year, month, day, hour, min and sec of
 * *local are read (year 1 to 9999, each field in range, else EINVAL); the rest
 * is ignored. A time the clock shows twice (the repeated hour when DST ends)
 * gives its first instant, or its last with later. A time the clock skips (the
 * hour lost when DST starts) gives the instant of the jump, the first whose wall
 * clock is not before it: 02:30 on Paris's spring-forward day is 01:00:00Z,
 * when the clock goes from 01:59:59 CET to 03:00:00 CEST. */
int tz_utc(const struct tz *tz, const struct tz_tm *local, bool later, int64_t *utc_s);

/* The first instant after utc_s at which the zone's offset, DST flag or
 * abbreviation may change (a transition of the file or of its rule); ENOENT
 * when there is none (a zone without DST past its last transition). */
int tz_next(const struct tz *tz, int64_t utc_s, int64_t *next);

/* Days since 1970-01-01 of a proleptic Gregorian date (no range check), and
 * the weekday of such a day number (0 Sunday). */
int64_t tz_days(int year, int month, int day);
int tz_wday(int64_t days);
/* Days in a month (1 to 12) of a year. */
int tz_mdays(int year, int month);

/* A cache of loaded zones by name, for one thread (the signalling thread keeps
 * one for its tenants). Only zones that loaded are kept; a tzdata upgrade is
 * seen by a new cache. Free with mem_deref(). */
struct tz_cache;

int tz_cache_alloc(struct tz_cache **cp, const char *dir); /* dir NULL: TZ_DIR */
/* A new reference to the zone (the caller mem_derefs it), loaded on first use. */
int tz_cache_get(struct tz_cache *c, const char *name, struct tz **tzp);

#endif
