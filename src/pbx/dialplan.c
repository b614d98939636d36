/* Dialled-number patterns, DIDs and E.164 forms (dialplan.h). A pattern is read
 * one element at a time by pat_next(), which the check, the match and the
 * ordering share, so the three cannot disagree on what a pattern means. A DID
 * is classified once (did_parse) into an exact number, a range with its two
 * ends, or a pattern; numbers are compared in E.164 form, and equal-length
 * digit strings compare numerically as they compare with strcmp. */
#include "pbx/dialplan.h"

#include <errno.h>
#include <string.h>

/* --- patterns ------------------------------------------------------------------ */

enum elem_kind { E_END, E_LIT, E_SET, E_DOT, E_BANG, E_BAD };

struct elem {
	enum elem_kind kind;
	char lit;      /* E_LIT */
	unsigned mask; /* E_SET: bit d for digit d */
	bool wild;     /* E_SET written X, Z, N or [...]: not a literal */
};

#define DIGITS_ALL 0x3ffu
#define DIGITS_1_9 0x3feu
#define DIGITS_2_9 0x3fcu

/* "bad character 'c'" for each printable character, so the reason is static. */
#define BAD(c) { 'b', 'a', 'd', ' ', 'c', 'h', 'a', 'r', 'a', 'c', 't', 'e', 'r', ' ', '\'', (char)(c), '\'' }
#define BAD4(c) BAD(c), BAD((c) + 1), BAD((c) + 2), BAD((c) + 3)
#define BAD16(c) BAD4(c), BAD4((c) + 4), BAD4((c) + 8), BAD4((c) + 12)
static const char bad_chars[96][18] = { BAD16(32), BAD16(48), BAD16(64), BAD16(80), BAD16(96), BAD16(112) };
#undef BAD16
#undef BAD4
#undef BAD

