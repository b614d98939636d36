/* Unit tests for dialled-number patterns, DIDs and E.164 forms
 * (src/pbx/dialplan.c). Method: tables of inputs with the answer each must get
 * (valid or refused with its reason; matching or not), edges at their
 * boundaries (the 64-character limit, the first and last number of a range,
 * buffers one byte short), and the two orderings checked by sorting shuffled
 * lists into the order the header documents. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pbx/dialplan.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void repeat(char *buf, char c, size_t n)
{
	memset(buf, c, n);
	buf[n] = '\0';
}

/* --- patterns ------------------------------------------------------------------ */

static void test_pattern_check(void **state)
{
	static const char *const good[] = {
		"9X.", "NXXNXXXXXX", "[1-37-9]XX", "[137]", "[0-9]", "[5-5]", "x", "z", "n", "*97", "#", "+44X!",
		".", "!", "0", "011.", "9[2-9]XX!", "*X#",
	};
	for (size_t i = 0; i < N(good); i++) {
		const char *why = "unset";
		assert_int_equal(dialplan_pattern_check(good[i], &why), 0);
		assert_null(why);
	}
	static const struct {
		const char *pat, *why;
	} bad[] = {
		{ "", "empty" },
		{ "[12", "unclosed [" },
		{ "[", "unclosed [" },
		{ "9[1-", "unclosed [" },
		{ "[]", "empty set" },
		{ "9.X", "'.' must be last" },
		{ "..", "'.' must be last" },
		{ "9!1", "'!' must be last" },
		{ "!.", "'!' must be last" },
		{ "9q", "bad character 'q'" },
		{ "9-1", "bad character '-'" },
		{ "9 1", "bad character ' '" },
		{ "]", "bad character ']'" },
		{ "_9X.", "bad character '_'" },
		{ "9Y", "bad character 'Y'" },
		{ "[1a]", "bad character 'a'" },
		{ "[[1]", "bad character '['" },
		{ "[5-1]", "bad range" },
		{ "[1-]", "bad range" },
		{ "[-3]", "bad range" },
		{ "[1-3-5]", "bad range" },
	};
	for (size_t i = 0; i < N(bad); i++) {
		const char *why = NULL;
		assert_int_equal(dialplan_pattern_check(bad[i].pat, &why), EINVAL);
		assert_non_null(why);
		assert_string_equal(why, bad[i].why);
	}
	const char *why = NULL;
	assert_int_equal(dialplan_pattern_check("9\t", &why), EINVAL);
	assert_string_equal(why, "bad character");
	assert_int_equal(dialplan_pattern_check("9\xc3\xa9", &why), EINVAL);
	assert_string_equal(why, "bad character");
	assert_int_equal(dialplan_pattern_check(NULL, &why), EINVAL);
	assert_string_equal(why, "empty");
	assert_int_equal(dialplan_pattern_check("q", NULL), EINVAL); /* why may be NULL */

	char buf[DIALPLAN_MAX + 2];
	repeat(buf, 'X', DIALPLAN_MAX);
	assert_int_equal(dialplan_pattern_check(buf, NULL), 0);
	repeat(buf, 'X', DIALPLAN_MAX + 1);
	assert_int_equal(dialplan_pattern_check(buf, &why), EINVAL);
	assert_string_equal(why, "too long");
}

