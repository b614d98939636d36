/* Reference-counted allocation (see mem.h). The header sits before the data, so a
 * pointer to the data is all callers ever hold. Single-threaded by design: objects
 * never cross threads while shared (threads exchange messages, see mqueue.h). */
#include "core/mem.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MEM_MAGIC 0x6d656d21u

struct mem {
	uint32_t magic;
	uint32_t nrefs;
	mem_destroy_h *dh;
	max_align_t align[]; /* keeps the data that follows suitably aligned */
};

static struct mem *mem_hdr(const void *data)
{
	struct mem *m = (struct mem *)((char *)(uintptr_t)data - sizeof(struct mem));
	assert(m->magic == MEM_MAGIC);
	return m;
}

void *mem_zalloc(size_t size, mem_destroy_h *dh)
{
	if (size > SIZE_MAX - sizeof(struct mem))
		return NULL;
	struct mem *m = calloc(1, sizeof(*m) + size);
	if (!m)
		return NULL;
	m->magic = MEM_MAGIC;
	m->nrefs = 1;
	m->dh = dh;
	return (char *)m + sizeof(*m);
}

void *mem_ref(void *data)
{
	if (data)
		mem_hdr(data)->nrefs++;
	return data;
}

void *mem_deref(void *data)
{
	if (!data)
		return NULL;
	struct mem *m = mem_hdr(data);
	assert(m->nrefs > 0);
	if (--m->nrefs > 0)
		return NULL;
	if (m->dh)
		m->dh(data);
	/* A destructor may not resurrect the object. */
	assert(m->nrefs == 0);
	m->magic = 0;
	free(m);
	return NULL;
}

unsigned mem_nrefs(const void *data)
{
	return data ? mem_hdr(data)->nrefs : 0;
}

char *mem_strndup(const char *s, size_t len)
{
	char *d = mem_zalloc(len + 1, NULL);
	if (d && len)
		memcpy(d, s, len);
	return d;
}