static const char *bad_char(char c)
{
	unsigned char u = (unsigned char)c;
	return u >= 32 && u < 127 ? bad_chars[u - 32] : "bad character";
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A set after its '[': digits and ranges a-b up to ']'. */
static const char *set_parse(const char **p, unsigned *mask)
{
	const char *s = *p;
	*mask = 0;
	while (*s != ']') {
		if (*s == '\0')
			return "unclosed [";
		if (*s == '-')
			return "bad range";
		if (!is_digit(*s))
			return bad_char(*s);
		int lo = *s - '0', hi = lo;
		s++;
		if (*s == '-') {
			if (!is_digit(s[1]) || s[1] - '0' < lo)
				return s[1] == '\0' ? "unclosed [" : "bad range";
			hi = s[1] - '0';
			s += 2;
		}
		for (int d = lo; d <= hi; d++)
			*mask |= 1u << d;
	}
	*p = s + 1;
	return *mask ? NULL : "empty set";
}

/* The element at *p, advancing past it; E_BAD with *why set for an error. */
static struct elem pat_next(const char **p, const char **why)
{
	struct elem e = { .kind = E_SET, .wild = true };
	char c = **p;
	if (c == '\0')
		return (struct elem){ .kind = E_END };
	(*p)++;
	switch (c) {
	case 'X': case 'x':
		e.mask = DIGITS_ALL;
		return e;
	case 'Z': case 'z':
		e.mask = DIGITS_1_9;
		return e;
	case 'N': case 'n':
		e.mask = DIGITS_2_9;
		return e;
	case '[':
		*why = set_parse(p, &e.mask);
		return *why ? (struct elem){ .kind = E_BAD } : e;
	case '.':
		return (struct elem){ .kind = E_DOT };
	case '!':
		return (struct elem){ .kind = E_BANG };
	case '*': case '#': case '+':
		return (struct elem){ .kind = E_LIT, .lit = c };
	default:
		if (is_digit(c))
			return (struct elem){ .kind = E_LIT, .lit = c };
		*why = bad_char(c);
		return (struct elem){ .kind = E_BAD };
	}
}

int dialplan_pattern_check(const char *pat, const char **why)
{
	const char *reason = NULL;
	if (!pat || !*pat)
		reason = "empty";
	else if (strlen(pat) > DIALPLAN_MAX)
		reason = "too long";
	for (const char *p = pat; !reason;) {
		struct elem e = pat_next(&p, &reason);
		if (e.kind == E_END)
			break;
		if ((e.kind == E_DOT || e.kind == E_BANG) && *p)
			reason = e.kind == E_DOT ? "'.' must be last" : "'!' must be last";
	}
	if (why)
		*why = reason;
	return reason ? EINVAL : 0;
}

bool dialplan_pattern_match(const char *pat, const char *number)
{
	if (!number || dialplan_pattern_check(pat, NULL))
		return false;
	const char *why, *n = number;
	for (const char *p = pat;;) {
		struct elem e = pat_next(&p, &why);
		switch (e.kind) {
		case E_END:
			return *n == '\0';
		case E_DOT:
			return *n != '\0';
		case E_BANG:
			return true;
		case E_LIT:
			if (*n != e.lit)
				return false;
			break;
		case E_SET:
			if (!is_digit(*n) || !(e.mask & (1u << (*n - '0'))))
				return false;
			break;
		case E_BAD:
			return false;
		}
		n++;
	}
}

/* What dialplan_pattern_cmp() orders by. */
struct pat_stats {
	bool valid, exact;
	unsigned lead;      /* literal elements before the first wildcard */
	int tail;           /* 0 none, 1 '.', 2 '!' */
	unsigned wild;      /* wildcard positions */
	unsigned positions; /* elements but the tail */
	unsigned width;     /* the sum of the digits each wildcard accepts */
};

static struct pat_stats pat_stats(const char *pat)
{
	struct pat_stats s = { 0 };
	const char *why;
	if (dialplan_pattern_check(pat, NULL))
		return s;
	s.valid = true;
	for (const char *p = pat;;) {
		struct elem e = pat_next(&p, &why);
		if (e.kind == E_END)
			break;
		if (e.kind == E_DOT || e.kind == E_BANG) {
			s.tail = e.kind == E_DOT ? 1 : 2;
			continue;
		}
		if (e.kind == E_LIT && !s.wild)
			s.lead++;
		if (e.kind == E_SET) {
			s.wild++;
			s.width += (unsigned)__builtin_popcount(e.mask);
		}
		s.positions++;
	}
	s.exact = !s.wild && !s.tail;
	return s;
}

static int cmp_str(const char *a, const char *b)
{
	if (!a || !b)
		return !a - !b; /* NULL last */
	int c = strcmp(a, b);
	return (c > 0) - (c < 0);
}

/* <0 when x should come first: the smaller (asc) or the larger (desc). */
static int asc(unsigned x, unsigned y)
{
	return (x > y) - (x < y);
}

int dialplan_pattern_cmp(const char *a, const char *b)
{
	struct pat_stats x = pat_stats(a), y = pat_stats(b);
	if (x.valid != y.valid)
		return x.valid ? -1 : 1;
	if (!x.valid)
		return cmp_str(a, b);
	int c = 0;
	if (x.exact != y.exact)
		return x.exact ? -1 : 1;
	if ((c = asc(y.lead, x.lead)) || (c = asc((unsigned)x.tail, (unsigned)y.tail)) ||
	    (c = asc(y.positions, x.positions)) || (c = asc(x.wild, y.wild)) || (c = asc(x.width, y.width)))
		return c;
	return cmp_str(a, b);
}

/* --- numbers ------------------------------------------------------------------- */

/* The digits of a number, without its separators, '+' and "(0)" after a '+'. */
struct scan {
	const char *p;
	bool plus;
	size_t n; /* digits so far */
};

/* The next digit; 0 at the end; -1 for a character that has no place. */
static int scan_next(struct scan *s)
{
	for (;; s->p++) {
		char c = *s->p;
		if (c == '\0')
			return 0;
		if (is_digit(c)) {
			s->p++;
			s->n++;
			return c;
		}
		if (c == '+') {
			if (s->plus || s->n)
				return -1;
			s->plus = true;
		} else if (c == '(' && s->plus && s->p[1] == '0' && s->p[2] == ')') {
			s->p += 2;
		} else if (!strchr(" -.()", c)) {
			return -1;
		}
	}
}

static bool cc_valid(const char *cc)
{
	size_t n = strlen(cc);
	if (n < 1 || n > 3 || cc[0] == '0')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(cc[i]))
			return false;
	}
	return true;
}