static void test_pattern_match(void **state)
{
	static const struct {
		const char *pat, *number;
		bool match;
	} cases[] = {
		{ "9X.", "912", true },
		{ "9X.", "91", false },
		{ "9X.", "9123456789", true },
		{ "9X.", "9a*", false },   /* X is a digit */
		{ "9X.", "91a", true },    /* '.': any character */
		{ "9X!", "91", true },
		{ "9X!", "912", true },
		{ "9X!", "9", false },
		{ ".", "", false },
		{ ".", "1", true },
		{ "!", "", true },
		{ "!", "*#+", true },
		{ "NXXNXXXXXX", "2125551234", true },
		{ "NXXNXXXXXX", "1125551234", false },  /* N: 2-9 */
		{ "NXXNXXXXXX", "2121551234", false },
		{ "NXXNXXXXXX", "212555123", false },   /* too short */
		{ "NXXNXXXXXX", "21255512345", false }, /* too long */
		{ "nxxnxxxxxx", "9995551234", true },
		{ "Z", "0", false },
		{ "Z", "1", true },
		{ "z", "9", true },
		{ "N", "1", false },
		{ "N", "2", true },
		{ "X", "0", true },
		{ "X", "", false },
		{ "X", "*", false },
		{ "[1-37-9]", "1", true },
		{ "[1-37-9]", "3", true },
		{ "[1-37-9]", "4", false },
		{ "[1-37-9]", "6", false },
		{ "[1-37-9]", "7", true },
		{ "[1-37-9]", "9", true },
		{ "[1-37-9]", "0", false },
		{ "[137]", "3", true },
		{ "[137]", "2", false },
		{ "2XX", "201", true },
		{ "2XX", "301", false },
		{ "*97", "*97", true },
		{ "*97", "*971", false },
		{ "*97", "#97", false },
		{ "*X#", "*5#", true },
		{ "+44X.", "+442079460000", true },
		{ "+44X.", "442079460000", false },
		{ "201", "201", true },  /* exact */
		{ "201", "2010", false },
		{ "201", "20", false },
		{ "9[1-", "91", false }, /* invalid pattern: nothing matches */
		{ "", "", false },
	};
	for (size_t i = 0; i < N(cases); i++) {
		if (dialplan_pattern_match(cases[i].pat, cases[i].number) != cases[i].match)
			fail_msg("%s ~ %s: want %d", cases[i].pat, cases[i].number, cases[i].match);
	}
	assert_false(dialplan_pattern_match(NULL, "1"));
	assert_false(dialplan_pattern_match("X", NULL));
}

static int pat_qsort(const void *a, const void *b)
{
	return dialplan_pattern_cmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts a reversed and a rotated copy of want and checks both come out as want;
 * and that the comparator is antisymmetric and 0 only on equal strings. */
static void check_order(const char *const *want, size_t n, int (*cmp)(const void *, const void *),
			int (*cmp_str)(const char *, const char *))
{
	const char *v[32];
	assert_true(n <= N(v));
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++)
			v[i] = pass ? want[n - 1 - i] : want[(i + n / 2) % n];
		qsort(v, n, sizeof(v[0]), cmp);
		for (size_t i = 0; i < n; i++) {
			if ((v[i] == NULL) != (want[i] == NULL) || (v[i] && strcmp(v[i], want[i]) != 0))
				fail_msg("position %zu: got %s, want %s", i, v[i] ? v[i] : "NULL",
					 want[i] ? want[i] : "NULL");
		}
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			int c = cmp_str(want[i], want[j]), r = cmp_str(want[j], want[i]);
			assert_true((c < 0) == (r > 0));
			assert_true((c == 0) == (i == j));
			if (i < j)
				assert_true(c < 0);
		}
	}
}

static void test_pattern_order(void **state)
{
	static const char *const want[] = {
		"90114420", /* exact, the longer first */
		"9011",
		"*97",
		"9011.",         /* 4 literals before the wildcard */
		"91NXXNXXXXXX",  /* 2 literals, fixed length */
		"91NXX.",        /* 2 literals, '.' tail */
		"9XXXXXXXXX",    /* 1 literal, fixed: more positions first */
		"9XXX[12]",
		"9X1X",          /* 4 positions: fewer wildcards first */
		"9[2-3]XX",      /* 3 wildcards: narrower first (2+10+10) */
		"9[2-4]XX",
		"9NXX",
		"9XXX",
		"9XX.",          /* '.' tails: the longer fixed part first */
		"9X.",
		"9X!",           /* '!' after '.' */
		"9!",
		"NXXXXXX",       /* no literal */
		"X.",
		".",
		"!",
		"9.X",           /* invalid: last, by strcmp, NULL after all */
		"9q",
		NULL,
	};
	check_order(want, N(want), pat_qsort, dialplan_pattern_cmp);
	assert_int_equal(dialplan_pattern_cmp("9X.", "9X."), 0);
	assert_true(dialplan_pattern_cmp("9x.", "9X.") != 0); /* deterministic, not equal */
}

