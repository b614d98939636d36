/* Pointer-length string slices: how pbxd refers to text inside a received buffer
 * without copying it. A slice is only valid while the buffer it points into lives. */
#ifndef CORE_PL_H
#define CORE_PL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pl {
	const char *p;
	size_t l;
};

#define PL(s) ((struct pl){ (s), sizeof(s) - 1 })
#define PL_INIT { NULL, 0 }

static inline bool pl_isset(const struct pl *pl) { return pl->p != NULL; }
/* SP, HTAB, or the CR/LF of a folded header line: linear white space. */
static inline bool pl_is_lws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
static inline struct pl pl_from(const char *p, size_t l) { return (struct pl){ p, l }; }
struct pl pl_cstr(const char *s);

bool pl_eq(const struct pl *a, const struct pl *b);
bool pl_caseeq(const struct pl *a, const struct pl *b); /* true when equal ignoring ASCII case */
bool pl_eq_str(const struct pl *a, const char *s);
bool pl_caseeq_str(const struct pl *a, const char *s);
/* Decimal to unsigned; returns 0 or EINVAL (not all digits, empty) or ERANGE (> max). */
int pl_u64(const struct pl *pl, uint64_t max, uint64_t *out);
/* Trims SP, HTAB, CR and LF (folded header lines) from both ends. */
struct pl pl_trim(struct pl pl);
/* Finds the first c in pl; returns its offset or -1. */
long pl_chr(const struct pl *pl, char c);
/* Copies into a NUL-terminated buffer, truncating; returns dst. */
char *pl_strcpy(const struct pl *pl, char *dst, size_t size);
uint32_t pl_hash_case(const struct pl *pl, uint32_t h);
uint32_t pl_hash(const struct pl *pl, uint32_t h);

#endif