int dialplan_e164(const char *in, const char *country_code, char *out, size_t size)
{
	if (out && size)
		out[0] = '\0';
	const char *cc = country_code ? country_code : "";
	if (!in || !out || (*cc && !cc_valid(cc)))
		return EINVAL;
	/* First pass: check, count, and keep the first digits, which decide. */
	struct scan s = { .p = in };
	char first[4] = "";
	int d;
	while ((d = scan_next(&s)) > 0) {
		if (s.n <= 3)
			first[s.n - 1] = (char)d;
	}
	if (d < 0 || s.n == 0)
		return EINVAL;
	size_t skip = 0;   /* leading digits dropped */
	const char *pre = ""; /* put before the rest */
	bool nanp = strcmp(cc, "1") == 0;
	if (s.plus) {
		/* international already */
	} else if (strncmp(first, "00", 2) == 0) {
		skip = 2;
	} else if (nanp && strcmp(first, "011") == 0) {
		skip = 3;
	} else if (nanp) {
		pre = s.n == 10 && first[0] >= '2' ? "1" : "";
	} else if (*cc && first[0] == '0') {
		pre = cc;
		skip = strcmp(cc, "39") == 0 ? 0 : 1;
	}
	if (s.n == skip)
		return EINVAL;
	size_t len = strlen(pre) + s.n - skip;
	if (len >= size)
		return ENOSPC;
	/* Second pass: write. */
	size_t o = strlen(pre);
	memcpy(out, pre, o);
	s = (struct scan){ .p = in };
	while ((d = scan_next(&s)) > 0) {
		if (s.n > skip)
			out[o++] = (char)d;
	}
	out[o] = '\0';
	return 0;
}

bool dialplan_has_prefix(const char *number, const char *prefix)
{
	return number && prefix && strncmp(number, prefix, strlen(prefix)) == 0;
}

int dialplan_rewrite(const char *number, unsigned strip, const char *prepend, char *out, size_t size)
{
	if (!number || !out) {
		if (out && size)
			out[0] = '\0';
		return EINVAL;
	}
	size_t n = strlen(number), pl = prepend ? strlen(prepend) : 0;
	int err = strip > n ? EINVAL : pl + (n - strip) >= size ? ENOSPC : 0;
	if (err) {
		if (size)
			out[0] = '\0';
		return err;
	}
	memmove(out + pl, number + strip, n - strip + 1); /* out may be number */
	if (pl)
		memcpy(out, prepend, pl);
	return 0;
}

/* --- DIDs ---------------------------------------------------------------------- */

enum did_kind { DID_EXACT, DID_RANGE, DID_PATTERN, DID_BAD };

struct did {
	enum did_kind kind;
	/* DID_EXACT: from; DID_RANGE: from and to, NUL-terminated copies */
	char from[DIALPLAN_MAX + 2], to[DIALPLAN_MAX + 2];
};

/* Whether s[0..n) is '+' (optional) and digits only. */
static bool plain_number(const char *s, size_t n)
{
	size_t i = n && s[0] == '+';
	for (; i < n; i++) {
		if (!is_digit(s[i]))
			return false;
	}
	return true;
}

/* One end of a range, s[0..n): NULL or the reason it is not a number. */
static const char *end_check(const char *s, size_t n)
{
	size_t i = n && s[0] == '+';
	if (i == n)
		return "bad range";
	if (n - i > DIALPLAN_MAX)
		return "too long";
	for (; i < n; i++) {
		if (!is_digit(s[i]))
			return s[i] == '-' ? "bad range" : bad_char(s[i]);
	}
	return NULL;
}

static size_t leading_zeros(const char *s)
{
	size_t z = 0;
	while (z < 2 && s[z] == '0')
		z++;
	return z;
}

static const char *range_parse(const char *did, struct did *d)
{
	size_t dash = strcspn(did, "-"), n = strlen(did);
	const char *from = did, *to = did + dash + 1, *why;
	size_t fn = dash, tn = n - dash - 1;
	if ((why = end_check(from, fn)) || (why = end_check(to, tn)))
		return why;
	if ((from[0] == '+') != (to[0] == '+'))
		return "'+' on one end of a range only";
	if (fn != tn)
		return "range ends differ in length";
	if (from[0] != '+' && leading_zeros(from) != leading_zeros(to))
		return "range ends differ in prefix";
	if (memcmp(from, to, fn) > 0)
		return "range is backwards";
	memcpy(d->from, from, fn);
	d->from[fn] = '\0';
	memcpy(d->to, to, tn);
	d->to[tn] = '\0';
	d->kind = DID_RANGE;
	return NULL;
}

/* Classifies did into *d: NULL, or the reason it is not a DID (d->kind DID_BAD). */
static const char *did_parse(const char *did, struct did *d)
{
	const char *why = NULL;
	d->kind = DID_BAD;
	if (!did || !*did)
		return "empty";
	size_t n = strlen(did);
	if (strchr(did, '-') && !strchr(did, '['))
		return range_parse(did, d);
	if (plain_number(did, n)) {
		if (n == (did[0] == '+'))
			return "empty";
		if (n - (did[0] == '+') > DIALPLAN_MAX)
			return "too long";
		memcpy(d->from, did, n + 1);
		d->kind = DID_EXACT;
		return NULL;
	}
	if (dialplan_pattern_check(did, &why))
		return why;
	d->kind = DID_PATTERN;
	return NULL;
}