/* --- E.164 --------------------------------------------------------------------- */

static void test_e164(void **state)
{
	static const struct {
		const char *in, *cc, *out;
	} ok[] = {
		/* UK */
		{ "+442079460000", "44", "442079460000" },
		{ "00442079460000", "44", "442079460000" },
		{ "02079460000", "44", "442079460000" },
		{ "+44 (0)20 7946 0000", "44", "442079460000" },
		{ "+44 (0)20 7946 0000", NULL, "442079460000" },
		{ "020 7946-0000", "44", "442079460000" },
		{ "(020) 7946.0000", "44", "442079460000" },
		{ "442079460000", "44", "442079460000" },   /* international without '+': kept */
		{ "02079460000", NULL, "02079460000" },     /* no country: as it is */
		{ "02079460000", "", "02079460000" },
		{ "00442079460000", NULL, "442079460000" }, /* 00 needs no country */
		{ "+442079460000", NULL, "442079460000" },
		{ "+4402079460000", "44", "4402079460000" }, /* after '+' nothing is guessed */
		{ "0033142685300", "44", "33142685300" },    /* another country's number */
		/* NANP */
		{ "2125551234", "1", "12125551234" },
		{ "(212) 555-1234", "1", "12125551234" },
		{ "212.555.1234", "1", "12125551234" },
		{ "12125551234", "1", "12125551234" },
		{ "1 212 555 1234", "1", "12125551234" },
		{ "+1 212 555 1234", NULL, "12125551234" },
		{ "011442079460000", "1", "442079460000" },
		{ "5551234", "1", "5551234" },       /* 7-digit local: kept */
		{ "1125551234", "1", "1125551234" }, /* 10 digits, not NANP-shaped */
		{ "0", "1", "0" },                   /* the operator */
		{ "2125551234", NULL, "2125551234" },
		{ "011442079460000", "44", "4411442079460000" }, /* 011 is NANP's only */
		/* Italy: the 0 belongs to the number */
		{ "0612345678", "39", "390612345678" },
		{ "+390612345678", "39", "390612345678" },
		/* others */
		{ "18800606", "44", "18800606" },
		{ " 5 ", NULL, "5" },
	};
	char out[DIALPLAN_NUMBER_SZ];
	for (size_t i = 0; i < N(ok); i++) {
		int e = dialplan_e164(ok[i].in, ok[i].cc, out, sizeof(out));
		if (e || strcmp(out, ok[i].out) != 0)
			fail_msg("%s (%s): %d '%s', want '%s'", ok[i].in, ok[i].cc ? ok[i].cc : "NULL", e, out,
				 ok[i].out);
	}
	static const struct {
		const char *in, *cc;
	} bad[] = {
		{ "", "44" }, { "   ", "44" }, { "+", "44" }, { "-()", NULL }, { "00", "44" }, { "0", "44" },
		{ "011", "1" }, { "*97", "44" }, { "#", NULL }, { "12a4", NULL }, { "sip:201", NULL },
		{ "44+20", "44" }, { "++44", "44" }, { "2\t1", NULL }, { "0207", "4a" }, { "0207", "0" },
		{ "0207", "1234" }, { "0207", "+44" },
	};
	for (size_t i = 0; i < N(bad); i++) {
		strcpy(out, "junk");
		if (dialplan_e164(bad[i].in, bad[i].cc, out, sizeof(out)) != EINVAL)
			fail_msg("%s (%s) accepted", bad[i].in, bad[i].cc ? bad[i].cc : "NULL");
		assert_string_equal(out, "");
	}
	assert_int_equal(dialplan_e164(NULL, "44", out, sizeof(out)), EINVAL);
	assert_int_equal(dialplan_e164("1", NULL, NULL, 10), EINVAL);

	/* ENOSPC at the byte: "442079460000" is 12 digits and the NUL. */
	char small[13];
	assert_int_equal(dialplan_e164("02079460000", "44", small, 13), 0);
	assert_string_equal(small, "442079460000");
	strcpy(small, "junk");
	assert_int_equal(dialplan_e164("02079460000", "44", small, 12), ENOSPC);
	assert_string_equal(small, "");
	/* what counts is the result, not the input: 14 digits in, 12 out */
	assert_int_equal(dialplan_e164("00442079460000", NULL, small, 13), 0);
	assert_int_equal(dialplan_e164("1", NULL, small, 0), ENOSPC);
	assert_int_equal(dialplan_e164("1", NULL, small, 1), ENOSPC);
	assert_int_equal(dialplan_e164("1", NULL, small, 2), 0);
	/* long numbers: only the buffer limits them */
	char in[201], big[202];
	repeat(in, '7', 200);
	assert_int_equal(dialplan_e164(in, NULL, big, sizeof(big)), 0);
	assert_string_equal(big, in);
	assert_int_equal(dialplan_e164(in, NULL, big, 200), ENOSPC);
}

