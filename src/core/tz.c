/* Time zones from TZif files (RFC 8536), without the process-global TZ (tz.h).
 *
 * A zone is what a TZif file says: a sorted table of transitions, each naming a
 * local time type (UTC offset, DST flag, abbreviation), and for version 2 and
 * later a footer, a POSIX TZ string, that rules every instant after the last
 * transition. Before the first transition type 0 applies (RFC 8536 §3.2). A
 * version 1 file is read from its 32-bit block; a later one from its 64-bit
 * block, the 32-bit block skipped as the RFC asks.
 *
 * The footer is kept parsed (struct rule). For an instant t past the table, the
 * rule's DST start and end are computed for the years around t, and the last
 * change at or before t decides, which also covers version 3's rules whose
 * transition hours run past the end of a day or a year ("EST5EDT,0/0,J365/25":
 * DST all year).
 *
 * Every count and offset in the file is checked before use; the file is read
 * whole (TZ_FILE_MAX at most) and parsed from memory, so tz_parse is what the
 * fuzzer drives (fuzz/fuzz_tzif.c). */
#include "core/tz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/mem.h"

/* RFC 8536 §3.2: utoff SHOULD be in -89999..93599 (just under -25h and +26h). */
#define UTOFF_MIN (-89999)
#define UTOFF_MAX 93599
/* Any offset lies within this of UTC (tz_utc searches that far). */
#define SPAN_MAX (26 * 3600)

struct ttype {
	int32_t utoff;
	bool isdst;
	char abbr[TZ_ABBR_SZ];
};

/* A POSIX TZ date: Jn (1-365, February 29 never counted), n (0-365, counted) or
 * Mm.w.d (day d of week w of month m; week 5 is the last), at secs past local
 * midnight (version 3: -167 to 167 hours). */
struct when {
	char kind; /* 'J', 'D' or 'M' */
	int n, m, w, d;
	int32_t secs;
};

struct rule {
	struct ttype std, dst;
	bool has_dst;
	struct when start, end; /* DST starts at start (std time), ends at end (DST time) */
};

struct tz {
	char *name;
	size_t ntrans;
	int64_t *trans;   /* ascending */
	uint8_t *idx;     /* type of each transition */
	size_t ntypes;
	struct ttype *types;
	bool has_rule;    /* the footer (or tz_posix's string) */
	struct rule rule;
};

