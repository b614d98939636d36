/* Pointer-length string slices (see pl.h). */
#include "core/pl.h"

#include <errno.h>
#include <string.h>

struct pl pl_cstr(const char *s)
{
	return (struct pl){ s, s ? strlen(s) : 0 };
}

bool pl_eq(const struct pl *a, const struct pl *b)
{
	return a->l == b->l && (a->l == 0 || memcmp(a->p, b->p, a->l) == 0);
}

bool pl_caseeq(const struct pl *a, const struct pl *b)
{
	if (a->l != b->l)
		return false;
	/* Not strncasecmp: it stops at a NUL, and a slice from the network may hold
	 * one, so "a\0b" would equal "a\0c". */
	for (size_t i = 0; i < a->l; i++) {
		unsigned char x = (unsigned char)a->p[i], y = (unsigned char)b->p[i];
		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x + 32);
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y + 32);
		if (x != y)
			return false;
	}
	return true;
}

bool pl_eq_str(const struct pl *a, const char *s)
{
	struct pl b = pl_cstr(s);
	return pl_eq(a, &b);
}

bool pl_caseeq_str(const struct pl *a, const char *s)
{
	struct pl b = pl_cstr(s);
	return pl_caseeq(a, &b);
}

int pl_u64(const struct pl *pl, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (!pl->p || pl->l == 0)
		return EINVAL;
	for (size_t i = 0; i < pl->l; i++) {
		char c = pl->p[i];
		if (c < '0' || c > '9')
			return EINVAL;
		unsigned d = (unsigned)(c - '0');
		/* d > max first: max - d would wrap and let "9" through a max of 5 */
		if (d > max || v > (max - d) / 10)
			return ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

struct pl pl_trim(struct pl pl)
{
	while (pl.l && pl_is_lws(pl.p[0])) {
		pl.p++;
		pl.l--;
	}
	while (pl.l && pl_is_lws(pl.p[pl.l - 1]))
		pl.l--;
	return pl;
}

long pl_chr(const struct pl *pl, char c)
{
	const char *f = pl->l ? memchr(pl->p, c, pl->l) : NULL;
	return f ? f - pl->p : -1;
}

char *pl_strcpy(const struct pl *pl, char *dst, size_t size)
{
	if (!size)
		return dst;
	size_t n = pl->l < size - 1 ? pl->l : size - 1;
	if (n)
		memcpy(dst, pl->p, n);
	dst[n] = '\0';
	return dst;
}

/* FNV-1a: short keys (Call-IDs, branches), good spread, no allocation. */
uint32_t pl_hash_case(const struct pl *pl, uint32_t h)
{
	if (!h)
		h = 2166136261u;
	for (size_t i = 0; i < pl->l; i++) {
		unsigned char c = (unsigned char)pl->p[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c + 32);
		h = (h ^ c) * 16777619u;
	}
	return h;
}

uint32_t pl_hash(const struct pl *pl, uint32_t h)
{
	if (!h)
		h = 2166136261u;
	for (size_t i = 0; i < pl->l; i++)
		h = (h ^ (unsigned char)pl->p[i]) * 16777619u;
	return h;
}