/* --- DIDs ---------------------------------------------------------------------- */

static void test_did_check(void **state)
{
	static const char *const good[] = {
		"18800606", "+4420794600000", "18800600-18800699", "+4420794600-+4420794699", "0207946000-0207946099",
		"1-9", "5-5", "1880060X", "+44X.", "0207946[0-4]XX", "[1-3]XX", /* '-' in a set: a pattern */
	};
	for (size_t i = 0; i < N(good); i++) {
		const char *why = "unset";
		if (dialplan_did_check(good[i], &why) != 0)
			fail_msg("%s refused: %s", good[i], why);
		assert_null(why);
	}
	static const struct {
		const char *did, *why;
	} bad[] = {
		{ "", "empty" },
		{ "+", "empty" },
		{ "18800600-1880069", "range ends differ in length" },
		{ "1880060-18800699", "range ends differ in length" },
		{ "+4420794600-4420794699", "'+' on one end of a range only" },
		{ "4420794600-+4420794699", "'+' on one end of a range only" },
		{ "18800699-18800600", "range is backwards" },
		{ "0999-1000", "range ends differ in prefix" },
		{ "0099-0100", "range ends differ in prefix" },
		{ "0-9", "range ends differ in prefix" },
		{ "-18800600", "bad range" },
		{ "18800600-", "bad range" },
		{ "1-2-3", "bad range" },
		{ "+-+1", "bad range" },
		{ "1880060X-18800699", "bad character 'X'" },
		{ "1880 0606", "bad character ' '" },
		{ "1880q", "bad character 'q'" },
		{ "9X.1", "'.' must be last" },
		{ "[12", "unclosed [" },
		{ "[1-3]-", "bad character '-'" },
	};
	for (size_t i = 0; i < N(bad); i++) {
		const char *why = NULL;
		if (dialplan_did_check(bad[i].did, &why) != EINVAL)
			fail_msg("%s accepted", bad[i].did);
		if (!why || strcmp(why, bad[i].why) != 0)
			fail_msg("%s: '%s', want '%s'", bad[i].did, why ? why : "NULL", bad[i].why);
	}
	assert_int_equal(dialplan_did_check(NULL, NULL), EINVAL);

	/* 64 digits at most, on each end of a range too */
	char did[2 * DIALPLAN_MAX + 8], d64[DIALPLAN_MAX + 1], d65[DIALPLAN_MAX + 2];
	const char *why;
	repeat(d64, '5', DIALPLAN_MAX);
	repeat(d65, '5', DIALPLAN_MAX + 1);
	assert_int_equal(dialplan_did_check(d64, NULL), 0);
	snprintf(did, sizeof(did), "+%s", d64);
	assert_int_equal(dialplan_did_check(did, NULL), 0);
	assert_int_equal(dialplan_did_check(d65, &why), EINVAL);
	assert_string_equal(why, "too long");
	snprintf(did, sizeof(did), "%s-%s", d64, d64);
	assert_int_equal(dialplan_did_check(did, NULL), 0);
	snprintf(did, sizeof(did), "+%s-+%s", d64, d64);
	assert_int_equal(dialplan_did_check(did, NULL), 0);
	snprintf(did, sizeof(did), "%s-%s", d65, d65);
	assert_int_equal(dialplan_did_check(did, &why), EINVAL);
	assert_string_equal(why, "too long");
	/* and every valid DID's E.164 form fits DIALPLAN_NUMBER_SZ */
	char out[DIALPLAN_NUMBER_SZ];
	repeat(d64, '0', DIALPLAN_MAX);
	d64[1] = '5';
	assert_int_equal(dialplan_e164(d64, "999", out, sizeof(out)), 0);
	assert_true(dialplan_did_match(d64, d64, "999"));
}