/* ---------------------------------------------------------------- calendar */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian). */
int64_t tz_days(int year, int month, int day)
{
	int64_t y = (int64_t)year - (month <= 2);
	int64_t era = floor_div(y, 400);
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil(int64_t days, int64_t *y, int *m, int *d)
{
	int64_t z = days + 719468;
	int64_t era = floor_div(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

int tz_wday(int64_t days)
{
	return (int)(days - floor_div(days + 4, 7) * 7 + 4); /* 1970-01-01 was a Thursday */
}

int tz_mdays(int year, int month)
{
	static const int md[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (month < 1 || month > 12)
		return 0;
	return md[month - 1] + (month == 2 && leap(year));
}

static void broken_down(int64_t local, struct tz_tm *out)
{
	int64_t days = floor_div(local, 86400);
	int64_t sod = local - days * 86400;
	int64_t y;
	civil(days, &y, &out->month, &out->day);
	out->year = (int)y;
	out->wday = tz_wday(days);
	out->yday = (int)(days - tz_days(out->year, 1, 1));
	out->hour = (int)(sod / 3600);
	out->min = (int)(sod / 60 % 60);
	out->sec = (int)(sod % 60);
}

/* ---------------------------------------------------------------- the rule */

/* The instant, as seconds of local time since the epoch, of w in year y. */
static int64_t when_local(const struct when *w, int64_t y)
{
	int64_t jan1 = tz_days((int)y, 1, 1), day;
	switch (w->kind) {
	case 'J':
		day = jan1 + w->n - 1 + (leap(y) && w->n >= 60);
		break;
	case 'D':
		day = jan1 + w->n;
		break;
	default: {
		int64_t first = tz_days((int)y, w->m, 1);
		int dom = (w->d - tz_wday(first) + 7) % 7 + (w->w - 1) * 7;
		if (dom >= tz_mdays((int)y, w->m))
			dom -= 7;
		day = first + dom;
	}
	}
	return day * 86400 + w->secs;
}

/* The rule's changes in years y0..y0+n-1, in UTC: ev[2i] DST starts, ev[2i+1] ends. */
static void rule_events(const struct rule *r, int64_t y0, int n, int64_t *ev)
{
	for (int i = 0; i < n; i++) {
		ev[2 * i] = when_local(&r->start, y0 + i) - r->std.utoff;
		ev[2 * i + 1] = when_local(&r->end, y0 + i) - r->dst.utoff;
	}
}

static int64_t year_of(int64_t t)
{
	int64_t y;
	int m, d;
	civil(floor_div(t, 86400), &y, &m, &d);
	return y;
}

static const struct ttype *rule_at(const struct rule *r, int64_t t)
{
	if (!r->has_dst)
		return &r->std;
	/* The last change at or before t; a tie goes to the later year's, so that a
	 * DST ending exactly as the next year's starts stays DST. */
	int64_t ev[8];
	int64_t y0 = year_of(t + r->std.utoff) - 2;
	rule_events(r, y0, 4, ev);
	int best = -1;
	for (int i = 0; i < 8; i++) {
		if (ev[i] <= t && (best < 0 || ev[i] >= ev[best]))
			best = i;
	}
	return best >= 0 && best % 2 == 0 ? &r->dst : &r->std;
}

static bool rule_next(const struct rule *r, int64_t t, int64_t *next)
{
	if (!r->has_dst)
		return false;
	int64_t ev[8];
	rule_events(r, year_of(t + r->std.utoff) - 1, 4, ev);
	bool found = false;
	for (int i = 0; i < 8; i++) {
		if (ev[i] > t && (!found || ev[i] < *next)) {
			*next = ev[i];
			found = true;
		}
	}
	return found;
}

/* ---------------------------------------------------------------- POSIX TZ strings */

struct scan {
	const char *p, *end;
};

static bool digit(const struct scan *s)
{
	return s->p < s->end && *s->p >= '0' && *s->p <= '9';
}

static bool num(struct scan *s, int maxdigits, int max, int *v)
{
	int n = 0, x = 0;
	while (digit(s) && n < maxdigits) {
		x = x * 10 + (*s->p++ - '0');
		n++;
	}
	*v = x;
	return n > 0 && !digit(s) && x <= max;
}

/* [+-]hh[:mm[:ss]] with hh up to maxh; seconds. */
static bool hms(struct scan *s, int maxh, int32_t *secs)
{
	int sign = 1, h, m = 0, sec = 0;
	if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
		sign = *s->p++ == '-' ? -1 : 1;
	if (!num(s, 3, maxh, &h))
		return false;
	if (s->p < s->end && *s->p == ':') {
		s->p++;
		if (!num(s, 2, 59, &m))
			return false;
		if (s->p < s->end && *s->p == ':') {
			s->p++;
			if (!num(s, 2, 59, &sec))
				return false;
		}
	}
	*secs = sign * (h * 3600 + m * 60 + sec);
	return true;
}

/* std or dst: three or more letters, or <...> of letters, digits, + and -. */
static bool abbr(struct scan *s, char *out)
{
	const char *b = s->p;
	size_t n;
	if (s->p < s->end && *s->p == '<') {
		b = ++s->p;
		while (s->p < s->end && (('a' <= (*s->p | 32) && (*s->p | 32) <= 'z') || (*s->p >= '0' && *s->p <= '9') ||
					 *s->p == '+' || *s->p == '-'))
			s->p++;
		n = (size_t)(s->p - b);
		if (s->p >= s->end || *s->p != '>')
			return false;
		s->p++;
	} else {
		while (s->p < s->end && 'a' <= (*s->p | 32) && (*s->p | 32) <= 'z')
			s->p++;
		n = (size_t)(s->p - b);
	}
	if (n < 3)
		return false;
	snprintf(out, TZ_ABBR_SZ, "%.*s", (int)(n < TZ_ABBR_SZ ? n : TZ_ABBR_SZ - 1), b);
	return true;
}

static bool when_parse(struct scan *s, struct when *w)
{
	w->secs = 2 * 3600;
	if (s->p < s->end && *s->p == 'J') {
		s->p++;
		w->kind = 'J';
		if (!num(s, 3, 365, &w->n) || w->n < 1)
			return false;
	} else if (s->p < s->end && *s->p == 'M') {
		s->p++;
		w->kind = 'M';
		if (!num(s, 2, 12, &w->m) || w->m < 1 || s->p >= s->end || *s->p++ != '.' ||
		    !num(s, 1, 5, &w->w) || w->w < 1 || s->p >= s->end || *s->p++ != '.' || !num(s, 1, 6, &w->d))
			return false;
	} else {
		w->kind = 'D';
		if (!num(s, 3, 365, &w->n))
			return false;
	}
	if (s->p < s->end && *s->p == '/') {
		s->p++;
		return hms(s, 167, &w->secs);
	}
	return true;
}

static int posix_parse(struct rule *r, const char *spec, size_t len)
{
	struct scan s = { spec, spec + len };
	int32_t off;
	memset(r, 0, sizeof(*r));
	if (!abbr(&s, r->std.abbr) || !hms(&s, 24, &off))
		return EBADMSG;
	r->std.utoff = -off; /* POSIX counts west of Greenwich */
	if (s.p == s.end)
		return 0;
	r->has_dst = true;
	r->dst.isdst = true;
	if (!abbr(&s, r->dst.abbr))
		return EBADMSG;
	r->dst.utoff = r->std.utoff + 3600;
	if (s.p < s.end && *s.p != ',') {
		if (!hms(&s, 24, &off))
			return EBADMSG;
		r->dst.utoff = -off;
	}
	if (s.p == s.end) {
		/* No rule: the US rule since 2007, as glibc assumes. */
		r->start = (struct when){ .kind = 'M', .m = 3, .w = 2, .d = 0, .secs = 7200 };
		r->end = (struct when){ .kind = 'M', .m = 11, .w = 1, .d = 0, .secs = 7200 };
		return 0;
	}
	if (*s.p++ != ',' || !when_parse(&s, &r->start) || s.p >= s.end || *s.p++ != ',' ||
	    !when_parse(&s, &r->end) || s.p != s.end)
		return EBADMSG;
	return 0;
}

/* ---------------------------------------------------------------- TZif */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct hdr {
	char version; /* 0, '2', '3', '4' */
	uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static int hdr_parse(struct hdr *h, const uint8_t *p, size_t len)
{
	if (len < 44 || memcmp(p, "TZif", 4) != 0)
		return EBADMSG;
	h->version = (char)p[4];
	if (h->version != 0 && (h->version < '2' || h->version > '4'))
		return EBADMSG;
	h->isutcnt = be32(p + 20);
	h->isstdcnt = be32(p + 24);
	h->leapcnt = be32(p + 28);
	h->timecnt = be32(p + 32);
	h->typecnt = be32(p + 36);
	h->charcnt = be32(p + 40);
	/* RFC 8536 §3.1; the caps keep the size arithmetic below far from overflow. */
	if (h->typecnt == 0 || h->typecnt > 256 || h->charcnt == 0 || h->charcnt > 65536 ||
	    h->timecnt > TZ_FILE_MAX || h->leapcnt > TZ_FILE_MAX ||
	    (h->isutcnt != 0 && h->isutcnt != h->typecnt) || (h->isstdcnt != 0 && h->isstdcnt != h->typecnt))
		return EBADMSG;
	return 0;
}

static size_t block_len(const struct hdr *h, size_t tsize)
{
	return (size_t)h->timecnt * tsize + h->timecnt + (size_t)h->typecnt * 6 + h->charcnt +
	       (size_t)h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

/* The data block after header h at p (len bytes available), times of tsize bytes. */
static int block_parse(struct tz *tz, const struct hdr *h, const uint8_t *p, size_t len, size_t tsize)
{
	if (block_len(h, tsize) > len)
		return EBADMSG;
	if (h->leapcnt)
		return ENOTSUP; /* its instants would count leap seconds, ours do not */
	const uint8_t *times = p, *idx = times + (size_t)h->timecnt * tsize;
	const uint8_t *types = idx + h->timecnt, *chars = types + (size_t)h->typecnt * 6;
	const uint8_t *isstd = chars + h->charcnt, *isut = isstd + h->isstdcnt;

	tz->ntrans = h->timecnt;
	tz->ntypes = h->typecnt;
	tz->trans = calloc(h->timecnt ? h->timecnt : 1, sizeof(*tz->trans));
	tz->idx = calloc(h->timecnt ? h->timecnt : 1, 1);
	tz->types = calloc(h->typecnt, sizeof(*tz->types));
	if (!tz->trans || !tz->idx || !tz->types)
		return ENOMEM;
	for (size_t i = 0; i < h->timecnt; i++) {
		tz->trans[i] = tsize == 8 ? be64(times + 8 * i) : (int32_t)be32(times + 4 * i);
		if ((i > 0 && tz->trans[i] <= tz->trans[i - 1]) || idx[i] >= h->typecnt)
			return EBADMSG;
		tz->idx[i] = idx[i];
	}
	for (size_t i = 0; i < h->typecnt; i++) {
		const uint8_t *t = types + 6 * i;
		int32_t utoff = (int32_t)be32(t);
		uint8_t desig = t[5];
		if (utoff < UTOFF_MIN || utoff > UTOFF_MAX || t[4] > 1 || desig >= h->charcnt)
			return EBADMSG;
		const uint8_t *nul = memchr(chars + desig, 0, h->charcnt - desig);
		if (!nul)
			return EBADMSG;
		size_t n = (size_t)(nul - (chars + desig));
		tz->types[i].utoff = utoff;
		tz->types[i].isdst = t[4];
		snprintf(tz->types[i].abbr, TZ_ABBR_SZ, "%.*s", (int)(n < TZ_ABBR_SZ ? n : TZ_ABBR_SZ - 1),
			 (const char *)chars + desig);
	}
	for (size_t i = 0; i < h->isstdcnt; i++) {
		if (isstd[i] > 1 || (h->isutcnt && isut[i] > isstd[i]))
			return EBADMSG;
	}
	for (size_t i = 0; i < h->isutcnt; i++) {
		if (isut[i] > 1)
			return EBADMSG;
	}
	return 0;
}

static void tz_destroy(void *arg)
{
	struct tz *tz = arg;
	free(tz->trans);
	free(tz->idx);
	free(tz->types);
	mem_deref(tz->name);
}

static struct tz *tz_new(const char *name)
{
	struct tz *tz = mem_zalloc(sizeof(*tz), tz_destroy);
	if (!tz)
		return NULL;
	tz->name = mem_strndup(name ? name : "", name ? strlen(name) : 0);
	return tz->name ? tz : mem_deref(tz);
}

static int tzif_parse(struct tz *tz, const uint8_t *p, size_t len)
{
	struct hdr h;
	int err = hdr_parse(&h, p, len);
	if (err)
		return err;
	if (h.version == 0)
		return block_parse(tz, &h, p + 44, len - 44, 4);

	/* Version 2+: skip the 32-bit block, read the 64-bit one and the footer. */
	size_t skip = 44 + block_len(&h, 4);
	if (skip > len)
		return EBADMSG;
	p += skip;
	len -= skip;
	if ((err = hdr_parse(&h, p, len)) != 0 || h.version == 0)
		return err ? err : EBADMSG;
	if ((err = block_parse(tz, &h, p + 44, len - 44, 8)) != 0)
		return err;
	size_t used = 44 + block_len(&h, 8);
	const uint8_t *foot = p + used, *nl;
	size_t flen = len - used;
	if (flen < 2 || foot[0] != '\n' || !(nl = memchr(foot + 1, '\n', flen - 1)) || nl != foot + flen - 1)
		return EBADMSG; /* the footer's newline ends the file */
	size_t slen = (size_t)(nl - foot - 1);
	if (slen == 0)
		return 0; /* no rule: the last type goes on */
	if (memchr(foot + 1, 0, slen) || posix_parse(&tz->rule, (const char *)foot + 1, slen) != 0)
		return EBADMSG;
	tz->has_rule = true;
	return 0;
}

int tz_parse(struct tz **tzp, const char *name, const void *data, size_t len)
{
	if (!tzp || (!data && len))
		return EINVAL;
	if (len > TZ_FILE_MAX)
		return EFBIG;
	struct tz *tz = tz_new(name);
	if (!tz)
		return ENOMEM;
	int err = tzif_parse(tz, data, len);
	if (err) {
		mem_deref(tz);
		return err;
	}
	*tzp = tz;
	return 0;
}

int tz_posix(struct tz **tzp, const char *spec)
{
	if (!tzp || !spec)
		return EINVAL;
	struct tz *tz = tz_new(spec);
	if (!tz)
		return ENOMEM;
	int err = posix_parse(&tz->rule, spec, strlen(spec));
	if (err) {
		mem_deref(tz);
		return err;
	}
	tz->has_rule = true;
	*tzp = tz;
	return 0;
}

bool tz_name_valid(const char *name)
{
	if (!name)
		return false;
	size_t n = strlen(name);
	if (n == 0 || n > TZ_NAME_MAX || name[0] == '/' || name[n - 1] == '/' || strstr(name, "//") ||
	    strstr(name, ".."))
		return false;
	for (const char *p = name; *p; p++) {
		char c = *p;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '+' || c == '-' || c == '/'))
			return false;
	}
	return true;
}

static int read_file(int fd, uint8_t **datap, size_t *lenp)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return errno;
	if (!S_ISREG(st.st_mode))
		return ENOENT; /* a directory ("Europe") is no zone */
	if (st.st_size > TZ_FILE_MAX)
		return EFBIG;
	size_t cap = (size_t)st.st_size + 1, n = 0;
	uint8_t *buf = malloc(cap);
	if (!buf)
		return ENOMEM;
	for (;;) {
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(buf);
			return e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap) { /* grew since fstat */
			free(buf);
			return EFBIG;
		}
	}
	*datap = buf;
	*lenp = n;
	return 0;
}

int tz_load_dir(struct tz **tzp, const char *dir, const char *name)
{
	char path[4096];
	if (!tzp || !dir)
		return EINVAL;
	if (!tz_name_valid(name))
		return EINVAL;
	int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return EINVAL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOTDIR || errno == ENAMETOOLONG ? ENOENT : errno;
	uint8_t *data = NULL;
	size_t len = 0;
	int err = read_file(fd, &data, &len);
	close(fd);
	if (err)
		return err;
	err = tz_parse(tzp, name, data, len);
	free(data);
	return err;
}

int tz_load(struct tz **tzp, const char *name)
{
	return tz_load_dir(tzp, TZ_DIR, name);
}

const char *tz_name(const struct tz *tz)
{
	return tz->name;
}

/* ---------------------------------------------------------------- queries */

static int64_t clamp(int64_t t)
{
	return t < TZ_TIME_MIN ? TZ_TIME_MIN : t > TZ_TIME_MAX ? TZ_TIME_MAX : t;
}

static const struct ttype *type_at(const struct tz *tz, int64_t t)
{
	if (tz->ntrans == 0)
		return tz->has_rule ? rule_at(&tz->rule, t) : &tz->types[0];
	if (t < tz->trans[0])
		return &tz->types[0];
	if (t >= tz->trans[tz->ntrans - 1])
		return tz->has_rule ? rule_at(&tz->rule, t) : &tz->types[tz->idx[tz->ntrans - 1]];
	size_t lo = 0, hi = tz->ntrans - 1; /* trans[lo] <= t < trans[hi] */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (tz->trans[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return &tz->types[tz->idx[lo]];
}

void tz_local(const struct tz *tz, int64_t utc_s, struct tz_tm *out)
{
	int64_t t = clamp(utc_s);
	const struct ttype *ty = type_at(tz, t);
	broken_down(t + ty->utoff, out);
	out->utcoff = ty->utoff;
	out->is_dst = ty->isdst;
	memcpy(out->abbr, ty->abbr, sizeof(out->abbr));
}

static bool next_change(const struct tz *tz, int64_t t, int64_t *next)
{
	if (tz->ntrans > 0 && t < tz->trans[tz->ntrans - 1]) {
		size_t lo = 0, hi = tz->ntrans - 1; /* the first transition after t */
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (tz->trans[mid] > t)
				hi = mid;
			else
				lo = mid + 1;
		}
		*next = tz->trans[lo];
		return true;
	}
	return tz->has_rule && rule_next(&tz->rule, t, next);
}

int tz_next(const struct tz *tz, int64_t utc_s, int64_t *next)
{
	if (!tz || !next)
		return EINVAL;
	int64_t n;
	if (utc_s >= TZ_TIME_MAX || !next_change(tz, clamp(utc_s), &n) || n > TZ_TIME_MAX)
		return ENOENT;
	*next = n;
	return 0;
}

/* The offset is constant between changes, so the instants around the wall time
 * are cut into pieces at each change; a piece [a, b) with offset o holds the
 * wall time w at w - o if that falls inside it. No piece holding it means the
 * clock jumped over w: then the jump's instant. */
int tz_utc(const struct tz *tz, const struct tz_tm *l, bool later, int64_t *utc_s)
{
	if (!tz || !l || !utc_s || l->year < 1 || l->year > 9999 || l->month < 1 || l->month > 12 ||
	    l->day < 1 || l->day > tz_mdays(l->year, l->month) || l->hour < 0 || l->hour > 23 || l->min < 0 ||
	    l->min > 59 || l->sec < 0 || l->sec > 59)
		return EINVAL;
	int64_t w = tz_days(l->year, l->month, l->day) * 86400 + l->hour * 3600 + l->min * 60 + l->sec;
	int64_t a = w - SPAN_MAX, hi = w + SPAN_MAX, first = 0, last = 0, jump = 0;
	int32_t o = type_at(tz, a)->utoff;
	bool found = false, jumped = false;
	for (;;) {
		int64_t b;
		bool more = next_change(tz, a, &b) && b <= hi;
		if (!more)
			b = hi + 1;
		int64_t t = w - o;
		if (t >= a && t < b) {
			if (!found)
				first = t;
			last = t;
			found = true;
		}
		if (!more)
			break;
		int32_t o2 = type_at(tz, b)->utoff;
		if (!jumped && b + o <= w && w < b + o2) {
			jump = b;
			jumped = true;
		}
		a = b;
		o = o2;
	}
	*utc_s = found ? (later ? last : first) : jumped ? jump : w - o;
	return 0;
}

/* ---------------------------------------------------------------- cache */

struct tz_cache {
	struct hash h;
	char *dir;
};

struct cached {
	struct le le;
	struct tz *tz;
};

static void cached_destroy(void *arg)
{
	struct cached *e = arg;
	list_unlink(&e->le);
	mem_deref(e->tz);
}

static void cache_destroy(void *arg)
{
	struct tz_cache *c = arg;
	if (c->h.buckets) {
		for (uint32_t i = 0; i <= c->h.mask; i++) {
			while (c->h.buckets[i].head)
				mem_deref(c->h.buckets[i].head->data);
		}
	}
	hash_close(&c->h);
	mem_deref(c->dir);
}

int tz_cache_alloc(struct tz_cache **cp, const char *dir)
{
	if (!cp)
		return EINVAL;
	if (!dir)
		dir = TZ_DIR;
	struct tz_cache *c = mem_zalloc(sizeof(*c), cache_destroy);
	if (!c)
		return ENOMEM;
	if (hash_init(&c->h, 64) != 0 || !(c->dir = mem_strndup(dir, strlen(dir)))) {
		mem_deref(c);
		return ENOMEM;
	}
	*cp = c;
	return 0;
}

int tz_cache_get(struct tz_cache *c, const char *name, struct tz **tzp)
{
	if (!c || !tzp || !tz_name_valid(name))
		return EINVAL;
	uint32_t key = hash_str_case(name, strlen(name));
	LIST_FOREACH(hash_bucket(&c->h, key), le) {
		struct cached *e = le->data;
		if (strcmp(e->tz->name, name) == 0) {
			*tzp = mem_ref(e->tz);
			return 0;
		}
	}
	struct cached *e = mem_zalloc(sizeof(*e), cached_destroy);
	if (!e)
		return ENOMEM;
	int err = tz_load_dir(&e->tz, c->dir, name);
	if (err) {
		mem_deref(e);
		return err;
	}
	hash_insert(&c->h, key, &e->le, e);
	*tzp = mem_ref(e->tz);
	return 0;
}
