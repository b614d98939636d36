/* Growable capped byte buffer (see mbuf.h). */
#include "core/mbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

static void mbuf_destroy(void *data)
{
	struct mbuf *mb = data;
	free(mb->buf);
}

struct mbuf *mbuf_alloc(size_t size, size_t max)
{
	struct mbuf *mb = mem_zalloc(sizeof(*mb), mbuf_destroy);
	if (!mb)
		return NULL;
	mb->max = max ? max : SIZE_MAX / 2;
	if (size > mb->max)
		size = mb->max;
	if (size) {
		mb->buf = malloc(size);
		if (!mb->buf)
			return mem_deref(mb);
		mb->size = size;
	}
	return mb;
}

void mbuf_trim(struct mbuf *mb)
{
	if (!mb->end || mb->end >= mb->size)
		return;
	uint8_t *nb = realloc(mb->buf, mb->end);
	if (nb) {
		mb->buf = nb;
		mb->size = mb->end;
	}
}

void mbuf_reset(struct mbuf *mb)
{
	mb->pos = mb->end = 0;
}

int mbuf_reserve(struct mbuf *mb, size_t n)
{
	if (n > mb->max || mb->end > mb->max - n)
		return EMSGSIZE;
	size_t need = mb->end + n;
	if (need <= mb->size)
		return 0;
	size_t nsize = mb->size ? mb->size : 256;
	while (nsize < need)
		nsize *= 2;
	if (nsize > mb->max)
		nsize = mb->max;
	uint8_t *nb = realloc(mb->buf, nsize);
	if (!nb)
		return ENOMEM;
	mb->buf = nb;
	mb->size = nsize;
	return 0;
}

int mbuf_write_mem(struct mbuf *mb, const void *p, size_t n)
{
	if (!n)
		return 0;
	int err = mbuf_reserve(mb, n);
	if (err)
		return err;
	memcpy(mb->buf + mb->end, p, n);
	mb->end += n;
	return 0;
}

int mbuf_write_str(struct mbuf *mb, const char *s)
{
	return mbuf_write_mem(mb, s, strlen(s));
}

int mbuf_write_pl(struct mbuf *mb, const struct pl *pl)
{
	return mbuf_write_mem(mb, pl->p, pl->l);
}

/* Text of n bytes that ends exactly at max: vsnprintf needs one more byte for its
 * NUL than the cap allows, so it is formatted into a temporary and copied. */
static int vprintf_at_cap(struct mbuf *mb, size_t n, const char *fmt, va_list ap)
{
	int err = mbuf_reserve(mb, n);
	if (err)
		return err;
	char *tmp = malloc(n + 1);
	if (!tmp)
		return ENOMEM;
	vsnprintf(tmp, n + 1, fmt, ap);
	memcpy(mb->buf + mb->end, tmp, n);
	free(tmp);
	return 0;
}

int mbuf_vprintf(struct mbuf *mb, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	size_t room = mb->size - mb->end;
	int n = vsnprintf(room ? (char *)mb->buf + mb->end : NULL, room, fmt, ap);
	if (n < 0) {
		va_end(ap2);
		return EINVAL;
	}
	if ((size_t)n >= room) {
		int err = mbuf_reserve(mb, (size_t)n + 1);
		if (err == EMSGSIZE)
			err = vprintf_at_cap(mb, (size_t)n, fmt, ap2);
		else if (!err)
			vsnprintf((char *)mb->buf + mb->end, (size_t)n + 1, fmt, ap2);
		if (err) {
			va_end(ap2);
			return err;
		}
	}
	va_end(ap2);
	mb->end += (size_t)n;
	return 0;
}

int mbuf_printf(struct mbuf *mb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int err = mbuf_vprintf(mb, fmt, ap);
	va_end(ap);
	return err;
}

void mbuf_shift(struct mbuf *mb, size_t n)
{
	if (n >= mb->end) {
		mb->pos = mb->end = 0;
		return;
	}
	memmove(mb->buf, mb->buf + n, mb->end - n);
	mb->end -= n;
	mb->pos = mb->pos > n ? mb->pos - n : 0;
}
