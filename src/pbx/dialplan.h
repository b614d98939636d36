/* Dialled numbers for SIP trunks (issue 15): the patterns outbound rules match
 * what an extension dialled against, the DIDs inbound rules match the number a
 * carrier's INVITE names, the E.164 form both are compared in, and the rewrite
 * an outbound rule applies. Pure functions over strings: no I/O, no allocation,
 * no state; safe from any thread.
 *
 * Patterns, in the notation PBX administrators know (Asterisk's, without its
 * leading underscore), one position per element:
 *   X  any digit          Z  1-9          N  2-9       (x, z, n alike)
 *   [1-5] [137] [1-37-9]  one digit of a set: digits and ranges a-b (a <= b)
 *   .  one or more further characters, any      } only as the last element
 *   !  zero or more further characters, any     }
 * anything else among digits, '*', '#' and '+' is itself. A pattern is at most
 * DIALPLAN_MAX characters; one without X, Z, N, [, . or ! is an exact number.
 *
 * DIDs (what an inbound rule answers): an exact number ("18800606",
 * "+4420794600000"), a range FROM-TO of two numbers of equal length, FROM <= TO,
 * both with '+' or neither ("18800600-18800699"), or a pattern as above.
 *
 * E.164 form, here: the digits of the international number without '+'
 * ("442079460000"); see dialplan_e164() for how a number gets there. */
#ifndef PBX_DIALPLAN_H
#define PBX_DIALPLAN_H

#include <stdbool.h>
#include <stddef.h>

enum {
	DIALPLAN_MAX = 64,      /* characters of a pattern; digits of a DID's number */
	DIALPLAN_NUMBER_SZ = 68 /* a buffer that holds the E.164 form of any valid DID */
};

/* --- patterns ------------------------------------------------------------------ */

/* 0 when pat is a valid pattern; else EINVAL and, when why is not NULL, *why a
 * short static reason: "empty", "too long", "unclosed [", "empty set",
 * "bad range" ([5-1], [1-], [-3], [1-3-5]), "'.' must be last",
 * "'!' must be last", "bad character 'q'". */
int dialplan_pattern_check(const char *pat, const char **why);

/* Whether the whole of number matches pat ("9X." matches "912", not "91";
 * "9X!" matches "91"). False for an invalid pattern or a NULL argument. */
bool dialplan_pattern_match(const char *pat, const char *number);

/* A total order of patterns, most specific first, for sorting rules so that the
 * first one that matches is the one meant (<0: a before b; 0 only when equal):
 *   1. exact numbers before patterns;
 *   2. more literal characters before the first wildcard before fewer
 *      ("9011." before "9NXXNXXXXXX"; an exact number: the longer first);
 *   3. a fixed length before a '.' tail before a '!' tail;
 *   4. more positions (a longer fixed part) before fewer ("9XXXX." before
 *      "9X.": two fixed-length patterns of different lengths never match the
 *      same number, so this decides between tails);
 *   5. fewer wildcard positions (X, Z, N, sets) before more ("9X1X" before
 *      "9XXX");
 *   6. narrower wildcards (the sum of how many digits each accepts: X 10, Z 9,
 *      N 8, [137] 3) before wider;
 *   7. then strcmp, so that the order is deterministic.
 * Invalid patterns (and NULL) come after every valid one. */
int dialplan_pattern_cmp(const char *a, const char *b);

/* --- DIDs ---------------------------------------------------------------------- */

/* 0 when did is a valid DID; else EINVAL and, when why is not NULL, *why a
 * short static reason: a pattern's (above), or "range ends differ in length",
 * "'+' on one end of a range only", "range ends differ in prefix" (one starts
 * with 0 or 00 and the other not alike: the two would have E.164 forms of
 * different lengths), "range is backwards", "bad range", "too long". */
int dialplan_did_check(const char *did, const char **why);

/* Whether number (as received, e.g. the user part of an INVITE's Request-URI)
 * is one that did answers. country_code (digits, e.g. "44"; NULL or "" for none)
 * is the one national numbers are read in (dialplan_e164()).
 *   exact:   both E.164 forms equal ("+442079460000", "00442079460000" and, with
 *            "44", "02079460000" all match "+442079460000" and "02079460000");
 *   range:   the number's E.164 form has the length of the ends' and lies
 *            between them (inclusive);
 *   pattern: matched against the number as received, against its E.164 form,
 *            and, for a pattern that begins with '+', against '+' and its E.164
 *            form: an administrator writes patterns the way the carrier sends.
 * False for an invalid DID or country code. */
bool dialplan_did_match(const char *did, const char *number, const char *country_code);

/* Whether two DIDs, each an exact number or a range, answer a common number
 * (compared in E.164 form with country_code): 1 or 0. -1 (unknown) when either
 * is a pattern or is invalid; callers rank those with dialplan_did_cmp(). */
int dialplan_did_overlap(const char *a, const char *b, const char *country_code);

/* A total order of DIDs, the one to prefer first when several match (<0: a
 * before b; 0 only when equal): exact numbers, then ranges, narrower (TO-FROM)
 * first, then patterns in dialplan_pattern_cmp()'s order; invalid DIDs last;
 * ties by strcmp. */
int dialplan_did_cmp(const char *a, const char *b);

/* --- numbers ------------------------------------------------------------------- */

/* The E.164 form of in, digits only, into out (size bytes, NUL included):
 *   visual separators (space, '-', '.', '(', ')') are dropped, and "(0)" after a
 *   '+' too ("+44 (0)20 7946 0000": the trunk prefix written for national use);
 *   "+CC..."  -> "CC...";   "00CC..." (the international prefix) -> "CC...";
 *   with country_code "1" (NANP), "011CC..." -> "CC..." as well;
 *   with country_code set, a national number:
 *     "1": 10 digits beginning 2-9 -> "1" and them; "1" and 10 digits stays;
 *     "39" (Italy, where the leading 0 belongs to the number): "0..." -> "390...";
 *     any other: the trunk prefix 0 is replaced, "0207..." -> "44207...";
 *   anything else (no country_code, or a number not national) stays as it is.
 * 0; EINVAL for NULL, empty (or nothing left after a prefix), a character other
 * than digits and separators, a '+' not first, or a country_code that is not 1-3
 * digits beginning 1-9; ENOSPC when the result does not fit. On error out is ""
 * (when size > 0). */
int dialplan_e164(const char *in, const char *country_code, char *out, size_t size);

/* Whether number begins with prefix ("" is a prefix of any number). */
bool dialplan_has_prefix(const char *number, const char *prefix);

/* An outbound rule's rewrite: number without its first strip characters, after
 * prepend (NULL: ""), into out (size bytes, NUL included). out may be number's
 * own buffer (rewritten in place); it must not overlap prepend. 0; EINVAL for a
 * NULL number or out, or strip beyond number's length; ENOSPC when the result
 * does not fit (out then ""). */
int dialplan_rewrite(const char *number, unsigned strip, const char *prepend, char *out, size_t size);

#endif