static void test_did_match(void **state)
{
	static const struct {
		const char *did, *number, *cc;
		bool match;
	} cases[] = {
		/* exact, every form of the same UK number */
		{ "+442079460000", "+442079460000", "44", true },
		{ "+442079460000", "00442079460000", "44", true },
		{ "+442079460000", "02079460000", "44", true },
		{ "02079460000", "+442079460000", "44", true },
		{ "02079460000", "00442079460000", "44", true },
		{ "02079460000", "02079460000", "44", true },
		{ "+442079460000", "442079460000", "44", true },
		{ "+442079460000", "+442079460001", "44", false },
		{ "+442079460000", "2079460000", "44", false },
		{ "+442079460000", "02079460000", NULL, false }, /* no country: 0 stays */
		{ "+442079460000", "02079460000", "33", false },  /* read as French */
		{ "02079460000", "02079460000", NULL, true },
		{ "+442079460000", "00442079460000", NULL, true },
		{ "+442079460000", "+44 (0)20 7946 0000", NULL, true },
		{ "18800606", "18800606", NULL, true },
		{ "18800606", "188006060", NULL, false },
		{ "18800606", "1880060", NULL, false },
		{ "18800606", "", NULL, false },
		{ "18800606", "anonymous", NULL, false },
		{ "18800606", "18800606", "4x", false }, /* bad country code */
		/* NANP */
		{ "+12125551234", "2125551234", "1", true },
		{ "2125551234", "+12125551234", "1", true },
		{ "12125551234", "2125551234", "1", true },
		{ "2125551234", "2125551234", NULL, true },
		{ "2125551234", "12125551234", NULL, false },
		/* ranges: inclusive ends, numeric order, equal length */
		{ "18800600-18800699", "18800600", NULL, true },
		{ "18800600-18800699", "18800650", NULL, true },
		{ "18800600-18800699", "18800699", NULL, true },
		{ "18800600-18800699", "18800599", NULL, false },
		{ "18800600-18800699", "18800700", NULL, false },
		{ "18800600-18800699", "1880065", NULL, false },
		{ "18800600-18800699", "188006500", NULL, false },
		{ "5-5", "5", NULL, true },
		{ "0207946000-0207946099", "+44207946050", "44", true },
		{ "0207946000-0207946099", "0044207946099", "44", true },
		{ "0207946000-0207946099", "0207946100", "44", false },
		{ "+44207946000-+44207946099", "0207946000", "44", true },
		{ "+44207946000-+44207946099", "0207946000", NULL, false },
		{ "+12125550000-+12125559999", "(212) 555-0100", "1", true },
		/* patterns: as received, in E.164 form, '+' and the E.164 form */
		{ "1880060X", "18800605", NULL, true },
		{ "1880060X", "18800615", NULL, false },
		{ "0207946XXXX", "02079460000", "44", true },   /* as received */
		{ "0207946XXXX", "+442079460000", "44", false }, /* not written that way */
		{ "44207946XXXX", "02079460000", "44", true },   /* E.164 */
		{ "+44207946XXXX", "02079460000", "44", true },  /* '+' and E.164 */
		{ "+44207946XXXX", "00442079460000", NULL, true },
		{ "+44207946XXXX", "+442079460000", NULL, true },
		{ "+44207946XXXX", "02079460000", NULL, false },
		{ "*X", "*5", NULL, true },                      /* not a number: as received only */
		{ "X.", "", NULL, false },
		{ "!", "", NULL, true },
		/* invalid DIDs match nothing */
		{ "18800699-18800600", "18800650", NULL, false },
		{ "", "", NULL, false },
	};
	for (size_t i = 0; i < N(cases); i++) {
		if (dialplan_did_match(cases[i].did, cases[i].number, cases[i].cc) != cases[i].match)
			fail_msg("%s ~ %s (%s): want %d", cases[i].did, cases[i].number,
				 cases[i].cc ? cases[i].cc : "NULL", cases[i].match);
	}
	assert_false(dialplan_did_match(NULL, "1", NULL));
	assert_false(dialplan_did_match("1", NULL, NULL));
}

