/* Growable byte buffer with a hard cap: the one checked writer every printer and
 * stream reader in pbxd goes through. `pos` is the read cursor, `end` the
 * length of valid data: writes append at end, readers consume from pos. */
#ifndef CORE_MBUF_H
#define CORE_MBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pl.h"

struct mbuf {
	uint8_t *buf;
	size_t size; /* allocated */
	size_t pos;
	size_t end;
	size_t max; /* never grows past this */
};

/* Refcounted; free with mem_deref(). */
struct mbuf *mbuf_alloc(size_t size, size_t max);
void mbuf_reset(struct mbuf *mb);
int mbuf_write_mem(struct mbuf *mb, const void *p, size_t n);
int mbuf_write_str(struct mbuf *mb, const char *s);
int mbuf_write_pl(struct mbuf *mb, const struct pl *pl);
int mbuf_printf(struct mbuf *mb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int mbuf_vprintf(struct mbuf *mb, const char *fmt, va_list ap);
/* Drops the first n bytes (consumed stream data), moving the rest to the front. */
void mbuf_shift(struct mbuf *mb, size_t n);
/* Gives back what is allocated past end (a buffer that is kept, not written). */
void mbuf_trim(struct mbuf *mb);
/* Makes room for n more bytes after end; returns 0 or ENOMEM/EMSGSIZE. */
int mbuf_reserve(struct mbuf *mb, size_t n);
static inline size_t mbuf_left(const struct mbuf *mb) { return mb->end - mb->pos; }

#endif
