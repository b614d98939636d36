/* Unit tests for time zones (src/core/tz.c). Method: known instants of the
 * tz database's zones (Europe/Paris, America/New_York, Asia/Kolkata, Australia/
 * Lord_Howe's half-hour DST) on both DST changes, checked by hand; tz_local
 * against glibc's localtime_r under setenv("TZ") for many random instants of
 * 1970-2100 in a dozen zones and for POSIX TZ strings (this test is single
 * threaded, the only place pbxd may touch TZ); tz_utc and tz_next checked for
 * consistency with tz_local on the same instants; TZif files built here
 * (versions 1 to 3, footer-only, all-year DST) and real files truncated and
 * corrupted; bad zone names; the cache. Needs /usr/share/zoneinfo (tzdata). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/mem.h"
#include "core/tz.h"

/* ---------------------------------------------------------------- helpers */

static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
	return tz_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

static struct tz *load(const char *name)
{
	struct tz *tz = NULL;
	int err = tz_load(&tz, name);
	if (err)
		fail_msg("tz_load(%s): %s", name, strerror(err));
	return tz;
}

/* The wall clock of tz at t is y-mo-d h:mi:s with offset off and that DST flag and abbreviation. */
static void expect(const struct tz *tz, int64_t t, int y, int mo, int d, int h, int mi, int s, int32_t off,
		   bool dst, const char *abbr)
{
	struct tz_tm l;
	tz_local(tz, t, &l);
	if (l.year != y || l.month != mo || l.day != d || l.hour != h || l.min != mi || l.sec != s ||
	    l.utcoff != off || l.is_dst != dst || strcmp(l.abbr, abbr) != 0)
		fail_msg("%s at %lld: got %04d-%02d-%02d %02d:%02d:%02d %+d %d %s, want %04d-%02d-%02d "
			 "%02d:%02d:%02d %+d %d %s",
			 tz_name(tz), (long long)t, l.year, l.month, l.day, l.hour, l.min, l.sec, (int)l.utcoff,
			 l.is_dst, l.abbr, y, mo, d, h, mi, s, (int)off, dst, abbr);
}

static int64_t wall_to_utc(const struct tz *tz, int y, int mo, int d, int h, int mi, bool later)
{
	struct tz_tm l = { .year = y, .month = mo, .day = d, .hour = h, .min = mi };
	int64_t t;
	assert_int_equal(tz_utc(tz, &l, later, &t), 0);
	return t;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible across runs and libcs */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static int64_t rnd_between(int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rnd() % (uint64_t)(hi - lo));
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	static uint8_t buf[TZ_FILE_MAX];
	*len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	uint8_t *copy = malloc(*len);
	assert_non_null(copy);
	memcpy(copy, buf, *len);
	return copy;
}

/* ---------------------------------------------------------------- a TZif writer */

struct tzif {
	char version; /* 0, '2', '3' */
	size_t ntrans;
	int64_t trans[8];
	uint8_t idx[8];
	size_t ntypes;
	int32_t utoff[4];
	uint8_t isdst[4];
	uint8_t desig[4];
	const char *chars; /* NULs inside: give charcnt */
	size_t charcnt;
	const char *footer;
	uint32_t leapcnt;
};

struct out {
	uint8_t b[4096];
	size_t n;
};