static void test_did_overlap(void **state)
{
	static const struct {
		const char *a, *b, *cc;
		int overlap;
	} cases[] = {
		{ "100-199", "199-299", NULL, 1 }, /* a shared end */
		{ "100-199", "200-299", NULL, 0 }, /* adjacent */
		{ "200-299", "100-199", NULL, 0 },
		{ "100-199", "150-160", NULL, 1 }, /* inside */
		{ "150-160", "100-199", NULL, 1 },
		{ "100-199", "100-199", NULL, 1 },
		{ "100-199", "1000-1999", NULL, 0 }, /* different lengths: different numbers */
		{ "100-199", "100", NULL, 1 },
		{ "100-199", "199", NULL, 1 },
		{ "100-199", "200", NULL, 0 },
		{ "099", "100-199", NULL, 0 },
		{ "18800606", "18800606", NULL, 1 },
		{ "18800606", "18800607", NULL, 0 },
		{ "+442079460000", "02079460000", "44", 1 },
		{ "+442079460000", "02079460000", NULL, 0 },
		{ "+442079460000", "02079460000-02079460099", "44", 1 },
		{ "+442079460099", "02079460000-02079460099", "44", 1 },
		{ "+442079460100", "02079460000-02079460099", "44", 0 },
		{ "+44207946000-+44207946099", "0207946099-0207946199", "44", 1 },
		{ "+44207946000-+44207946099", "0207946100-0207946199", "44", 0 },
		{ "+12125550000-+12125559999", "2125559999", "1", 1 },
		{ "1880060X", "18800605", NULL, -1 }, /* patterns: unknown */
		{ "18800605", "1880060X", NULL, -1 },
		{ "X.", "X.", NULL, -1 },
		{ "18800699-18800600", "18800650", NULL, -1 }, /* invalid */
		{ "18800650", "", NULL, -1 },
		{ "18800650", "18800650", "x", -1 },
	};
	for (size_t i = 0; i < N(cases); i++) {
		int got = dialplan_did_overlap(cases[i].a, cases[i].b, cases[i].cc);
		if (got != cases[i].overlap)
			fail_msg("%s / %s (%s): %d, want %d", cases[i].a, cases[i].b, cases[i].cc ? cases[i].cc : "NULL",
				 got, cases[i].overlap);
	}
	assert_int_equal(dialplan_did_overlap(NULL, "1", NULL), -1);
}