int dialplan_did_check(const char *did, const char **why)
{
	struct did d;
	const char *reason = did_parse(did, &d);
	if (why)
		*why = reason;
	return reason ? EINVAL : 0;
}

/* The E.164 forms of the lowest and highest number an exact or range DID
 * answers, of equal length; EINVAL when they cannot be had. */
static int did_interval(const struct did *d, const char *cc, char *lo, char *hi)
{
	int e = dialplan_e164(d->from, cc, lo, DIALPLAN_NUMBER_SZ);
	if (e)
		return e;
	if (d->kind == DID_EXACT) {
		memcpy(hi, lo, strlen(lo) + 1);
		return 0;
	}
	if ((e = dialplan_e164(d->to, cc, hi, DIALPLAN_NUMBER_SZ)))
		return e;
	/* NANP's 011 can shorten one end only ("0109-0110"): not a range there. */
	return strlen(lo) == strlen(hi) ? 0 : EINVAL;
}

bool dialplan_did_match(const char *did, const char *number, const char *country_code)
{
	struct did d;
	char num[DIALPLAN_NUMBER_SZ + 1];
	if (did_parse(did, &d) || !number)
		return false;
	if (country_code && *country_code && !cc_valid(country_code))
		return false;
	bool e164 = dialplan_e164(number, country_code, num + 1, sizeof(num) - 1) == 0;
	if (d.kind == DID_PATTERN) {
		if (dialplan_pattern_match(did, number))
			return true;
		if (!e164)
			return false;
		num[0] = '+';
		return dialplan_pattern_match(did, num + 1) || (did[0] == '+' && dialplan_pattern_match(did, num));
	}
	char lo[DIALPLAN_NUMBER_SZ], hi[DIALPLAN_NUMBER_SZ];
	if (!e164 || did_interval(&d, country_code, lo, hi))
		return false;
	const char *n = num + 1;
	return strlen(n) == strlen(lo) && strcmp(lo, n) <= 0 && strcmp(n, hi) <= 0;
}

int dialplan_did_overlap(const char *a, const char *b, const char *country_code)
{
	struct did x, y;
	if (did_parse(a, &x) || did_parse(b, &y) || x.kind == DID_PATTERN || y.kind == DID_PATTERN)
		return -1;
	char xlo[DIALPLAN_NUMBER_SZ], xhi[DIALPLAN_NUMBER_SZ], ylo[DIALPLAN_NUMBER_SZ], yhi[DIALPLAN_NUMBER_SZ];
	if (did_interval(&x, country_code, xlo, xhi) || did_interval(&y, country_code, ylo, yhi))
		return -1;
	if (strlen(xlo) != strlen(ylo))
		return 0;
	return strcmp(xlo, yhi) <= 0 && strcmp(ylo, xhi) <= 0;
}

/* to - from of a range (equal-length digit strings, an optional '+' alike on
 * both) into w, without leading zeros ("0" for one number). */
static void range_width(const struct did *d, char *w)
{
	size_t i0 = d->from[0] == '+', n = strlen(d->from);
	char diff[DIALPLAN_MAX + 2];
	int borrow = 0;
	for (size_t i = n; i-- > i0;) {
		int v = (d->to[i] - '0') - (d->from[i] - '0') - borrow;
		borrow = v < 0;
		diff[i - i0] = (char)('0' + (v + 10) % 10);
	}
	diff[n - i0] = '\0';
	const char *p = diff;
	while (p[0] == '0' && p[1])
		p++;
	memcpy(w, p, strlen(p) + 1);
}

int dialplan_did_cmp(const char *a, const char *b)
{
	struct did x, y;
	did_parse(a, &x);
	did_parse(b, &y);
	if (x.kind != y.kind)
		return x.kind < y.kind ? -1 : 1;
	if (x.kind == DID_PATTERN)
		return dialplan_pattern_cmp(a, b);
	if (x.kind == DID_RANGE) {
		char wx[DIALPLAN_MAX + 2], wy[DIALPLAN_MAX + 2];
		range_width(&x, wx);
		range_width(&y, wy);
		int c = strlen(wx) != strlen(wy) ? asc((unsigned)strlen(wx), (unsigned)strlen(wy)) : cmp_str(wx, wy);
		if (c)
			return c;
	}
	return cmp_str(a, b);
}