static void put(struct out *o, const void *p, size_t n)
{
	assert_true(o->n + n <= sizeof(o->b));
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

static void put32(struct out *o, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	put(o, b, 4);
}

static void block(struct out *o, const struct tzif *z, char version, size_t tsize)
{
	put(o, "TZif", 4);
	put(o, &version, 1);
	put(o, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 15);
	put32(o, 0);
	put32(o, 0);
	put32(o, z->leapcnt);
	put32(o, (uint32_t)z->ntrans);
	put32(o, (uint32_t)z->ntypes);
	put32(o, (uint32_t)z->charcnt);
	for (size_t i = 0; i < z->ntrans; i++) {
		if (tsize == 8)
			put32(o, (uint32_t)((uint64_t)z->trans[i] >> 32));
		put32(o, (uint32_t)z->trans[i]);
	}
	put(o, z->idx, z->ntrans);
	for (size_t i = 0; i < z->ntypes; i++) {
		put32(o, (uint32_t)z->utoff[i]);
		put(o, &z->isdst[i], 1);
		put(o, &z->desig[i], 1);
	}
	put(o, z->chars, z->charcnt);
	for (uint32_t i = 0; i < z->leapcnt; i++) {
		put32(o, 0);
		if (tsize == 8)
			put32(o, 78796800);
		put32(o, 1);
	}
}

static void tzif_write(struct out *o, const struct tzif *z)
{
	o->n = 0;
	block(o, z, z->version, 4);
	if (z->version == 0)
		return;
	block(o, z, z->version, 8);
	put(o, "\n", 1);
	put(o, z->footer, strlen(z->footer));
	put(o, "\n", 1);
}

static int tzif_parse(struct tz **tzp, const struct tzif *z)
{
	struct out o;
	tzif_write(&o, z);
	return tz_parse(tzp, "test", o.b, o.n);
}

/* "XST" +1h from 2000-01-01, "XDT" +2h DST from 2000-06-01, "XST" again from 2000-10-01. */
static struct tzif sample(char version, const char *footer)
{
	return (struct tzif){
		.version = version,
		.ntrans = 3,
		.trans = { utc(2000, 1, 1, 0, 0, 0), utc(2000, 6, 1, 0, 0, 0), utc(2000, 10, 1, 0, 0, 0) },
		.idx = { 1, 2, 1 },
		.ntypes = 3,
		.utoff = { 561, 3600, 7200 },
		.isdst = { 0, 0, 1 },
		.desig = { 0, 4, 8 },
		.chars = "LMT\0XST\0XDT",
		.charcnt = 12,
		.footer = footer,
	};
}

/* ---------------------------------------------------------------- names and loading */

static void test_names(void **state)
{
	(void)state;
	const char *good[] = { "UTC", "Europe/Paris", "America/Argentina/Buenos_Aires", "Etc/GMT+5",
			       "America/Port-au-Prince", "right/UTC" };
	const char *bad[] = { "", "/etc/passwd", "../etc/passwd", "Europe/../../etc/passwd", "Europe/", "Europe//Paris",
			      "Europe/Paris ", "zone.tab", "Europe\\Paris", "Europe/Paris\n", "a..b", NULL };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(tz_name_valid(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tz *tz = NULL;
		assert_false(tz_name_valid(bad[i]));
		assert_int_equal(tz_load(&tz, bad[i]), EINVAL);
		assert_null(tz);
	}
	char longname[TZ_NAME_MAX + 2];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	assert_false(tz_name_valid(longname));
	longname[TZ_NAME_MAX] = 0;
	assert_true(tz_name_valid(longname));

	struct tz *tz = NULL;
	assert_int_equal(tz_load(&tz, "Mars/Olympus_Mons"), ENOENT);
	assert_int_equal(tz_load(&tz, "Europe"), ENOENT);          /* a directory */
	assert_int_equal(tz_load(&tz, "Europe/Paris/x"), ENOENT);  /* under a file */
	assert_int_equal(tz_load(&tz, "europe/paris"), ENOENT);    /* names are case-sensitive */
	assert_null(tz);
	if (access(TZ_DIR "/right/UTC", R_OK) == 0)
		assert_int_equal(tz_load(&tz, "right/UTC"), ENOTSUP); /* counts leap seconds */

	/* A file that is not TZif, and one too large, in a directory of our own. */
	char dir[] = "/tmp/pbxd-tz-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/Bogus", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("# not a zone\n", f);
	fclose(f);
	assert_int_equal(tz_load_dir(&tz, dir, "Bogus"), EBADMSG);
	snprintf(path, sizeof(path), "%s/Huge", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(ftruncate(fileno(f), TZ_FILE_MAX + 1), 0);
	fclose(f);
	assert_int_equal(tz_load_dir(&tz, dir, "Huge"), EFBIG);
	assert_null(tz);
	unlink(path);
	snprintf(path, sizeof(path), "%s/Bogus", dir);
	unlink(path);
	rmdir(dir);
}

static void test_calendar(void **state)
{
	(void)state;
	assert_int_equal(tz_days(1970, 1, 1), 0);
	assert_int_equal(tz_days(2000, 3, 1), 11017);
	assert_int_equal(tz_days(1969, 12, 31), -1);
	assert_int_equal(tz_wday(0), 4);    /* Thursday */
	assert_int_equal(tz_wday(-1), 3);   /* Wednesday */
	assert_int_equal(tz_wday(tz_days(2025, 6, 2)), 1);
	assert_int_equal(tz_mdays(2024, 2), 29);
	assert_int_equal(tz_mdays(2100, 2), 28);
	assert_int_equal(tz_mdays(2000, 2), 29);
	assert_int_equal(tz_mdays(2025, 13), 0);
}

/* ---------------------------------------------------------------- known instants */

static void test_utc(void **state)
{
	(void)state;
	struct tz *tz = load("UTC");
	assert_string_equal(tz_name(tz), "UTC");
	expect(tz, 0, 1970, 1, 1, 0, 0, 0, 0, false, "UTC");
	expect(tz, -1, 1969, 12, 31, 23, 59, 59, 0, false, "UTC");
	expect(tz, utc(2100, 2, 28, 23, 59, 59) + 1, 2100, 3, 1, 0, 0, 0, 0, false, "UTC");
	struct tz_tm l;
	tz_local(tz, utc(2024, 2, 29, 12, 0, 0), &l);
	assert_int_equal(l.wday, 4);
	assert_int_equal(l.yday, 59);
	int64_t next;
	assert_int_equal(tz_next(tz, 0, &next), ENOENT);
	/* Clamped, not overflowed. */
	tz_local(tz, INT64_MIN, &l);
	assert_int_equal(l.year, 1);
	tz_local(tz, INT64_MAX, &l);
	assert_int_equal(l.year, 9999);
	assert_int_equal(l.month, 12);
	assert_int_equal(l.sec, 59);
	mem_deref(tz);
}

static void test_paris(void **state)
{
	(void)state;
	struct tz *tz = load("Europe/Paris");
	/* Spring forward, 2025-03-30: 02:00 CET becomes 03:00 CEST at 01:00Z. */
	expect(tz, utc(2025, 3, 30, 0, 59, 59), 2025, 3, 30, 1, 59, 59, 3600, false, "CET");
	expect(tz, utc(2025, 3, 30, 1, 0, 0), 2025, 3, 30, 3, 0, 0, 7200, true, "CEST");
	/* Fall back, 2025-10-26: 03:00 CEST becomes 02:00 CET at 01:00Z. */
	expect(tz, utc(2025, 10, 26, 0, 30, 0), 2025, 10, 26, 2, 30, 0, 7200, true, "CEST");
	expect(tz, utc(2025, 10, 26, 0, 59, 59), 2025, 10, 26, 2, 59, 59, 7200, true, "CEST");
	expect(tz, utc(2025, 10, 26, 1, 0, 0), 2025, 10, 26, 2, 0, 0, 3600, false, "CET");
	expect(tz, utc(2025, 10, 26, 1, 30, 0), 2025, 10, 26, 2, 30, 0, 3600, false, "CET");
	/* The skipped 02:30 is the jump; the repeated one, its first or second pass. */
	assert_int_equal(wall_to_utc(tz, 2025, 3, 30, 2, 30, false), utc(2025, 3, 30, 1, 0, 0));
	assert_int_equal(wall_to_utc(tz, 2025, 3, 30, 2, 30, true), utc(2025, 3, 30, 1, 0, 0));
	assert_int_equal(wall_to_utc(tz, 2025, 3, 30, 1, 59, false), utc(2025, 3, 30, 0, 59, 0));
	assert_int_equal(wall_to_utc(tz, 2025, 3, 30, 3, 0, false), utc(2025, 3, 30, 1, 0, 0));
	assert_int_equal(wall_to_utc(tz, 2025, 10, 26, 2, 30, false), utc(2025, 10, 26, 0, 30, 0));
	assert_int_equal(wall_to_utc(tz, 2025, 10, 26, 2, 30, true), utc(2025, 10, 26, 1, 30, 0));
	assert_int_equal(wall_to_utc(tz, 2025, 7, 14, 12, 0, true), utc(2025, 7, 14, 10, 0, 0));
	/* Transitions. */
	int64_t next;
	assert_int_equal(tz_next(tz, utc(2025, 1, 1, 0, 0, 0), &next), 0);
	assert_int_equal(next, utc(2025, 3, 30, 1, 0, 0));
	assert_int_equal(tz_next(tz, next, &next), 0);
	assert_int_equal(next, utc(2025, 10, 26, 1, 0, 0));
	/* Far past the file's last transition (2037): the footer's rule decides. */
	expect(tz, utc(2200, 7, 1, 12, 0, 0), 2200, 7, 1, 14, 0, 0, 7200, true, "CEST");
	expect(tz, utc(2200, 1, 1, 12, 0, 0), 2200, 1, 1, 13, 0, 0, 3600, false, "CET");
	/* 2500: last Sunday of March is the 28th, of October the 31st. */
	assert_int_equal(tz_wday(tz_days(2500, 3, 28)), 0);
	assert_int_equal(tz_wday(tz_days(2500, 10, 31)), 0);
	expect(tz, utc(2500, 3, 28, 0, 59, 59), 2500, 3, 28, 1, 59, 59, 3600, false, "CET");
	expect(tz, utc(2500, 3, 28, 1, 0, 0), 2500, 3, 28, 3, 0, 0, 7200, true, "CEST");
	expect(tz, utc(2500, 10, 31, 1, 0, 0), 2500, 10, 31, 2, 0, 0, 3600, false, "CET");
	assert_int_equal(tz_next(tz, utc(2500, 1, 1, 0, 0, 0), &next), 0);
	assert_int_equal(next, utc(2500, 3, 28, 1, 0, 0));
	assert_int_equal(wall_to_utc(tz, 2500, 10, 31, 2, 15, true), utc(2500, 10, 31, 1, 15, 0));
	/* Before 1911, Paris Mean Time (+0:09:21). */
	expect(tz, utc(1900, 1, 1, 0, 0, 0), 1900, 1, 1, 0, 9, 21, 561, false, "PMT");
	mem_deref(tz);
}

static void test_new_york(void **state)
{
	(void)state;
	struct tz *tz = load("America/New_York");
	/* 2025-03-09 02:00 EST -> 03:00 EDT at 07:00Z; 2025-11-02 02:00 EDT -> 01:00 EST at 06:00Z. */
	expect(tz, utc(2025, 3, 9, 6, 59, 59), 2025, 3, 9, 1, 59, 59, -18000, false, "EST");
	expect(tz, utc(2025, 3, 9, 7, 0, 0), 2025, 3, 9, 3, 0, 0, -14400, true, "EDT");
	expect(tz, utc(2025, 11, 2, 5, 59, 59), 2025, 11, 2, 1, 59, 59, -14400, true, "EDT");
	expect(tz, utc(2025, 11, 2, 6, 0, 0), 2025, 11, 2, 1, 0, 0, -18000, false, "EST");
	assert_int_equal(wall_to_utc(tz, 2025, 11, 2, 1, 30, false), utc(2025, 11, 2, 5, 30, 0));
	assert_int_equal(wall_to_utc(tz, 2025, 11, 2, 1, 30, true), utc(2025, 11, 2, 6, 30, 0));
	assert_int_equal(wall_to_utc(tz, 2025, 3, 9, 2, 30, false), utc(2025, 3, 9, 7, 0, 0));
	/* Midnight UTC on a Monday is still Sunday evening in New York. */
	struct tz_tm l;
	tz_local(tz, utc(2025, 6, 2, 0, 30, 0), &l);
	assert_int_equal(l.wday, 0);
	assert_int_equal(l.day, 1);
	expect(tz, utc(2300, 8, 1, 0, 0, 0), 2300, 7, 31, 20, 0, 0, -14400, true, "EDT");
	mem_deref(tz);
}

static void test_kolkata(void **state)
{
	(void)state;
	struct tz *tz = load("Asia/Kolkata");
	expect(tz, utc(2025, 1, 1, 18, 29, 59), 2025, 1, 1, 23, 59, 59, 19800, false, "IST");
	expect(tz, utc(2025, 1, 1, 18, 30, 0), 2025, 1, 2, 0, 0, 0, 19800, false, "IST");
	expect(tz, utc(2150, 6, 1, 0, 0, 0), 2150, 6, 1, 5, 30, 0, 19800, false, "IST");
	int64_t next;
	assert_int_equal(tz_next(tz, utc(2025, 1, 1, 0, 0, 0), &next), ENOENT);
	assert_int_equal(wall_to_utc(tz, 2025, 1, 2, 0, 0, false), utc(2025, 1, 1, 18, 30, 0));
	mem_deref(tz);
}

static void test_lord_howe(void **state)
{
	(void)state;
	struct tz *tz = load("Australia/Lord_Howe");
	/* Half-hour DST: +10:30, +11 from the first Sunday of October 02:00 (15:30Z the day before)
	 * to the first Sunday of April 02:00 DST (15:00Z the day before). */
	expect(tz, utc(2025, 10, 4, 15, 29, 59), 2025, 10, 5, 1, 59, 59, 37800, false, "+1030");
	expect(tz, utc(2025, 10, 4, 15, 30, 0), 2025, 10, 5, 2, 30, 0, 39600, true, "+11");
	expect(tz, utc(2025, 4, 5, 14, 59, 59), 2025, 4, 6, 1, 59, 59, 39600, true, "+11");
	expect(tz, utc(2025, 4, 5, 15, 0, 0), 2025, 4, 6, 1, 30, 0, 37800, false, "+1030");
	assert_int_equal(wall_to_utc(tz, 2025, 10, 5, 2, 15, false), utc(2025, 10, 4, 15, 30, 0));
	assert_int_equal(wall_to_utc(tz, 2025, 4, 6, 1, 45, false), utc(2025, 4, 5, 14, 45, 0));
	assert_int_equal(wall_to_utc(tz, 2025, 4, 6, 1, 45, true), utc(2025, 4, 5, 15, 15, 0));
	/* Past 2037, by the footer; 2200-10-05 is the first Sunday of October. */
	assert_int_equal(tz_wday(tz_days(2200, 10, 5)), 0);
	expect(tz, utc(2200, 10, 4, 15, 30, 0), 2200, 10, 5, 2, 30, 0, 39600, true, "+11");
	expect(tz, utc(2200, 7, 1, 0, 0, 0), 2200, 7, 1, 10, 30, 0, 37800, false, "+1030");
	mem_deref(tz);
}

/* ---------------------------------------------------------------- against glibc */

/* glibc reads the same files; with TZ set, localtime_r is the reference. */
static void against_glibc(const char *tzenv, const struct tz *tz, int n, int64_t lo, int64_t hi)
{
	assert_int_equal(setenv("TZ", tzenv, 1), 0);
	tzset();
	for (int i = 0; i < n; i++) {
		int64_t t = rnd_between(lo, hi);
		struct tz_tm l;
		struct tm g;
		time_t tt = (time_t)t;
		tz_local(tz, t, &l);
		assert_non_null(localtime_r(&tt, &g));
		if (l.year != g.tm_year + 1900 || l.month != g.tm_mon + 1 || l.day != g.tm_mday || l.hour != g.tm_hour ||
		    l.min != g.tm_min || l.sec != g.tm_sec || l.wday != g.tm_wday || l.yday != g.tm_yday ||
		    l.utcoff != g.tm_gmtoff || l.is_dst != (g.tm_isdst > 0) || strcmp(l.abbr, g.tm_zone) != 0)
			fail_msg("%s at %lld: pbxd %04d-%02d-%02d %02d:%02d:%02d %+d dst=%d %s, glibc "
				 "%04d-%02d-%02d %02d:%02d:%02d %+ld dst=%d %s",
				 tzenv, (long long)t, l.year, l.month, l.day, l.hour, l.min, l.sec, (int)l.utcoff,
				 l.is_dst, l.abbr, g.tm_year + 1900, g.tm_mon + 1, g.tm_mday, g.tm_hour, g.tm_min,
				 g.tm_sec, g.tm_gmtoff, g.tm_isdst, g.tm_zone);

		/* tz_utc finds t among the instants showing its wall clock. */
		int64_t first, last;
		assert_int_equal(tz_utc(tz, &l, false, &first), 0);
		assert_int_equal(tz_utc(tz, &l, true, &last), 0);
		if (!(first <= t && t <= last))
			fail_msg("%s at %lld: tz_utc gives %lld..%lld", tzenv, (long long)t, (long long)first,
				 (long long)last);
		/* No change is missed between t and tz_next. */
		int64_t next;
		if (tz_next(tz, t, &next) == 0) {
			assert_true(next > t);
			struct tz_tm before;
			tz_local(tz, next - 1, &before);
			assert_int_equal(before.utcoff, l.utcoff);
			assert_int_equal(before.is_dst, l.is_dst);
		}
	}
	unsetenv("TZ");
	tzset();
}

static void test_glibc_zones(void **state)
{
	(void)state;
	const char *zones[] = { "UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe",
				"Europe/London", "Europe/Dublin", "America/Sao_Paulo", "Pacific/Chatham",
				"America/St_Johns", "Asia/Tehran", "Africa/Casablanca", "America/Nuuk",
				"Antarctica/Troll", "Pacific/Apia", "Australia/Sydney", "America/Santiago" };
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		char env[300];
		struct tz *tz = load(zones[i]);
		snprintf(env, sizeof(env), ":%s", zones[i]);
		against_glibc(env, tz, 20000, 0, utc(2100, 1, 1, 0, 0, 0));
		mem_deref(tz);
	}
}

static void test_glibc_posix(void **state)
{
	(void)state;
	const char *specs[] = { "CET-1CEST,M3.5.0,M10.5.0/3", "EST5EDT,M3.2.0,M11.1.0",
				"<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", "IST-1GMT0,M10.5.0,M3.5.0/1",
				"<-02>2<-01>,M3.5.0/-1,M10.5.0/0", "<+0530>-5:30", "UTC0", "AEST-10AEDT,M10.1.0,M4.1.0/3",
				"XXX3YYY,J60/0,J300/0", "XXX3YYY,59/0,300/23:30", "NZST-12NZDT,M9.5.0,M4.1.0/3",
				"<-03>3<-02>,M3.2.0/-2,M11.1.0/-1" };
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		struct tz *tz = NULL;
		assert_int_equal(tz_posix(&tz, specs[i]), 0);
		against_glibc(specs[i], tz, 5000, utc(1971, 1, 1, 0, 0, 0), utc(2100, 1, 1, 0, 0, 0));
		mem_deref(tz);
	}
}

/* ---------------------------------------------------------------- POSIX strings */

static void test_posix(void **state)
{
	(void)state;
	const char *bad[] = { "", "AB", "CET", "CET-", "CET-25", "CET-1CEST,M13.1.0,M10.5.0", "CET-1CEST,M3.6.0,M10.5.0",
			      "CET-1CEST,M3.5.7,M10.5.0", "CET-1CEST,J0,J100", "CET-1CEST,366,100", "<AB>0",
			      "<ABC0", "CET-1CEST,M3.5.0", "CET-1CEST,M3.5.0/168,M10.5.0", "CET-1:60",
			      "CET-1CEST,M3.5.0,M10.5.0/3x", "CET-1CEST,M3.5.0,M10.5.0,", "1CET", NULL };
	for (size_t i = 0; bad[i]; i++) {
		struct tz *tz = NULL;
		if (tz_posix(&tz, bad[i]) != EBADMSG)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	/* Version 3: DST all year, the end at 25:00 of December 31 meeting next year's start. */
	struct tz *tz = NULL;
	assert_int_equal(tz_posix(&tz, "EST5EDT,0/0,J365/25"), 0);
	for (int i = 0; i < 2000; i++) {
		struct tz_tm l;
		tz_local(tz, rnd_between(utc(1990, 1, 1, 0, 0, 0), utc(2200, 1, 1, 0, 0, 0)), &l);
		assert_true(l.is_dst);
		assert_int_equal(l.utcoff, -14400);
	}
	expect(tz, utc(2030, 1, 1, 5, 0, 0), 2030, 1, 1, 1, 0, 0, -14400, true, "EDT");
	mem_deref(tz);
	/* No rule: the US one since 2007 (glibc would take posixrules' history instead). */
	assert_int_equal(tz_posix(&tz, "EST5EDT"), 0);
	expect(tz, utc(2025, 3, 9, 7, 0, 0), 2025, 3, 9, 3, 0, 0, -14400, true, "EDT");
	expect(tz, utc(2025, 11, 2, 6, 0, 0), 2025, 11, 2, 1, 0, 0, -18000, false, "EST");
	mem_deref(tz);
	/* A DST name without an offset is one hour ahead of standard time. */
	assert_int_equal(tz_posix(&tz, "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1"), 0);
	expect(tz, utc(2030, 7, 1, 12, 0, 0), 2030, 7, 1, 10, 0, 0, -7200, true, "-02");
	mem_deref(tz);
}

/* ---------------------------------------------------------------- TZif built here */

static void test_tzif_versions(void **state)
{
	(void)state;
	struct tz *tz = NULL;
	/* Version 1: no footer; after the last transition its type goes on. */
	struct tzif z = sample(0, "");
	assert_int_equal(tzif_parse(&tz, &z), 0);
	expect(tz, utc(1999, 1, 1, 0, 0, 0), 1999, 1, 1, 0, 9, 21, 561, false, "LMT"); /* before: type 0 */
	expect(tz, utc(2000, 7, 1, 0, 0, 0), 2000, 7, 1, 2, 0, 0, 7200, true, "XDT");
	expect(tz, utc(2030, 7, 1, 0, 0, 0), 2030, 7, 1, 1, 0, 0, 3600, false, "XST");
	int64_t next;
	assert_int_equal(tz_next(tz, utc(2000, 2, 1, 0, 0, 0), &next), 0);
	assert_int_equal(next, utc(2000, 6, 1, 0, 0, 0));
	assert_int_equal(tz_next(tz, utc(2000, 10, 1, 0, 0, 0), &next), ENOENT);
	mem_deref(tz);

	/* Version 2 with a footer: the rule after 2000-10-01. */
	z = sample('2', "XST-1XDT-2,M3.5.0/1,M10.5.0/1");
	assert_int_equal(tzif_parse(&tz, &z), 0);
	expect(tz, utc(2000, 7, 1, 0, 0, 0), 2000, 7, 1, 2, 0, 0, 7200, true, "XDT");
	expect(tz, utc(2031, 7, 1, 0, 0, 0), 2031, 7, 1, 2, 0, 0, 7200, true, "XDT");
	expect(tz, utc(2031, 12, 1, 0, 0, 0), 2031, 12, 1, 1, 0, 0, 3600, false, "XST");
	mem_deref(tz);

	/* Version 2 with an empty footer: like version 1. */
	z = sample('2', "");
	assert_int_equal(tzif_parse(&tz, &z), 0);
	expect(tz, utc(2031, 7, 1, 0, 0, 0), 2031, 7, 1, 1, 0, 0, 3600, false, "XST");
	mem_deref(tz);

	/* Version 3, no transitions: the footer rules every instant (all-year DST). */
	z = (struct tzif){ .version = '3', .ntypes = 1, .utoff = { -14400 }, .isdst = { 1 }, .chars = "EDT",
			   .charcnt = 4, .footer = "EST5EDT,0/0,J365/25" };
	assert_int_equal(tzif_parse(&tz, &z), 0);
	expect(tz, utc(1980, 3, 1, 0, 0, 0), 1980, 2, 29, 20, 0, 0, -14400, true, "EDT");
	mem_deref(tz);

	/* Version 4 is read like 3. */
	z = sample('4', "XST-1");
	assert_int_equal(tzif_parse(&tz, &z), 0);
	mem_deref(tz);
}

static void test_tzif_corrupt(void **state)
{
	(void)state;
	struct tz *tz = NULL;
	struct tzif z;
#define BAD(err_, ...)                                                \
	do {                                                          \
		z = sample('2', "XST-1");                             \
		__VA_ARGS__;                                          \
		assert_int_equal(tzif_parse(&tz, &z), err_);          \
		assert_null(tz);                                      \
	} while (0)
	BAD(EBADMSG, z.version = '1');                          /* no such version */
	BAD(EBADMSG, z.ntypes = 0);                             /* no type */
	BAD(EBADMSG, z.charcnt = 0);                            /* no designations */
	BAD(EBADMSG, z.trans[1] = z.trans[0]);                  /* not ascending */
	BAD(EBADMSG, z.trans[2] = z.trans[0] - 1);
	BAD(EBADMSG, z.idx[1] = 3);                             /* type out of range */
	BAD(EBADMSG, z.desig[2] = 12);                          /* designation out of range */
	BAD(EBADMSG, z.chars = "LMT\0XST\0XDTX"; z.desig[2] = 8); /* designation not terminated */
	BAD(EBADMSG, z.utoff[1] = 93600);                       /* offset out of range */
	BAD(EBADMSG, z.utoff[1] = INT32_MIN);
	BAD(EBADMSG, z.isdst[1] = 2);
	BAD(EBADMSG, z.footer = "XST");                         /* a bad TZ string */
	BAD(EBADMSG, z.footer = "XST-1\nmore");                 /* a newline inside */
	BAD(ENOTSUP, z.leapcnt = 1);                            /* leap seconds */
#undef BAD
	/* Bad magic, and each header count too large for the bytes. */
	struct out o;
	z = sample('2', "XST-1");
	tzif_write(&o, &z);
	for (size_t at = 0; at < 44; at++) {
		uint8_t save = o.b[at];
		o.b[at] = at < 4 ? 'x' : 0xff;
		int err = tz_parse(&tz, "x", o.b, o.n);
		if (at < 5 || (at >= 20 && at < 44))
			assert_int_not_equal(err, 0);
		if (!err)
			tz = mem_deref(tz);
		o.b[at] = save;
	}
	/* Every proper prefix of a valid file is refused: the footer's newline ends it. */
	for (size_t n = 0; n < o.n; n++) {
		int err = tz_parse(&tz, "x", o.b, n);
		if (err != EBADMSG)
			fail_msg("prefix of %zu of %zu bytes: %d", n, o.n, err);
	}
	assert_int_equal(tz_parse(&tz, "x", o.b, o.n), 0);
	tz = mem_deref(tz);
	assert_int_equal(tz_parse(&tz, "x", NULL, 0), EBADMSG);
	assert_int_equal(tz_parse(&tz, "x", o.b, TZ_FILE_MAX + 1), EFBIG);
}

/* Real files: every prefix refused; random byte changes never crash (ASan
 * watches) and what parses still answers within range. */
static void test_tzif_real_damaged(void **state)
{
	(void)state;
	const char *files[] = { TZ_DIR "/Europe/Paris", TZ_DIR "/Australia/Lord_Howe", TZ_DIR "/Asia/Kolkata" };
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		size_t len;
		uint8_t *data = slurp(files[f], &len);
		struct tz *tz = NULL;
		assert_int_equal(tz_parse(&tz, "real", data, len), 0);
		tz = mem_deref(tz);
		for (size_t n = 0; n < len; n++) {
			if (tz_parse(&tz, "real", data, n) != EBADMSG)
				fail_msg("%s: prefix of %zu bytes accepted", files[f], n);
		}
		uint8_t *copy = malloc(len);
		assert_non_null(copy);
		for (int round = 0; round < 3000; round++) {
			memcpy(copy, data, len);
			int flips = 1 + (int)(rnd() % 4);
			for (int k = 0; k < flips; k++)
				copy[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
			if (tz_parse(&tz, "damaged", copy, len) != 0)
				continue;
			for (int k = 0; k < 20; k++) {
				struct tz_tm l;
				tz_local(tz, (int64_t)(rnd() % (UINT64_C(1) << 36)) - (INT64_C(1) << 35), &l);
				assert_true(l.month >= 1 && l.month <= 12 && l.day >= 1 && l.day <= 31);
				assert_true(l.hour >= 0 && l.hour < 24 && l.min >= 0 && l.min < 60 && l.sec >= 0 &&
					    l.sec < 60 && l.wday >= 0 && l.wday < 7);
			}
			tz = mem_deref(tz);
		}
		free(copy);
		free(data);
	}
}

/* ---------------------------------------------------------------- cache */

static void test_cache(void **state)
{
	(void)state;
	struct tz_cache *c = NULL;
	struct tz *a = NULL, *b = NULL, *d = NULL;
	assert_int_equal(tz_cache_alloc(&c, NULL), 0);
	assert_int_equal(tz_cache_get(c, "Europe/Paris", &a), 0);
	assert_int_equal(tz_cache_get(c, "Europe/Paris", &b), 0);
	assert_ptr_equal(a, b);
	assert_int_equal(mem_nrefs(a), 3); /* the cache's and ours */
	assert_int_equal(tz_cache_get(c, "Asia/Kolkata", &d), 0);
	assert_ptr_not_equal(a, d);
	assert_int_equal(tz_cache_get(c, "Nowhere/Town", &b), ENOENT);
	assert_int_equal(tz_cache_get(c, "../x", &b), EINVAL);
	assert_ptr_equal(b, a);
	mem_deref(b);
	mem_deref(c); /* the zones outlive the cache while referenced */
	assert_int_equal(mem_nrefs(a), 1);
	expect(a, utc(2025, 3, 30, 1, 0, 0), 2025, 3, 30, 3, 0, 0, 7200, true, "CEST");
	mem_deref(a);
	mem_deref(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_calendar),
		cmocka_unit_test(test_utc),
		cmocka_unit_test(test_paris),
		cmocka_unit_test(test_new_york),
		cmocka_unit_test(test_kolkata),
		cmocka_unit_test(test_lord_howe),
		cmocka_unit_test(test_glibc_zones),
		cmocka_unit_test(test_glibc_posix),
		cmocka_unit_test(test_posix),
		cmocka_unit_test(test_tzif_versions),
		cmocka_unit_test(test_tzif_corrupt),
		cmocka_unit_test(test_tzif_real_damaged),
		cmocka_unit_test(test_cache),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