static int did_qsort(const void *a, const void *b)
{
	return dialplan_did_cmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_did_order(void **state)
{
	static const char *const want[] = {
		"+442079460000", /* exact: by strcmp */
		"02079460000",
		"18800606",
		"5-5",                 /* ranges: narrower first (width 0) */
		"18800600-18800609",   /* 9 */
		"+4420794600-+4420794699", /* 99, then strcmp */
		"18800600-18800699",
		"19999900-20000000",   /* 100: the width is numeric, not per digit */
		"0207946000-0207947999",
		"1880060X",            /* patterns: dialplan_pattern_cmp's order */
		"1880X.",
		"X.",
		"18800699-18800600",   /* invalid */
		"q",
		NULL,
	};
	check_order(want, N(want), did_qsort, dialplan_did_cmp);
}

/* --- prefixes and rewrites ----------------------------------------------------- */

static void test_prefix_and_rewrite(void **state)
{
	assert_true(dialplan_has_prefix("902079460000", "9"));
	assert_true(dialplan_has_prefix("902079460000", ""));
	assert_true(dialplan_has_prefix("9", "9"));
	assert_true(dialplan_has_prefix("", ""));
	assert_false(dialplan_has_prefix("9", "90"));
	assert_false(dialplan_has_prefix("802079460000", "9"));
	assert_false(dialplan_has_prefix(NULL, "9"));
	assert_false(dialplan_has_prefix("9", NULL));

	char out[16];
	assert_int_equal(dialplan_rewrite("902079460000", 1, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "02079460000");
	assert_int_equal(dialplan_rewrite("902079460000", 2, "+44", out, sizeof(out)), 0);
	assert_string_equal(out, "+442079460000");
	assert_int_equal(dialplan_rewrite("201", 0, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "201");
	assert_int_equal(dialplan_rewrite("201", 0, "", out, sizeof(out)), 0);
	assert_string_equal(out, "201");
	assert_int_equal(dialplan_rewrite("201", 3, NULL, out, sizeof(out)), 0); /* all of it */
	assert_string_equal(out, "");
	assert_int_equal(dialplan_rewrite("201", 3, "100", out, sizeof(out)), 0);
	assert_string_equal(out, "100");
	assert_int_equal(dialplan_rewrite("", 0, "+1", out, sizeof(out)), 0);
	assert_string_equal(out, "+1");
	strcpy(out, "junk");
	assert_int_equal(dialplan_rewrite("201", 4, NULL, out, sizeof(out)), EINVAL); /* beyond */
	assert_string_equal(out, "");
	assert_int_equal(dialplan_rewrite("", 1, "9", out, sizeof(out)), EINVAL);
	assert_int_equal(dialplan_rewrite(NULL, 0, "9", out, sizeof(out)), EINVAL);
	assert_int_equal(dialplan_rewrite("1", 0, "9", NULL, 10), EINVAL);

	/* ENOSPC at the byte: "+442079460000" is 13 characters and the NUL */
	char small[14];
	assert_int_equal(dialplan_rewrite("902079460000", 2, "+44", small, 14), 0);
	assert_string_equal(small, "+442079460000");
	strcpy(small, "junk");
	assert_int_equal(dialplan_rewrite("902079460000", 2, "+44", small, 13), ENOSPC);
	assert_string_equal(small, "");
	assert_int_equal(dialplan_rewrite("1", 0, NULL, small, 0), ENOSPC);

	/* in place, growing and shrinking */
	char buf[32] = "902079460000";
	assert_int_equal(dialplan_rewrite(buf, 2, "+44", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "+442079460000");
	assert_int_equal(dialplan_rewrite(buf, 3, "0", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "02079460000");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pattern_check),
		cmocka_unit_test(test_pattern_match),
		cmocka_unit_test(test_pattern_order),
		cmocka_unit_test(test_e164),
		cmocka_unit_test(test_did_check),
		cmocka_unit_test(test_did_match),
		cmocka_unit_test(test_did_overlap),
		cmocka_unit_test(test_did_order),
		cmocka_unit_test(test_prefix_and_rewrite),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
